import { SpanKind, context, trace, type Attributes } from '@opentelemetry/api';
import { fromJobMetadata, inSpan, logLine, platformTracer, spanAttributes as A, spanEvent, toJobMetadata, type InSpanOptions, type Logger } from '@platform/telemetry';
import type { Job } from 'bullmq';
import type { JobTimeoutError } from './errors';
import type { JobEntry } from './producer/producer';

/** `opts.telemetry` of a BullMQ job: `metadata` is the W3C context of the span that enqueued it. */
interface JobTelemetry {
  metadata?: string;
  omitContext?: boolean;
}

// The attempt span's attribute names, read once (each read of an export of another package's
// CommonJS build goes through a getter).
const { system: SYSTEM, operation: OPERATION, queue: QUEUE, jobName: JOB_NAME, attempt: ATTEMPT, jobId: JOB_ID, tenant: TENANT, outcome: OUTCOME } = A;

function tenantOf(data: unknown): string | undefined {
  const tenantId = (data as { tenantId?: unknown } | undefined)?.tenantId;
  return typeof tenantId === 'string' ? tenantId : undefined;
}

/**
 * Runs an enqueue in an `enqueue <queue>` producer span and stores the span's W3C context in each
 * job (`opts.telemetry.metadata`, kept when the caller set it or `omitContext`). Tracing off: `add()`.
 */
export function traceEnqueue<T, R extends Job | Job[]>(queue: string, entries: JobEntry<T>[], add: () => Promise<R>): Promise<R> {
  // Tracing off: the add itself, no async frame.
  if (!platformTracer()) return add();
  return tracedEnqueue(queue, entries, add);
}

function tracedEnqueue<T, R extends Job | Job[]>(queue: string, entries: JobEntry<T>[], add: () => Promise<R>): Promise<R> {
  const attributes: Attributes = { [A.system]: 'bullmq', [A.operation]: 'send', [A.queue]: queue };
  const tenant = tenantOf(entries[0]?.data);
  if (entries.every((entry) => tenantOf(entry.data) === tenant)) attributes[A.tenant] = tenant;
  if (entries.length > 1) attributes[A.batchSize] = entries.length;
  return inSpan(`enqueue ${queue}`, { kind: SpanKind.PRODUCER, attributes }, (span) => {
    const metadata = toJobMetadata(span!);
    for (const entry of entries) {
      const own = (entry.opts as { telemetry?: JobTelemetry } | undefined)?.telemetry;
      if (own?.metadata || own?.omitContext) continue;
      entry.opts = { ...entry.opts, telemetry: { ...own, metadata } } as typeof entry.opts;
    }
    return add().then((result) => {
      if (!Array.isArray(result) && result.id !== undefined) span!.setAttribute(A.jobId, result.id);
      return result;
    });
  });
}

/** What an attempt came to: `completed`, `deferred` (no attempt spent), `retry` or `failed` (for good). */
export function attemptOutcome(job: Job, error: unknown): 'deferred' | 'retry' | 'failed' {
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'DelayedError') return 'deferred';
  if (name === 'UnrecoverableError') return 'failed';
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'failed' : 'retry';
}

/**
 * Runs one attempt of a job in a `process <queue>` consumer span: a child of the span that
 * enqueued it (one span per attempt, all under that enqueue), or, for a job of a schedule, the
 * root of a new trace linked to the span that set the schedule up. Tracing off: `run()`.
 */
export function traceAttempt<R>(queue: string, job: Job, run: () => Promise<R>): Promise<R> {
  if (!platformTracer()) return run();
  return tracedAttempt(queue, job, run);
}

