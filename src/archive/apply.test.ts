import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { sys } from '../base/sys.js';
import { applyLayer, cleanEntryName, decodePax } from './apply.js';
import { encodeHeader } from './diff.js';
import { makeTar, snapshotTree, streamOf, tempDir, type TarSpec } from './fixtures.test.js';

const apply = async (root: string, entries: TarSpec[] | Buffer, o?: Parameters<typeof applyLayer>[2]) =>
  applyLayer(root, streamOf(Buffer.isBuffer(entries) ? entries : await makeTar(entries)), o);

const isInvalid = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
  assert.equal(e.kind, 'invalid');
  assert.match(e.message, re);
  return true;
};

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('applyLayer', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  beforeEach(async () => {
    await t?.remove();
    t = await tempDir();
    root = join(t.dir, 'root');
    fs.mkdirSync(root);
  });
  after(() => t?.remove());

  it('extracts every entry type with its metadata and returns the diffID of the bytes read', async () => {
    const long = `${'deep/'.repeat(30)}file-with-a-long-name`;
    const tar = await makeTar([
      { name: 'dir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime: new Date(1_000_000_000_000) },
      { name: 'dir/file', data: 'hello', mode: 0o4755, uid: 1002, gid: 1003, mtime: new Date(1_100_000_000_000) },
      { name: 'dir/sgid', data: '', mode: 0o2711 },
      { name: 'sticky/', type: 'directory', mode: 0o1777 },
      // Docker applies a hardlink entry's metadata to the inode too: real tars repeat the file's.
      { name: 'dir/hard', type: 'link', linkname: 'dir/file', mode: 0o4755, uid: 1002, gid: 1003, mtime: new Date(1_100_000_000_000) },
      { name: 'sym', type: 'symlink', linkname: 'dir/file', mtime: new Date(1_200_000_000_000) },
      { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop', type: 'block-device', devmajor: 7, devminor: 200, mode: 0o660 },
      { name: 'fifo', type: 'fifo', mode: 0o600 },
      { name: long, data: 'deep' },
      { name: 'x', data: 'x', pax: { 'SCHILY.xattr.user.test': 'value', 'SCHILY.xattr.trusted.t': 'tv', uid: '3000000', gid: '3000001', mtime: '1300000000.5' } },
    ]);
    const r = await apply(root, tar);
    assert.equal(r.size, tar.length);
    assert.equal(r.diffId, sha256(tar));

    const snap = snapshotTree(root, { withDirTimes: true });
    assert.deepEqual(
      { ...snap['dir'], links: undefined },
      { type: 'dir', mode: 0o750, uid: 1000, gid: 1001, mtime: 1_000_000_000, xattrs: {}, links: undefined },
    );
    assert.equal(snap['dir/file']!.mode, 0o4755, 'setuid kept (chmod after chown)');
    assert.equal(snap['dir/file']!.uid, 1002);
    assert.equal(snap['dir/file']!.mtime, 1_100_000_000);
    assert.deepEqual(snap['dir/file']!.links, ['dir/file', 'dir/hard']);
    assert.equal(snap['dir/sgid']!.mode, 0o2711);
    assert.equal(snap['sticky']!.mode, 0o1777);
    assert.equal(snap['sym']!.target, 'dir/file');
    assert.equal(snap['sym']!.mtime, 1_200_000_000, 'symlink times via lutimes');
    assert.equal(snap['abs']!.target, '/etc/passwd');
    assert.equal(snap['dev/null']!.type, 'char');
    assert.equal(snap['dev/null']!.rdev, fs.statSync('/dev/null').rdev);
    assert.equal(snap['dev/loop']!.type, 'block');
    assert.equal(snap['fifo']!.type, 'fifo');
    assert.equal(fs.readFileSync(join(root, long), 'utf8'), 'deep');
    assert.deepEqual(snap['x']!.xattrs, { 'trusted.t': Buffer.from('tv').toString('hex'), 'user.test': Buffer.from('value').toString('hex') });
    assert.equal(snap['x']!.uid, 3_000_000, 'PAX uid');
    assert.equal(snap['x']!.gid, 3_000_001);
    assert.equal(fs.lstatSync(join(root, 'x')).mtimeMs, 1_300_000_000_500, 'PAX fractional mtime');
  });

  it('keeps binary xattr values byte for byte (PAX records are not text)', async () => {
    const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0x80, 0xc3, 0x28]);
    const tar = Buffer.concat([
      encodeHeader({ name: 'f', type: '0', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, xattrs: [['trusted.bin', value]] }),
      Buffer.alloc(1024),
    ]);
    await apply(root, tar);
    assert.deepEqual(sys().lgetxattr(join(root, 'f'), 'trusted.bin'), value);
  });

  it('drops overlayfs private xattrs', async () => {
    await apply(root, [{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': '1' } }]);
    assert.equal(sys().lgetxattr(join(root, 'd'), 'trusted.overlay.opaque'), null);
    assert.deepEqual(sys().lgetxattr(join(root, 'd'), 'user.ok'), Buffer.from('1'));
  });

  it('creates missing parents, merges a directory over a directory and replaces anything else', async () => {
    await apply(root, [
      { name: 'a/', type: 'directory', mode: 0o755 },
      { name: 'a/old', data: 'old' },
      { name: 'f', data: 'file' },
      { name: 'd/', type: 'directory' },
      { name: 'd/inner', data: 'x' },
      { name: 's', type: 'symlink', linkname: 'a' },
    ]);
    await apply(root, [
      { name: 'a/', type: 'directory', mode: 0o700, uid: 5 },
      { name: 'a/new', data: 'new' },
      { name: 'f/', type: 'directory' }, // dir over file
      { name: 'd', data: 'now a file' }, // file over non-empty dir
      { name: 's', data: 'symlink replaced' }, // file over symlink: never written through
      { name: 'implicit/parents/file', data: 'p' },
    ]);
    const snap = snapshotTree(root);
    assert.deepEqual(fs.readdirSync(join(root, 'a')).sort(), ['new', 'old']);
    assert.equal(snap['a']!.mode, 0o700);
    assert.equal(snap['a']!.uid, 5);
    assert.equal(snap['f']!.type, 'dir');
    assert.equal(fs.readFileSync(join(root, 'd'), 'utf8'), 'now a file');
    assert.equal(snap['s']!.type, 'file');
    assert.equal(snap['implicit']!.mode, 0o755);
    assert.equal(fs.readFileSync(join(root, 'implicit/parents/file'), 'utf8'), 'p');
  });

  it('links within the layer and to lower layers, rooted or not; a self-link is a no-op', async () => {
    await apply(root, [{ name: 'lower', data: 'l' }]);
    await apply(root, [
      { name: 'mine', data: 'm' },
      { name: 'l1', type: 'link', linkname: '/lower' },
      { name: 'm1', type: 'link', linkname: './mine' },
      { name: 'mine', type: 'link', linkname: 'mine' },
    ]);
    assert.equal(fs.statSync(join(root, 'lower')).nlink, 2);
    assert.equal(fs.statSync(join(root, 'mine')).nlink, 2);
    assert.equal(fs.readFileSync(join(root, 'mine'), 'utf8'), 'm');
  });

  it('applies the root directory entry to the root itself', async () => {
    await apply(root, [{ name: './', type: 'directory', mode: 0o711 }, { name: './x', data: '' }]);
    assert.equal(fs.statSync(root).mode & 0o7777, 0o711);
  });

  it('follows whiteouts and opaque markers for lower layers only', async () => {
    await apply(root, [
      { name: 'a/', type: 'directory' },
      { name: 'a/x', data: 'x' },
      { name: 'a/y', data: 'y' },
      { name: 'b/', type: 'directory' },
      { name: 'b/p', data: 'p' },
      { name: 'b/sub/deep', data: 'deep' },
      { name: 'c/', type: 'directory' },
      { name: 'c/inside', data: '' },
      { name: 'link', type: 'symlink', linkname: 'a' },
      { name: 'keep', data: 'keep' },
    ]);
    await apply(root, [
      { name: '.wh.c', data: '' }, // directory, recursively
      { name: 'a/.wh.x', data: '' },
      { name: 'b/q', data: 'q' }, // this layer's, before the marker
      { name: 'b/.wh..wh..opq', data: '' },
      { name: 'b/r', data: 'r' }, // and after it
      { name: 'n/f', data: 'f' },
      { name: 'n/.wh.f', data: '' }, // a whiteout never hides its own layer's file
      { name: '.wh.link', data: '' }, // the symlink, not its target
      { name: '.wh.nothing', data: '' },
      { name: 'gone/.wh.x', data: '' }, // under a missing dir: nothing to do, nothing created
    ]);
    assert.deepEqual(fs.readdirSync(root).sort(), ['a', 'b', 'keep', 'n']);
    assert.deepEqual(fs.readdirSync(join(root, 'a')), ['y']);
    assert.deepEqual(fs.readdirSync(join(root, 'b')).sort(), ['q', 'r']);
    assert.deepEqual(fs.readdirSync(join(root, 'n')), ['f']);
  });

  it('keeps what this layer put below a whited-out or opaque directory, whatever the order', async () => {
    await apply(root, [{ name: 'd/old', data: '' }, { name: 'e/sub/old', data: '' }]);
    await apply(root, [
      { name: 'd/new', data: '' },
      { name: '.wh.d', data: '' },
      { name: 'e/sub/new', data: '' },
      { name: 'e/.wh..wh..opq', data: '' },
    ]);
    assert.deepEqual(fs.readdirSync(join(root, 'd')), ['new']);
    assert.deepEqual(fs.readdirSync(join(root, 'e/sub')), ['new']);
  });

  it('skips aufs metadata and refuses names under a whiteout', async () => {
    await apply(root, [{ name: '.wh..wh.plnk/', type: 'directory' }, { name: '.wh..wh.plnk/1.2', data: 'x' }, { name: '.wh..wh.aufs', data: '' }]);
    assert.deepEqual(fs.readdirSync(root), []);
    await assert.rejects(apply(root, [{ name: '.wh.x/y', data: '' }]), isInvalid(/a whiteout cannot have children/));
  });

  it('refuses unsupported entry types, garbage and truncated tars', async () => {
    const tar = await makeTar([{ name: 'f', data: Buffer.alloc(10_000, 1) }]);
    await assert.rejects(apply(root, tar.subarray(0, 2048)), isInvalid(/invalid layer tar: Unexpected end of data/));
    await assert.rejects(apply(root, Buffer.alloc(4096, 0x41)), isInvalid(/invalid layer tar: Invalid tar header/));
    const sparse = Buffer.from(tar);
    sparse[156] = 'S'.charCodeAt(0);
    let sum = 0;
    sparse.fill(0x20, 148, 156);
    for (const c of sparse.subarray(0, 512)) sum += c;
    sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await assert.rejects(apply(root, sparse), isInvalid(/unsupported entry type/));
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const src = new Readable({ read() {} });
    const p = applyLayer(root, src, { signal: ac.signal });
    src.push((await makeTar([{ name: 'a', data: 'a' }])).subarray(0, 1024));
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { name: 'AbortError' });
    assert.ok(src.destroyed);
  });

  it('cleans names like filepath.Clean', () => {
    assert.deepEqual(cleanEntryName('./a//b/./c/'), ['a', 'b', 'c']);
    assert.deepEqual(cleanEntryName('/../../x'), ['x']);
    assert.deepEqual(cleanEntryName('a/../b'), ['b']);
    assert.throws(() => cleanEntryName('a/../../x'), isInvalid(/path escapes the layer root/));
  });

  it('decodes PAX records byte-exactly and refuses malformed ones', () => {
    assert.deepEqual(decodePax(Buffer.from('11 path=ab\n')), { path: 'ab' });
    assert.throws(() => decodePax(Buffer.from('99 path=ab\n')), isInvalid(/malformed PAX/));
  });
});

/**
 * Every hostile layer runs against root with a sentinel directory beside it;
 * after each one, the parent holds only those two and the sentinel is exactly
 * as before.
 */
describe('applyLayer security', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let sentinel: string;
  let before_: ReturnType<typeof snapshotTree>;
  const hostEvil = '/etc/pier-archive-test-evil';

  beforeEach(async () => {
    await t?.remove();
    t = await tempDir();
    root = join(t.dir, 'root');
    sentinel = join(t.dir, 'sentinel');
    fs.mkdirSync(root);
    fs.mkdirSync(sentinel);
    fs.writeFileSync(join(sentinel, 'secret'), 'keep');
    fs.chmodSync(join(sentinel, 'secret'), 0o600);
    before_ = snapshotTree(sentinel, { withDirTimes: true });
  });
  const untouched = () => {
    assert.deepEqual(fs.readdirSync(t.dir).sort(), ['root', 'sentinel'], 'nothing created beside root');
    assert.deepEqual(snapshotTree(sentinel, { withDirTimes: true }), before_, 'sentinel unchanged');
    assert.equal(fs.statSync(join(sentinel, 'secret')).nlink, 1, 'nothing hardlinked to the sentinel');
    assert.equal(fs.existsSync(hostEvil), false, 'nothing written to host /etc');
  };
  after(async () => {
    fs.rmSync(hostEvil, { force: true });
    await t?.remove();
  });

  it('refuses names that climb out with ..', async () => {
    await assert.rejects(apply(root, [{ name: '../sentinel/evil', data: 'x' }]), isInvalid(/invalid tar entry "..\/sentinel\/evil": path escapes the layer root/));
    await assert.rejects(apply(root, [{ name: 'a/../../evil', data: 'x' }]), isInvalid(/path escapes the layer root/));
    await assert.rejects(apply(root, [{ name: '../.wh.sentinel', data: '' }]), isInvalid(/path escapes the layer root/));
    untouched();
  });

  it('keeps absolute names inside the root', async () => {
    await apply(root, [{ name: '/abs', data: 'x' }, { name: '/../../../rooted', data: 'y' }]);
    assert.deepEqual(fs.readdirSync(root).sort(), ['abs', 'rooted']);
    untouched();
  });

  it('resolves an absolute symlink in the path inside the root, like a chroot', async () => {
    await apply(root, [{ name: 'a', type: 'symlink', linkname: sentinel }, { name: 'e', type: 'symlink', linkname: '/etc' }]);
    await apply(root, [{ name: 'a/evil', data: 'x' }, { name: 'e/pier-archive-test-evil', data: 'x' }, { name: 'a/secret', data: 'overwritten?' }]);
    assert.equal(fs.readFileSync(join(root, sentinel, 'evil'), 'utf8'), 'x');
    assert.equal(fs.readFileSync(join(root, 'etc/pier-archive-test-evil'), 'utf8'), 'x');
    untouched();
  });

  it('refuses relative symlinks that climb out of the layer, like Docker', async () => {
    await assert.rejects(apply(root, [{ name: 'up', type: 'symlink', linkname: '../sentinel' }, { name: 'up/evil', data: 'x' }]), isInvalid(/invalid symlink "up" -> "..\/sentinel".*breakout/));
    await assert.rejects(apply(root, [{ name: 'deep/', type: 'directory' }, { name: 'deep/er', type: 'symlink', linkname: '../../x' }]), isInvalid(/breakout/));
    assert.ok(!fs.existsSync(join(root, 'up')));
    untouched();
  });

  it('stops relative symlinks with .. at the root when a lower layer already has one', async () => {
    // A link made by another tool (not through applyLayer) is still resolved inside the root.
    fs.symlinkSync('../sentinel', join(root, 'up'));
    fs.mkdirSync(join(root, 'deep'));
    fs.symlinkSync('../../../../../../..', join(root, 'deep/er'));
    await apply(root, [
      { name: 'up/evil', data: 'x' },
      { name: 'deep/er/sentinel/evil2', data: 'x' },
    ]);
    assert.ok(fs.existsSync(join(root, 'sentinel/evil')));
    assert.ok(fs.existsSync(join(root, 'sentinel/evil2')));
    untouched();
  });

  it('replaces an existing symlink rather than writing through it', async () => {
    await apply(root, [
      { name: 'f', type: 'symlink', linkname: join(sentinel, 'secret') },
      { name: 'd', type: 'symlink', linkname: sentinel },
    ]);
    await apply(root, [
      { name: 'f', data: 'x', mode: 0o777 },
      { name: 'd/', type: 'directory', mode: 0o777 },
    ]);
    assert.equal(fs.lstatSync(join(root, 'f')).isFile(), true);
    assert.equal(fs.lstatSync(join(root, 'd')).isDirectory(), true);
    untouched();
  });

  it('refuses hardlinks to anything outside the root', async () => {
    await assert.rejects(apply(root, [{ name: 'h', type: 'link', linkname: '../sentinel/secret' }]), isInvalid(/hardlink "h" -> "..\/sentinel\/secret".*escapes the layer root/));
    await assert.rejects(apply(root, [{ name: 'h', type: 'link', linkname: join(sentinel, 'secret') }]), isInvalid(/target does not exist/));
    await assert.rejects(
      apply(root, [{ name: 's', type: 'symlink', linkname: sentinel }, { name: 'h', type: 'link', linkname: 's/secret' }]),
      isInvalid(/target does not exist/),
    );
    await assert.rejects(apply(root, [{ name: 'h', type: 'link', linkname: '/' }]), isInvalid(/target is the layer root/));
    await assert.rejects(apply(root, [{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }]), isInvalid(/target is a directory/));
    untouched();
  });

  it('never chmods through a hardlink to a symlink', async () => {
    await apply(root, [
      { name: 's', type: 'symlink', linkname: join(sentinel, 'secret') },
      { name: 'h', type: 'link', linkname: 's', mode: 0o777 },
    ]);
    assert.equal(fs.lstatSync(join(root, 'h')).isSymbolicLink(), true);
    untouched();
  });

  it('refuses whiteouts that name their own directory, and never removes through symlinks', async () => {
    for (const name of ['.wh.', '.wh..', 'x/.wh...']) {
      await assert.rejects(apply(root, [{ name: 'x/', type: 'directory' }, { name, data: '' }]), isInvalid(/whiteout names no file/));
    }
    await apply(root, [{ name: 's', type: 'symlink', linkname: sentinel }]);
    fs.symlinkSync('../sentinel', join(root, 'r')); // as a lower layer made by another tool could have it
    await apply(root, [{ name: 's/.wh.secret', data: '' }, { name: 's/.wh..wh..opq', data: '' }, { name: 'r/.wh..wh..opq', data: '' }]);
    untouched();
  });

  it('refuses a non-directory in place of the root, and paths through files', async () => {
    await assert.rejects(apply(root, [{ name: '.', data: 'x' }]), isInvalid(/only a directory can stand for the layer root/));
    await assert.rejects(apply(root, [{ name: 'f', data: '' }, { name: 'f/x', data: '' }]), isInvalid(/"f" is not a directory/));
    untouched();
  });

  it('refuses symlink loops', async () => {
    await assert.rejects(
      apply(root, [{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, { name: 'a/x', data: '' }]),
      isInvalid(/too many levels of symbolic links/),
    );
    untouched();
  });

  it('stops at the byte limit (decompression bombs) and at the entry limit', async () => {
    const big = await makeTar([{ name: 'big', data: Buffer.alloc(1 << 20) }]);
    await assert.rejects(apply(root, big, { limits: { maxBytes: 100_000 } }), isInvalid(/^layer exceeds 100000 bytes$/));
    const many = await makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: '' })));
    await assert.rejects(apply(root, many, { limits: { maxEntries: 10 } }), isInvalid(/^layer exceeds 10 entries$/));
    assert.ok(fs.readdirSync(root).filter((n) => n.startsWith('f')).length <= 10);
    // An endless stream is cut off too.
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += 1 << 16;
        this.push(Buffer.alloc(1 << 16));
      },
    });
    await assert.rejects(applyLayer(root, endless, { limits: { maxBytes: 1 << 20 } }), isInvalid(/layer exceeds 1048576 bytes/));
    assert.ok(sent < 4 << 20, `stopped reading (read ${sent} bytes)`);
    untouched();
  });
});

