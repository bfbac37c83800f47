/**
 * A minimal registry client for one upstream: manifests (GET/HEAD) and blobs
 * (GET, following redirects to object storage), with the upstream's auth.
 *
 * Auth follows what Docker does. A request goes out bare; on 401 the
 * WWW-Authenticate challenge says how to authenticate:
 * - Bearer realm,service,scope → GET realm?service=…&scope=… (with Basic
 *   credentials when configured), retry with `Authorization: Bearer <token>`.
 *   Tokens are cached per (realm, service, scope) until shortly before they
 *   expire, and once a Bearer challenge has been seen, later requests fetch or
 *   reuse the token first instead of taking the 401 round trip again.
 * - Basic → retry with the configured credentials, and send them up front after.
 *
 * Failures are EngineErrors of kind 'unavailable' whose message names the
 * upstream and what it said; "not there" is `undefined`.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { EngineError, messageOf } from '../../base/errdefs.js';
import { isDigest } from '../../base/digest.js';
import type { Logger } from '../../base/log.js';
import type { UpstreamManifest } from '../hooks.js';
import { parseChallenges } from './challenge.js';
import type { Transport, UpstreamResponse } from './transport.js';

export const DEFAULT_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

const MAX_MANIFEST = 4 * 1024 * 1024; // distribution's limit
const MAX_SMALL_BODY = 1024 * 1024; // token responses, error bodies
const MAX_REDIRECTS = 5;
const MAX_TOKENS = 1000; // one per repository scope; expired ones go first

export interface UpstreamConfig {
  url: string;
  username?: string;
  password?: string;
  insecure?: boolean;
}

interface CachedToken {
  token: string;
  until: number; // ms
}

type AuthMode = { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service: string | undefined };

const upstreamError = (message: string, cause?: unknown) => new EngineError('unavailable', message, { cause });

export class UpstreamClient {
  readonly base: URL;
  private mode: AuthMode = { kind: 'none' };
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly cfg: UpstreamConfig,
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {
    this.base = new URL(cfg.url.replace(/\/+$/, '') + '/');
  }

  /** The manifest, verified against `reference` when that is a digest; undefined when the upstream has none. */
  async manifest(name: string, reference: string, accept: readonly string[]): Promise<UpstreamManifest | undefined> {
    const res = await this.request('GET', name, `manifests/${reference}`, { Accept: (accept.length ? accept : DEFAULT_ACCEPT).join(', ') });
    if (!res) return undefined;
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (length > MAX_MANIFEST) {
      res.body.destroy();
      throw upstreamError(`upstream ${this.base.host}: manifest ${name}:${reference} is ${length} bytes, over the ${MAX_MANIFEST}-byte limit`);
    }
    const body = await readAll(res.body, MAX_MANIFEST, `manifest ${name}:${reference} from ${this.base.host}`);
    const algorithm = isDigest(reference) ? reference.slice(0, reference.indexOf(':')) : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    if (isDigest(reference) && digest !== reference) {
      throw upstreamError(`upstream ${this.base.host} sent a manifest for ${name}@${reference} whose digest is ${digest}`);
    }
    const header = res.headers.get('docker-content-digest');
    if (header && header !== digest && header.startsWith(algorithm + ':')) {
      this.log.warn({ name, reference, header, digest }, 'upstream Docker-Content-Digest differs from the body; using the body\'s');
    }
    return { body, mediaType: mediaTypeOf(res.headers.get('content-type'), body), digest };
  }

  /** What a HEAD of the manifest says (digest, media type, size), or undefined when the upstream has none. */
  async manifestHead(name: string, reference: string, accept: readonly string[]): Promise<{ digest?: string; mediaType?: string; size?: number } | undefined> {
    const res = await this.request('HEAD', name, `manifests/${reference}`, { Accept: (accept.length ? accept : DEFAULT_ACCEPT).join(', ') });
    if (!res) return undefined;
    res.body.resume();
    const size = res.headers.get('content-length');
    return {
      digest: res.headers.get('docker-content-digest') ?? undefined,
      mediaType: res.headers.get('content-type')?.split(';')[0]?.trim(),
      size: size === null ? undefined : Number(size),
    };
  }

  async blob(name: string, digest: string): Promise<{ stream: Readable; size: number } | undefined> {
    const res = await this.request('GET', name, `blobs/${digest}`, {});
    if (!res) return undefined;
    const size = Number(res.headers.get('content-length') ?? NaN);
    if (!Number.isSafeInteger(size) || size < 0) {
      res.body.destroy();
      throw upstreamError(`upstream ${this.base.host} sent blob ${digest} of ${name} without a Content-Length`);
    }
    return { stream: res.body, size };
  }

  /** Does the request with auth and redirects; undefined on 404 (and on "no access", which registries use for "no such repository"). */
  private async request(method: string, name: string, path: string, headers: Record<string, string>): Promise<UpstreamResponse | undefined> {
    const url = new URL(`v2/${name}/${path}`, this.base);
    const scope = `repository:${name}:pull`;
    const what = `${method} ${name}/${path}`;
    let auth = await this.authorization(scope);
    let res = await this.follow(url, method, { ...headers, ...auth });
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      await discard(res);
      const retry = await this.answer(challenge, scope, auth);
      if (!retry && auth.Authorization) throw upstreamError(`upstream ${this.base.host} rejected the configured credentials for ${what}`);
      if (!retry) throw upstreamError(`upstream ${this.base.host} requires authentication for ${name} (${challenge ?? 'no challenge'}); configure a username and password`);
      auth = retry;
      res = await this.follow(url, method, { ...headers, ...auth });
    }
    if (res.status === 200) return res;
    const detail = await errorDetail(res);
    if (res.status === 404) {
      this.log.debug({ url: url.href, detail }, 'not found upstream');
      return undefined;
    }
    if (res.status === 401 && this.mode.kind === 'bearer') {
      // The token server accepted us, the registry still says no: Docker Hub answers so for
      // repositories that do not exist as well as for private ones we may not read.
      this.tokens.delete(this.tokenKey(this.mode, scope));
      this.log.warn({ url: url.href, detail }, 'upstream denies access (no such repository, or the credentials lack it)');
      return undefined;
    }
    if (res.status === 401) throw upstreamError(`upstream ${this.base.host} rejected the configured credentials for ${what}: ${detail}`);
    if (res.status === 403) {
      this.log.warn({ url: url.href, detail }, 'upstream denies access');
      return undefined;
    }
    if (res.status === 429) throw upstreamError(`upstream ${this.base.host} is rate-limiting pulls (429): ${detail}`);
    throw upstreamError(`upstream ${this.base.host} answered ${res.status} to ${what}: ${detail}`);
  }

  /** One request, following redirects; Authorization goes only to the origin it was meant for. */
  private async follow(url: URL, method: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    let target = url;
    for (let hop = 0; ; hop++) {
      const h = { 'User-Agent': 'pier-registry-proxy', ...headers };
      if (target.origin !== url.origin) delete (h as Record<string, string>).Authorization;
      let res: UpstreamResponse;
      try {
        res = await this.transport.request(target, method, h);
      } catch (e) {
        throw upstreamError(`upstream ${target.host} unreachable (${method} ${target.pathname}): ${messageOf(e)}`, e);
      }
      const location = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      await discard(res);
      if (hop >= MAX_REDIRECTS) throw upstreamError(`upstream ${url.host}: more than ${MAX_REDIRECTS} redirects for ${url.pathname}`);
      target = new URL(location, target);
    }
  }

  /** Authorization to send up front, from what earlier challenges taught. */
  private async authorization(scope: string): Promise<Record<string, string>> {
    const m = this.mode;
    if (m.kind === 'basic') return this.basic();
    if (m.kind === 'bearer') return { Authorization: `Bearer ${await this.token(m, scope)}` };
    return {};
  }

  /** Authorization answering a 401's challenge, or undefined when we have nothing to answer with. */
  private async answer(header: string | null, scope: string, sent: Record<string, string>): Promise<Record<string, string> | undefined> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const mode: AuthMode = { kind: 'bearer', realm: bearer.params.realm!, service: bearer.params.service };
      const wanted = bearer.params.scope || scope;
      // A token we just sent was refused: drop it, and get a fresh one.
      this.tokens.delete(this.tokenKey(mode, wanted));
      if (sent.Authorization?.startsWith('Bearer ')) this.tokens.delete(this.tokenKey(mode, scope));
      const token = await this.token(mode, wanted);
      this.mode = mode;
      if (wanted !== scope) this.tokens.set(this.tokenKey(mode, scope), this.tokens.get(this.tokenKey(mode, wanted))!);
      return { Authorization: `Bearer ${token}` };
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.cfg.username !== undefined && !sent.Authorization) {
      this.mode = { kind: 'basic' };
      return this.basic();
    }
    return undefined;
  }

  private basic(): Record<string, string> {
    const { username, password } = this.cfg;
    if (username === undefined) return {};
    return { Authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` };
  }

  private tokenKey(m: { realm: string; service: string | undefined }, scope: string): string {
    return `${m.realm}\n${m.service ?? ''}\n${scope}`;
  }

  /** A token for `scope` from the cache, or from the token server (one request per key at a time). */
  private token(m: { realm: string; service: string | undefined }, scope: string): Promise<string> {
    const key = this.tokenKey(m, scope);
    const cached = this.tokens.get(key);
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.token);
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(m, scope, key).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async fetchToken(m: { realm: string; service: string | undefined }, scope: string, key: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(m.realm);
    } catch {
      throw upstreamError(`upstream ${this.base.host} named a token realm that is not a URL: ${JSON.stringify(m.realm)}`);
    }
    if (m.service) url.searchParams.set('service', m.service);
    url.searchParams.set('scope', scope);
    const started = Date.now();
    const res = await this.follow(url, 'GET', this.basic());
    if (res.status !== 200) {
      const detail = await errorDetail(res);
      if (res.status === 401 || res.status === 403) {
        throw upstreamError(`token server ${url.host} for upstream ${this.base.host} refused ${this.cfg.username === undefined ? 'anonymous access' : `the credentials of ${this.cfg.username}`} (${res.status}): ${detail}`);
      }
      throw upstreamError(`token server ${url.host} for upstream ${this.base.host} answered ${res.status}: ${detail}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse((await readAll(res.body, MAX_SMALL_BODY, `token from ${url.host}`)).toString('utf8'));
    } catch (e) {
      if (e instanceof EngineError) throw e;
      throw upstreamError(`token server ${url.host} sent a response that is not JSON`, e);
    }
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || !token) throw upstreamError(`token server ${url.host} sent no token`);
    // The spec's default lifetime is 60 s. Renew a little early, measured on our clock from when we asked.
    const life = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    if (this.tokens.size >= MAX_TOKENS) for (const [k, t] of this.tokens) if (t.until <= Date.now()) this.tokens.delete(k);
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    this.tokens.set(key, { token, until: started + Math.max(life - 30, life / 2) * 1000 });
    this.log.debug({ realm: url.host, scope, expiresIn: life }, 'upstream token');
    return token;
  }
}

