// A fake Engine API daemon for the CLI's tests: it records every request and
// answers from a handler, hijacked (Upgrade: tcp) connections included. With it
// the tests run the real docker CLI and `pier` against the same daemon and
// compare what each sent and printed.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../app.js';
import type { IO } from '../command.js';

export interface Recorded {
  method: string;
  /** The path without the /vX.Y prefix. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string | Buffer;
  headers?: Record<string, string>;
  /** Send the head (and `text`, if any) and keep the response open, as /events does. */
  hang?: boolean;
}

/** Answer a recorded request; undefined means 404 "page not found". */
export type Handler = (r: Recorded) => Reply | undefined | Promise<Reply | undefined>;
/** Serve an upgraded connection; `body` is what came with the request. */
export type HijackHandler = (r: Recorded, socket: Socket) => void;

export class FakeEngine {
  readonly dir = mkdtempSync(join(tmpdir(), 'pier-fake-engine-'));
  readonly sock = join(this.dir, 'engine.sock');
  readonly host = `unix://${this.sock}`;
  requests: Recorded[] = [];
  private server: http.Server;

  constructor(public handler: Handler = () => undefined, public hijack: HijackHandler = (_r, s) => s.end(), readonly apiVersion = '1.50') {
    this.server = http.createServer(async (req, res) => {
      const r = await this.record(req, Buffer.concat(await collect(req)));
      if (r.path === '/_ping') {
        res.writeHead(200, { 'Api-Version': this.apiVersion, Ostype: 'linux', 'Content-Type': 'text/plain' });
        return res.end(req.method === 'HEAD' ? undefined : 'OK');
      }
      this.requests.push(r);
      let reply: Reply | undefined;
      try {
        reply = await this.handler(r);
      } catch (e) {
        reply = { status: 500, json: { message: (e as Error).message } };
      }
      reply ??= { status: 404, json: { message: 'page not found' } };
      const headers: Record<string, string> = { 'Api-Version': this.apiVersion, ...reply.headers };
      if (reply.json !== undefined) headers['Content-Type'] ??= 'application/json';
      res.writeHead(reply.status ?? 200, headers);
      if (reply.hang) {
        res.flushHeaders();
        if (reply.text) res.write(reply.text);
        return;
      }
      res.end(reply.json !== undefined ? JSON.stringify(reply.json) + '\n' : reply.text);
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      // A CLI that has already gone makes late writes fail with EPIPE: the end of the session, not an error.
      socket.on('error', () => undefined);
      // The request body (exec start's JSON) arrives with the upgraded bytes.
      const want = Number(req.headers['content-length'] ?? 0);
      let buf = head;
      const done = async () => {
        const r = await this.record(req, buf.subarray(0, want));
        this.requests.push(r);
        const rest = buf.subarray(want);
        if (rest.length) socket.unshift(rest);
        socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
        this.hijack(r, socket);
      };
      if (buf.length >= want) return void done();
      const onData = (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= want) {
          socket.off('data', onData);
          socket.pause();
          void done();
        }
      };
      socket.on('data', onData);
    });
  }

  private async record(req: http.IncomingMessage, body: Buffer): Promise<Recorded> {
    const url = new URL(req.url ?? '/', 'http://x');
    return { method: req.method ?? '', path: url.pathname.replace(/^\/v[\d.]+/, ''), query: url.searchParams, headers: req.headers, body };
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(this.sock, r));
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Requests since `n` (to pick out one command's). */
  since(n: number): Recorded[] {
    return this.requests.slice(n);
  }
}

async function collect(req: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks;
}

