/**
 * The built-in token server, served at the realm's path.
 *
 *   GET  /token?service=S&scope=repository:a/b:pull,push&scope=…[&offline_token=true]
 *        Basic credentials optional (anonymous gets only what the ACL gives '').
 *        → {"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}
 *   POST /token  (OAuth2, application/x-www-form-urlencoded)
 *        grant_type=password&username=…&password=…[&access_type=offline]&scope=… (space-separated)
 *        grant_type=refresh_token&refresh_token=…&scope=…
 *        → {"access_token", "token", "scope", "expires_in", "issued_at"[, "refresh_token"]}
 *
 * Granted access = requested ∩ ACL; a request for more than the ACL allows is
 * not refused, the token simply carries less and the registry answers 403.
 * Errors use the registry's error body, which Docker prints ("unauthorized: …").
 * The `account` query parameter is informational: the account is whoever the
 * credentials name.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messageOf } from '../../base/errdefs.js';
import type { Logger } from '../../base/log.js';
import type { Access } from '../hooks.js';
import { basicChallenge, basicOf } from './credentials.js';
import type { Htpasswd } from './htpasswd.js';
import { allowsAnonymous, formatScope, grant, parseScopes, type AclEntry } from './scope.js';
import { TokenError, type TokenService } from './token.js';

const MAX_FORM = 64 * 1024;

export interface IssuerOptions {
  path: string; // the realm's path, e.g. /token
  service: string;
  tokens: TokenService;
  htpasswd?: Htpasswd;
  acl: AclEntry[];
  defaultAcl: boolean;
  log: Logger;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly challenge?: string,
  ) {
    super(message);
  }
}

const unauthorized = (message: string) => new HttpError(401, 'UNAUTHORIZED', message, basicChallenge());
const badRequest = (message: string) => new HttpError(400, 'UNSUPPORTED', message);

export class TokenIssuer {
  constructor(private readonly o: IssuerOptions) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://registry');
    if (url.pathname !== this.o.path) return false;
    try {
      if (req.method === 'GET') await this.get(url.searchParams, req, res);
      else if (req.method === 'POST') await this.post(req, res);
      else {
        res.setHeader('Allow', 'GET, POST');
        throw new HttpError(405, 'UNSUPPORTED', `${req.method} is not supported on the token endpoint`);
      }
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'UNKNOWN', messageOf(e));
      if (err.status >= 500) this.o.log.error({ err: err.message }, 'token request failed');
      else this.o.log.info({ status: err.status, err: err.message }, 'token request refused');
      if (err.challenge) res.setHeader('WWW-Authenticate', err.challenge);
      send(res, err.status, { errors: [{ code: err.code, message: err.message, detail: null }] });
    }
    return true;
  }

  private async get(q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkService(q.get('service'));
    const header = req.headers.authorization;
    let user: string | undefined;
    if (header) {
      const creds = basicOf(header);
      if (!creds) throw unauthorized('the token endpoint accepts Basic credentials only');
      user = await this.login(creds.user, creds.password);
    } else if (!allowsAnonymous(this.o.acl)) {
      throw unauthorized('authentication required');
    }
    const offline = q.get('offline_token') === 'true' && user !== undefined;
    send(res, 200, await this.reply(user, parseScopes(q.getAll('scope')), offline, false));
  }

  private async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw badRequest('POST /token takes an application/x-www-form-urlencoded body (OAuth2)');
    const form = new URLSearchParams(await readBody(req));
    this.checkService(form.get('service'));
    const scopes = parseScopes(form.getAll('scope'));
    switch (form.get('grant_type')) {
      case 'password': {
        const username = form.get('username');
        const password = form.get('password');
        if (!username || password === null) throw badRequest('grant_type=password needs username and password');
        const user = await this.login(username, password);
        send(res, 200, await this.reply(user, scopes, form.get('access_type') === 'offline', true));
        return;
      }
      case 'refresh_token': {
        const refresh = form.get('refresh_token');
        if (!refresh) throw badRequest('grant_type=refresh_token needs refresh_token');
        let user: string;
        try {
          user = await this.o.tokens.verifyRefresh(refresh);
        } catch (e) {
          throw unauthorized(`invalid refresh token: ${e instanceof TokenError ? e.message : messageOf(e)}`);
        }
        if (!this.o.htpasswd?.has(user)) throw unauthorized(`account ${user} no longer exists`);
        send(res, 200, await this.reply(user, scopes, false, true));
        return;
      }
      default:
        throw badRequest(`unsupported grant_type ${JSON.stringify(form.get('grant_type'))}: use password or refresh_token`);
    }
  }

  private checkService(service: string | null): void {
    if (service !== null && service !== this.o.service) {
      throw badRequest(`unknown service ${JSON.stringify(service)}: this token server issues tokens for ${JSON.stringify(this.o.service)}`);
    }
  }

  private async login(user: string, password: string): Promise<string> {
    if (!this.o.htpasswd) throw unauthorized('no accounts are configured on this registry');
    if (!(await this.o.htpasswd.verify(user, password))) throw unauthorized('incorrect username or password');
    return user;
  }

  private async reply(user: string | undefined, requested: Access[], offline: boolean, oauth: boolean): Promise<Record<string, unknown>> {
    const { tokens, acl, defaultAcl, log } = this.o;
    const access = grant(acl, user, requested, defaultAcl);
    const now = Math.floor(Date.now() / 1000);
    const token = await tokens.issue(user ?? '', access, now);
    log.debug({ account: user ?? '', access: access.map(formatScope) }, 'token issued');
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: tokens.expiresIn,
      issued_at: new Date(now * 1000).toISOString(),
    };
    if (oauth) body.scope = access.filter((a) => a.actions.length).map(formatScope).join(' ');
    if (offline && user !== undefined) body.refresh_token = await tokens.issueRefresh(user, now);
    return body;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(data),
    'Cache-Control': 'no-store',
  });
  res.end(data);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM) throw new HttpError(413, 'SIZE_INVALID', `token request body over ${MAX_FORM} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
