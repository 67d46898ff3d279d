export { acquireLock, Lock } from './lock';
export {
  withLock,
  activityLock,
  activityLockHandler,
  type LockedFn,
  type ActivityLockOptions,
} from './with-lock';
export { acquireSemaphore, withSemaphore, SemaphoreLease } from './semaphore';
export {
  LockNotAcquiredError,
  LockLostError,
  SemaphoreNotAcquiredError,
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
export { activityLockKey, fenceKeyFor, waitersKeyFor, releaseChannelFor, hashTagOf } from './keys';
