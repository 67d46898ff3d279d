// Pairwise A/B for notifyOnce (bench/README.md, "notifyOnce, round 2"): build first, then
//   flock /work/wt/bench.lock nice node bench/pairwise/notify-ab.js   (env: SIDES, ROUNDS, N)
// Sides: platform (notifyOnce, producer connection), pipelined (the same, auto-pipelined),
// enqueue / enqueueNoStats (the channel queue's enqueue with notifyOnce's job options, no claim;
// with and without the queue's job statistics), raw (SET NX EX + BullMQ queue.add). Short batches
// of each side back to back, order swapped every round, on a private redis-server. Prints per-round
// ratios to the last side, CPU per call (Node, Redis) and Redis commands per call, and the per-round
// ratios of CPU per call to the last side.
// Side `before`: notifyOnce of another build, for a before/after in one session: copy the old
// packages/notifications/dist to packages/notifications/dist-before (so its imports resolve to
// this workspace) and set NOTIFY_BEFORE=packages/notifications/dist-before.
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');
const { Redis } = require('ioredis');
const { Queue } = require('bullmq');
const { notifyOnce, closeNotificationQueues } = require('@platform/notifications');
const { defaultJobOptions, notificationQueue } = require('@platform/queue');
const { createHash } = require('node:crypto');
const { createRedisConnection, loadRedisConfig } = require('@platform/redis');
const { throughput } = require('../dist/measure');

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const N = Number(process.env.N ?? 2000);
const SIDES = (process.env.SIDES ?? 'platform,raw').split(',');
const PAYLOAD = { to: 'ada@example.test', subject: 'Your report is ready', text: 'The weekly report is attached.' };

function freePort() {
  return new Promise((resolve) => { const s = net.createServer(); s.listen(0, () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}
async function main() {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url);
  admin.on('error', () => undefined); // refused until the server listens
  for (let i = 0; i < 50; i++) { try { await admin.ping(); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
  const config = loadRedisConfig({ REDIS_URL: url });
  const producer = createRedisConnection(config, { role: 'producer' });
  const piped = createRedisConnection(config, { role: 'producer', redisOptions: { enableAutoPipelining: true } });
  const plain = new Redis(url);
  const rawQueue = new Queue('notifications__email', { connection: plain, prefix: 'r', defaultJobOptions: { ...defaultJobOptions } });
  const enq = notificationQueue('email', { connection: producer, prefix: 'e:bull' });
  const enqNoStats = notificationQueue('email', { connection: producer, prefix: 'n:bull', recordStats: false });
  const opts = (k) => ({ jobId: `notify-email-${createHash('sha1').update(k).digest('hex')}`, attempts: 25, backoff: { type: 'notification', delay: 5000, maxDelay: 1800000, jitter: 0.2 } });
  const data = (k) => ({ tenantId: 't', type: 'bench', dedupeKey: k, payload: PAYLOAD });
  const before = process.env.NOTIFY_BEFORE ? require(require('node:path').resolve(process.env.NOTIFY_BEFORE)) : undefined;
  const beforeProducer = before ? createRedisConnection(config, { role: 'producer' }) : undefined;
  const sides = {
    before: (k) => before.notifyOnce({ tenantId: 't', type: 'bench', dedupeKey: k, channel: 'email', payload: PAYLOAD }, { connection: beforeProducer, keyPrefix: 'b' }).then((r) => r.enqueued),
    enqueue: (k) => enq.enqueue(data(k), opts(k)).then(() => true),
    enqueueNoStats: (k) => enqNoStats.enqueue(data(k), opts(k)).then(() => true),
    platform: (k) => notifyOnce({ tenantId: 't', type: 'bench', dedupeKey: k, channel: 'email', payload: PAYLOAD }, { connection: producer, keyPrefix: 'p' }).then((r) => r.enqueued),
    pipelined: (k) => notifyOnce({ tenantId: 't', type: 'bench', dedupeKey: k, channel: 'email', payload: PAYLOAD }, { connection: piped, keyPrefix: 'pp' }).then((r) => r.enqueued),
    raw: async (k) => {
      if ((await plain.set(`d:bench:${k}`, '1', 'EX', 86400, 'NX')) !== 'OK') return false;
      await rawQueue.add('email', { tenantId: 't', type: 'bench', dedupeKey: k, payload: PAYLOAD });
      return true;
    },
  };
  const redisCpu = async () => { const info = await admin.info('cpu'); const m = (k) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)[1]); return (m('used_cpu_sys') + m('used_cpu_user')) * 1e6; };
  const calls = async () => { const info = await admin.info('commandstats'); let n = 0; for (const m of info.matchAll(/calls=(\d+)/g)) n += Number(m[1]); return n; };
  const run = async (side, tag) => {
    const c0 = process.cpuUsage(); const r0 = await redisCpu(); const k0 = await calls();
    const rate = await throughput(N, 50, async (i) => { if (!(await sides[side](`${tag}-${i}`))) throw new Error('refused'); });
    const c1 = process.cpuUsage(c0); const r1 = await redisCpu(); const k1 = await calls();
    return { rate, node: (c1.user + c1.system) / N, redis: (r1 - r0) / N, cmds: (k1 - k0 - 4) / N };
  };
  for (const s of SIDES) await run(s, `warm-${s}`);
  const per = Object.fromEntries(SIDES.map((s) => [s, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const s of order) per[s].push(await run(s, `r${round}`));
    for (const p of ['p:', 'pp:', 'b:', 'r:', 'd:', 'e:', 'n:']) { let cursor = '0'; do { const [next, keys] = await admin.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 5000); cursor = next; if (keys.length) await admin.unlink(...keys); } while (cursor !== '0'); }
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const q = (xs, f) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) * f)]; };
  for (const s of SIDES) {
    const r = per[s];
    console.log(`${s}: rate median ${med(r.map((x) => x.rate)).toFixed(0)}/s, node ${med(r.map((x) => x.node)).toFixed(1)} us, redis ${med(r.map((x) => x.redis)).toFixed(1)} us, commands ${med(r.map((x) => x.cmds)).toFixed(1)} per call`);
  }
  const base = SIDES[SIDES.length - 1];
  for (const s of SIDES.slice(0, -1)) {
    const ratios = per[s].map((x, i) => x.rate / per[base][i].rate);
    console.log(`${s}/${base}: median ${med(ratios).toFixed(3)} (IQR ${q(ratios, 0.25).toFixed(2)}..${q(ratios, 0.75).toFixed(2)}), rounds ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
    // CPU per call against the base side of the same round (steadier than rates on a shared machine).
    const cpu = (k) => { const r = per[s].map((x, i) => x[k] / per[base][i][k]); return `${med(r).toFixed(3)} (IQR ${q(r, 0.25).toFixed(2)}..${q(r, 0.75).toFixed(2)})`; };
    console.log(`${s}/${base} CPU per call: node ${cpu('node')}, redis ${cpu('redis')}`);
  }
  await rawQueue.close(); await closeNotificationQueues(); await enq.close(); await enqNoStats.close();
  if (before) { await before.closeNotificationQueues(); beforeProducer.disconnect(); }
  producer.disconnect(); piped.disconnect(); plain.disconnect(); admin.disconnect();
  server.kill('SIGTERM');
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
