import { getProviderHealth, NOTIFICATION_CHANNELS, type NotificationChannel, type ProviderHealth } from '@platform/notifications';
import { namespacedKey, type RedisClient } from '@platform/redis';
import { scanKeys } from '@platform/redis/internal';

/** Most circuit breaker keys read per refresh. */
const MAX_PROVIDERS = 100;

/** The provider names a circuit breaker is kept for (`@platform/notifications` checks them when writing). */
const PROVIDER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The health of every notification provider a worker has called (its circuit breaker: closed,
 * open or half-open, failures in a row, trips), found by SCAN over the breakers' keys unless
 * `providers` names them.
 */
export async function readProviderHealth(
  redis: RedisClient,
  keyPrefix: string,
  providers?: ReadonlyArray<{ channel: NotificationChannel; provider: string }>,
): Promise<ProviderHealth[]> {
  let found = providers ? [...providers] : [];
  if (!providers) {
    const head = `${namespacedKey(keyPrefix, 'notify-circuit')}:`;
    const keys = new Set<string>();
    await scanKeys(redis, `${escapeGlob(head)}*`, (batch) => {
      for (const key of batch) if (keys.size < MAX_PROVIDERS) keys.add(key);
    });
    found = [...keys].flatMap((key) => {
      const [channel, provider, ...rest] = key.slice(head.length).split(':');
      if (rest.length > 0 || provider === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel!)) return [];
      // Not a breaker's key (getProviderHealth refuses the name): skipped, as listProviderHealth does.
      if (!PROVIDER_NAME.test(provider)) return [];
      return [{ channel: channel as NotificationChannel, provider }];
    });
  }
  found.sort((a, b) => `${a.channel}:${a.provider}`.localeCompare(`${b.channel}:${b.provider}`));
  return Promise.all(found.slice(0, MAX_PROVIDERS).map(({ channel, provider }) => getProviderHealth(channel, provider, { connection: redis, keyPrefix })));
}
