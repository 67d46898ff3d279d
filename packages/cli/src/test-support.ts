// Shared by the CLI's tests (not part of the package: tsup bundles only index.ts and bin.ts).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { main } from './main';

/** The built binary: `npm test` builds every package first (or: npx turbo run build --filter=@platform/cli...). */
export const BIN = join(__dirname, '..', 'dist', 'bin.js');

/** What a CLI run printed, and its exit code (`null` when a signal ended the child). */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * This process's environment without any `REDIS_*` or `PLATFORM_DASHBOARD_*` variable (so the
 * machine's own settings cannot leak into a test), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('REDIS_') || key.startsWith('PLATFORM_DASHBOARD_')) delete env[key];
  return { ...env, ...extra };
}

/** Runs `platform <args>` in this process (`main`), with `env` as its whole environment. */
export async function runMain(args: string[], env: NodeJS.ProcessEnv = { REDIS_URL: process.env.REDIS_URL! }): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { env, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** Runs the built binary in a child process with {@link cleanEnv} plus `REDIS_URL` and `extraEnv`. */
export function runBin(args: string[], redisUrl: string, extraEnv: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv({ REDIS_URL: redisUrl, ...extraEnv }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