/** A frame of Docker's multiplexed stream. */
export function frame(stream: number, data: string | Buffer): Buffer {
  const payload = Buffer.from(data);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export const DOCKER = '/usr/local/bin/docker';
export const haveDocker = () => existsSync(DOCKER);

/** Run the real docker CLI (asynchronously: the fake daemon lives in this process). */
export function docker(host: string, args: string[], o: { stdin?: string | Buffer; env?: Record<string, string>; cwd?: string; binary?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(DOCKER, ['-H', host, ...args], {
      // (TZ only when set: Go reads an empty TZ as UTC, Node as the system zone.)
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent', DOCKER_CONFIG: join(tmpdir(), 'pier-test-no-docker-config'), ...(process.env['TZ'] !== undefined ? { TZ: process.env['TZ'] } : {}), ...o.env },
      // binary: stdout as latin1, one character per byte.
      encoding: o.binary ? 'latin1' : 'utf8',
      maxBuffer: 1 << 26,
      cwd: o.cwd,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: stdout, err: stderr });
    });
    child.stdin?.on('error', () => undefined); // docker may exit before it reads its stdin
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
    else child.stdin?.end();
  });
}

/** Run `pier` in this process against `host`. */
export async function pier(host: string, args: string[], o: { stdin?: string | Buffer; env?: Record<string, string>; tty?: boolean; binary?: boolean } = {}): Promise<CliResult> {
  const stdout = Object.assign(new PassThrough(), { isTTY: o.tty ?? false, columns: 80, rows: 24 });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += o.binary ? c.toString('latin1') : String(c)));
  stderr.on('data', (c) => (err += String(c)));
  const io: IO = {
    stdin: Object.assign(Readable.from(o.stdin === undefined ? [] : [Buffer.from(o.stdin)]), { isTTY: false }),
    stdout,
    stderr,
    env: { HOME: '/nonexistent', DOCKER_CONFIG: join(tmpdir(), 'pier-test-no-docker-config'), ...o.env },
  };
  const code = await runCli(['-H', host, ...args], io);
  return { code, out, err };
}

/** pier's messages say "pier" where docker's say "docker". */
export const dockerize = (s: string) => s.replaceAll('pier', 'docker');

/** "METHOD /path?k=v&…" of each request: what a CLI asked, to compare with what the other asked. */
export const requestShapes = (rs: Recorded[], o: { anyQueryOrder?: boolean } = {}) =>
  rs.map((r) => {
    const q = [...r.query];
    if (o.anyQueryOrder) q.sort();
    return `${r.method} ${r.path}${q.length ? '?' + q.map(([k, v]) => `${k}=${v}`).join('&') : ''}`;
  });

/** A request's JSON body ('' when it has none). */
export const requestBody = (r: Recorded) => (r.body.length ? JSON.parse(r.body.toString()) : '');

export interface CompareOptions {
  /** A fresh handler for each CLI's run (else the engine's own serves both). */
  fresh?: () => Handler;
  stdin?: string;
  env?: Record<string, string>;
  /** Compare the request bodies too (default true). */
  bodies?: boolean;
  /** Compare only what was printed and the exit code. */
  ignoreRequests?: boolean;
  /** Requests in any order (docker makes some in parallel). */
  unordered?: boolean;
  anyQueryOrder?: boolean;
  /** Read pier's name as docker's in stdout too (always in stderr). */
  dockerizeOut?: boolean;
  /** Evens out what docker itself sends in varying order (a Go map's). */
  normalize?: (body: unknown) => unknown;
}

/**
 * Runs the docker CLI, then pier, with the same arguments against the engine
 * and asserts they printed the same, exited the same and sent the same
 * requests (and bodies). Returns what pier did.
 */
export async function compareWithDocker(engine: FakeEngine, args: string[], o: CompareOptions = {}): Promise<CliResult> {
  const io = { ...(o.stdin !== undefined ? { stdin: o.stdin } : {}), ...(o.env ? { env: o.env } : {}) };
  if (o.fresh) engine.handler = o.fresh();
  let n = engine.requests.length;
  const d = await docker(engine.host, args, io);
  const dreqs = engine.since(n);
  if (o.fresh) engine.handler = o.fresh();
  n = engine.requests.length;
  const p = await pier(engine.host, args, io);
  const preqs = engine.since(n);
  assert.equal(o.dockerizeOut ? dockerize(p.out) : p.out, d.out, 'stdout');
  assert.equal(dockerize(p.err), d.err, 'stderr');
  assert.equal(p.code, d.code, 'exit code');
  if (!o.ignoreRequests) {
    const order = (l: string[]) => (o.unordered ? [...l].sort() : l);
    assert.deepEqual(order(requestShapes(preqs, o)), order(requestShapes(dreqs, o)), 'requests');
    const norm = o.normalize ?? ((b: unknown) => b);
    if (o.bodies ?? true) assert.deepEqual(preqs.map((r) => norm(requestBody(r))), dreqs.map((r) => norm(requestBody(r))), 'request bodies');
  }
  return p;
}

