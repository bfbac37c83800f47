/**
 * The registry client: the OCI distribution API (`/v2/...`) of one
 * repository, authenticated, over the first endpoint that answers.
 *
 *   const repo = await registries.open(endpoint, 'library/busybox', { actions: ['pull'], auth });
 *   const res = await repo.request('GET', 'manifests/latest', { headers: { Accept } });
 *
 * `open` pings `/v2/` first (like Docker): the answer says whether the
 * registry wants Bearer tokens or Basic credentials, and a connection failure
 * there moves on to the next endpoint (mirror → Hub, https → http for an
 * insecure registry). A 401 later (a token that lacks a scope) is answered
 * once with a fresh token.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { EngineError, type ErrorKind } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { basicHeader, credentialsOf, parseChallenges, repositoryScope, TokenCache, type AuthConfig, type Challenge } from './auth.js';
import { domainOfServer, endpointsFor, type Endpoint, type RegistryConfig } from './resolve.js';
import { drain, goMethod, readBody, send, TransportError } from './transport.js';

const ERROR_BODY_LIMIT = 64 << 10;
const MAX_REDIRECTS = 5;

/** An error status from a registry, with its OCI error codes (MANIFEST_UNKNOWN, UNAUTHORIZED, …). */
export class RegistryError extends EngineError {
  constructor(
    kind: ErrorKind,
    message: string,
    readonly status: number,
    readonly codes: string[],
  ) {
    super(kind, message);
    this.name = 'RegistryError';
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  signal?: AbortSignal;
  /** How long the connection may stay silent (default 60 s): longer where a registry works before it answers. */
  idleTimeoutMs?: number;
}

export class Registries {
  readonly tokens = new TokenCache();
  constructor(
    readonly cfg: RegistryConfig,
    private readonly log: Logger,
  ) {}

  endpoints(domain: string, o: { push?: boolean } = {}): Endpoint[] {
    return endpointsFor(domain, this.cfg, o);
  }

  /**
   * Runs `fn` against each endpoint in turn until one succeeds. Falls through
   * to the next endpoint when this one cannot be reached, or when it is a
   * mirror (a mirror may lack what the Hub has); other errors stop the search.
   */
  async withEndpoints<T>(eps: Endpoint[], fn: (ep: Endpoint) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let last: unknown;
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      try {
        return await fn(ep);
      } catch (e) {
        last = e;
        if (signal?.aborted) throw e;
        const more = i < eps.length - 1;
        if (more && (e instanceof TransportError || ep.mirror)) {
          this.log.debug({ endpoint: ep.base, err: (e as Error).message }, 'registry endpoint failed, trying the next');
          continue;
        }
        throw explainUnreachable(ep, e);
      }
    }
    throw last;
  }

  /** Pings `ep` and opens `repo` with the scopes `actions` (and `extraScopes`, for cross-repository mounts). */
  async open(ep: Endpoint, repo: string, o: { actions: string[]; auth?: AuthConfig; extraScopes?: string[]; signal?: AbortSignal }): Promise<Repository> {
    const challenges = await this.ping(ep, o.signal);
    return new Repository(this, ep, repo, challenges, o.auth, [repositoryScope(repo, o.actions), ...(o.extraScopes ?? [])]);
  }

  /** GET /v2/: the challenges of an endpoint ([] when it needs no authentication). */
  async ping(ep: Endpoint, signal?: AbortSignal): Promise<Challenge[]> {
    const url = new URL(`${ep.base}/v2/`);
    const res = await send(url, { method: 'GET', signal, tlsVerify: ep.tlsVerify });
    const status = res.statusCode ?? 0;
    drain(res);
    if (status === 401) return parseChallenges(res.headers['www-authenticate']);
    if (status >= 200 && status < 300) return [];
    // Not a v2 registry (a web server, a proxy's error page): as unreachable as a closed port.
    throw new TransportError('GET', url.href, `unexpected status ${status} from a registry ping: is this a registry?`, 'EBADPING');
  }