describe('applyLayer throughput (timings only)', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    t = await tempDir();
  });
  after(() => t?.remove());

  it('one 100 MiB file', async (ctx) => {
    const size = 100 << 20;
    const tarPath = join(t.dir, 'big.tar');
    const fd = fs.openSync(tarPath, 'w');
    fs.writeSync(fd, encodeHeader({ name: 'big', type: '0', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 }));
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
    for (let i = 0; i < 100; i++) fs.writeSync(fd, chunk);
    fs.writeSync(fd, Buffer.alloc(1024));
    fs.closeSync(fd);
    const root = join(t.dir, 'big');
    fs.mkdirSync(root);
    const start = process.hrtime.bigint();
    const r = await applyLayer(root, fs.createReadStream(tarPath, { highWaterMark: 1 << 20 }));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(fs.statSync(join(root, 'big')).size, size);
    ctx.diagnostic(`apply 100 MiB single-file layer: ${ms.toFixed(0)} ms, ${((r.size / (1 << 20)) / (ms / 1000)).toFixed(0)} MiB/s`);
  });

  it('5000 small files', async (ctx) => {
    const entries: TarSpec[] = [];
    for (let d = 0; d < 50; d++) {
      entries.push({ name: `d${d}/`, type: 'directory' });
      for (let f = 0; f < 100; f++) entries.push({ name: `d${d}/f${f}`, data: Buffer.alloc(1024 + f, d) });
    }
    const tar = await makeTar(entries);
    const root = join(t.dir, 'small');
    fs.mkdirSync(root);
    const start = process.hrtime.bigint();
    await applyLayer(root, streamOf(tar));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(fs.readdirSync(join(root, 'd49')).length, 100);
    ctx.diagnostic(`apply 5000-file layer (${(tar.length / (1 << 20)).toFixed(1)} MiB): ${ms.toFixed(0)} ms, ${(5000 / (ms / 1000)).toFixed(0)} files/s`);
  });
});
