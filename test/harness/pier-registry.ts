/**
 * A `pier registry serve` of the test's own, started as a user would start it
 * (bin/pier registry serve --addr 127.0.0.1:PORT --root DIR), stopped by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { PIER } from './daemon.js';
import { freePort, startService } from './service.js';

export interface PierRegistry {
  root: string;
  port: number;
  host: string; // "127.0.0.1:PORT"
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

function v2answers(port: number): Promise<boolean> {
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
  const svc = await startService({
    name: 'pier registry',
    cmd: process.execPath,
    args: [PIER, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', join(root, 'data'), ...(o.args ?? [])],
    ready: () => v2answers(port),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  });
  return { root, port, host: `127.0.0.1:${port}`, ...svc };
}
