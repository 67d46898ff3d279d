import type { Redis } from 'ioredis';
import type { RateLimiter, RateLimitResult } from './rate-limiter';

/** A decision bracketed by Redis `TIME` read just before and just after it, µs. */
export interface TimedResult extends RateLimitResult {
  /** Redis time before the decision, µs. */
  before: number;
  /** Redis time after the decision, µs. */
  after: number;
}

function micros([seconds, micro]: [string, string]): number {
  return Number(seconds) * 1e6 + Number(micro);
}

/**
 * Consumes with the decision bracketed by two `TIME` commands on the same connection: Redis runs
 * them in the order they were written, so the script's own `TIME` lies in [before, after].
 */
export async function timedConsume(redis: Redis, limiter: RateLimiter, tenantId: string): Promise<TimedResult> {
  const [before, result, after] = await Promise.all([redis.time(), limiter.consume(tenantId), redis.time()]);
  return { ...result, before: micros(before as [string, string]), after: micros(after as [string, string]) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
