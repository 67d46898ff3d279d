import { Redis, type Cluster } from 'ioredis';
import type { RedisClient } from './connection';
import { PlatformError } from './errors';

/** Outcome of one server check. */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

/** Identifiers of the checks run by {@link checkRedisServer}, in the order they are reported. */
export type RedisCheckId =
  | 'version'
  | 'mode'
  | 'maxmemory-policy'
  | 'persistence'
  | 'tcp-keepalive'
  | 'rtt'
  | 'memory'
  | 'evicted-keys'
  | 'rejected-connections'
  | 'cluster-slots'
  | 'cluster-replicas';

/** One row of the doctor's report. */
export interface RedisCheck {
  /** Stable identifier, e.g. `maxmemory-policy`. */
  id: RedisCheckId;
  status: CheckStatus;
  /** What was found, for humans (e.g. `allkeys-lru`, `median 0.12 ms, p99 0.40 ms`). */
  value: string;
  /** Why the status is what it is. */
  message: string;
  /** What to change; empty for a PASS. */
  fix: string;
}

/** Result of {@link checkRedisServer}. */
export interface RedisCheckReport {
  /** False when any check FAILed (WARNs do not make it false). */
  ok: boolean;
  checks: RedisCheck[];
}

/** Thresholds and switches of {@link checkRedisServer}. */
export interface RedisCheckOptions {
  /** Oldest Redis accepted: BullMQ 6 refuses to connect to anything older. @defaultValue `'5.0.0'` */
  minVersion?: string;
  /** Versions below this WARN: BullMQ 6 logs a warning below it. @defaultValue `'6.2.0'` */
  recommendedVersion?: string;
  /**
   * Set when the node is reached through a cluster client, whose queues carry hash-tagged prefixes
   * (`bull:{<queue>}`), so a cluster node is acceptable. Set by {@link checkRedisServer} itself for
   * each node of a `Cluster` client. @defaultValue `false`
   */
  clusterHashTags?: boolean;
  /** PINGs sent to measure the round-trip time. @defaultValue `20` */
  rttSamples?: number;
  /** Median RTT above this WARNs. @defaultValue `1` */
  rttWarnMs?: number;
  /** Median RTT above this FAILs. @defaultValue `5` */
  rttFailMs?: number;
  /** used_memory / maxmemory at or above this percentage WARNs. @defaultValue `90` */
  memoryWarnPercent?: number;
  /** used_memory / maxmemory at or above this percentage FAILs. @defaultValue `98` */
  memoryFailPercent?: number;
  /** evicted_keys at or above this WARNs. @defaultValue `1` */
  evictedKeysWarn?: number;
  /** evicted_keys at or above this FAILs. @defaultValue `10` */
  evictedKeysFail?: number;
  /** rejected_connections at or above this FAILs. @defaultValue `1` */
  rejectedConnectionsFail?: number;
  /** tcp-keepalive recommended value, quoted in the fix. @defaultValue `300` */
  recommendedTcpKeepalive?: number;
}

/**
 * Defaults of {@link RedisCheckOptions}: RTT under 5 ms (better under 1 ms: a job takes several
 * round trips); memory warn at 90 %, fail at 98 % of maxmemory (with `noeviction`, writes fail at
 * 100 %); evicted keys warn at 1, fail at 10; any rejected connection fails; tcp-keepalive 300.
 */
export const defaultRedisCheckOptions: Readonly<Required<RedisCheckOptions>> = Object.freeze({
  // BullMQ 6's RedisConnection.minimumVersion and recommendedMinimumVersion.
  minVersion: '5.0.0',
  recommendedVersion: '6.2.0',
  clusterHashTags: false,
  rttSamples: 20,
  rttWarnMs: 1,
  rttFailMs: 5,
  memoryWarnPercent: 90,
  memoryFailPercent: 98,
  evictedKeysWarn: 1,
  evictedKeysFail: 10,
  rejectedConnectionsFail: 1,
  recommendedTcpKeepalive: 300,
});

