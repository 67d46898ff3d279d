// Self time per job of two sets of V8 CPU profiles (bench/README.md, "Tracing, round 6"):
//   node bench/pairwise/profile-diff.js A1.cpuprofile,A2.cpuprofile B1.cpuprofile,B2.cpuprofile [--jobs N] [--top K] [--by package]
// Each set is averaged over its files; every row is µs per job (self time / N): A - B, A, B, largest
// differences first, by function (default) or by package. Time inlined into a caller counts as the
// caller's (V8 attributes it so).
'use strict';
const { readFileSync } = require('node:fs');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const jobs = Number(option('--jobs', 10_000));
const top = Number(option('--top', 30));
const byPackage = option('--by', 'function') === 'package';

function where(callFrame) {
  const url = callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/packages\//, 'packages/');
  if (byPackage) return url.startsWith('node:') ? 'node:*' : url ? url.split('/').slice(0, 2).join('/') : callFrame.functionName;
  return `${callFrame.functionName || '(anonymous)'} ${url}:${callFrame.lineNumber + 1}`;
}

function selfTimes(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byNode = new Map();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const times = new Map();
  for (const node of profile.nodes) times.set(where(node.callFrame), (times.get(where(node.callFrame)) ?? 0) + (byNode.get(node.id) ?? 0));
  return times;
}

function average(list) {
  const files = list.split(',');
  const sum = new Map();
  for (const file of files) for (const [key, us] of selfTimes(file)) sum.set(key, (sum.get(key) ?? 0) + us / files.length / jobs);
  return sum;
}

const [a, b] = args.filter((arg, i) => !arg.startsWith('--') && !args[i - 1]?.startsWith('--')).map(average);
const total = (set) => [...set].filter(([key]) => !key.startsWith('(idle)')).reduce((s, [, us]) => s + us, 0);
console.log(`not idle, µs per job: A ${total(a).toFixed(1)}, B ${total(b).toFixed(1)}`);
const rows = [...new Set([...a.keys(), ...b.keys()])].map((key) => [key, a.get(key) ?? 0, b.get(key) ?? 0]);
rows.sort((x, y) => Math.abs(y[1] - y[2]) - Math.abs(x[1] - x[2]));
for (const [key, x, y] of rows.slice(0, top)) console.log(`${(x - y).toFixed(2).padStart(7)} ${x.toFixed(2).padStart(7)} ${y.toFixed(2).padStart(7)}  ${key}`);
