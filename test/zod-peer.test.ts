/**
 * zod is a peer: the schema a service passes is made with the service's own zod. A zod 3 schema
 * would fail deep inside parsing (`keyValidator._parse is not a function`); the queue and session
 * packages refuse it up front with an error that says what to install. Schemas from the oldest
 * zod 4 the peer range allows, and from zod 3.25's `zod/v4`, work.
 */
import { InvalidArgumentError } from '@platform/redis';
import { defineQueue } from '@platform/queue';
import { createSessionStore } from '@platform/sessions';
import { z as z3 } from 'zod3';
import { z as z3v4 } from 'zod3/v4';
import { z as zodOldest } from 'zod-oldest';
import { z } from 'zod';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';

const redis = createRedisConnection(loadRedisConfig());
afterAll(() => redis.quit());

function refusal(make: () => unknown): InvalidArgumentError {
  try {
    make();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('a zod 3 schema', () => {
  it('is refused by defineQueue with a typed error that says to install zod 4', () => {
    const error = refusal(() => defineQueue({ namespace: 'zodpeer', name: 'v3', schema: z3.object({ topic: z3.string() }) as never, connection: redis }));
    expect(error.argument).toBe('schema');
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/made with zod 3, and @platform\/queue needs zod 4.*npm install zod@\^4/);
  });

  it('is refused by createSessionStore the same way', () => {
    const error = refusal(() => createSessionStore({ redis, schema: z3.object({ cart: z3.array(z3.string()) }) as never }));
    expect(error.argument).toBe('schema');
    expect(error.message).toMatch(/made with zod 3, and @platform\/sessions needs zod 4.*npm install zod@\^4/);
  });
});

describe.each([
  ['zod 4 (the workspace copy)', z],
  ['the oldest zod 4 the peer range allows', zodOldest],
  ["zod 3.25's zod/v4", z3v4],
] as const)('a schema from %s', (_name, copy) => {
  // The three copies have the same API; one type for the calls below.
  const zod = copy as unknown as typeof z;
  it('validates payloads in defineQueue', () => {
    const queue = defineQueue({ namespace: 'zodpeer', name: 'v4', schema: zod.object({ topic: zod.string() }) as never, connection: redis });
    expect(queue.parse({ tenantId: 'acme', topic: 'Redis' })).toEqual({ tenantId: 'acme', topic: 'Redis' });
    expect(() => queue.parse({ tenantId: 'acme', topic: 1 })).toThrow(/topic/);
    return queue.queue.close();
  });

  it('validates sessions in createSessionStore', async () => {
    const store = createSessionStore({ redis, schema: zod.object({ cart: zod.array(zod.string()) }) as never, keyPrefix: 'zodpeer' });
    await expect(store.create({ tenantId: 'acme', userId: 'ada', cart: [1] } as never)).rejects.toThrow(/cart/);
  });
});
