/**
 * What the service tests share: a test daemon in swarm mode with the busybox
 * image, a client of the test's own (a network namespace on a veth pair,
 * routed through the host, so a published port sees a real remote address),
 * the replica program (busybox httpd whose CGI answers with the hostname and
 * logs the client's address), and readings of a service's tasks and task
 * containers through the docker CLI and the API.
 *
 * Every namespace made here is remembered and removed by removeClients(), and
 * by a process exit hook as a last resort, so a failed test leaves no netns or
 * veth behind.
 */
import { after, before } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { api, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, cli, docker, endAll, waitFor } from '../../harness/containers.js';
import { run, startNetDaemon, type NetDaemon } from '../networks/helpers.js';

export { freePort, holdPort } from '../networks/helpers.js';

/** The API version the tests speak directly (docker 28's is 1.50; swarm's routes exist since 1.24). */
export const V = '/v1.47';

/** The label swarm puts on every task container. */
export const SERVICE_LABEL = 'com.docker.swarm.service.name';

/**
 * A test daemon with busybox:latest, in swarm mode: `docker swarm init`
 * (a daemon that is already a manager is fine).
 */
export async function startSwarmDaemon(o: { root?: string; net?: NetDaemon['net'] } = {}): Promise<NetDaemon> {
  const d = await startNetDaemon(o);
  try {
    if (!o.root) busyboxImage(d);
    await ensureSwarm(d);
    return d;
  } catch (e) {
    await d.cleanup();
    throw e;
  }
}

/** A describe's swarm: its daemon (replaced by a test that restarts it), its client, and the docker CLI bound to the daemon. */
export interface SwarmSuite {
  d: NetDaemon;
  client: Client;
  ok: ReturnType<typeof cli>['ok'];
  dk: ReturnType<typeof cli>['dk'];
}

/**
 * Registers the hooks every service test file needs: before its tests a
 * daemon in swarm mode (and with `client`, a client namespace); after them,
 * even when they failed, `teardown`, then the clients, the CLIs still running
 * and the daemon are gone.
 *
 *   const s = swarmSuite({ client: true });
 *   it('…', async () => { s.ok('service', 'ls'); await requests(s.client, port, 3); });
 */
export function swarmSuite(o: { client?: boolean; teardown?: (s: SwarmSuite) => void } = {}): SwarmSuite {
  const s = {} as SwarmSuite;
  Object.assign(s, cli(() => s.d.host));
  before(async () => {
    s.d = await startSwarmDaemon();
    if (o.client) s.client = clientNetns();
  });
  after(async () => {
    try {
      if (s.d) o.teardown?.(s);
    } finally {
      if (o.client) removeClients();
      await endAll();
      await s.d?.cleanup();
    }
  });
  return s;
}

/** `docker swarm init` unless the daemon is a manager already. */
export async function ensureSwarm(d: TestDaemon): Promise<void> {
  const info = (await api(d.sock, 'GET', `${V}/info`)).json<{ Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } }>();
  if (info.Swarm?.LocalNodeState === 'active' && info.Swarm.ControlAvailable) return;
  let r = docker(d.host, ['swarm', 'init']);
  // dockerd wants an address to advertise when the host has several; a single-node swarm needs none in earnest.
  if (r.code !== 0 && /advertise/.test(r.stderr)) r = docker(d.host, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  if (r.code !== 0 && !/already part of a swarm/.test(r.stderr)) throw new Error(`docker swarm init failed (${r.code}): ${r.stderr}`);
}

/**
 * The replica: busybox httpd on port 80 whose CGI /cgi-bin/who answers
 * "host=<hostname> version=<$VERSION or 1>" and writes "client=<REMOTE_ADDR>"
 * to the container's log (pid 1's stdout). SIGTERM ends it at once.
 */
/** A task that idles and ends at once on SIGTERM (sleep as pid 1 would wait out the grace period). */
export const IDLE = ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'];

export const REPLICA_ARGS = [
  'sh', '-c',
  [
    'mkdir -p /w/cgi-bin',
    `printf '%s\\n' '#!/bin/sh' 'echo "client=$REMOTE_ADDR" >/proc/1/fd/1' 'printf "Content-Type: text/plain\\r\\n\\r\\n"' 'echo "host=$(hostname) version=\${VERSION:-1}"' > /w/cgi-bin/who`,
    'chmod +x /w/cgi-bin/who',
    'echo ok > /w/index.html',
  ].join(' && ') +
    // httpd as pid 1 would ignore SIGTERM and every stop would wait out the grace period: sh passes it on.
    ' || exit 1; httpd -f -p 80 -h /w & trap "kill $!; exit 0" TERM; wait',
];
export const WHO = '/cgi-bin/who';

