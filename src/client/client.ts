// Engine API client: HTTP/1.1 over a unix socket or TCP, API version negotiation,
// JSON requests, streamed bodies in both directions and decoding of the
// newline-delimited JSON message streams (progress, events).
//
//   const c = new Client({ host: 'unix:///run/pier/pier.sock' });
//   const images = await c.imageList({ all: true });
//
// The first versioned request pings the daemon (GET /_ping) and uses
// min(MAX_API_VERSION, server's Api-Version) as the /vX.Y/ path prefix.

import type { Readable } from 'node:stream';
import { ApiError, ConnectError } from './errors.js';
import { dialEndpoint, httpHijack, httpRequest, isHijacked, type HijackedResponse, type HttpResponse, type SshTarget, type TlsOptions } from './http.js';
import type {
  ContainerCreateRequest, ContainerCreateResponse, ContainerInspect, ContainerListItem, ContainersPruneReport,
  ContainerTopResponse, ContainerUpdateRequest, ContainerWaitResponse, DiskUsage, EventMessage, ExecCreateRequest,
  ExecInspect, FilesystemChange, Filters, HistoryItem, ImageDeleteItem, ImageInspect, ImagesPruneReport,
  ImageSummary, Info, JSONMessage, PathStat, Ping, ServerVersion,
} from './types.js';
import type { RemoteTarget, VolumeCreateRequest, VolumeListResponse, VolumeSummary, VolumesPruneReport } from './types.js';
import type { NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkSummary, NetworksPruneReport } from './types.js';
import type {
  NodeSpec, ServiceCreateResponse, ServiceSpec, ServiceUpdateResponse, SwarmInfo, SwarmInitRequest, SwarmNode, SwarmService, SwarmSpec, SwarmTask,
} from './types.js';

export const MAX_API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';
export const DEFAULT_HOST = 'unix:///run/pier/pier.sock';

export type Query = Record<string, string | number | boolean | string[] | Filters | undefined>;

export interface RequestOptions {
  query?: Query;
  /** A Buffer/string is sent as is, a stream is piped (chunked), anything else is JSON. */
  body?: Buffer | string | Readable | object;
  headers?: Record<string, string>;
  /** Send to /_ping-style unversioned paths. */
  unversioned?: boolean;
  signal?: AbortSignal;
}

export interface Endpoint {
  proto: 'unix' | 'tcp' | 'ssh';
  socketPath?: string;
  hostname?: string;
  port?: number;
  tls?: TlsOptions;
  ssh?: SshTarget;
}
export type { TlsOptions };

/** docker's ParseHost for the client side: unix:///path, tcp://host:port, host:port. */
export function parseHost(host: string): Endpoint {
  let proto: string;
  let addr: string;
  const i = host.indexOf('://');
  if (i === -1) {
    if (host === '') throw new Error(`invalid bind address format: ${host}`);
    proto = 'tcp';
    addr = host;
  } else {
    proto = host.slice(0, i);
    addr = host.slice(i + 3);
  }
  if (proto === 'unix') {
    if (addr === '') throw new Error(`invalid bind address format: ${host}`);
    return { proto: 'unix', socketPath: addr };
  }
  if (proto === 'tcp' || proto === 'http') {
    addr = addr.replace(/\/+$/, '');
    const m = /^(?:\[([^\]]+)\]|([^:/]*))(?::(\d+))?$/.exec(addr);
    if (!m) throw new Error(`invalid bind address format: ${host}`);
    const hostname = m[1] ?? (m[2] || '127.0.0.1');
    const port = m[3] ? Number(m[3]) : 2375;
    if (port < 1 || port > 65535) throw new Error(`invalid bind address format: ${host}`);
    return { proto: 'tcp', hostname, port };
  }
  if (proto === 'ssh') {
    // ssh://[user@]host[:port], as docker: no path.
    const m = /^(?:([^@/]+)@)?(\[[^\]]+\]|[^:/@]+)(?::(\d+))?\/?$/.exec(addr);
    if (!m) throw new Error(`invalid ssh host ${host}: expected ssh://[user@]host[:port]`);
    const ssh: SshTarget = { host: m[2]!.replace(/^\[|\]$/g, '') };
    if (m[1]) ssh.user = decodeURIComponent(m[1]);
    if (m[3]) ssh.port = Number(m[3]);
    return { proto: 'ssh', ssh };
  }
  throw new Error(`invalid bind address format: ${host}`);
}

/** Compare dotted API versions: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const add = (s: string) => parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
    if (Array.isArray(v)) v.forEach(add);
    else if (typeof v === 'object') {
      if (Object.keys(v).length > 0) add(JSON.stringify(v));
    } else if (typeof v === 'boolean') add(v ? '1' : '0');
    else add(String(v));
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export interface ClientOptions {
  host?: string;
  /**
   * TLS for a tcp:// host, like docker's --tlsverify (verify: true, the daemon's
   * certificate must chain to `ca`) or --tls (verify: false). cert/key are the
   * client certificate a daemon run with --tlsverify asks for. PEM contents.
   *
   *   new Client({ host: 'tcp://10.0.0.2:2376', tls: { ca, cert, key, verify: true } })
   */
  tls?: TlsOptions;
  /** Extra ssh arguments for ssh:// hosts (the CLI takes them from PIER_SSH_OPTS). */
  sshOptions?: string[];
  /** Fixed API version (skips negotiation), like DOCKER_API_VERSION. */
  version?: string;
  userAgent?: string;
}

