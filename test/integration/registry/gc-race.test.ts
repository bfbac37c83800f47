/**
 * Garbage collection racing pushes: workers push images (monolithic and chunked
 * uploads, cross-repository mounts, indexes over untagged children) and delete
 * some tags again, readers pull finished images the whole time, and collectors
 * loop with no grace period at all — one in the server's process, one in
 * another process on the same root, each pausing 0–120 ms between runs (with
 * no grace, an unreferenced blob is fair game at once, so back-to-back runs
 * would starve every push). No pushed image may ever be broken: every
 * manifest a successful push left tagged has all its blobs GETtable, during
 * the race and after it. A push may fail only cleanly (MANIFEST_BLOB_UNKNOWN,
 * then retried, as a client would).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectGarbage, type GcReport } from '../../../src/registry/gc.js';
import { req, pushBlob, sha, startRegistry, type TestRegistry, OCI_MANIFEST, OCI_INDEX } from './oci-client.js';

const GC_MODULE = resolve(fileURLToPath(import.meta.url), '../../../../src/registry/gc.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORKERS = 6;
const IMAGES_PER_WORKER = 10;

interface Image {
  repo: string;
  tag: string;
  digest: string;
}

/** Everything a tag reaches must be there, byte-exact. */
async function verifyImage(base: string, img: Image): Promise<void> {
  const m = await req(base, 'GET', `/v2/${img.repo}/manifests/${img.tag}`);
  assert.equal(m.status, 200, `${img.repo}:${img.tag}: ${m.text()}`);
  assert.equal(m.headers.get('docker-content-digest'), img.digest);
  await verifyManifest(base, img.repo, m.body);
}

async function verifyManifest(base: string, repo: string, body: Buffer): Promise<void> {
  const doc = JSON.parse(body.toString());
  for (const child of doc.manifests ?? []) {
    const c = await req(base, 'GET', `/v2/${repo}/manifests/${child.digest}`);
    assert.equal(c.status, 200, `${repo}@${child.digest} (index child): ${c.text()}`);
    assert.equal(sha(c.body), child.digest);
    await verifyManifest(base, repo, c.body);
  }
  for (const desc of [doc.config, ...(doc.layers ?? [])].filter(Boolean)) {
    const b = await req(base, 'GET', `/v2/${repo}/blobs/${desc.digest}`);
    assert.equal(b.status, 200, `${repo} blob ${desc.digest}: ${b.text()}`);
    assert.equal(sha(b.body), desc.digest);
  }
}

/** A chunked upload: POST, PATCHes with Content-Range, PUT. */
async function pushChunked(base: string, repo: string, data: Buffer): Promise<string> {
  const loc = (await req(base, 'POST', `/v2/${repo}/blobs/uploads/`)).headers.get('location')!;
  const step = Math.ceil(data.length / 3);
  for (let off = 0; off < data.length; off += step) {
    const chunk = data.subarray(off, off + step);
    const p = await req(base, 'PATCH', loc, { body: chunk, headers: { 'Content-Range': `${off}-${off + chunk.length - 1}` } });
    assert.equal(p.status, 202, p.text());
  }
  const d = sha(data);
  const put = await req(base, 'PUT', `${loc}?digest=${d}`);
  assert.equal(put.status, 201, put.text());
  return d;
}

