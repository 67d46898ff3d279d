'use strict';
const { spawn } = require('node:child_process');
const { Redis } = require('ioredis');
const { createRedisConnection, loadRedisConfig } = require('@platform/redis');
async function main() {
  const port = 47000 + Math.floor(Math.random() * 1000);
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const cfg = loadRedisConfig({ REDIS_URL: url });
  const a = createRedisConnection(cfg, { role: 'producer' });
  const b = new Redis(url);
  a.on('error', () => {}); b.on('error', () => {});
  for (let i = 0; i < 50; i++) { try { await a.ping(); await b.ping(); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
  const N = 20000, C = Number(process.env.C ?? 50);
  const run = async (c) => { const c0 = process.cpuUsage(); const t0 = performance.now(); let next = 0; await Promise.all(Array.from({ length: C }, async () => { while (next < N) { const i = next++; await c.set(`k${i}`, 'v'); } })); const u = process.cpuUsage(c0); return { rate: N / ((performance.now() - t0) / 1000), cpu: (u.user + u.system) / N }; };
  await run(a); await run(b);
  const ra = [], rb = [];
  for (let r = 0; r < 10; r++) { if (r % 2) { ra.push(await run(a)); rb.push(await run(b)); } else { rb.push(await run(b)); ra.push(await run(a)); } }
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(`C=${C} sweep: ${med(ra.map((x) => x.rate)).toFixed(0)}/s ${med(ra.map((x) => x.cpu)).toFixed(1)}us; ioredis timer: ${med(rb.map((x) => x.rate)).toFixed(0)}/s ${med(rb.map((x) => x.cpu)).toFixed(1)}us; ratio ${med(ra.map((x, i) => x.rate / rb[i].rate)).toFixed(3)}`);
  a.disconnect(); b.disconnect(); server.kill();
}
main().then(() => process.exit(0));
