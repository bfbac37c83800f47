/**
 * The registry HTTP server: OCI Distribution Spec v1.1 and Docker Registry HTTP
 * API V2 over node:http (or https), on the file-system store of storage.ts.
 *
 *   const r = await serveRegistry({ addr: '127.0.0.1:5000', root: '/var/lib/pier-registry' });
 *   // … r.url is http://127.0.0.1:5000
 *   await r.close(); // stops accepting, lets requests in flight finish (up to a timeout)
 *
 * Every /v2/ request is authorized by `auth` with the access its route needs;
 * paths outside /v2/ go to `auth.handle` (e.g. a token endpoint). Manifests and
 * blobs a repository lacks are fetched through `proxy` when it matches the repository.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { isDigest, type Digest } from '../base/digest.js';
import { nullLogger, type Logger } from '../base/log.js';
import { MediaType } from '../image/oci.js';
import { asRegistryError, errorBody, regErr, RegistryError } from './errors.js';
import { tlsOptions } from './auth/tls.js';
import type { Access, Authenticator, PullThrough } from './hooks.js';
import { BlobIngest } from './ingest.js';
import { bareType } from './manifest.js';
import { checkDigest, checkName, isName, parseRef, type ManifestRef } from './names.js';
import { digestOf, RegistryStore, type StoredManifest } from './storage.js';
import { Uploads, type UploadOptions } from './uploads.js';

export interface ServeOptions {
  /** host:port; port 0 picks a free one (see `url`). */
  addr: string;
  root: string;
  auth?: Authenticator;
  proxy?: PullThrough;
  /** PEM file paths; with them the server speaks https. */
  tls?: { cert: string; key: string };
  /** Largest manifest a PUT may carry (default 4 MiB; larger → 413 MANIFEST_INVALID). */
  maxManifestBytes?: number;
  /** Largest blob an upload may grow to (default 64 GiB; larger → 413 SIZE_INVALID). */
  maxBlobBytes?: number;
  /** Idle upload sessions are dropped after this long (default 1 h). */
  uploadTtlMs?: number;
  /** How long close() waits for requests in flight before cutting connections (default 10 s). */
  shutdownTimeoutMs?: number;
  /** Catalog entries returned when the client does not ask for a number (default 1000). */
  catalogPageSize?: number;
  log?: Logger;
}