describe('gc racing pushes', () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(async () => {
    await r?.cleanup();
  });

  it('never breaks a pushed image', { timeout: 240_000 }, async () => {
    const base = r.url;
    // Base layers every worker mounts from.
    const baseLayers = [randomBytes(20_000), randomBytes(30_000)];
    for (const l of baseLayers) await pushBlob(base, 'race/base', l);
    const baseConfig = Buffer.from('{"os":"linux","base":true}');
    await pushBlob(base, 'race/base', baseConfig);

    const done: Image[] = []; // finished pushes that stay tagged
    let cleanFailures = 0;
    let stop = false;
    const readerErrors: string[] = [];

    const manifestFor = (config: Buffer, layers: Buffer[]) =>
      Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
      }));

    const baseManifest = manifestFor(baseConfig, baseLayers);
    assert.equal((await req(base, 'PUT', '/v2/race/base/manifests/latest', { body: baseManifest, headers: { 'Content-Type': OCI_MANIFEST } })).status, 201);

    /** Pushes one image's blobs and manifest; undefined after a clean MANIFEST_BLOB_UNKNOWN. */
    const pushOnce = async (repo: string, ref: string, config: Buffer, unique: Buffer[], w: number, k: number): Promise<string | undefined> => {
      const layers = [baseLayers[k % 2]!, ...unique];
      const m = await req(base, 'POST', `/v2/${repo}/blobs/uploads/?mount=${sha(layers[0]!)}&from=race/base`);
      if (m.status === 202) await pushBlob(base, repo, layers[0]!); // not mountable (cannot happen here, but a client would do this)
      await pushBlob(base, repo, config);
      for (const [i, l] of unique.entries()) {
        if ((w + k + i) % 2) await pushChunked(base, repo, l);
        else await pushBlob(base, repo, l);
      }
      if ((w + k) % 3 === 0) await sleep(Math.random() * 30); // widen the window between blobs and manifest
      const body = manifestFor(config, layers);
      const put = await req(base, 'PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
      if (put.status === 201) return sha(body);
      assert.equal(put.code(), 'MANIFEST_BLOB_UNKNOWN', `a failed push must fail cleanly: ${put.status} ${put.text()}`);
      cleanFailures++;
      return undefined;
    };

    const pushImage = async (repo: string, tag: string, w: number, k: number): Promise<string> => {
      const config = Buffer.from(JSON.stringify({ os: 'linux', w, k, n: randomBytes(4).toString('hex') }));
      const unique = [randomBytes(1000 + Math.floor(Math.random() * 60_000))];
      for (let attempt = 0; attempt < 50; attempt++) {
        const d = await pushOnce(repo, tag, config, unique, w, k);
        if (d) return d;
      }
      throw new Error(`${repo}:${tag} could not be pushed in 50 attempts`);
    };

    const pushIndex = async (repo: string, tag: string, w: number, k: number): Promise<string> => {
      // Children by digest (untagged), then the index by tag.
      for (let attempt = 0; attempt < 50; attempt++) {
        const kids: Buffer[] = [];
        let ok = true;
        for (let c = 0; c < 2 && ok; c++) {
          const config = Buffer.from(JSON.stringify({ os: 'linux', child: c, n: randomBytes(4).toString('hex') }));
          const layer = randomBytes(2000);
          await pushBlob(base, repo, config);
          await pushBlob(base, repo, layer);
          await req(base, 'POST', `/v2/${repo}/blobs/uploads/?mount=${sha(baseLayers[c]!)}&from=race/base`);
          const body = manifestFor(config, [baseLayers[c]!, layer]);
          const put = await req(base, 'PUT', `/v2/${repo}/manifests/${sha(body)}`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
          if (put.status !== 201) {
            assert.equal(put.code(), 'MANIFEST_BLOB_UNKNOWN', put.text());
            cleanFailures++;
            ok = false;
          }
          kids.push(body);
        }
        if (!ok) continue;
        await sleep(Math.random() * 20);
        const index = Buffer.from(JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: kids.map((b, i) => ({ mediaType: OCI_MANIFEST, digest: sha(b), size: b.length, platform: { os: 'linux', architecture: i ? 'arm64' : 'amd64' } })),
        }));
        const put = await req(base, 'PUT', `/v2/${repo}/manifests/${tag}`, { body: index, headers: { 'Content-Type': OCI_INDEX } });
        if (put.status === 201) return sha(index);
        assert.equal(put.code(), 'MANIFEST_BLOB_UNKNOWN', put.text());
        cleanFailures++;
      }
      throw new Error(`${repo}:${tag} (index) could not be pushed in 50 attempts`);
    };

    const worker = async (w: number) => {
      const repo = `race/w${w}`;
      for (let k = 0; k < IMAGES_PER_WORKER; k++) {
        const tag = `t${k}`;
        const digest = k % 4 === 3 ? await pushIndex(repo, tag, w, k) : await pushImage(repo, tag, w, k);
        // Every third image is untagged again later: garbage for the collectors.
        if (k % 3 === 1) {
          await sleep(Math.random() * 10);
          assert.equal((await req(base, 'DELETE', `/v2/${repo}/manifests/${tag}`)).status, 202);
        } else done.push({ repo, tag, digest });
      }
    };

    const reader = async () => {
      while (!stop) {
        const img = done[Math.floor(Math.random() * done.length)];
        if (img) {
          try {
            await verifyImage(base, img);
          } catch (e) {
            readerErrors.push((e as Error).message);
          }
        }
        await sleep(2);
      }
    };

    // Collector 1: in this process, on the server's store, no grace.
    const reports: GcReport[] = [];
    const inProcess = (async () => {
      for (let i = 0; !stop; i++) {
        reports.push(await collectGarbage(r.store, { graceMs: 0, deleteUntagged: i % 2 === 0 }));
        await sleep(Math.random() * 120);
      }
    })();

    // Collector 2: another process on the same root.
    const stopFile = join(r.root, 'stop-gc');
    const script = `
      import { collectGarbage } from ${JSON.stringify(GC_MODULE)};
      import { existsSync } from 'node:fs';
      let runs = 0, blobs = 0;
      while (!existsSync(${JSON.stringify(stopFile)})) {
        const rep = await collectGarbage(${JSON.stringify(r.root)}, { graceMs: 0, deleteUntagged: runs % 2 === 1 });
        runs++; blobs += rep.blobsDeleted.length;
        await new Promise((r) => setTimeout(r, Math.random() * 120));
      }
      process.stdout.write(JSON.stringify({ runs, blobs }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let childOut = '';
    let childErr = '';
    child.stdout.on('data', (b) => (childOut += b));
    child.stderr.on('data', (b) => (childErr += b));
    const childExit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));

    const readers = [reader(), reader()];
    try {
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    } finally {
      stop = true;
      writeFileSync(stopFile, '');
      await Promise.all([inProcess, ...readers]);
    }
    assert.equal(await childExit, 0, childErr);
    const childStats = JSON.parse(childOut) as { runs: number; blobs: number };

    // A last collection with everything settled, then every image is whole.
    reports.push(await collectGarbage(r.store, { graceMs: 0, deleteUntagged: true }));
    for (const img of done) await verifyImage(base, img);

    assert.deepEqual(readerErrors, [], 'readers never saw a broken image');
    const deleted = reports.reduce((a, rep) => a + rep.blobsDeleted.length, 0) + childStats.blobs;
    assert.ok(deleted > 0, 'the collectors did collect something');
    assert.ok(reports.length > 5 && childStats.runs > 5, `collections ran throughout (${reports.length} here, ${childStats.runs} there)`);
    assert.equal(done.length, WORKERS * (IMAGES_PER_WORKER - Math.ceil((IMAGES_PER_WORKER - 1) / 3)));
    assert.ok(!existsSync(join(r.root, 'gc', 'trash')) || (await import('node:fs')).readdirSync(join(r.root, 'gc', 'trash')).length === 0);
    // For the report: how often a push had to be retried.
    console.log(`gc race: ${done.length} images kept, ${deleted} blobs collected in ${reports.length}+${childStats.runs} collections, ${cleanFailures} clean push failures retried`);
  });
});
