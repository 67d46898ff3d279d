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

/**
 * The platform's queue naming convention: `` `${namespace}__${name}` `` (double underscore; BullMQ
 * forbids `:`). Throws {@link QueueNameError} for an empty part, a colon, `__` or any character
 * outside `[A-Za-z0-9_-]`.
 *
 * @example queueName('agent', 'blog-writer') // 'agent__blog-writer'
 */
export function queueName(namespace: string, name: string): string {
  const full = `${checkPart('namespace', namespace)}__${checkPart('name', name)}`;
  if (full.length > 200) throw new QueueNameError('queue name is longer than 200 characters');
  return full;
}

/** The notification channels, each with its queue `notifications__<channel>`. */
export const NOTIFICATION_CHANNELS = ['email', 'sms', 'whatsapp', 'telegram', 'web'] as const;

/** One of {@link NOTIFICATION_CHANNELS}. */
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