export class Client {
  readonly host: string;
  private readonly endpoint: Endpoint;
  private version?: string;
  private negotiating?: Promise<string>;
  private pingResult?: Ping;
  private readonly userAgent: string;

  constructor(o: ClientOptions = {}) {
    this.host = o.host ?? DEFAULT_HOST;
    this.endpoint = parseHost(this.host);
    if (o.tls) {
      if (this.endpoint.proto !== 'tcp') throw new Error(`TLS needs a tcp:// host, not ${this.host}`);
      this.endpoint.tls = o.tls;
    }
    if (this.endpoint.ssh && o.sshOptions?.length) this.endpoint.ssh.opts = o.sshOptions;
    if (o.version) this.version = o.version.replace(/^v/, '');
    this.userAgent = o.userAgent ?? 'Pier-Client/0.1.0 (linux)';
  }

  /** The version in use (negotiated on first use); MAX_API_VERSION before that. */
  get apiVersion(): string {
    return this.version ?? MAX_API_VERSION;
  }

  /** Resolve the API version to use, pinging the daemon once if needed. */
  async negotiate(o: { signal?: AbortSignal } = {}): Promise<string> {
    if (this.version) return this.version;
    this.negotiating ??= this.ping(o).then((p) => {
      let v = p.apiVersion || MIN_API_VERSION;
      if (compareVersions(v, MAX_API_VERSION) > 0) v = MAX_API_VERSION;
      this.version = v;
      return v;
    });
    return this.negotiating;
  }

  async ping(o: { signal?: AbortSignal } = {}): Promise<Ping> {
    if (this.pingResult) return this.pingResult;
    const res = await this.raw('GET', '/_ping', o.signal ? { signal: o.signal } : {}, false);
    const h = res.headers;
    const body = await readAll(res.body);
    const p: Ping = {
      apiVersion: String(h['api-version'] ?? ''),
      osType: String(h['ostype'] ?? ''),
      experimental: h['docker-experimental'] === 'true',
    };
    if (h['builder-version']) p.builderVersion = String(h['builder-version']);
    // A failing ping that still carries the version header is good enough (as docker).
    if (res.statusCode >= 400 && !p.apiVersion) throw apiError(res.statusCode, body);
    this.pingResult = p;
    return p;
  }

