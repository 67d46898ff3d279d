// Scenario 5: redis-server with --tls-port only, certificates made with openssl in the test.
// `rediss://` + REDIS_TLS_CA_FILE connects and runs jobs (worker in its own process); a server whose
// certificate comes from another CA is refused: connection error, typed enqueue error, no job runs.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import {
  QueueUnavailableError,
  createRedisConnection,
  createWorker,
  defineQueue,
  loadRedisConfig,
  type QueueDefinition,
} from '@platform/queue';
import { findFreePort } from '@platform/testing';
import type { Worker } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import {
  FAULT_TEST_TIMEOUT_MS,
  FULL,
  closeAll,
  duplicateCompletions,
  effectIds,
  faultJobSchema,
  missing,
  size,
  sleep,
  startFixture,
  startRawRedis,
  tempDir,
  until,
  workerEnv,
  type Fixture,
  type RawRedis,
} from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const JOBS = size(1000, 100);
const PREFIX = 'tls';
const dir = tempDir('tls');
const servers: RawRedis[] = [];
const clients: RedisClient[] = [];
const workers = new Set<Fixture>();
const definitions: QueueDefinition[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a server certificate for localhost/127.0.0.1 signed by it. */
function makeCa(name: string): { ca: string; cert: string; key: string } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', '-new', ...ec, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-days', '2', '-subj', `/CN=${name} test CA`);
  openssl('req', '-new', ...ec, '-keyout', `${name}-server.key`, '-out', `${name}-server.csr`, '-subj', '/CN=localhost');
  writeFileSync(join(dir, `${name}-ext.cnf`), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    'x509', '-req', '-in', `${name}-server.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial',
    '-out', `${name}-server.pem`, '-days', '2', '-extfile', `${name}-ext.cnf`,
  );
  return { ca: join(dir, `${name}-ca.pem`), cert: join(dir, `${name}-server.pem`), key: join(dir, `${name}-server.key`) };
}

function tlsPing(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername: 'localhost' }, () => socket.write('PING\r\n'));
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** redis-server with TLS only; fails loudly (with the server's output) on a build without TLS. */
async function startTlsRedis(pki: { ca: string; cert: string; key: string }): Promise<RawRedis> {
  const port = await findFreePort();
  const args = [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '-::1',
    '--tls-cert-file', pki.cert, '--tls-key-file', pki.key, '--tls-ca-cert-file', pki.ca, '--tls-auth-clients', 'no',
    '--save', '', '--appendonly', 'no', '--dir', dir,
  ];
  try {
    const server = await startRawRedis(args, port, () => tlsPing(port, pki.ca));
    servers.push(server);
    return server;
  } catch (error) {
    throw new Error(`redis-server could not serve TLS (a build without TLS support fails here, on purpose): ${String(error)}`);
  }
}

afterAll(async () => {
  await closeAll({ fixtures: workers, definitions, clients, servers });
  printSummaryIfComplete();
});

test('rediss:// with REDIS_TLS_CA_FILE runs jobs; a certificate from another CA is refused', async () => {
  const started = Date.now();
  const trusted = makeCa('trusted');
  const rogue = makeCa('rogue');
  const server = await startTlsRedis(trusted);
  const rogueServer = await startTlsRedis(rogue);

  // 1. The trusted server: a worker process and a producer over TLS, verified against the CA.
  const tlsEnv = { REDIS_URL: `rediss://localhost:${server.port}`, REDIS_TLS_CA_FILE: trusted.ca };
  const config = loadRedisConfig(tlsEnv);
  expect(config.tls).toEqual({ servername: 'localhost', caFile: trusted.ca });
  const producer = createRedisConnection(config, { role: 'producer' });
  clients.push(producer);
  const definition = defineQueue({ namespace: 'faults', name: 'tls', schema: faultJobSchema, connection: producer, onError: () => {} });
  definitions.push(definition);
  workers.add(await startFixture('worker', workerEnv(tlsEnv, PREFIX, 'tls', { FAULT_CONCURRENCY: 5 })));
  const ids: string[] = [];
  for (let from = 0; from < JOBS; from += 100) {
    const batch = Array.from({ length: Math.min(100, JOBS - from) }, (_, i) => from + i);
    const jobs = await definition.enqueueBulk(batch.map((n) => ({ tenantId: `tenant-${n % 10}`, n })), batch.map((n) => ({ jobId: `job-${n}` })));
    ids.push(...jobs.map((j) => j.id!));
  }
  await until(async () => missing(ids, await effectIds(producer, PREFIX)).length === 0, 120_000, () => 'TLS jobs not processed');
  const done = await effectIds(producer, PREFIX);
  const duplicates = await duplicateCompletions(producer, PREFIX);

  // 2. The rogue server (certificate from another CA): jobs wait there, put in by a client that trusts
  // the rogue CA; clients that trust only our CA must refuse the server and run nothing.
  const rogueOwner = createRedisConnection(loadRedisConfig({ REDIS_URL: `rediss://localhost:${rogueServer.port}`, REDIS_TLS_CA_FILE: rogue.ca }), { role: 'producer' });
  clients.push(rogueOwner);
  const rogueDefinition = defineQueue({ namespace: 'faults', name: 'tls-rogue', schema: faultJobSchema, connection: rogueOwner, onError: () => {} });
  await rogueDefinition.enqueueBulk([{ tenantId: 'tenant-1', n: 1 }, { tenantId: 'tenant-2', n: 2 }]);
  // close() writes the job statistics still buffered, so what the count below sees afterwards is
  // only what the refused clients write.
  await rogueDefinition.close();
  const keysBefore = await rogueOwner.dbsize();

  const mismatchConfig = loadRedisConfig({ REDIS_URL: `rediss://localhost:${rogueServer.port}`, REDIS_TLS_CA_FILE: trusted.ca });
  const connectionErrors: Error[] = [];
  const badProducer = createRedisConnection(mismatchConfig, { role: 'producer', onError: (e) => connectionErrors.push(e) });
  const badWorkerConnection = createRedisConnection(mismatchConfig, { role: 'worker', onError: (e) => connectionErrors.push(e) });
  clients.push(badProducer, badWorkerConnection);
  const badDefinition = defineQueue({ namespace: 'faults', name: 'tls-rogue', schema: faultJobSchema, connection: badProducer, enqueueTimeoutMs: 3000, onError: () => {} });
  definitions.push(badDefinition);
  let enqueueError: unknown;
  try {
    await badDefinition.enqueue({ tenantId: 'tenant-3', n: 3 });
  } catch (error) {
    enqueueError = error;
  }
  let rogueRuns = 0;
  const badWorker: Worker = createWorker(rogueDefinition, async () => {
    rogueRuns += 1;
  }, { connection: badWorkerConnection, handleSignals: false, onError: (e) => connectionErrors.push(e) });
  await sleep(3000);
  await Promise.race([badWorker.close(true), sleep(5000)]);
  const rogueCounts = await rogueDefinition.queue.getJobCounts();
  const keysAfter = await rogueOwner.dbsize();
  const certificateErrors = connectionErrors.filter((e) => /certificate|self[- ]signed|verify/i.test(`${e.message} ${(e as { code?: string }).code ?? ''}`));

  recordScenario({
    scenario: 'tls',
    faults: 1,
    jobs: ids.length,
    lost: missing(ids, done).length,
    duplicates,
    extra: {
      'other-CA server: enqueue refused': enqueueError instanceof QueueUnavailableError ? 'QueueUnavailableError' : String(enqueueError),
      'certificate errors seen': certificateErrors.length,
      'jobs run from other-CA server': rogueRuns,
    },
    passed: missing(ids, done).length === 0 && duplicates === 0 && enqueueError instanceof QueueUnavailableError && rogueRuns === 0 && certificateErrors.length > 0,
    size: FULL ? 'full' : 'reduced',
    seconds: (Date.now() - started) / 1000,
  });
  expect(missing(ids, done)).toEqual([]);
  expect(duplicates).toBe(0);
  expect(enqueueError).toBeInstanceOf(QueueUnavailableError);
  expect(certificateErrors.length).toBeGreaterThan(0);
  expect(rogueRuns).toBe(0);
  expect(rogueCounts.waiting).toBe(2);
  expect(keysAfter).toBe(keysBefore);
});