function mediaTypeOf(contentType: string | null, body: Buffer): string {
  const header = contentType?.split(';')[0]?.trim();
  if (header && header !== 'application/json' && header !== 'text/plain' && header !== 'application/octet-stream') return header;
  try {
    const mt = (JSON.parse(body.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof mt === 'string' && mt) return mt;
  } catch {
    // not JSON: fall through to the header
  }
  return header || 'application/octet-stream';
}

async function readAll(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        throw upstreamError(`${what}: over the ${limit}-byte limit`);
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw upstreamError(`${what}: connection failed mid-body: ${messageOf(e)}`, e);
  }
  return Buffer.concat(chunks);
}

/** Reads and drops a response body so the connection can be reused (bounded: a huge body is cut off). */
async function discard(res: UpstreamResponse): Promise<void> {
  await readAll(res.body, MAX_SMALL_BODY, 'response').catch(() => res.body.destroy());
}

/** The message of a registry error body (`{"errors":[{"code","message"}]}`), or the start of the text. */
async function errorDetail(res: UpstreamResponse): Promise<string> {
  let text = '';
  try {
    text = (await readAll(res.body, MAX_SMALL_BODY, 'error body')).toString('utf8');
  } catch {
    res.body.destroy();
  }
  try {
    const errs = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
    if (Array.isArray(errs) && errs.length) return errs.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    // not a registry error body
  }
  return text.trim().slice(0, 200) || `HTTP ${res.status}`;
}
