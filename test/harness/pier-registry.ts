/**
 * A `pier registry serve` of the test's own, started as a user would start it
 * (bin/pier registry serve --addr 127.0.0.1:PORT --root DIR), stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:http';
import { PIER } from './daemon.js';

export interface PierRegistry {
  root: string;
  port: number;
  host: string; // "127.0.0.1:PORT"
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

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

function v2ok(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    });
    r.on('error', () => resolve(false));
    r.end();
  });
}

export async function startPierRegistry(o: { args?: string[] } = {}): Promise<PierRegistry> {
  const root = mkdtempSync('/tmp/pier-reg-');
  const port = await freePort();
  let logText = '';
  const proc = spawn(process.execPath, [PIER, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', join(root, 'data'), ...(o.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => (logText += d));
  proc.stderr!.on('data', (d: Buffer) => (logText += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    }
    rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`pier registry exited: ${logText}`);
    }
    if (await v2ok(port)) return { root, port, host: `127.0.0.1:${port}`, proc, log: () => logText, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`pier registry did not answer within 15s: ${logText}`);
}
