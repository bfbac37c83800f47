import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Access, Authenticator } from '../hooks.js';
import { createAuthenticator, type AuthConfig } from './index.js';
import { parseChallenges } from '../proxy/challenge.js';
import { grant, parseScope, DEFAULT_ACL } from './scope.js';

/**
 * A stand-in for the registry core: the token realm via `handle`, and /v2/
 * routes whose access is GET → pull, PUT → push, DELETE → delete.
 */
async function fakeRegistry(make: (realm: string) => Promise<Authenticator>) {
  let auth!: Authenticator;
  const server = http.createServer(async (req, res) => {
    try {
      if (await auth.handle?.(req, res)) return;
      const m = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(req.url ?? '');
      const actions = req.method === 'PUT' ? ['push'] : req.method === 'DELETE' ? ['delete'] : ['pull'];
      const access: Access[] = m ? [{ type: 'repository', name: m[1]!, actions }] : [];
      const r = await auth.authorize(req, access);
      if (r.ok) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ user: r.user ?? null }));
        return;
      }
      if (r.challenge) res.setHeader('WWW-Authenticate', r.challenge);
      const code = r.status === 401 ? 'UNAUTHORIZED' : 'DENIED';
      res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message: r.message }] }));
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  auth = await make(`${base}/token`);
  return { base, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), json: text ? JSON.parse(text) : undefined };
}

