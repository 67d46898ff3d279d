import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { agentQueue, createWorker } from '@platform/queue';
import { closeConnection, type RedisClient } from '@platform/redis';
import { Queue, Worker } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import { configureTelemetry } from '@platform/telemetry';
import type { BenchContext } from './context';
import { runToCompletion, throughput, timed, type RunFigures } from './measure';
import { alternate } from './results';

type AgentQueue = ReturnType<typeof agentQueue>;

function payload(i: number) {
  return { tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} as Record<string, unknown> };
}

/**
 * `on`: an SDK provider with an AsyncLocalStorage context manager, its spans exported in batches to
 * the in-memory exporter, which the bench reads and clears after each exported batch (as a test
 * reads it, and as a network exporter lets go of what it sent); `on-keep`: the same, but the
 * exporter keeps every span of the round (the exporter's default, what rounds 1-5 measured; not
 * slower at the bench's sizes, round 6); `on-noals`: the `on` provider with
 * no context manager (`context.with` is a no-op: what the spans cost without AsyncLocalStorage);
 * `off`: none configured; `disabled`: `tracerProvider: false`; `global`: the `on` provider, context
 * manager and the W3C propagator registered globally, as `NodeSDK.start()` does (what a plain BullMQ
 * queue or worker with `bullmq-otel` traces through; the platform would use it too).
 */
export type TracingMode = 'on' | 'on-keep' | 'on-noals' | 'off' | 'disabled' | 'global';
type Mode = TracingMode;

/**
 * The in-memory exporter that counts what it was given and, unless told to keep them, lets go of
 * each batch once it is stored: the spans are made, ended, batched and handed to an exporter as in
 * a service, and the count proves each round traced what it should.
 */
class CountingMemoryExporter extends InMemorySpanExporter {
  exported = 0;
  keep = false;
  override export(spans: ReadableSpan[], done: Parameters<InMemorySpanExporter['export']>[1]): void {
    this.exported += spans.length;
    super.export(spans, done);
    if (!this.keep) this.reset();
  }
}

/**
 * The tracing set-ups of this section and of the pairwise runner: `use(mode)` flushes and resets
 * the in-memory exporter, then switches; `exported()` flushes and says how many spans were exported
 * since the last `use`; `shutdown()` stops the provider.
 */
export function tracingModes(): { use(mode: TracingMode): Promise<void>; exported(): Promise<number>; shutdown(): Promise<void> } {
  const exporter = new CountingMemoryExporter();
  // Batched export, as a service runs it (a SimpleSpanProcessor exports on every span's end).
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 200 });
  const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
  const manager = new AsyncLocalStorageContextManager();
  return {
    async use(mode) {
      await processor.forceFlush();
      exporter.reset();
      exporter.exported = 0;
      exporter.keep = mode === 'on-keep';
      trace.disable();
      propagation.disable();
      if (mode === 'global') {
        context.setGlobalContextManager(manager.enable());
        trace.setGlobalTracerProvider(provider);
        propagation.setGlobalPropagator(new W3CTraceContextPropagator());
        configureTelemetry({});
      } else if (mode === 'on' || mode === 'on-keep') {
        context.setGlobalContextManager(manager.enable());
        configureTelemetry({ tracerProvider: provider });
      } else if (mode === 'on-noals') {
        context.disable();
        manager.disable();
        configureTelemetry({ tracerProvider: provider });
      } else {
        context.disable();
        configureTelemetry(mode === 'disabled' ? { tracerProvider: false } : {});
      }
    },
    async exported() {
      await processor.forceFlush();
      return exporter.exported;
    },
    shutdown: () => provider.shutdown(),
  };
}

/** Throws unless a traced round exported at least `expected` spans (a bench that traced nothing would look free). */
export async function checkSpans(mode: TracingMode, exported: () => Promise<number>, expected: number): Promise<void> {
  if (mode === 'off' || mode === 'disabled') return;
  const count = await exported();
  if (count < expected) throw new Error(`tracing mode ${mode}: ${count} spans exported, expected at least ${expected}`);
}

/** What one traced or untraced run enqueues into and drains: the platform's queue or plain BullMQ's. */
export interface TracedSide {
  /** The tracing mode the run is in (what {@link checkSpans} expects of it). */
  readonly mode: TracingMode;
  add(i: number): Promise<unknown>;
  /** Enqueues jobs `start .. start + count - 1` in one bulk. */
  addBulk(start: number, count: number): Promise<unknown>;
  /** A worker of the run (not started; concurrency 50, no-op handler) on a connection of its own. */
  worker(): { worker: Worker; connection: RedisClient };
  /** Deletes the run's keys (and closes what the run opened). */
  close(): Promise<void>;
}

/**
 * The platform's side of a run: `queue` (FIFO, as raw BullMQ) in `mode`, switched by `use`;
 * `close` deletes the keys under `prefix`.
 */