  /**
   * Checks credentials against a registry's /v2/ the way `docker login` does:
   * a token from the realm for Bearer registries, the credentials themselves for Basic ones.
   */
  async login(auth: AuthConfig, signal?: AbortSignal): Promise<void> {
    const domain = domainOfServer(auth.serveraddress);
    const eps = this.endpoints(domain, { push: true });
    await this.withEndpoints(
      eps,
      async (ep) => {
        const challenges = await this.ping(ep, signal);
        if (challenges.length === 0) return; // open registry: any login is accepted
        const url = new URL(`${ep.base}/v2/`);
        const refused = () => new EngineError('unauthorized', `Get "${url.href}": unauthorized: incorrect username or password`);
        const creds = credentialsOf(auth);
        if (!creds && !auth.identitytoken && !auth.registrytoken) throw new EngineError('unauthorized', `Get "${url.href}": unauthorized: authentication required`);
        const bearer = challenges.find((c) => c.scheme === 'bearer');
        let authorization: string;
        if (bearer) {
          try {
            authorization = `Bearer ${await this.tokens.token(bearer, [], auth, { signal, tlsVerify: ep.tlsVerify })}`;
          } catch (e) {
            if (e instanceof EngineError && e.kind === 'unauthorized') throw refused();
            throw e;
          }
        } else if (challenges.some((c) => c.scheme === 'basic') && creds) authorization = basicHeader(creds);
        else throw new EngineError('unauthorized', `Get "${url.href}": the registry asks for an authentication scheme Pier does not speak (${challenges.map((c) => c.scheme).join(', ')})`);
        const res = await send(url, { method: 'GET', headers: { Authorization: authorization }, signal, tlsVerify: ep.tlsVerify });
        drain(res);
        if (res.statusCode === 401 || res.statusCode === 403) throw refused();
        if ((res.statusCode ?? 0) >= 300) throw new EngineError('unavailable', `login attempt to ${url.href} failed with status: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      },
      signal,
    );
  }
}

/** One repository on one endpoint, with its authorization. */
export class Repository {
  private authorization?: string;
  constructor(
    private readonly registries: Registries,
    readonly endpoint: Endpoint,
    readonly name: string,
    private challenges: Challenge[],
    private readonly auth: AuthConfig | undefined,
    private scopes: string[],
  ) {}

  /** URL of `path` under /v2/<name>/ ("manifests/latest"), or an absolute URL / absolute path as is (upload locations). */
  url(path: string): URL {
    if (/^https?:\/\//.test(path)) return new URL(path);
    if (path.startsWith('/')) return new URL(path, this.endpoint.base);
    return new URL(`${this.endpoint.base}/v2/${this.name}/${path}`);
  }

  /**
   * Sends a request with authorization, following redirects for GET and HEAD
   * (blob storage often answers with one) and retrying a 401 once with a fresh token
   * when the body can be sent again. Returns any status; see `check`.
   */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
    let url = this.url(path);
    // Credentials go only to the registry's own origin (Docker keys challenges by host): an upload
    // Location or a Link elsewhere gets none, nor may its 401 send them to a realm of its choosing.
    const own = url.origin === new URL(this.endpoint.base).origin;
    const replayable = o.body === undefined || Buffer.isBuffer(o.body);
    let fresh = false;
    for (let attempt = 0; ; attempt++) {
      const authorization = own ? await this.authorize(fresh, o.signal) : undefined;
      let res = await send(url, { method, headers: { ...(authorization ? { Authorization: authorization } : {}), ...o.headers }, body: o.body, signal: o.signal, tlsVerify: this.endpoint.tlsVerify, idleTimeoutMs: o.idleTimeoutMs });
      // A token that lacks a scope (or expired early): ask once more, for what the challenge names.
      const retry = own && res.statusCode === 401 && attempt === 0 && replayable ? parseChallenges(res.headers['www-authenticate']).find((c) => c.scheme === 'bearer') : undefined;
      if (retry) {
        drain(res);
        this.challenges = [retry];
        for (const s of (retry.params['scope'] ?? '').split(' ').filter(Boolean)) if (!this.scopes.includes(s)) this.scopes.push(s);
        fresh = true;
        continue;
      }
      // Redirects: storage backends (S3, CDNs) serve blobs; credentials stay with the registry.
      for (let hops = 0; (method === 'GET' || method === 'HEAD') && isRedirect(res.statusCode) && res.headers.location; hops++) {
        if (hops >= MAX_REDIRECTS) throw new EngineError('unavailable', `${goMethod(method)} "${url.href}": stopped after ${MAX_REDIRECTS} redirects`);
        drain(res);
        const next = new URL(res.headers.location, url);
        const sameOrigin = next.origin === new URL(this.endpoint.base).origin;
        url = next;
        res = await send(url, {
          method,
          headers: { ...(sameOrigin && authorization ? { Authorization: authorization } : {}), ...o.headers },
          signal: o.signal,
          tlsVerify: sameOrigin ? this.endpoint.tlsVerify : true,
        });
      }
      return res;
    }
  }

  /** Throws the registry's error for a response whose status is not one of `ok`; else returns it. */
  async check(res: IncomingMessage, method: string, path: string, ok: number[]): Promise<IncomingMessage> {
    if (ok.includes(res.statusCode ?? 0)) return res;
    throw await registryError(res, method, this.url(path).href);
  }

  /** The Authorization header for the current challenge: a (cached) token, Basic credentials, or none. */
  private async authorize(fresh: boolean, signal?: AbortSignal): Promise<string | undefined> {
    const bearer = this.challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      if (!fresh && this.authorization) return this.authorization;
      this.authorization = `Bearer ${await this.registries.tokens.token(bearer, this.scopes, this.auth, { signal, tlsVerify: this.endpoint.tlsVerify, fresh })}`;
      return this.authorization;
    }
    const creds = credentialsOf(this.auth);
    if (creds && this.challenges.some((c) => c.scheme === 'basic')) return basicHeader(creds);
    return undefined;
  }
}

const isRedirect = (s: number | undefined) => s === 301 || s === 302 || s === 303 || s === 307 || s === 308;

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 405: 'not-implemented', 409: 'conflict', 413: 'invalid', 416: 'invalid' };

/**
 * A registry's error response as Docker words it: the OCI error body
 * `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` becomes
 * "manifest unknown: manifest unknown"; a body without one becomes
 * "unexpected status from GET request to URL: 500 Internal Server Error".
 */
export async function registryError(res: IncomingMessage, method: string, url: string): Promise<RegistryError> {
  const status = res.statusCode ?? 0;
  let body: Buffer = Buffer.alloc(0);
  if (method !== 'HEAD') body = await readBody(res, ERROR_BODY_LIMIT, 'error response').catch(() => Buffer.alloc(0));
  else drain(res);
  const kind = KIND_BY_STATUS[status] ?? 'unavailable';
  const codes: string[] = [];
  let message = '';
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[]; details?: string };
    const errs = (j.errors ?? []).filter((e) => e && typeof e.code === 'string');
    for (const e of errs) codes.push(e.code!);
    message = errs.map((e) => `${e.code!.toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`.replace(/: $/, '')).join('; ');
    if (!message && j.details) message = `${status === 401 ? 'unauthorized: ' : ''}${j.details}`;
  } catch {
    /* not JSON */
  }
  if (!message) {
    if (status === 401) message = 'unauthorized: authentication required';
    else if (status === 404 && method === 'HEAD') message = 'not found';
    else message = `unexpected status from ${method} request to ${url}: ${status} ${res.statusMessage ?? ''}`.trim();
  }
  return new RegistryError(kind, message, status, codes);
}

/**
 * docker.io being out of reach says so, and what to do instead: without
 * internet access the Hub is the usual reason a plain `pull busybox` fails.
 */
function explainUnreachable(ep: Endpoint, e: unknown): unknown {
  if (!ep.official || !(e instanceof TransportError)) return e;
  const msg = `${goMethod(e.method)} "${e.url}": cannot reach docker.io (${e.detail}). Pull from a local registry (localhost:5000/...) or set registry-mirrors in the daemon config`;
  return new EngineError('unavailable', msg, { cause: e });
}
