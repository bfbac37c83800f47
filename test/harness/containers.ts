/**
 * Helpers for the container tests: the busybox image every daemon needs, the
 * docker CLI as a long-running child (logs -f, attach, events), a private tmux
 * server for `-it`, polling, events and cgroup paths. Everything started here
 * is remembered and ended by pid in `endAll()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { api, PIER, type TestDaemon } from './daemon.js';
import { dockerCli } from './dockerd.js';

const DOCKER_CONFIG = '/tmp/pier-test-docker-config';

/**
 * The docker CLI against a host, like dockerd.ts's docker() but never hanging a
 * test run: killed after timeoutMs (then code -1 and a note on stderr).
 */
export function docker(host: string, args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(dockerCli()!, args, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG }, input: o.input, maxBuffer: 1 << 30, timeout: o.timeoutMs ?? 30_000, killSignal: 'SIGKILL',
  });
  const timedOut = r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: (r.stderr?.toString() ?? '') + (timedOut ? `\n[docker ${args.join(' ')} timed out]` : '') };
}

/** docker() and a variant that asserts exit 0 and returns stdout. */
export function cli(host: () => string): { dk: (...args: string[]) => ReturnType<typeof docker>; ok: (...args: string[]) => string } {
  const dk = (...args: string[]) => docker(host(), args);
  const ok = (...args: string[]) => {
    const r = dk(...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  return { dk, ok };
}

/** Why the container tests cannot run here, or false. */
export function containerSkip(o: { docker?: boolean; tmux?: boolean } = {}): string | false {
  if (process.getuid?.() !== 0) return 'containers need root';
  if (!existsSync('/bin/busybox')) return 'busybox-static is not installed';
  if (spawnSync('runc', ['--version']).status !== 0) return 'runc is not installed';
  if (o.docker && !dockerCli()) return 'the docker CLI is not installed';
  if (o.tmux && spawnSync('tmux', ['-V']).status !== 0) return 'tmux is not installed';
  return false;
}

/** `pier image busybox --tag <tag>` against the daemon; returns the image id. */
export function busyboxImage(d: TestDaemon, tag = 'busybox:latest'): string {
  const r = spawnSync(process.execPath, [PIER, 'image', 'busybox', '--tag', tag], { env: { ...process.env, PIER_HOST: d.host }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pier image busybox failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Polls fn until it returns something truthy; fails with `what` after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();

export interface Running {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process ends. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  write(s: string | Buffer): void;
  end(): void;
  kill(sig?: NodeJS.Signals): void;
}

/** Spawns a command whose output is collected as it comes; ended by endAll() if still running. */
export function start(cmd: string, args: string[], env: Record<string, string> = {}): Running {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdin!.on('error', () => undefined);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    proc.once('close', (code, signal) => {
      children.delete(proc);
      res({ code, signal, stdout: out, stderr: err });
    }),
  );
  return {
    proc, done,
    stdout: () => out,
    stderr: () => err,
    write: (s) => void proc.stdin!.write(s),
    end: () => void proc.stdin!.end(),
    kill: (sig = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid) process.kill(proc.pid, sig);
    },
  };
}

/** The docker CLI against a daemon, running in the background. */
export function dockerStart(host: string, args: string[]): Running {
  return start(dockerCli()!, args, { DOCKER_HOST: host, DOCKER_CONFIG });
}

/** Ends every process started here that still runs, by pid. */
export async function endAll(): Promise<void> {
  const left = [...children];
  for (const c of left) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
  await Promise.all(left.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once('close', r)))));
}

/**
 * A terminal: a private tmux server (its own socket) with one 100x30
 * pane running `cmd` under sh; `EXIT=<code>` is printed when it ends and the
 * pane stays, so the exit code can be read. kill() ends the server.
 */
export class Tmux {
  /** The server's socket, in a directory of its own (removed by kill()). */
  readonly socket = join(mkdtempSync('/tmp/pier-tmux-'), 'sock');
  constructor(private readonly env: Record<string, string>) {}

