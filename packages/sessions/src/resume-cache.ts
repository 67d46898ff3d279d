import { describeValue, InvalidArgumentError, resolveKeyPrefix } from '@platform/redis';
import { bounded, holdClient, type SessionClient } from './connection';
import { ACTIVITY_ID_PATTERN, CLAUDE_SESSION_ID_PATTERN, resumeKey } from './keys';
import { checkClient, checkObject, defaultResumeCacheOptions, timeoutMsOf, ttlMsOf } from './options';

/** Options of {@link createResumeCache}. */
export interface ResumeCacheOptions {
  /**
   * Any ioredis client (`Redis` or `Cluster`).
   * @defaultValue a `producer` connection from the `REDIS_*` environment, made on first use and closed by `close()`
   */
  redis?: SessionClient;
  /** How long a remembered id is kept, in seconds. @defaultValue `604800` (7 days) */
  ttlSeconds?: number;
  /**
   * Key prefix in front of `claude_session:…`. @defaultValue `REDIS_KEY_PREFIX` (empty: keys are
   * exactly `claude_session:{activityId}`)
   */
  keyPrefix?: string;
  /** Every call resolves or rejects within this many ms (SessionStoreUnavailableError). @defaultValue `5000` */
  timeoutMs?: number;
}

/** Claude `--resume` ids by activity. See {@link createResumeCache}. */
export interface ResumeCache {
  /** Lifetime of a remembered id, in seconds. */
  readonly ttlSeconds: number;
  /** Remembers the Claude session of an activity (replacing any earlier one) for `ttlSeconds`. */
  remember(activityId: string, sessionId: string): Promise<void>;
  /** The Claude session remembered for the activity, or `null`. */
  lookup(activityId: string): Promise<string | null>;
  /** Forgets the activity's Claude session; `true` if there was one. */
  forget(activityId: string): Promise<boolean>;
  /** Closes the connection the cache made itself (never a client that was passed in). */
  close(): Promise<void>;
}

function check(argument: string, value: unknown, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidArgumentError(argument, `must be ${rule}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Creates the cache of Claude session ids by activity, `claude_session:{activityId}`, so a retried
 * activity resumes its Claude session (`claude --resume <id>`) instead of starting over. Each call
 * is one command (`SET … PX`, `GET`, `DEL`): the key never exists without its TTL.
 *
 * @example
 * const resume = createResumeCache({ redis });
 * const previous = await resume.lookup(activityId);
 * const sessionId = await runClaude({ resume: previous ?? undefined });
 * await resume.remember(activityId, sessionId);
 */
export function createResumeCache(options: ResumeCacheOptions = {}): ResumeCache {
  checkObject('options', options);
  checkClient(options.redis);
  const ttlSeconds = options.ttlSeconds ?? defaultResumeCacheOptions.ttlSeconds;
  const ttlMs = ttlMsOf(ttlSeconds);
  const timeoutMs = timeoutMsOf(options.timeoutMs ?? defaultResumeCacheOptions.timeoutMs);
  const prefix = resolveKeyPrefix(options.keyPrefix);
  const holder = holdClient(options.redis, 'platform:resume-cache');
  const keyOf = (activityId: unknown) => resumeKey(prefix, check('activityId', activityId, ACTIVITY_ID_PATTERN, '1-256 characters without control characters'));

  return {
    ttlSeconds,
    async remember(activityId, sessionId) {
      const key = keyOf(activityId);
      check('sessionId', sessionId, CLAUDE_SESSION_ID_PATTERN, '1-128 of [A-Za-z0-9_.-]');
      return bounded('resume remember', timeoutMs, async () => {
        await holder.client().set(key, sessionId, 'PX', ttlMs);
      });
    },
    async lookup(activityId) {
      const key = keyOf(activityId);
      return bounded('resume lookup', timeoutMs, () => holder.client().get(key));
    },
    async forget(activityId) {
      const key = keyOf(activityId);
      return bounded('resume forget', timeoutMs, async () => (await holder.client().del(key)) > 0);
    },
    close: () => holder.close(),
  };
}
