// Throwaway profiling driver (not part of the bench): node --cpu-prof bench/dist/profile-enqueue.js <mode>
import { agentQueue, createWorker } from '@platform/queue';
import { startRedisServer } from '@platform/testing';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

async function main() {
  const mode = process.argv[2] ?? 'platform';
  if (process.env.TRACE) {
    const { context } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } = await import('@opentelemetry/sdk-trace-base');
    const { configureTelemetry } = await import('@platform/telemetry');
    const exporter = new InMemorySpanExporter();
    const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 200 });
    const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
    if (process.env.TRACE !== 'noals') context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    if (process.env.TRACE !== 'alsonly') configureTelemetry({ tracerProvider: provider });
    setInterval(() => exporter.reset(), 500).unref();
  }
  const n = Number(process.argv[3] ?? 5000);
  const server = await startRedisServer();
  const config = loadRedisConfig({ REDIS_URL: server.url });
  const producer = createRedisConnection(config, { role: 'producer' });
  const p = (i: number) => ({ tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} });
  const def = agentQueue('prof', { connection: producer, prefix: 'pp', onError: () => undefined, ...(process.env.NOSTATS ? { recordStats: false } : {}), ...(process.env.NOLIMITS ? { timeouts: undefined } : {}) });
  const rawConn = process.env.RAWPROD ? createRedisConnection(config, { role: 'producer' }) : new Redis(server.url);
  const raw = new Queue(def.name, { connection: rawConn, prefix: 'pr', defaultJobOptions: def.settings.defaultJobOptions });
  for (let i = 0; i < 300; i++) await def.enqueue(p(i));
  for (let i = 0; i < 300; i++) await raw.add('x', p(i));
  const admin = new Redis(server.url);
  await admin.config('RESETSTAT');
  const t = Date.now();
  const cpu = process.cpuUsage();
  if (mode === 'platform') for (let i = 0; i < n; i++) await def.enqueue(p(i));
  if (mode === 'raw') for (let i = 0; i < n; i++) await raw.add('x', p(i));
  if (mode === 'e2e' || mode === 'e2eraw') {
    for (let s = 0; s < n; s += 1000) {
      if (mode === 'e2e') await def.enqueueBulk(Array.from({ length: 1000 }, (_, k) => p(s + k)));
      else await raw.addBulk(Array.from({ length: 1000 }, (_, k) => ({ name: 'x', data: p(s + k) })));
    }
    const wc = createRedisConnection(config, { role: 'worker' });
    let done = 0;
    let fin!: () => void;
    const all = new Promise<void>((r) => (fin = r));
    const w = mode === 'e2e'
      ? createWorker(def, async () => { if (++done === n + 300) fin(); }, { connection: wc, concurrency: 50, handleSignals: false })
      : new Worker(raw.name, async () => { if (++done === n + 300) fin(); }, { connection: wc, prefix: 'pr', concurrency: 50 });
    await all;
    await w.close();
    wc.disconnect();
  }
  const used = process.cpuUsage(cpu);
  const stats = (await admin.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_')).map((l) => { const m = /cmdstat_([^:]+):calls=(\d+)/.exec(l); return m === null ? '' : `${m[1]}=${(Number(m[2]) / n).toFixed(2)}`; });
  console.log(stats.join(' '));
  admin.disconnect();
  console.log(mode, `${((n * 1000) / (Date.now() - t)).toFixed(0)} ops/s`, `${((used.user + used.system) / n).toFixed(1)} µs CPU/op`);
  await def.close();
  await raw.close();
  producer.disconnect();
  await server.stop();
  process.exit(0);
}
void main();
