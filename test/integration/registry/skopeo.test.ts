/**
 * A real client against the registry: skopeo (containers/image) pushes an OCI
 * layout, inspects it, copies it between repositories and pulls it back, all
 * on 127.0.0.1. Skipped when skopeo is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { tarOf } from '../../harness/tars.js';
import { req, sha, startRegistry, type TestRegistry, OCI_MANIFEST } from './oci-client.js';

const run = promisify(execFile);
const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));

describe('skopeo against the registry', { skip: SKOPEO ? false : 'skopeo is not installed' }, () => {
  let r: TestRegistry;
  let dir: string;
  let host: string;
  let layer: Buffer;
  const skopeo = (...args: string[]) => run(SKOPEO!, ['--insecure-policy', ...args], { env: { ...process.env, REGISTRY_AUTH_FILE: join(dir, 'auth.json') } });

  before(async () => {
    r = await startRegistry();
    host = r.url.replace('http://', '');
    dir = mkdtempSync(join(tmpdir(), 'pier-skopeo-'));
    writeFileSync(join(dir, 'auth.json'), '{}');
    // An OCI layout with one image tagged v1.
    const layout = join(dir, 'layout');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const put = (b: Buffer) => {
      writeFileSync(join(layout, 'blobs', 'sha256', sha(b).slice(7)), b);
      return { digest: sha(b), size: b.length };
    };
    const tar = await tarOf([{ name: 'hello.txt', content: 'hello from pier\n' }]);
    layer = gzipSync(tar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(tar)] }, config: {} }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(layer) }],
    }));
    const m = put(manifest);
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, ...m, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
    }));
  });
  after(async () => {
    await r?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('copies an image in, inspects it, copies it across repositories and back out', async () => {
    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'layout')}:v1`, `docker://${host}/skopeo/app:v1`);
    const tags = await req(r.url, 'GET', '/v2/skopeo/app/tags/list');
    assert.deepEqual(tags.json().tags, ['v1']);

    const { stdout } = await skopeo('inspect', '--tls-verify=false', `docker://${host}/skopeo/app:v1`);
    const info = JSON.parse(stdout);
    assert.equal(info.Layers.length, 1);
    assert.equal(info.Layers[0], sha(layer));
    const listed = await skopeo('list-tags', '--tls-verify=false', `docker://${host}/skopeo/app`);
    assert.deepEqual(JSON.parse(listed.stdout).Tags, ['v1']);

    await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/skopeo/app:v1`, `docker://${host}/skopeo/copy:latest`);
    assert.equal((await req(r.url, 'GET', `/v2/skopeo/copy/blobs/${sha(layer)}`)).status, 200);

    const out = join(dir, 'out');
    await skopeo('copy', '--src-tls-verify=false', `docker://${host}/skopeo/copy:latest`, `oci:${out}:pulled`);
    assert.ok(readFileSync(join(out, 'blobs', 'sha256', sha(layer).slice(7))).equals(layer));

    await skopeo('delete', '--tls-verify=false', `docker://${host}/skopeo/copy:latest`);
    assert.equal((await req(r.url, 'GET', '/v2/skopeo/copy/manifests/latest')).status, 404);
  });
});
