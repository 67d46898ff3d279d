import { cpus, totalmem, platform, release, loadavg } from 'node:os';
import type { Redis } from 'ioredis';
import { versionOf } from './optional';

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

export async function machineInfo(redis: Redis): Promise<MachineInfo> {
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
