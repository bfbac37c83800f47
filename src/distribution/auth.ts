/**
 * Registry authentication as Docker does it. A registry answers an
 * unauthenticated `GET /v2/` with 401 and a challenge:
 *
 *   WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io"
 *   WWW-Authenticate: Basic realm="Registry Realm"
 *
 * Bearer: a token for the scopes a request needs
 * (`repository:library/busybox:pull`) comes from the realm, asked with the
 * user's Basic credentials when there are any, and is cached until it expires.
 * Basic: the credentials go on every request.
 *
 * Credentials reach pierd in the X-Registry-Auth header: base64url JSON
 * `{"username","password","serveraddress"}` (or `identitytoken`, `registrytoken`).
 */
import { createHash } from 'node:crypto';
import { EngineError, invalid, messageOf } from '../base/errdefs.js';
import { goMethod, readBody, send } from './transport.js';

export interface Challenge {
  /** Lower case: 'bearer', 'basic'. */
  scheme: string;
  params: Record<string, string>;
}

/** Docker's types.AuthConfig, as the X-Registry-Auth header and POST /auth carry it. */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64("user:pass"), as config.json stores it. */
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/** Parses WWW-Authenticate header values (RFC 7235), one or many challenges each. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    let i = 0;
    const ws = () => {
      while (i < h.length && /\s/.test(h[i]!)) i++;
    };
    const token = () => {
      const start = i;
      while (i < h.length && TOKEN.test(h[i]!)) i++;
      return h.slice(start, i);
    };
    /** Does a `name =` parameter start at p (after white space)? */
    const paramAt = (p: number) => {
      while (p < h.length && /\s/.test(h[p]!)) p++;
      const s = p;
      while (p < h.length && TOKEN.test(h[p]!)) p++;
      if (p === s) return false;
      while (p < h.length && /\s/.test(h[p]!)) p++;
      if (h[p] !== '=') return false;
      // "abc==" or "abc=" at the end is a token68 (base64 padding), not a parameter.
      p++;
      while (p < h.length && /\s/.test(h[p]!)) p++;
      return p < h.length && h[p] !== '=' && h[p] !== ',';
    };
    while (i < h.length) {
      while (i < h.length && /[\s,]/.test(h[i]!)) i++;
      const scheme = token();
      if (!scheme) {
        i++;
        continue;
      }
      const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
      out.push(ch);
      ws();
      if (!paramAt(i)) {
        // A token68 credential (or nothing): skip it.
        while (i < h.length && /[A-Za-z0-9\-._~+/=]/.test(h[i]!)) i++;
        continue;
      }
      for (;;) {
        ws();
        const key = token().toLowerCase();
        ws();
        i++; // '='
        ws();
        let value = '';
        if (h[i] === '"') {
          i++;
          while (i < h.length && h[i] !== '"') {
            if (h[i] === '\\' && i + 1 < h.length) i++;
            value += h[i++];
          }
          i++;
        } else value = token();
        ch.params[key] = value;
        ws();
        // After a comma comes another parameter of this challenge, or the next challenge.
        if (h[i] === ',' && paramAt(i + 1)) i++;
        else break;
      }
    }
  }
  return out;
}

