'use strict';
const { spawn } = require('node:child_process');
const { Redis } = require('ioredis');
const { notifyOnce, closeNotificationQueues } = require('@platform/notifications');
const { createRedisConnection, loadRedisConfig } = require('@platform/redis');
const { throughput } = require('../dist/measure');
const PAYLOAD = { to: 'ada@example.test', subject: 'Your report is ready', text: 'The weekly report is attached.' };
async function main() {
  const port = 46000 + Math.floor(Math.random() * 1000);
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url); admin.on('error', () => undefined);
  for (let i = 0; i < 50; i++) { try { await admin.ping(); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
  const producer = createRedisConnection(loadRedisConfig({ REDIS_URL: url }), { role: 'producer' });
  const N = Number(process.env.N ?? 30000);
  const t0 = Date.now();
  const c0 = process.cpuUsage();
  await throughput(N, 50, async (i) => { const r = await notifyOnce({ tenantId: 't', type: 'bench', dedupeKey: `k-${i}`, channel: 'email', payload: PAYLOAD }, { connection: producer, keyPrefix: 'p' }); if (!r.enqueued) throw new Error('refused'); });
  const c = process.cpuUsage(c0);
  console.log(`${N} in ${Date.now() - t0} ms, node ${((c.user + c.system) / N).toFixed(1)} us/call`);
  await closeNotificationQueues(); producer.disconnect(); admin.disconnect(); server.kill('SIGTERM');
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
