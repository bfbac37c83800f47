/**
 * Garbage collection on a store in a temp dir: what is marked, what is swept,
 * dry runs, the grace period, crash recovery, and the collector protocol of
 * gc.ts driven deterministically through the store's afterHold seam.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, readdirSync, statSync, utimesSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../base/digest.js';
import { MediaType } from '../image/oci.js';
import { RegistryError } from './errors.js';
import { collectGarbage } from './gc.js';
import { RegistryStore, type StoreOptions } from './storage.js';

const sha = (b: Buffer | string): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Sets every file's mtime two hours back: "old" to any collection with the default grace or less. */
function backdate(dir: string, skip = ['gc', 'tmp']): void {
  const past = new Date(Date.now() - 2 * 3600_000);
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (d === dir && skip.includes(n)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else utimesSync(p, past, past);
    }
  };
  walk(dir);
}

async function putBlob(store: RegistryStore, repo: string, data: Buffer | string): Promise<Digest> {
  const tmp = store.tmpPath();
  writeFileSync(tmp, data);
  const d = sha(data);
  await store.commitBlob(repo, tmp, d);
  return d;
}

interface Img {
  digest: Digest;
  body: Buffer;
  blobs: Digest[];
}

async function putImage(store: RegistryStore, repo: string, tag: string | undefined, layers: Buffer[] = [randomBytes(64)], extra: Record<string, unknown> = {}): Promise<Img> {
  const config = Buffer.from(JSON.stringify({ os: 'linux', n: randomBytes(4).toString('hex') }));
  const blobs = [await putBlob(store, repo, config)];
  for (const l of layers) blobs.push(await putBlob(store, repo, l));
  const body = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: blobs[0], size: config.length },
    layers: layers.map((l, i) => ({ mediaType: MediaType.OciLayer, digest: blobs[i + 1], size: l.length })),
    ...extra,
  }));
  const ref = tag ? { tag } : { digest: sha(body) };
  const { digest } = await store.putManifest(repo, ref, body, MediaType.OciManifest);
  return { digest, body, blobs };
}

