/**
 * The Engine API's HTTP layer: routing with versioned (`/v1.NN/...`) and bare
 * paths, version checks, error bodies, JSON-message streams, and hijacked
 * connections (Upgrade: tcp) for attach and exec.
 *
 * Handlers are thin (see routes/): parse, call a backend, write. A handler's
 * thrown EngineError becomes `{"message": ...}` with the status of its kind
 * (errors.ts). Once a stream has started the status line is gone, so errors
 * are written into the stream as a JSON message instead — the point of no
 * return in every streamed response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { EngineError, invalid, messageOf } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { statusOf } from './errors.js';
import { API_VERSION, MIN_API_VERSION, compareVersions } from './version.js';

export interface Query {
  str(k: string): string | undefined;
  all(k: string): string[];
  int(k: string): number | undefined;
  bool(k: string): boolean | undefined;
  has(k: string): boolean;
}

export interface Req {
  method: string;
  path: string; // without the version prefix
  params: string[];
  query: Query;
  headers: IncomingMessage['headers'];
  /** The API version this request speaks (from the path, else the server's). */
  version: string;
  raw: IncomingMessage;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** The body parsed as JSON; an empty body is `undefined`. Malformed JSON is a 400. */
  json<T>(): Promise<T | undefined>;
}

export interface Res {
  /** Sets a response header before the response starts. */
  header(name: string, value: string): void;
  json(body: unknown, status?: number): void;
  text(body: string, status?: number, contentType?: string): void;
  noContent(): void;
  /** Starts a JSON-message stream (200, chunked); returns a writer of one message a line. */
  stream(contentType?: string): JsonStream;
  /** Raw bytes out (save, export): sets headers and returns the writable response. */
  raw(contentType: string, status?: number): NodeJS.WritableStream;
  /** Takes over the connection (attach/exec): 101 UPGRADED when the client asked to upgrade, else 200. */
  hijack(contentType?: string): Duplex;
  readonly started: boolean;
  /** The status sent, once the response has started (for metrics). */
  readonly status?: number;
}

export interface JsonStream {
  write(msg: unknown): void;
  error(e: unknown): void;
  end(): void;
  readonly closed: boolean;
}

/**
 * A JSON-message stream (pull, push, image copy, move) that starts with its
 * first message: an error before that (a bad name, an unknown manifest, an
 * unreachable target) is a plain error response with its status, as dockerd
 * answers pull and push; after it, an error message in the stream.
 */
export async function lazyStream<M>(res: Res, run: (progress: (m: M) => void) => Promise<void>): Promise<void> {
  let stream: JsonStream | undefined;
  try {
    await run((m) => (stream ??= res.stream()).write(m));
  } catch (e) {
    if (!stream) throw e;
    stream.error(e);
  }
  stream?.end();
}

export type Handler = (req: Req, res: Res) => Promise<void> | void;

interface Route {
  method: string;
  /** As given to add() ("/containers/{name}/json"): the metrics' route label. */
  pattern: string;
  re: RegExp;
  handler: Handler;
}

/** One finished request, for the metrics hook. `route` is the matched pattern, or "other" when none matched. */
export interface RequestObservation {
  method: string;
  route: string;
  status: number;
  seconds: number;
}

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;
const MAX_JSON_BODY = 32 << 20;
/** Attach and exec start bodies are a few bytes of JSON. */
const MAX_UPGRADE_BODY = 1 << 20;

export class Router {
  private readonly routes: Route[] = [];
  /** Called after each request (metrics); it must not throw. */
  onRequest?: (o: RequestObservation) => void;
  constructor(
    private readonly log: Logger,
    private readonly serverHeader: string,
  ) {}

  /**
   * Adds a route. In `pattern`, `{name}` matches one path segment and `{name*}`
   * matches the rest including slashes (image names have them): `/images/{name*}/json`.
   */
  add(method: string, pattern: string, handler: Handler): this {
    const re = new RegExp(
      '^' +
        pattern
          .replace(/[.+?^$()|[\]\\]/g, '\\$&')
          .replace(/\{[a-zA-Z]+\*\}/g, '(.+)')
          .replace(/\{[a-zA-Z]+\}/g, '([^/]+)') +
        '$',
    );
    this.routes.push({ method, pattern, re, handler });
    return this;
  }
  get(p: string, h: Handler) { return this.add('GET', p, h); }
  post(p: string, h: Handler) { return this.add('POST', p, h); }
  put(p: string, h: Handler) { return this.add('PUT', p, h); }
  delete(p: string, h: Handler) { return this.add('DELETE', p, h); }
  head(p: string, h: Handler) { return this.add('HEAD', p, h); }

