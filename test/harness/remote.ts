/**
 * Two pierds that are remote to each other: each in a network namespace of the
 * test's own (pt-a-<rand>, pt-b-<rand>) joined by a veth pair with a private
 * /30 of 10.200.0.0/13 that the host does not route, each with its own data
 * root, a unix socket (a file, so the host reaches it) and a TLS listener on
 * tcp://<its veth address>:2376 that requires client certificates (mTLS)
 * signed by a CA made by `pier tls generate` (certs.ts). Traffic between them goes only
 * over that veth; inside each namespace the daemon makes its own bridges and
 * iptables chains, which go with the namespace.
 *
 *   const p = await startPair();
 *   try { … p.a.sock … p.b.tcp … p.certs.client … } finally { await p.cleanup(); }
 *
 * The daemons enter only the network namespace (nsenter --net), not a mount
 * namespace as `ip netns exec` would make, whose fresh /sys has no cgroup
 * mounts for runc; so their mounts are the host's to clean up, and /sys/class/net
 * shows the host's interfaces (the bridge driver's existence checks there only
 * decide whether to add a bridge, which the namespace does not have yet).
 * Cleanup kills by pid the daemon, then whatever still runs in the namespace
 * (container monitors and containers the test started), then removes the
 * namespaces, and so the veth and bridges.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { api, PIER, PIERD, reapContainers, routedV4, testNet, unmountUnder } from './daemon.js';
import { expiredClientCert, generateCerts } from './certs.js';

export interface TlsPair {
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  /** The CA both daemons trust (file path). */
  ca: string;
  server: TlsPair;
  /** A client certificate of the trusted CA. */
  client: TlsPair;
  /** Of the trusted CA, but expired (valid 2020-01-01 to 2020-01-02). */
  expired: TlsPair;
  /** A CA the daemons do not trust, and a client certificate of it. */
  otherCa: string;
  other: TlsPair;
}

export interface NsDaemon {
  name: string;
  /** Its network namespace. */
  ns: string;
  /** Its veth address. */
  ip: string;
  /** tcp://IP:2376 (mTLS). */
  tcp: string;
  root: string;
  sock: string;
  /** unix:///…/pier.sock */
  host: string;
  proc: ChildProcess;
  log(): string;
  alive(): boolean;
}

export interface Pair {
  a: NsDaemon;
  b: NsDaemon;
  certs: TestCerts;
  /** `pier` against a daemon's unix socket, from the host. */
  pier(d: NsDaemon, args: string[], o?: { timeoutMs?: number }): { code: number; stdout: string; stderr: string };
  /** `pier` run inside a's namespace (so it reaches b's TLS address), with extra environment. */
  pierInA(args: string[], env?: Record<string, string>, o?: { timeoutMs?: number }): { code: number; stdout: string; stderr: string };
  cleanup(): Promise<void>;
}

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
};

/** Why these tests cannot run here, or false. */
export function remoteSkip(): string | false {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'ip netns is not available';
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl is not installed';
  return false;
}

/** A /30 of 10.200.0.0/13 no host route covers or falls in: [first address, second address]. */
function pickLink(): [string, string] {
  const routes = routedV4();
  for (;;) {
    const base = ((10 << 24) | ((200 + Math.floor(Math.random() * 8)) << 16) | (Math.floor(Math.random() * 256) << 8) | (Math.floor(Math.random() * 64) << 2)) >>> 0;
    const clash = routes.some(([net, mask]) => (base & mask) >>> 0 === net || ((net & 0xfffffffc) >>> 0 === base));
    if (clash) continue;
    const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    return [ip(base + 1), ip(base + 2)];
  }
}

/** A CA, a server certificate for `ips`, client certificates (good, expired, of another CA): certs.ts's sets. */
export function makeCerts(dir: string, ips: string[]): TestCerts {
  const set = generateCerts(dir, [...ips, '127.0.0.1'].join(','));
  const other = generateCerts(join(dir, 'other'));
  return {
    dir, ca: set.ca, server: { cert: set.serverCert, key: set.serverKey }, client: { cert: set.cert, key: set.key },
    expired: expiredClientCert(set, dir), otherCa: other.ca, other: { cert: other.cert, key: other.key },
  };
}

async function ping(sock: string): Promise<boolean> {
  try {
    return (await api(sock, 'GET', '/_ping')).status === 200;
  } catch {
    return false;
  }
}

