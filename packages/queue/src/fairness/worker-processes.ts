// Test support (not exported from index.ts): worker processes forked from a test fixture, for the
// multi-process fairness and tenant-control tests.
import { fork, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';

/** Forked fixture processes: each started one signals `ready` with a message; all stopped by PID. */
export class WorkerProcesses {
  /** The processes still running. */
  readonly running = new Set<ChildProcess>();

  constructor(private readonly fixture: string) {}

  /** Forks `count` processes with `args` and resolves once each has said it is ready. */
  start(count: number, args: readonly string[]): Promise<ChildProcess[]> {
    return Promise.all(
      Array.from({ length: count }, async () => {
        const child = fork(this.fixture, [...args], { env: { ...process.env }, stdio: 'ignore' });
        this.running.add(child);
        child.once('exit', () => this.running.delete(child));
        await new Promise((resolve, reject) => {
          child.once('message', resolve);
          child.once('exit', (code) => reject(new Error(`${basename(this.fixture)} exited with ${code} before it was ready`)));
        });
        return child;
      }),
    );
  }

  /** SIGTERM to every running process (a graceful close); resolves when all have exited. */
  stop(): Promise<void> {
    return Promise.all(
      [...this.running].map((child) => new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })),
    ).then(() => undefined);
  }

  /** SIGKILL to every process still running (for `afterAll`, after a failed test). */
  killAll(): void {
    for (const child of this.running) if (child.pid) process.kill(child.pid, 'SIGKILL');
  }
}
