/**
 * A pierd of the test's own: its own temp data root, exec root and socket,
 * started as a user would start it (bin/pierd), stopped by pid, and its mounts
 * removed even when the test failed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request as httpRequest } from 'node:http';
import { sys } from '../../src/base/sys.js';

export const REPO = resolve(new URL('../../..', import.meta.url).pathname);
export const PIERD = join(REPO, 'bin/pierd');
export const PIER = join(REPO, 'bin/pier');

export interface TestDaemon {
  root: string;
  /** Its default bridge (its iptables chains are named after it) and its address space. */
  bridge: string;
  /** The /20 this daemon's networks come from: "10.20x.y.0/20". */
  subnet: string;
  dataRoot: string;
  sock: string;
  host: string;
  proc: ChildProcess;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): Promise<void>;
}

export interface TestNet {
  bridge: string;
  bip: string;
  pool: string;
  subnet: string;
}

/**
 * A random bridge name and a random /20 of 10.200.0.0/13 that the host does
 * not route yet (another test daemon's): the default bridge takes its first
 * /24, user networks /24s of the rest.
 */
export function testNet(): TestNet {
  const routed = routedV4();
  for (let attempt = 0; ; attempt++) {
    const block = Math.floor(Math.random() * 128); // 128 /20s in 10.200.0.0/13
    const b2 = 200 + (block >> 4);
    const b3 = (block & 15) << 4;
    const base = ((10 << 24) | (b2 << 16) | (b3 << 8)) >>> 0;
    const clash = routed.some(([net, mask]) => ((base & mask) >>> 0 === net || (net & 0xfffff000) >>> 0 === base));
    if (clash && attempt < 200) continue;
    return {
      bridge: `pt${Math.random().toString(36).slice(2, 9)}`,
      bip: `10.${b2}.${b3}.1/24`,
      pool: `base=10.${b2}.${b3}.0/20,size=24`,
      subnet: `10.${b2}.${b3}.0/20`,
    };
  }
}

/** [network, mask] of every IPv4 route of the host, as host-order numbers. */
export function routedV4(): [number, number][] {
  try {
    return readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 8 && f[7] !== '00000000')
      .map((f) => [Buffer.from(f[1]!, 'hex').readUInt32LE(0), Buffer.from(f[7]!, 'hex').readUInt32LE(0)] as [number, number]);
  } catch {
    return [];
  }
}

export async function startDaemon(o: { args?: string[]; root?: string; config?: object; net?: TestNet } = {}): Promise<TestDaemon> {
  const root = o.root ?? mkdtempSync('/tmp/pier-test-');
  const dataRoot = join(root, 'data');
  const sock = join(root, 'pier.sock');
  // A bridge and address space of its own, so test daemons run side by side and beside a dockerd.
  // A daemon restarted on the same root keeps its bridge and subnet (else the old bridge would be left behind).
  const netFile = join(root, 'net.json');
  const net: TestNet = o.net ?? (existsSync(netFile) ? (JSON.parse(readFileSync(netFile, 'utf8')) as TestNet) : testNet());
  if (!existsSync(netFile)) writeFileSync(netFile, JSON.stringify(net));
  const netArgs = o.config && ('bridge' in o.config || 'bip' in o.config) ? [] : ['--bridge', net.bridge, '--bip', net.bip, '--default-address-pool', net.pool];
  const args = ['--data-root', dataRoot, '--exec-root', join(root, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(root, 'pierd.pid'), ...netArgs, ...(o.args ?? [])];
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
  let bridges = new Set<string>([net.bridge]);
  const d: TestDaemon = {
    root, dataRoot, sock, host: `unix://${sock}`, proc, bridge: net.bridge, subnet: net.subnet,
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
          const nets = (await api(sock, 'GET', '/networks')).json<{ Options?: Record<string, string>; Id: string }[]>();
          for (const n of nets) {
            const b = n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;
            bridges = new Set([...bridges, b]);
          }
        } catch {
          /* the daemon is not answering: the runtime sweep below still runs */
        }
      }
      await d.stop().catch(() => {});
      reapContainers(join(root, 'exec'));
      sweepNetwork(net.bridge, bridges);
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

/**
 * Removes what a daemon that did not stop cleanly (killed, or failed) left of
 * its networks: its bridges and its own iptables chains. A clean stop leaves
 * nothing, which tests check separately (networks/cleanup.test.ts).
 */
export function sweepNetwork(defaultBridge: string, bridges: Iterable<string>): void {
  for (const b of bridges) if (existsSync(`/sys/class/net/${b}`)) spawnSync('ip', ['link', 'del', 'dev', b]);
  const p = defaultBridge.toUpperCase();
  const saved = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '';
  let table = '';
  const cmds: string[] = [];
  const chains: [string, string][] = [];
  for (const l of saved.split('\n')) {
    if (l.startsWith('*')) table = l.slice(1);
    else if (l.startsWith(':') && l.slice(1).startsWith(`${p}-`)) chains.push([table, l.slice(1).split(' ')[0]!]);
    else if (l.startsWith('-A ') && !l.startsWith(`-A ${p}-`) && l.includes(`-j ${p}-`)) cmds.push(`${table}\t${l.replace(/^-A /, '-D ')}`);
  }
  for (const c of cmds) {
    const [t, rule] = c.split('\t');
    spawnSync('sh', ['-c', `iptables -w -t ${t} ${rule}`]);
  }
  for (const [t, ch] of chains) spawnSync('iptables', ['-w', '-t', t, '-F', ch]);
  for (const [t, ch] of chains) spawnSync('iptables', ['-w', '-t', t, '-X', ch]);
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