  /** Send a request; resolves with the response once headers arrive. Status >= 400 throws ApiError. */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<HttpResponse> {
    let full = path;
    if (!o.unversioned) full = `/v${await this.negotiate()}${path}`;
    const res = await this.raw(method, full + encodeQuery(o.query), o, true);
    if (res.statusCode >= 400) throw apiError(res.statusCode, await readAll(res.body));
    return res;
  }

  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, o);
    const text = (await readAll(res.body)).toString('utf8');
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Like json() but also returns the raw text (inspect re-indents the daemon's bytes). */
  async text(method: string, path: string, o: RequestOptions = {}): Promise<string> {
    const res = await this.request(method, path, o);
    return (await readAll(res.body)).toString('utf8');
  }

  private async raw(method: string, path: string, o: RequestOptions, hasBody: boolean): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...o.headers };
    let body: Buffer | string | Readable | undefined;
    if (hasBody && o.body !== undefined) {
      if (typeof o.body === 'string' || Buffer.isBuffer(o.body) || isReadable(o.body)) body = o.body;
      else {
        body = JSON.stringify(o.body);
        headers['Content-Type'] ??= 'application/json';
      }
    }
    const req: Parameters<typeof httpRequest>[1] = { method, path, headers };
    if (body !== undefined) req.body = body;
    if (o.signal) req.signal = o.signal;
    try {
      return await httpRequest(this.endpoint, req);
    } catch (e) {
      throw this.wrapError(e as NodeJS.ErrnoException, method, path);
    }
  }

  private wrapError(err: NodeJS.ErrnoException, method: string, path: string): Error {
    const ep = this.endpoint;
    // docker's wording for a TCP endpoint: `error during connect: Get "https://…": why`.
    const duringConnect = (why: string) => {
      const url = `${ep.tls ? 'https' : 'http'}://${ep.hostname!.includes(':') ? `[${ep.hostname}]` : ep.hostname}:${ep.port}${path}`;
      return new Error(`error during connect: ${method[0]}${method.slice(1).toLowerCase()} "${url}": ${why}`, { cause: err });
    };
    // A TLS failure is told as Go's, naming what failed.
    const reason = ep.tls ? tlsFailure(err) : undefined;
    if (reason) return duringConnect(reason);
    if (err.code === 'ESSH') return new Error(`error during connect: ${err.message}`, { cause: err });
    if (err.code === 'EMPTYRESPONSE' && ep.proto === 'ssh')
      return new Error(`error during connect: the ssh connection to ${this.host} closed without an answer: is pier installed there, and its daemon running? (\`ssh HOST pier system dial-stdio\` should wait for input)`, { cause: err });
    if (err.code === 'EMPTYRESPONSE' && ep.proto === 'tcp') {
      return duringConnect(ep.tls
        ? 'the daemon closed the connection without answering: it refused the TLS handshake or this client\'s certificate (not signed by the daemon\'s --tlscacert, or expired?); check --tlscert/--tlskey'
        : 'the daemon closed the connection without answering (does it expect TLS? connect with --tlsverify and a client certificate)');
    }
    switch (err.code) {
      case 'ENOENT':
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'EAI_AGAIN':
      case 'ENOTSOCK':
        return new ConnectError(this.host, { cause: err });
      case 'EACCES':
        return new Error(
          `permission denied while trying to connect to the Pier daemon socket at ${this.host}: ${err.message}`,
          { cause: err },
        );
      default:
        return err;
    }
  }

  /** Nothing to release: every request has its own connection. */
  close(): void {}

  /** A raw connection to the daemon (what `pier system dial-stdio` forwards). */
  dialRaw(): import('node:net').Socket {
    return dialEndpoint(this.endpoint);
  }

  // --- typed endpoints -------------------------------------------------------

  serverVersion(): Promise<ServerVersion> {
    return this.json('GET', '/version');
  }

  info(): Promise<Info> {
    return this.json('GET', '/info');
  }

  imageList(o: { all?: boolean; filters?: Filters; digests?: boolean; sharedSize?: boolean } = {}): Promise<ImageSummary[]> {
    const query: Query = { filters: o.filters };
    if (o.all) query.all = true;
    if (o.digests) query.digests = true;
    if (o.sharedSize) query['shared-size'] = true;
    return this.json<ImageSummary[] | null>('GET', '/images/json', { query }).then((l) => l ?? []);
  }

  /** Raw JSON text of GET /images/{name}/json. */
  imageInspectRaw(name: string): Promise<string> {
    return this.text('GET', `/images/${encodeName(name)}/json`);
  }

  async imageInspect(name: string): Promise<ImageInspect> {
    return JSON.parse(await this.imageInspectRaw(name)) as ImageInspect;
  }

  imageHistory(name: string): Promise<HistoryItem[]> {
    return this.json<HistoryItem[] | null>('GET', `/images/${encodeName(name)}/history`).then((l) => l ?? []);
  }

  async imageTag(source: string, repo: string, tag?: string): Promise<void> {
    const query: Query = { repo, tag };
    await this.json('POST', `/images/${encodeName(source)}/tag`, { query });
  }

  imageRemove(name: string, o: { force?: boolean; noPrune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    const query: Query = {};
    if (o.force) query.force = true;
    if (o.noPrune) query.noprune = true;
    return this.json<ImageDeleteItem[] | null>('DELETE', `/images/${encodeName(name)}`, { query }).then((l) => l ?? []);
  }

  /** POST /images/load; the response is a JSON message stream when Content-Type says so. */
  imageLoad(input: Readable | Buffer, o: { quiet?: boolean } = {}): Promise<HttpResponse> {
    // The daemon defaults to quiet; docker always says which it wants.
    const query: Query = { quiet: o.quiet === true };
    return this.request('POST', '/images/load', { query, body: input, headers: { 'Content-Type': 'application/x-tar' } });
  }

  /** GET /images/get?names=…: a tar stream. */
  imageSave(names: string[]): Promise<HttpResponse> {
    return this.request('GET', '/images/get', { query: { names } });
  }

  /** POST /images/create?fromSrc=…: import a rootfs tar; the response is a JSON message stream. */
  imageImport(
    source: { stream?: Readable | Buffer; name: string },
    o: { repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string } = {},
  ): Promise<HttpResponse> {
    const query: Query = { fromSrc: source.name };
    if (o.repo) query.repo = o.repo;
    if (o.tag) query.tag = o.tag;
    if (o.message) query.message = o.message;
    if (o.platform) query.platform = o.platform;
    if (o.changes?.length) query.changes = o.changes;
    const ro: RequestOptions = { query };
    if (source.stream) ro.body = source.stream;
    return this.request('POST', '/images/create', ro);
  }

  imagesPrune(filters: Filters): Promise<ImagesPruneReport> {
    return this.json('POST', '/images/prune', { query: { filters } });
  }

  diskUsage(): Promise<DiskUsage> {
    return this.json('GET', '/system/df');
  }

  // --- volumes -----------------------------------------------------------------

  volumeCreate(body: VolumeCreateRequest): Promise<VolumeSummary> {
    return this.json('POST', '/volumes/create', { body });
  }

  volumeList(filters?: Filters): Promise<VolumeListResponse> {
    const query: Query = {};
    if (filters && Object.keys(filters).length) query.filters = sortFilters(filters);
    return this.json('GET', '/volumes', { query });
  }

  /** Raw JSON text of GET /volumes/{name}. */
  volumeInspectRaw(name: string): Promise<string> {
    return this.text('GET', `/volumes/${encodeName(trimID('volume', name))}`);
  }

  async volumeRemove(name: string, force = false): Promise<void> {
    await this.json('DELETE', `/volumes/${encodeName(trimID('volume', name))}`, { query: force ? { force: '1' } : {} });
  }

  volumesPrune(filters: Filters): Promise<VolumesPruneReport> {
    return this.json('POST', '/volumes/prune', { query: { filters: sortFilters(filters) } });
  }

  // --- containers ------------------------------------------------------------

  /**
   * POST a request that takes over the connection (`Upgrade: tcp`), as attach
   * and exec start do; an error status throws ApiError like any request.
   */
  async hijack(path: string, o: { query?: Query; body?: object } = {}): Promise<HijackedResponse> {
    const full = `/v${await this.negotiate()}${path}${encodeQuery(o.query)}`;
    const headers: Record<string, string> = { 'User-Agent': this.userAgent };
    let body: string | undefined;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['Content-Type'] = 'application/json';
    } else headers['Content-Type'] = 'text/plain';
    let r: HijackedResponse | HttpResponse;
    try {
      r = await httpHijack(this.endpoint, body === undefined ? { method: 'POST', path: full, headers } : { method: 'POST', path: full, headers, body });
    } catch (e) {
      throw this.wrapError(e as NodeJS.ErrnoException, 'POST', full);
    }
    if (!isHijacked(r)) {
      const text = await readAll(r.body);
      throw apiError(r.statusCode, text.length ? text : Buffer.from(`unable to upgrade to tcp, received ${r.statusCode}`));
    }
    return r;
  }

  containerCreate(body: ContainerCreateRequest, o: { name?: string; platform?: string } = {}): Promise<ContainerCreateResponse> {
    const query: Query = {};
    if (o.name) query.name = o.name;
    if (o.platform) query.platform = o.platform;
    return this.json('POST', '/containers/create', { query, body });
  }

  /** Raw JSON text of GET /containers/{id}/json. */
  containerInspectRaw(id: string, o: { size?: boolean } = {}): Promise<string> {
    return this.text('GET', `${cpath(id)}/json`, { query: o.size ? { size: true } : {} });
  }

  async containerInspect(id: string, o: { size?: boolean } = {}): Promise<ContainerInspect> {
    return JSON.parse(await this.containerInspectRaw(id, o)) as ContainerInspect;
  }

  containerList(o: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {}): Promise<ContainerListItem[]> {
    const query: Query = {};
    if (o.all) query.all = true;
    if (o.limit !== undefined && o.limit !== -1) query.limit = o.limit;
    if (o.size) query.size = true;
    query.filters = sortFilters(o.filters);
    return this.json<ContainerListItem[] | null>('GET', '/containers/json', { query }).then((l) => l ?? []);
  }

  async containerStart(id: string, o: { detachKeys?: string; checkpoint?: string; checkpointDir?: string } = {}): Promise<void> {
    const query: Query = {};
    if (o.detachKeys) query.detachKeys = o.detachKeys;
    if (o.checkpoint) query.checkpoint = o.checkpoint;
    if (o.checkpointDir) query['checkpoint-dir'] = o.checkpointDir;
    await this.json('POST', `${cpath(id)}/start`, { query });
  }

  /** stop and restart: `signal` goes only to API >= 1.42, like docker's client. */
  async containerStop(id: string, o: { signal?: string; timeout?: number } = {}, action: 'stop' | 'restart' = 'stop'): Promise<void> {
    const query: Query = {};
    if (o.timeout !== undefined) query.t = o.timeout;
    if (o.signal && compareVersions(await this.negotiate(), '1.42') >= 0) query.signal = o.signal;
    await this.json('POST', `${cpath(id)}/${action}`, { query });
  }

  async containerKill(id: string, signal?: string): Promise<void> {
    await this.json('POST', `${cpath(id)}/kill`, { query: { signal: signal || undefined } });
  }

  async containerRemove(id: string, o: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    const query: Query = {};
    if (o.volumes) query.v = true;
    if (o.link) query.link = true;
    if (o.force) query.force = true;
    await this.json('DELETE', `${cpath(id)}`, { query });
  }

  /**
   * POST /containers/{id}/wait. Resolves once the daemon has answered with its
   * headers, which it does as soon as the wait is registered; `result` settles
   * when the container reaches `condition`.
   */
  async containerWait(id: string, condition?: 'not-running' | 'next-exit' | 'removed', signal?: AbortSignal): Promise<{ result: Promise<ContainerWaitResponse> }> {
    const query: Query = {};
    if (condition) query.condition = condition;
    const ro: RequestOptions = { query };
    if (signal) ro.signal = signal;
    const res = await this.request('POST', `${cpath(id)}/wait`, ro);
    const result = readAll(res.body).then((b) => {
      const text = b.toString('utf8').trim();
      if (text === '') throw new Error('unexpected EOF');
      return JSON.parse(text) as ContainerWaitResponse;
    });
    result.catch(() => {}); // observed by the caller when it awaits
    return { result };
  }

  containerAttach(id: string, o: { stdin?: boolean; stdout?: boolean; stderr?: boolean; detachKeys?: string; logs?: boolean }): Promise<HijackedResponse> {
    const query: Query = { stream: true };
    if (o.stdin) query.stdin = true;
    if (o.stdout) query.stdout = true;
    if (o.stderr) query.stderr = true;
    if (o.logs) query.logs = true;
    if (o.detachKeys) query.detachKeys = o.detachKeys;
    return this.hijack(`${cpath(id)}/attach`, { query });
  }

  async containerResize(id: string, height: number, width: number, exec = false): Promise<void> {
    const path = exec ? `/exec/${encodeURIComponent(id)}/resize` : `${cpath(id)}/resize`;
    await this.json('POST', path, { query: { h: height, w: width } });
  }

  containerLogs(id: string, o: { follow?: boolean; timestamps?: boolean; details?: boolean; tail?: string; since?: string; until?: string }): Promise<HttpResponse> {
    const query: Query = { stdout: true, stderr: true };
    if (o.since) query.since = o.since;
    if (o.until) query.until = o.until;
    if (o.timestamps) query.timestamps = true;
    if (o.details) query.details = true;
    if (o.follow) query.follow = true;
    if (o.tail) query.tail = o.tail;
    return this.request('GET', `${cpath(id)}/logs`, { query });
  }

  containerTop(id: string, psArgs: string[]): Promise<ContainerTopResponse> {
    const query: Query = {};
    if (psArgs.length) query.ps_args = psArgs.join(' ');
    return this.json('GET', `${cpath(id)}/top`, { query });
  }

  containerChanges(id: string): Promise<FilesystemChange[]> {
    return this.json<FilesystemChange[] | null>('GET', `${cpath(id)}/changes`).then((l) => l ?? []);
  }

  containerExport(id: string): Promise<HttpResponse> {
    return this.request('GET', `${cpath(id)}/export`);
  }

  /** GET /containers/{id}/stats: one sample (stream=false) or a stream of them. */
  containerStats(id: string, stream: boolean, signal?: AbortSignal): Promise<HttpResponse> {
    const ro: RequestOptions = { query: { stream } };
    if (signal) ro.signal = signal;
    return this.request('GET', `${cpath(id)}/stats`, ro);
  }

  async containerPause(id: string, pause = true): Promise<void> {
    await this.json('POST', `${cpath(id)}/${pause ? 'pause' : 'unpause'}`);
  }

  async containerRename(id: string, name: string): Promise<void> {
    await this.json('POST', `${cpath(id)}/rename`, { query: { name } });
  }

  containerUpdate(id: string, body: ContainerUpdateRequest): Promise<{ Warnings: string[] | null }> {
    return this.json('POST', `${cpath(id)}/update`, { body });
  }

  containerCommit(id: string, o: { repo?: string; tag?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean }): Promise<{ Id: string }> {
    // docker sends these even when empty.
    const query: Query = { author: o.author ?? '', changes: o.changes?.length ? o.changes : undefined, comment: o.comment ?? '', container: id, repo: o.repo ?? '', tag: o.tag ?? '' };
    if (o.pause === false) query.pause = false;
    return this.json('POST', '/commit', { query });
  }

  containersPrune(filters: Filters): Promise<ContainersPruneReport> {
    return this.json('POST', '/containers/prune', { query: { filters: sortFilters(filters) } });
  }

  execCreate(id: string, body: ExecCreateRequest): Promise<{ Id: string }> {
    return this.json('POST', `${cpath(id)}/exec`, { body });
  }

  /** POST /exec/{id}/start detached: the daemon answers at once. */
  async execStartDetached(execId: string, body: { Detach: true; Tty: boolean; ConsoleSize?: [number, number] }): Promise<void> {
    await this.json('POST', `/exec/${encodeURIComponent(execId)}/start`, { body });
  }

  execAttach(execId: string, body: { Detach: false; Tty: boolean; ConsoleSize?: [number, number] }): Promise<HijackedResponse> {
    return this.hijack(`/exec/${encodeURIComponent(execId)}/start`, { body });
  }

  execInspect(execId: string): Promise<ExecInspect> {
    return this.json('GET', `/exec/${encodeURIComponent(execId)}/json`);
  }

  /** HEAD /containers/{id}/archive?path=: the path's stat from X-Docker-Container-Path-Stat. */
  async containerStatPath(id: string, path: string): Promise<PathStat> {
    const res = await this.request('HEAD', `${cpath(id)}/archive`, { query: { path } });
    res.body.resume();
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }

  /** GET /containers/{id}/archive?path=: a tar of the path, and its stat. */
  async copyFromContainer(id: string, path: string): Promise<{ body: HttpResponse['body']; stat: PathStat }> {
    const res = await this.request('GET', `${cpath(id)}/archive`, { query: { path } });
    return { body: res.body, stat: decodePathStat(res.headers['x-docker-container-path-stat']) };
  }

  /** PUT /containers/{id}/archive?path=: extract a tar into the directory `path`. */
  async copyToContainer(id: string, path: string, content: Readable, o: { copyUIDGID?: boolean; allowOverwriteDirWithFile?: boolean } = {}): Promise<void> {
    const query: Query = { path };
    if (!o.allowOverwriteDirWithFile) query.noOverwriteDirNonDir = 'true';
    if (o.copyUIDGID) query.copyUIDGID = 'true';
    await this.json('PUT', `${cpath(id)}/archive`, { query, body: content, headers: { 'Content-Type': 'application/x-tar' } });
  }

  // --- networks: names and IDs are trimmed, and an empty one refused before any request (docker's trimID)

  networkCreate(body: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.json('POST', '/networks/create', { body });
  }

  networkList(filters?: Filters): Promise<NetworkSummary[]> {
    return this.json<NetworkSummary[] | null>('GET', '/networks', { query: { filters: sortFilters(filters) } }).then((l) => l ?? []);
  }

  /** Raw JSON text of GET /networks/{id}. */
  networkInspectRaw(id: string, o: { verbose?: boolean; scope?: string } = {}): Promise<string> {
    const query: Query = {};
    if (o.verbose) query.verbose = 'true';
    if (o.scope) query.scope = o.scope;
    return this.text('GET', npath(id), { query });
  }

  async networkRemove(id: string): Promise<void> {
    await this.json('DELETE', npath(id));
  }

  async networkConnect(id: string, body: NetworkConnectRequest): Promise<void> {
    const path = npath(id);
    await this.json('POST', `${path}/connect`, { body: { ...body, Container: trimID('container', body.Container) } });
  }

  async networkDisconnect(id: string, container: string, force: boolean): Promise<void> {
    const path = npath(id);
    await this.json('POST', `${path}/disconnect`, { body: { Container: trimID('container', container), Force: force } });
  }

  networksPrune(filters: Filters): Promise<NetworksPruneReport> {
    return this.json('POST', '/networks/prune', { query: { filters: sortFilters(filters) } });
  }

  // --- daemon to daemon (Pier extensions): JSON message streams; the daemon sends to Target itself

  containerMove(id: string, body: { Target: RemoteTarget; Force?: boolean }): Promise<HttpResponse> {
    return this.request('POST', `${cpath(id)}/move`, { body });
  }

  imageCopy(name: string, body: { Target: RemoteTarget }): Promise<HttpResponse> {
    return this.request('POST', `/images/${encodeName(name)}/copy`, { body });
  }

  /** GET /events: a stream of event messages until `until` (or forever). */
  async *events(o: { since?: string; until?: string; filters?: Filters; signal?: AbortSignal } = {}): AsyncGenerator<EventMessage> {
    const query: Query = { since: o.since, until: o.until, filters: o.filters };
    const ro: RequestOptions = { query };
    if (o.signal) ro.signal = o.signal;
    const res = await this.request('GET', '/events', ro);
    for await (const m of jsonMessages(res.body)) yield m as unknown as EventMessage;
  }

  // --- build -------------------------------------------------------------------

  /**
   * POST /build: the classic builder builds `context` (a tar, streamed as it is
   * read); the response is a JSON message stream. The query is docker 28's
   * imageBuildOptionsToQuery: only what differs from the daemon's defaults, keys
   * in Go's order (sorted), maps and lists as Go's json encodes them (map keys
   * sorted, <>& escaped). X-Registry-Config carries every stored credential,
   * keyed by registry ("e30=", {}, when there is none).
   */
  build(context: Readable | undefined, o: {
    tags?: string[]; dockerfile?: string; target?: string; remoteContext?: string; platform?: string;
    buildArgs?: Record<string, string | null>; labels?: Record<string, string>; cacheFrom?: string[];
    extraHosts?: string[]; securityOpt?: string[]; ulimits?: { Name: string; Hard: number; Soft: number }[];
    quiet?: boolean; noCache?: boolean; remove?: boolean; forceRemove?: boolean; pull?: boolean; squash?: boolean;
    networkMode?: string; isolation?: string; cgroupParent?: string; cpuSetCpus?: string; cpuSetMems?: string;
    cpuShares?: number; cpuQuota?: number; cpuPeriod?: number; memory?: number; memorySwap?: number; shmSize?: number;
    /** "1" (classic) or "2" (BuildKit). */
    version?: string;
    authConfigs?: Record<string, { username?: string; password?: string; auth?: string; email?: string; serveraddress?: string; identitytoken?: string; registrytoken?: string }>;
    signal?: AbortSignal;
  } = {}): Promise<HttpResponse> {
    // Go's json.Marshal: HTML characters and the JS line separators escaped; maps by sorted key.
    const goJSON = (v: unknown) => JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const sortedMap = <T>(m: Record<string, T>) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));
    const q: Record<string, string | string[]> = {};
    const set = (k: string, v: string | string[] | undefined | false) => {
      if (v !== undefined && v !== false && v !== '' && !(Array.isArray(v) && v.length === 0)) q[k] = v;
    };
    const num = (n: number | undefined) => (n ? String(n) : undefined);
    set('t', o.tags);
    set('securityopt', o.securityOpt);
    set('extrahosts', o.extraHosts);
    set('q', o.quiet && '1');
    set('remote', o.remoteContext);
    set('nocache', o.noCache && '1');
    set('rm', o.remove === false && '0'); // the daemon's default is to remove
    set('forcerm', o.forceRemove && '1');
    set('pull', o.pull && '1');
    set('squash', o.squash && '1');
    if (o.isolation && o.isolation.toLowerCase() !== 'default') set('isolation', o.isolation);
    set('cpusetcpus', o.cpuSetCpus);
    if (o.networkMode !== 'default') set('networkmode', o.networkMode);
    set('cpusetmems', o.cpuSetMems);
    set('cpushares', num(o.cpuShares));
    set('cpuquota', num(o.cpuQuota));
    set('cpuperiod', num(o.cpuPeriod));
    set('memory', num(o.memory));
    set('memswap', num(o.memorySwap));
    set('cgroupparent', o.cgroupParent);
    set('shmsize', num(o.shmSize));
    set('dockerfile', o.dockerfile);
    set('target', o.target);
    if (o.ulimits?.length) set('ulimits', goJSON(o.ulimits.map((u) => ({ Name: u.Name, Hard: u.Hard, Soft: u.Soft }))));
    if (o.buildArgs && Object.keys(o.buildArgs).length) set('buildargs', goJSON(sortedMap(o.buildArgs)));
    if (o.labels && Object.keys(o.labels).length) set('labels', goJSON(sortedMap(o.labels)));
    if (o.cacheFrom?.length) set('cachefrom', goJSON(o.cacheFrom));
    set('platform', o.platform?.toLowerCase());
    set('version', o.version);
    const query: Query = {};
    for (const k of Object.keys(q).sort()) query[k] = q[k];
    // registry.AuthConfig's fields in their declared order, empty ones left out.
    const fields = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;
    const auths: Record<string, Record<string, string>> = {};
    for (const host of Object.keys(o.authConfigs ?? {}).sort()) {
      const a = o.authConfigs![host]!;
      auths[host] = Object.fromEntries(fields.filter((f) => a[f]).map((f) => [f, a[f]!]));
    }
    const registryConfig = Buffer.from(goJSON(auths)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    const ro: RequestOptions = { query, headers: { 'Content-Type': 'application/x-tar', 'X-Registry-Config': registryConfig } };
    if (context) ro.body = context;
    if (o.signal) ro.signal = o.signal;
    return this.request('POST', '/build', ro);
  }

  // --- swarm: /swarm, /nodes, /services, /tasks ------------------------------------

  /** POST /swarm/init; resolves with the new node's ID. */
  swarmInit(body: SwarmInitRequest): Promise<string> {
    return this.json('POST', '/swarm/init', { body });
  }

  swarmInspect(): Promise<SwarmInfo> {
    return this.json('GET', '/swarm');
  }

  /** POST /swarm/update: `version` is the Version.Index read with the spec. */
  async swarmUpdate(version: number, spec: SwarmSpec, o: { rotateWorkerToken?: boolean; rotateManagerToken?: boolean; rotateManagerUnlockKey?: boolean } = {}): Promise<void> {
    // docker sends all three flags, in Go's (sorted) query order.
    const query: Query = {
      rotateManagerToken: String(o.rotateManagerToken === true),
      rotateManagerUnlockKey: String(o.rotateManagerUnlockKey === true),
      rotateWorkerToken: String(o.rotateWorkerToken === true),
      version,
    };
    await this.json('POST', '/swarm/update', { query, body: spec });
  }

  async swarmLeave(force: boolean): Promise<void> {
    await this.json('POST', '/swarm/leave', { query: force ? { force: '1' } : {} });
  }

  swarmUnlockKey(): Promise<{ UnlockKey: string }> {
    return this.json('GET', '/swarm/unlockkey');
  }

  nodeList(filters?: Filters): Promise<SwarmNode[]> {
    return this.json<SwarmNode[] | null>('GET', '/nodes', { query: { filters: sortFilters(filters) } }).then((l) => l ?? []);
  }

  /** Raw JSON text of GET /nodes/{id}. */
  nodeInspectRaw(id: string): Promise<string> {
    return this.text('GET', `/nodes/${encodeName(swarmID('node', id))}`);
  }

  async nodeInspect(id: string): Promise<SwarmNode> {
    return JSON.parse(await this.nodeInspectRaw(id)) as SwarmNode;
  }

  async nodeUpdate(id: string, version: number, spec: NodeSpec): Promise<void> {
    await this.json('POST', `/nodes/${encodeName(swarmID('node', id))}/update`, { query: { version }, body: spec });
  }

  async nodeRemove(id: string, force = false): Promise<void> {
    await this.json('DELETE', `/nodes/${encodeName(swarmID('node', id))}`, { query: force ? { force: '1' } : {} });
  }

  serviceCreate(spec: ServiceSpec, o: { registryAuth?: string } = {}): Promise<ServiceCreateResponse> {
    const ro: RequestOptions = { body: spec };
    if (o.registryAuth) ro.headers = { 'X-Registry-Auth': o.registryAuth };
    return this.json('POST', '/services/create', ro);
  }

  /** GET /services; `status` asks for ServiceStatus (running/desired counts), as `service ls` does. */
  serviceList(o: { filters?: Filters; status?: boolean } = {}): Promise<SwarmService[]> {
    const query: Query = { filters: sortFilters(o.filters) };
    if (o.status) query.status = 'true';
    return this.json<SwarmService[] | null>('GET', '/services', { query }).then((l) => l ?? []);
  }

  /** Raw JSON text of GET /services/{id}; insertDefaults fills in the daemon's defaults (inspect does). */
  serviceInspectRaw(id: string, o: { insertDefaults?: boolean } = {}): Promise<string> {
    return this.text('GET', `/services/${encodeName(swarmID('service', id))}`, { query: { insertDefaults: String(o.insertDefaults === true) } });
  }

  async serviceInspect(id: string, o: { insertDefaults?: boolean } = {}): Promise<SwarmService> {
    return JSON.parse(await this.serviceInspectRaw(id, o)) as SwarmService;
  }

  /**
   * POST /services/{id}/update with the spec read at `version`. rollback:
   * 'previous' asks the daemon to go back to PreviousSpec (the spec sent is then ignored).
   */
  serviceUpdate(id: string, version: number, spec: ServiceSpec, o: { rollback?: 'previous'; registryAuthFrom?: 'spec' | 'previous-spec'; registryAuth?: string } = {}): Promise<ServiceUpdateResponse> {
    const query: Query = { registryAuthFrom: o.registryAuthFrom, rollback: o.rollback, version };
    const ro: RequestOptions = { query, body: spec };
    if (o.registryAuth) ro.headers = { 'X-Registry-Auth': o.registryAuth };
    return this.json<ServiceUpdateResponse | undefined>('POST', `/services/${encodeName(swarmID('service', id))}/update`, ro).then((r) => r ?? {});
  }

  async serviceRemove(id: string): Promise<void> {
    await this.json('DELETE', `/services/${encodeName(swarmID('service', id))}`);
  }

  /** GET /services/{id}/logs (or /tasks/{id}/logs): a multiplexed stream unless the service has a TTY. */
  serviceLogs(id: string, o: { follow?: boolean; timestamps?: boolean; details?: boolean; tail?: string; since?: string; task?: boolean; signal?: AbortSignal }): Promise<HttpResponse> {
    // Go's url.Values.Encode order (sorted keys), as docker sends them.
    const query: Query = {};
    if (o.details) query.details = '1';
    if (o.follow) query.follow = '1';
    if (o.since) query.since = o.since;
    query.stderr = '1';
    query.stdout = '1';
    query.tail = o.tail ?? 'all';
    if (o.timestamps) query.timestamps = '1';
    const ro: RequestOptions = { query };
    if (o.signal) ro.signal = o.signal;
    return this.request('GET', `/${o.task ? 'tasks' : 'services'}/${encodeName(swarmID(o.task ? 'task' : 'service', id))}/logs`, ro);
  }

  taskList(filters?: Filters): Promise<SwarmTask[]> {
    return this.json<SwarmTask[] | null>('GET', '/tasks', { query: { filters: sortFilters(filters) } }).then((l) => l ?? []);
  }

  /** Raw JSON text of GET /tasks/{id}. */
  taskInspectRaw(id: string): Promise<string> {
    return this.text('GET', `/tasks/${encodeName(swarmID('task', id))}`);
  }

  async taskInspect(id: string): Promise<SwarmTask> {
    return JSON.parse(await this.taskInspectRaw(id)) as SwarmTask;
  }
}

