import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { EngineError } from '../base/errdefs.js';
import { applyLayer } from './apply.js';
import { compressGzip, decompress, detectCompression } from './compression.js';
import { collect, makeTar, streamOf, tempDir } from './fixtures.test.js';

const isInvalid = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
  assert.equal(e.kind, 'invalid');
  assert.match(e.message, re);
  return true;
};

const zstd = (input: Buffer, ...args: string[]): Buffer => {
  const r = spawnSync('zstd', ['-q', '-c', ...args], { input, maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
};

describe('compression', () => {
  let data: Buffer;
  before(() => {
    // Compressible but not trivial: random words.
    const words = Array.from({ length: 512 }, () => randomBytes(6).toString('hex'));
    data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => words[(i * 7919) % words.length]).join(' '));
  });

  it('detects formats by magic number', () => {
    assert.equal(detectCompression(gzipSync(Buffer.from('x'))), 'gzip');
    assert.equal(detectCompression(zstd(Buffer.from('x'))), 'zstd');
    assert.equal(detectCompression(Buffer.from('plain tar header')), 'none');
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
    assert.equal(detectCompression(Buffer.from('BZh-not-really')), 'none', 'a tar whose first file is named BZh...');
    assert.throws(() => detectCompression(Buffer.from('BZh91AY&SY....')), isInvalid(/bzip2.*only gzip, zstd or uncompressed/));
    assert.throws(() => detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0])), isInvalid(/xz/));
  });

  it('passes plain data through, short or empty', async () => {
    assert.deepEqual(await collect(await decompress(streamOf(data, 1000))), data);
    assert.deepEqual(await collect(await decompress(streamOf(Buffer.from('abc')))), Buffer.from('abc'));
    assert.deepEqual(await collect(await decompress(Readable.from([], { objectMode: false }))), Buffer.alloc(0));
    // Magic split over several tiny chunks.
    const gz = gzipSync(data);
    assert.deepEqual(await collect(await decompress(streamOf(gz, 1))).then((b) => b.length), data.length);
  });

  it('round-trips gzip', async () => {
    const gz = await collect(compressGzip(streamOf(data)));
    assert.equal(detectCompression(gz), 'gzip');
    assert.ok(gz.length < data.length / 2);
    assert.deepEqual(await collect(await decompress(streamOf(gz))), data);
  });

  it('decompresses zstd through zstd(1)', async () => {
    assert.deepEqual(await collect(await decompress(streamOf(zstd(data)))), data);
  });

  it('keeps bytes that a progress listener sees flowing', async () => {
    const src = streamOf(gzipSync(data), 4096);
    let seen = 0;
    src.on('data', (c: Buffer) => (seen += c.length));
    assert.deepEqual(await collect(await decompress(src)), data);
    assert.equal(seen, gzipSync(data).length);
  });

  it('fails clearly on truncated or corrupt gzip', async () => {
    const gz = gzipSync(randomBytes(1 << 20));
    await assert.rejects(decompress(streamOf(gz.subarray(0, gz.length - 1000))).then(collect), isInvalid(/gzip layer is truncated/));
    const bad = Buffer.from(gz);
    bad.fill(0xaa, 100, 200);
    await assert.rejects(decompress(streamOf(bad)).then(collect), isInvalid(/gzip layer is corrupt/));
  });

  it('fails clearly on truncated or corrupt zstd, even when zstd has written output', async () => {
    const z = zstd(data);
    await assert.rejects(decompress(streamOf(z.subarray(0, z.length - 100))).then(collect), isInvalid(/zstd layer is corrupt or truncated/));
    const bad = Buffer.from(z);
    bad.fill(0x55, 50, 150);
    await assert.rejects(decompress(streamOf(bad)).then(collect), isInvalid(/zstd layer is corrupt or truncated/));
  });

  it('refuses bzip2 and xz layers', async () => {
    const src = streamOf(Buffer.from('BZh91AY&SY and the rest'));
    await assert.rejects(decompress(src), isInvalid(/bzip2/));
    assert.ok(src.destroyed);
  });

  it('passes on errors of the source', async () => {
    const src = new Readable({ read() {} });
    src.push(gzipSync(data).subarray(0, 100));
    const out = await decompress(src);
    setImmediate(() => src.destroy(new Error('connection reset')));
    await assert.rejects(collect(out), /connection reset/);
  });

  it('stops zstd when the reader gives up', async () => {
    const out = await decompress(streamOf(zstd(data)));
    for await (const _ of out) break; // destroys out
    assert.ok(out.destroyed);
  });
});

