import { existsSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { findPostgresBinDir, startPostgresServer } from './postgres-server';

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
  });

test('startPostgresServer runs a private cluster on its own port and socket directory, and stop() ends it by PID', async () => {
  expect(findPostgresBinDir()).toMatch(/bin$/);
  const server = await startPostgresServer();
  try {
    expect(server.port).not.toBe(5432);
    expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
    expect(Number(readFileSync(`${server.dataDir}/postmaster.pid`, 'utf8').split('\n')[0])).toBe(server.pid);
    expect(existsSync(`${server.socketDir}/.s.PGSQL.${server.port}`)).toBe(true);
    expect(await accepts(server.port)).toBe(true);
    // Never as root: initdb and postgres refuse it.
    const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
    expect(/^Uid:\s+0\s/m.test(status)).toBe(false);
  } finally {
    await server.stop();
  }
  expect(() => process.kill(server.pid, 0)).toThrow();
  expect(existsSync(server.dataDir)).toBe(false);
  expect(existsSync(server.socketDir)).toBe(false);
  expect(await accepts(server.port)).toBe(false);
}, 120_000);
