/**
 * The libraries as a service team in another repository gets them: `npm pack` every library,
 * install the tarballs into a project outside the workspace (offline: the tarballs plus the npm
 * cache that `npm ci` filled, through a lockfile built from the workspace's), then type-check a
 * small service as ESM and as CommonJS (moduleResolution nodenext) and with moduleResolution
 * bundler, and run it against the test Redis. Once with the zod and ioredis the workspace uses,
 * once with the oldest versions the peer ranges allow. Each tarball also passes
 * @arethetypeswrong/cli and publint. `npm test` builds the libraries first.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix } from '@platform/testing';
import { consumerLockfile, type LockEntry, type PackedLibrary } from './lockfile';

const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const work = mkdtempSync(join(tmpdir(), 'platform-consumer-'));
const tarballs = join(work, 'tarballs');
const prefixes: string[] = [];

interface Run {
  code: number;
  output: string;
}

/** The environment of a shell outside the workspace: no npm_* variables from `npm test`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return { ...env, ...extra };
}

function run(command: string, args: string[], options: ExecFileOptions & { timeout: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env: cleanEnv(), maxBuffer: 32 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${String(stdout)}${String(stderr)}` });
    });
  });
}

async function ok(command: string, args: string[], options: ExecFileOptions & { timeout: number }): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${String(options.cwd)}) exited ${result.code}:\n${result.output}`);
  return result.output;
}

const libraryDirs = ['redis', 'queue', 'ratelimit', 'locks', 'notifications', 'ops', 'sessions', 'outbox', 'dashboard', 'cli'];
let libraries: PackedLibrary[] = [];
const registry = (JSON.parse(readFileSync(join(root, 'packages/redis/package.json'), 'utf8')) as { publishConfig: { registry: string } }).publishConfig.registry;

beforeAll(async () => {
  mkdirSync(tarballs, { recursive: true });
  const out = await ok('npm', ['pack', '--json', '--pack-destination', tarballs, ...libraryDirs.flatMap((dir) => ['--workspace', `packages/${dir}`])], {
    cwd: root,
    timeout: 120_000,
  });
  const packed = JSON.parse(out.slice(out.indexOf('['))) as { name: string; filename: string; integrity: string }[];
  libraries = libraryDirs.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as PackedLibrary['manifest'];
    const tarball = packed.find((p) => p.name === manifest.name);
    if (!tarball) throw new Error(`npm pack did not pack ${manifest.name}`);
    return { dir, manifest, tarball: `../tarballs/${tarball.filename}`, integrity: tarball.integrity };
  });
}, 180_000);

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  const redis = createRedisConnection(loadRedisConfig());
  for (const prefix of prefixes) await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
});

const nodenext = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, types: ['node'], outDir: 'dist', noEmitOnError: true };
const bundler = { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', strict: true, skipLibCheck: true, types: ['node'], noEmit: true };

describe.each([
  ['the workspace zod and ioredis', {}],
  ['the oldest zod 4 and ioredis the peer ranges allow', { zod: 'node_modules/zod-oldest', ioredis: 'node_modules/ioredis-oldest' }],
] as const)('a service outside the workspace, with %s', (variant, replace: Record<string, string>) => {
  const project = join(work, Object.keys(replace).length > 0 ? 'oldest' : 'latest');

  it('installs the packed libraries offline, from the tarballs and the npm cache', async () => {
    const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const versionOf = (name: string): string => rootLock.packages[replace[name] ?? `node_modules/${name}`]!.version!;
    const { packageJson, lockfile } = consumerLockfile({
      workspaceRoot: root,
      registry: process.env.npm_config_registry ?? 'https://registry.npmjs.org/',
      libraries,
      // Exactly the versions under test, as a service that pinned them would.
      dependencies: { ioredis: versionOf('ioredis'), zod: versionOf('zod') },
      devDependencies: { '@types/node': versionOf('@types/node') },
      replace,
    });
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify(packageJson, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfile, null, 2));
    // The line the root README tells services to add: @platform/* only ever from the private registry.
    writeFileSync(join(project, '.npmrc'), `@platform:registry=${registry}\n`);
    await ok('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project, timeout: 240_000 });
    const installed = (name: string): string => (JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    expect([installed('zod'), installed('ioredis')]).toEqual([versionOf('zod'), versionOf('ioredis')]);
    // One copy of each peer: none of the libraries brought its own.
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).filter((path) => /node_modules\/(zod|ioredis)$/.test(path))).toEqual(['node_modules/ioredis', 'node_modules/zod']);
  }, 300_000);

  it.each([
    ['ESM', 'module'],
    ['CommonJS', 'commonjs'],
  ])('type-checks the service as %s with moduleResolution nodenext, and runs it against Redis', async (_kind, type) => {
    const dir = join(project, type === 'module' ? 'esm' : 'cjs');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(__dirname, 'fixture', 'service.ts'), join(dir, 'service.ts'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: nodenext, files: ['service.ts'] }));
    await ok(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, timeout: 180_000 });
    const prefix = `consumer-${randomUUID().slice(0, 8)}`;
    prefixes.push(prefix);
    const output = await ok(process.execPath, ['dist/service.js'], {
      cwd: dir,
      timeout: 60_000,
      env: cleanEnv({ REDIS_URL: process.env.REDIS_URL!, REDIS_KEY_PREFIX: prefix }),
    });
    expect(output).toContain('consumer service: ok');
  }, 300_000);

  it('type-checks the service with moduleResolution bundler', async () => {
    const dir = join(project, 'bundler');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(__dirname, 'fixture', 'service.ts'), join(dir, 'service.ts'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: bundler, files: ['service.ts'] }));
    await ok(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, timeout: 180_000 });
  }, 300_000);

  if (Object.keys(replace).length === 0) {
    it('links the `platform` command from the installed @platform/cli', async () => {
      const output = await ok(join(project, 'node_modules', '.bin', 'platform'), ['--help'], { cwd: project, timeout: 60_000 });
      expect(output).toMatch(/Usage: platform/);
    }, 120_000);
  }
  void variant;
});

describe('each packed library', () => {
  it.each(libraryDirs)('@platform/%s passes @arethetypeswrong/cli and publint', async (dir) => {
    const tarball = join(work, libraries.find((lib) => lib.dir === dir)!.tarball.replace('../', ''));
    const attw = await run(join(root, 'node_modules', '.bin', 'attw'), [tarball, '--no-definitely-typed', '--format', 'ascii', '--no-color', '--no-emoji'], {
      cwd: work,
      timeout: 120_000,
    });
    expect(`${attw.code}\n${attw.output}`).toMatch(/^0\n/);
    const publint = await run(join(root, 'node_modules', '.bin', 'publint'), ['run', tarball, '--strict', '--pack', 'false'], { cwd: work, timeout: 120_000 });
    expect(`${publint.code}\n${publint.output}`).toMatch(/^0\n/);
    expect(publint.output).not.toMatch(/Warnings|Suggestions|Errors/);
  }, 240_000);
});