export function platformSide(ctx: BenchContext, queue: AgentQueue, prefix: string, use: (mode: TracingMode) => Promise<void>): (mode: TracingMode) => Promise<TracedSide> {
  return async (mode) => {
    await use(mode);
    return {
      mode,
      add: (i) => queue.enqueue(payload(i)),
      addBulk: (start, count) => queue.enqueueBulk(Array.from({ length: count }, (_, k) => payload(start + k))),
      worker() {
        const connection = ctx.platformClient('worker');
        return { worker: createWorker(queue, async () => undefined, { connection, concurrency: 50, autorun: false, handleSignals: false, onError: () => undefined }), connection };
      },
      async close() {
        await ctx.deleteKeys(`${prefix}:`);
      },
    };
  };
}

/**
 * Plain BullMQ as a user traces it today: a queue and workers with `telemetry: new BullMQOtel()`
 * and the SDK registered globally (mode `global`: the same provider, exporter and context manager
 * as the platform's `on`), or without telemetry and with nothing registered (`off`). The baseline
 * the platform's tracing is compared with in the same run. `open(traced)` switches the mode first.
 */
export function plainBullmq(ctx: BenchContext, use: (mode: TracingMode) => Promise<void>): { open(traced: boolean): Promise<TracedSide>; close(): Promise<void> } {
  const name = `${ctx.runId}-trace-bullmq`;
  const prefix = `${ctx.runId}-trace-bullmq-p`;
  const connection = ctx.plainClient({ maxRetriesPerRequest: null });
  return {
    async open(traced) {
      const mode: TracingMode = traced ? 'global' : 'off';
      await use(mode);
      // Made after the SDK is registered: bullmq-otel takes its tracer from the global API when constructed.
      const telemetry = traced ? { telemetry: new BullMQOtel({ tracerName: 'bench' }) } : {};
      const queue = new Queue(name, { connection, prefix, ...telemetry });
      return {
        mode,
        add: (i) => queue.add('agent', payload(i)),
        addBulk: (start, count) => queue.addBulk(Array.from({ length: count }, (_, k) => ({ name: 'agent', data: payload(start + k) }))),
        worker() {
          const workerConnection = ctx.plainClient({ maxRetriesPerRequest: null });
          const worker = new Worker(name, async () => undefined, { connection: workerConnection, prefix, concurrency: 50, autorun: false, ...telemetry });
          worker.on('error', () => undefined);
          return { worker, connection: workerConnection };
        },
        async close() {
          await queue.close();
          await ctx.deleteKeys(`${prefix}:`);
        },
      };
    },
    close: () => closeConnection(connection),
  };
}

/**
 * One measured run on `side`, then its spans checked: `enqueue1`, `n` jobs enqueued one at a time;
 * `e2e`, `n` jobs enqueued in bulks of 1,000 (not timed), then drained by one worker (timed, the
 * worker and its connection closed after). The side stays open.
 */
export async function measureTraced(side: TracedSide, kind: 'enqueue1' | 'e2e', n: number, exported: () => Promise<number>): Promise<RunFigures> {
  let figures: RunFigures;
  if (kind === 'enqueue1') {
    figures = await timed(n, async () => {
      for (let i = 0; i < n; i++) await side.add(i);
    });
  } else {
    for (let start = 0; start < n; start += 1000) await side.addBulk(start, Math.min(1000, n - start));
    const { worker, connection } = side.worker();
    figures = await runToCompletion(worker, connection, n);
  }
  await checkSpans(side.mode, exported, n);
  return figures;
}

/**
 * Section: the cost of tracing. The same queue, alternating within every round:
 * - `on`: an SDK tracer provider, sampling 100 %, spans exported in batches to the in-memory
 *   exporter, an AsyncLocalStorage context manager (what `NodeTracerProvider.register()` installs);
 * - `off`: nothing configured and no global provider, the default of a service without OpenTelemetry;
 * - `disabled`: `configureTelemetry({ tracerProvider: false })`, the hard switch that returns before
 *   any lookup: the closest to having no telemetry code at all, the baseline of "off costs nothing".
 */