// --- a fake swarm (service, node and swarm commands) ----------------------------------------------

/**
 * IDs and objects of a one-node swarm with a "web" service (2 replicas, one failed task in slot 1's
 * history). Task ages sit well inside units.HumanDuration's buckets (20 minutes, about a minute, 3 hours)
 * so that two runs a moment apart print the same.
 */
export class FakeSwarm {
  static readonly NODE = 'node1aaaaaaaaaaaaaaaaaaaa';
  static readonly SERVICE = 'svc1bbbbbbbbbbbbbbbbbbbbb';
  services = new Map<string, Record<string, unknown> & { ID: string; Version: { Index: number }; Spec: Record<string, unknown> }>();
  tasks: Record<string, unknown>[] = [];
  nodeVersion = 9;
  nodeSpec: Record<string, unknown> = { Labels: {}, Role: 'manager', Availability: 'active' };
  swarmVersion = 10;
  swarmSpec: Record<string, unknown> = {
    Name: 'default', Labels: {}, Orchestration: { TaskHistoryRetentionLimit: 5 }, Raft: { SnapshotInterval: 10000, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 5e9 }, CAConfig: { NodeCertExpiry: 7776000e9 }, TaskDefaults: {}, EncryptionConfig: { AutoLockManagers: false },
  };
  private seq = 0;

  /** "Now" for the objects' times, shared by two swarms whose outputs are compared. */
  constructor(readonly now = Date.now()) {
    this.init();
  }

