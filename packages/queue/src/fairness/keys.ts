/** The Redis keys of a fair queue, all under `<prefix>:<queue>:fair:` (BullMQ's own keys are `<prefix>:<queue>:*`). */
export interface FairKeys {
  /** Prefix of per-tenant keys: pending `t:<tenant>`, leases `a:<tenant>`, rate log `r:<tenant>`. */
  readonly tenantPrefix: string;
  readonly ready: string;
  readonly blocked: string;
  readonly pass: string;
  readonly cfg: string;
  readonly jobs: string;
  readonly seq: string;
  readonly dedup: string;
  readonly jobDedup: string;
  readonly inflight: string;
  readonly wait: string;
  readonly paused: string;
  readonly prioritized: string;
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
    jobs: `${fair}jobs`,
    seq: `${fair}seq`,
    dedup: `${fair}dedup`,
    jobDedup: `${fair}jobdedup`,
    inflight: `${fair}inflight`,
    wait: `${bull}wait`,
    paused: `${bull}paused`,
    prioritized: `${bull}prioritized`,
    pending: (tenantId) => `${fair}t:${tenantId}`,
    leases: (tenantId) => `${fair}a:${tenantId}`,
    rateLog: (tenantId) => `${fair}r:${tenantId}`,
  };
}
