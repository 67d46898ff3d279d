-- The outbox: one row per job (or notification) written inside the caller's transaction.
-- __SCHEMA__ is replaced by the quoted schema name, __CHANNEL__ by the NOTIFY channel as a literal.
CREATE TABLE IF NOT EXISTS __SCHEMA__.outbox (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL CHECK (kind IN ('job', 'notify')),
  queue text NOT NULL,
  tenant_id text NOT NULL,
  job_id text NOT NULL,
  payload jsonb NOT NULL,
  options jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  moved_at timestamptz,
  moved_job_id text,
  failed_at timestamptz,
  last_error text
);

-- Rows still to move, in write order.
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON __SCHEMA__.outbox (seq)
  WHERE moved_at IS NULL AND failed_at IS NULL;
-- Moved rows, for pruning.
CREATE INDEX IF NOT EXISTS outbox_moved_idx ON __SCHEMA__.outbox (moved_at)
  WHERE moved_at IS NOT NULL;

-- One NOTIFY per inserting statement; PostgreSQL delivers it at commit (never after a rollback)
-- and folds identical notifications of one transaction into one.
CREATE OR REPLACE FUNCTION __SCHEMA__.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(__CHANNEL__, '');
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS outbox_notify ON __SCHEMA__.outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON __SCHEMA__.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION __SCHEMA__.outbox_notify();
