import type { Redis } from 'ioredis';
import type { RateLimiter, RateLimitResult } from './rate-limiter';

/** A decision bracketed by Redis `TIME` read just before and just after it, µs. */
export interface TimedResult extends RateLimitResult {
  /** Redis time before the decision, µs. */
  before: number;
  /** Redis time after the decision, µs. */
  after: number;
}

function micros(time: ReadonlyArray<string | number>): number {
  return Number(time[0]) * 1e6 + Number(time[1]);
}

/**
 * Consumes with the decision bracketed by two `TIME` commands on the same connection: Redis runs
 * them in the order they were written, so the script's own `TIME` lies in [before, after].
 */
export async function timedConsume(redis: Redis, limiter: RateLimiter, tenantId: string): Promise<TimedResult> {
  // One after another: sent together, the second TIME could run before the limiter's script when
  // the limiter awaits anything before sending it, and the bounds would not hold.
  const before = await redis.time();
  const result = await limiter.consume(tenantId);
  const after = await redis.time();
  return { ...result, before: micros(before), after: micros(after) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
