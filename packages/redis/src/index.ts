export {
  PlatformError,
  ConfigError,
  InvalidArgumentError,
  RedisUnavailableError,
  describeValue,
  type PlatformErrorCode,
  type PlatformErrorOptions,
} from './errors';
export {
  loadRedisConfig,
  redactRedisUrl,
  DEFAULT_REDIS_URL,
  type RedisConfig,
  type RedisEnv,
  type SentinelAddress,
} from './config';
export {
  createRedisConnection,
  getSharedConnection,
  closeSharedConnections,
  closeConnection,
  isConnectionError,
  toUnavailableError,
  redisOptionsFor,
  defaultConnectionOptions,
  type ConnectionRole,
  type ConnectionOptions,
} from './connection';
export { redisKey, escapeKeyPart, assertTenantId, TENANT_ID_PATTERN, type KeyPart } from './keys';
export { defineScript, type LuaScript, type ScriptSource, type ScriptClient } from './scripts';
export {
  checkRedisServer,
  assertRedisReady,
  gatherRedisFacts,
  evaluateRedisFacts,
  parseInfo,
  defaultRedisCheckOptions,
  RedisNotReadyError,
  type CheckStatus,
  type RedisCheckId,
  type RedisCheck,
  type RedisCheckReport,
  type RedisCheckOptions,
  type RedisFacts,
  type DoctorClient,
} from './doctor';
export { isDeferral, DeferJobError, type Deferral, type DeferralReason } from './deferral';
export {
  loadKeyPrefix,
  resolveKeyPrefix,
  checkKeyPrefix,
  namespacedKey,
  bullPrefixFor,
  KEY_PREFIX_PATTERN,
  BULLMQ_PREFIX,
} from './namespace';
export { checkInteger, checkNumber, checkMs, checkName, checkObject, MAX_TIMER_MS, NAME_PATTERN } from './validate';
