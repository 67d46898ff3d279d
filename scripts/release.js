#!/usr/bin/env node
// Release flow for the @platform libraries: they are versioned together (one version for all,
// siblings asked for with ^ranges) and published to the private registry in their publishConfig.
// `version` and `registry` work offline; only `publish` talks to a registry.
//
//   node scripts/release.js version <x.y.z | patch | minor | major>
//   node scripts/release.js registry <https://your.registry/>
//   node scripts/release.js publish [--dry-run]     (after `npm run build`)
'use strict';
const { execFileSync } = require('node:child_process');
const { readdirSync, readFileSync, writeFileSync, existsSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');

const ROOT = join(__dirname, '..');
const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies'];

/** Every workspace manifest: `{ file, dir, manifest }` (packages, examples, bench). */
function workspaces(root = ROOT) {
  const dirs = [
    ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)),
    ...(existsSync(join(root, 'examples')) ? readdirSync(join(root, 'examples')).map((d) => join(root, 'examples', d)) : []),
    join(root, 'bench'),
  ].filter((dir) => existsSync(join(dir, 'package.json')));
  return dirs.map((dir) => ({ dir, file: join(dir, 'package.json'), manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }));
}

/** The versioned packages: everything under packages/ (the published libraries and @platform/testing). */
function versioned(all) {
  return all.filter((w) => basename(dirname(w.dir)) === 'packages');
}

/** `current` bumped by `patch | minor | major`, or `bump` itself when it is a version. */
function nextVersion(current, bump) {
  if (/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(bump)) return bump;
  const [major, minor, patch] = current.split('-')[0].split('.').map(Number);
  if (bump === 'major') return `${major + 1}.0.0`;
  if (bump === 'minor') return `${major}.${minor + 1}.0`;
  if (bump === 'patch') return `${major}.${minor}.${patch + 1}`;
  throw new Error(`not a version or patch|minor|major: ${bump}`);
}

/**
 * Sets every package under packages/ to `version` and every reference to one of them (in any
 * workspace) to `^version`. Pure: returns new manifests.
 */
function applyVersion(all, version) {
  const names = new Set(versioned(all).map((w) => w.manifest.name));
  return all.map((w) => {
    const manifest = structuredClone(w.manifest);
    if (names.has(manifest.name)) manifest.version = version;
    for (const field of DEP_FIELDS) {
      for (const name of Object.keys(manifest[field] ?? {})) {
        if (names.has(name)) manifest[field][name] = `^${version}`;
      }
    }
    return { ...w, manifest };
  });
}

/** The published libraries in an order where each comes after the siblings it depends on. */
function publishOrder(all) {
  const libs = versioned(all).filter((w) => !w.manifest.private);
  const byName = new Map(libs.map((w) => [w.manifest.name, w]));
  const done = new Set();
  const order = [];
  const visit = (w, path) => {
    if (done.has(w.manifest.name)) return;
    if (path.includes(w.manifest.name)) throw new Error(`dependency cycle: ${[...path, w.manifest.name].join(' -> ')}`);
    for (const name of Object.keys({ ...w.manifest.dependencies, ...w.manifest.peerDependencies })) {
      const dep = byName.get(name);
      if (dep) visit(dep, [...path, w.manifest.name]);
    }
    done.add(w.manifest.name);
    order.push(w);
  };
  for (const w of libs) visit(w, []);
  return order;
}

function write(all) {
  for (const w of all) writeFileSync(w.file, `${JSON.stringify(w.manifest, null, 2)}\n`);
}

function main(argv) {
  const [command, arg] = argv;
  const all = workspaces();
  if (command === 'version') {
    if (!arg) throw new Error('usage: release.js version <x.y.z | patch | minor | major>');
    const current = versioned(all).find((w) => !w.manifest.private).manifest.version;
    const version = nextVersion(current, arg);
    write(applyVersion(all, version));
    // Offline: only the workspace entries of the lockfile change.
    execFileSync('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
    console.log(`@platform libraries: ${current} -> ${version}. Commit, tag v${version}, then npm run build && npm run release:publish.`);
  } else if (command === 'registry') {
    if (!arg || !/^https?:\/\//.test(arg)) throw new Error('usage: release.js registry <https://your.registry/>');
    for (const w of versioned(all).filter((x) => !x.manifest.private)) w.manifest.publishConfig = { ...w.manifest.publishConfig, registry: arg };
    write(all);
  } else if (command === 'publish') {
    const dryRun = argv.includes('--dry-run');
    for (const w of publishOrder(all)) {
      if (!existsSync(join(w.dir, 'dist', 'index.js'))) throw new Error(`${w.manifest.name}: not built (npm run build first)`);
      console.log(`publishing ${w.manifest.name}@${w.manifest.version} to ${w.manifest.publishConfig.registry}`);
      execFileSync('npm', ['publish', ...(dryRun ? ['--dry-run'] : [])], { cwd: w.dir, stdio: 'inherit' });
    }
  } else {
    throw new Error('usage: release.js version <x.y.z | patch | minor | major> | registry <url> | publish [--dry-run]');
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}

module.exports = { workspaces, versioned, nextVersion, applyVersion, publishOrder };
