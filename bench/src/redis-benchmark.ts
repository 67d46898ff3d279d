import { execFile, spawnSync } from 'node:child_process';

/** Path of `redis-benchmark` when it is installed (redis-tools), else undefined. */
export function findRedisBenchmark(): string | undefined {
  const found = spawnSync('redis-benchmark', ['--version'], { stdio: 'ignore' });
  return found.status === 0 ? 'redis-benchmark' : undefined;
}

/**
 * Drives the server with `redis-benchmark` (50 clients, no pipelining, keys from `__rand_int__`
 * over `randomKeys` values) running one command, and returns requests per second.
 */
export function redisBenchmark(
  redisUrl: string,
  command: readonly string[],
  options: { requests: number; clients?: number; randomKeys?: number },
): Promise<number> {
  const url = new URL(redisUrl);
  const args = ['-h', url.hostname || '127.0.0.1', '-p', url.port || '6379'];
  if (url.password) args.push('-a', decodeURIComponent(url.password), '--no-auth-warning');
  if (url.username && url.username !== 'default') args.push('--user', decodeURIComponent(url.username));
  const db = url.pathname.replace('/', '');
  if (db) args.push('--dbnum', db);
  if (url.protocol === 'rediss:') args.push('--tls');
  args.push('-n', String(options.requests), '-c', String(options.clients ?? 50), '-P', '1', '-r', String(options.randomKeys ?? 1000), '--csv');
  args.push(...command);
  return new Promise((resolve, reject) => {
    execFile('redis-benchmark', args, { timeout: 300_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`redis-benchmark failed: ${error.message} ${stderr}`));
      // CSV: "test","rps","avg_latency_ms",... then one line per test.
      const line = stdout.trim().split('\n').find((l) => !l.startsWith('"test"'));
      const rps = line ? Number(line.split('","')[1]) : Number.NaN;
      if (!Number.isFinite(rps) || rps <= 0) return reject(new Error(`redis-benchmark: cannot read its output: ${stdout.slice(0, 300)}`));
      resolve(rps);
    });
  });
}
