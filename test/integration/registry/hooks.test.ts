/**
 * The registry's two hooks over real HTTP: an Authenticator (stub, and the real
 * htpasswd one) asked with the access each route needs, and a PullThrough
 * (stub, and the real proxy in front of a second Pier registry) whose answers
 * are served, verified and stored. Plus https with a TLS certificate.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import bcrypt from 'bcryptjs';
import { Logger } from '../../../src/base/log.js';
import type { Access, Authenticator, PullThrough } from '../../../src/registry/hooks.js';
import { createAuthenticator } from '../../../src/registry/auth/index.js';
import { createProxy } from '../../../src/registry/proxy/index.js';
import { req, pushImage, imageManifest, sha, startRegistry, type TestRegistry, OCI_MANIFEST } from './oci-client.js';

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

describe('registry auth hook', () => {
  let r: TestRegistry;
  const calls: Access[][] = [];
  const lines: string[] = [];
  const auth: Authenticator = {
    async authorize(request, access) {
      calls.push(access);
      const h = request.headers.authorization;
      if (!h) return { ok: false, status: 401, challenge: 'Basic realm="test"', message: 'authentication required' };
      if (h === basic('reader', 'pw') && access.some((a) => a.actions.some((x) => x !== 'pull'))) return { ok: false, status: 403, message: 'read only' };
      if (h === basic('reader', 'pw') || h === basic('admin', 'pw')) return { ok: true, user: h === basic('admin', 'pw') ? 'admin' : 'reader' };
      return { ok: false, status: 401, challenge: 'Basic realm="test"', message: 'bad credentials' };
    },
    async handle(request, res) {
      if (request.url !== '/token') return false;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"token":"t"}');
      return true;
    },
  };
  before(async () => {
    r = await startRegistry({ auth, log: new Logger({ write: (l) => void lines.push(l) }, 'info') });
  });
  after(async () => {
    await r?.cleanup();
  });
  const as = (who: string) => ({ Authorization: basic(who, 'pw') });
  const last = () => calls[calls.length - 1];

  it('401 UNAUTHORIZED with the challenge, 403 DENIED, 200 with credentials', async () => {
    const anon = await req(r.url, 'GET', '/v2/');
    assert.equal(anon.status, 401);
    assert.equal(anon.code(), 'UNAUTHORIZED');
    assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="test"');
    assert.equal(anon.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(last(), []);
    assert.equal((await req(r.url, 'GET', '/v2/', { headers: as('reader') })).status, 200);

    const denied = await req(r.url, 'POST', '/v2/app/blobs/uploads/', { headers: as('reader') });
    assert.equal(denied.status, 403);
    assert.equal(denied.code(), 'DENIED');
    assert.equal(denied.json().errors[0].message, 'read only');
  });

  it('asks for the access each route needs', async () => {
    const d = sha('x');
    const cases: Array<[string, string, Access[]]> = [
      ['GET', '/v2/app/manifests/v1', [{ type: 'repository', name: 'app', actions: ['pull'] }]],
      ['HEAD', `/v2/app/blobs/${d}`, [{ type: 'repository', name: 'app', actions: ['pull'] }]],
      ['GET', '/v2/app/tags/list', [{ type: 'repository', name: 'app', actions: ['pull'] }]],
      ['GET', `/v2/app/referrers/${d}`, [{ type: 'repository', name: 'app', actions: ['pull'] }]],
      ['PUT', '/v2/app/manifests/v1', [{ type: 'repository', name: 'app', actions: ['pull', 'push'] }]],
      ['POST', '/v2/app/blobs/uploads/', [{ type: 'repository', name: 'app', actions: ['pull', 'push'] }]],
      ['DELETE', '/v2/app/manifests/v1', [{ type: 'repository', name: 'app', actions: ['delete'] }]],
      ['DELETE', `/v2/app/blobs/${d}`, [{ type: 'repository', name: 'app', actions: ['delete'] }]],
      ['GET', '/v2/_catalog', [{ type: 'registry', name: 'catalog', actions: ['*'] }]],
      ['POST', `/v2/app/blobs/uploads/?mount=${d}&from=lib/base`, [
        { type: 'repository', name: 'app', actions: ['pull', 'push'] },
        { type: 'repository', name: 'lib/base', actions: ['pull'] },
      ]],
    ];
    for (const [method, path, want] of cases) {
      await req(r.url, method, path);
      assert.deepEqual(last(), want, `${method} ${path}`);
    }
  });

  it('serves paths outside /v2/ through auth.handle', async () => {
    const t = await req(r.url, 'GET', '/token');
    assert.equal(t.status, 200);
    assert.deepEqual(t.json(), { token: 't' });
    assert.equal((await req(r.url, 'GET', '/other')).status, 404);
  });

  it('logs the user of each request', async () => {
    await pushImage(r.url, 'who', 'v1').catch(() => {});
    await req(r.url, 'GET', '/v2/', { headers: as('admin') });
    await new Promise((res) => setTimeout(res, 20));
    const entry = lines.map((l) => JSON.parse(l)).reverse().find((l) => l.msg === 'request' && l.path === '/v2/' && l.status === 200);
    assert.equal(entry.user, 'admin');
  });

  it('works with the htpasswd Authenticator of auth/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pier-htpasswd-'));
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `alice:${bcrypt.hashSync('secret', 4)}\n`);
    const real = await startRegistry({ auth: await createAuthenticator({ htpasswd: file }) });
    try {
      const anon = await req(real.url, 'GET', '/v2/');
      assert.equal(anon.status, 401);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      assert.equal((await req(real.url, 'GET', '/v2/', { headers: { Authorization: basic('alice', 'wrong') } })).status, 401);
      const ok = await req(real.url, 'GET', '/v2/', { headers: { Authorization: basic('alice', 'secret') } });
      assert.equal(ok.status, 200);
    } finally {
      await real.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registry pull-through hook', () => {
  let r: TestRegistry;
  const upstreamBlobs = new Map<string, Buffer>();
  const upstreamManifests = new Map<string, { body: Buffer; mediaType: string }>();
  let blobCalls = 0;
  let manifestCalls = 0;
  let corrupt = false;
  let oversize = false;
  const proxy: PullThrough = {
    matches: (repo) => repo.startsWith('hub/'),
    async manifest(repo, reference) {
      manifestCalls++;
      const m = upstreamManifests.get(`${repo.slice(4)}:${reference}`) ?? [...upstreamManifests.values()].find((x) => sha(x.body) === reference);
      return m && { ...m, digest: sha(m.body) };
    },
    async blob(_repo, digest) {
      blobCalls++;
      const b = upstreamBlobs.get(digest);
      if (!b) return undefined;
      let bytes = corrupt ? Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([b[b.length - 1]! ^ 1])]) : b;
      if (oversize) bytes = Buffer.concat([b, randomBytes(1024 * 1024)]); // more than it declares
      // Several chunks, as a network would deliver them.
      const chunks = [];
      for (let i = 0; i < bytes.length; i += 64 * 1024) chunks.push(bytes.subarray(i, i + 64 * 1024));
      return { stream: Readable.from(chunks), size: b.length };
    },
  };
  const config = Buffer.from('{"os":"linux"}');
  const layer = randomBytes(300 * 1024);
  const manifest = imageManifest(config, [layer]);
  before(async () => {
    r = await startRegistry({ proxy });
    upstreamBlobs.set(sha(config), config);
    upstreamBlobs.set(sha(layer), layer);
    upstreamManifests.set('library/busybox:latest', { body: manifest, mediaType: OCI_MANIFEST });
  });
  after(async () => {
    await r?.cleanup();
  });

  it('fetches a missing manifest, serves and stores it', async () => {
    const m = await req(r.url, 'GET', '/v2/hub/library/busybox/manifests/latest');
    assert.equal(m.status, 200);
    assert.ok(m.body.equals(manifest));
    assert.equal(m.headers.get('docker-content-digest'), sha(manifest));
    assert.equal(manifestCalls, 1);
    const again = await req(r.url, 'GET', `/v2/hub/library/busybox/manifests/${sha(manifest)}`);
    assert.equal(again.status, 200);
    assert.equal(manifestCalls, 1, 'served from the store');
    assert.deepEqual((await req(r.url, 'GET', '/v2/hub/library/busybox/tags/list')).json().tags, ['latest']);
  });

  it('streams a missing blob to the client while storing it', async () => {
    const b = await req(r.url, 'GET', `/v2/hub/library/busybox/blobs/${sha(layer)}`);
    assert.equal(b.status, 200);
    assert.ok(b.body.equals(layer));
    const calls = blobCalls;
    const again = await req(r.url, 'GET', `/v2/hub/library/busybox/blobs/${sha(layer)}`, { headers: { Range: 'bytes=0-9' } });
    assert.equal(again.status, 206);
    assert.ok(again.body.equals(layer.subarray(0, 10)));
    assert.equal(blobCalls, calls, 'served from the store');
    // HEAD fetches into the store without a body.
    const head = await req(r.url, 'HEAD', `/v2/hub/library/busybox/blobs/${sha(config)}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(config.length));
    assert.equal((await r.store.blobSize('hub/library/busybox', sha(config) as `sha256:${string}`)), config.length);
  });

  it('stores nothing and cuts the response when the upstream bytes do not match the digest', async () => {
    const other = randomBytes(200 * 1024);
    upstreamBlobs.set(sha(other), other);
    corrupt = true;
    try {
      await assert.rejects(() => req(r.url, 'GET', `/v2/hub/library/busybox/blobs/${sha(other)}`), 'the client never gets a complete response');
    } finally {
      corrupt = false;
    }
    assert.equal(await r.store.blobSize('hub/library/busybox', sha(other) as `sha256:${string}`), undefined);
    assert.ok(!existsSync(r.store.blobPath(sha(other) as `sha256:${string}`)));
    assert.deepEqual(readdirSync(join(r.root, 'tmp')), []);
    // Fine once the upstream is.
    assert.ok((await req(r.url, 'GET', `/v2/hub/library/busybox/blobs/${sha(other)}`)).body.equals(other));
  });

  it('cuts off an upstream that sends more than it declared, storing nothing', async () => {
    const big = randomBytes(100 * 1024);
    upstreamBlobs.set(sha(big), big);
    oversize = true;
    try {
      await assert.rejects(() => req(r.url, 'GET', `/v2/hub/library/busybox/blobs/${sha(big)}`));
      const head = await req(r.url, 'HEAD', `/v2/hub/library/busybox/blobs/${sha(big)}`);
      assert.notEqual(head.status, 200);
    } finally {
      oversize = false;
    }
    assert.ok(!existsSync(r.store.blobPath(sha(big) as `sha256:${string}`)));
    assert.deepEqual(readdirSync(join(r.root, 'tmp')), []);
  });

  it('leaves repositories the proxy does not match alone', async () => {
    const calls = manifestCalls;
    assert.equal((await req(r.url, 'GET', '/v2/local/busybox/manifests/latest')).status, 404);
    assert.equal((await req(r.url, 'GET', '/v2/hub/library/nothing/manifests/latest')).code(), 'MANIFEST_UNKNOWN');
    assert.equal(manifestCalls, calls + 1);
    assert.equal((await req(r.url, 'GET', `/v2/hub/library/nothing/blobs/${sha('none')}`)).code(), 'BLOB_UNKNOWN');
  });

  it('pulls through the proxy of proxy/ from another Pier registry on 127.0.0.1', async () => {
    const upstream = await startRegistry();
    const px = createProxy([{ prefix: 'up', url: upstream.url }]);
    const mirror = await startRegistry({ proxy: px });
    try {
      const img = await pushImage(upstream.url, 'team/app', 'v1', { layers: [randomBytes(100_000)] });
      const m = await req(mirror.url, 'GET', '/v2/up/team/app/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
      assert.equal(m.status, 200, m.text());
      assert.equal(m.headers.get('docker-content-digest'), img.digest);
      for (const d of img.blobs) {
        const b = await req(mirror.url, 'GET', `/v2/up/team/app/blobs/${d}`);
        assert.equal(b.status, 200);
        assert.equal(sha(b.body), d);
      }
      // All of it is now in the mirror's own store.
      await upstream.close();
      for (const d of img.blobs) assert.equal((await req(mirror.url, 'GET', `/v2/up/team/app/blobs/${d}`)).status, 200);
      assert.equal((await req(mirror.url, 'GET', `/v2/up/team/app/manifests/${img.digest}`)).status, 200);
    } finally {
      px.close();
      await mirror.cleanup();
      await upstream.cleanup();
    }
  });
});

describe('registry over https', { skip: existsSync('/usr/bin/openssl') ? false : 'openssl is not installed' }, () => {
  it('serves with the given certificate and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pier-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const r = await startRegistry({ tls: { cert, key } });
    try {
      assert.match(r.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const { status, header } = await new Promise<{ status: number; header: unknown }>((resolve, reject) => {
        const q = httpsRequest(`${r.url}/v2/`, { ca: readFileSync(cert) }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, header: res.headers['docker-distribution-api-version'] });
        });
        q.on('error', reject);
        q.end();
      });
      assert.equal(status, 200);
      assert.equal(header, 'registry/2.0');
    } finally {
      await r.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
    // A key that does not match the certificate fails at start, not at the first handshake.
    const dir2 = mkdtempSync(join(tmpdir(), 'pier-tls-'));
    try {
      writeFileSync(join(dir2, 'cert.pem'), 'not a certificate');
      await assert.rejects(() => startRegistry({ tls: { cert: join(dir2, 'cert.pem'), key: join(dir2, 'cert.pem') }, root: dir2 }), /TLS (certificate|key) .*not PEM/);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
