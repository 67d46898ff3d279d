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
  const [before, result, after] = await Promise.all([redis.time(), limiter.consume(tenantId), redis.time()]);
  return { ...result, before: micros(before), after: micros(after) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
