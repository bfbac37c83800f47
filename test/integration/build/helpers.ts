/**
 * What the build tests share: a context tar made in memory, POST /build with
 * its streamed messages collected, the output split into steps, contexts
 * written to disk for the docker CLI, and the CLI itself with the classic
 * builder (DOCKER_BUILDKIT=0) run without blocking the event loop.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import tar from 'tar-stream';
import { api, type TestDaemon } from '../../harness/daemon.js';
import { dockerCli } from '../../harness/dockerd.js';

export type Entry = { name: string; content?: string | Buffer; type?: 'file' | 'symlink' | 'directory'; linkname?: string; mode?: number; mtime?: Date };

export async function contextTar(entries: Entry[]): Promise<Buffer> {
  const p = tar.pack();
  for (const e of entries) {
    const common = { name: e.name, ...(e.mtime ? { mtime: e.mtime } : {}) };
    if (e.type === 'symlink') p.entry({ ...common, type: 'symlink', linkname: e.linkname! });
    else if (e.type === 'directory') p.entry({ ...common, type: 'directory', mode: e.mode ?? 0o755 });
    else p.entry({ ...common, mode: e.mode ?? 0o644 }, e.content ?? '');
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface BuildResult {
  status: number;
  /** The `stream` messages joined: the build's output. */
  text: string;
  id?: string;
  error?: string;
}

/** POST /build with a context made of entries (or a raw body); the query is appended as is. */
export async function build(d: TestDaemon, entries: Entry[] | Buffer, query = ''): Promise<BuildResult> {
  const body = Buffer.isBuffer(entries) ? entries : await contextTar(entries);
  const r = await api(d.sock, 'POST', `/build?${query}`, body, { 'Content-Type': 'application/x-tar' });
  if (r.status !== 200) {
    let message = r.text();
    try {
      message = r.json<{ message: string }>().message;
    } catch {
      /* not JSON */
    }
    return { status: r.status, text: '', error: message };
  }
  const msgs = r.messages<{ stream?: string; aux?: { ID: string }; error?: string }>();
  return {
    status: r.status,
    text: msgs.map((m) => m.stream ?? '').join(''),
    id: msgs.find((m) => m.aux)?.aux?.ID,
    error: msgs.find((m) => m.error)?.error,
  };
}

/** The output cut at each "Step n/N : " line: [n] is step n's part, [0] what came before step 1 ('' when nothing did). */
export function steps(text: string): string[] {
  const parts = text.split(/(?=^Step \d+\/\d+ : )/m);
  return /^Step \d+\/\d+ : /.test(parts[0] ?? '') ? ['', ...parts] : parts;
}

export const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, 'g')) ?? []).length;

/** Writes entries into dir (made if missing). */
export function writeContext(dir: string, entries: Record<string, string | Buffer>): string {
  for (const [name, content] of Object.entries(entries)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command with extra env, without blocking the event loop; killed after timeoutMs. */
export function run(cmd: string, args: string[], o: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...o.env }, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => {
      stderr += `\n[${cmd} ${args.join(' ')} timed out]`;
      p.kill('SIGKILL');
    }, o.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(t);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The docker CLI (28) against a daemon, with the classic builder. */
export function docker(d: TestDaemon, args: string[], o: { cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return run(dockerCli()!, args, { ...o, env: { DOCKER_HOST: d.host, DOCKER_CONFIG: '/tmp/pier-test-docker-config', DOCKER_BUILDKIT: '0' } });
}

/** The containers the daemon has, stopped ones included: their IDs. */
export async function containerIds(d: TestDaemon): Promise<string[]> {
  return (await api(d.sock, 'GET', '/containers/json?all=1')).json<{ Id: string }[]>().map((c) => c.Id).sort();
}
