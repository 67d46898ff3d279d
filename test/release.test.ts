/**
 * The release flow versions every library together: one version, sibling ranges `^version` in
 * every workspace, and publishing in dependency order (scripts/release.js; `version` is offline).
 */
import { join } from 'node:path';

interface Workspace {
  dir: string;
  manifest: { name: string; version: string; private?: boolean } & Record<string, Record<string, string> | string | boolean | undefined>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const release = require(join(__dirname, '..', 'scripts', 'release.js')) as {
  workspaces(): Workspace[];
  versioned(all: Workspace[]): Workspace[];
  nextVersion(current: string, bump: string): string;
  applyVersion(all: Workspace[], version: string): Workspace[];
  publishOrder(all: Workspace[]): Workspace[];
};

const all = release.workspaces();

it('bumps like semver, or takes a version as given', () => {
  expect(['patch', 'minor', 'major', '1.2.3'].map((bump) => release.nextVersion('0.1.0', bump))).toEqual(['0.1.1', '0.2.0', '1.0.0', '1.2.3']);
  expect(() => release.nextVersion('0.1.0', 'next')).toThrow(/patch\|minor\|major/);
});

it('sets every package to the new version and every reference to a sibling to ^version, in all workspaces', () => {
  const bumped = release.applyVersion(all, '0.2.0');
  const names = new Set(release.versioned(all).map((w) => w.manifest.name));
  expect(names.size).toBe(11);
  const references: string[] = [];
  for (const { manifest } of bumped) {
    if (names.has(manifest.name)) expect(`${manifest.name}@${manifest.version}`).toBe(`${manifest.name}@0.2.0`);
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
      for (const [name, range] of Object.entries((manifest[field] as Record<string, string> | undefined) ?? {})) {
        if (names.has(name)) references.push(`${manifest.name} -> ${name}@${range}`);
      }
    }
  }
  expect(references.length).toBeGreaterThan(20);
  expect(references.filter((r) => !r.endsWith('@^0.2.0'))).toEqual([]);
  // Pure: the manifests on disk are untouched.
  expect(release.workspaces().find((w) => w.manifest.name === '@platform/redis')!.manifest.version).toBe(all.find((w) => w.manifest.name === '@platform/redis')!.manifest.version);
});

it('publishes the public libraries only, each after the siblings it depends on', () => {
  const order = release.publishOrder(all).map((w) => w.manifest.name);
  expect(order).not.toContain('@platform/testing');
  expect(order).toHaveLength(10);
  for (const w of release.publishOrder(all)) {
    for (const dep of Object.keys({ ...(w.manifest.dependencies as object), ...(w.manifest.peerDependencies as object) })) {
      if (order.includes(dep)) expect(order.indexOf(dep)).toBeLessThan(order.indexOf(w.manifest.name));
    }
  }
});