/** `docker service create --detach` of the replica program: n replicas, port → 80, --restart-delay 0s. The service ID. */
export function createReplicas(host: string, name: string, port: number, n: number): string {
  return cli(() => host).ok('service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', String(n), '--restart-delay', '0s', '-p', `${port}:80`, 'busybox:latest', ...REPLICA_ARGS).trim();
}

/**
 * The client addresses a replica logged, in order. busybox httpd listens on
 * IPv6 with v4-mapped addresses, so REMOTE_ADDR reads "[::ffff:10.0.0.2]".
 */
export function loggedClients(log: string): string[] {
  return log.split('\n').filter((l) => l.startsWith('client=')).map((l) => l.slice('client='.length).replace(/^\[(::ffff:)?/i, '').replace(/\]$/, ''));
}

/** One answer of the replica program, parsed. */
export function parseWho(body: string): { host: string; version: string } | undefined {
  const m = /^host=(\S+) version=(\S+)\s*$/.exec(body);
  return m ? { host: m[1]!, version: m[2]! } : undefined;
}

/** A client of the test's own: a network namespace whose only way out is a veth to the host. */
export interface Client {
  netns: string;
  /** The host's end of the veth (the address to send to: a published port answers there). */
  hostIp: string;
  /** The namespace's own address: what a replica must see as the remote address. */
  clientIp: string;
  /** Runs a command inside the namespace (asynchronously: the test's event loop keeps going). */
  exec(cmd: string, args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /**
   * busybox wget -qO- of http://<hostIp>:<port><path> from inside; the body, or undefined on any failure.
   * (Debian's busybox 1.35 wget dies of SIGSEGV with -T: the exec's own timeout bounds it instead.)
   */
  get(port: number, path?: string, host?: string): Promise<string | undefined>;
  remove(): void;
}

const clients = new Set<Client>();
let exitHook = false;

/**
 * A new client namespace pt-cli-<rand> with a /30 of 10.200.0.0/13 that no
 * route of the host touches, in a /20 no route touches either (so a test
 * daemon's subnets, all /20s of that range, never hold it and later daemons
 * see the route and keep away).
 */
export function clientNetns(): Client {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeClients);
  }
  const tag = randomBytes(4).toString('hex');
  const netns = `pt-cli-${tag}`;
  const hostIf = `pc${tag}h`;
  const peerIf = `pc${tag}c`;
  const base = freeSlash30();
  const hostIp = ipStr(base + 1);
  const clientIp = ipStr(base + 2);
  const sh = (args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };
  const c: Client = {
    netns, hostIp, clientIp,
    exec: (cmd, args, timeoutMs = 30_000) => run('ip', ['netns', 'exec', netns, cmd, ...args], {}, timeoutMs),
    async get(port, path = WHO, host = hostIp) {
      const r = await c.exec('/bin/busybox', ['wget', '-qO-', `http://${host}:${port}${path}`], 10_000);
      return r.code === 0 ? r.stdout : undefined;
    },
    remove() {
      spawnSync('ip', ['netns', 'del', netns]);
      // Deleting the namespace deletes the peer and with it the pair; this is for a namespace that failed half-way.
      if (spawnSync('ip', ['link', 'show', hostIf]).status === 0) spawnSync('ip', ['link', 'del', hostIf]);
      clients.delete(c);
    },
  };
  clients.add(c);
  try {
    sh(['netns', 'add', netns]);
    sh(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf, 'netns', netns]);
    sh(['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    sh(['link', 'set', hostIf, 'up']);
    sh(['-n', netns, 'link', 'set', 'lo', 'up']);
    sh(['-n', netns, 'addr', 'add', `${clientIp}/30`, 'dev', peerIf]);
    sh(['-n', netns, 'link', 'set', peerIf, 'up']);
    sh(['-n', netns, 'route', 'add', 'default', 'via', hostIp]);
  } catch (e) {
    c.remove();
    throw e;
  }
  return c;
}

/** Removes every client namespace made here that is still there. */
export function removeClients(): void {
  for (const c of [...clients]) c.remove();
}

const ipNum = (s: string) => s.split('.').reduce((n, x) => n * 256 + Number(x), 0);
const ipStr = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

function freeSlash30(): number {
  const routes = spawnSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((r) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(r))
    .map((r) => {
      const [ip, len = '32'] = r.split('/');
      const size = 2 ** (32 - Number(len));
      const start = Math.floor(ipNum(ip!) / size) * size;
      return [start, start + size - 1] as const;
    });
  const lo = ipNum('10.200.0.0');
  for (let i = 0; i < 500; i++) {
    const block = lo + Math.floor(Math.random() * 128) * 4096; // a /20 of 10.200.0.0/13
    if (routes.some(([a, b]) => a <= block + 4095 && block <= b)) continue;
    return block + Math.floor(Math.random() * 1024) * 4; // a /30 in it
  }
  throw new Error('no free /20 in 10.200.0.0/13 for a client namespace');
}

