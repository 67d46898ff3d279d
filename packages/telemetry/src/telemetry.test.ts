import { Writable } from 'node:stream';
import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { errorFields, throttledErrorLog, type Logger } from './logger';
import { configureTelemetry, fromJobMetadata, inSpan, parseTraceHeaders, platformTracer, toJobMetadata, traceHeaders } from './tracing';

function jsonSink(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(stream), lines };
}

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const manager = new AsyncLocalStorageContextManager().enable();

beforeAll(() => context.setGlobalContextManager(manager));
afterAll(() => {
  configureTelemetry();
  context.disable();
});
afterEach(() => exporter.reset());

describe('the switch', () => {
  it('is off without a provider: no tracer, inSpan runs fn without a span', async () => {
    configureTelemetry();
    expect(platformTracer()).toBeUndefined();
    await expect(inSpan('x', {}, async (span) => span)).resolves.toBeUndefined();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('is off with tracerProvider: false even when a global provider is registered', async () => {
    trace.setGlobalTracerProvider(provider);
    try {
      configureTelemetry();
      expect(platformTracer()).toBeDefined();
      configureTelemetry({ tracerProvider: false });
      expect(platformTracer()).toBeUndefined();
    } finally {
      trace.disable();
    }
  });

  it('nests spans under the active one and records a rejection as an error', async () => {
    configureTelemetry({ tracerProvider: provider });
    await expect(
      inSpan('outer', {}, () => inSpan('inner', {}, async () => Promise.reject(new Error('boom')))),
    ).rejects.toThrow('boom');
    const [inner, outer] = exporter.getFinishedSpans();
    expect(inner!.name).toBe('inner');
    expect(inner!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    expect(inner!.status.code).toBe(2);
    expect(inner!.events[0]!.attributes).toEqual({ 'exception.type': 'Error', 'exception.message': 'boom' });
  });
});

describe('inSpan and a function that throws before returning a promise', () => {
  const throwsAtOnce = (): Promise<never> => {
    throw new Error('at once');
  };

  it.each(['off', 'on'] as const)('tracing %s: the call rejects instead of throwing, and an open span ends failed', async (mode) => {
    configureTelemetry(mode === 'on' ? { tracerProvider: provider } : {});
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = inSpan('sync-throw', {}, throwsAtOnce);
    }).not.toThrow();
    await expect(result).rejects.toThrow('at once');
    const spans = exporter.getFinishedSpans();
    if (mode === 'off') {
      expect(spans).toHaveLength(0);
    } else {
      expect(spans.map((span) => [span.name, span.status.code])).toEqual([['sync-throw', 2]]);
    }
  });
});

describe('inSpan and a rejection that is not an Error', () => {
  it('rejects with what fn threw and ends the span failed, even for a value String() cannot convert', async () => {
    configureTelemetry({ tracerProvider: provider });
    const bare = Object.create(null) as object;
    await expect(inSpan('bare', {}, async () => Promise.reject(bare))).rejects.toBe(bare);
    await expect(inSpan('text', {}, async () => Promise.reject('plain text'))).rejects.toBe('plain text');
    expect(exporter.getFinishedSpans().map((span) => [span.name, span.status.code])).toEqual([
      ['bare', 2],
      ['text', 2],
    ]);
    expect(errorFields(bare)).toEqual({ error: { type: 'object', message: 'an object' } });
  });
});

describe('inSpan onSettled', () => {
  it('sees how fn settled before the span ends, once per call, and a rejection it calls no failure leaves the status unset', async () => {
    configureTelemetry({ tracerProvider: provider });
    const seen: [boolean, unknown][] = [];
    const onSettled = (span: Span, rejected: boolean, error?: unknown) => {
      seen.push([rejected, error]);
      span.setAttribute('outcome', rejected ? 'rejected' : 'resolved');
    };
    await expect(inSpan('ok', { onSettled }, async () => 7)).resolves.toBe(7);
    const refused = new Error('later');
    await expect(inSpan('deferred', { onSettled, isFailure: () => false }, async () => Promise.reject(refused))).rejects.toBe(refused);
    expect(seen).toEqual([
      [false, undefined],
      [true, refused],
    ]);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => [span.name, span.attributes.outcome, span.status.code])).toEqual([
      ['ok', 'resolved', 0],
      ['deferred', 'rejected', 0],
    ]);
  });
});

describe('W3C trace context', () => {
  it('round-trips through job metadata, including tracestate', async () => {
    configureTelemetry({ tracerProvider: provider });
    await inSpan('producer', {}, async (span) => {
      const metadata = toJobMetadata(span!);
      expect(JSON.parse(metadata)).toEqual({ traceparent: `00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01` });
      const parent = fromJobMetadata(metadata)!;
      expect(parent).toMatchObject({ traceId: span!.spanContext().traceId, spanId: span!.spanContext().spanId, isRemote: true });
    });
    const withState = parseTraceHeaders({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=x' })!;
    expect(traceHeaders(withState)).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=x' });
  });

  it('refuses malformed or all-zero contexts', () => {
    for (const traceparent of ['', 'garbage', '00-00000000000000000000000000000000-b7ad6b7169203331-01', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra']) {
      expect(parseTraceHeaders({ traceparent })).toBeUndefined();
    }
    expect(fromJobMetadata('{not json')).toBeUndefined();
    expect(fromJobMetadata('{"traceparent":"00-00000000000000000000000000000000-b7ad6b7169203331-01"}')).toBeUndefined();
    expect(fromJobMetadata('{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"}')).toBeUndefined();
    // The fast path's layout with a character that is not lower-case hex: not a context either.
    expect(fromJobMetadata('{"traceparent":"00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01"}')).toBeUndefined();
    expect(fromJobMetadata('{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333G-01"}')).toBeUndefined();
    // The fast path and the JSON path read the same context.
    expect(fromJobMetadata('{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}')).toEqual(
      fromJobMetadata('{ "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }'),
    );
    expect(fromJobMetadata(undefined)).toBeUndefined();
  });
});

describe('throttledErrorLog', () => {
  it('writes one JSON line per interval with the fields, the error and the count left out', () => {
    const { logger, lines } = jsonSink();
    const report = throttledErrorLog(logger, { queue: 'agent__x' }, { intervalMs: 60_000 });
    for (let i = 0; i < 5; i += 1) report(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, queue: 'agent__x', suppressed: 0, error: { type: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } });
  });

  it('keeps writing after the wall clock is set back (NTP step, VM resume) instead of going quiet until it catches up', () => {
    const { logger, lines } = jsonSink();
    const report = throttledErrorLog(logger, { queue: 'q' }, { intervalMs: 30_000 });
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(10_000_000);
      report(new Error('down'));
      now.mockReturnValue(10_000_000 - 3_600_000); // one hour back
      report(new Error('down'));
      now.mockReturnValue(10_000_000 - 3_600_000 + 31_000);
      report(new Error('down'));
    } finally {
      now.mockRestore();
    }
    expect(lines).toHaveLength(3);
  });

  it('adds the trace id of the active span', async () => {
    configureTelemetry({ tracerProvider: provider });
    const { logger, lines } = jsonSink();
    const report = throttledErrorLog(logger, { queue: 'q' });
    let traceId = '';
    await inSpan('work', {}, async (span) => {
      traceId = span!.spanContext().traceId;
      report(new Error('x'));
    });
    expect(lines[0]).toMatchObject({ trace_id: traceId, trace_flags: '01' });
  });
});