describe('token auth', () => {
  let dir: string;
  let htpasswd: string;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-token-'));
    htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, `alice:${bcrypt.hashSync('pw', 4)}\nbob:${bcrypt.hashSync('bobpw', 4)}\n`);
  });
  after(async () => {
    for (const c of closers) await c();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (token: Partial<NonNullable<AuthConfig['token']>> = {}) => {
    const reg = await fakeRegistry((realm) =>
      createAuthenticator({ htpasswd, token: { realm, service: 'pier-test', issuer: 'pier-issuer', ...token } }),
    );
    closers.push(reg.close);
    return reg;
  };
  const getToken = async (base: string, scope: string[], auth?: string, extra = '') => {
    const q = new URLSearchParams({ service: 'pier-test' });
    for (const s of scope) q.append('scope', s);
    return call(`${base}/token?${q}${extra}`, auth ? { headers: { Authorization: auth } } : {});
  };

  it('challenges a request without a token, pulls with a pull token, refuses push with it', async () => {
    const { base } = await start();
    const first = await call(`${base}/v2/alice/app/manifests/latest`);
    assert.equal(first.status, 401);
    const [c] = parseChallenges(first.challenge);
    assert.equal(c?.scheme, 'bearer');
    assert.deepEqual(c?.params, { realm: `${base}/token`, service: 'pier-test', scope: 'repository:alice/app:pull' });
    // /v2/ itself: a challenge without a scope (what `docker login` sees first)
    const root = await call(`${base}/v2/`);
    assert.equal(root.status, 401);
    assert.deepEqual(parseChallenges(root.challenge)[0]?.params, { realm: `${base}/token`, service: 'pier-test' });

    const t = await getToken(base, [c!.params.scope!], basic('alice', 'pw'), '&account=alice');
    assert.equal(t.status, 200);
    assert.equal(t.json.token, t.json.access_token);
    assert.equal(t.json.expires_in, 300);
    assert.ok(Math.abs(Date.parse(t.json.issued_at) - Date.now()) < 5000);
    const claims = decodeJwt(t.json.token);
    assert.equal(claims.iss, 'pier-issuer');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, 'pier-test');
    assert.equal(claims.exp! - claims.iat!, 300);
    assert.ok(claims.nbf && claims.jti);
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'alice/app', actions: ['pull'] }]);
    const header = decodeProtectedHeader(t.json.token);
    assert.equal(header.alg, 'ES256');
    assert.match(header.kid!, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);

    const bearer = { Authorization: `Bearer ${t.json.token}` };
    const pull = await call(`${base}/v2/alice/app/manifests/latest`, { headers: bearer });
    assert.deepEqual([pull.status, pull.json], [200, { user: 'alice' }]);
    const push = await call(`${base}/v2/alice/app/manifests/latest`, { method: 'PUT', headers: bearer });
    assert.equal(push.status, 403);
    assert.match(push.json.errors[0].message, /denied: repository alice\/app \(push\)/);
    assert.match(push.challenge!, /error="insufficient_scope"/);
    const other = await call(`${base}/v2/alice/other/manifests/latest`, { headers: bearer });
    assert.equal(other.status, 403, 'a token for one repository does not open another');

    // The default ACL grants pull and push (not delete) to any authenticated user.
    const both = await getToken(base, ['repository:alice/app:pull,push,delete'], basic('bob', 'bobpw'));
    assert.deepEqual(decodeJwt(both.json.token).access, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
    const pushed = await call(`${base}/v2/alice/app/manifests/latest`, { method: 'PUT', headers: { Authorization: `Bearer ${both.json.token}` } });
    assert.deepEqual([pushed.status, pushed.json], [200, { user: 'bob' }]);
  });

  it('refuses a wrong password, and anonymous callers when the ACL has nothing for them', async () => {
    const { base } = await start();
    const wrong = await getToken(base, ['repository:a/b:pull'], basic('alice', 'nope'));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.challenge, 'Basic realm="Pier Registry"');
    assert.match(wrong.json.errors[0].message, /incorrect username or password/);
    const anon = await getToken(base, ['repository:a/b:pull']);
    assert.equal(anon.status, 401);
    const svc = await call(`${base}/token?service=other&scope=repository:a/b:pull`, { headers: { Authorization: basic('alice', 'pw') } });
    assert.equal(svc.status, 400);
    assert.match(svc.json.errors[0].message, /unknown service "other"/);
  });

  it('refuses an expired token', async () => {
    const { base } = await start({ expiresIn: 1 });
    const t = await getToken(base, ['repository:x/y:pull'], basic('alice', 'pw'));
    const url = `${base}/v2/x/y/manifests/latest`;
    const headers = { Authorization: `Bearer ${t.json.token}` };
    assert.equal((await call(url, { headers })).status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    const late = await call(url, { headers });
    assert.equal(late.status, 401);
    assert.match(late.json.errors[0].message, /token expired/);
    assert.match(late.challenge!, /error="invalid_token"/);
  });

  it('refuses a token signed by another key, or for another audience, or garbage', async () => {
    const a = await start();
    const b = await start();
    const foreign = await getToken(b.base, ['repository:x/y:pull'], basic('alice', 'pw'));
    const url = `${a.base}/v2/x/y/manifests/latest`;
    const r = await call(url, { headers: { Authorization: `Bearer ${foreign.json.token}` } });
    assert.equal(r.status, 401);
    assert.match(r.json.errors[0].message, /invalid token: signed by unknown key/);
    const junk = await call(url, { headers: { Authorization: 'Bearer not.a.jwt' } });
    assert.equal(junk.status, 401);
    // Same key file, different service: the audience check refuses it.
    const keyFile = join(dir, 'shared.pem');
    await writeFile(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const c = await start({ key: keyFile });
    const d = await fakeRegistry((realm) => createAuthenticator({ htpasswd, token: { realm, service: 'elsewhere', issuer: 'pier-issuer', key: keyFile } }));
    closers.push(d.close);
    const q = await call(`${d.base}/token?service=elsewhere&scope=repository:x/y:pull`, { headers: { Authorization: basic('alice', 'pw') } });
    const aud = await call(`${c.base}/v2/x/y/manifests/latest`, { headers: { Authorization: `Bearer ${q.json.token}` } });
    assert.equal(aud.status, 401);
    assert.match(aud.json.errors[0].message, /"aud"/);
  });

  it('loads an RSA key from a PEM file; names a bad key file', async () => {
    const keyFile = join(dir, 'rsa.pem');
    await writeFile(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const { base } = await start({ key: keyFile });
    const t = await getToken(base, ['repository:x/y:pull'], basic('alice', 'pw'));
    assert.equal(decodeProtectedHeader(t.json.token).alg, 'RS256');
    assert.equal((await call(`${base}/v2/x/y/manifests/latest`, { headers: { Authorization: `Bearer ${t.json.token}` } })).status, 200);
    const bad = join(dir, 'bad.pem');
    await writeFile(bad, 'hello');
    await assert.rejects(createAuthenticator({ token: { realm: 'http://127.0.0.1/token', service: 's', issuer: 'i', key: bad } }), /token signing key .*bad\.pem: not a PEM private key/);
    await assert.rejects(createAuthenticator({ token: { realm: 'http://127.0.0.1/token', service: 's', issuer: 'i', key: join(dir, 'none.pem') } }), /none\.pem: no such file/);
    await assert.rejects(createAuthenticator({ token: { realm: 'token', service: 's', issuer: 'i' } }), /not a URL/);
  });

  it('grants requested ∩ ACL: per-user globs and anonymous pulls', async () => {
    const { base } = await start({
      acl: [
        { account: 'alice', name: 'alice/*', actions: ['pull', 'push'] },
        { account: '*', name: 'team/*', actions: ['pull'] },
        { account: '', name: 'public/*', actions: ['pull'] },
        { account: 'bob', name: '*', actions: ['*'] },
      ],
    });
    const scopes = ['repository:alice/app:pull,push', 'repository:public/x:pull,push', 'repository:team/t:pull', 'registry:catalog:*'];
    const access = async (auth?: string) => decodeJwt((await getToken(base, scopes, auth)).json.token).access;
    assert.deepEqual(await access(), [
      { type: 'repository', name: 'alice/app', actions: [] },
      { type: 'repository', name: 'public/x', actions: ['pull'] },
      { type: 'repository', name: 'team/t', actions: [] },
      { type: 'registry', name: 'catalog', actions: [] },
    ]);
    assert.deepEqual(await access(basic('alice', 'pw')), [
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'public/x', actions: ['pull'] },
      { type: 'repository', name: 'team/t', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: [] },
    ]);
    assert.deepEqual(await access(basic('bob', 'bobpw')), [
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'public/x', actions: ['pull', 'push'] },
      { type: 'repository', name: 'team/t', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    // anonymous pull of a public repository, end to end
    const anon = await getToken(base, ['repository:public/x:pull']);
    const r = await call(`${base}/v2/public/x/manifests/1`, { headers: { Authorization: `Bearer ${anon.json.token}` } });
    assert.deepEqual([r.status, r.json], [200, { user: null }]);
  });

  it('speaks the OAuth2 POST form: password (offline) and refresh_token grants', async () => {
    const { base } = await start();
    const form = (body: Record<string, string>) =>
      call(`${base}/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
    const login = await form({ grant_type: 'password', username: 'alice', password: 'pw', service: 'pier-test', client_id: 'docker', access_type: 'offline', scope: 'repository:a/b:pull repository:c/d:push' });
    assert.equal(login.status, 200);
    assert.equal(login.json.scope, 'repository:a/b:pull repository:c/d:push');
    assert.ok(login.json.refresh_token);
    const refreshed = await form({ grant_type: 'refresh_token', refresh_token: login.json.refresh_token, service: 'pier-test', client_id: 'docker', scope: 'repository:e/f:pull' });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.json.refresh_token, undefined);
    assert.deepEqual(decodeJwt(refreshed.json.access_token).access, [{ type: 'repository', name: 'e/f', actions: ['pull'] }]);
    const ok = await call(`${base}/v2/e/f/manifests/1`, { headers: { Authorization: `Bearer ${refreshed.json.access_token}` } });
    assert.equal(ok.status, 200);
    // Each kind of token only works where it belongs.
    const asAccess = await call(`${base}/v2/e/f/manifests/1`, { headers: { Authorization: `Bearer ${login.json.refresh_token}` } });
    assert.equal(asAccess.status, 401);
    const asRefresh = await form({ grant_type: 'refresh_token', refresh_token: login.json.access_token, service: 'pier-test' });
    assert.equal(asRefresh.status, 401);
    const wrong = await form({ grant_type: 'password', username: 'alice', password: 'x', service: 'pier-test' });
    assert.equal(wrong.status, 401);
    const grantType = await form({ grant_type: 'authorization_code', service: 'pier-test' });
    assert.equal(grantType.status, 400);
    assert.match(grantType.json.errors[0].message, /unsupported grant_type/);
    // GET with offline_token=true (Docker's login over GET) also yields a refresh token.
    const get = await getToken(base, [], basic('alice', 'pw'), '&offline_token=true&client_id=docker');
    assert.ok(get.json.refresh_token);
  });
});

describe('scopes', () => {
  it('parses names with ports and resource classes', () => {
    assert.deepEqual(parseScope('repository:localhost:5000/a/b:pull,push'), { type: 'repository', name: 'localhost:5000/a/b', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository(plugin):x:pull'), { type: 'repository', name: 'x', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.equal(parseScope('garbage'), undefined);
    assert.equal(parseScope('repository::pull'), undefined);
  });
  it('grants the catalog under the default ACL to users only', () => {
    const cat: Access[] = [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    assert.deepEqual(grant(DEFAULT_ACL, 'u', cat, true)[0]!.actions, ['*']);
    assert.deepEqual(grant(DEFAULT_ACL, undefined, cat, true)[0]!.actions, []);
  });
});
