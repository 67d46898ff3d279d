import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors';
import { loadKeyPrefix } from './namespace';

/** A `host:port` address from `REDIS_SENTINEL_HOSTS` or `REDIS_CLUSTER_NODES`. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * Validated Redis settings. `password` is not enumerable, so logging or serialising a config
 * never prints it; read it explicitly when you need it.
 */
export interface RedisConfig {
  /** Host of the standalone server (ignored when `sentinels` is set). @defaultValue `127.0.0.1` */
  readonly host: string;
  /** Port of the standalone server. @defaultValue `6379` */
  readonly port: number;
  /** ACL user name from the URL, if any. */
  readonly username?: string;
  /** Password from `REDIS_PASSWORD`, else from the URL. Not enumerable. */
  readonly password?: string;
  /** Database index 0–15, from `REDIS_DB`, else the URL path. @defaultValue `0` */
  readonly db: number;
  /** TLS (from a `rediss://` URL); the server is always verified, against `caFile` when given. */
  readonly tls?: { readonly caFile?: string; readonly servername: string };
  /** Sentinels from `REDIS_SENTINEL_HOSTS`. */
  readonly sentinels?: readonly SentinelAddress[];
  /** Master name from `REDIS_SENTINEL_NAME`; required with `sentinels`. */
  readonly sentinelName?: string;
  /**
   * Redis Cluster seed nodes from `REDIS_CLUSTER_NODES`; when set, connections are ioredis
   * `Cluster`s (`host`/`port` are then unused; TLS, user and password still come from
   * `REDIS_URL`/`REDIS_PASSWORD`, and `db` is always 0).
   */
  readonly clusterNodes?: readonly SentinelAddress[];
  /** The URL with any password replaced by `***`, safe to log. */
  readonly displayUrl: string;
  /** The key prefix of every package, from `REDIS_KEY_PREFIX`. @defaultValue `''` (none) */
  readonly keyPrefix: string;
}

/** The environment variables read by {@link loadRedisConfig}. */
export type RedisEnv = Partial<Record<
  | 'REDIS_URL'
  | 'REDIS_PASSWORD'
  | 'REDIS_DB'
  | 'REDIS_SENTINEL_HOSTS'
  | 'REDIS_SENTINEL_NAME'
  | 'REDIS_TLS_CA_FILE'
  | 'REDIS_CLUSTER_NODES'
  | 'REDIS_KEY_PREFIX',
  string | undefined
>>;

/** The URL used when `REDIS_URL` is unset. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

// Empty strings count as unset: `REDIS_PASSWORD=` in a compose file means "no password".
const optional = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().optional());

const envSchema = z.object({
  REDIS_URL: optional,
  REDIS_PASSWORD: optional,
  REDIS_DB: optional,
  REDIS_SENTINEL_HOSTS: optional,
  REDIS_SENTINEL_NAME: optional,
  REDIS_TLS_CA_FILE: optional,
  REDIS_CLUSTER_NODES: optional,
});

function parsePort(text: string, variable: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new ConfigError(variable, 'port must be a number from 1 to 65535');
  const port = Number(text);
  if (port < 1 || port > 65535) throw new ConfigError(variable, 'port must be a number from 1 to 65535');
  return port;
}

function parseAddressList(text: string, variable: string, example: string): SentinelAddress[] {
  return text.split(',').map((entry) => {
    const trimmed = entry.trim();
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(trimmed);
    // Quoted to say which entry is wrong, without a password written into it (`redis://:pw@h:1`).
    if (!match) throw new ConfigError(variable, `entry "${redactUrlPassword(trimmed)}" is not host:port (list them as ${example})`);
    return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port: parsePort(match[2]!, variable) };
  });
}

function parseDb(text: string, variable: string): number {
  if (!/^\d{1,2}$/.test(text) || Number(text) > 15) {
    throw new ConfigError(variable, 'must be a database index from 0 to 15');
  }
  return Number(text);
}

/** A percent-encoded user name or password of REDIS_URL; a malformed escape is a ConfigError (never quoting it). */
function decodeUserinfo(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError('REDIS_URL', `the ${what} has a malformed percent-escape (write a literal "%" as %25)`);
  }
}

// Query parameters that may carry a credential (`?password=` of libpq and node-postgres, tokens).
const SECRET_PARAM = /pass|pwd|secret|token|auth|credential/i;

/**
 * A URL (redis://, rediss://, postgres://, …) with its password replaced by `***`, for messages and
 * logs, and so are query parameters named like a credential (`password`, `token`, …). Input that
 * does not parse as a URL with a host, or that has an `@` after its host (a password with an
 * unescaped `/`, `?` or `#` is cut off there), loses everything up to its last `@`.
 */
