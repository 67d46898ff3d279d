import { QueueNameError } from './errors';

const PART = /^[A-Za-z0-9_-]+$/;

function checkPart(kind: string, part: unknown): string {
  if (typeof part !== 'string' || part.length === 0) {
    throw new QueueNameError(`queue ${kind} must be a non-empty string`);
  }
  if (part.includes(':')) {
    throw new QueueNameError(`queue ${kind} "${part}" contains ":" (BullMQ forbids colons in queue names; use "-" or "_")`);
  }
  if (!PART.test(part)) {
    throw new QueueNameError(`queue ${kind} "${part}" may only contain letters, digits, "_" and "-"`);
  }
  if (part.includes('__')) {
    throw new QueueNameError(`queue ${kind} "${part}" contains "__", which separates namespace and name`);
  }
  return part;
}

function checkNamespace(namespace: unknown): string {
  const part = checkPart('namespace', namespace);
  // `agent_` + `__` + `x` would be `agent___x`, the name of `agent` + `_x` too.
  if (part.endsWith('_')) {
    throw new QueueNameError(`queue namespace "${part}" ends with "_", which would run into the "__" that separates namespace and name`);
  }
  return part;
}

/**
 * The platform's queue naming convention: `` `${namespace}__${name}` `` (double underscore; BullMQ
 * forbids `:`). Throws {@link QueueNameError} for an empty part, a colon, `__`, a namespace ending
 * in `_` (two pairs would share a name: `agent_`/`x` and `agent`/`_x`) or any character outside
 * `[A-Za-z0-9_-]`.
 *
 * @example queueName('agent', 'blog-writer') // 'agent__blog-writer'
 */
export function queueName(namespace: string, name: string): string {
  const full = `${checkNamespace(namespace)}__${checkPart('name', name)}`;
  if (full.length > 200) throw new QueueNameError('queue name is longer than 200 characters');
  return full;
}

/** The notification channels, each with its queue `notifications__<channel>`. */
export const NOTIFICATION_CHANNELS = ['email', 'sms', 'whatsapp', 'telegram', 'web'] as const;

/** One of {@link NOTIFICATION_CHANNELS}. */
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