export interface RegistryServer {
  url: string;
  store: RegistryStore;
  uploads: Uploads;
  close(): Promise<void>;
}

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const API_VERSION = 'registry/2.0';
/** Bodies smaller than this are read and dropped before an early error answer; larger ones get Connection: close. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; repo: string }
  | { kind: 'manifest'; repo: string; ref: string }
  | { kind: 'blob'; repo: string; digest: string }
  | { kind: 'uploads'; repo: string }
  | { kind: 'upload'; repo: string; uuid: string }
  | { kind: 'referrers'; repo: string; digest: string };

/** Routes a /v2/ path; the repository name is everything before the last keyword (names may contain '/'). */
export function routeOf(path: string): Route | undefined {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  let m: RegExpMatchArray | null;
  if ((m = path.match(/^\/v2\/(.+)\/tags\/list$/))) return { kind: 'tags', repo: m[1]! };
  if ((m = path.match(/^\/v2\/(.+)\/manifests\/([^/]+)$/))) return { kind: 'manifest', repo: m[1]!, ref: decode(m[2]!) };
  if ((m = path.match(/^\/v2\/(.+)\/blobs\/uploads\/?$/))) return { kind: 'uploads', repo: m[1]! };
  if ((m = path.match(/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/))) return { kind: 'upload', repo: m[1]!, uuid: decode(m[2]!) };
  if ((m = path.match(/^\/v2\/(.+)\/blobs\/([^/]+)$/))) return { kind: 'blob', repo: m[1]!, digest: decode(m[2]!) };
  if ((m = path.match(/^\/v2\/(.+)\/referrers\/([^/]+)$/))) return { kind: 'referrers', repo: m[1]!, digest: decode(m[2]!) };
  return undefined;
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

const METHODS: Record<Route['kind'], string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

/** The access a request needs, in Docker token-scope terms. */
export function accessFor(route: Route, method: string, query: URLSearchParams): Access[] {
  if (route.kind === 'base') return [];
  if (route.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  const actions = method === 'GET' || method === 'HEAD' ? ['pull'] : method === 'DELETE' ? ['delete'] : ['pull', 'push'];
  const out: Access[] = [{ type: 'repository', name: route.repo, actions }];
  const from = query.get('from');
  if (route.kind === 'uploads' && query.get('mount') && from && from !== route.repo && isName(from))
    out.push({ type: 'repository', name: from, actions: ['pull'] });
  return out;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
  user?: string;
}

export async function serveRegistry(o: ServeOptions): Promise<RegistryServer> {
  const log = o.log ?? nullLogger;
  const store = await RegistryStore.open(o.root, { log });
  const uploadOpts: UploadOptions = { ttlMs: o.uploadTtlMs, maxBlobBytes: o.maxBlobBytes, log };
  const uploads = await Uploads.open(store, uploadOpts);
  const maxManifest = o.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const h = new Handlers(store, uploads, maxManifest, o.proxy, o.catalogPageSize ?? 1000, log);

  let inFlight = 0;
  let idle: (() => void) | undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    const started = process.hrtime.bigint();
    let bytes = 0;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    (res as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) => {
      bytes += byteLength(chunk);
      return write(chunk, ...rest);
    };
    (res as { end: unknown }).end = (chunk?: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function') bytes += byteLength(chunk);
      return end(chunk, ...rest);
    };
    // A request target the URL parser refuses (e.g. "//[") must not throw out of this event handler: that kills the process.
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://registry');
    } catch {
      url = undefined;
    }
    const ctx: Ctx = { req, res, url: url ?? new URL('/', 'http://registry'), method: req.method ?? 'GET' };
    res.once('close', () => {
      inFlight--;
      log.info(
        {
          method: ctx.method, path: ctx.url.pathname + ctx.url.search, status: res.statusCode, bytes,
          ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000, user: ctx.user, aborted: !res.writableFinished || undefined,
        },
        'request',
      );
      if (inFlight === 0) idle?.();
    });
    res.setHeader('Docker-Distribution-API-Version', API_VERSION);
    if (!url) {
      res.setHeader('Connection', 'close');
      return sendPlain(ctx, 400, '400 Bad Request: malformed request target\n');
    }
    dispatch(ctx).catch((e) => void sendError(ctx, e, log));
  };

  const dispatch = async (ctx: Ctx) => {
    const path = ctx.url.pathname;
    if (!path.startsWith('/v2/') && path !== '/v2') {
      if (o.auth?.handle && (await o.auth.handle(ctx.req, ctx.res))) return;
      sendPlain(ctx, 404, '404 page not found\n');
      return;
    }
    const route = routeOf(path);
    if (!route) {
      sendPlain(ctx, 404, '404 page not found\n');
      return;
    }
    if ('repo' in route) checkName(route.repo);
    if (!METHODS[route.kind].includes(ctx.method)) throw regErr('UNSUPPORTED', `${ctx.method} is not supported on ${route.kind}`, { headers: { Allow: METHODS[route.kind].join(', ') } });
    if (o.auth) {
      const access = accessFor(route, ctx.method, ctx.url.searchParams);
      const r = await o.auth.authorize(ctx.req, access);
      if (!r.ok) {
        const detail = access.map((a) => ({ Type: a.type, Name: a.name, Action: a.actions.join(',') }));
        // A challenge rides along on a 403 too (token auth's insufficient_scope), so a client can ask for a wider token.
        const headers: Record<string, string> = r.challenge ? { 'WWW-Authenticate': r.challenge } : {};
        throw regErr(r.status === 401 ? 'UNAUTHORIZED' : 'DENIED', r.message || undefined, { detail, headers });
      }
      ctx.user = r.user;
    }
    await h.handle(ctx, route);
  };

  let server: Server;
  try {
    server = await listen(o, onRequest);
  } catch (e) {
    uploads.stop();
    throw e;
  }
  const bound = server.address() as AddressInfo;
  const hostForUrl = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `${o.tls ? 'https' : 'http'}://${hostForUrl}:${bound.port}`;
  log.info({ url, root: o.root, auth: !!o.auth, proxy: !!o.proxy }, 'registry listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      uploads.stop();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const drained = new Promise<void>((r) => (idle = r));
        const timeout = o.shutdownTimeoutMs ?? 10_000;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeout)));
        if (await Promise.race([drained.then(() => false), timedOut])) log.warn({ inFlight }, 'shutdown timeout: closing connections with requests in flight');
        clearTimeout(timer);
      }
      server.closeAllConnections();
      await closed;
      log.info({}, 'registry stopped');
    })());
  return { url, store, uploads, close };
}

