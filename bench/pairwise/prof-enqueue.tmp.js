'use strict';
const { spawn } = require('node:child_process');
const { Redis } = require('ioredis');
const { Queue } = require('bullmq');
const { agentQueue, defaultJobOptions } = require('@platform/queue');
const { createRedisConnection, loadRedisConfig } = require('@platform/redis');
async function main() {
  const port = 46000 + Math.floor(Math.random() * 1000);
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url); admin.on('error', () => undefined);
  for (let i = 0; i < 50; i++) { try { await admin.ping(); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
  const side = process.env.SIDE;
  const N = Number(process.env.N ?? 20000);
  let add;
  if (side === 'raw') { const q = new Queue('agent__x', { connection: new Redis(url), prefix: 'r', defaultJobOptions: { ...defaultJobOptions } }); add = (d) => q.add('x', d); }
  else { const q = agentQueue('x', { connection: createRedisConnection(loadRedisConfig({ REDIS_URL: url }), { role: 'producer' }), prefix: 'p' }); add = (d) => q.enqueue(d); }
  for (let i = 0; i < 1000; i++) await add({ tenantId: `tenant-${i % 100}`, activityId: `w-${i}`, input: {} });
  const t0 = Date.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await add({ tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} });
  const c = process.cpuUsage(c0);
  console.log(`${side}: ${N} in ${Date.now() - t0} ms, node ${((c.user + c.system) / N).toFixed(1)} us/call`);
  server.kill('SIGTERM');
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
