/**
 * What the container areas (run, exec, ps, logs, monitor) share: the busybox
 * image on both daemons, Engine API calls that throw on an unexpected status,
 * removal of every container an area made, a bare runc bundle as the floor
 * under both daemons, and /proc readings for per-container processes.
 *
 * Every container runs with `--network none` (NetworkMode "none") on both
 * daemons: the harness's dockerd has no bridge, and Pier's bridge setup would
 * be time dockerd is not asked to spend.
 *
 * The daemons belong to the benchmark run, so "every container" on them is the
 * benchmark's own: `withCleanup` force-removes all of them when an area ends,
 * failed or not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { api, PIER, type ApiResponse } from '../test/harness/daemon.js';
import { hrnow, secondsSince } from './stats.js';
import { cliEnv, SUBJECTS, type CmdResult, type Subject, type Subjects } from './subjects.js';

export const IMAGE = 'busybox:latest';
/** The API version both daemons speak (dockerd 20.10's newest). */
export const V = '/v1.41';

/** The request body of a `docker run --network none busybox <cmd>`. */
export const createBody = (cmd: string[]) => ({ Image: IMAGE, Cmd: cmd, HostConfig: { NetworkMode: 'none' } });

/** An API call that throws unless the status is one of `ok`. */
export async function apiOk(s: Subject, method: string, path: string, body?: unknown, ok: number[] = [200, 201, 204]): Promise<ApiResponse> {
  const r = await api(s.sock, method, `${V}${path}`, body);
  if (!ok.includes(r.status)) throw new Error(`${method} ${path} on ${s.name}: HTTP ${r.status}: ${r.text().trim().slice(0, 300)}`);
  return r;
}

export async function createContainer(s: Subject, cmd: string[]): Promise<string> {
  return (await apiOk(s, 'POST', '/containers/create', createBody(cmd))).json<{ Id: string }>().Id;
}

export async function startContainer(s: Subject, id: string): Promise<void> {
  await apiOk(s, 'POST', `/containers/${id}/start`);
}

/** POST /wait: resolves with the exit code once the container has stopped. */
export async function waitContainer(s: Subject, id: string): Promise<number> {
  return (await apiOk(s, 'POST', `/containers/${id}/wait`)).json<{ StatusCode: number }>().StatusCode;
}

export async function inspectContainer(s: Subject, id: string): Promise<{ Id: string; State: { Pid: number; Running: boolean }; LogPath?: string }> {
  return (await apiOk(s, 'GET', `/containers/${id}/json`)).json();
}