/** The narrow client {@link checkRedisServer} needs: any ioredis `Redis`. */
export type DoctorClient = Pick<RedisClient, 'info' | 'ping' | 'call'>;

/**
 * What the checks are computed from. Gathered by {@link gatherRedisFacts}; a `null` config value
 * means CONFIG GET was refused (managed Redis) and INFO did not carry it either.
 */
export interface RedisFacts {
  /** Every `field:value` of `INFO` (all sections). */
  info: Record<string, string>;
  /** CONFIG GET results; `null` when CONFIG is not available. */
  config: { maxmemoryPolicy: string | null; save: string | null; tcpKeepalive: string | null; appendonly: string | null };
  /** Why CONFIG could not be read, when it could not. */
  configError?: string;
  /** PING round-trip times in ms. */
  rttMs: number[];
}

/**
 * Thrown by {@link assertRedisReady} when a check FAILs. `checks` lists the FAILed rows. The code is
 * `CONFIG_INVALID`: the Redis server's configuration is not fit for the platform.
 */
export class RedisNotReadyError extends PlatformError {
  /** The FAILed checks. */
  readonly checks: readonly RedisCheck[];
  /** The whole report (including WARN and PASS rows). */
  readonly report: RedisCheckReport;

  constructor(report: RedisCheckReport) {
    const failed = report.checks.filter((c) => c.status === 'FAIL');
    const list = failed.map((c) => `${c.id}: ${c.message}${c.fix ? ` (fix: ${c.fix})` : ''}`).join('; ');
    super('CONFIG_INVALID', `Redis is not ready for the platform: ${list}`);
    this.checks = failed;
    this.report = report;
  }
}

