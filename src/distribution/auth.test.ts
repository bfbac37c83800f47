import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { credentialsOf, decodeAuthHeader, parseChallenges, TokenCache } from './auth.js';

describe('WWW-Authenticate challenges', () => {
  it('parses Docker Hub style Bearer challenges', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('parses Basic, several challenges in one header, several headers, escapes and odd spacing', () => {
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    assert.deepEqual(parseChallenges('Basic realm="a", Bearer realm="https://t/x" , service=reg,error="insufficient_scope"'), [
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', service: 'reg', error: 'insufficient_scope' } },
    ]);
    assert.deepEqual(parseChallenges(['Negotiate abc==', 'BEARER realm = "q\\"uote"']), [
      { scheme: 'negotiate', params: {} },
      { scheme: 'bearer', params: { realm: 'q"uote' } },
    ]);
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges(''), []);
  });
});

describe('X-Registry-Auth', () => {
  it('decodes base64url and base64 JSON, and nothing for an empty header', () => {
    const json = JSON.stringify({ username: 'u', password: 'p?>>', serveraddress: 'localhost:5000' });
    const url = Buffer.from(json).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    assert.deepEqual(decodeAuthHeader(url), { username: 'u', password: 'p?>>', serveraddress: 'localhost:5000' });
    assert.deepEqual(decodeAuthHeader(Buffer.from(json).toString('base64')), { username: 'u', password: 'p?>>', serveraddress: 'localhost:5000' });
    assert.equal(decodeAuthHeader(undefined), undefined);
    assert.equal(decodeAuthHeader(''), undefined);
    assert.deepEqual(decodeAuthHeader(Buffer.from('{}').toString('base64')), {});
  });

  it('refuses a header that is not JSON', () => {
    assert.throws(() => decodeAuthHeader('bm90IGpzb24'), /invalid X-Registry-Auth header/);
  });

  it('credentials come from username/password or from auth', () => {
    assert.deepEqual(credentialsOf({ username: 'a', password: 'b' }), { username: 'a', password: 'b' });
    assert.deepEqual(credentialsOf({ auth: Buffer.from('me:pa:ss').toString('base64') }), { username: 'me', password: 'pa:ss' });
    assert.equal(credentialsOf({ serveraddress: 'x' }), undefined);
    assert.equal(credentialsOf(undefined), undefined);
  });
});

describe('bearer tokens', () => {
  let server: Server;
  let realm: string;
  const seen: URL[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      seen.push(u);
      if (req.headers.authorization !== `Basic ${Buffer.from('user:pw').toString('base64')}`) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"incorrect username or password"}');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `t${seen.length}`, expires_in: 300 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('asks the realm with service, scopes and account, and caches the token', async () => {
    const cache = new TokenCache();
    const ch = { scheme: 'bearer', params: { realm, service: 'reg' } };
    const auth = { username: 'user', password: 'pw' };
    const t1 = await cache.token(ch, ['repository:a:pull'], auth);
    const t2 = await cache.token(ch, ['repository:a:pull'], auth);
    assert.equal(t1, t2);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.searchParams.get('service'), 'reg');
    assert.deepEqual(seen[0]!.searchParams.getAll('scope'), ['repository:a:pull']);
    assert.equal(seen[0]!.searchParams.get('account'), 'user');
    await cache.token(ch, ['repository:a:pull', 'repository:b:pull'], auth);
    assert.equal(seen.length, 2, 'other scopes, another token');
    await cache.token(ch, ['repository:a:pull'], auth, { fresh: true });
    assert.equal(seen.length, 3, 'fresh bypasses the cache');
  });

  it('refused credentials are unauthorized with the server\'s reason', async () => {
    const cache = new TokenCache();
    await assert.rejects(cache.token({ scheme: 'bearer', params: { realm } }, [], { username: 'user', password: 'bad' }), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, 'unauthorized');
      assert.match(e.message, /^Get "http:\/\/127\.0\.0\.1:\d+\/token": unauthorized: incorrect username or password$/);
      return true;
    });
  });

  it('a registry token from the client is used as it is', async () => {
    assert.equal(await new TokenCache().token({ scheme: 'bearer', params: { realm } }, [], { registrytoken: 'given' }), 'given');
  });
});