  private init(): void {
    const spec = {
      Name: 'web', Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'busybox:latest@sha256:' + 'a'.repeat(64), Args: ['sleep', '1000'] }, ForceUpdate: 0 },
      Mode: { Replicated: { Replicas: 2 } }, UpdateConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 1e6, MaxFailureRatio: 0, Order: 'stop-first' },
      EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    };
    this.addService(FakeSwarm.SERVICE, spec, 11);
    this.tasks.push(this.task('task1ccccccccccccccccccccc', FakeSwarm.SERVICE, 1, 'running', 'running', 1200));
    this.tasks.push(this.task('task2ddddddddddddddddddddd', FakeSwarm.SERVICE, 2, 'running', 'running', 70));
    this.tasks.push(this.task('task3eeeeeeeeeeeeeeeeeeeee', FakeSwarm.SERVICE, 1, 'failed', 'shutdown', 10800, 'task: non-zero exit (1)'));
  }

  private ago(s: number): string {
    return new Date(this.now - s * 1000).toISOString();
  }

  private addService(id: string, spec: Record<string, unknown>, version: number): void {
    // As a daemon's defaults would, but with a 1 ms monitor period so that progress ends at once.
    spec['UpdateConfig'] ??= { Parallelism: 1, FailureAction: 'pause', Monitor: 1e6, MaxFailureRatio: 0, Order: 'stop-first' };
    const ep = (spec['EndpointSpec'] ?? {}) as { Ports?: unknown[] };
    const mode = spec['Mode'] as { Replicated?: { Replicas?: number } } | undefined;
    const n = mode?.Replicated?.Replicas ?? 1;
    this.services.set(id, {
      ID: id, Version: { Index: version }, CreatedAt: this.ago(100), UpdatedAt: this.ago(50), Spec: spec,
      Endpoint: { Spec: ep, Ports: ep.Ports ?? [] }, ServiceStatus: { RunningTasks: n, DesiredTasks: n, CompletedTasks: 0 },
    });
  }

  task(id: string, service: string, slot: number, state: string, desired: string, age: number, err?: string): Record<string, unknown> {
    const spec = (this.services.get(service)?.Spec['TaskTemplate'] ?? {}) as Record<string, unknown>;
    return {
      ID: id, Version: { Index: 1 }, CreatedAt: this.ago(age), UpdatedAt: this.ago(age), Labels: {}, Spec: spec, ServiceID: service, Slot: slot, NodeID: FakeSwarm.NODE,
      Status: { Timestamp: this.ago(age), State: state, Message: state, ...(err ? { Err: err } : {}), PortStatus: {} }, DesiredState: desired,
    };
  }

  node(): Record<string, unknown> {
    return {
      ID: FakeSwarm.NODE, Version: { Index: this.nodeVersion }, CreatedAt: '2024-01-01T12:00:00.5Z', UpdatedAt: this.ago(10), Spec: this.nodeSpec,
      Description: { Hostname: 'host1', Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 4e9, MemoryBytes: 8e9 }, Engine: { EngineVersion: '28.2.2' }, TLSInfo: {} },
      Status: { State: 'ready', Addr: '127.0.0.1' }, ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' },
    };
  }

  private find(ref: string) {
    return this.services.get(ref) ?? [...this.services.values()].find((s) => s.Spec['Name'] === ref) ?? [...this.services.values()].find((s) => s.ID.startsWith(ref));
  }

  /** Log lines with docker's details framing, one frame each. */
  logs(r: Recorded): Reply {
    const ts = r.query.get('timestamps') ? '2024-01-01T00:00:00.000000001Z ' : '';
    const det = (t: string) => (r.query.get('details') ? `com.docker.swarm.node.id=${FakeSwarm.NODE},com.docker.swarm.service.id=${FakeSwarm.SERVICE},com.docker.swarm.task.id=${t},env=a%20b ` : '');
    return {
      text: Buffer.concat([frame(1, `${ts}${det('task1ccccccccccccccccccccc')}hello\n`), frame(2, `${ts}${det('task2ddddddddddddddddddddd')}oops\n`), frame(1, `${ts}${det('task1ccccccccccccccccccccc')}again\n`)]),
      headers: { 'Content-Type': 'application/vnd.docker.multiplexed-stream' },
    };
  }

  readonly handler: Handler = (r) => {
    const p = r.path;
    const body = () => JSON.parse(r.body.toString() || 'null') as Record<string, unknown>;
    const missing = (what: string, ref: string): Reply => ({ status: 404, json: { message: `${what} ${ref} not found` } });
    if (p === '/info') return { json: { Name: 'host1', Swarm: { NodeID: FakeSwarm.NODE, LocalNodeState: 'active', ControlAvailable: true, NodeAddr: '127.0.0.1' } } };
    if (p === '/swarm/init') return { json: FakeSwarm.NODE };
    if (p === '/swarm') return { json: { ID: 'swarm1', Version: { Index: this.swarmVersion }, Spec: this.swarmSpec, JoinTokens: { Worker: 'SWMTKN-1-worker', Manager: 'SWMTKN-1-manager' } } };
    if (p === '/swarm/update') {
      if (Number(r.query.get('version')) !== this.swarmVersion) return { status: 500, json: { message: 'update out of sequence' } };
      this.swarmSpec = body();
      this.swarmVersion++;
      return { status: 200 };
    }
    if (p === '/swarm/leave') return { status: 200 };
    if (p === '/swarm/unlockkey') return { json: { UnlockKey: (this.swarmSpec['EncryptionConfig'] as { AutoLockManagers?: boolean })?.AutoLockManagers ? 'SWMKEY-1-abc' : '' } };
    if (p === '/nodes') return { json: [this.node()] };
    const n = /^\/nodes\/([^/]+)(\/update)?$/.exec(p);
    if (n) {
      if (n[1] !== FakeSwarm.NODE && n[1] !== 'host1') return missing('node', n[1]!);
      if (r.method === 'DELETE') return { status: 200 };
      if (n[2]) {
        if (Number(r.query.get('version')) !== this.nodeVersion) return { status: 500, json: { message: 'update out of sequence' } };
        this.nodeSpec = body();
        this.nodeVersion++;
        return { status: 200 };
      }
      return { json: this.node() };
    }
    if (p === '/services/create') {
      const id = `svc${++this.seq}`.padEnd(25, 'x');
      this.addService(id, body(), 1);
      const mode = (body()['Mode'] ?? {}) as { Replicated?: { Replicas?: number } };
      for (let slot = 1; slot <= (mode.Replicated?.Replicas ?? 1); slot++) this.tasks.push(this.task(`${id}t${slot}`, id, slot, 'running', 'running', 1));
      return { status: 201, json: { ID: id } };
    }
    if (p === '/services') {
      const f = JSON.parse(r.query.get('filters') ?? '{}') as Record<string, Record<string, boolean>>;
      let list = [...this.services.values()];
      if (f['id']) list = list.filter((s) => Object.keys(f['id']!).some((x) => s.ID.startsWith(x)));
      if (f['name']) list = list.filter((s) => Object.keys(f['name']!).some((x) => String(s.Spec['Name']).startsWith(x)));
      return { json: list.map((s) => (r.query.get('status') ? s : { ...s, ServiceStatus: undefined })) };
    }
    const s = /^\/(services|tasks)\/([^/]+)(\/update|\/logs)?$/.exec(p);
    if (s && s[1] === 'services') {
      const svc = this.find(s[2]!);
      if (!svc) return missing('service', s[2]!);
      if (s[3] === '/logs') return this.logs(r);
      if (r.method === 'DELETE') {
        this.services.delete(svc.ID);
        return { status: 200 };
      }
      if (s[3] === '/update') {
        if (Number(r.query.get('version')) !== svc.Version.Index) return { status: 500, json: { message: 'update out of sequence' } };
        svc.PreviousSpec = svc.Spec;
        svc.Spec = body();
        svc.Version = { Index: svc.Version.Index + 1 };
        // Converge at once: one running task per slot, surplus slots shut down.
        const want = (svc.Spec['Mode'] as { Replicated?: { Replicas?: number } } | undefined)?.Replicated?.Replicas;
        if (want !== undefined) {
          for (const t of this.tasks) if (t['ServiceID'] === svc.ID && (t['Slot'] as number) > want) t['DesiredState'] = 'shutdown';
          for (let slot = 1; slot <= want; slot++) {
            if (!this.tasks.some((t) => t['ServiceID'] === svc.ID && t['Slot'] === slot && t['DesiredState'] === 'running')) {
              this.tasks.push(this.task(`${svc.ID.slice(0, 10)}s${slot}v${svc.Version.Index}`, svc.ID, slot, 'running', 'running', 1));
            }
          }
        }
        return { json: { Warnings: null } };
      }
      return { json: svc };
    }
    if (p === '/tasks') {
      const f = JSON.parse(r.query.get('filters') ?? '{}') as Record<string, Record<string, boolean>>;
      let list = this.tasks;
      if (f['service']) list = list.filter((t) => f['service']![t['ServiceID'] as string]);
      if (f['node']) list = list.filter((t) => f['node']![t['NodeID'] as string] || f['node']!['host1']);
      if (f['desired-state']) list = list.filter((t) => f['desired-state']![t['DesiredState'] as string]);
      return { json: list };
    }
    if (s && s[1] === 'tasks') {
      const t = this.tasks.find((x) => x['ID'] === s[2]);
      if (t && s[3] === '/logs') return this.logs(r);
      return t ? { json: t } : missing('task', s[2]!);
    }
    const net = /^\/networks\/([^/]+)$/.exec(p);
    if (net) return net[1] === 'nonet' ? missing('network', net[1]) : { json: { Name: net[1], Id: `${net[1]}`.padEnd(64, '0') } };
    return undefined;
  };
}
