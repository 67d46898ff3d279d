import { startRedisServer, type RedisServer } from '@platform/testing';
import { Redis } from 'ioredis';
import {
  assertRedisReady,
  checkRedisServer,
  defaultRedisCheckOptions,
  evaluateClusterFacts,
  evaluateRedisFacts,
  RedisNotReadyError,
  type RedisFacts,
} from './doctor';
import { PlatformError } from './errors';

/** Facts of a well set-up server; each test changes one thing. */
function goodFacts(overrides: { info?: Record<string, string>; config?: Partial<RedisFacts['config']>; rttMs?: number[] } = {}): RedisFacts {
  return {
    info: {
      redis_version: '7.2.4',
      redis_mode: 'standalone',
      role: 'master',
      used_memory: String(100 * 1024 * 1024),
      maxmemory: String(1024 * 1024 * 1024),
      maxmemory_policy: 'noeviction',
      aof_enabled: '1',
      evicted_keys: '0',
      rejected_connections: '0',
      ...overrides.info,
    },
    config: { maxmemoryPolicy: 'noeviction', save: '3600 1', tcpKeepalive: '300', appendonly: 'yes', ...overrides.config },
    rttMs: overrides.rttMs ?? [0.1, 0.1, 0.2, 0.1],
  };
}

function statusOf(facts: RedisFacts, id: string, options = {}) {
  const check = evaluateRedisFacts(facts, options).checks.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id}`);
  return check;
}

describe('evaluateRedisFacts (the rules)', () => {
  it('passes every check for a well set-up server', () => {
    const report = evaluateRedisFacts(goodFacts());
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['version', 'PASS'],
      ['mode', 'PASS'],
      ['maxmemory-policy', 'PASS'],
      ['persistence', 'PASS'],
      ['tcp-keepalive', 'PASS'],
      ['rtt', 'PASS'],
      ['memory', 'PASS'],
      ['evicted-keys', 'PASS'],
      ['rejected-connections', 'PASS'],
    ]);
    expect(report.checks.every((c) => c.fix === '')).toBe(true);
  });

  it('grades the version as BullMQ 6 does: < 5.0 FAIL (it refuses to connect), 5.0-6.1 WARN, >= 6.2 PASS', () => {
    expect(statusOf(goodFacts({ info: { redis_version: '4.0.14' } }), 'version').status).toBe('FAIL');
    expect(statusOf(goodFacts({ info: { redis_version: '4.0.14' } }), 'version').message).toMatch(/older than 5\.0\.0/);
    expect(statusOf(goodFacts({ info: { redis_version: '5.0.14' } }), 'version').status).toBe('WARN');
    expect(statusOf(goodFacts({ info: { redis_version: '6.0.20' } }), 'version').status).toBe('WARN');
    expect(statusOf(goodFacts({ info: { redis_version: '6.2.0' } }), 'version').status).toBe('PASS');
  });

  it('fails a cluster unless the caller declares hash-tagged prefixes, and a replica', () => {
    expect(statusOf(goodFacts({ info: { redis_mode: 'cluster' } }), 'mode').status).toBe('FAIL');
    expect(statusOf(goodFacts({ info: { redis_mode: 'cluster' } }), 'mode', { clusterHashTags: true }).status).toBe('PASS');
    expect(statusOf(goodFacts({ info: { role: 'slave' } }), 'mode').status).toBe('FAIL');
  });

  it('grades maxmemory-policy: volatile-* WARN, allkeys-* FAIL with the reason', () => {
    expect(statusOf(goodFacts({ config: { maxmemoryPolicy: 'volatile-lru' } }), 'maxmemory-policy').status).toBe('WARN');
    const allkeys = statusOf(goodFacts({ config: { maxmemoryPolicy: 'allkeys-lfu' } }), 'maxmemory-policy');
    expect(allkeys.status).toBe('FAIL');
    expect(allkeys.message).toMatch(/evicted queue key is a lost job/);
    expect(allkeys.fix).toMatch(/noeviction/);
  });

  it('grades RTT by the median: > 1 ms WARN, > 5 ms FAIL', () => {
    expect(statusOf(goodFacts({ rttMs: [2, 2, 2] }), 'rtt').status).toBe('WARN');
    expect(statusOf(goodFacts({ rttMs: [6, 7, 8] }), 'rtt').status).toBe('FAIL');
    expect(statusOf(goodFacts({ rttMs: [6, 7, 8] }), 'rtt', { rttFailMs: 10 }).status).toBe('WARN');
  });

  it('grades memory, evicted keys and rejected connections against the default thresholds', () => {
    const max = 1000 * 1024;
    const mem = (used: number) => statusOf(goodFacts({ info: { used_memory: String(used), maxmemory: String(max) } }), 'memory').status;
    expect(mem(max * 0.89)).toBe('PASS');
    expect(mem(max * 0.9)).toBe('WARN');
    expect(mem(max * 0.98)).toBe('FAIL');
    expect(statusOf(goodFacts({ info: { maxmemory: '0' } }), 'memory').status).toBe('WARN');
    expect(statusOf(goodFacts({ info: { evicted_keys: '1' } }), 'evicted-keys').status).toBe('WARN');
    expect(statusOf(goodFacts({ info: { evicted_keys: '10' } }), 'evicted-keys').status).toBe('FAIL');
    expect(statusOf(goodFacts({ info: { evicted_keys: '10' } }), 'evicted-keys', { evictedKeysFail: 100 }).status).toBe('WARN');
    expect(statusOf(goodFacts({ info: { rejected_connections: '1' } }), 'rejected-connections').status).toBe('FAIL');
  });

  it('has the documented operating thresholds as defaults', () => {
    const d = defaultRedisCheckOptions;
    // RTT warn/fail ms, memory warn/fail %, evicted keys warn/fail, rejected connections fail.
    expect([d.rttWarnMs, d.rttFailMs, d.memoryWarnPercent, d.memoryFailPercent, d.evictedKeysWarn, d.evictedKeysFail, d.rejectedConnectionsFail]).toEqual([
      1, 5, 90, 98, 1, 10, 1,
    ]);
  });
});

describe('checkRedisServer against real servers', () => {
  let disabled: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    // A "managed" Redis: CONFIG is renamed away, and the policy is a bad one.
    disabled = await startRedisServer({ args: ['--rename-command', 'CONFIG', '', '--maxmemory-policy', 'allkeys-lru'] });
    client = new Redis(disabled.url);
  });

  afterAll(async () => {
    await client.quit();
    await disabled.stop();
  });

  it('degrades to WARN "cannot read: CONFIG disabled" and still reads the policy from INFO', async () => {
    const report = await checkRedisServer(client, { rttSamples: 5 });
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(byId['tcp-keepalive']).toMatchObject({ status: 'WARN', message: 'cannot read: CONFIG disabled' });
    expect(byId.persistence!.status).toBe('WARN');
    expect(byId.persistence!.message).toMatch(/cannot read: CONFIG disabled/);
    expect(byId['maxmemory-policy']).toMatchObject({ status: 'FAIL', value: 'allkeys-lru' });
    expect(report.ok).toBe(false);
  });

  it('assertRedisReady throws a typed error listing the FAILs', async () => {
    const error = await assertRedisReady(client, { rttSamples: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisNotReadyError);
    expect(error).toBeInstanceOf(PlatformError);
    const notReady = error as RedisNotReadyError;
    expect(notReady.checks.map((c) => c.id)).toEqual(['maxmemory-policy']);
    expect(notReady.message).toMatch(/maxmemory-policy/);
  });

  it('assertRedisReady resolves with the report on the test Redis when nothing fails', async () => {
    const good = await startRedisServer({ args: ['--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] });
    const goodClient = new Redis(good.url);
    try {
      // RTT on a shared machine is not asserted: only its FAIL threshold is lifted.
      const report = await assertRedisReady(goodClient, { rttSamples: 3, rttFailMs: 10_000 });
      expect(report.ok).toBe(true);
    } finally {
      await goodClient.quit();
      await good.stop();
    }
  });

  it('counts real evictions and rejected connections against the thresholds', async () => {
    const server = await startRedisServer({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru', '--maxclients', '2'] });
    const a = new Redis(server.url);
    const b = new Redis(server.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    b.on('error', () => undefined);
    try {
      for (let i = 0; i < 200; i++) await a.set(`big:${i}`, 'x'.repeat(32 * 1024));
      // Two clients are allowed; the third is refused by the server.
      const c = new Redis(server.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => undefined);
      await b.connect();
      await c.connect().then(() => c.ping()).catch(() => undefined);
      if (c.status !== 'end') c.disconnect();
      await b.quit();
      const report = await checkRedisServer(a, { rttSamples: 3 });
      const byId = Object.fromEntries(report.checks.map((check) => [check.id, check]));
      expect(byId['evicted-keys']!.status).toBe('FAIL');
      expect(Number(byId['evicted-keys']!.value)).toBeGreaterThanOrEqual(10);
      expect(byId['rejected-connections']).toMatchObject({ status: 'FAIL', value: '1' });
    } finally {
      await a.quit();
      await server.stop();
    }
  });
});

describe('evaluateClusterFacts', () => {
  const nodes = [
    'aaa 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
    'bbb 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922',
    'ccc 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383',
    'ddd 127.0.0.1:7003@17003 slave aaa 0 0 1 connected',
    'eee 127.0.0.1:7004@17004 slave bbb 0 0 2 connected',
    'fff 127.0.0.1:7005@17005 slave ccc 0 0 3 connected',
  ];
  const statusOfCluster = (info: Record<string, string>, lines: string[]) =>
    Object.fromEntries(evaluateClusterFacts({ info, nodes: lines.join('\n') }).map((c) => [c.id, c.status]));

  it('passes a cluster serving every slot with a replica per master', () => {
    expect(statusOfCluster({ cluster_state: 'ok', cluster_slots_ok: '16384' }, nodes)).toEqual({ 'cluster-slots': 'PASS', 'cluster-replicas': 'PASS' });
  });

  it('fails missing slots, and a master whose replica failed or is missing', () => {
    expect(statusOfCluster({ cluster_state: 'fail', cluster_slots_ok: '10923' }, nodes)['cluster-slots']).toBe('FAIL');
    const failedReplica = nodes.map((line) => (line.startsWith('fff') ? 'fff 127.0.0.1:7005@17005 slave,fail ccc 0 0 3 disconnected' : line));
    const report = evaluateClusterFacts({ info: { cluster_state: 'ok', cluster_slots_ok: '16384' }, nodes: failedReplica.join('\n') });
    expect(report.find((c) => c.id === 'cluster-replicas')).toMatchObject({ status: 'FAIL', value: expect.stringContaining('127.0.0.1:7002') });
    expect(statusOfCluster({ cluster_state: 'ok', cluster_slots_ok: '16384' }, nodes.slice(0, 5))['cluster-replicas']).toBe('FAIL');
  });
});
