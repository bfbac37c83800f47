/**
 * The registry server over real HTTP on 127.0.0.1: the success path of every
 * endpoint of the OCI Distribution Spec v1.1 / Docker Registry API V2.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Logger } from '../../../src/base/log.js';
import {
  req, pushBlob, pushImage, imageManifest, sha, startRegistry, type TestRegistry,
  OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST,
} from './oci-client.js';

describe('registry endpoints', () => {
  let r: TestRegistry;
  let base: string;
  const logLines: string[] = [];
  before(async () => {
    r = await startRegistry({ log: new Logger({ write: (l) => void logLines.push(l) }, 'info') });
    base = r.url;
  });
  after(async () => {
    await r?.cleanup();
  });

  it('GET /v2/ answers {} with the API version header', async () => {
    const res = await req(base, 'GET', '/v2/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), {});
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal(res.headers.get('content-type'), 'application/json');
  });

  it('every response carries Docker-Distribution-API-Version, errors too', async () => {
    const res = await req(base, 'GET', '/v2/nope/manifests/latest');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(res.json(), { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown: latest', detail: { reference: 'latest' } }] });
  });

  it('monolithic POST ?digest= stores a blob: GET, HEAD, Range, DELETE', async () => {
    const data = randomBytes(10_000);
    const d = sha(data);
    const post = await req(base, 'POST', `/v2/mono/blobs/uploads/?digest=${d}`, { body: data });
    assert.equal(post.status, 201);
    assert.equal(post.headers.get('location'), `/v2/mono/blobs/${d}`);
    assert.equal(post.headers.get('docker-content-digest'), d);

    const get = await req(base, 'GET', `/v2/mono/blobs/${d}`);
    assert.equal(get.status, 200);
    assert.ok(get.body.equals(data));
    assert.equal(get.headers.get('docker-content-digest'), d);
    assert.equal(get.headers.get('content-length'), '10000');
    assert.equal(get.headers.get('content-type'), 'application/octet-stream');

    const head = await req(base, 'HEAD', `/v2/mono/blobs/${d}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10000');
    assert.equal(head.headers.get('docker-content-digest'), d);
    assert.equal(head.body.length, 0);

    const part = await req(base, 'GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 100-199/10000');
    assert.equal(part.headers.get('content-length'), '100');
    assert.ok(part.body.equals(data.subarray(100, 200)));

    const open = await req(base, 'GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=9990-' } });
    assert.equal(open.status, 206);
    assert.ok(open.body.equals(data.subarray(9990)));
    const suffix = await req(base, 'GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=-5' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers.get('content-range'), 'bytes 9995-9999/10000');
    assert.ok(suffix.body.equals(data.subarray(9995)));

    const bad = await req(base, 'GET', `/v2/mono/blobs/${d}`, { headers: { Range: 'bytes=20000-' } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get('content-range'), 'bytes */10000');
    assert.equal(bad.code(), 'RANGE_INVALID');

    const del = await req(base, 'DELETE', `/v2/mono/blobs/${d}`);
    assert.equal(del.status, 202);
    const gone = await req(base, 'GET', `/v2/mono/blobs/${d}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.code(), 'BLOB_UNKNOWN');
    assert.equal((await req(base, 'DELETE', `/v2/mono/blobs/${d}`)).code(), 'BLOB_UNKNOWN');
  });

  it('a blob is stored once, whichever repositories push it', async () => {
    const data = randomBytes(5000);
    const d = await pushBlob(base, 'dedup/one', data);
    await pushBlob(base, 'dedup/two', data);
    const { readdirSync } = await import('node:fs');
    assert.equal(readdirSync(`${r.root}/blobs/sha256`).filter((n) => n === d.slice(7)).length, 1);
    // ... but a repository serves only what it was given
    assert.equal((await req(base, 'GET', `/v2/dedup/three/blobs/${d}`)).status, 404);
  });

  it('POST then PUT with the body and ?digest=', async () => {
    const data = randomBytes(3000);
    const d = sha(data);
    const post = await req(base, 'POST', '/v2/postput/blobs/uploads/');
    assert.equal(post.status, 202);
    const loc = post.headers.get('location')!;
    assert.match(loc, /^\/v2\/postput\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(post.headers.get('docker-upload-uuid'), loc.split('/').pop());
    assert.equal(post.headers.get('range'), '0-0');
    assert.equal(post.headers.get('content-length'), '0');
    const put = await req(base, 'PUT', `${loc}?digest=${d}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('location'), `/v2/postput/blobs/${d}`);
    assert.equal(put.headers.get('docker-content-digest'), d);
    assert.ok((await req(base, 'GET', `/v2/postput/blobs/${d}`)).body.equals(data));
  });

  it('chunked PATCH with Content-Range, status GET, out-of-order 416, final chunk in PUT', async () => {
    const data = randomBytes(30);
    const d = sha(data);
    const post = await req(base, 'POST', '/v2/chunked/blobs/uploads/', { headers: { 'Content-Length': '0' } });
    const loc = post.headers.get('location')!;

    const p1 = await req(base, 'PATCH', loc, { body: data.subarray(0, 10), headers: { 'Content-Range': '0-9', 'Content-Type': 'application/octet-stream' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), '0-9');
    assert.equal(p1.headers.get('location'), loc);

    const status = await req(base, 'GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-9');
    assert.equal(status.headers.get('docker-upload-uuid'), loc.split('/').pop());

    const skip = await req(base, 'PATCH', loc, { body: data.subarray(20, 30), headers: { 'Content-Range': '20-29' } });
    assert.equal(skip.status, 416);
    assert.equal(skip.code(), 'RANGE_INVALID');
    assert.equal(skip.headers.get('range'), '0-9', 'a 416 tells the client where the upload stands');
    const again = await req(base, 'PATCH', loc, { body: data.subarray(0, 10), headers: { 'Content-Range': '0-9' } });
    assert.equal(again.status, 416, 'a chunk sent twice is out of order too');

    const p2 = await req(base, 'PATCH', loc, { body: data.subarray(10, 20), headers: { 'Content-Range': '10-19' } });
    assert.equal(p2.status, 202);
    assert.equal(p2.headers.get('range'), '0-19');

    const put = await req(base, 'PUT', `${loc}?digest=${d}`, { body: data.subarray(20), headers: { 'Content-Range': '20-29' } });
    assert.equal(put.status, 201);
    assert.ok((await req(base, 'GET', `/v2/chunked/blobs/${d}`)).body.equals(data));
    assert.equal((await req(base, 'GET', loc)).code(), 'BLOB_UPLOAD_UNKNOWN', 'a completed session is gone');
  });

  it('streamed PATCH without Content-Range (as docker push does), then PUT with no body', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 17);
    const d = sha(data);
    const loc = (await req(base, 'POST', '/v2/streamed/blobs/uploads/')).headers.get('location')!;
    const p = await req(base, 'PATCH', loc, { body: data });
    assert.equal(p.status, 202);
    assert.equal(p.headers.get('range'), `0-${data.length - 1}`);
    const put = await req(base, 'PUT', `${loc}?digest=${d}`, { headers: { 'Content-Length': '0' } });
    assert.equal(put.status, 201);
    assert.ok((await req(base, 'GET', `/v2/streamed/blobs/${d}`)).body.equals(data));
  });

  it('DELETE of an upload session: 204, then the session is unknown', async () => {
    const loc = (await req(base, 'POST', '/v2/cancel/blobs/uploads/')).headers.get('location')!;
    await req(base, 'PATCH', loc, { body: 'abc' });
    const del = await req(base, 'DELETE', loc);
    assert.equal(del.status, 204);
    const st = await req(base, 'GET', loc);
    assert.equal(st.status, 404);
    assert.equal(st.code(), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await req(base, 'DELETE', loc)).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('cross-repository mount: 201 when the source has the blob, else a 202 upload session', async () => {
    const d = await pushBlob(base, 'mount/src', randomBytes(4000));
    const m = await req(base, 'POST', `/v2/mount/dst/blobs/uploads/?mount=${d}&from=mount/src`);
    assert.equal(m.status, 201);
    assert.equal(m.headers.get('location'), `/v2/mount/dst/blobs/${d}`);
    assert.equal(m.headers.get('docker-content-digest'), d);
    assert.equal((await req(base, 'GET', `/v2/mount/dst/blobs/${d}`)).status, 200);

    const missing = sha('not there');
    const f = await req(base, 'POST', `/v2/mount/dst2/blobs/uploads/?mount=${missing}&from=mount/src`);
    assert.equal(f.status, 202);
    assert.match(f.headers.get('location')!, /^\/v2\/mount\/dst2\/blobs\/uploads\//);
    // The blob exists, but not in `from`: no mount either (a repository's blobs are its own).
    const other = await req(base, 'POST', `/v2/mount/dst3/blobs/uploads/?mount=${d}&from=mount/elsewhere`);
    assert.equal(other.status, 202);
  });

  it('OCI manifest by tag and digest: PUT, GET, HEAD, DELETE', async () => {
    const p = await pushImage(base, 'img/oci', 'v1');
    const get = await req(base, 'GET', '/v2/img/oci/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
    assert.equal(get.status, 200);
    assert.ok(get.body.equals(p.manifest), 'served byte for byte as pushed');
    assert.equal(get.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(get.headers.get('docker-content-digest'), p.digest);
    assert.equal(get.headers.get('content-length'), String(p.manifest.length));

    const head = await req(base, 'HEAD', `/v2/img/oci/manifests/${p.digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), p.digest);
    assert.equal(head.headers.get('content-length'), String(p.manifest.length));
    assert.equal(head.headers.get('content-type'), OCI_MANIFEST);

    // PUT response headers
    const again = await req(base, 'PUT', '/v2/img/oci/manifests/v2', { body: p.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('location'), `/v2/img/oci/manifests/${p.digest}`);
    assert.equal(again.headers.get('docker-content-digest'), p.digest);
    assert.equal(again.headers.get('oci-subject'), null);

    const byDigest = await req(base, 'PUT', `/v2/img/oci/manifests/${p.digest}`, { body: p.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(byDigest.status, 201);

    assert.equal((await req(base, 'DELETE', '/v2/img/oci/manifests/v2')).status, 202);
    assert.equal((await req(base, 'GET', '/v2/img/oci/manifests/v2')).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await req(base, 'GET', '/v2/img/oci/manifests/v1')).status, 200, 'other tags stay');

    assert.equal((await req(base, 'DELETE', `/v2/img/oci/manifests/${p.digest}`)).status, 202);
    assert.equal((await req(base, 'GET', `/v2/img/oci/manifests/${p.digest}`)).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await req(base, 'GET', '/v2/img/oci/manifests/v1')).status, 404, 'deleting by digest takes its tags');
    assert.deepEqual((await req(base, 'GET', '/v2/img/oci/tags/list')).json().tags, []);
  });

  it('Docker schema 2 manifest, and manifest list / OCI index over it', async () => {
    const p = await pushImage(base, 'img/docker', 'v1', { mediaType: DOCKER_MANIFEST });
    const get = await req(base, 'GET', '/v2/img/docker/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(get.headers.get('content-type'), DOCKER_MANIFEST);
    assert.ok(get.body.equals(p.manifest));
    // A client that does not name the stored type still gets it (as distribution serves it).
    const other = await req(base, 'GET', '/v2/img/docker/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('content-type'), DOCKER_MANIFEST);

    const arm = await pushImage(base, 'img/docker', 'arm', { mediaType: DOCKER_MANIFEST });
    const list = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: p.digest, size: p.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: DOCKER_MANIFEST, digest: arm.digest, size: arm.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }));
    const put = await req(base, 'PUT', '/v2/img/docker/manifests/multi', { body: list, headers: { 'Content-Type': DOCKER_LIST } });
    assert.equal(put.status, 201, put.text());
    const gl = await req(base, 'GET', '/v2/img/docker/manifests/multi', { headers: { Accept: `${DOCKER_LIST}, ${DOCKER_MANIFEST}` } });
    assert.equal(gl.headers.get('content-type'), DOCKER_LIST);
    assert.ok(gl.body.equals(list));
    // An old client that only takes image manifests gets the linux/amd64 one.
    const old = await req(base, 'GET', '/v2/img/docker/manifests/multi', { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(old.headers.get('docker-content-digest'), p.digest);

    const oci = await pushImage(base, 'img/docker', 'oci');
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: oci.digest, size: oci.manifest.length, platform: { architecture: 'amd64', os: 'linux' } }],
      annotations: { 'org.example': 'x' },
    }));
    const pi = await req(base, 'PUT', '/v2/img/docker/manifests/index', { body: index, headers: { 'Content-Type': OCI_INDEX } });
    assert.equal(pi.status, 201, pi.text());
    const gi = await req(base, 'GET', '/v2/img/docker/manifests/index');
    assert.equal(gi.headers.get('content-type'), OCI_INDEX);
    assert.equal(gi.headers.get('docker-content-digest'), sha(index));
  });

  it('tags list and catalog paginate with n, last and a Link header', async () => {
    const img = await pushImage(base, 'page/tags', 't0');
    const tags = ['a', 'b', 'c', 'd', 'e'];
    for (const t of tags) {
      const put = await req(base, 'PUT', `/v2/page/tags/manifests/${t}`, { body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(put.status, 201);
    }
    const all = await req(base, 'GET', '/v2/page/tags/tags/list');
    assert.deepEqual(all.json(), { name: 'page/tags', tags: ['a', 'b', 'c', 'd', 'e', 't0'] });
    assert.equal(all.headers.get('link'), null);

    const p1 = await req(base, 'GET', '/v2/page/tags/tags/list?n=2');
    assert.deepEqual(p1.json().tags, ['a', 'b']);
    assert.equal(p1.headers.get('link'), '</v2/page/tags/tags/list?n=2&last=b>; rel="next"');
    const next = p1.headers.get('link')!.match(/^<([^>]+)>/)![1]!;
    const p2 = await req(base, 'GET', next);
    assert.deepEqual(p2.json().tags, ['c', 'd']);
    const p3 = await req(base, 'GET', '/v2/page/tags/tags/list?n=2&last=d');
    assert.deepEqual(p3.json().tags, ['e', 't0']);
    assert.equal(p3.headers.get('link'), null, 'no Link once the list is complete');
    const zero = await req(base, 'GET', '/v2/page/tags/tags/list?n=0');
    assert.deepEqual(zero.json().tags, []);
    assert.equal(zero.headers.get('link'), null);
    assert.deepEqual((await req(base, 'GET', '/v2/page/tags/tags/list?last=c')).json().tags, ['d', 'e', 't0']);

    for (const name of ['page/cat/a', 'page/cat/b', 'page/cat/c']) await pushBlob(base, name, name);
    const cat = await req(base, 'GET', '/v2/_catalog');
    const repos: string[] = cat.json().repositories;
    assert.ok(['page/cat/a', 'page/cat/b', 'page/cat/c', 'page/tags'].every((x) => repos.includes(x)));
    assert.deepEqual(repos, [...repos].sort());
    const c1 = await req(base, 'GET', '/v2/_catalog?n=1&last=page/cat/a');
    assert.deepEqual(c1.json().repositories, ['page/cat/b']);
    assert.equal(c1.headers.get('link'), '</v2/_catalog?n=1&last=page%2Fcat%2Fb>; rel="next"');
    const c2 = await req(base, 'GET', c1.headers.get('link')!.match(/^<([^>]+)>/)![1]!);
    assert.deepEqual(c2.json().repositories, ['page/cat/c']);
  });

  it('referrers: an OCI index of the manifests whose subject is the digest, filterable by artifactType', async () => {
    const subject = await pushImage(base, 'refs/app', 'v1');
    const subj = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
    const empty = Buffer.from('{}');
    await pushBlob(base, 'refs/app', empty);
    const sig = await pushBlob(base, 'refs/app', 'signature bytes');
    const sbom = await pushBlob(base, 'refs/app', 'sbom bytes');
    const artifact = (artifactType: string, layer: string, ann: Record<string, string>) =>
      Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer, size: layer === sig ? 15 : 10 }],
        subject: subj,
        annotations: ann,
      }));
    const a1 = artifact('application/vnd.example.signature', sig, { 'org.example.kind': 'sig' });
    const a2 = artifact('application/vnd.example.sbom', sbom, { 'org.example.kind': 'sbom' });
    for (const a of [a1, a2]) {
      const put = await req(base, 'PUT', `/v2/refs/app/manifests/${sha(a)}`, { body: a, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(put.status, 201, put.text());
      assert.equal(put.headers.get('oci-subject'), subject.digest);
    }
    // An image manifest without artifactType is listed with its config's media type.
    const plain = imageManifest(Buffer.from('{}'), [], { subject: subj });
    assert.equal((await req(base, 'PUT', `/v2/refs/app/manifests/${sha(plain)}`, { body: plain, headers: { 'Content-Type': OCI_MANIFEST } })).status, 201);

    const all = await req(base, 'GET', `/v2/refs/app/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    assert.equal(all.headers.get('oci-filters-applied'), null);
    const idx = all.json();
    assert.equal(idx.schemaVersion, 2);
    assert.equal(idx.mediaType, OCI_INDEX);
    const byDigest = new Map<string, any>(idx.manifests.map((m: any) => [m.digest, m]));
    assert.equal(byDigest.size, 3);
    assert.deepEqual(byDigest.get(sha(a1)), {
      mediaType: OCI_MANIFEST, digest: sha(a1), size: a1.length, artifactType: 'application/vnd.example.signature', annotations: { 'org.example.kind': 'sig' },
    });
    assert.equal(byDigest.get(sha(plain)).artifactType, 'application/vnd.oci.image.config.v1+json');

    const f = await req(base, 'GET', `/v2/refs/app/referrers/${subject.digest}?artifactType=${encodeURIComponent('application/vnd.example.sbom')}`);
    assert.equal(f.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(f.json().manifests.map((m: { digest: string }) => m.digest), [sha(a2)]);

    const none = await req(base, 'GET', `/v2/refs/app/referrers/${sha('nothing')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.json().manifests, []);

    // Deleting a referrer takes it off the list.
    assert.equal((await req(base, 'DELETE', `/v2/refs/app/manifests/${sha(a1)}`)).status, 202);
    const after1 = await req(base, 'GET', `/v2/refs/app/referrers/${subject.digest}`);
    assert.deepEqual(after1.json().manifests.map((m: { digest: string }) => m.digest).sort(), [sha(a2), sha(plain)].sort());
  });

  it('writes an access log line per request', async () => {
    await req(base, 'GET', '/v2/');
    await new Promise((res) => setTimeout(res, 20));
    const line = logLines.map((l) => JSON.parse(l)).reverse().find((l) => l.msg === 'request' && l.path === '/v2/');
    assert.ok(line, 'an access log line');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.bytes, 2);
    assert.equal(typeof line.ms, 'number');
  });

  it('unsupported methods are 405 UNSUPPORTED; unknown paths 404', async () => {
    const res = await req(base, 'POST', '/v2/x/manifests/latest');
    assert.equal(res.status, 405);
    assert.equal(res.code(), 'UNSUPPORTED');
    assert.equal((await req(base, 'GET', '/v2/x/whatever')).status, 404);
    assert.equal((await req(base, 'GET', '/')).status, 404);
  });

  it('keeps the connection usable after an early error on a request with a body', async () => {
    // An error answered before the body is read must not leave the body on the wire for the next request.
    const agentReq = (path: string, method: string, body?: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const q = request(`${base}${path}`, { method, headers: body ? { 'Content-Length': body.length } : {} }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        q.on('error', reject);
        q.end(body);
      });
    assert.equal(await agentReq('/v2/early/manifests/BAD%20TAG', 'PUT', randomBytes(1000)), 400);
    assert.equal(await agentReq('/v2/', 'GET'), 200);
  });
});
