/**
 * The packages that take a service's Redis client (locks, ratelimit, sessions) accept it by its
 * shape, not as the `Redis` class of the ioredis copy they were built against: a class with private
 * members only accepts instances of its own declaration, so a service on another ioredis version
 * (here the oldest the peer range allows, 5.3.0) or with a `Cluster` would not type-check. This
 * compiles a small service against the built declarations (`dist/`, as a service gets them) with
 * each kind of client, and checks that the compiler does reject the class type the same service
 * would have met before.
 */
import { join } from 'node:path';
import ts from 'typescript';

const root = join(__dirname, '..');

/** The compiler's errors for `source` (a file in the workspace root), one line each. */
function typeErrors(source: string): string[] {
  const file = join(root, 'test', '__client-types__.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    skipLibCheck: true,
    esModuleInterop: true,
    noEmit: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  host.fileExists = (name) => name === file || ts.sys.fileExists(name);
  host.getSourceFile = (name, version, ...rest) => (name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest));
  const program = ts.createProgram([file], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `TS${d.code}: ${process.env.CLIENT_TYPES_VERBOSE ? ts.flattenDiagnosticMessageText(d.messageText, '\n') : ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]}`);
}

const clients = {
  'an ioredis 5.3 Redis': `import { Redis } from 'ioredis-oldest'; const redis = new Redis({ lazyConnect: true });`,
  'an ioredis 5.3 Cluster': `import { Cluster } from 'ioredis-oldest'; const redis = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true });`,
  'an ioredis 6 Redis': `import { Redis } from 'ioredis'; const redis = new Redis({ lazyConnect: true });`,
  'an ioredis 6 Cluster': `import { Cluster } from 'ioredis'; const redis = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true });`,
};

/** Every call of the three packages that takes a client, as a service makes it. */
const service = `
import { z } from 'zod';
import { acquireLock, acquireSemaphore, activityLock, activityLockHandler, withLock, withSemaphore } from '@platform/locks';
import { createConcurrencyLimiter, createRateLimiter, defineProviderLimits } from '@platform/ratelimit';
import { createResumeCache, createSessionStore } from '@platform/sessions';

export async function main(): Promise<void> {
  await acquireLock(redis, 'lock:a', { ttlMs: 1000 });
  await withLock(redis, 'lock:b', async () => 1, { ttlMs: 1000 });
  await activityLock(redis, 'a-1', async () => 1);
  activityLockHandler(redis, (job: { id: string }) => job.id, async () => 1);
  await acquireSemaphore(redis, 'sem:a', { limit: 2, ttlMs: 1000 });
  await withSemaphore(redis, 'sem:b', async () => 1, { limit: 2, ttlMs: 1000 });
  await createRateLimiter({ redis, provider: 'semrush', limit: 10, windowSeconds: 60 }).consume('acme');
  createConcurrencyLimiter({ redis, provider: 'openai', maxInFlight: 2 });
  defineProviderLimits({ semrush: { limit: 10, windowSeconds: 60 } }, { redis });
  createSessionStore({ redis, schema: z.object({ cart: z.array(z.string()) }) });
  createResumeCache({ redis });
}
`;

it.each(Object.entries(clients))('locks, limiters and session stores type-check with %s', (_kind, client) => {
  expect(typeErrors(`${client}\n${service}`)).toEqual([]);
});

it('the class type they replaced rejects a client of another ioredis version (the check can fail)', () => {
  const errors = typeErrors(`
import { Redis as OldRedis } from 'ioredis-oldest';
import type { Redis } from 'ioredis';
declare function acquireLockTypedByClass(redis: Redis, key: string): void;
acquireLockTypedByClass(new OldRedis({ lazyConnect: true }), 'lock:a');
`);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^TS2345: Argument of type 'Redis' is not assignable to parameter of type 'Redis<"legacy">'/);
});
