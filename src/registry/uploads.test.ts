import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Digest } from '../base/digest.js';
import { RegistryError } from './errors.js';
import { BlobIngest } from './ingest.js';
import { RegistryStore } from './storage.js';
import { Uploads } from './uploads.js';

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const code = (c: string) => (e: unknown) => e instanceof RegistryError && e.code === c;

describe('registry uploads', () => {
  let root: string;
  let store: RegistryStore;
  let uploads: Uploads;
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'pier-uploads-'));
    store = await RegistryStore.open(root);
    uploads = await Uploads.open(store, { ttlMs: 60_000, maxBlobBytes: 1000 });
  });
  afterEach(() => {
    uploads.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('appends in order, completes into a blob, and removes the session', async () => {
    const data = randomBytes(300);
    const s = await uploads.create('r');
    assert.equal(await uploads.append(s, Readable.from([data.subarray(0, 100)]), { start: 0, end: 99 }), 100);
    await assert.rejects(() => uploads.append(s, Readable.from([data.subarray(150)]), { start: 150, end: 299 }), (e) =>
      e instanceof RegistryError && e.code === 'RANGE_INVALID' && e.headers.Range === '0-99');
    assert.equal(await uploads.append(s, Readable.from([data.subarray(100)])), 300);
    await uploads.complete(s, sha(data));
    assert.equal(await store.blobSize('r', sha(data)), 300);
    assert.deepEqual(readdirSync(join(root, 'uploads')), []);
    assert.throws(() => uploads.get('r', s.id), code('BLOB_UPLOAD_UNKNOWN'));
  });

  it('completes an empty upload named by a sha512 digest', async () => {
    const s = await uploads.create('r');
    const empty: Digest = `sha512:${createHash('sha512').digest('hex')}`;
    await uploads.complete(s, empty);
    assert.equal(await store.blobSize('r', empty), 0);
    assert.deepEqual(readdirSync(join(root, 'uploads')), []);
  });

  it('a wrong digest drops the session and its bytes', async () => {
    const s = await uploads.create('r');
    await uploads.append(s, Readable.from([Buffer.from('abc')]));
    await assert.rejects(() => uploads.complete(s, sha(Buffer.from('abd'))), code('DIGEST_INVALID'));
    assert.deepEqual(readdirSync(join(root, 'uploads')), []);
    assert.deepEqual(readdirSync(join(root, 'blobs')), []);
  });

  it('refuses to grow past maxBlobBytes with 413 SIZE_INVALID, keeping what came before', async () => {
    const s = await uploads.create('r');
    await uploads.append(s, Readable.from([randomBytes(900)]));
    await assert.rejects(() => uploads.append(s, Readable.from([randomBytes(200)])), (e) => e instanceof RegistryError && e.code === 'SIZE_INVALID' && e.status === 413);
    assert.equal(await uploads.size(s), 900);
  });

  it('a stream that fails midway leaves file and hash agreeing on what arrived', async () => {
    const s = await uploads.create('r');
    const first = randomBytes(100);
    const failing = new Readable({ read() {} });
    const p = uploads.append(s, failing);
    failing.push(first);
    await new Promise((r) => setTimeout(r, 20));
    failing.destroy(new Error('client went away'));
    await assert.rejects(p, /client went away/);
    assert.equal(await uploads.size(s), 100);
    const rest = randomBytes(50);
    await uploads.append(s, Readable.from([rest]), { start: 100, end: 149 });
    await uploads.complete(s, sha(Buffer.concat([first, rest])));
  });

  it('sessions survive a restart (hash rebuilt from the file); idle ones expire at start and on sweep', async () => {
    const s = await uploads.create('r');
    const part = randomBytes(200);
    await uploads.append(s, Readable.from([part]));
    const idle = await uploads.create('r');
    uploads.stop();
    const past = new Date(Date.now() - 120_000);
    for (const f of ['data', 'info.json']) utimesSync(join(idle.dir, f), past, past);

    const again = await Uploads.open(store, { ttlMs: 60_000 });
    try {
      assert.ok(!existsSync(idle.dir), 'expired at start');
      const s2 = again.get('r', s.id);
      assert.equal(await again.size(s2), 200);
      const more = randomBytes(10);
      await again.append(s2, Readable.from([more]), { start: 200, end: 209 });
      await again.complete(s2, sha(Buffer.concat([part, more])));

      const old = await again.create('r');
      assert.equal(await again.sweep(Date.now() + 120_000), 1);
      assert.throws(() => again.get('r', old.id), code('BLOB_UPLOAD_UNKNOWN'));
    } finally {
      again.stop();
    }
  });

  it('sha512 digests are checked by reading the upload again', async () => {
    const data = randomBytes(64);
    const ingest = await BlobIngest.create(join(root, 'tmp', 'x'));
    await ingest.append(Readable.from([data]));
    assert.equal(await ingest.digest('sha512'), `sha512:${createHash('sha512').update(data).digest('hex')}`);
    assert.equal(await ingest.digest('sha256'), sha(data));
  });
});