async function listen(o: ServeOptions, onRequest: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const { host, port } = splitAddr(o.addr);
  // TLS files are read and checked up front (PEM parses, key matches), so a bad file fails here, not at the first handshake.
  const server: Server = o.tls ? createHttpsServer(await tlsOptions(o.tls.cert, o.tls.key), onRequest) : createHttpServer(onRequest);
  // Large blobs stream for a long time; the default would cut a slow upload at 5 minutes.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function splitAddr(addr: string): { host: string; port: number } {
  const m = addr.match(/^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/);
  if (!m) throw new Error(`invalid address "${addr}": expected host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

const byteLength = (chunk: unknown) =>
  typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.length : 0;

// --- responses ------------------------------------------------------------------

function sendPlain(ctx: Ctx, status: number, text: string): void {
  ctx.res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
}

function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...headers });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
}

function sendEmpty(ctx: Ctx, status: number, headers: Record<string, string | number>): void {
  ctx.res.writeHead(status, { 'Content-Length': 0, ...headers });
  ctx.res.end();
}

async function sendError(ctx: Ctx, e: unknown, log: Logger): Promise<void> {
  const err = asRegistryError(e);
  const { req, res } = ctx;
  if (err.status >= 500) log.error({ err: e, method: ctx.method, path: ctx.url.pathname }, 'request failed');
  if (res.headersSent || res.destroyed || !req.socket || req.socket.destroyed) {
    // The status line is gone (a streamed blob) or the client is: all that is left is to cut the connection.
    res.destroy();
    return;
  }
  if (!req.complete) {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared <= DRAIN_LIMIT) await drain(req);
    else res.setHeader('Connection', 'close');
  }
  const body = errorBody(err);
  res.writeHead(err.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...err.headers });
  res.end(ctx.method === 'HEAD' ? undefined : body);
}

/** Reads and drops what is left of a request body (bounded by DRAIN_LIMIT and 10 s). */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete || req.destroyed) return resolve();
    const t = setTimeout(resolve, 10_000);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
    req.resume();
  });
}

/**
 * Reads a small body whole, refusing more than `limit` bytes with `tooBig()`.
 * (Not with for-await: breaking out of it destroys the request, and with it the
 * socket the error answer must go out on.)
 */
function readBody(req: IncomingMessage, limit: number, tooBig: () => RegistryError): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(tooBig());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (chunk: Buffer) => {
      n += chunk.length;
      if (n <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      reject(tooBig());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

const declaredLength = (req: IncomingMessage): number | undefined => {
  const n = Number(req.headers['content-length']);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

/** Parses `Content-Range: <start>-<end>` (OCI), tolerating a `bytes ` prefix and a `/total` suffix. */
function contentRange(h: string | undefined): { start: number; end: number } | undefined {
  if (!h) return undefined;
  const m = h.trim().match(/^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/);
  if (!m) throw regErr('BLOB_UPLOAD_INVALID', `malformed Content-Range "${h.slice(0, 100)}": expected <start>-<end>`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw regErr('RANGE_INVALID', `Content-Range ${start}-${end} ends before it starts`);
  return { start, end };
}

/** A single `Range: bytes=…` request on a blob of `size` bytes; undefined for none or ones we answer in full. */
function byteRange(h: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!h) return undefined;
  const m = h.trim().match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // multiple ranges or junk: the whole blob
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) throw unsatisfiable(size);
  return { start, end };
}

const unsatisfiable = (size: number) =>
  regErr('RANGE_INVALID', `requested range not satisfiable (blob has ${size} bytes)`, { headers: { 'Content-Range': `bytes */${size}` } });

/** Accept headers as a list of bare media types (several headers arrive joined by ", "). */
function acceptList(req: IncomingMessage): string[] {
  const raw = req.headers.accept;
  if (!raw) return [];
  return raw.split(',').map((s) => bareType(s)).filter(Boolean);
}

/** n/last pagination; `n` absent → `dflt` (undefined: all). */
function page(items: string[], q: URLSearchParams, dflt: number | undefined): { items: string[]; next?: { n: number; last: string } } {
  const nRaw = q.get('n');
  let n = dflt;
  if (nRaw !== null && nRaw !== '') {
    if (!/^\d+$/.test(nRaw)) throw regErr('PAGINATION_NUMBER_INVALID', `invalid n "${nRaw.slice(0, 50)}": expected a non-negative integer`, { detail: { n: nRaw.slice(0, 50) } });
    n = Number(nRaw);
  }
  const last = q.get('last');
  let rest = last ? items.filter((x) => x > last) : items;
  if (n === undefined || rest.length <= n) return { items: n === 0 ? [] : rest };
  rest = rest.slice(0, n);
  if (n === 0) return { items: [] };
  return { items: rest, next: { n, last: rest[rest.length - 1]! } };
}

const linkHeader = (path: string, next: { n: number; last: string }) => `<${path}?n=${next.n}&last=${encodeURIComponent(next.last)}>; rel="next"`;

// --- handlers -------------------------------------------------------------------

class Handlers {
  constructor(
    private readonly store: RegistryStore,
    private readonly uploads: Uploads,
    private readonly maxManifest: number,
    private readonly proxy: PullThrough | undefined,
    private readonly catalogPageSize: number,
    private readonly log: Logger,
  ) {}

  async handle(ctx: Ctx, route: Route): Promise<void> {
    switch (route.kind) {
      case 'base':
        return sendJson(ctx, 200, {});
      case 'catalog':
        return this.catalog(ctx);
      case 'tags':
        return this.tags(ctx, route.repo);
      case 'manifest':
        if (ctx.method === 'PUT') return this.putManifest(ctx, route.repo, route.ref);
        if (ctx.method === 'DELETE') return this.deleteManifest(ctx, route.repo, route.ref);
        return this.getManifest(ctx, route.repo, route.ref);
      case 'blob':
        if (ctx.method === 'DELETE') return this.deleteBlob(ctx, route.repo, route.digest);
        return this.getBlob(ctx, route.repo, route.digest);
      case 'uploads':
        return this.startUpload(ctx, route.repo);
      case 'upload':
        return this.upload(ctx, route.repo, route.uuid);
      case 'referrers':
        return this.referrers(ctx, route.repo, route.digest);
    }
  }

  private async catalog(ctx: Ctx): Promise<void> {
    const p = page(await this.store.repositories(), ctx.url.searchParams, this.catalogPageSize);
    sendJson(ctx, 200, { repositories: p.items }, p.next ? { Link: linkHeader('/v2/_catalog', p.next) } : {});
  }

  private async tags(ctx: Ctx, repo: string): Promise<void> {
    const all = await this.store.tags(repo);
    if (!all) throw regErr('NAME_UNKNOWN', `repository name not known to registry: ${repo}`, { detail: { name: repo } });
    const p = page(all, ctx.url.searchParams, undefined);
    sendJson(ctx, 200, { name: repo, tags: p.items }, p.next ? { Link: linkHeader(`/v2/${repo}/tags/list`, p.next) } : {});
  }

  // --- manifests ---

  private refOf(ref: string, forPut: boolean): ManifestRef {
    const r = parseRef(ref);
    if (r) return r;
    if (ref.includes(':')) throw regErr('DIGEST_INVALID', `invalid digest "${ref.slice(0, 200)}"`, { detail: { digest: ref.slice(0, 200) } });
    if (forPut) throw regErr('MANIFEST_INVALID', `invalid tag "${ref.slice(0, 200)}": must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, { detail: { tag: ref.slice(0, 200) } });
    throw manifestUnknown(ref);
  }

  private async getManifest(ctx: Ctx, repo: string, refStr: string): Promise<void> {
    const ref = this.refOf(refStr, false);
    const accept = acceptList(ctx.req);
    let m = (await this.store.getManifest(repo, ref)) ?? (await this.proxiedManifest(repo, ref, refStr, accept));
    if (!m) throw manifestUnknown(refStr);
    // Like distribution: a stored image manifest is served whatever Accept says. A
    // client that cannot take an index asked by tag gets the linux/amd64 image when there is one.
    const acceptsAll = accept.length === 0 || accept.includes('*/*') || accept.includes(m.mediaType);
    if (!acceptsAll && ref.tag && (m.mediaType === MediaType.OciIndex || m.mediaType === MediaType.DockerManifestList)) {
      const child = await this.platformChild(repo, m);
      if (child) m = child;
    }
    const headers = {
      'Content-Type': m.mediaType,
      'Content-Length': m.body.length,
      'Docker-Content-Digest': m.digest,
      ETag: `"${m.digest}"`,
    };
    if (ctx.req.headers['if-none-match'] === `"${m.digest}"`) {
      ctx.res.writeHead(304, { 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"` });
      ctx.res.end();
      return;
    }
    ctx.res.writeHead(200, headers);
    ctx.res.end(ctx.method === 'HEAD' ? undefined : m.body);
  }

  private async platformChild(repo: string, index: StoredManifest): Promise<StoredManifest | undefined> {
    try {
      const doc = JSON.parse(index.body.toString('utf8')) as { manifests?: Array<{ digest: string; platform?: { os?: string; architecture?: string } }> };
      const d = doc.manifests?.find((x) => x.platform?.os === 'linux' && x.platform?.architecture === 'amd64')?.digest;
      return d && isDigest(d) ? await this.store.getManifest(repo, { digest: d }) : undefined;
    } catch {
      return undefined;
    }
  }

  private async proxiedManifest(repo: string, ref: ManifestRef, refStr: string, accept: string[]): Promise<StoredManifest | undefined> {
    if (!this.proxy?.matches(repo)) return undefined;
    let up;
    try {
      up = await this.proxy.manifest(repo, refStr, accept);
    } catch (e) {
      throw regErr('UNAVAILABLE', `upstream: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!up) return undefined;
    const want = ref.digest ?? (isDigest(up.digest) ? up.digest : undefined);
    const digest = digestOf(up.body, want ? want.slice(0, want.indexOf(':')) : 'sha256');
    if (want && want !== digest) {
      this.log.warn({ repo, ref: refStr, expected: want, got: digest }, 'pull-through: upstream manifest does not match its digest; not stored');
      throw regErr('UNAVAILABLE', `upstream manifest does not match its digest ${want}`);
    }
    const m: StoredManifest = { body: up.body, mediaType: up.mediaType, digest };
    await this.store.putProxiedManifest(repo, m, ref.tag);
    return m;
  }

  private async putManifest(ctx: Ctx, repo: string, refStr: string): Promise<void> {
    const ref = this.refOf(refStr, true);
    const body = await readBody(ctx.req, this.maxManifest, () =>
      regErr('MANIFEST_INVALID', `manifest too large: the limit is ${this.maxManifest} bytes`, { status: 413, detail: { limit: this.maxManifest } }),
    );
    const { digest, parsed } = await this.store.putManifest(repo, ref, body, ctx.req.headers['content-type']);
    const headers: Record<string, string | number> = { Location: `/v2/${repo}/manifests/${digest}`, 'Docker-Content-Digest': digest };
    if (parsed.subject) headers['OCI-Subject'] = parsed.subject.digest;
    sendEmpty(ctx, 201, headers);
  }

  private async deleteManifest(ctx: Ctx, repo: string, refStr: string): Promise<void> {
    const ref = this.refOf(refStr, false);
    const ok = ref.digest ? await this.store.deleteManifest(repo, ref.digest) : await this.store.deleteTag(repo, ref.tag);
    if (!ok) throw manifestUnknown(refStr);
    sendEmpty(ctx, 202, {});
  }

  // --- blobs ---

  private async getBlob(ctx: Ctx, repo: string, digestStr: string): Promise<void> {
    const digest = checkDigest(digestStr);
    let opened = await this.store.openBlob(repo, digest);
    if (!opened && this.proxy?.matches(repo)) {
      if (ctx.method === 'GET' && !ctx.req.headers.range) return this.streamProxiedBlob(ctx, repo, digest);
      await this.fetchProxiedBlob(repo, digest);
      opened = await this.store.openBlob(repo, digest);
    }
    if (!opened) throw regErr('BLOB_UNKNOWN', `blob unknown to registry: ${digest}`, { detail: { digest } });
    const { fh, size } = opened;
    try {
      const range = byteRange(ctx.req.headers.range, size);
      const headers: Record<string, string | number> = {
        'Content-Type': 'application/octet-stream',
        'Docker-Content-Digest': digest,
        'Accept-Ranges': 'bytes',
        ETag: `"${digest}"`,
        'Cache-Control': 'max-age=31536000',
      };
      if (range) {
        headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
        headers['Content-Length'] = range.end - range.start + 1;
      } else headers['Content-Length'] = size;
      ctx.res.writeHead(range ? 206 : 200, headers);
      if (ctx.method === 'HEAD' || size === 0) {
        ctx.res.end();
        return;
      }
      const stream = fh.createReadStream({ start: range?.start ?? 0, end: range?.end ?? size - 1, highWaterMark: 1 << 20, autoClose: false });
      await pipeline(stream, ctx.res).catch(() => {
        /* the client went away; nothing to answer */
      });
    } finally {
      await fh.close();
    }
  }

  /**
   * Serves a blob from the upstream while storing it. The last chunk is held
   * back until the digest is checked: on a mismatch the client never receives a
   * complete response (the connection is cut) and nothing is stored.
   */
  private async streamProxiedBlob(ctx: Ctx, repo: string, digest: Digest): Promise<void> {
    const up = await this.upstreamBlob(repo, digest);
    const ingest = await BlobIngest.create(this.store.tmpPath());
    const store = this.store;
    const file = await ingest.appender();
    let ok = false;
    try {
      ctx.res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': up.size, 'Docker-Content-Digest': digest });
      await pipeline(
        up.stream,
        async function* (src: AsyncIterable<Buffer>) {
          let held: Buffer | undefined;
          for await (const chunk of src) {
            // An upstream sending more than it declared is cut off before it can fill the disk.
            if (ingest.size + chunk.length > up.size) throw new Error(`upstream blob ${digest} is larger than the ${up.size} bytes it declared`);
            await file.write(chunk);
            if (held) yield held;
            held = chunk;
          }
          const got = await ingest.digest(digest.slice(0, digest.indexOf(':')));
          if (got !== digest || ingest.size !== up.size) {
            // Clean up before the throw cuts the client off, so nothing outlives the failed response.
            await fs.rm(ingest.path, { force: true });
            throw new Error(`upstream blob ${digest} does not match: got ${got}, ${ingest.size} bytes`);
          }
          await store.commitBlob(repo, ingest.path, digest);
          ok = true;
          if (held) yield held;
        },
        ctx.res,
      );
    } catch (e) {
      this.log.warn({ err: e, repo, digest }, 'pull-through blob failed');
      ctx.res.destroy();
    } finally {
      await file.close();
      if (!ok) await fs.rm(ingest.path, { force: true });
    }
  }

  /** Fetches a blob from the upstream into the store without serving it (HEAD, Range). */
  private async fetchProxiedBlob(repo: string, digest: Digest): Promise<void> {
    const up = await this.upstreamBlob(repo, digest).catch((e) => {
      if (e instanceof RegistryError && e.code === 'BLOB_UNKNOWN') return undefined;
      throw e;
    });
    if (!up) return;
    const ingest = await BlobIngest.create(this.store.tmpPath());
    try {
      await ingest.append(up.stream, up.size); // more than declared: refused before it fills the disk
      const got = await ingest.digest(digest.slice(0, digest.indexOf(':')));
      if (got !== digest || ingest.size !== up.size) throw regErr('UNAVAILABLE', `upstream blob ${digest} does not match its digest`);
      await this.store.commitBlob(repo, ingest.path, digest);
    } catch (e) {
      up.stream.destroy();
      await fs.rm(ingest.path, { force: true });
      throw e;
    }
  }

  private async upstreamBlob(repo: string, digest: Digest) {
    let up;
    try {
      up = await this.proxy!.blob(repo, digest);
    } catch (e) {
      throw regErr('UNAVAILABLE', `upstream: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!up) throw regErr('BLOB_UNKNOWN', `blob unknown to registry: ${digest}`, { detail: { digest } });
    return up;
  }

  private async deleteBlob(ctx: Ctx, repo: string, digestStr: string): Promise<void> {
    const digest = checkDigest(digestStr);
    if (!(await this.store.unlinkBlob(repo, digest))) throw regErr('BLOB_UNKNOWN', `blob unknown to registry: ${digest}`, { detail: { digest } });
    sendEmpty(ctx, 202, { 'Docker-Content-Digest': digest });
  }

  // --- uploads ---

  private async startUpload(ctx: Ctx, repo: string): Promise<void> {
    const q = ctx.url.searchParams;
    const mount = q.get('mount');
    const from = q.get('from');
    if (mount) {
      const digest = checkDigest(mount);
      if (from && isName(from) && (await this.store.mountBlob(repo, from, digest))) {
        return sendEmpty(ctx, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      }
      // Not mountable: the spec's fallback is an ordinary upload session.
    }
    const digestParam = q.get('digest');
    if (digestParam !== null) {
      const digest = checkDigest(digestParam);
      const s = await this.uploads.create(repo);
      try {
        await this.uploads.append(s, ctx.req, undefined, declaredLength(ctx.req));
        await this.uploads.complete(s, digest);
      } catch (e) {
        await this.uploads.cancel(s).catch(() => {});
        throw e;
      }
      return sendEmpty(ctx, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    }
    const s = await this.uploads.create(repo);
    sendEmpty(ctx, 202, this.uploads.headers(s, 0));
  }

  private async upload(ctx: Ctx, repo: string, uuid: string): Promise<void> {
    const s = this.uploads.get(repo, uuid);
    switch (ctx.method) {
      case 'GET':
        return sendEmpty(ctx, 204, this.uploads.headers(s, await this.uploads.size(s)));
      case 'DELETE':
        await this.uploads.cancel(s);
        return sendEmpty(ctx, 204, {});
      case 'PATCH': {
        const size = await this.uploads.append(s, ctx.req, contentRange(ctx.req.headers['content-range']), declaredLength(ctx.req));
        return sendEmpty(ctx, 202, this.uploads.headers(s, size));
      }
      case 'PUT': {
        const digest = checkDigest(ctx.url.searchParams.get('digest'));
        const hasBody = Number(ctx.req.headers['content-length'] ?? 0) > 0 || !!ctx.req.headers['transfer-encoding'];
        if (hasBody) await this.uploads.append(s, ctx.req, contentRange(ctx.req.headers['content-range']), declaredLength(ctx.req));
        await this.uploads.complete(s, digest);
        return sendEmpty(ctx, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      }
    }
  }

  // --- referrers ---

  private async referrers(ctx: Ctx, repo: string, digestStr: string): Promise<void> {
    const digest = checkDigest(digestStr);
    let manifests = await this.store.referrers(repo, digest);
    const headers: Record<string, string> = {};
    const artifactType = ctx.url.searchParams.get('artifactType');
    if (artifactType) {
      manifests = manifests.filter((d) => d.artifactType === artifactType);
      headers['OCI-Filters-Applied'] = 'artifactType';
    }
    sendJson(ctx, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, headers, MediaType.OciIndex);
  }
}

const manifestUnknown = (ref: string) => regErr('MANIFEST_UNKNOWN', `manifest unknown: ${ref.slice(0, 200)}`, { detail: { reference: ref.slice(0, 200) } });

