import { describeValue } from '@platform/redis';
import { z } from 'zod';
import { defineQueue, type DefineQueueOptions, type QueueDefinition } from './define-queue';
import { NOTIFICATION_CHANNELS, type NotificationChannel } from './names';
import { QueueNameError } from './errors';
import { AGENT_JOB_TIMEOUTS } from './options';

/** The agent roles of the platform, each with its queue `agent__<role>`. */
export const AGENT_ROLES = [
  'activity-planner',
  'deliverable-planner',
  'blog-writer',
  'content-brief-writer',
  'keyword-researcher',
  'social-post-writer',
] as const;

/**
 * An agent role: one of {@link AGENT_ROLES} (suggested by editors), or any other role a service
 * adds (a valid queue name part).
 */
export type AgentRole = (typeof AGENT_ROLES)[number] | (string & {});

/** Payload of agent queues (plus `tenantId`): the activity to work on and free-form input. */
export const agentJobSchema = z.object({
  /** The activity this job works on; workers lock `lock:activity:<activityId>` while running it. */
  activityId: z.string().min(1).max(256),
  /** Role-specific input. */
  input: z.record(z.string(), z.unknown()).default({}),
});

/** Payload of `rag__ingestion` (plus `tenantId`). */
export const ragIngestionJobSchema = z.object({
  /** Identifier of the document to ingest. */
  documentId: z.string().min(1).max(256),
  /** Where to fetch it from (URL or storage key). */
  source: z.string().min(1).max(2048),
  /** MIME type, if known. */
  contentType: z.string().max(255).optional(),
});

/**
 * Payload of `notifications__<channel>` (plus `tenantId`). The channel payload itself is validated
 * by `@platform/notifications`, which owns the per-channel schemas.
 */
export const notificationJobSchema = z.object({
  /** Notification type, e.g. `activity-completed`. */
  type: z.string().min(1).max(128),
  /** Dedupe key within tenant and type. */
  dedupeKey: z.string().min(1).max(512),
  /** The channel payload (e-mail, SMS, …). */
  payload: z.record(z.string(), z.unknown()),
});

/**
 * Options the catalog functions accept: everything of `defineQueue` but the name and schema, with
 * one different default: `fairness` is `'per-tenant'` (fair hand-out across tenants; the bench's
 * "uniform tenants: fair / plain" measures no loss against FIFO). `fairness: 'none'` opts out
 * (plain BullMQ FIFO).
 */
export type CatalogQueueOptions = Omit<DefineQueueOptions<never>, 'namespace' | 'name' | 'schema' | 'fairness'> & {
  /**
   * Fair hand-out of waiting jobs across tenants, as `defineQueue`'s `fairness`; `'none'` for plain
   * BullMQ FIFO. Producers and workers of one queue must agree on it.
   * @defaultValue `'per-tenant'` (weight 1 per tenant, no slot limit, no rate, window twice the live
   * workers' total concurrency)
   */
  fairness?: DefineQueueOptions<never>['fairness'];
};

/** The catalog queues' fairness when the options do not set one. */
export const CATALOG_DEFAULT_FAIRNESS = 'per-tenant' as const;

/** The options a catalog queue passes to `defineQueue`: the caller's, with the catalog's default fairness. */
function withCatalogDefaults(options: CatalogQueueOptions | undefined): CatalogQueueOptions {
  return { ...options, fairness: options?.fairness ?? CATALOG_DEFAULT_FAIRNESS };
}

const memo = new Map<string, QueueDefinition<z.ZodObject<z.ZodRawShape>>>();

function cached<S extends z.ZodObject<z.ZodRawShape>>(
  name: string,
  options: CatalogQueueOptions | undefined,
  create: () => QueueDefinition<S>,
): QueueDefinition<S> {
  // Definitions with default options are shared per process, so ten calls use one Queue.
  if (options && Object.keys(options).length > 0) return create();
  let found = memo.get(name);
  if (!found) {
    found = create() as unknown as QueueDefinition<z.ZodObject<z.ZodRawShape>>;
    memo.set(name, found);
  }
  return found as unknown as QueueDefinition<S>;
}

/**
 * `agent__<role>`: one queue per agent role, shared by all tenants. Its jobs have the time limits
 * soft 3,000 s and hard 3,600 s unless `options.timeouts` (or a job's `timeouts`) says otherwise.
 * Fair across tenants unless `options.fairness` is `'none'`.
 */
export function agentQueue(role: AgentRole, options?: CatalogQueueOptions): QueueDefinition<typeof agentJobSchema> {
  return cached(`agent__${role}`, options, () =>
    defineQueue({ timeouts: { ...AGENT_JOB_TIMEOUTS }, ...withCatalogDefaults(options), namespace: 'agent', name: role, schema: agentJobSchema }),
  );
}

/** `rag__ingestion`: RAG document processing for all tenants, fair across them unless `options.fairness` is `'none'`. */
export function ragIngestionQueue(options?: CatalogQueueOptions): QueueDefinition<typeof ragIngestionJobSchema> {
  return cached('rag__ingestion', options, () =>
    defineQueue({ ...withCatalogDefaults(options), namespace: 'rag', name: 'ingestion', schema: ragIngestionJobSchema }),
  );
}

/**
 * `notifications__<channel>` for channels `email | sms | whatsapp | telegram | web`, fair across
 * tenants unless `options.fairness` is `'none'`.
 */
export function notificationQueue(
  channel: NotificationChannel,
  options?: CatalogQueueOptions,
): QueueDefinition<typeof notificationJobSchema> {
  if (!(NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) {
    throw new QueueNameError(`unknown notification channel ${describeValue(channel)}; expected one of ${NOTIFICATION_CHANNELS.join(', ')}`);
  }
  return cached(`notifications__${channel}`, options, () =>
    defineQueue({ ...withCatalogDefaults(options), namespace: 'notifications', name: channel, schema: notificationJobSchema }),
  );
}

/** Closes every queue definition the catalog created (their `Queue`s, not the shared connections). */
export async function closeCatalogQueues(): Promise<void> {
  const all = [...memo.values()];
  memo.clear();
  await Promise.all(all.map((definition) => definition.close()));
}
