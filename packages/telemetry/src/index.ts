// Public surface of @platform/telemetry: the switch services call, and the helpers the other
// @platform packages share (a service rarely needs more than `configureTelemetry`).
export {
  configureTelemetry,
  platformTracer,
  inSpan,
  spanEvent,
  recordError,
  spanAttributes,
  toJobMetadata,
  fromJobMetadata,
  traceHeaders,
  parseTraceHeaders,
  type TelemetryOptions,
  type InSpanOptions,
} from './tracing';
export {
  resolveLogger,
  logLine,
  traceFields,
  errorFields,
  throttledErrorLog,
  type Logger,
  type LogFields,
  type LogLevel,
  type ThrottleOptions,
} from './logger';
