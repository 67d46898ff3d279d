// Public surface of @platform/redis: what services and the other @platform packages use.
// Internals (script objects, INFO parsing, patterns, option builders) are imported by tests from
// their modules.
export {
  PlatformError,
  ConfigError,
  InvalidArgumentError,
  RedisUnavailableError,
  describeValue,
  type PlatformErrorCode,
  type PlatformErrorOptions,
  type ValidationIssue,
} from './errors';
export { loadRedisConfig, type RedisConfig, type RedisEnv, type SentinelAddress } from './config';
export {
  createRedisConnection,
  getSharedConnection,
  closeSharedConnections,
  closeConnection,
  isConnectionError,
  toUnavailableError,
  type ConnectionRole,
  type ConnectionOptions,
  type RedisClient,
} from './connection';
export { redisKey, assertTenantId, type KeyPart } from './keys';
export { defineScript, type LuaScript, type ScriptSource } from './scripts';
export { type ScriptClient, type RedisArgument } from './client';
export { leases, type LeaseTake } from './leases';
export {
  checkRedisServer,
  type CheckStatus,
  type RedisCheckId,
  type RedisCheck,
  type RedisCheckReport,
  type RedisCheckOptions,
  type DoctorClient,
} from './doctor';
export { isDeferral, DeferJobError, type Deferral, type DeferralReason } from './deferral';
export { resolveKeyPrefix, namespacedKey, bullPrefixFor } from './namespace';
export { checkInteger, checkNumber, checkMs } from './validate';