describe('registry gc', () => {
  let root: string;
  let store: RegistryStore;
  const open = async (o: StoreOptions = {}) => (store = await RegistryStore.open(root, o));
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'pier-gc-'));
    await open();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const blobExists = (d: Digest) => existsSync(store.blobPath(d));
  const servable = async (repo: string, d: Digest) => (await store.blobSize(repo, d)) !== undefined;

  it('a dry run reports what a real run deletes, and deletes nothing', async () => {
    const keep = await putImage(store, 'app', 'v1');
    const untagged = await putImage(store, 'app', undefined);
    const orphan = await putBlob(store, 'app', 'orphan');
    backdate(root);

    const dry = await collectGarbage(store, { dryRun: true, deleteUntagged: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.manifestsDeleted, [{ repo: 'app', digest: untagged.digest }]);
    assert.deepEqual(new Set(dry.blobsDeleted), new Set([orphan, untagged.digest, ...untagged.blobs]));
    for (const d of [orphan, untagged.digest, ...untagged.blobs, keep.digest, ...keep.blobs]) assert.ok(blobExists(d));
    assert.ok(await store.hasManifest('app', untagged.digest));

    const real = await collectGarbage(store, { deleteUntagged: true });
    assert.deepEqual(new Set(real.blobsDeleted), new Set(dry.blobsDeleted));
    assert.deepEqual(real.manifestsDeleted, dry.manifestsDeleted);
    assert.ok(real.bytesFreed > 0);
    for (const d of [orphan, untagged.digest, ...untagged.blobs]) assert.ok(!blobExists(d));
    assert.ok(!(await store.hasManifest('app', untagged.digest)));
    for (const d of keep.blobs) assert.ok(await servable('app', d));
    assert.ok(await store.getManifest('app', { tag: 'v1' }));
    // The deleted blobs' repository links went with them.
    assert.ok(!(await servable('app', orphan)));
    assert.ok(!existsSync(store.layerLink('app', orphan)));
  });

  it('without deleteUntagged, untagged manifests and all they reach stay', async () => {
    const untagged = await putImage(store, 'app', undefined);
    const orphan = await putBlob(store, 'app', 'orphan');
    backdate(root);
    const r = await collectGarbage(store, {});
    assert.deepEqual(r.blobsDeleted, [orphan]);
    assert.deepEqual(r.manifestsDeleted, []);
    for (const d of [untagged.digest, ...untagged.blobs]) assert.ok(blobExists(d));
  });

  it('keeps layers shared with a kept image, index children, and referrers of kept manifests', async () => {
    const shared = randomBytes(100);
    const a = await putImage(store, 'a', 'v1', [shared]);
    const b = await putImage(store, 'b', undefined, [shared, randomBytes(50)]);
    // An index in c over two untagged children.
    const c1 = await putImage(store, 'c', undefined);
    const c2 = await putImage(store, 'c', undefined);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [c1, c2].map((m) => ({ mediaType: MediaType.OciManifest, digest: m.digest, size: m.body.length })),
    }));
    await store.putManifest('c', { tag: 'multi' }, index, MediaType.OciIndex);
    // A signature (untagged) whose subject is a's tagged manifest, and one whose subject is untagged b.
    const sigA = await putImage(store, 'a', undefined, [Buffer.from('sig-a')], {
      artifactType: 'application/vnd.example.sig', subject: { mediaType: MediaType.OciManifest, digest: a.digest, size: 1 },
    });
    await putBlob(store, 'b', 'x');
    const sigB = await putImage(store, 'b', undefined, [Buffer.from('sig-b')], {
      artifactType: 'application/vnd.example.sig', subject: { mediaType: MediaType.OciManifest, digest: b.digest, size: 1 },
    });
    backdate(root);

    const r = await collectGarbage(store, { deleteUntagged: true });
    assert.ok(await servable('a', sha(shared)), 'shared layer kept for a');
    for (const m of [c1, c2]) for (const d of [m.digest, ...m.blobs]) assert.ok(blobExists(d), 'index children kept');
    for (const d of [sigA.digest, ...sigA.blobs]) assert.ok(blobExists(d), 'referrer of a kept manifest kept');
    assert.deepEqual((await store.referrers('a', a.digest)).map((x) => x.digest), [sigA.digest]);
    const gone = new Set(r.manifestsDeleted.map((m) => m.digest));
    assert.ok(gone.has(b.digest) && gone.has(sigB.digest));
    assert.ok(!blobExists(b.blobs[2]!));
    assert.deepEqual(await store.referrers('b', b.digest), [], 'a deleted referrer leaves the listing');
  });

  it('never deletes what was written within the grace period', async () => {
    const orphan = await putBlob(store, 'app', 'fresh orphan');
    const untagged = await putImage(store, 'app', undefined);
    const r = await collectGarbage(store, { deleteUntagged: true, graceMs: 60_000 });
    assert.deepEqual(r.blobsDeleted, []);
    assert.deepEqual(r.manifestsDeleted, []);
    assert.ok(blobExists(orphan) && (await store.hasManifest('app', untagged.digest)));
    // Once older than the grace, they go.
    backdate(root);
    const r2 = await collectGarbage(store, { deleteUntagged: true, graceMs: 60_000 });
    assert.ok(r2.blobsDeleted.includes(orphan));
    assert.deepEqual(r2.manifestsDeleted, [{ repo: 'app', digest: untagged.digest }]);
  });

  it('a manifest PUT that a whole collection overlaps, and whose blobs it deleted, fails cleanly', async () => {
    const a = await putImage(store, 'app', undefined);
    const layer = Buffer.from('layer pushed, manifest not yet');
    const orphanLayer = await putBlob(store, 'app', layer);
    const config = Buffer.from('{"os":"linux"}');
    const cfg = await putBlob(store, 'app', config);
    backdate(root);
    let ran = 0;
    await open({
      afterHold: async () => {
        // The PUT stalled past the grace after touching its blobs: they look old again…
        backdate(root);
        // …and a complete collection runs between its touches and its write.
        const r = await collectGarbage(root, { deleteUntagged: true, graceMs: 0 });
        ran++;
        assert.ok(r.blobsDeleted.includes(orphanLayer));
      },
    });
    const body = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfg, size: config.length },
      layers: [{ mediaType: MediaType.OciLayer, digest: orphanLayer, size: layer.length }],
    }));
    await assert.rejects(
      () => store.putManifest('app', { tag: 'late' }, body, MediaType.OciManifest),
      (e) => e instanceof RegistryError && e.code === 'MANIFEST_BLOB_UNKNOWN',
    );
    assert.equal(ran, 1);
    assert.equal(await store.readTag('app', 'late'), undefined, 'the tag was taken back');
    assert.ok(!(await store.hasManifest('app', sha(body))), 'and the revision');
    assert.ok(!(await store.hasManifest('app', a.digest)), '(the old untagged image was collected)');
  });

  it('a manifest PUT that a collection overlaps succeeds when its blobs survived', async () => {
    const base = await putImage(store, 'app', 'base');
    backdate(root);
    await open({
      afterHold: async () => {
        backdate(root);
        await collectGarbage(root, { deleteUntagged: true, graceMs: 0 });
      },
    });
    const layers = base.blobs.slice(1);
    const body = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: base.blobs[0], size: statSync(store.blobPath(base.blobs[0]!)).size },
      layers: layers.map((d) => ({ mediaType: MediaType.OciLayer, digest: d, size: statSync(store.blobPath(d)).size })),
      annotations: { again: 'yes' },
    }));
    const { digest } = await store.putManifest('app', { tag: 'again' }, body, MediaType.OciManifest);
    assert.equal(await store.readTag('app', 'again'), digest);
    const got = await store.getManifest('app', { tag: 'again' });
    assert.ok(got?.body.equals(body));
  });

  it('files a crashed collector set aside are put back at the next open', async () => {
    const d = await putBlob(store, 'app', 'held by a dead collector');
    const held = join(root, 'gc', 'trash', 'abc');
    renameSync(store.blobPath(d), held);
    writeFileSync(`${held}.json`, JSON.stringify({ path: `blobs/sha256/${d.slice(7)}`, pid: 2 ** 22 + 1 }));
    assert.ok(!(await servable('app', d)));
    await open();
    assert.ok(await servable('app', d));
    assert.deepEqual(readdirSync(join(root, 'gc', 'trash')), []);
  });

  it('gc of an empty or missing root is a no-op', async () => {
    const r = await collectGarbage(store, { deleteUntagged: true, graceMs: 0 });
    assert.equal(r.repositories, 0);
    assert.deepEqual(r.blobsDeleted, []);
  });
});
