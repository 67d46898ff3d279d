import { PlatformError, RedisUnavailableError, type PlatformErrorOptions, type ValidationIssue } from '@platform/redis';

/**
 * `update` with `ifVersion` found another version (someone else updated the session first), or an
 * update without `ifVersion` lost the race `maxUpdateAttempts` times in a row. Nothing was written.
 */
export class SessionConflictError extends PlatformError {
  /** The session id. */
  readonly sessionId: string;
  /** The version the caller expected. */
  readonly expectedVersion: number;
  /** The version found in Redis (`undefined` when unknown). */
  readonly actualVersion: number | undefined;

  constructor(sessionId: string, expectedVersion: number, actualVersion?: number, options?: PlatformErrorOptions) {
    const found = actualVersion === undefined ? 'another version' : `version ${actualVersion}`;
    super('SESSION_CONFLICT', `session was updated concurrently: expected version ${expectedVersion}, found ${found}; nothing was written`, options);
    this.sessionId = sessionId;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** The session's JSON form is over `maxBytes` (64 KiB by default). Nothing was written. */
export class SessionTooLargeError extends PlatformError {
  /** Size of the JSON form in bytes (UTF-8). */
  readonly bytes: number;
  /** The limit in bytes. */
  readonly maxBytes: number;

  constructor(bytes: number, maxBytes: number, options?: PlatformErrorOptions) {
    super('SESSION_TOO_LARGE', `session data is ${bytes} bytes as JSON, over the limit of ${maxBytes}; nothing was written`, options);
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** `update` was called for a session that does not exist (never created, expired or destroyed). */
export class SessionNotFoundError extends PlatformError {
  /** The session id. */
  readonly sessionId: string;

  constructor(sessionId: string, options?: PlatformErrorOptions) {
    // The id is a bearer credential: only a short, useless fragment goes into the message.
    super('SESSION_NOT_FOUND', `session ${sessionId.slice(0, 4)}… does not exist (expired or destroyed)`, options);
    this.sessionId = sessionId;
  }
}

/** One problem found by the session's schema (`path` dotted, `''` for the whole object). */
export type SessionIssue = ValidationIssue;

/**
 * Session data does not match the store's schema: on write (nothing was written) or on read (the
 * stored data was written under another schema; `get` does not return it).
 */
export class SessionValidationError extends PlatformError {
  /** Every issue the schema found. */
  readonly issues: readonly SessionIssue[];

  constructor(issues: readonly SessionIssue[], options?: PlatformErrorOptions) {
    const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    super('SESSION_INVALID', `session data is invalid: ${list}`, options);
    this.issues = issues;
  }
}

/**
 * Redis could not be reached, or did not answer within `timeoutMs`. A subclass of
 * `RedisUnavailableError` (code `REDIS_UNAVAILABLE`). The outcome of a write is then unknown.
 */
export class SessionStoreUnavailableError extends RedisUnavailableError {
  constructor(message: string, options?: PlatformErrorOptions) {
    super(message, options);
  }
}
