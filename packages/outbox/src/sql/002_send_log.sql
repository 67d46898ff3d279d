-- The notification send log: one row per notification (tenant, channel, type, dedupe key).
-- status: queued (written with the outbox row, or by the first send attempt),
-- delivered (provider_message_id set), failed (last_error set), expired (never delivered in time).
CREATE TABLE IF NOT EXISTS __SCHEMA__.send_log (
  tenant_id text NOT NULL,
  channel text NOT NULL,
  type text NOT NULL,
  dedupe_key text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'delivered', 'failed', 'expired')),
  job_id text,
  provider_message_id text,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  delivered_at timestamptz,
  PRIMARY KEY (tenant_id, channel, type, dedupe_key)
);

CREATE INDEX IF NOT EXISTS send_log_tenant_idx ON __SCHEMA__.send_log (tenant_id, created_at DESC);
CREATE INDEX IF NOT EXISTS send_log_open_idx ON __SCHEMA__.send_log (created_at)
  WHERE status IN ('queued', 'failed');