  /** Entry for ordinary requests. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    void this.dispatch(req, new HttpRes(res, req, this.serverHeader));
  }

  /** Entry for requests with an Upgrade header (Node hands us the socket). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node drops its own error listener on upgrade: a client's reset must not become an uncaught exception.
    socket.on('error', (e) => this.log.debug({ err: messageOf(e) }, 'upgraded connection error'));
    // Node hands over the body with the connection: the request's own bytes (exec start's JSON)
    // are taken off the front, so only what follows them reaches the container's stdin.
    const len = Number(req.headers['content-length'] ?? 0);
    if (Number.isInteger(len) && len > MAX_UPGRADE_BODY) {
      new SocketRes(socket, this.serverHeader).json({ message: `request body of ${len} bytes is too large for an attach or exec request` }, 400);
      return;
    }
    void readPrefix(socket, head, Number.isInteger(len) && len > 0 ? len : 0).then(
      (body) => this.dispatch(req, new SocketRes(socket, this.serverHeader), body),
      () => socket.destroy(),
    );
  }

  private async dispatch(raw: IncomingMessage, res: Res, body?: Buffer): Promise<void> {
    const started = performance.now();
    let version = API_VERSION;
    const ac = new AbortController();
    const onClose = () => ac.abort(new EngineError('unavailable', 'client disconnected'));
    raw.socket.once('close', onClose);
    let route = 'other';
    try {
      // A request target that is no URL (`//[`) is the client's mistake: a 400, not a hung request.
      let url: URL;
      try {
        url = new URL(raw.url ?? '/', 'http://pier');
      } catch {
        throw invalid(`invalid request URL ${raw.url}`);
      }
      let path = decodePath(url.pathname);
      const m = VERSION_PREFIX.exec(path);
      if (m) {
        version = m[1]!;
        path = m[2]!;
        if (compareVersions(version, API_VERSION) > 0)
          throw invalid(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
        if (compareVersions(version, MIN_API_VERSION) < 0)
          throw invalid(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      const method = raw.method ?? 'GET';
      let found: { route: Route; params: string[] } | undefined;
      let pathMatched = false;
      for (const r of this.routes) {
        const mm = r.re.exec(path);
        if (!mm) continue;
        pathMatched = true;
        if (r.method === method || (method === 'HEAD' && r.method === 'GET' && !this.routes.some((x) => x.method === 'HEAD' && x.re.test(path)))) {
          found = { route: r, params: mm.slice(1) };
          break;
        }
      }
      if (found) route = found.route.pattern;
      if (!found) {
        if (pathMatched) throw new EngineError('not-implemented', `method ${method} is not allowed on ${path}`);
        throw new EngineError('not-found', `page not found`);
      }
      const req: Req = {
        method,
        path,
        params: found.params,
        query: makeQuery(url.searchParams),
        headers: raw.headers,
        version,
        raw,
        signal: ac.signal,
        json: <T>() => (body ? Promise.resolve(parseJson<T>(body)) : readJson<T>(raw)),
      };
      await found.route.handler(req, res);
    } catch (e) {
      const status = statusOf(e);
      const log = status >= 500 ? this.log.error.bind(this.log) : this.log.debug.bind(this.log);
      log({ method: raw.method, path: raw.url, status, err: messageOf(e) }, 'request failed');
      if (!res.started) res.json({ message: messageOf(e) }, status);
      else this.log.warn({ path: raw.url, err: messageOf(e) }, 'error after the response started');
    } finally {
      raw.socket.off('close', onClose);
      this.onRequest?.({ method: raw.method ?? 'GET', route, status: res.status ?? 200, seconds: (performance.now() - started) / 1000 });
      if (this.log.enabled('debug')) this.log.debug({ method: raw.method, path: raw.url, ms: +(performance.now() - started).toFixed(2) }, 'request');
    }
  }
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

function makeQuery(sp: URLSearchParams): Query {
  return {
    str: (k) => sp.get(k) ?? undefined,
    all: (k) => sp.getAll(k),
    has: (k) => sp.has(k),
    int(k) {
      const v = sp.get(k);
      if (v === null || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) throw invalid(`invalid value for ${k}: "${v}" is not an integer`);
      return n;
    },
    bool(k) {
      // Docker's BoolValue: absent → undefined; "", "0", "no", "false", "none" → false; anything else true.
      const v = sp.get(k);
      if (v === null) return undefined;
      return !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase());
    },
  };
}

/** The first n bytes of an upgraded connection (head first); the rest is put back. */
function readPrefix(socket: Duplex, head: Buffer, n: number): Promise<Buffer | undefined> {
  if (n === 0) {
    if (head.length) socket.unshift(head);
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const parts = [head];
    let size = head.length;
    const done = () => {
      socket.off('data', onData).off('end', onEnd).off('error', reject);
      socket.pause();
      const got = Buffer.concat(parts);
      if (got.length > n) socket.unshift(got.subarray(n));
      resolve(got.subarray(0, n));
    };
    const onData = (d: Buffer) => {
      parts.push(d);
      size += d.length;
      if (size >= n) done();
    };
    const onEnd = () => reject(new Error('connection ended inside the request body'));
    if (size >= n) return done();
    socket.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

function parseJson<T>(buf: Buffer): T | undefined {
  const text = buf.toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalid(`invalid JSON in request body: ${(e as Error).message}`);
  }
}

async function readJson<T>(raw: IncomingMessage): Promise<T | undefined> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of raw as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_JSON_BODY) throw invalid(`request body is larger than ${MAX_JSON_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalid(`invalid JSON in request body: ${(e as Error).message}`);
  }
}

function commonHeaders(serverHeader: string): Record<string, string> {
  return { 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: serverHeader };
}

class HttpRes implements Res {
  started = false;
  get status(): number | undefined {
    return this.started ? this.res.statusCode : undefined;
  }
  constructor(
    private readonly res: ServerResponse,
    private readonly req: IncomingMessage,
    serverHeader: string,
  ) {
    for (const [k, v] of Object.entries(commonHeaders(serverHeader))) res.setHeader(k, v);
  }
  header(name: string, value: string): void {
    this.res.setHeader(name, value);
  }
  json(body: unknown, status = 200): void {
    this.started = true;
    const text = JSON.stringify(body) + '\n';
    this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    this.res.end(this.req.method === 'HEAD' ? undefined : text);
  }
  text(body: string, status = 200, contentType = 'text/plain; charset=utf-8'): void {
    this.started = true;
    this.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    this.res.end(this.req.method === 'HEAD' ? undefined : body);
  }
  noContent(): void {
    this.started = true;
    this.res.writeHead(204);
    this.res.end();
  }
  stream(contentType = 'application/json'): JsonStream {
    this.started = true;
    this.res.writeHead(200, { 'Content-Type': contentType });
    this.res.flushHeaders();
    const res = this.res;
    return {
      write(msg) {
        if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(msg) + '\n');
      },
      error(e) {
        const message = messageOf(e);
        if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
      },
      end() {
        if (!res.writableEnded) res.end();
      },
      get closed() {
        return res.destroyed || res.writableEnded;
      },
    };
  }
  raw(contentType: string, status = 200): NodeJS.WritableStream {
    this.started = true;
    this.res.writeHead(status, { 'Content-Type': contentType });
    return this.res;
  }
  hijack(contentType = 'application/vnd.docker.raw-stream'): Duplex {
    this.started = true;
    // Without an Upgrade header, Docker still takes over the connection after a 200 header.
    const socket = this.req.socket;
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n\r\n`);
    this.res.detachSocket(socket);
    return socket;
  }
}

