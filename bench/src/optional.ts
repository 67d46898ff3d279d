/**
 * Modules the runner uses when they are there: @platform/ratelimit and @platform/locks (built by
 * their own issues) and ./noisy-neighbour (issue 10). They are loaded with a guarded require and
 * typed by the public contract in DESIGN.md, so the runner builds and runs without them and
 * reports the sections as "not available".
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RedisConfig } from '@platform/redis';
import type { Redis } from 'ioredis';

export interface LimiterDecision {
  allowed: boolean;
}

export interface LimiterLike {
  consume(tenantId: string): Promise<LimiterDecision>;
}

export type LimiterAlgorithm = 'fixed-window' | 'sliding-window' | 'sliding-log' | 'token-bucket';

export interface RatelimitModule {
  createRateLimiter(options: {
    redis: Redis;
    provider: string;
    limit: number;
    windowSeconds: number;
    algorithm?: LimiterAlgorithm;
  }): LimiterLike;
  createLimiterConnection(config: RedisConfig): Redis;
}

export interface LockLike {
  release(): Promise<boolean>;
}

export interface LocksModule {
  acquireLock(redis: Redis, key: string, options: { ttlMs: number; waitMs?: number; fencing?: boolean }): Promise<LockLike | null>;
}

export interface NoisyNeighbourResult {
  fifoP95WaitMs: number;
  fairP95WaitMs: number;
  ratioP95: number;
  fifoThroughput: number;
  fairThroughput: number;
  throughputRatio: number;
}

export interface NoisyNeighbourModule {
  runNoisyNeighbour(options: { redisUrl: string; quick: boolean }): Promise<NoisyNeighbourResult>;
}

/** A module, or why it could not be used. */
export type Loaded<T> = { ok: true; module: T } | { ok: false; reason: string };

function load<T>(id: string, exportName: string, loader: () => unknown): Loaded<T> {
  let mod: unknown;
  try {
    mod = loader();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = code === 'MODULE_NOT_FOUND' || /Cannot find module/.test(String(error))
      ? `${id} is not installed in this checkout`
      : `${id} failed to load: ${(error as Error).message.split('\n')[0]}`;
    return { ok: false, reason };
  }
  if (typeof mod !== 'object' || mod === null || typeof (mod as Record<string, unknown>)[exportName] !== 'function') {
    return { ok: false, reason: `${id} does not export ${exportName}() yet` };
  }
  return { ok: true, module: mod as T };
}

/* eslint-disable @typescript-eslint/no-require-imports -- optional modules, loaded only when present */
export function loadRatelimit(): Loaded<RatelimitModule> {
  return load('@platform/ratelimit', 'createRateLimiter', () => require('@platform/ratelimit'));
}

export function loadLocks(): Loaded<LocksModule> {
  return load('@platform/locks', 'acquireLock', () => require('@platform/locks'));
}

export function loadNoisyNeighbour(): Loaded<NoisyNeighbourModule> {
  return load('./noisy-neighbour', 'runNoisyNeighbour', () => require('./noisy-neighbour'));
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** Version of an installed package (found from its entry point upwards), or `unknown`. */
export function versionOf(name: string): string {
  try {
    let dir = dirname(require.resolve(name));
    for (let i = 0; i < 6; i++) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? 'unknown';
      }
      dir = dirname(dir);
    }
  } catch {
    // not installed
  }
  return 'unknown';
}
