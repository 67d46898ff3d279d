// Public surface of @platform/sessions. Internals (scripts, id patterns, the codec) are imported by
// tests from their modules.
export {
  createSessionStore,
  type SessionStore,
  type SessionStoreOptions,
  type Session,
  type CreatedSession,
  type UpdateOptions,
  type SessionPatch,
} from './store';
export { type SessionSchema, type SessionOwner, type SessionData, type SessionInput } from './codec';
export { expressSessionStore, type ExpressSessionStoreOptions, type ExpressStoreBase } from './express';
export { createResumeCache, type ResumeCache, type ResumeCacheOptions } from './resume-cache';
export { type SessionClient } from './connection';
export {
  SessionConflictError,
  SessionTooLargeError,
  SessionNotFoundError,
  SessionValidationError,
  SessionStoreUnavailableError,
  type SessionIssue,
} from './errors';
export { sessionKey, userIndexKey, resumeKey } from './keys';
export { defaultSessionStoreOptions, defaultResumeCacheOptions } from './options';
