// @platform/queue/internal: what the other @platform libraries share with the queue. Not part of
// the public API (no semver promise, not in the README's API table); services import from '@platform/queue'.
export { checkEnqueueOptions, parsedEnqueueOf, type ParsedEnqueue } from './define-queue';
export { checkPayloadSize } from './payload';
export { notificationJobSchema } from './catalog';
export { guardHeldJobs } from './fairness/backlog';
