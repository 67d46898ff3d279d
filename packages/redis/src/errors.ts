/**
 * Machine-readable error codes of every error the platform throws.
 * Services branch on `code` (stable) rather than on messages (for humans).
 */
export type PlatformErrorCode =
  | 'CONFIG_INVALID'
  | 'REDIS_UNAVAILABLE'
  | 'INVALID_ARGUMENT'
  | 'QUEUE_NAME_INVALID'
  | 'PAYLOAD_INVALID'
  | 'PAYLOAD_TOO_LARGE'
  | 'QUEUE_UNAVAILABLE'
  | 'JOB_TIMEOUT'
  | 'TENANT_BACKLOG_FULL'
  | 'FAIRNESS_REQUIRED'
  | 'FAIR_JOB_PENDING'
  | 'RATE_LIMITED'
  | 'CONCURRENCY_LIMITED'
  | 'LOCK_NOT_ACQUIRED'
  | 'LOCK_LOST'
  | 'SEMAPHORE_NOT_ACQUIRED'
  | 'NOTIFICATION_INVALID'
  | 'NOTIFICATION_SEND_FAILED'
  | 'JOB_DEFERRED'
  | 'SESSION_CONFLICT'
  | 'SESSION_TOO_LARGE'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_INVALID'
  | 'OUTBOX_DATABASE_ERROR';

/** Options accepted by every {@link PlatformError}. */
export interface PlatformErrorOptions {
  /** The underlying error, if any (never one whose message contains a secret). */
  cause?: unknown;
}

/**
 * One problem found in validated input (a payload, a notification, session data): where (`path`,
 * dotted, e.g. `tenantId` or `items.2.url`; `''` for the whole value) and what.
 */
export interface ValidationIssue {
  path: string;
  message: string;
}

/**
 * Base class of every error thrown by `@platform/*`, so a service can catch them all with
 * `err instanceof PlatformError` and branch on `err.code`.
 */
export class PlatformError extends Error {
  /** Stable, machine-readable code. */
  readonly code: PlatformErrorCode;

  constructor(code: PlatformErrorCode, message: string, options: PlatformErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** A configuration value (an environment variable or option) is invalid. `variable` names it. */
export class ConfigError extends PlatformError {
  /** The environment variable or option that is wrong, e.g. `REDIS_DB`. */
  readonly variable: string;

  constructor(variable: string, message: string, options?: PlatformErrorOptions) {
    super('CONFIG_INVALID', `${variable}: ${message}`, options);
    this.variable = variable;
  }
}

/** An argument passed to a platform function is invalid; nothing was written to Redis. */
export class InvalidArgumentError extends PlatformError {
  /** The argument that is wrong, e.g. `tenantId`. */
  readonly argument: string;

  constructor(argument: string, message: string, options?: PlatformErrorOptions) {
    super('INVALID_ARGUMENT', `${argument}: ${message}`, options);
    this.argument = argument;
  }
}

/** Redis could not be reached (or did not answer) within the configured bound. */
export class RedisUnavailableError extends PlatformError {
  constructor(message: string, options?: PlatformErrorOptions) {
    super('REDIS_UNAVAILABLE', message, options);
  }
}

/**
 * Describes a rejected value for an error message without ever throwing (unlike `String(value)`,
 * which throws for `{ toString: 0 }` or a null-prototype object) and without dumping large inputs.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  }
}