/** A response on a raw socket: what Node gives for Upgrade requests. */
class SocketRes implements Res {
  started = false;
  private headers: string;
  header(name: string, value: string): void {
    this.headers += `${name}: ${value}\r\n`;
  }
  constructor(
    private readonly socket: Duplex,
    serverHeader: string,
  ) {
    this.headers = Object.entries(commonHeaders(serverHeader)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  }
  status?: number;
  private head(status: number, extra: string): void {
    this.started = true;
    this.status = status;
    this.socket.write(`HTTP/1.1 ${status} ${status === 200 ? 'OK' : status === 101 ? 'UPGRADED' : 'Error'}\r\n${this.headers}${extra}`);
  }
  json(body: unknown, status = 200): void {
    const text = JSON.stringify(body) + '\n';
    this.head(status, `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n`);
    this.socket.end(text);
  }
  text(body: string, status = 200, contentType = 'text/plain; charset=utf-8'): void {
    this.head(status, `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
    this.socket.end(body);
  }
  noContent(): void {
    this.head(204, 'Connection: close\r\n\r\n');
    this.socket.end();
  }
  stream(contentType = 'application/json'): JsonStream {
    this.head(200, `Content-Type: ${contentType}\r\nConnection: close\r\n\r\n`);
    const s = this.socket;
    return {
      write: (m) => void (!s.destroyed && s.write(JSON.stringify(m) + '\n')),
      error: (e) => void (!s.destroyed && s.write(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n')),
      end: () => void s.end(),
      get closed() {
        return s.destroyed;
      },
    };
  }
  raw(contentType: string, status = 200): NodeJS.WritableStream {
    this.head(status, `Content-Type: ${contentType}\r\nConnection: close\r\n\r\n`);
    return this.socket;
  }
  hijack(contentType = 'application/vnd.docker.raw-stream'): Duplex {
    this.head(101, `Content-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    return this.socket;
  }
}