function tracedAttempt<R>(queue: string, job: Job, run: () => Promise<R>): Promise<R> {
  const stored = fromJobMetadata((job.opts as { telemetry?: JobTelemetry }).telemetry?.metadata);
  const attributes: Attributes = {
    [SYSTEM]: 'bullmq',
    [OPERATION]: 'process',
    [QUEUE]: queue,
    [JOB_NAME]: job.name,
    [ATTEMPT]: job.attemptsMade + 1,
  };
  if (job.id !== undefined) attributes[JOB_ID] = job.id;
  const tenantId = tenantOf(job.data);
  if (tenantId !== undefined) attributes[TENANT] = tenantId;
  const options: InSpanOptions = {
    kind: SpanKind.CONSUMER,
    attributes,
    parent: 'root',
    isFailure: (error) => attemptOutcome(job, error) !== 'deferred',
    // Set as the attempt settles, in inSpan's own handlers: no promise of this function's own.
    onSettled: (span, rejected, error) => span.setAttribute(OUTCOME, rejected ? attemptOutcome(job, error) : 'completed'),
  };
  if (stored) {
    if (job.repeatJobKey === undefined) options.parent = stored;
    else options.links = [{ context: stored }];
  }
  return inSpan(`process ${queue}`, options, run);
}

/**
 * For a sandboxed run: while the child runs, the job's `opts.telemetry.metadata` (which the child
 * receives with the job) holds the context of the attempt's span instead of the enqueue's, so a
 * processor file that starts an SDK of its own continues the attempt's trace with
 * `fromJobMetadata(job.opts.telemetry.metadata)`. Only the job object in this process changes,
 * never the job in Redis. Returns what puts the enqueue's context back and, for the sandbox's kill
 * at the hard limit, a note on the attempt's span. Tracing off (or no span): nothing changes.
 */
export function lendAttemptContext(job: Job): { restore: () => void; noteKilled: (pid: number | undefined) => void } {
  const span = trace.getSpan(context.active());
  if (!platformTracer() || !span?.isRecording()) return { restore: () => undefined, noteKilled: () => undefined };
  const opts = job.opts as { telemetry?: JobTelemetry };
  const before = opts.telemetry;
  opts.telemetry = { ...before, metadata: toJobMetadata(span) };
  return {
    restore: () => {
      if (before === undefined) delete opts.telemetry;
      else opts.telemetry = before;
    },
    noteKilled: (pid) => span.addEvent('job.sandbox_killed', pid === undefined ? {} : { 'sandbox.child.pid': pid }),
  };
}

/** Notes a deferral (rate limit, busy tenant, busy lock, full pool, open circuit…) on the attempt's span. */
export function recordDeferral(reason: string | undefined, retryAfterMs: number): void {
  spanEvent('job.deferred', { 'deferral.reason': reason ?? 'deferred', 'deferral.retry_after_ms': retryAfterMs });
}

/**
 * What a job's time limits report when reached (`runWithTimeouts`' `onLimit`): a `job.time_limit`
 * event on the attempt's span (the active one now), and a `warn` line at the hard limit (the job
 * fails with `JobTimeoutError`).
 */
export function timeLimitReporter(logger: Logger, fields: { queue: string; jobId: string | undefined; tenantId: string }): (reason: JobTimeoutError) => void {
  const span = platformTracer() ? trace.getSpan(context.active()) : undefined;
  return (reason) => {
    span?.addEvent('job.time_limit', { 'time_limit.kind': reason.limit, 'time_limit.ms': reason.limitMs });
    if (reason.limit !== 'hard') return;
    const write = () => logLine(logger, 'warn', { ...fields, limitMs: reason.limitMs }, 'job reached its hard time limit');
    if (span) context.with(trace.setSpan(context.active(), span), write);
    else write();
  };
}

/**
 * Runs a schedule's upsert in a `schedule <queue>` span and hands `upsert` the job options that
 * store the span's context in the schedule's job template: each run then starts its own trace,
 * linked to this span (see {@link traceAttempt}). Tracing off: `upsert(undefined)`.
 */
export async function traceSchedule<R>(queue: string, tenantId: string, scheduleId: string, upsert: (opts: { telemetry: JobTelemetry } | undefined) => Promise<R>): Promise<R> {
  if (!platformTracer()) return upsert(undefined);
  const attributes: Attributes = { [A.queue]: queue, [A.tenant]: tenantId, 'schedule.id': scheduleId };
  return inSpan(`schedule ${queue}`, { kind: SpanKind.PRODUCER, attributes }, (span) => upsert({ telemetry: { metadata: toJobMetadata(span!) } }));
}
