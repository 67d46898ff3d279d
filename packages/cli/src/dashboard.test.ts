import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { waitFor } from '@platform/testing';
import { BIN, cleanEnv } from './test-support';

const TOKEN = 'cli-dashboard-token-0123456789';

function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

function start(args: string[], env: Record<string, string>): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv({ REDIS_URL: process.env.REDIS_URL!, ...env }) });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exit };
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx turbo run build --filter=@platform/cli...)`);
});

describe('platform dashboard (built binary)', () => {
  it('serves the dashboard behind PLATFORM_DASHBOARD_TOKEN and stops on SIGTERM', async () => {
    const run = start(['dashboard', '--port', '0'], { PLATFORM_DASHBOARD_TOKEN: TOKEN });
    const line = await waitFor(() => /serving (http:\/\/\S+)/.exec(run.stderr()), 20_000, 50);
    const url = line[1]!;
    expect(await status(url)).toBe(401);
    expect(await status(url, { authorization: `Bearer ${TOKEN}` })).toBe(200);
    expect(await status(`${url}tenants`, { authorization: `Bearer ${TOKEN}` })).toBe(200);
    expect(run.stderr()).not.toContain(TOKEN);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('refuses to start without a token (exit 2, names the variable)', async () => {
    const run = start(['dashboard', '--port', '0'], {});
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain('PLATFORM_DASHBOARD_TOKEN');
    expect(run.stderr()).not.toMatch(/\n\s+at /);
  });
});