describe('decompress + applyLayer', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    t = await tempDir();
  });
  after(() => t?.remove());

  for (const kind of ['gzip', 'zstd'] as const) {
    it(`applies a ${kind} layer; the diffID is of the uncompressed tar`, async () => {
      const tar = await makeTar([{ name: 'etc/os-release', data: 'ID=pier\n' }, { name: 'bin/', type: 'directory' }]);
      const blob = kind === 'gzip' ? gzipSync(tar) : zstd(tar);
      const root = join(t.dir, kind);
      fs.mkdirSync(root);
      const r = await applyLayer(root, await decompress(streamOf(blob)));
      assert.equal(r.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
      assert.equal(r.size, tar.length);
      assert.equal(fs.readFileSync(join(root, 'etc/os-release'), 'utf8'), 'ID=pier\n');
    });
  }

  it('stops a gzip bomb at the byte limit', async () => {
    const tar = await makeTar([{ name: 'zeros', data: Buffer.alloc(64 << 20) }]);
    const bomb = gzipSync(tar, { level: 9 });
    assert.ok(bomb.length < 1 << 20);
    const root = join(t.dir, 'bomb');
    fs.mkdirSync(root);
    await assert.rejects(applyLayer(root, await decompress(streamOf(bomb)), { limits: { maxBytes: 4 << 20 } }), isInvalid(/layer exceeds 4194304 bytes/));
  });

  it('reports a truncated gzip layer as invalid', async () => {
    const tar = await makeTar([{ name: 'f', data: randomBytes(300_000) }]);
    const gz = gzipSync(tar);
    const root = join(t.dir, 'trunc');
    fs.mkdirSync(root);
    await assert.rejects(applyLayer(root, await decompress(streamOf(gz.subarray(0, gz.length - 5000)))), isInvalid(/truncated|Unexpected end/));
  });
});

describe('adaptive gzip', () => {
  const gz = async (data: Buffer) => Buffer.concat(await collectAll(compressGzip(Readable.from(chunksOf(data)), { adaptive: true })));
  async function collectAll(r: Readable): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const c of r) out.push(c as Buffer);
    return out;
  }
  function* chunksOf(b: Buffer) {
    for (let i = 0; i < b.length; i += 1 << 20) yield b.subarray(i, i + (1 << 20));
  }
  const text = (n: number) => Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(Math.ceil(n / 44)).slice(0, n));

  it('round-trips mixed content across many windows, as a stream gzip(1) accepts', async () => {
    const data = Buffer.concat([randomBytes(5 << 20), text(9 << 20), randomBytes(3 << 20), text(123)]);
    const out = await gz(data);
    const back = Buffer.concat(await collectAll(await decompress(Readable.from([out]))));
    assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(data).digest('hex'));
    const t = spawnSync('gzip', ['-t'], { input: out });
    assert.equal(t.status, 0, t.stderr.toString());
  });

  it('compresses what compresses and stores what does not', async () => {
    const t = text(8 << 20);
    assert.ok((await gz(t)).length < t.length / 20, 'text shrinks');
    const r = randomBytes(8 << 20);
    const out = await gz(r);
    assert.ok(out.length <= r.length + 4096 && out.length > r.length, `random data is stored: ${out.length} for ${r.length}`);
  });

  it('gives a valid empty gzip for empty input', async () => {
    const out = await gz(Buffer.alloc(0));
    assert.equal(Buffer.concat(await collectAll(await decompress(Readable.from([out])))).length, 0);
    assert.equal(spawnSync('gzip', ['-t'], { input: out }).status, 0);
  });
});
