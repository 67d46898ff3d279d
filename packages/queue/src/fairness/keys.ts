/** The Redis keys of a fair queue, all under `<prefix>:<queue>:fair:` (BullMQ's own keys are `<prefix>:<queue>:*`). */
export interface FairKeys {
  /** Prefix of per-tenant keys: pending `t:<tenant>`, leases `a:<tenant>`, rate log `r:<tenant>`. */
  readonly tenantPrefix: string;
  readonly ready: string;
  readonly blocked: string;
  readonly pass: string;
  readonly cfg: string;
  readonly seq: string;
  /** BullMQ's job key prefix of the queue (`<prefix>:<queue>:`): a job's hash is this plus its id. */
  readonly jobPrefix: string;
  readonly wait: string;
  readonly paused: string;
  readonly prioritized: string;
  /** BullMQ's delayed set, where held jobs wait (see HELD_DELAY_MS). */
  readonly delayed: string;
  readonly meta: string;
  readonly active: string;
  /** BullMQ's priority counter. */
  readonly pc: string;
  readonly events: string;
  readonly marker: string;
  /** Runtime controls: tenant -> JSON `{ pause?, limits? }` (see controls.ts). */
  readonly ctl: string;
  /** Counter bumped by every control change (workers re-read `ctl` when it moves). */
  readonly ctlVersion: string;
  /** Audit stream of control changes. */
  readonly audit: string;
  /** Live workers: workerId -> heartbeat expiry ms. */
  readonly workers: string;
  /** Live workers' concurrency: workerId -> concurrency. */
  readonly workerConcurrency: string;
  pending(tenantId: string): string;
  leases(tenantId: string): string;
  rateLog(tenantId: string): string;
}

/** Keys of the fair queue `queueName` under BullMQ prefix `prefix`. Tenant ids are `[A-Za-z0-9_.@-]`, safe in keys. */
export function fairKeys(prefix: string, queueName: string): FairKeys {
  const bull = `${prefix}:${queueName}:`;
  const fair = `${bull}fair:`;
  return {
    tenantPrefix: fair,
    ready: `${fair}ready`,
    blocked: `${fair}blocked`,
    pass: `${fair}pass`,
    cfg: `${fair}cfg`,
    seq: `${fair}seq`,
    jobPrefix: bull,
    wait: `${bull}wait`,
    paused: `${bull}paused`,
    prioritized: `${bull}prioritized`,
    delayed: `${bull}delayed`,
    meta: `${bull}meta`,
    active: `${bull}active`,
    pc: `${bull}pc`,
    events: `${bull}events`,
    marker: `${bull}marker`,
    ctl: `${fair}ctl`,
    ctlVersion: `${fair}ctlver`,
    audit: `${fair}audit`,
    workers: `${fair}workers`,
    workerConcurrency: `${fair}wconc`,
    pending: (tenantId) => `${fair}t:${tenantId}`,
    leases: (tenantId) => `${fair}a:${tenantId}`,
    rateLog: (tenantId) => `${fair}r:${tenantId}`,
  };
}

/**
 * The hash in which fair queues kept pending jobs (jobId -> job JSON) before jobs were held in
 * BullMQ from their enqueue. Nothing writes it any more: a fair queue's pending job is in BullMQ's
 * job hash from its enqueue on, so checking the job hash is enough. Kept (same slot as the queue's
 * BullMQ keys) so that scripts naming it, and data written by an older version, keep working.
 */
export function fairPendingJobsKey(definition: { readonly name: string; readonly settings: { readonly prefix: string } }): string {
  return `${fairKeys(definition.settings.prefix, definition.name).tenantPrefix}jobs`;
}

/**
 * The set of fair queue names under BullMQ base prefix `prefix` (written by producers, workers and
 * controls of each fair queue), read by `'all'` targets and by name-only targets. It has two parts,
 * so it never looks like a BullMQ queue key (`<prefix>:<queue>:<suffix>`). On a cluster `prefix` is
 * the base without the queues' hash tags: one set for all queues (only ever touched alone).
 */
export function fairRegistryKey(prefix: string): string {
  return `${prefix}:fair-queues`;
}
