-- The W3C trace context (traceparent, tracestate) of the span that wrote each row; null when
-- tracing was off. The relay hands it to the job, so the job continues the writer's trace.
ALTER TABLE __SCHEMA__.outbox ADD COLUMN IF NOT EXISTS traceparent text;
ALTER TABLE __SCHEMA__.outbox ADD COLUMN IF NOT EXISTS tracestate text;
