import { InvalidArgumentError, assertTenantId, checkMs, describeValue } from '@platform/redis';
import { getNextMillis } from 'bullmq';
import type { AnyObjectSchema, TenantPayload, TenantPayloadInput } from './payload';
import type { QueueDefinition } from './define-queue';
import { AGENT_ROLES, agentQueue, notificationQueue, ragIngestionQueue } from './catalog';
import { NOTIFICATION_CHANNELS } from './names';
import { checkPayloadSize } from './payload';
import { traceSchedule } from './telemetry';

/** When a tenant schedule fires: every `every` ms, or by a cron `pattern` (in `tz`). */
export type TenantRepeat = { every: number; pattern?: never; tz?: never } | { pattern: string; tz?: string; every?: never };

/** One tenant schedule as stored in BullMQ's job schedulers. */
export interface TenantSchedule {
  /** Queue the schedule adds jobs to. */
  queueName: string;
  tenantId: string;
  scheduleId: string;
  /** BullMQ's job scheduler id: `tenant+<tenantId>+<scheduleId>`. */
  schedulerId: string;
  every: number | undefined;
  pattern: string | undefined;
  tz: string | undefined;
  /** When the next job is due (ms since the epoch), if BullMQ knows. */
  next: number | undefined;
}

// `+` is in neither a tenant id (`[A-Za-z0-9_.@-]`) nor a schedule id (`[A-Za-z0-9_.-]`), so the
// id splits back unambiguously; no `:` either (BullMQ builds job ids from scheduler ids).
const SEPARATOR = '+';
const SCHEDULER_ID = /^tenant\+([A-Za-z0-9_.@-]{1,128})\+([A-Za-z0-9_.-]{1,64})$/;

function checkTenant(tenantId: unknown): string {
  assertTenantId(tenantId);
  return tenantId as string;
}

const SCHEDULE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

function checkScheduleId(scheduleId: unknown): string {
  if (typeof scheduleId !== 'string' || !SCHEDULE_ID.test(scheduleId)) {
    throw new InvalidArgumentError('scheduleId', `must be 1-64 of [A-Za-z0-9_.-], got ${describeValue(scheduleId)}`);
  }
  return scheduleId;
}

/** BullMQ job scheduler id of a tenant schedule. */
export function tenantSchedulerId(tenantId: string, scheduleId: string): string {
  return ['tenant', checkTenant(tenantId), checkScheduleId(scheduleId)].join(SEPARATOR);
}

/** `{ tenantId, scheduleId }` of a scheduler id made by {@link tenantSchedulerId}, else `undefined`. */
export function parseTenantSchedulerId(schedulerId: string): { tenantId: string; scheduleId: string } | undefined {
  const match = SCHEDULER_ID.exec(schedulerId);
  return match ? { tenantId: match[1]!, scheduleId: match[2]! } : undefined;
}

function checkRepeat(repeat: unknown): { every: number } | { pattern: string; tz?: string } {
  if (typeof repeat !== 'object' || repeat === null) throw new InvalidArgumentError('repeat', 'must be { every } or { pattern, tz? }');
  const { every, pattern, tz } = repeat as { every?: unknown; pattern?: unknown; tz?: unknown };
  if ((every === undefined) === (pattern === undefined)) throw new InvalidArgumentError('repeat', 'needs exactly one of every and pattern');
  if (every !== undefined) {
    if (tz !== undefined) throw new InvalidArgumentError('repeat.tz', 'only applies to a pattern');
    return { every: checkMs('repeat.every', every, 1) };
  }
  if (typeof pattern !== 'string' || pattern.trim().length === 0 || pattern.length > 256) {
    throw new InvalidArgumentError('repeat.pattern', `must be a cron pattern, got ${describeValue(pattern)}`);
  }
  if (tz !== undefined && (typeof tz !== 'string' || tz.length === 0 || tz.length > 64 || !isTimeZone(tz))) {
    throw new InvalidArgumentError('repeat.tz', `must be a time zone name, got ${describeValue(tz)}`);
  }
  const checked = tz === undefined ? { pattern } : { pattern, tz: tz as string };
  // BullMQ parses the pattern only inside upsertJobScheduler, and its error is a plain Error.
  let next: number | undefined;
  try {
    next = getNextMillis(Date.now(), checked);
  } catch (error) {
    throw new InvalidArgumentError('repeat.pattern', `must be a cron pattern, got ${describeValue(pattern)}: ${(error as Error).message}`, { cause: error });
  }
  // BullMQ writes nothing for a schedule without a next time (and would leave an older one in place).
  if (next === undefined) throw new InvalidArgumentError('repeat.pattern', `never fires, got ${describeValue(pattern)}`);
  return checked;
}

/** Whether `tz` is a time zone `Intl` (and so BullMQ's cron parser) knows. */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates or replaces the schedule `scheduleId` of a tenant on a queue (a BullMQ job scheduler):
 * a job with `payload` (validated like any enqueue: `PayloadValidationError`/`PayloadTooLargeError`,
 * or `InvalidArgumentError` for the ids and `repeat`, a cron pattern or time zone that cannot be
 * parsed included, before anything is written) is added every `every` ms or at each time of the
 * cron `pattern` (in `tz`). Jobs of a schedule on a fair queue go straight into BullMQ, not through
 * the fair backlog.
 */
