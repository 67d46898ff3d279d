/**
 * A package-lock.json for a project outside the workspace that installs the packed libraries,
 * built from the workspace's own lockfile: every third-party package the libraries need is taken
 * with the version, tarball URL and integrity `npm ci` installed here. `npm ci --offline` in that
 * project then needs nothing but the npm cache (which `npm ci` at the root filled) and the
 * tarballs: no registry metadata, no network.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

/** One packed library: its manifest and the tarball's path relative to the consumer project. */
export interface PackedLibrary {
  dir: string;
  manifest: LockEntry & { name: string; version: string };
  tarball: string;
  integrity: string;
}

export interface ConsumerLockOptions {
  workspaceRoot: string;
  libraries: PackedLibrary[];
  /** The consumer's own dependencies besides the libraries, e.g. `{ zod: '^4.0.0' }`. */
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  /**
   * The registry the workspace installed from. The workspace lockfile may omit `resolved` URLs
   * (`omit-lockfile-registry-resolved`); without one, npm would need the package's registry
   * metadata, which `npm ci` never fetched. With URL and integrity, the tarball comes from the cache.
   */
  registry: string;
  /**
   * Top-level packages taken from another entry of the workspace lockfile, e.g.
   * `{ ioredis: 'node_modules/ioredis-oldest' }` (an `npm:` alias installed at the root).
   */
  replace?: Record<string, string>;
}

const FLAGS = ['dev', 'optional', 'devOptional', 'peer', 'extraneous', 'inBundle'];

function parentOf(location: string): string {
  const i = location.lastIndexOf('/node_modules/');
  return i >= 0 ? location.slice(0, i) : '';
}

/** The names an entry needs installed: dependencies, optional ones, and peers it requires. */
function needs(entry: LockEntry): string[] {
  const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => !entry.peerDependenciesMeta?.[name]?.optional);
  return [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...peers];
}

export function consumerLockfile(options: ConsumerLockOptions): { packageJson: object; lockfile: object } {
  const root = JSON.parse(readFileSync(join(options.workspaceRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  const source = root.packages;
  const replace = options.replace ?? {};
  const libraryByName = new Map(options.libraries.map((lib) => [lib.manifest.name, lib]));

  /** Where node would find `name` from `location` in the workspace (with `replace` applied). */
  const resolve = (location: string, name: string): string => {
    for (let at = location; ; at = parentOf(at)) {
      const candidate = at === '' ? `node_modules/${name}` : `${at}/node_modules/${name}`;
      if (source[candidate] && !source[candidate].link) return at === '' && replace[name] ? replace[name] : candidate;
      if (at === '') throw new Error(`${name} (needed from ${location || 'the root'}) is not in the workspace lockfile`);
    }
  };
  /** The same package's place in the consumer project. */
  const relocate = (location: string): string => {
    for (const [name, from] of Object.entries(replace)) {
      if (location === from || location.startsWith(`${from}/`)) return `node_modules/${name}${location.slice(from.length)}`;
    }
    const workspace = /^packages\/([^/]+)\/(.*)$/.exec(location);
    return workspace ? `node_modules/@platform/${workspace[1]}/${workspace[2]}` : location;
  };

  const packages: Record<string, LockEntry> = {};
  const queue: { from: string; names: string[] }[] = [];
  const add = (location: string): void => {
    const target = relocate(location);
    if (packages[target]) return;
    const entry: LockEntry = { ...source[location] };
    for (const flag of FLAGS) delete entry[flag];
    if (!entry.resolved && entry.version && entry.integrity) {
      const name = entry.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
      entry.resolved = `${options.registry.replace(/\/?$/, '/')}${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
    }
    // An `npm:` alias at the root is a plain install in the consumer.
    if (Object.values(replace).includes(location)) delete entry.name;
    packages[target] = entry;
    queue.push({ from: location, names: needs(entry) });
  };

  const direct = { ...options.dependencies, ...options.devDependencies };
  for (const name of Object.keys(direct)) add(resolve('', name));
  for (const lib of options.libraries) {
    const { name, version, dependencies, peerDependencies, peerDependenciesMeta, engines, license, bin } = lib.manifest;
    packages[`node_modules/${name}`] = {
      version,
      resolved: `file:${lib.tarball}`,
      integrity: lib.integrity,
      ...(license ? { license } : {}),
      ...(dependencies ? { dependencies } : {}),
      ...(peerDependencies ? { peerDependencies } : {}),
      ...(peerDependenciesMeta ? { peerDependenciesMeta } : {}),
      ...(engines ? { engines } : {}),
      ...(bin ? { bin } : {}),
    };
    queue.push({ from: `packages/${lib.dir}`, names: needs(lib.manifest) });
  }
  while (queue.length > 0) {
    const { from, names } = queue.shift()!;
    for (const name of names) {
      if (libraryByName.has(name)) continue;
      add(resolve(from, name));
    }
  }

  const dependencies = {
    ...Object.fromEntries(options.libraries.map((lib) => [lib.manifest.name, `file:${lib.tarball}`])),
    ...options.dependencies,
  };
  const packageJson = { name: 'consumer-service', version: '1.0.0', private: true, dependencies, devDependencies: options.devDependencies };
  const lockfile = {
    name: 'consumer-service',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'consumer-service', version: '1.0.0', dependencies, devDependencies: options.devDependencies }, ...sortByKey(packages) },
  };
  return { packageJson, lockfile };
}

function sortByKey<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