/** Parses `INFO` output into `field -> value` (section headers and blank lines skipped). */
export function parseInfo(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) result[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return result;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(2)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

const CONFIG_DISABLED = 'cannot read: CONFIG disabled';

async function configGet(client: DoctorClient, parameter: string): Promise<string> {
  const reply = (await client.call('CONFIG', 'GET', parameter)) as unknown;
  if (Array.isArray(reply) && reply.length >= 2) return String(reply[1]);
  // RESP3 clients answer with a map.
  if (reply && typeof reply === 'object' && parameter in reply) return String((reply as Record<string, unknown>)[parameter]);
  throw new Error(`CONFIG GET ${parameter} returned nothing`);
}

/**
 * Reads everything the checks need: INFO (all sections), CONFIG GET of the settings INFO does not
 * show (falls back to `null` when a managed Redis refuses CONFIG), and `samples` PING round trips.
 */
export async function gatherRedisFacts(client: DoctorClient, samples = defaultRedisCheckOptions.rttSamples): Promise<RedisFacts> {
  const info = parseInfo(await client.info('everything').catch(() => client.info()));
  const config: RedisFacts['config'] = { maxmemoryPolicy: null, save: null, tcpKeepalive: null, appendonly: null };
  let configError: string | undefined;
  try {
    config.maxmemoryPolicy = await configGet(client, 'maxmemory-policy');
    config.save = await configGet(client, 'save');
    config.tcpKeepalive = await configGet(client, 'tcp-keepalive');
    config.appendonly = await configGet(client, 'appendonly');
  } catch (error) {
    configError = error instanceof Error ? error.message : String(error);
  }
  const rttMs: number[] = [];
  for (let i = 0; i < Math.max(1, samples); i++) {
    const start = process.hrtime.bigint();
    await client.ping();
    rttMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { info, config, rttMs, ...(configError !== undefined ? { configError } : {}) };
}

/**
 * Turns {@link RedisFacts} into the report (pure: no Redis access), so each rule can be tested
 * with made-up facts.
 */
export function evaluateRedisFacts(facts: RedisFacts, options: RedisCheckOptions = {}): RedisCheckReport {
  const o = { ...defaultRedisCheckOptions, ...options };
  const { info, config } = facts;
  const checks: RedisCheck[] = [];
  const add = (id: RedisCheckId, status: CheckStatus, value: string, message: string, fix = '') =>
    checks.push({ id, status, value, message, fix: status === 'PASS' ? '' : fix });

  // Version.
  const version = info.redis_version ?? info.valkey_version ?? '';
  if (!version) add('version', 'WARN', 'unknown', 'INFO server did not report redis_version', 'check that this is a Redis server');
  else if (compareVersions(version, o.minVersion) < 0)
    add('version', 'FAIL', version, `Redis ${version} is older than ${o.minVersion}, the oldest BullMQ 6 connects to`, `upgrade Redis to ${o.recommendedVersion} or newer (7.2 recommended)`);
  else if (compareVersions(version, o.recommendedVersion) < 0)
    add('version', 'WARN', version, `Redis ${version} works, but BullMQ recommends ${o.recommendedVersion}+`, `upgrade Redis to ${o.recommendedVersion} or newer`);
  else add('version', 'PASS', version, `Redis ${version} >= ${o.recommendedVersion}`);

  // Mode.
  const mode = info.redis_mode ?? 'standalone';
  const role = info.role ?? 'master';
  if (mode === 'cluster') {
    if (o.clusterHashTags) add('mode', 'PASS', 'cluster', 'Redis Cluster node, reached through a cluster client (queues carry their own hash tags)');
    else
      add('mode', 'FAIL', 'cluster', 'a Redis Cluster node reached as a standalone server: keys of other slots are refused (MOVED)',
        'set REDIS_CLUSTER_NODES=host1:port1,host2:port2 so every package uses a cluster client and hash-tagged queue prefixes');
  } else if (mode === 'sentinel') {
    add('mode', 'FAIL', 'sentinel', 'connected to a Sentinel process, not to a Redis master',
      'set REDIS_SENTINEL_HOSTS and REDIS_SENTINEL_NAME instead of pointing REDIS_URL at a Sentinel');
  } else if (role !== 'master') {
    add('mode', 'FAIL', `${mode} (${role})`, 'connected to a replica: writes are refused',
      'point REDIS_URL at the master, or use Sentinel (REDIS_SENTINEL_HOSTS) to follow failovers');
  } else {
    add('mode', 'PASS', `${mode} (${role})`, `${mode} master`);
  }

  // maxmemory-policy (INFO memory carries it too, so it is readable even without CONFIG).
  const policy = config.maxmemoryPolicy ?? info.maxmemory_policy ?? null;
  const policyFix = 'CONFIG SET maxmemory-policy noeviction (and maxmemory-policy noeviction in redis.conf)';
  if (policy === null) add('maxmemory-policy', 'WARN', 'unknown', CONFIG_DISABLED, 'check the provider console: the policy must be noeviction');
  else if (policy === 'noeviction') add('maxmemory-policy', 'PASS', policy, 'Redis refuses writes instead of evicting keys');
  else if (policy.startsWith('allkeys-'))
    add('maxmemory-policy', 'FAIL', policy, 'Redis may evict any key when memory is full: an evicted queue key is a lost job', policyFix);
  else if (policy.startsWith('volatile-'))
    add('maxmemory-policy', 'WARN', policy,
      'Redis may evict keys with a TTL when memory is full (dedup and rate-limit keys, kept jobs): a lost dedup key sends a notification twice',
      policyFix);
  else add('maxmemory-policy', 'WARN', policy, `unknown policy ${policy}`, policyFix);

  // Persistence.
  const aof = (config.appendonly ?? (info.aof_enabled === '1' ? 'yes' : info.aof_enabled === '0' ? 'no' : null)) === 'yes';
  const save = config.save;
  const noPersistenceMsg = 'no AOF and no RDB save points: queue and dedup state die with a restart';
  const persistenceFix = 'CONFIG SET appendonly yes (appendfsync everysec), or save points such as save 60 1000';
  if (aof && save) add('persistence', 'PASS', `AOF on, RDB save "${save}"`, 'AOF and RDB snapshots');
  else if (aof) add('persistence', 'PASS', 'AOF on', 'append-only file');
  else if (save) add('persistence', 'PASS', `RDB save "${save}"`, 'RDB snapshots (up to the last save point is lost on a crash)');
  else if (save === null) add('persistence', 'WARN', 'AOF off, RDB unknown', `${CONFIG_DISABLED}; AOF is off`, 'check the provider console: enable AOF or RDB snapshots');
  else add('persistence', 'WARN', 'none', noPersistenceMsg, persistenceFix);

  // tcp-keepalive.
  const keepalive = config.tcpKeepalive;
  const keepaliveFix = `CONFIG SET tcp-keepalive ${o.recommendedTcpKeepalive}`;
  if (keepalive === null) add('tcp-keepalive', 'WARN', 'unknown', CONFIG_DISABLED, `check the provider console: ${o.recommendedTcpKeepalive} s recommended`);
  else if (Number(keepalive) === 0)
    add('tcp-keepalive', 'WARN', '0', 'dead client connections (and their blocked commands) are never detected', keepaliveFix);
  else add('tcp-keepalive', 'PASS', `${keepalive} s`, 'dead peers are detected');

  // RTT.
  const sorted = [...facts.rttMs].sort((a, b) => a - b);
  const median = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const rttValue = `median ${median.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (${sorted.length} PINGs)`;
  const rttFix = 'run Redis in the same data centre / availability zone as the workers, on a low-latency network';
  if (median > o.rttFailMs) add('rtt', 'FAIL', rttValue, `median round trip over ${o.rttFailMs} ms: every job takes several round trips`, rttFix);
  else if (median > o.rttWarnMs) add('rtt', 'WARN', rttValue, `median round trip over ${o.rttWarnMs} ms`, rttFix);
  else add('rtt', 'PASS', rttValue, `median round trip under ${o.rttWarnMs} ms`);

  // Memory.
  const used = Number(info.used_memory ?? Number.NaN);
  const max = Number(info.maxmemory ?? Number.NaN);
  const memoryFix = 'raise maxmemory (leave headroom below the host RAM), drain queues, or lower job retention';
  if (!Number.isFinite(used) || !Number.isFinite(max)) add('memory', 'WARN', 'unknown', 'INFO memory did not report used_memory/maxmemory', 'check memory in the provider console');
  else if (max === 0)
    add('memory', 'WARN', `${formatBytes(used)} of unlimited`, 'maxmemory is 0 (unlimited): the OS may kill Redis when the host runs out of memory',
      'set maxmemory to about 80 % of the RAM available to Redis (with maxmemory-policy noeviction)');
  else {
    const percent = (used / max) * 100;
    const value = `${formatBytes(used)} of ${formatBytes(max)} (${percent.toFixed(1)} %)`;
    if (percent >= o.memoryFailPercent) add('memory', 'FAIL', value, `at or above ${o.memoryFailPercent} % of maxmemory: writes (new jobs) are about to be refused`, memoryFix);
    else if (percent >= o.memoryWarnPercent) add('memory', 'WARN', value, `at or above ${o.memoryWarnPercent} % of maxmemory`, memoryFix);
    else add('memory', 'PASS', value, `below ${o.memoryWarnPercent} % of maxmemory`);
  }

  // Evicted keys.
  const evicted = Number(info.evicted_keys ?? Number.NaN);
  const evictedFix = 'set maxmemory-policy noeviction and find what was lost; CONFIG RESETSTAT clears the counter';
  if (!Number.isFinite(evicted)) add('evicted-keys', 'WARN', 'unknown', 'INFO stats did not report evicted_keys', 'check evictions in the provider console');
  else if (evicted >= o.evictedKeysFail) add('evicted-keys', 'FAIL', String(evicted), `${evicted} keys evicted since the last restart (critical at ${o.evictedKeysFail})`, evictedFix);
  else if (evicted >= o.evictedKeysWarn) add('evicted-keys', 'WARN', String(evicted), `${evicted} keys evicted since the last restart (warn at ${o.evictedKeysWarn})`, evictedFix);
  else add('evicted-keys', 'PASS', '0', 'no key was evicted');

  // Rejected connections.
  const rejected = Number(info.rejected_connections ?? Number.NaN);
  if (!Number.isFinite(rejected)) add('rejected-connections', 'WARN', 'unknown', 'INFO stats did not report rejected_connections', 'check connections in the provider console');
  else if (rejected >= o.rejectedConnectionsFail)
    add('rejected-connections', 'FAIL', String(rejected), `${rejected} connections rejected (maxclients reached)`,
      'raise maxclients, or share connections (getSharedConnection) instead of opening one per request');
  else add('rejected-connections', 'PASS', '0', 'no connection was rejected');

  return { ok: checks.every((c) => c.status !== 'FAIL'), checks };
}

/**
 * Checks that a Redis server is fit to be the platform's primary store: version, mode,
 * maxmemory-policy, persistence, tcp-keepalive, round-trip time, memory, evictions and rejected
 * connections. Settings CONFIG cannot read (managed Redis) WARN with "cannot read: CONFIG disabled".
 *
 * @example
 * const report = await checkRedisServer(redis);
 * for (const c of report.checks) console.log(c.status, c.id, c.value, c.fix);
 */
export async function checkRedisServer(redis: DoctorClient, options: RedisCheckOptions = {}): Promise<RedisCheckReport> {
  const cluster = redis as Partial<Cluster>;
  if (cluster.isCluster && typeof cluster.nodes === 'function') return checkCluster(cluster as Cluster, options);
  const facts = await gatherRedisFacts(redis, options.rttSamples ?? defaultRedisCheckOptions.rttSamples);
  return evaluateRedisFacts(facts, options);
}

/** `host:port` of every node `CLUSTER NODES` lists that is not failed, masters first. */
function liveNodeAddresses(clusterNodes: string): Array<{ host: string; port: number; master: boolean }> {
  return clusterNodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((f) => f.length >= 8 && !f[2]!.split(',').some((flag) => flag === 'fail' || flag === 'noaddr' || flag === 'handshake'))
    .map((f) => {
      const address = f[1]!.split(',')[0]!.split('@')[0]!;
      const colon = address.lastIndexOf(':');
      return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)), master: f[2]!.split(',').includes('master') };
    })
    .sort((a, b) => Number(b.master) - Number(a.master));
}