async function scheduleForTenant<S extends AnyObjectSchema>(
  definition: QueueDefinition<S>,
  tenantId: string,
  scheduleId: string,
  repeat: TenantRepeat,
  payload: Omit<TenantPayloadInput<S>, 'tenantId'>,
): Promise<TenantSchedule> {
  const schedulerId = tenantSchedulerId(tenantId, scheduleId);
  const checked = checkRepeat(repeat);
  const data: TenantPayload<S> = definition.parse({ ...payload, tenantId });
  checkPayloadSize(definition.name, data, definition.settings.maxPayloadBytes);
  const queue = definition.queue;
  // BullMQ types the scheduler id and job name through its data type; both are plain strings here.
  await traceSchedule(definition.name, tenantId, scheduleId, (opts) =>
    queue.upsertJobScheduler(schedulerId as never, checked, { name: scheduleId as never, data: data as never, ...(opts ? { opts } : {}) }),
  );
  const found = await queue.getJobScheduler(schedulerId);
  return toSchedule(definition.name, schedulerId, found ?? { ...checked, next: undefined });
}

function toSchedule(
  queueName: string,
  schedulerId: string,
  scheduler: { every?: number | null; pattern?: string | null; tz?: string | null; next?: number | null },
): TenantSchedule {
  const ids = parseTenantSchedulerId(schedulerId)!;
  return {
    queueName,
    ...ids,
    schedulerId,
    every: scheduler.every ? Number(scheduler.every) : undefined,
    pattern: scheduler.pattern ?? undefined,
    tz: scheduler.tz ?? undefined,
    next: scheduler.next ? Number(scheduler.next) : undefined,
  };
}

/** The tenant schedules of a queue (of one tenant when `tenantId` is given), by scheduler id. */
async function listTenantSchedules(definition: QueueDefinition, tenantId?: string): Promise<TenantSchedule[]> {
  if (tenantId !== undefined) checkTenant(tenantId);
  const schedulers = await definition.queue.getJobSchedulers(0, -1, true);
  const result: TenantSchedule[] = [];
  for (const scheduler of schedulers) {
    const ids = parseTenantSchedulerId(scheduler.key);
    if (!ids || (tenantId !== undefined && ids.tenantId !== tenantId)) continue;
    result.push(toSchedule(definition.name, scheduler.key, scheduler));
  }
  return result.sort((a, b) => (a.schedulerId < b.schedulerId ? -1 : a.schedulerId > b.schedulerId ? 1 : 0));
}

/** Removes one tenant schedule; `true` if it existed. Jobs it already added stay. */
async function removeTenantSchedule(definition: QueueDefinition, tenantId: string, scheduleId: string): Promise<boolean> {
  return definition.queue.removeJobScheduler(tenantSchedulerId(tenantId, scheduleId));
}

/** The catalog's queues with default options: every agent role, `rag__ingestion`, every notification channel. */
function catalogQueues(): QueueDefinition[] {
  return [
    ...AGENT_ROLES.map((role) => agentQueue(role)),
    ragIngestionQueue(),
    ...NOTIFICATION_CHANNELS.map((channel) => notificationQueue(channel)),
  ] as unknown as QueueDefinition[];
}

/**
 * Removes every schedule of a tenant on the given queues (offboarding); returns how many. Jobs the
 * schedules already added stay (remove them with the queue's own tools if needed).
 * @defaultValue `definitions`: the catalog's queues (every agent role, `rag__ingestion`, every
 * notification channel), on the shared connection
 */
async function removeAllTenantSchedules(tenantId: string, definitions?: readonly QueueDefinition[]): Promise<number> {
  checkTenant(tenantId);
  definitions ??= catalogQueues();
  let removed = 0;
  for (const definition of definitions) {
    for (const schedule of await listTenantSchedules(definition, tenantId)) {
      if (await definition.queue.removeJobScheduler(schedule.schedulerId)) removed += 1;
    }
  }
  return removed;
}

/**
 * Per-tenant schedules over BullMQ's job schedulers (`queue.upsertJobScheduler`). Each schedule's
 * scheduler id is `tenant+<tenantId>+<scheduleId>`, so two tenants' schedules never collide.
 * - `schedule(definition, tenantId, scheduleId, { every } | { pattern, tz? }, payload)`
 * - `list(definition, tenantId?)`
 * - `remove(definition, tenantId, scheduleId)`
 * - `removeAll(tenantId, definitions?)` (offboarding; by default on the catalog's queues)
 *
 * @example
 * await tenantSchedules.schedule(agentQueue('keyword-researcher'), 'acme', 'weekly-keywords', { pattern: '0 6 * * 1', tz: 'Europe/Berlin' }, { activityId: 'a1', input: {} });
 */
export const tenantSchedules = Object.freeze({
  /** `{ tenantId, scheduleId }` of a BullMQ scheduler id, or `undefined` when it is no tenant schedule's. */
  parseSchedulerId: parseTenantSchedulerId,
  schedule: scheduleForTenant,
  list: listTenantSchedules,
  remove: removeTenantSchedule,
  removeAll: removeAllTenantSchedules,
});