/** A container name or ID in a path: as docker sends it, '/' kept (a legacy link name is "web/db"). */
const cpath = (id: string) => `/containers/${encodeName(id)}`;

/** docker's trimID: surrounding spaces dropped, an empty name refused (no request is sent). */
function trimID(kind: 'network' | 'container' | 'volume', id: string): string {
  const t = id.trim();
  if (t === '') throw new Error(`invalid ${kind} name or ID: value is empty`);
  return t;
}

const npath = (id: string) => `/networks/${encodeName(trimID('network', id))}`;

/** An empty swarm object ID is refused before any request, as docker's client does. */
function swarmID(kind: 'node' | 'service' | 'task', id: string): string {
  if (id.trim() === '') throw new Error(`Error: No such ${kind}: ${id}`);
  return id;
}


/** Filters with sorted keys, as Go's encoder writes a map. */
function sortFilters(f: Filters | undefined): Filters | undefined {
  if (!f) return f;
  const out: Filters = {};
  for (const k of Object.keys(f).sort()) {
    const inner: Record<string, boolean> = {};
    for (const v of Object.keys(f[k]!).sort()) inner[v] = f[k]![v]!;
    out[k] = inner;
  }
  return out;
}

/** The X-Docker-Container-Path-Stat header: base64 of JSON {name,size,mode,mtime,linkTarget}. */
export function decodePathStat(header: string | undefined): PathStat {
  if (!header) throw new Error('unable to get resource stat from response');
  try {
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
  } catch (e) {
    throw new Error(`unable to decode container path stat header: ${(e as Error).message}`);
  }
}

