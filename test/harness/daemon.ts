/**
 * A pierd of the test's own: its own temp data root, exec root and socket,
 * started as a user would start it (bin/pierd), stopped by pid, and its mounts
 * removed even when the test failed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request as httpRequest } from 'node:http';
import { sys } from '../../src/base/sys.js';

export const REPO = resolve(new URL('../../..', import.meta.url).pathname);
export const PIERD = join(REPO, 'bin/pierd');
export const PIER = join(REPO, 'bin/pier');

export interface TestDaemon {
  root: string;
  dataRoot: string;
  sock: string;
  host: string;
  proc: ChildProcess;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): Promise<void>;
}

export async function startDaemon(o: { args?: string[]; root?: string; config?: object } = {}): Promise<TestDaemon> {
  const root = o.root ?? mkdtempSync('/tmp/pier-test-');
  const dataRoot = join(root, 'data');
  const sock = join(root, 'pier.sock');
  const args = ['--data-root', dataRoot, '--exec-root', join(root, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(root, 'pierd.pid'), ...(o.args ?? [])];
  if (o.config) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(root, 'daemon.json'), JSON.stringify(o.config));
    args.push('--config-file', join(root, 'daemon.json'));
  }
  let logText = '';
  const proc = spawn(process.execPath, [PIERD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => (logText += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (logText += d.toString()));
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  const d: TestDaemon = {
    root, dataRoot, sock, host: `unix://${sock}`, proc,
    log: () => logText,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    async cleanup() {
      // Live restore keeps containers running past the daemon: remove them first, then reap what is left.
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          const list = (await api(sock, 'GET', '/containers/json?all=1')).json<{ Id: string }[]>();
          await Promise.all(list.map((c) => api(sock, 'DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined)));
        } catch {
          /* the daemon is not answering: the runtime sweep below still runs */
        }
      }
      await d.stop().catch(() => {});
      reapContainers(join(root, 'exec'));
      unmountUnder(root);
      rmSync(root, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`pierd exited with ${proc.exitCode}:\n${logText}`);
    if (existsSync(sock) && (await ping(sock))) return d;
    await new Promise((r) => setTimeout(r, 50));
  }
  await d.cleanup();
  throw new Error(`pierd did not answer on ${sock} within 15s:\n${logText}`);
}

async function ping(sock: string): Promise<boolean> {
  try {
    return (await api(sock, 'GET', '/_ping')).status === 200;
  } catch {
    return false;
  }
}

/** Force-deletes every container runc knows under this exec root (monitors end with them). */
export function reapContainers(execRoot: string): void {
  const rtRoot = join(execRoot, 'runtime', 'runc');
  if (!existsSync(rtRoot)) return;
  const r = spawnSync('runc', ['--root', rtRoot, 'list', '-q'], { encoding: 'utf8' });
  for (const id of (r.stdout ?? '').split('\n').filter(Boolean)) spawnSync('runc', ['--root', rtRoot, 'delete', '--force', id]);
}

/** Unmounts everything mounted below dir, deepest first (lazy, so nothing can keep it). */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      sys().umount(m.replace(/\\040/g, ' '), 2);
    } catch {
      /* already gone */
    }
  }
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json<T = any>(): T;
  /** Newline-delimited JSON messages of a streamed response. */
  messages<T = any>(): T[];
}

export function api(sock: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return new Promise((resolvePromise, reject) => {
    const isStream = body && typeof (body as NodeJS.ReadableStream).pipe === 'function';
    const payload = body === undefined || isStream ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      { socketPath: sock, method, path, headers: { ...(payload && !Buffer.isBuffer(body) ? { 'Content-Type': 'application/json' } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: buf,
            text: () => buf.toString('utf8'),
            json: () => JSON.parse(buf.toString('utf8')),
            messages: () => buf.toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (isStream) (body as NodeJS.ReadableStream).pipe(req);
    else req.end(payload);
  });
}
