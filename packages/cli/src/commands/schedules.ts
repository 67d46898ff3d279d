import { tenantSchedules } from '@platform/queue';
import { queueOfMetaKey, queuePrefix } from '@platform/ops';
import { scanKeys } from '@platform/redis/internal';
import { assertTenantId } from '@platform/redis';
import { Queue } from 'bullmq';
import type { CliContext } from '../context';
import { renderTable } from '../format';

/** Options of `platform schedules list`. */
export interface SchedulesCommandOptions {
  tenant?: string;
  prefix?: string;
  json?: boolean;
}

interface Row {
  queue: string;
  tenantId: string;
  scheduleId: string;
  every: number | undefined;
  pattern: string | undefined;
  tz: string | undefined;
  next: string | undefined;
}

/** Queue names with a job scheduler set (`<prefix>:<queue>:repeat`), found with SCAN. */
async function queuesWithSchedulers(ctx: CliContext, prefix: string): Promise<string[]> {
  const redis = ctx.redis();
  const names = new Set<string>();
  // Every master on a cluster; there each queue's keys carry its hash tag.
  await scanKeys(redis, `${prefix}:*:repeat`, (keys) => {
    for (const key of keys) {
      const name = queueOfMetaKey(prefix, key, ':repeat');
      if (name !== undefined && name.length > 0 && !name.includes(':')) names.add(name);
    }
  });
  return [...names].sort();
}

/** `platform schedules list [--tenant T]`: the per-tenant schedules (BullMQ job schedulers) of every queue. */
export async function schedulesListCommand(ctx: CliContext, options: SchedulesCommandOptions): Promise<void> {
  if (options.tenant !== undefined) assertTenantId(options.tenant, '--tenant');
  const prefix = ctx.bullPrefix(options.prefix);
  const rows: Row[] = [];
  for (const name of await queuesWithSchedulers(ctx, prefix)) {
    // skipMetasUpdate: listing must not rewrite the queue's meta hash (its event stream cap, version).
    const queue = new Queue(name, { connection: ctx.redis(), prefix: queuePrefix(ctx.redis(), prefix, name), skipMetasUpdate: true });
    try {
      for (const scheduler of await queue.getJobSchedulers(0, -1, true)) {
        const ids = tenantSchedules.parseSchedulerId(scheduler.key);
        if (!ids || (options.tenant !== undefined && ids.tenantId !== options.tenant)) continue;
        rows.push({
          queue: name,
          ...ids,
          every: scheduler.every ? Number(scheduler.every) : undefined,
          pattern: scheduler.pattern ?? undefined,
          tz: scheduler.tz ?? undefined,
          next: scheduler.next ? new Date(Number(scheduler.next)).toISOString() : undefined,
        });
      }
    } finally {
      await queue.close();
    }
  }
  if (options.json) {
    ctx.out(JSON.stringify({ redis: ctx.config.displayUrl, schedules: rows }, null, 2));
    return;
  }
  if (rows.length === 0) {
    ctx.out(`no tenant schedules${options.tenant !== undefined ? ` of tenant ${options.tenant}` : ''} under "${prefix}:"`);
    return;
  }
  ctx.out(
    renderTable(
      ['QUEUE', 'TENANT', 'SCHEDULE', 'REPEAT', 'NEXT'],
      rows.map((r) => [r.queue, r.tenantId, r.scheduleId, r.pattern !== undefined ? `${r.pattern}${r.tz ? ` (${r.tz})` : ''}` : `every ${r.every} ms`, r.next ?? '-']),
    ),
  );
}

