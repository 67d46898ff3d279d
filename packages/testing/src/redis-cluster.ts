import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { findFreeClusterPort, startRedisServer, type RedisServer } from './redis-server';

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Masters (each gets `replicasPerMaster` replicas). @defaultValue `3` */
  masters?: number;
  /** Replicas per master. @defaultValue `1` */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a master may be silent before its replica takes over (long enough that a busy 2-core machine causes no failover by itself). @defaultValue `5000` */
  nodeTimeoutMs?: number;
  /** Extra `redis-server` arguments for every node, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** How long to wait for `cluster_state:ok` (and for every replica to be attached). @defaultValue `30000` */
  startTimeoutMs?: number;
}

/** One node of a {@link RedisCluster}. */
export interface RedisClusterNode {
  readonly port: number;
  readonly server: RedisServer;
}

/** A local Redis Cluster started by {@link startRedisCluster}. */
export interface RedisCluster {
  /** Every node, masters first (in the order `redis-cli --cluster create` was given them). */
  readonly nodes: readonly RedisClusterNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,…`: the value of `REDIS_CLUSTER_NODES`. */
  readonly nodesEnv: string;
  /** The ports of the current masters (asked from the cluster, so it follows a failover). */
  masterPorts(): Promise<number[]>;
  /** Waits until every node that is running reports `cluster_state:ok`. */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  /** Stops every node by PID and removes their directories. */
  stop(): Promise<void>;
}

/**
 * The ports of the masters that serve slots, from a `CLUSTER NODES` reply, sorted. Each line is
 * `<id> <ip:port@cport[,hostname]> <flags> <master-id> <ping> <pong> <epoch> <link> [<slot>...]`;
 * flags are a comma list (`myself,master`, `master,fail`, `slave`). A master flagged `fail` (its
 * failover is decided) is left out; one only suspected (`fail?`) still serves its slots.
 */
export function servingMasterPorts(clusterNodes: string): number[] {
  return clusterNodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => {
      const flags = (fields[2] ?? '').split(',');
      return flags.includes('master') && !flags.includes('fail') && !flags.includes('noaddr') && fields.length > 8;
    })
    .map((fields) => Number(fields[1]!.split(',')[0]!.split('@')[0]!.split(':').pop()))
    .sort((a, b) => a - b);
}

function runRedisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`redis-cli ${args.join(' ')} exited with ${code}: ${output.trim()}`));
    });
  });
}

async function nodeCommand(port: number, ...args: string[]): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.call(args[0]!, ...args.slice(1)));
  } finally {
    client.disconnect();
  }
}

/**
 * One `redis-server --cluster-enabled yes` on a port whose bus port is free too, in its own
 * directory under `root`. Another process may still take a port between the check and the
 * server's start: then the start is tried again on other ports (3 tries).
 */
async function startClusterNode(root: string, options: StartRedisClusterOptions): Promise<RedisClusterNode> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await findFreeClusterPort();
    const dir = join(root, String(port));
    mkdirSync(dir);
    try {
      const server = await startRedisServer({
        port,
        dir,
        args: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, 'nodes.conf'),
          '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5000),
          // A replica that lost its master for a while still takes over (tests kill masters on purpose).
          '--cluster-replica-validity-factor', '0',
          ...(options.args ?? []),
        ],
      });
      return { port, server };
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt === 3) throw error;
    }
  }
}

/**
 * Starts a Redis Cluster on 127.0.0.1: `masters × (1 + replicasPerMaster)` `redis-server
 * --cluster-enabled yes` processes on free ports, joined by `redis-cli --cluster create
 * --cluster-replicas N --cluster-yes`; resolves once every node reports `cluster_state:ok` and every
 * master has its replicas. Each process is started directly, so `stop()` stops it by PID.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const total = masters * (1 + replicas);
  const root = mkdtempSync(join(tmpdir(), 'platform-cluster-'));
  const nodes: RedisClusterNode[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.server.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < total; i += 1) {
      nodes.push(await startClusterNode(root, options));
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await runRedisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], 60_000);
    const cluster: RedisCluster = {
      nodes,
      nodesEnv: addresses.join(','),
      async masterPorts() {
        for (const node of nodes) {
          let text: string;
          try {
            text = await nodeCommand(node.port, 'CLUSTER', 'NODES');
          } catch {
            continue; // this node is down: ask the next one
          }
          return servingMasterPorts(text);
        }
        throw new Error('no cluster node answered CLUSTER NODES');
      },
      async waitUntilOk(timeoutMs = options.startTimeoutMs ?? 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const states = await Promise.all(
            nodes.map(async (node) => {
              try {
                const info = await nodeCommand(node.port, 'CLUSTER', 'INFO');
                return /cluster_state:ok/.test(info) ? 'ok' : 'not-ok';
              } catch {
                return 'down';
              }
            }),
          );
          if (states.every((state) => state !== 'not-ok') && states.includes('ok')) return;
          if (Date.now() > deadline) throw new Error(`cluster not ok within ${timeoutMs} ms: ${states.join(',')}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      stop: stopAll,
    };
    await cluster.waitUntilOk();
    // `cluster_state:ok` can come before every replica has finished its first sync.
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      const roles = await Promise.all(nodes.map((node) => nodeCommand(node.port, 'INFO', 'replication')));
      const synced = roles.filter((info) => /role:slave/.test(info) && /master_link_status:up/.test(info)).length;
      if (synced === masters * replicas) break;
      if (Date.now() > deadline) throw new Error(`only ${synced} of ${masters * replicas} replicas in sync`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
