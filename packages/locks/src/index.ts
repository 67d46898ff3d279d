// Public surface of @platform/locks. Key helpers and scripts are internal (tests import them from
// their modules).
export { acquireLock, Lock } from './lock';
export {
  withLock,
  activityLock,
  activityLockHandler,
  type LockedFn,
  type ActivityLockOptions,
} from './with-lock';
export { acquireSemaphore, withSemaphore, SemaphoreLease, type LeasedFn } from './semaphore';
export { type LockClient, type LockSubscriberConnection } from './client';
export {
  LockNotAcquiredError,
  LockLostError,
  SemaphoreNotAcquiredError,
  LockUnavailableError,
  type LockLostReason,
  type NotAcquiredDetails,
} from './errors';
export {
  defaultLockOptions,
  type AcquireLockOptions,
  type WithLockOptions,
  type AcquireSemaphoreOptions,
  type WithSemaphoreOptions,
} from './options';