/** `pier image busybox` against each daemon (it imports through the API, which dockerd has too); once per run. */
let imported: Promise<void> | undefined;
export function ensureBusybox(s: Subjects): Promise<void> {
  return (imported ??= (async () => {
    for (const n of SUBJECTS) {
      const r = spawnSync(process.execPath, [PIER, '-H', s[n].host, 'image', 'busybox', '-t', IMAGE], { env: cliEnv(), encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pier image busybox into ${n} exited ${r.status}: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
    }
  })().catch((e: unknown) => {
    imported = undefined;
    throw e;
  }));
}

/** Force-removes every container on one daemon, a few at a time; returns how many. */
export async function removeAll(s: Subject): Promise<number> {
  const list = (await apiOk(s, 'GET', '/containers/json?all=1')).json<{ Id: string }[]>();
  const queue = list.map((c) => c.Id);
  const worker = async () => {
    for (let id = queue.pop(); id; id = queue.pop()) await apiOk(s, 'DELETE', `/containers/${id}?force=1&v=1`, undefined, [204, 404]);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return list.length;
}

/**
 * Runs `body`, then removes every container on both daemons whether it
 * succeeded or not. A failure to clean up is reported, not swallowed, unless
 * the body's own failure is already on its way.
 */
export async function withCleanup<T>(s: Subjects, body: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (e) {
    await Promise.allSettled(SUBJECTS.map((n) => removeAll(s[n])));
    throw e;
  }
  await Promise.all(SUBJECTS.map((n) => removeAll(s[n])));
  return result;
}

/** Spawns a process without a shell; stdout to /dev/null when asked (100 MB of logs must not pile up in a string). */
export function runCmd(cmd: string, args: readonly string[], o: { discardStdout?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const t0 = hrnow();
    const p = spawn(cmd, args, { env: o.env ?? cliEnv(), stdio: ['ignore', o.discardStdout ? 'ignore' : 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (d: Buffer) => (stdout += d));
    p.stderr!.on('data', (d: Buffer) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, seconds: secondsSince(t0), stdout, stderr }));
  });
}

// ---- the runc floor ----------------------------------------------------------------------

/**
 * A bundle for bare `runc`: the busybox rootfs (exported from a Pier
 * container) in a plain directory, and the config.json pierd wrote for a
 * running `--network none` container, with its own process args, its own
 * /etc/{hosts,hostname,resolv.conf} and a cgroup of its own per run (top-level,
 * so runc removes it entirely). State lives under the bundle, not runc's default root.
 */
export class RuncFloor {
  readonly bundle: string;
  readonly state: string;
  private readonly config: Record<string, any>;
  private n = 0;

  private constructor(dir: string, config: Record<string, any>) {
    this.bundle = dir;
    this.state = join(dir, 'state');
    this.config = config;
  }

  /** Needs a pierd from test/harness/daemon.ts: its exec root is beside its socket. */
  static async prepare(pier: Subject, work: string): Promise<RuncFloor> {
    const dir = join(work, 'runc-floor');
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    const created = await createContainer(pier, ['true']);
    const exported = await apiOk(pier, 'GET', `/containers/${created}/export`);
    const tar = spawnSync('tar', ['-x', '-C', rootfs], { input: exported.body });
    if (tar.status !== 0) throw new Error(`extracting the busybox rootfs: ${tar.stderr.toString().trim()}`);
    const running = await createContainer(pier, ['sleep', '600']);
    await startContainer(pier, running);
    const specFile = join(dirname(pier.sock), 'exec', 'containers', running, 'config.json');
    if (!existsSync(specFile)) throw new Error(`no runtime spec at ${specFile}: has pierd's exec root moved?`);
    const config = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, any>;
    for (const id of [running, created]) await apiOk(pier, 'DELETE', `/containers/${id}?force=1`);
    config.root = { path: 'rootfs', readonly: false };
    config.process.terminal = false;
    for (const m of config.mounts as { type: string; source: string; destination: string }[]) {
      if (m.type !== 'bind') continue;
      const file = join(dir, m.destination.replace(/^\/etc\//, ''));
      writeFileSync(file, m.destination === '/etc/hosts' ? '127.0.0.1\tlocalhost\n' : m.destination === '/etc/hostname' ? 'floor\n' : '');
      m.source = file;
    }
    const floor = new RuncFloor(dir, config);
    // main.ts exits from its signal handler without unwinding: leave no runc container behind then either.
    process.once('exit', floor.onExit);
    return floor;
  }

  private readonly onExit = () => this.cleanup();

  private write(args: string[]): string {
    const id = `pier-bench-floor-${process.pid}-${this.n++}`;
    this.config.process.args = args;
    this.config.linux.cgroupsPath = `/${id}`;
    writeFileSync(join(this.bundle, 'config.json'), JSON.stringify(this.config));
    return id;
  }

  private runc(args: string[], stdio: 'pipe' | 'ignore' = 'pipe'): Promise<CmdResult> {
    return new Promise((resolve, reject) => {
      const t0 = hrnow();
      const p = spawn('runc', ['--root', this.state, ...args], { stdio: ['ignore', stdio, 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout?.on('data', (d: Buffer) => (stdout += d));
      p.stderr!.on('data', (d: Buffer) => (stderr += d));
      p.on('error', reject);
      // Not 'close': after `runc create` the container's init holds runc's stderr until it exits.
      p.on('exit', (code) => {
        resolve({ code: code ?? -1, seconds: secondsSince(t0), stdout, stderr });
        if (stdio === 'ignore') p.stderr!.destroy();
      });
    });
  }

  private async ok(args: string[], stdio: 'pipe' | 'ignore' = 'pipe'): Promise<CmdResult> {
    const r = await this.runc(args, stdio);
    if (r.code !== 0) throw new Error(`runc ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  }

  /** `runc run` in the foreground (it deletes the container when the process exits); seconds. */
  async run(args: string[]): Promise<number> {
    const id = this.write(args);
    return (await this.ok(['run', '-b', this.bundle, id])).seconds;
  }

  /** What a daemon's API run does at the bottom: create, start, wait for the exit, delete; seconds. */
  async lifecycle(args: string[]): Promise<number> {
    const id = this.write(args);
    const pidFile = join(this.bundle, 'init.pid');
    const t0 = hrnow();
    // The container's stdio is runc create's: /dev/null, so nothing holds a pipe open.
    await this.ok(['create', '-b', this.bundle, '--pid-file', pidFile, id], 'ignore');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await this.ok(['start', id]);
    // Not our child: it has exited when /proc says it is gone or a zombie.
    while (processState(pid) !== undefined && processState(pid) !== 'Z') await new Promise((r) => setTimeout(r, 1));
    await this.ok(['delete', id]);
    return secondsSince(t0);
  }

  /** Deletes anything left in the floor's runc state and its cgroups. */
  cleanup(): void {
    process.off('exit', this.onExit);
    const r = spawnSync('runc', ['--root', this.state, 'list', '-q'], { encoding: 'utf8' });
    for (const id of (r.stdout ?? '').split('\n').filter(Boolean)) spawnSync('runc', ['--root', this.state, 'delete', '--force', id]);
    removeFloorCgroups();
    rmSync(this.bundle, { recursive: true, force: true });
  }
}

/** Top-level cgroups the floor made (runc removes them itself unless a run failed half-way). */
function removeFloorCgroups(): void {
  const prefix = `pier-bench-floor-${process.pid}-`;
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  for (const root of roots) {
    let entries: string[] = [];
    try {
      entries = readdirSync(root).filter((e) => e.startsWith(prefix));
    } catch {
      continue;
    }
    for (const e of entries) {
      try {
        rmdirSync(join(root, e));
      } catch {
        /* still busy or already gone */
      }
    }
  }
}

// ---- /proc ---------------------------------------------------------------------------------

/** The third field of /proc/<pid>/stat (R, S, Z, …), undefined when the process is gone. comm may hold spaces and ')'. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

export const commOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
};

/** A field of /proc/<pid>/status (VmRSS) or smaps_rollup (Pss) in MiB; 0 for a process that has gone. */
export function memMiB(pid: number, field: 'VmRSS' | 'Pss'): number {
  try {
    const file = field === 'Pss' ? `/proc/${pid}/smaps_rollup` : `/proc/${pid}/status`;
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return kb ? Number(kb[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** pid → parent pid for every live process. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      m.set(Number(e), ppidOf(Number(e)));
    } catch {
      /* exited meanwhile */
    }
  }
  return m;
}

/** The process tree under `root` without the subtrees rooted at `cut` (per-container monitors and what they run). */
export function treeWithout(root: number, cut: ReadonlySet<number>): number[] {
  const ppid = parents();
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, parent] of ppid) if (parent === tree[i] && !cut.has(pid)) tree.push(pid);
  return tree;
}

/** A raw HTTP request on a new connection to the daemon, for hijacked endpoints: resolves with the bytes of the stream once the daemon closes it. */
export function hijack(s: Subject, path: string, body: unknown): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = request({
      socketPath: s.sock, method: 'POST', path: `${V}${path}`, agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length, Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    req.on('upgrade', (res, socket, head) => {
      let bytes = head.length;
      socket.on('data', (d: Buffer) => (bytes += d.length));
      socket.on('end', () => {
        socket.end();
        resolve({ status: res.statusCode ?? 0, bytes });
      });
      socket.on('error', reject);
    });
    // A daemon may also answer without upgrading: the stream is then the response body.
    req.on('response', (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}