export async function runTracingBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log } = ctx;
  const section = '8. Tracing';
  const { use, exported, shutdown } = tracingModes();

  const role = `${ctx.runId}-trace`;
  const prefix = `${ctx.runId}-trace-p`;
  // FIFO (`fairness: 'none'`), as the queue section's platform side: tracing on/off of the plain path.
  const queue = agentQueue(role, { connection: ctx.platformClient('producer'), prefix, fairness: 'none', onError: () => undefined });
  const cleanup = () => ctx.deleteKeys(`${prefix}:`);
  const nOne = ctx.size(3000, 100);
  const nE2e = ctx.size(10_000, 300);
  const unit = 'jobs/s';
  // `on-keep` only in the pairwise runner (trace-keep-*): keeping the spans was not slower (round 6).
  // `global` only there too (trace-bullmq-*, trace-vsraw-*: plain BullMQ with bullmq-otel).
  type SectionMode = Exclude<Mode, 'on-keep' | 'global'>;
  const subjects: Record<SectionMode, string> = {
    on: 'tracing on (in-memory exporter, 100 %)',
    'on-noals': 'tracing on, no context manager (spans without AsyncLocalStorage)',
    off: 'tracing off (no provider)',
    disabled: 'tracerProvider: false',
  };
  const modes = Object.keys(subjects) as SectionMode[];
  // The baseline: plain BullMQ, traced by bullmq-otel on the same SDK set-up (registered globally) and untraced.
  const baselines = { 'bullmq-otel': 'plain BullMQ with bullmq-otel (same SDK set-up, registered globally)', bullmq: 'plain BullMQ, untraced' } as const;
  type Baseline = keyof typeof baselines;
  const bullmq = plainBullmq(ctx, use);
  for (const [id, benchmark] of [['enqueue1', 'enqueue, one at a time'], ['e2e', `end-to-end ${nE2e} no-op jobs, concurrency 50`]] as const) {
    for (const mode of modes) results.figure({ id: `trace.${id}.${mode}`, section, benchmark, subject: subjects[mode], unit, better: 'higher' });
    for (const [name, subject] of Object.entries(baselines)) results.figure({ id: `trace.${id}.${name}`, section, benchmark, subject, unit, better: 'higher' });
    results.compare({ label: `${benchmark}: tracing on / off`, platform: `trace.${id}.on`, anchor: `trace.${id}.off`, op: '>=', target: 0.9 });
    results.compare({ label: `${benchmark}: tracing on / on without a context manager (AsyncLocalStorage share)`, platform: `trace.${id}.on`, anchor: `trace.${id}.on-noals` });
    results.compare({ label: `${benchmark}: on without a context manager / off (spans' share)`, platform: `trace.${id}.on-noals`, anchor: `trace.${id}.off` });
    results.compare({ label: `${benchmark}: off / tracerProvider false`, platform: `trace.${id}.off`, anchor: `trace.${id}.disabled`, op: '>=', target: 0.99 });
    results.compare({ label: `${benchmark}: plain BullMQ, bullmq-otel on / off (what tracing costs a BullMQ user today)`, platform: `trace.${id}.bullmq-otel`, anchor: `trace.${id}.bullmq` });
    results.compare({ label: `${benchmark}: traced, the platform / plain BullMQ with bullmq-otel`, platform: `trace.${id}.on`, anchor: `trace.${id}.bullmq-otel` });
  }

  const platform = platformSide(ctx, queue, prefix, use);
  // One contender: a side opened, measured, closed; its figure under `trace.<id>.<name>`.
  const contender = (id: 'enqueue1' | 'e2e', name: string, open: () => Promise<TracedSide>) => ({
    name,
    run: async () => {
      const side = await open();
      results.add(`trace.${id}.${name}`, (await measureTraced(side, id, id === 'e2e' ? nE2e : nOne, exported)).jobsPerSecond);
      await side.close();
    },
  });
  const contenders = (id: 'enqueue1' | 'e2e') => [
    ...modes.map((mode) => contender(id, mode, () => platform(mode))),
    ...(Object.keys(baselines) as Baseline[]).map((name) => contender(id, name, () => bullmq.open(name === 'bullmq-otel'))),
  ];

  try {
    await use('off');
    await throughput(200, 20, (i) => queue.enqueue(payload(i)));
    await cleanup();
    log('  enqueue, one at a time');
    await alternate(ctx.rounds, contenders('enqueue1'), log);
    log('  end-to-end');
    await alternate(ctx.rounds, contenders('e2e'), log);
  } finally {
    await use('off');
    await queue.close();
    await bullmq.close();
    await cleanup();
    await shutdown();
  }
  results.notes.push(
    `Tracing: agentQueue({ fairness: 'none' }) as in section 1; "on" records an enqueue span per enqueue call (one per job one at a time; one per bulk of 1,000 before the end-to-end runs) and a process span per attempt, ` +
      `BatchSpanProcessor into the in-memory exporter, which the bench reads and clears after each exported batch (each round checks the count), AlwaysOn sampler, AsyncLocalStorage context manager, the W3C context in the job; ` +
      `"off" is the default without a provider; "tracerProvider: false" is the hard switch. ` +
      `The baseline is plain BullMQ with bullmq-otel as its telemetry (a span per add or bulk; per job a process and a complete span), the same provider, exporter and context manager registered globally with the W3C propagator, against plain BullMQ untraced. ` +
      `Sizes: ${nOne} sequential, ${nE2e} end-to-end per round.`,
  );
}
