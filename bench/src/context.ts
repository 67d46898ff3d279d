import { randomUUID } from 'node:crypto';
import { closeConnection, createRedisConnection, loadRedisConfig, type ConnectionRole } from '@platform/redis';
import { Redis } from 'ioredis';
import type { Results } from './results';

/** What every benchmark gets from the runner. */
export interface BenchContext {
  readonly quick: boolean;
  readonly rounds: number;
  readonly redisUrl: string;
  /** True when the runner started the Redis itself (nobody else writes to it). */
  readonly privateServer: boolean;
  /** Unique, colon-free id of this run; every key and queue of the run starts with it. */
  readonly runId: string;
  readonly results: Results;
  log(line: string): void;
  /** `full` in a full run, `quick` with --quick. */
  size(full: number, quick: number): number;
  /** A plain ioredis client, as a user of the anchor libraries would create it. */
  plainClient(options?: { maxRetriesPerRequest?: null }): Redis;
  /** A connection made the platform's way (`createRedisConnection`, role producer or worker). */
  platformClient(role: ConnectionRole): Redis;
  /** Deletes keys that start with `prefix` (SCAN + UNLINK), never FLUSHDB. */
  deleteKeys(prefix: string): Promise<number>;
  /** Sum of `MEMORY USAGE key SAMPLES 0` over the keys that start with `prefix`, and their count. */
  memoryOfKeys(prefix: string): Promise<{ bytes: number; keys: number }>;
  /** `used_memory` from INFO memory. */
  usedMemory(): Promise<number>;
  /** Closes every client the context opened. */
  close(): Promise<void>;
}

export function createContext(options: {
  quick: boolean;
  rounds: number;
  redisUrl: string;
  privateServer: boolean;
  results: Results;
  log: (line: string) => void;
  runId?: string;
}): BenchContext {
  const clients: Redis[] = [];
  const runId = options.runId ?? `bench-${randomUUID().slice(0, 8)}`;
  let admin: Redis | undefined;
  const adminClient = () => {
    admin ??= track(new Redis(options.redisUrl));
    return admin;
  };
  function track(client: Redis): Redis {
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  }
  const config = loadRedisConfig({ REDIS_URL: options.redisUrl });

  return {
    quick: options.quick,
    rounds: options.rounds,
    redisUrl: options.redisUrl,
    privateServer: options.privateServer,
    runId,
    results: options.results,
    log: options.log,
    size: (full, quick) => (options.quick ? quick : full),
    plainClient(extra) {
      return track(new Redis(options.redisUrl, { ...extra }));
    },
    platformClient(role) {
      // The bench's config comes from a redis:// URL (never REDIS_CLUSTER_NODES): a standalone client.
      return track(createRedisConnection(config, { role, connectionName: `bench:${role}` }) as Redis);
    },
    async deleteKeys(prefix) {
      const redis = adminClient();
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 2000);
        cursor = next;
        if (keys.length > 0) deleted += await redis.unlink(...keys);
      } while (cursor !== '0');
      return deleted;
    },
    async memoryOfKeys(prefix) {
      const redis = adminClient();
      let cursor = '0';
      let bytes = 0;
      let count = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 2000);
        cursor = next;
        if (keys.length === 0) continue;
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
        const replies = (await pipeline.exec()) ?? [];
        for (const [error, value] of replies) {
          if (!error && typeof value === 'number') {
            bytes += value;
            count++;
          }
        }
      } while (cursor !== '0');
      return { bytes, keys: count };
    },
    async usedMemory() {
      const info = await adminClient().info('memory');
      const match = /^used_memory:(\d+)/m.exec(info);
      return match ? Number(match[1]) : Number.NaN;
    },
    async close() {
      await Promise.all(clients.splice(0).map((client) => closeConnection(client)));
    },
  };
}

/** Escapes glob characters so a prefix matches literally in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
