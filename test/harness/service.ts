/**
 * A program a test or benchmark starts as a user would (dockerd, docker-registry,
 * pier registry): its output kept for error messages, ready when `ready()` says
 * so, stopped by pid (SIGTERM, then SIGKILL), and its directory cleaned up after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Service {
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  ready(): Promise<boolean>;
  /** Runs after the process is gone, also when it never became ready. */
  cleanup(): void | Promise<void>;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export async function startService(o: ServiceOptions): Promise<Service> {
  let logText = '';
  const proc = spawn(o.cmd, o.args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
  proc.stdout!.on('data', (d: Buffer) => (logText += d));
  proc.stderr!.on('data', (d: Buffer) => (logText += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), o.stopTimeoutMs ?? 10000);
        await exited;
        clearTimeout(t);
      }
      await o.cleanup();
    })());
  const timeout = o.startTimeoutMs ?? 15000;
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`${o.name} exited with ${proc.exitCode}: ${logText.slice(-2000)}`);
    }
    if (await o.ready().catch(() => false)) return { proc, log: () => logText, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`${o.name} did not become ready within ${timeout / 1000}s: ${logText.slice(-2000)}`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