function startIn(name: string, ns: string, ip: string, certs: TestCerts): NsDaemon {
  const root = mkdtempSync(`/tmp/pier-remote-${name}-`);
  const sock = join(root, 'pier.sock');
  const net = testNet();
  const args = [
    `--net=/run/netns/${ns}`, '--', process.execPath, PIERD,
    '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'pierd.pid'),
    '--bridge', net.bridge, '--bip', net.bip, '--default-address-pool', net.pool,
    '-H', `unix://${sock}`, '-H', `tcp://${ip}:2376`,
    '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.server.cert, '--tlskey', certs.server.key,
  ];
  let logText = '';
  // nsenter execs the program: the child's pid is the daemon's.
  const proc = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => (logText += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (logText += d.toString()));
  return {
    name, ns, ip, tcp: `tcp://${ip}:2376`, root, sock, host: `unix://${sock}`, proc,
    log: () => logText,
    alive: () => proc.exitCode === null && proc.signalCode === null,
  };
}

async function waitUp(d: NsDaemon): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!d.alive()) throw new Error(`pierd ${d.name} exited:\n${d.log()}`);
    if (existsSync(d.sock) && (await ping(d.sock))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pierd ${d.name} did not answer within 20 s:\n${d.log()}`);
}

/** Stops a daemon and everything left in its namespace, by pid. */
async function stopIn(d: NsDaemon): Promise<void> {
  if (d.alive() && existsSync(d.sock)) {
    try {
      const list = (await api(d.sock, 'GET', '/containers/json?all=1')).json<{ Id: string }[]>();
      await Promise.all(list.map((c) => api(d.sock, 'DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined)));
    } catch {
      /* not answering: the kills below still run */
    }
  }
  if (d.alive()) {
    const exited = new Promise((r) => d.proc.once('exit', r));
    d.proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (d.alive()) d.proc.kill('SIGKILL');
  }
  reapContainers(join(d.root, 'exec'));
  // Monitors and containers still in the namespace (a killed daemon leaves them): ours, by pid.
  const pids = spawnSync('ip', ['netns', 'pids', d.ns], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function startPair(): Promise<Pair> {
  const rand = randomBytes(3).toString('hex');
  const nsA = `pt-a-${rand}`;
  const nsB = `pt-b-${rand}`;
  const [ipA, ipB] = pickLink();
  const made: string[] = [];
  const daemons: NsDaemon[] = [];
  const certDir = mkdtempSync('/tmp/pier-remote-certs-');
  const cleanup = async () => {
    for (const d of daemons) await stopIn(d).catch(() => undefined);
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    for (const d of daemons) {
      unmountUnder(d.root);
      rmSync(d.root, { recursive: true, force: true });
    }
    rmSync(certDir, { recursive: true, force: true });
  };
  try {
    for (const ns of [nsA, nsB]) {
      sh('ip', ['netns', 'add', ns]);
      made.push(ns);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The veth is made in a's namespace directly, so it never appears on the host.
    sh('ip', ['-n', nsA, 'link', 'add', `pva${rand}`, 'type', 'veth', 'peer', 'name', `pvb${rand}`, 'netns', nsB]);
    sh('ip', ['-n', nsA, 'addr', 'add', `${ipA}/30`, 'dev', `pva${rand}`]);
    sh('ip', ['-n', nsB, 'addr', 'add', `${ipB}/30`, 'dev', `pvb${rand}`]);
    sh('ip', ['-n', nsA, 'link', 'set', `pva${rand}`, 'up']);
    sh('ip', ['-n', nsB, 'link', 'set', `pvb${rand}`, 'up']);
    const certs = makeCerts(certDir, [ipA, ipB]);
    const a = startIn('a', nsA, ipA, certs);
    daemons.push(a);
    const b = startIn('b', nsB, ipB, certs);
    daemons.push(b);
    await Promise.all([waitUp(a), waitUp(b)]);
    const run = (cmd: string[], env: Record<string, string>, timeoutMs = 120_000) => {
      const r = spawnSync(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 28 });
      return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    return {
      a, b, certs, cleanup,
      pier: (d, args, o = {}) => run([process.execPath, PIER, ...args], { PIER_HOST: d.host, DOCKER_HOST: d.host, DOCKER_CONFIG: join(certDir, 'docker-config') }, o.timeoutMs),
      pierInA: (args, env = {}, o = {}) => run(['nsenter', `--net=/run/netns/${nsA}`, '--', process.execPath, PIER, ...args], { DOCKER_CONFIG: join(certDir, 'docker-config'), ...env }, o.timeoutMs),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