  private tmux(args: string[]): { code: number | null; out: string; err: string } {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { env: { ...process.env, ...this.env, TERM: 'xterm' }, encoding: 'utf8' });
    return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
  }

  open(cmd: string): void {
    const r = this.tmux(['new-session', '-d', '-s', 'main', '-x', '100', '-y', '30', `sh -c '${cmd.replace(/'/g, `'\\''`)}; echo EXIT=$?; sleep 120'`]);
    if (r.code !== 0) throw new Error(`tmux new-session failed: ${r.err}`);
  }

  /** Keys as tmux names them (Enter, C-p, C-d) or literal text with literal=true. */
  send(keys: string[], literal = false): void {
    const r = this.tmux(['send-keys', '-t', 'main', ...(literal ? ['-l'] : []), ...keys]);
    if (r.code !== 0) throw new Error(`tmux send-keys failed: ${r.err}`);
  }

  type(text: string): void {
    this.send([text], true);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-t', 'main', '-S', '-100']).out;
  }

  async waitFor(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    let last = '';
    try {
      return await waitFor(`${re} on the terminal`, () => (last = this.screen()).match(re), timeoutMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- screen ---\n${last}`);
    }
  }

  /** Waits until the screen has not changed for quietMs (a program done drawing). */
  async settle(quietMs = 300, timeoutMs = 5000): Promise<string> {
    let last = this.screen();
    let since = Date.now();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() - since < quietMs && Date.now() < deadline) {
      await sleep(50);
      const now = this.screen();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
    }
    return last;
  }

  kill(): void {
    this.tmux(['kill-server']);
    rmSync(dirname(this.socket), { recursive: true, force: true });
  }
}

/** Env for the docker CLI inside a tmux pane. */
export const dockerEnv = (d: TestDaemon) => ({ DOCKER_HOST: d.host, DOCKER_CONFIG, PATH: `${join(dockerCli() ?? '/usr/local/bin/docker', '..')}:${process.env.PATH}` });

export interface Event {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

/** Every event of the daemon so far matching filters. */
export async function pastEvents(d: TestDaemon, filters: Record<string, string[]> = {}): Promise<Event[]> {
  const until = (Date.now() / 1000).toFixed(3);
  const r = await api(d.sock, 'GET', `/events?since=0&until=${until}&filters=${encodeURIComponent(JSON.stringify(filters))}`);
  if (r.status !== 200) throw new Error(`GET /events: ${r.status} ${r.text()}`);
  return r.messages<Event>();
}

/** Waits until the container's events include every action in want (prefix match: "exec_start" matches "exec_start: ls"). */
export async function waitForEvents(d: TestDaemon, id: string, want: string[], timeoutMs = 10_000): Promise<string[]> {
  let actions: string[] = [];
  try {
    await waitFor(`events ${want.join(', ')}`, async () => {
      actions = (await pastEvents(d, { container: [id] })).map((e) => e.Action);
      return want.every((w) => actions.some((a) => a === w || a.startsWith(`${w}:`)));
    }, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}; got ${JSON.stringify(actions)}`);
  }
  return actions;
}

/** The cgroup v1 directory of a container under the default parent "pier" (v2: the unified one). */
export function cgroupDir(controller: string, id: string): string {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  return v2 ? `/sys/fs/cgroup/pier/${id}` : `/sys/fs/cgroup/${controller}/pier/${id}`;
}

export const readText = (p: string) => readFileSync(p, 'utf8');

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Docker's multiplexed stream split into frames. */
export function demux(b: Buffer): { stream: number; data: string }[] {
  const out: { stream: number; data: string }[] = [];
  let o = 0;
  while (o + 8 <= b.length) {
    const n = b.readUInt32BE(o + 4);
    out.push({ stream: b[o]!, data: b.subarray(o + 8, o + 8 + n).toString() });
    o += 8 + n;
  }
  if (o !== b.length) throw new Error(`trailing ${b.length - o} bytes are not a frame`);
  return out;
}

/** Creates a container over the API (name optional) and returns its id. */
export async function create(d: TestDaemon, body: object, name?: string): Promise<string> {
  const r = await api(d.sock, 'POST', `/containers/create${name ? `?name=${encodeURIComponent(name)}` : ''}`, body);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text()}`);
  return r.json<{ Id: string }>().Id;
}

export async function inspect(d: TestDaemon, ref: string): Promise<any> {
  const r = await api(d.sock, 'GET', `/containers/${ref}/json`);
  if (r.status !== 200) throw new Error(`inspect ${ref}: ${r.status} ${r.text()}`);
  return r.json();
}

/** The mount points below dir (from this process's mount table). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')));
}

/**
 * `docker run -d <args>`, then wait, logs and rm: the container's exit code and
 * output as its log file has them. (Reading a run's output from its log keeps
 * these tests independent of the attach path, which has its own tests.)
 */
export function runLogged(host: string, args: string[]): { code: number; stdout: string; stderr: string; id: string } {
  const name = `logged-${process.pid}-${++loggedCount}`;
  const r = docker(host, ['run', '-d', '--name', name, ...args]);
  if (r.code !== 0) return { code: r.code, stdout: r.stdout, stderr: r.stderr, id: '' };
  const id = r.stdout.trim();
  const w = docker(host, ['wait', name]);
  if (w.code !== 0) throw new Error(`docker wait ${name}: ${w.stderr}`);
  const l = docker(host, ['logs', name]);
  docker(host, ['rm', '-f', name]);
  return { code: Number(w.stdout.trim()), stdout: l.stdout, stderr: l.stderr, id };
}
let loggedCount = 0;
