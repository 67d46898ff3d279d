// @platform/redis/internal: helpers the other @platform libraries share. Not part of the public API
// (no semver promise, not in the README's API table); services import from '@platform/redis'.
export { checkZodObjectSchema, tenantIdSchema, type ZodObjectSchema } from './schema';
export { redactUrlPassword } from './config';
export { clusterQueuePrefix } from './namespace';
export { scanKeys } from './scan';
export { createScriptBatcher, type ScriptBatcher, type ScriptBatcherOptions } from './batch';
export { clusterMasterOf, keySlot } from './cluster-slots';
export { createSlotConnection } from './slot-connection';
