/**
 * The libraries are installed one by one from a private registry by services in other
 * repositories. This checks the metadata that makes that work: publishable, one version for all,
 * semver ranges between siblings, and peer dependencies for what the service's own objects are
 * made with (its ioredis client, its zod schemas), so a service never gets a second copy.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  type?: string;
  engines?: { node?: string };
  main?: string;
  types?: string;
  exports?: Record<string, unknown>;
  files?: string[];
  bin?: Record<string, string>;
  publishConfig?: { registry?: string; access?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

const packages = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .map((dir) => ({ dir, manifest: readJson<Manifest>(join(root, 'packages', dir, 'package.json')) }));
const libraries = packages.filter((p) => !p.manifest.private);
const rootManifest = readJson<Manifest>(join(root, 'package.json'));
const bullmqDir = join(root, 'node_modules', 'bullmq');
// semver as BullMQ itself resolves it (a range check as npm does it).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const semver = require(require.resolve('semver', { paths: [bullmqDir] })) as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

/** The bare package names a package's non-test sources import. */
function importsOf(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.ts$/.test(entry.name) && !/\.test\.ts$|test-helpers\.ts$|test-fixture\.ts$|test-support\.ts$/.test(entry.name)) {
        const code = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
        for (const match of code.matchAll(/from '((?:@[^/']+\/)?[^/.'][^/']*)[^']*'/g)) found.add(match[1]!);
      }
    }
  };
  walk(join(root, 'packages', dir, 'src'));
  return found;
}

it('publishes every library but @platform/testing, which only the tests use', () => {
  expect(libraries.map((p) => p.manifest.name).sort()).toEqual(
    ['cli', 'dashboard', 'locks', 'notifications', 'ops', 'outbox', 'queue', 'ratelimit', 'redis', 'sessions', 'telemetry'].map((n) => `@platform/${n}`),
  );
  for (const { manifest } of libraries) {
    for (const field of ['dependencies', 'peerDependencies'] as const) {
      expect(Object.keys(manifest[field] ?? {})).not.toContain('@platform/testing');
    }
  }
});

describe.each(libraries.map((p) => [p.manifest.name, p] as const))('%s', (_name, { dir, manifest }) => {
  it('is CommonJS with a thin ESM wrapper, for Node 20 and later', () => {
    expect(manifest.type).toBe('commonjs');
    expect(manifest.engines?.node).toBe('>=20.0.0');
    expect(manifest.main).toBe('./dist/index.js');
    expect(manifest.types).toBe('./dist/index.d.ts');
    // @platform/redis and @platform/queue have a second entry point, `./internal`: what they share
    // with their sibling libraries (no semver promise), with an `internal/package.json` for Node 10
    // style resolution.
    const hasInternal = manifest.name === '@platform/redis' || manifest.name === '@platform/queue';
    const internal = hasInternal ? { './internal': { types: './dist/internal.d.ts', default: './dist/internal.js' } } : {};
    expect(manifest.exports).toEqual({
      '.': {
        import: { types: './dist/index.d.mts', default: './dist/index.mjs' },
        require: { types: './dist/index.d.ts', default: './dist/index.js' },
      },
      ...internal,
      './package.json': './package.json',
    });
    expect(manifest.files).toContain('dist');
    if (hasInternal) {
      expect(manifest.files).toContain('internal');
      expect(readJson<Manifest>(join(root, 'packages', dir, 'internal', 'package.json'))).toMatchObject({ main: '../dist/internal.js', types: '../dist/internal.d.ts' });
    }
  });

  it('publishes to the private registry that every library shares, never the public one', () => {
    expect(manifest.publishConfig).toEqual({ registry: libraries[0]!.manifest.publishConfig?.registry, access: 'restricted' });
    expect(manifest.publishConfig?.registry).toMatch(/^https:\/\//);
    expect(manifest.publishConfig?.registry).not.toMatch(/registry\.npmjs\.org/);
  });

  it('has the one version of all libraries and asks for its siblings with ^ ranges', () => {
    expect(manifest.version).toBe(libraries[0]!.manifest.version);
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies'] as const) {
      for (const [name, range] of Object.entries(manifest[field] ?? {})) {
        if (name.startsWith('@platform/')) expect(`${field} ${name} ${range}`).toBe(`${field} ${name} ^${manifest.version}`);
      }
    }
  });

  it('takes ioredis and zod as peers wherever its code uses them, in the ranges the consumer test proves', () => {
    const imports = importsOf(dir);
    for (const peer of ['ioredis', 'zod']) {
      expect(manifest.dependencies?.[peer]).toBeUndefined();
      if (imports.has(peer)) expect(manifest.peerDependencies?.[peer]).toBeDefined();
    }
    const ioredis = manifest.peerDependencies?.ioredis;
    if (ioredis) {
      expect(ioredis).toBe('>=5.3.0');
      // The oldest version the range allows is the one the consumer test installs.
      expect(`npm:ioredis@${semver.minVersion(ioredis)?.version}`).toBe(rootManifest.devDependencies?.['ioredis-oldest']);
      // ... and one BullMQ accepts too (BullMQ makes ioredis a peer of its own).
      const bullmqRange = readJson<Manifest>(join(bullmqDir, 'package.json')).peerDependencies?.ioredis ?? '';
      expect(semver.satisfies(semver.minVersion(ioredis)!.version, bullmqRange)).toBe(true);
    }
    const zod = manifest.peerDependencies?.zod;
    if (zod) {
      expect(zod).toBe('^4.0.0');
      expect(`npm:zod@${semver.minVersion(zod)?.version}`).toBe(rootManifest.devDependencies?.['zod-oldest']);
    }
    // A peer is also a dev dependency, so the workspace builds and tests against it.
    for (const peer of Object.keys(manifest.peerDependencies ?? {})) expect(manifest.devDependencies?.[peer]).toBeDefined();
  });

  it('takes @opentelemetry/api as a required peer wherever its code imports it, from the version the tests run', () => {
    // The API keeps the context manager and the tracer provider in process globals that a copy of a
    // later minor version than the service's refuses (it falls back to no-ops): one copy, the
    // service's, or npm refuses the install.
    const api = '@opentelemetry/api';
    expect(manifest.dependencies?.[api]).toBeUndefined();
    if (!importsOf(dir).has(api)) return;
    const range = manifest.peerDependencies?.[api];
    expect(range).toBe('^1.9.1');
    expect(manifest.peerDependenciesMeta?.[api]?.optional).toBeUndefined();
    const lock = readJson<{ packages: Record<string, { version?: string }> }>(join(root, 'package-lock.json'));
    expect(semver.minVersion(range!)?.version).toBe(lock.packages[`node_modules/${api}`]?.version);
  });

  it('declares every package its code imports', () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const missing = [...importsOf(dir)].filter((name) => !name.startsWith('node:') && !declared.has(name) && name !== manifest.name);
    expect(missing).toEqual([]);
  });
});

it('links `platform` from the committed bin shim, which npm can link before dist/ is built', () => {
  const cli = libraries.find((p) => p.dir === 'cli')!.manifest;
  expect(cli.bin).toEqual({ platform: './bin/platform.js' });
  expect(cli.files).toContain('bin');
  expect(readFileSync(join(root, 'packages/cli/bin/platform.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  expect(readJson<{ scripts: Record<string, string> }>(join(root, 'package.json')).scripts.platform).toBe('platform');
});
