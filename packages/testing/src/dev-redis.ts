import { pingRedis, redisServerAvailable, startRedisServer, type RedisServer } from './redis-server';

/** Where {@link resolveDevRedis} found a Redis. */
export interface DevRedis {
  url: string;
  /** `env`: REDIS_URL; `local`: 127.0.0.1:6379 answered; `private`: a redis-server started for us. */
  source: 'env' | 'local' | 'private';
  /** The private server, when one was started; stop it when done. */
  server?: RedisServer;
}

/** Options of {@link resolveDevRedis}. */
export interface ResolveDevRedisOptions {
  /** Start a private server even when 127.0.0.1:6379 answers (tests do; demos don't). @defaultValue `false` */
  preferPrivate?: boolean;
  /** Environment to read `REDIS_URL` from. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
}

/** The message shown when no Redis can be found or started. */
export const HOW_TO_GET_REDIS = [
  'No Redis found: REDIS_URL is unset, nothing answers on 127.0.0.1:6379, and redis-server is not on PATH.',
  'Get one of these:',
  '  Debian/Ubuntu:  sudo apt-get install -y redis-server',
  '  macOS:          brew install redis',
  '  Docker:         REDIS_PASSWORD=<secret> docker compose up -d redis   (then REDIS_URL=redis://127.0.0.1:6379 and the same REDIS_PASSWORD)',
  'or point REDIS_URL at an existing Redis 6.2+.',
].join('\n');

/**
 * Finds a Redis for the demo and tests: `REDIS_URL` if set; else 127.0.0.1:6379 if it answers
 * (unless `preferPrivate`); else a private `redis-server` on a free port. Throws with
 * instructions when there is none of these.
 */
export async function resolveDevRedis(options: ResolveDevRedisOptions = {}): Promise<DevRedis> {
  const env = options.env ?? process.env;
  if (env.REDIS_URL) return { url: env.REDIS_URL, source: 'env' };
  const haveBinary = redisServerAvailable();
  if (!options.preferPrivate || !haveBinary) {
    if (await pingRedis(6379, { anyAnswer: true })) return { url: 'redis://127.0.0.1:6379', source: 'local' };
  }
  if (haveBinary) {
    const server = await startRedisServer();
    return { url: server.url, source: 'private', server };
  }
  throw new Error(HOW_TO_GET_REDIS);
}