/** Image names go in the path as is, but '/' must stay a separator for "repo/name". */
function encodeName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

function isReadable(x: unknown): x is Readable {
  return typeof x === 'object' && x !== null && typeof (x as Readable).pipe === 'function';
}

const statusText: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};

export function apiError(status: number, body: Buffer): ApiError {
  const text = body.toString('utf8').trim();
  let message = text;
  try {
    const j = JSON.parse(text) as { message?: string };
    if (j && typeof j.message === 'string') message = j.message;
  } catch {
    // Plain-text error bodies (old daemons, proxies) are shown as they are.
  }
  if (message === '') message = `${status} ${statusText[status] ?? ''}`.trim();
  return new ApiError(status, message);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Splits concatenated JSON values ("{…}\r\n{…}{…}") as Go's json.Decoder reads them. */
export class JSONValueSplitter {
  private buf = '';
  private pos = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;

  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    const s = this.buf;
    for (let i = this.pos; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === 34 /* " */) this.inString = false;
        continue;
      }
      if (this.start === -1) {
        if (c === 32 || c === 9 || c === 10 || c === 13) continue;
        this.start = i;
      }
      if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) this.depth++;
      else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth === 0) {
          out.push(s.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    // Drop consumed text; keep the partial value.
    if (this.start === -1) {
      this.buf = '';
      this.pos = 0;
    } else {
      this.buf = s.slice(this.start);
      this.pos = this.buf.length;
      this.start = 0;
    }
    return out;
  }

  /** Text of an unfinished value at end of stream, if any. */
  rest(): string {
    return this.buf.trim();
  }
}