/**
 * The checks of a cluster: every node's own checks (each row's value names the node and its role),
 * then whether all 16,384 slots are served and whether every master has a replica in sync. The
 * nodes come from `CLUSTER NODES` (a client's own node list can lag behind replicas that just
 * joined); nodes the client has no connection to get a short-lived one with the client's options.
 */
async function checkCluster(cluster: Cluster, options: RedisCheckOptions): Promise<RedisCheckReport> {
  await cluster.ping(); // a cluster client knows its nodes once its slots are loaded
  const [first] = cluster.nodes('master');
  if (!first) {
    const check: RedisCheck = { id: 'cluster-slots', status: 'FAIL', value: 'no nodes', message: 'the cluster client knows no master', fix: 'check REDIS_CLUSTER_NODES' };
    return { ok: false, checks: [check] };
  }
  const clusterFacts: ClusterFacts = {
    info: parseInfo(String(await first.call('CLUSTER', 'INFO'))),
    nodes: String(await first.call('CLUSTER', 'NODES')),
  };
  const known = new Map(cluster.nodes('all').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const checks: RedisCheck[] = [];
  for (const { host, port } of liveNodeAddresses(clusterFacts.nodes)) {
    let node = known.get(`${host}:${port}`);
    const own = node === undefined;
    node ??= new Redis({ ...cluster.options.redisOptions, host, port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
    node.on('error', () => undefined);
    try {
      const facts = await gatherRedisFacts(node, options.rttSamples ?? defaultRedisCheckOptions.rttSamples);
      const name = `${host}:${port} ${facts.info.role === 'slave' ? 'replica' : 'master'}`;
      for (const check of evaluateRedisFacts(facts, { ...options, clusterHashTags: true }).checks) {
        checks.push({ ...check, value: `${name}: ${check.value}` });
      }
    } finally {
      if (own) node.disconnect();
    }
  }
  checks.push(...evaluateClusterFacts(clusterFacts));
  return { ok: checks.every((check) => check.status !== 'FAIL'), checks };
}

/** What the cluster-wide checks are computed from: `CLUSTER INFO` (parsed) and `CLUSTER NODES` (raw). */
export interface ClusterFacts {
  info: Record<string, string>;
  nodes: string;
}

/**
 * The cluster-wide checks: `cluster-slots` (all 16,384 slots assigned and served, `cluster_state:ok`)
 * and `cluster-replicas` (every master has at least one connected replica, so a failover has
 * somewhere to go).
 */
export function evaluateClusterFacts(facts: ClusterFacts): RedisCheck[] {
  const checks: RedisCheck[] = [];
  const ok = Number(facts.info.cluster_slots_ok ?? 0);
  const state = facts.info.cluster_state ?? 'unknown';
  if (state === 'ok' && ok === 16384) {
    checks.push({ id: 'cluster-slots', status: 'PASS', value: `${ok}/16384, state ok`, message: 'every slot is served', fix: '' });
  } else {
    checks.push({
      id: 'cluster-slots',
      status: 'FAIL',
      value: `${ok}/16384, state ${state}`,
      message: 'not every slot is served: commands on keys of the missing slots fail (CLUSTERDOWN)',
      fix: 'assign the missing slots (redis-cli --cluster fix) or bring the failed master back',
    });
  }
  // Flags are a comma list (`myself,master`, `slave,fail`); `fail?` is only a suspicion.
  const lines = facts.nodes.split('\n').filter((line) => line.trim() !== '').map((line) => line.trim().split(' '));
  const has = (f: string[], flag: string) => f[2]!.split(',').includes(flag);
  const masters = lines.filter((f) => has(f, 'master') && !has(f, 'fail'));
  const orphans = masters.filter((master) => !lines.some((f) => has(f, 'slave') && !has(f, 'fail') && f[3] === master[0] && f[7] === 'connected'));
  const address = (f: string[]) => f[1]!.split('@')[0]!;
  if (masters.length > 0 && orphans.length === 0) {
    checks.push({ id: 'cluster-replicas', status: 'PASS', value: `${masters.length} masters, each with a replica`, message: 'every master can fail over', fix: '' });
  } else {
    checks.push({
      id: 'cluster-replicas',
      status: 'FAIL',
      value: `${orphans.length} of ${masters.length} masters without a replica: ${orphans.map(address).join(', ')}`,
      message: 'a master without a replica loses its slots (and their jobs) when it fails',
      fix: 'add a replica to each of these masters (redis-cli --cluster add-node --cluster-slave)',
    });
  }
  return checks;
}

/**
 * Runs {@link checkRedisServer} and throws {@link RedisNotReadyError} listing every FAIL; meant for
 * a service's start-up. Returns the report (with any WARNs) when nothing FAILed.
 */
export async function assertRedisReady(redis: DoctorClient, options: RedisCheckOptions = {}): Promise<RedisCheckReport> {
  const report = await checkRedisServer(redis, options);
  if (!report.ok) throw new RedisNotReadyError(report);
  return report;
}
