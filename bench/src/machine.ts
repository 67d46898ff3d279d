import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem, platform, release, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import type { RedisClient } from '@platform/redis';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  redis: string;
  loadAverage: string;
  packages: Record<string, string>;
}

const PACKAGES = [
  '@platform/queue',
  '@platform/redis',
  '@platform/ratelimit',
  '@platform/locks',
  '@platform/notifications',
  'bullmq',
  'ioredis',
  'rate-limiter-flexible',
  'redlock',
  'redis-semaphore',
];

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

export async function machineInfo(redis: RedisClient): Promise<MachineInfo> {
  const info = await redis.info('server');
  const redisVersion = /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) packages[name] = versionOf(name);
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    redis: redisVersion,
    loadAverage: loadavg().map((l) => l.toFixed(2)).join(' '),
    packages,
  };
}
