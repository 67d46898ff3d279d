import type { NotificationChannel } from '@platform/queue';
import type { ChannelPayload } from './schemas';
import type { NotificationSender, SendContext, SendResult } from './sender';

/** One message a {@link MemorySender} received. */
export interface SentMessage<C extends NotificationChannel = NotificationChannel> {
  message: ChannelPayload<C>;
  context: Omit<SendContext, 'signal'>;
  providerMessageId: string;
}

/** An in-memory sender: records every message (for tests, demos and local development). */
export interface MemorySender<C extends NotificationChannel = NotificationChannel> extends NotificationSender<C> {
  /** Every call of `send`, in order (a retry of the same notification appears again). */
  readonly messages: SentMessage<C>[];
  /** Forgets the recorded messages. */
  clear(): void;
}

/**
 * A sender that keeps messages in memory. Like a real provider with idempotency, a second `send`
 * with the same idempotency key returns the first one's `providerMessageId`.
 */
export function createMemorySender<C extends NotificationChannel = NotificationChannel>(): MemorySender<C> {
  const messages: SentMessage<C>[] = [];
  const byKey = new Map<string, string>();
  let counter = 0;
  return {
    messages,
    clear() {
      messages.length = 0;
      byKey.clear();
    },
    async send(message, context) {
      let providerMessageId = byKey.get(context.idempotencyKey);
      if (providerMessageId === undefined) {
        counter += 1;
        providerMessageId = `memory-${counter}`;
        byKey.set(context.idempotencyKey, providerMessageId);
      }
      const { signal: _signal, ...rest } = context;
      messages.push({ message, context: rest, providerMessageId });
      return { providerMessageId };
    },
  };
}

/** Options of {@link createConsoleSender}. */
export interface ConsoleSenderOptions {
  /** Where lines go. @defaultValue writes to `process.stdout` */
  write?: (line: string) => void;
}

/** A sender that prints each message as one JSON line (development and demos); never fails. */
export function createConsoleSender<C extends NotificationChannel = NotificationChannel>(options: ConsoleSenderOptions = {}): NotificationSender<C> {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let counter = 0;
  return {
    async send(message, context): Promise<SendResult> {
      counter += 1;
      const providerMessageId = `console-${counter}`;
      write(
        JSON.stringify({
          notification: context.channel,
          tenantId: context.tenantId,
          type: context.type,
          idempotencyKey: context.idempotencyKey,
          attempt: context.attempt,
          providerMessageId,
          message,
        }),
      );
      return { providerMessageId };
    },
  };
}