/** n requests from the client, one after the other: the parsed answers (undefined for a failed one). */
export async function requests(c: Client, port: number, n: number): Promise<({ host: string; version: string } | undefined)[]> {
  const out: ({ host: string; version: string } | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const body = await c.get(port);
    out.push(body === undefined ? undefined : parseWho(body));
  }
  return out;
}

/**
 * A client that keeps requesting in the background until stop(): Node inside
 * the namespace, a new connection per request (no keep-alive), one every
 * ~20 ms; stop() resolves with every outcome ("ok <body>" or "fail <why>").
 */
export function requestLoop(c: Client, port: number): { stop(): Promise<string[]> } {
  const js = `
    const http = require('http');
    let stopping = false;
    process.stdin.on('data', () => (stopping = true)); process.stdin.on('end', () => (stopping = true));
    const once = () => new Promise((res) => {
      const req = http.get({ host: ${JSON.stringify(c.hostIp)}, port: ${port}, path: ${JSON.stringify(WHO)}, agent: false, timeout: 5000 }, (r) => {
        let b = ''; r.setEncoding('utf8'); r.on('data', (d) => (b += d));
        r.on('end', () => res(r.statusCode === 200 ? 'ok ' + b.trim() : 'fail status ' + r.statusCode + ' ' + b.trim()));
        r.on('error', (e) => res('fail ' + e.code));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => res('fail ' + (e.code || e.message)));
    });
    // A failure says when its request started and how long it took (to line it up with the daemon's log).
    (async () => { while (!stopping) { const t0 = Date.now(); const r = await once(); console.log(r.startsWith('ok') ? r : r + ' at=' + t0 + ' took=' + (Date.now() - t0)); await new Promise((r) => setTimeout(r, 20)); } })();`;
  const p = spawn('ip', ['netns', 'exec', c.netns, process.execPath, '-e', js], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((res) => p.once('close', () => res()));
  return {
    async stop() {
      p.stdin!.end();
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
      if (err.trim()) throw new Error(`request loop: ${err}`);
      return out.split('\n').filter(Boolean);
    },
  };
}

export interface TaskRow {
  id: string;
  name: string;
  slot: number;
  desired: string;
  /** "Running 3 seconds ago" → "Running". */
  current: string;
  error: string;
}

/** `docker service ps --no-trunc <svc>` as rows (every task, ended ones too). */
export function servicePs(host: string, svc: string, extra: string[] = []): TaskRow[] {
  const r = docker(host, ['service', 'ps', '--no-trunc', ...extra, '--format', '{{.ID}}|{{.Name}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}', svc]);
  if (r.code !== 0) throw new Error(`docker service ps ${svc} failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => {
    const [id, rawName, desired, current, error] = l.split('|');
    // The CLI indents a slot's older tasks as " \_ name".
    const name = rawName!.replace(/^\s*\\_\s*/, '').trim();
    return { id: id!, name, slot: Number(name.split('.').pop()), desired: desired!, current: current!.split(' ')[0]!, error: error ?? '' };
  });
}

/** IDs of the service's running task containers (docker ps, label filter); `all` for stopped ones too. */
export function taskContainers(host: string, svc: string, all = false): string[] {
  const r = docker(host, ['ps', ...(all ? ['-a'] : []), '-q', '--no-trunc', '--filter', `label=${SERVICE_LABEL}=${svc}`]);
  if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** `docker service ls` REPLICAS of a service ("3/3"), or undefined when it is not listed. */
export function replicasColumn(host: string, svc: string): string | undefined {
  const r = docker(host, ['service', 'ls', '--format', '{{.Name}} {{.Replicas}}']);
  if (r.code !== 0) throw new Error(`docker service ls failed: ${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.split(' ')[0] === svc);
  return line?.split(' ').slice(1).join(' ');
}

/** Waits until the service has exactly n running task containers and `service ls` says n/n. */
export async function converged(host: string, svc: string, n: number, timeoutMs = 60_000): Promise<string[]> {
  let ids: string[] = [];
  await waitFor(`${svc} at ${n}/${n} with ${n} running task containers`, () => {
    ids = taskContainers(host, svc);
    const col = replicasColumn(host, svc);
    return ids.length === n && col === `${n}/${n}` ? `${col} ${ids.length}` : false;
  }, timeoutMs, 250);
  return ids;
}

/** The container's hostname (what the replica program answers with). */
export function hostnameOf(host: string, id: string): string {
  const r = docker(host, ['inspect', '-f', '{{.Config.Hostname}}', id]);
  if (r.code !== 0) throw new Error(`docker inspect ${id}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A service name no other test of this run uses. */
export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;
