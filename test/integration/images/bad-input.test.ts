/**
 * Crafted archives for load and import: each is refused with a clear message,
 * nothing is written outside the data root, nothing half-made stays, and the
 * daemon stays up.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { tarOf, dockerArchive, sha } from '../../harness/tars.js';

describe('bad input to load and import', () => {
  let d: TestDaemon;
  let outside: string; // a sentinel directory beside the data root that no archive may touch
  before(async () => {
    d = await startDaemon({ config: { 'max-layer-size': 8 * 1024 * 1024 } });
    outside = join(d.root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'sentinel'), 'untouched');
  });
  after(async () => {
    await d?.cleanup();
  });

  const stillUp = async () => assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200);
  const outsideUntouched = () => {
    assert.deepEqual(readdirSync(outside), ['sentinel']);
    assert.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), 'untouched');
  };
  const imageCount = async () => (await api(d.sock, 'GET', '/images/json?all=1')).json().length;

  async function load(buf: Buffer): Promise<string> {
    const r = await api(d.sock, 'POST', '/images/load', buf);
    assert.equal(r.status, 200);
    const err = r.messages().find((m) => m.error);
    assert.ok(err, `expected an error, got ${r.text()}`);
    assert.equal(err.errorDetail.message, err.error);
    return err.error as string;
  }

  async function importTar(buf: Buffer): Promise<string> {
    const r = await api(d.sock, 'POST', '/images/create?fromSrc=-&repo=bad/import', buf);
    const err = r.messages().find((m) => m.error);
    assert.ok(err, `expected an error, got ${r.text()}`);
    return err.error as string;
  }

  async function refusedLayer(entries: Parameters<typeof tarOf>[0], pattern: RegExp) {
    const before = await imageCount();
    const layer = await tarOf(entries);
    const { tar } = await dockerArchive({ layers: [layer], repoTags: ['bad/layer:1'] });
    assert.match(await load(tar), pattern);
    assert.match(await importTar(layer), pattern);
    assert.equal(await imageCount(), before, 'no image is left behind');
    outsideUntouched();
    await stillUp();
  }

  it('refuses a layer entry that climbs out with ../', async () => {
    await refusedLayer([{ name: '../../outside/evil', content: 'x' }], /escape|outside|breakout|\.\./i);
  });

  it('keeps absolute entry paths inside the layer root', async () => {
    // Docker strips the leading slash: /outside/evil lands in the image, never on the host.
    const layer = await tarOf([{ name: join(d.root, 'outside', 'abs'), content: 'x' }]);
    const r = await api(d.sock, 'POST', '/images/create?fromSrc=-&repo=bad/abs', layer);
    assert.ok(!r.messages().some((m) => m.error), r.text());
    assert.equal((await api(d.sock, 'GET', '/images/bad/abs/json')).status, 200);
    outsideUntouched();
    await stillUp();
  });

  it('refuses writing through a symlink that climbs out of the layer', async () => {
    await refusedLayer(
      [
        { name: 'link', type: 'symlink', linkname: '../../../../../../../..' + outside },
        { name: 'link/evil', content: 'x' },
      ],
      /symlink|escape|outside|breakout/i,
    );
  });

  it('resolves an absolute symlink inside the image, never on the host', async () => {
    // As in Docker (which extracts in a chroot), /abs/path in a symlink means the image's /abs/path.
    const layer = await tarOf([
      { name: 'link', type: 'symlink', linkname: outside },
      { name: 'link/evil', content: 'contained' },
    ]);
    const r = await api(d.sock, 'POST', '/images/create?fromSrc=-&repo=bad/abslink', layer);
    const err = r.messages().find((m) => m.error);
    // Either refused or contained; never written to the host's directory.
    if (!err) assert.equal((await api(d.sock, 'GET', '/images/bad/abslink/json')).status, 200);
    else assert.match(err.error, /symlink|escape|outside|breakout/i);
    outsideUntouched();
    await stillUp();
  });

  it('refuses a hardlink to a host path', async () => {
    await refusedLayer([{ name: 'hl', type: 'link', linkname: join(outside, 'sentinel') }], /link|escape|outside|breakout/i);
    await refusedLayer([{ name: 'hl', type: 'link', linkname: '../../outside/sentinel' }], /link|escape|outside|breakout/i);
  });

  it('refuses a layer whose digest differs from the config', async () => {
    const layer = await tarOf([{ name: 'a', content: 'a' }]);
    const { tar } = await dockerArchive({ layers: [layer], diffIds: [sha('something else')] });
    assert.match(await load(tar), /diff ID|digest|does not match/i);
    await stillUp();
  });

  it('refuses a blob whose name is not its digest', async () => {
    const layer = await tarOf([{ name: 'a', content: 'a' }]);
    const fake = 'sha256:' + 'ab'.repeat(32);
    const { tar } = await dockerArchive({
      layers: [],
      manifestJson: JSON.stringify([{ Config: `blobs/sha256/${fake.slice(7)}`, RepoTags: ['bad/tamper:1'], Layers: [] }]),
      extra: [{ name: `blobs/sha256/${fake.slice(7)}`, content: layer }],
    });
    assert.match(await load(tar), /digest/);
    await stillUp();
  });

  it('refuses a manifest naming missing files', async () => {
    const layer = await tarOf([{ name: 'a', content: 'a' }]);
    const { tar } = await dockerArchive({ layers: [layer], omit: `blobs/sha256/${sha(layer).slice(7)}` });
    assert.match(await load(tar), /missing from the archive/);
    const noManifest = await tarOf([{ name: 'hello.txt', content: 'hi' }]);
    assert.match(await load(noManifest), /no manifest.json or index.json/);
    const badJson = await dockerArchive({ layers: [], manifestJson: '{oops' });
    assert.match(await load(badJson.tar), /not valid JSON/);
    await stillUp();
  });

  it('refuses a truncated gzip', async () => {
    const layer = await tarOf([{ name: 'a', content: 'a'.repeat(100000) }]);
    const { tar } = await dockerArchive({ layers: [layer] });
    const gz = gzipSync(tar);
    assert.match(await load(gz.subarray(0, gz.length - 200)), /unexpected end|truncated|invalid archive/i);
    const gzLayer = gzipSync(layer);
    assert.match(await importTar(gzLayer.subarray(0, gzLayer.length - 10)), /unexpected end|truncated|invalid/i);
    await stillUp();
  });

  it('stops a decompression bomb at the layer size limit', async () => {
    // 64 MiB of zeros gzip to ~64 KiB; the daemon's limit here is 8 MiB.
    const big = await tarOf([{ name: 'zeros', content: Buffer.alloc(64 * 1024 * 1024) }]);
    const bomb = gzipSync(big);
    assert.ok(bomb.length < 1024 * 1024);
    const before = await imageCount();
    assert.match(await importTar(bomb), /exceeds|limit/i);
    assert.equal(await imageCount(), before);
    // No extraction directory or ingest file is left behind.
    const ingest = join(d.dataRoot, 'content', 'ingest');
    assert.deepEqual(existsSync(ingest) ? readdirSync(ingest) : [], []);
    await stillUp();
  });
});