export function redactUrlPassword(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !parsed.host || `${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@')) {
    return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:(?:\/\/)?)?[^]*@/, '$1***@');
  }
  if (parsed.password) parsed.password = '***';
  for (const name of new Set(parsed.searchParams.keys())) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString();
}

/**
 * Reads and validates the Redis settings from the environment.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `REDIS_URL` | `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS) | `redis://127.0.0.1:6379` |
 * | `REDIS_PASSWORD` | password; overrides one in the URL | none |
 * | `REDIS_DB` | database index 0–15; overrides the URL path | `0` |
 * | `REDIS_SENTINEL_HOSTS` | `host1:26379,host2:26379` | none (standalone) |
 * | `REDIS_SENTINEL_NAME` | Sentinel master name; required with hosts | none |
 * | `REDIS_TLS_CA_FILE` | PEM file of the CA that signed the server certificate | system CAs |
 * | `REDIS_CLUSTER_NODES` | Redis Cluster seed nodes `host1:7000,host2:7001` (REDIS_URL then gives only scheme, user, password) | none (not a cluster) |
 * | `REDIS_KEY_PREFIX` | prefix of every key of every package (`acme` → `acme:notify:…`, `acme:bull:…`) | none |
 *
 * @throws {@link ConfigError} naming the variable for any bad value. Messages never contain a password.
 */
export function loadRedisConfig(env: RedisEnv | NodeJS.ProcessEnv = process.env): RedisConfig {
  const vars = envSchema.parse({
    REDIS_URL: env.REDIS_URL,
    REDIS_PASSWORD: env.REDIS_PASSWORD,
    REDIS_DB: env.REDIS_DB,
    REDIS_SENTINEL_HOSTS: env.REDIS_SENTINEL_HOSTS,
    REDIS_SENTINEL_NAME: env.REDIS_SENTINEL_NAME,
    REDIS_TLS_CA_FILE: env.REDIS_TLS_CA_FILE,
    REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES,
  });

  const rawUrl = vars.REDIS_URL ?? DEFAULT_REDIS_URL;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    // The value itself is not echoed: it may hold a password.
    throw new ConfigError('REDIS_URL', 'is not a valid URL; expected redis://host:port or rediss://host:port');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', `scheme must be redis:// or rediss://, got ${url.protocol}//`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new ConfigError('REDIS_URL', 'has no host');
  const port = url.port ? parsePort(url.port, 'REDIS_URL') : 6379;

  let db = 0;
  const path = url.pathname.replace(/^\//, '');
  if (path) db = parseDb(path, 'REDIS_URL');
  if (vars.REDIS_DB !== undefined) db = parseDb(vars.REDIS_DB.trim(), 'REDIS_DB');

  const username = url.username ? decodeUserinfo(url.username, 'user name') : undefined;
  const urlPassword = url.password ? decodeUserinfo(url.password, 'password') : undefined;
  const password = vars.REDIS_PASSWORD ?? urlPassword;

  let sentinels: SentinelAddress[] | undefined;
  if (vars.REDIS_SENTINEL_HOSTS !== undefined) {
    sentinels = parseAddressList(vars.REDIS_SENTINEL_HOSTS, 'REDIS_SENTINEL_HOSTS', 'h1:26379,h2:26379');
    if (!vars.REDIS_SENTINEL_NAME) {
      throw new ConfigError('REDIS_SENTINEL_NAME', 'is required when REDIS_SENTINEL_HOSTS is set');
    }
  }
  if (vars.REDIS_SENTINEL_NAME !== undefined && !/^[A-Za-z0-9_.-]{1,128}$/.test(vars.REDIS_SENTINEL_NAME)) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'must be 1-128 characters of letters, digits, "_", "." or "-"');
  }

  let clusterNodes: SentinelAddress[] | undefined;
  if (vars.REDIS_CLUSTER_NODES !== undefined) {
    clusterNodes = parseAddressList(vars.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES', 'h1:7000,h2:7001');
    if (sentinels) throw new ConfigError('REDIS_CLUSTER_NODES', 'cannot be combined with REDIS_SENTINEL_HOSTS (a deployment is either a cluster or Sentinel)');
    // A cluster has database 0 only; SELECT fails there.
    if (db !== 0) throw new ConfigError(vars.REDIS_DB !== undefined ? 'REDIS_DB' : 'REDIS_URL', 'must be 0 on a Redis Cluster (it has only database 0)');
  }

  let tls: RedisConfig['tls'];
  const caFile = vars.REDIS_TLS_CA_FILE;
  if (caFile !== undefined) {
    if (!existsSync(caFile) || !statSync(caFile).isFile()) {
      throw new ConfigError('REDIS_TLS_CA_FILE', `no readable file at ${caFile}`);
    }
    if (url.protocol !== 'rediss:') {
      throw new ConfigError('REDIS_TLS_CA_FILE', 'is set but REDIS_URL does not use rediss:// (TLS)');
    }
    const pem = readFileSync(caFile, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError('REDIS_TLS_CA_FILE', `${caFile} is not a PEM certificate`);
    }
  }
  if (url.protocol === 'rediss:') tls = { servername: host, ...(caFile ? { caFile } : {}) };

  const config: RedisConfig = {
    host,
    port,
    db,
    displayUrl: redactUrlPassword(rawUrl),
    keyPrefix: loadKeyPrefix(env),
    ...(username ? { username } : {}),
    ...(tls ? { tls } : {}),
    ...(sentinels ? { sentinels, sentinelName: vars.REDIS_SENTINEL_NAME } : {}),
    ...(clusterNodes ? { clusterNodes } : {}),
  };
  if (password !== undefined) {
    Object.defineProperty(config, 'password', { value: password, enumerable: false });
  }
  return Object.freeze(config);
}