/** Decodes X-Registry-Auth (base64url or base64 JSON). An absent or empty header means no credentials. */
export function decodeAuthHeader(h: string | string[] | undefined): AuthConfig | undefined {
  const v = (Array.isArray(h) ? h[0] : h)?.trim();
  if (!v) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch (e) {
    throw invalid(`invalid X-Registry-Auth header: ${messageOf(e)}`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw invalid('invalid X-Registry-Auth header: expected a JSON object');
  return authConfigOf(obj as Record<string, unknown>);
}

/** Picks the known string fields of an AuthConfig-like object (POST /auth body, decoded header). */
export function authConfigOf(o: Record<string, unknown>): AuthConfig {
  const a: AuthConfig = {};
  for (const k of ['username', 'password', 'auth', 'serveraddress', 'identitytoken', 'registrytoken', 'email'] as const) {
    const v = o[k] ?? o[k.charAt(0).toUpperCase() + k.slice(1)];
    if (typeof v === 'string' && v !== '') a[k] = v;
  }
  return a;
}

/** Username and password of an AuthConfig, from its fields or its `auth` string. */
export function credentialsOf(a: AuthConfig | undefined): Credentials | undefined {
  if (!a) return undefined;
  if (a.username && a.password !== undefined) return { username: a.username, password: a.password };
  if (a.auth) {
    const text = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  return undefined;
}

export const basicHeader = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

/** `repository:name:pull,push` */
export const repositoryScope = (repo: string, actions: readonly string[]) => `repository:${repo}:${actions.join(',')}`;

interface CachedToken {
  token: string;
  expires: number;
}

const MIN_TOKEN_LIFE_S = 60; // the token spec's default when expires_in is absent
const TOKEN_BODY_LIMIT = 1 << 20;

/** Bearer tokens by realm, service, scopes and credentials, kept until shortly before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  /**
   * A token for `scopes` from the challenge's realm. Throws unauthorized when
   * the token server refuses the credentials.
   */
  async token(ch: Challenge, scopes: readonly string[], auth: AuthConfig | undefined, o: { signal?: AbortSignal; tlsVerify?: boolean; fresh?: boolean } = {}): Promise<string> {
    if (auth?.registrytoken) return auth.registrytoken;
    const realm = ch.params['realm'];
    if (!realm) throw new EngineError('unauthorized', 'the registry asked for a bearer token but named no realm to get it from');
    const creds = credentialsOf(auth);
    const secret = auth?.identitytoken ?? creds?.password ?? '';
    const key = [realm, ch.params['service'] ?? '', [...scopes].sort().join(' '), creds?.username ?? '', createHash('sha256').update(secret).digest('hex')].join('|');
    const hit = this.tokens.get(key);
    if (hit && hit.expires > Date.now() && !o.fresh) return hit.token;

    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new EngineError('unauthorized', `the registry's token realm "${realm}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EngineError('unauthorized', `the registry's token realm "${realm}" is not an http(s) URL`);
    const service = ch.params['service'];
    let res;
    if (auth?.identitytoken) {
      // An identity token is an OAuth2 refresh token (what `docker login` to some registries returns).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.identitytoken, client_id: 'docker', ...(service ? { service } : {}) });
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await send(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), signal: o.signal, tlsVerify: o.tlsVerify });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds) url.searchParams.set('account', creds.username);
      res = await send(url, { method: 'GET', headers: creds ? { Authorization: basicHeader(creds) } : {}, signal: o.signal, tlsVerify: o.tlsVerify });
    }
    const body = await readBody(res, TOKEN_BODY_LIMIT, 'token response');
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      throw new EngineError('unauthorized', `${goMethod(auth?.identitytoken ? 'POST' : 'GET')} "${stripQuery(url)}": unauthorized: ${tokenErrorDetail(body) ?? 'incorrect username or password'}`);
    }
    if (status !== 200) throw new EngineError('unavailable', `token server ${stripQuery(url)} answered ${status}: ${tokenErrorDetail(body) ?? body.toString('utf8').slice(0, 200)}`);
    let j: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      j = JSON.parse(body.toString('utf8')) as typeof j;
    } catch {
      throw new EngineError('unavailable', `token server ${stripQuery(url)} sent a response that is not JSON`);
    }
    const token = j.token || j.access_token;
    if (!token) throw new EngineError('unavailable', `token server ${stripQuery(url)} sent no token`);
    const life = Math.max(MIN_TOKEN_LIFE_S, Number(j.expires_in) || MIN_TOKEN_LIFE_S);
    const issued = Date.parse(j.issued_at ?? '') || Date.now();
    if (this.tokens.size > 256) this.tokens.clear();
    this.tokens.set(key, { token, expires: Math.min(issued, Date.now()) + (life - 10) * 1000 });
    return token;
  }
}

const stripQuery = (u: URL) => `${u.origin}${u.pathname}`;

function tokenErrorDetail(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { details?: string; detail?: string; message?: string; error_description?: string; errors?: { message?: string }[] };
    return j.details ?? j.detail ?? j.error_description ?? j.errors?.[0]?.message ?? j.message;
  } catch {
    return undefined;
  }
}
