/**
 * The registry's Authenticator, chosen by config:
 *
 * - nothing configured → `allowAll`;
 * - `htpasswd` only → HTTP Basic against the file: any listed user may do anything;
 * - `token` → Docker token auth: /v2/ requests carry `Authorization: Bearer <jwt>`
 *   issued by the built-in token server (see issuer.ts), which checks users
 *   against `htpasswd` and grants what the ACL allows.
 *
 * ```ts
 * const auth = await createAuthenticator({
 *   htpasswd: '/etc/pier/htpasswd',
 *   token: { realm: 'https://reg.example/token', service: 'reg.example', issuer: 'pier' },
 * });
 * ```
 *
 * Libraries: `bcryptjs` verifies htpasswd hashes (pure JS, no native build),
 * `jose` signs and verifies the JWTs (audited, no dependencies, on Node's
 * crypto) — see htpasswd.ts and token.ts.
 */
import type { IncomingMessage } from 'node:http';
import { invalid } from '../../base/errdefs.js';
import { nullLogger, type Logger } from '../../base/log.js';
import { allowAll, type Access, type AuthResult, type Authenticator } from '../hooks.js';
import { basicChallenge, basicOf, bearerOf, quote } from './credentials.js';
import { Htpasswd } from './htpasswd.js';
import { TokenIssuer } from './issuer.js';
import { generateSigningKey, loadSigningKey } from './keys.js';
import { DEFAULT_ACL, allowsAnonymous, covers, formatScope, type AclEntry } from './scope.js';
import { TokenError, TokenService } from './token.js';

export { tlsOptions } from './tls.js';
export { Htpasswd, parseHtpasswd } from './htpasswd.js';
export type { AclEntry } from './scope.js';

export interface TokenConfig {
  /** URL of the token endpoint, sent to clients in the challenge; its path is where `handle` serves it. */
  realm: string;
  /** The registry's name in tokens (`aud`) and token requests (`service=`). */
  service: string;
  /** `iss` of issued tokens, checked on verification. */
  issuer: string;
  /** PEM private key (EC or RSA) that signs tokens; generated in memory when absent. */
  key?: string;
  /** Token lifetime in seconds; default 300. */
  expiresIn?: number;
  /** Who may do what; default: authenticated users may pull and push everything. */
  acl?: AclEntry[];
}

export interface AuthConfig {
  htpasswd?: string;
  token?: TokenConfig;
}

export async function createAuthenticator(cfg: AuthConfig, o: { log?: Logger } = {}): Promise<Authenticator> {
  const log = (o.log ?? nullLogger).child({ component: 'registry-auth' });
  const htpasswd = cfg.htpasswd ? await Htpasswd.open(cfg.htpasswd, { log }) : undefined;
  if (cfg.token) return tokenAuthenticator(cfg.token, htpasswd, log);
  if (htpasswd) return basicAuthenticator(htpasswd);
  return allowAll;
}

function basicAuthenticator(htpasswd: Htpasswd): Authenticator {
  const refuse = (message: string): AuthResult => ({ ok: false, status: 401, challenge: basicChallenge(), message });
  return {
    async authorize(req: IncomingMessage): Promise<AuthResult> {
      const creds = basicOf(req.headers.authorization);
      if (!creds) return refuse('authentication required');
      if (!(await htpasswd.verify(creds.user, creds.password))) return refuse('incorrect username or password');
      return { ok: true, user: creds.user };
    },
  };
}

async function tokenAuthenticator(cfg: TokenConfig, htpasswd: Htpasswd | undefined, log: Logger): Promise<Authenticator> {
  let realm: URL;
  try {
    realm = new URL(cfg.realm);
  } catch {
    throw invalid(`token realm ${JSON.stringify(cfg.realm)} is not a URL (e.g. https://registry.example/token)`);
  }
  if (!cfg.service) throw invalid('token auth needs a service name');
  if (!cfg.issuer) throw invalid('token auth needs an issuer name');
  const expiresIn = cfg.expiresIn ?? 300;
  if (!Number.isInteger(expiresIn) || expiresIn <= 0) throw invalid(`token expiresIn must be a positive number of seconds, not ${expiresIn}`);
  const acl = cfg.acl ?? DEFAULT_ACL;
  for (const [i, e] of acl.entries()) {
    if (typeof e.account !== 'string' || typeof e.name !== 'string' || !Array.isArray(e.actions)) {
      throw invalid(`token acl entry ${i}: expected {account, name, actions[]}`);
    }
  }
  if (!htpasswd && !allowsAnonymous(acl)) log.warn('token auth has no htpasswd file and no anonymous ACL entry: nobody can get a token');

  let key;
  if (cfg.key) key = await loadSigningKey(cfg.key);
  else {
    key = generateSigningKey();
    log.warn({ kid: key.kid }, 'no token signing key configured: generated one in memory; tokens (and Docker logins) will not survive a restart');
  }
  const tokens = new TokenService({ issuer: cfg.issuer, service: cfg.service, key, expiresIn });
  const issuer = new TokenIssuer({
    path: realm.pathname,
    service: cfg.service,
    tokens,
    htpasswd,
    acl,
    defaultAcl: cfg.acl === undefined,
    log,
  });

  const challenge = (access: Access[], error?: string): string => {
    let c = `Bearer realm=${quote(cfg.realm)},service=${quote(cfg.service)}`;
    const scopes = access.filter((a) => a.actions.length).map(formatScope);
    if (scopes.length) c += `,scope=${quote(scopes.join(' '))}`;
    if (error) c += `,error=${quote(error)}`;
    return c;
  };

  return {
    handle: (req, res) => issuer.handle(req, res),
    async authorize(req: IncomingMessage, access: Access[]): Promise<AuthResult> {
      const token = bearerOf(req.headers.authorization);
      if (!token) return { ok: false, status: 401, challenge: challenge(access), message: 'authentication required' };
      let claims;
      try {
        claims = await tokens.verify(token);
      } catch (e) {
        const why = e instanceof TokenError ? e.message : String(e);
        log.debug({ err: why }, 'bearer token refused');
        return { ok: false, status: 401, challenge: challenge(access, 'invalid_token'), message: `invalid token: ${why}` };
      }
      for (const want of access) {
        const held = claims.access.find((g) => g.type === want.type && g.name === want.name);
        const missing = want.actions.filter((a) => !held || !covers(held.actions, a));
        if (missing.length) {
          return {
            ok: false,
            status: 403,
            challenge: challenge(access, 'insufficient_scope'),
            message: `requested access to the resource is denied: ${want.type} ${want.name} (${missing.join(',')})`,
          };
        }
      }
      return claims.sub ? { ok: true, user: claims.sub } : { ok: true };
    },
  };
}