const timeNanoRe = /"timeNano"\s*:\s*(\d+)/;

/** Parse one message, keeping timeNano's exact digits (beyond 2^53) in timeNanoText. */
export function parseMessage(text: string): JSONMessage {
  const m = JSON.parse(text) as JSONMessage;
  const t = timeNanoRe.exec(text);
  if (t) m.timeNanoText = t[1]!;
  return m;
}

/** Decode a newline-delimited (or merely concatenated) JSON message stream. */
export async function* jsonMessages(stream: Readable): AsyncGenerator<JSONMessage> {
  stream.setEncoding('utf8');
  const split = new JSONValueSplitter();
  for await (const chunk of stream) {
    for (const v of split.push(chunk as string)) yield parseMessage(v);
  }
  const rest = split.rest();
  if (rest !== '') throw new Error('unexpected EOF');
}

/**
 * What went wrong in a TLS handshake, in Go's words as docker prints them; undefined
 * for errors that are not about TLS (those keep their usual messages).
 */
export function tlsFailure(err: NodeJS.ErrnoException): string | undefined {
  const code = err.code ?? '';
  const verify = (why: string) => `tls: failed to verify certificate: x509: ${why}`;
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return verify('certificate signed by unknown authority');
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return verify('certificate has expired or is not yet valid');
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return verify(`${(err as { reason?: string }).reason ?? err.message} (make a server certificate for this name or address, or connect by a name it has)`);
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset by the daemon during the TLS handshake (does it require a client certificate? give one with --tlscert/--tlskey)';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return 'tls: first record does not look like a TLS handshake (the daemon does not speak TLS on this port: drop --tls/--tlsverify)';
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_OSSL_')) {
    // ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED → "remote error: tls: certificate required"
    const alert = /_ALERT_(.+)$/.exec(code)?.[1];
    if (alert) {
      const words = alert.toLowerCase().replace(/_/g, ' ');
      const go: Record<string, string> = { 'certificate expired': 'expired certificate', 'unknown ca': 'unknown certificate authority' };
      return `remote error: tls: ${go[words] ?? words}`;
    }
    return `tls: ${err.message}`;
  }
  return undefined;
}
