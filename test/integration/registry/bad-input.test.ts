/**
 * Bad input to the registry over real HTTP: each is refused with the spec's
 * error code, nothing half-made becomes visible, nothing leaks, and the server
 * stays up. Includes clients that drop mid-upload.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { req, pushBlob, pushImage, imageManifest, sha, startRegistry, type TestRegistry, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST } from './oci-client.js';

const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** Sends the start of a request body and then cuts the connection. */
function dropMidBody(base: string, method: string, path: string, declared: number, sent: Buffer, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const q = request(`${base}${path}`, { method, headers: { 'Content-Length': String(declared), ...headers } });
    q.on('error', () => resolve());
    q.on('response', () => resolve());
    q.write(sent, () => setTimeout(() => {
      q.destroy();
      resolve();
    }, 50));
  });
}

describe('registry bad input', () => {
  let r: TestRegistry;
  let base: string;
  const ttl = 400;
  before(async () => {
    r = await startRegistry({ maxManifestBytes: 4096, uploadTtlMs: ttl, maxBlobBytes: 1024 * 1024 });
    base = r.url;
  });
  after(async () => {
    await r?.cleanup();
  });
  const blobFiles = () => ls(join(r.root, 'blobs', 'sha256'));
  const stillUp = async () => assert.equal((await req(base, 'GET', '/v2/')).status, 200);

  it('wrong digest on a monolithic upload: DIGEST_INVALID, nothing visible, no session left', async () => {
    const before = blobFiles().length;
    const data = randomBytes(1000);
    const claimed = sha('something else');
    const res = await req(base, 'POST', `/v2/bad/digest/blobs/uploads/?digest=${claimed}`, { body: data });
    assert.equal(res.status, 400);
    assert.equal(res.code(), 'DIGEST_INVALID');
    assert.equal((await req(base, 'GET', `/v2/bad/digest/blobs/${claimed}`)).status, 404);
    assert.equal((await req(base, 'GET', `/v2/bad/digest/blobs/${sha(data)}`)).status, 404);
    assert.equal(blobFiles().length, before);
    assert.deepEqual(ls(join(r.root, 'uploads')), []);
    assert.deepEqual(ls(join(r.root, 'tmp')), []);
  });

  it('wrong digest when completing a session: DIGEST_INVALID and the session and its bytes are gone', async () => {
    const before = blobFiles().length;
    const loc = (await req(base, 'POST', '/v2/bad/digest/blobs/uploads/')).headers.get('location')!;
    await req(base, 'PATCH', loc, { body: randomBytes(500) });
    const res = await req(base, 'PUT', `${loc}?digest=${sha('nope')}`);
    assert.equal(res.code(), 'DIGEST_INVALID');
    assert.equal((await req(base, 'GET', loc)).code(), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(blobFiles().length, before);
    assert.deepEqual(ls(join(r.root, 'uploads')), []);
  });

  it('malformed digests: DIGEST_INVALID', async () => {
    assert.equal((await req(base, 'GET', '/v2/bad/blobs/sha256:xyz')).code(), 'DIGEST_INVALID');
    assert.equal((await req(base, 'POST', '/v2/bad/blobs/uploads/?digest=md5:abc', { body: 'x' })).code(), 'DIGEST_INVALID');
    const loc = (await req(base, 'POST', '/v2/bad/blobs/uploads/')).headers.get('location')!;
    assert.equal((await req(base, 'PUT', loc)).code(), 'DIGEST_INVALID', 'PUT without ?digest=');
    assert.equal((await req(base, 'GET', '/v2/bad/referrers/sha256:short')).status, 400);
    assert.equal((await req(base, 'GET', '/v2/bad/manifests/sha256:short')).code(), 'DIGEST_INVALID');
  });

  it('invalid repository names: NAME_INVALID', async () => {
    for (const name of ['UPPER', 'a__-b', '-lead', 'trail-', 'a..b', 'a/.b', 'a/_b', 'x'.repeat(256), 'a/'.repeat(100) + 'a'.repeat(60)]) {
      const res = await req(base, 'GET', `/v2/${name}/tags/list`);
      assert.equal(res.status, 400, name);
      assert.equal(res.code(), 'NAME_INVALID', name);
    }
    const ok = 'a'.repeat(255);
    assert.equal((await req(base, 'GET', `/v2/${ok}/tags/list`)).code(), 'NAME_UNKNOWN', 'a 255-character name is valid');
    assert.equal((await req(base, 'POST', `/v2/Bad/blobs/uploads/`)).code(), 'NAME_INVALID');
    assert.equal((await req(base, 'POST', `/v2/good/blobs/uploads/?mount=${sha('x')}&from=Bad`)).status, 202, 'an invalid mount source only means no mount');
  });

  it('path traversal in a name never reaches the disk', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      // node:http sends the path as is (fetch would normalise the dots away).
      const q = request(`${base}/v2/../../../etc/tags/list`, { method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      q.on('error', reject);
      q.end();
    });
    // The URL parser resolves the dots first (→ /etc/tags/list, not a /v2/ path); encoded dots are no name either.
    assert.equal(status, 404);
    // Names are never percent-decoded, so an encoded slash or dot is just an invalid name.
    assert.equal((await req(base, 'GET', '/v2/a%2F..%2F..%2Fetc/tags/list')).code(), 'NAME_INVALID');
    assert.equal((await req(base, 'GET', '/v2/a/%2e%2e%2fb/tags/list')).code(), 'NAME_INVALID');
    assert.ok(!existsSync(join(r.root, '..', 'etc')));
    assert.ok(!existsSync(join(r.root, 'etc')));
  });

  it('a manifest naming blobs the repository lacks: MANIFEST_BLOB_UNKNOWN, nothing stored', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(100);
    await pushBlob(base, 'bad/mbu', config);
    const m = imageManifest(config, [layer]);
    const res = await req(base, 'PUT', '/v2/bad/mbu/manifests/v1', { body: m, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(res.status, 400);
    assert.equal(res.code(), 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(res.json().errors[0].detail, { digest: sha(layer) });
    assert.equal((await req(base, 'GET', '/v2/bad/mbu/manifests/v1')).status, 404);
    assert.equal((await req(base, 'GET', `/v2/bad/mbu/manifests/${sha(m)}`)).status, 404);
    assert.deepEqual((await req(base, 'GET', '/v2/bad/mbu/tags/list')).json().tags, []);

    // A blob of another repository does not count either.
    await pushBlob(base, 'bad/other', layer);
    assert.equal((await req(base, 'PUT', '/v2/bad/mbu/manifests/v1', { body: m, headers: { 'Content-Type': OCI_MANIFEST } })).code(), 'MANIFEST_BLOB_UNKNOWN');

    // An index naming a manifest the repository lacks.
    const idx = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha('no such manifest'), size: 16 }] });
    assert.equal((await req(base, 'PUT', '/v2/bad/mbu/manifests/idx', { body: idx, headers: { 'Content-Type': OCI_INDEX } })).code(), 'MANIFEST_BLOB_UNKNOWN');
  });

  it('invalid manifests: MANIFEST_INVALID; wrong digest reference: DIGEST_INVALID', async () => {
    const p = await pushImage(base, 'bad/mi', 'ok');
    const put = (body: string | Buffer, ct: string, ref = 'x') => req(base, 'PUT', `/v2/bad/mi/manifests/${ref}`, { body, headers: { 'Content-Type': ct } });
    assert.equal((await put('{not json', OCI_MANIFEST)).code(), 'MANIFEST_INVALID');
    assert.equal((await put('[]', OCI_MANIFEST)).code(), 'MANIFEST_INVALID');
    assert.equal((await put('{"schemaVersion":1}', OCI_MANIFEST)).code(), 'MANIFEST_INVALID');
    assert.equal((await put(p.manifest, DOCKER_MANIFEST)).code(), 'MANIFEST_INVALID', 'mediaType differs from Content-Type');
    assert.equal((await put(p.manifest, 'application/vnd.example.unknown+json')).code(), 'MANIFEST_INVALID');
    assert.equal((await put('{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST + '","layers":[]}', OCI_MANIFEST)).code(), 'MANIFEST_INVALID', 'no config');
    assert.equal((await put(p.manifest, OCI_MANIFEST, 'bad tag!')).status, 400);
    assert.equal((await put(p.manifest, OCI_MANIFEST, '.dot')).code(), 'MANIFEST_INVALID');
    const wrong = await put(p.manifest, OCI_MANIFEST, sha('other'));
    assert.equal(wrong.code(), 'DIGEST_INVALID');
    // A descriptor whose size does not match the stored blob.
    const doc = JSON.parse(p.manifest.toString());
    doc.layers[0].size += 1;
    assert.equal((await put(JSON.stringify(doc), OCI_MANIFEST)).code(), 'MANIFEST_INVALID');
    assert.deepEqual((await req(base, 'GET', '/v2/bad/mi/tags/list')).json().tags, ['ok']);
  });

  it('an oversize manifest is refused with 413', async () => {
    const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { pad: 'x'.repeat(5000) } }));
    const res = await req(base, 'PUT', '/v2/bad/big/manifests/v1', { body: big, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(res.status, 413);
    assert.equal(res.code(), 'MANIFEST_INVALID');
    assert.match(res.json().errors[0].message, /manifest too large/);
    // Also when the size is not announced (chunked transfer).
    const chunked = await new Promise<number>((resolve, reject) => {
      const q = request(`${base}/v2/bad/big/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST, 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      q.on('error', reject);
      q.write(big.subarray(0, 3000));
      q.end(big.subarray(3000));
    });
    assert.equal(chunked, 413);
    await stillUp();
  });

  it('a blob over the upload limit is refused with 413 SIZE_INVALID', async () => {
    const data = randomBytes(1024 * 1024 + 1);
    const res = await req(base, 'POST', `/v2/bad/huge/blobs/uploads/?digest=${sha(data)}`, { body: data });
    assert.equal(res.status, 413);
    assert.equal(res.code(), 'SIZE_INVALID');
    assert.equal((await req(base, 'GET', `/v2/bad/huge/blobs/${sha(data)}`)).status, 404);
    await stillUp();
  });

  it('out-of-order and malformed chunks: 416 with the current Range; a chunk shorter than its range is dropped', async () => {
    const loc = (await req(base, 'POST', '/v2/bad/chunks/blobs/uploads/')).headers.get('location')!;
    assert.equal((await req(base, 'PATCH', loc, { body: 'abcde', headers: { 'Content-Range': '0-4' } })).status, 202);
    const ooo = await req(base, 'PATCH', loc, { body: 'fghij', headers: { 'Content-Range': '6-10' } });
    assert.equal(ooo.status, 416);
    assert.equal(ooo.headers.get('range'), '0-4');
    assert.equal(ooo.headers.get('location'), loc);
    assert.equal((await req(base, 'PATCH', loc, { body: 'x', headers: { 'Content-Range': '5-3' } })).status, 416);
    assert.equal((await req(base, 'PATCH', loc, { body: 'x', headers: { 'Content-Range': 'garbage' } })).code(), 'BLOB_UPLOAD_INVALID');
    const short = await req(base, 'PATCH', loc, { body: 'fg', headers: { 'Content-Range': '5-9' } });
    assert.equal(short.code(), 'BLOB_UPLOAD_INVALID');
    assert.equal((await req(base, 'GET', loc)).headers.get('range'), '0-4', 'the short chunk was taken back');
    assert.equal((await req(base, 'PATCH', loc, { body: 'fghij', headers: { 'Content-Range': '5-9' } })).status, 202);
    const put = await req(base, 'PUT', `${loc}?digest=${sha('abcdefghij')}`);
    assert.equal(put.status, 201);
  });

  it('unknown upload sessions and sessions of another repository: BLOB_UPLOAD_UNKNOWN', async () => {
    assert.equal((await req(base, 'GET', '/v2/bad/blobs/uploads/00000000-0000-0000-0000-000000000000')).code(), 'BLOB_UPLOAD_UNKNOWN');
    const loc = (await req(base, 'POST', '/v2/bad/mine/blobs/uploads/')).headers.get('location')!;
    const other = loc.replace('/bad/mine/', '/bad/theirs/');
    assert.equal((await req(base, 'PATCH', other, { body: 'x' })).code(), 'BLOB_UPLOAD_UNKNOWN');
    await req(base, 'DELETE', loc);
  });

  it('invalid pagination: PAGINATION_NUMBER_INVALID', async () => {
    await pushImage(base, 'bad/page', 'a');
    for (const n of ['abc', '-1', '1.5']) assert.equal((await req(base, 'GET', `/v2/bad/page/tags/list?n=${n}`)).code(), 'PAGINATION_NUMBER_INVALID');
    assert.equal((await req(base, 'GET', '/v2/_catalog?n=x')).status, 400);
    assert.equal((await req(base, 'GET', '/v2/bad/never/tags/list')).code(), 'NAME_UNKNOWN');
  });

  it('a client dropping mid-PATCH leaves no blob; the session is swept after the ttl', async () => {
    const before = blobFiles().length;
    const loc = (await req(base, 'POST', '/v2/bad/drop/blobs/uploads/')).headers.get('location')!;
    const uuid = loc.split('/').pop()!;
    await dropMidBody(base, 'PATCH', loc, 512 * 1024, randomBytes(100 * 1024));
    await stillUp();
    assert.equal(blobFiles().length, before, 'no visible blob');
    // Still there until the ttl passes (a client could resume it) ...
    assert.ok(ls(join(r.root, 'uploads')).includes(uuid));
    await new Promise((res) => setTimeout(res, ttl * 2 + 100));
    // ... then swept, files and all.
    assert.ok(!ls(join(r.root, 'uploads')).includes(uuid));
    assert.equal((await req(base, 'GET', loc)).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('a client dropping mid-PUT and mid-monolithic POST leaves no blob and no session', async () => {
    const before = blobFiles().length;
    const data = randomBytes(300 * 1024);
    const loc = (await req(base, 'POST', '/v2/bad/drop/blobs/uploads/')).headers.get('location')!;
    await dropMidBody(base, 'PUT', `${loc}?digest=${sha(data)}`, data.length, data.subarray(0, 100 * 1024));
    await dropMidBody(base, 'POST', `/v2/bad/drop/blobs/uploads/?digest=${sha(data)}`, data.length, data.subarray(0, 100 * 1024));
    await stillUp();
    assert.equal(blobFiles().length, before);
    assert.equal((await req(base, 'GET', `/v2/bad/drop/blobs/${sha(data)}`)).status, 404);
    // The monolithic one is dropped at once; the PUT's session expires.
    await new Promise((res) => setTimeout(res, ttl * 2 + 100));
    assert.deepEqual(ls(join(r.root, 'uploads')), []);
    assert.deepEqual(ls(join(r.root, 'tmp')), []);
    assert.equal(r.uploads.count, 0);
  });

  it('two requests on one session at once: the second is refused, the first completes', async () => {
    const loc = (await req(base, 'POST', '/v2/bad/busy/blobs/uploads/')).headers.get('location')!;
    const data = randomBytes(256 * 1024);
    // First request: announce the body, send half, hold the rest.
    let finish!: () => void;
    const first = new Promise<number>((resolve, reject) => {
      const q = request(`${base}${loc}`, { method: 'PATCH', headers: { 'Content-Length': String(data.length) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      q.on('error', reject);
      q.write(data.subarray(0, 1000));
      finish = () => q.end(data.subarray(1000));
    });
    await new Promise((res) => setTimeout(res, 50));
    const second = await req(base, 'PATCH', loc, { body: 'zzz' });
    assert.equal(second.code(), 'BLOB_UPLOAD_INVALID');
    finish();
    assert.equal(await first, 202);
    assert.equal((await req(base, 'PUT', `${loc}?digest=${sha(data)}`)).status, 201);
  });

  it('a request target the URL parser refuses gets 400 and the server stays up', async () => {
    const { hostname, port } = new URL(base);
    const head = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), hostname, () => s.write('GET //[ HTTP/1.1\r\nHost: x\r\n\r\n'));
      let out = '';
      s.setTimeout(2000, () => s.destroy()); // no answer at all: the handler threw
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('close', () => resolve(out.split('\r\n')[0]!));
      s.on('error', reject);
    });
    assert.match(head, /^HTTP\/1\.1 400 /);
    await stillUp();
  });
});
