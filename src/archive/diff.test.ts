import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { sys } from '../base/sys.js';
import { applyLayer } from './apply.js';
import { ChangeKind, changes, writeDiff } from './diff.js';
import { collect, listTar, makeTar, setTime, snapshotTree, streamOf, tempDir } from './fixtures.test.js';

const { Modified, Added, Deleted } = ChangeKind;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// VFS_CAP_REVISION_2 with the effective bit, cap_net_raw permitted: what `setcap cap_net_raw+ep` writes.
const CAP_NET_RAW = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const BINARY = Buffer.from([0x00, 0xff, 0x80, 0xc3, 0x28, 0x0a, 0x3d]);

/** A tree with one of everything a layer can carry. */
function buildTree(dir: string): void {
  const p = (rel: string) => join(dir, rel);
  fs.mkdirSync(p('d/sub'), { recursive: true });
  fs.writeFileSync(p('d/file'), 'hello');
  fs.chownSync(p('d/file'), 1001, 1002);
  fs.chmodSync(p('d/file'), 0o4755);
  fs.linkSync(p('d/file'), p('d/hard'));
  fs.linkSync(p('d/file'), p('hard2'));
  fs.writeFileSync(p('d/sgid'), '');
  fs.chmodSync(p('d/sgid'), 0o2711);
  fs.mkdirSync(p('sticky'));
  fs.chmodSync(p('sticky'), 0o1777);
  fs.writeFileSync(p('ping'), 'elf');
  fs.chownSync(p('ping'), 3_000_000, 3_000_001); // beyond ustar's 7 octal digits: PAX
  sys().lsetxattr(p('ping'), 'security.capability', CAP_NET_RAW); // after chown, which clears it
  sys().lsetxattr(p('ping'), 'user.note', Buffer.from('a note'));
  sys().lsetxattr(p('d/sub'), 'trusted.bin', BINARY);
  fs.symlinkSync('d/file', p('sym'));
  fs.symlinkSync(`/${'very-long-target/'.repeat(10)}end`, p('longsym'));
  fs.symlinkSync('/etc/passwd', p('abssym'));
  fs.mkdirSync(p('dev'));
  sys().mknod(p('dev/null'), fs.constants.S_IFCHR | 0o666, 1, 3);
  sys().mknod(p('dev/sda9'), fs.constants.S_IFBLK | 0o660, 8, 9);
  sys().mknod(p('dev/big'), fs.constants.S_IFCHR | 0o600, 300, 70000); // major/minor beyond 8 bits
  sys().mknod(p('fifo'), fs.constants.S_IFIFO | 0o640, 0, 0);
  const deep = `${'deeper/'.repeat(25)}ünïcödé-ファイル`;
  fs.mkdirSync(p(deep.slice(0, deep.lastIndexOf('/'))), { recursive: true });
  fs.writeFileSync(p(deep), 'deep');
  fs.writeFileSync(p('empty'), '');
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  fs.writeFileSync(p('big'), big);
  // Whole seconds: tar keeps no more. Directories last, deepest first.
  let n = 1_500_000_000;
  const dirs: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(p(rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (fs.lstatSync(p(r)).isDirectory()) {
        walk(r);
        dirs.push(r);
      } else setTime(p(r), n++);
    }
  };
  walk('');
  for (const d of dirs) setTime(p(d), n++);
}

describe('writeDiff', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    await t?.remove();
    t = await tempDir();
  });
  after(() => t?.remove());

  it('round-trips a tree through applyLayer: modes, owners, xattrs, links, devices, times', async () => {
    const src = join(t.dir, 'src');
    const dst = join(t.dir, 'dst');
    fs.mkdirSync(src);
    fs.mkdirSync(dst);
    buildTree(src);
    const tar = await collect(writeDiff({ lower: [], upper: src, mode: 'compare' }));
    const r = await applyLayer(dst, streamOf(tar));
    assert.equal(r.diffId, sha256(tar));
    assert.equal(r.size, tar.length);
    const want = snapshotTree(src, { withDirTimes: true, skipRoot: true });
    assert.deepEqual(snapshotTree(dst, { withDirTimes: true, skipRoot: true }), want);
    assert.deepEqual(want['d/file']!.links, ['d/file', 'd/hard', 'hard2']);
    assert.equal(want['ping']!.xattrs['security.capability'], CAP_NET_RAW.toString('hex'));
    assert.equal(want['d/sub']!.xattrs['trusted.bin'], BINARY.toString('hex'));

    // Deterministic, and readable by GNU tar.
    assert.deepEqual(await collect(writeDiff({ lower: [], upper: src, mode: 'compare' })), tar);
    const gnu = spawnSync('tar', ['-tf', '-'], { input: tar, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    assert.equal(gnu.status, 0, gnu.stderr);
    assert.deepEqual(gnu.stdout.trim().split('\n'), (await listTar(tar)).map((e) => e.name));
  });

  it('agrees with GNU tar both ways (posix and gnu formats, xattrs)', async () => {
    const src = join(t.dir, 'src');
    fs.mkdirSync(src);
    buildTree(src);
    const want = snapshotTree(src, { withDirTimes: true, skipRoot: true });
    const gnuTar = (args: string[], input?: Buffer) => {
      const xattrs = args.includes('--format=gnu') ? [] : ['--xattrs', '--xattrs-include=*'];
      const r = spawnSync('tar', [...xattrs, '--numeric-owner', ...args], { input, maxBuffer: 1 << 30 });
      assert.equal(r.status, 0, r.stderr?.toString());
      return r.stdout;
    };
    // GNU tar's archives, applied by us.
    for (const format of ['posix', 'gnu']) {
      const dst = join(t.dir, `from-${format}`);
      fs.mkdirSync(dst);
      await applyLayer(dst, streamOf(gnuTar([`--format=${format}`, '-cf', '-', '-C', src, '.'])));
      const got = snapshotTree(dst, { withDirTimes: true, skipRoot: true });
      if (format === 'gnu') {
        // The gnu format has no PAX, so no xattrs.
        for (const n of Object.values(want)) n.xattrs = {};
      }
      assert.deepEqual(got, format === 'gnu' ? want : snapshotTree(src, { withDirTimes: true, skipRoot: true }), format);
    }
    // Our layer, extracted by GNU tar.
    const dst = join(t.dir, 'by-gnu');
    fs.mkdirSync(dst);
    gnuTar(['-xpf', '-', '-C', dst], await collect(writeDiff({ lower: [], upper: src, mode: 'compare' })));
    assert.deepEqual(snapshotTree(dst, { withDirTimes: true, skipRoot: true }), snapshotTree(src, { withDirTimes: true, skipRoot: true }));
  });

  it('emits parents first, names sorted, hardlinks as links, dirs with a trailing slash', async () => {
    const src = join(t.dir, 'src');
    fs.mkdirSync(join(src, 'b'), { recursive: true });
    fs.writeFileSync(join(src, 'b/z'), 'z');
    fs.linkSync(join(src, 'b/z'), join(src, 'a'));
    fs.writeFileSync(join(src, 'c'), 'c');
    const entries = await listTar(await collect(writeDiff({ lower: [], upper: src, mode: 'compare' })));
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.linkname ?? '']), [
      ['a', 'file', ''],
      ['b/', 'directory', ''],
      ['b/z', 'link', 'a'],
      ['c', 'file', ''],
    ]);
  });
});

describe('writeDiff compare mode', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let lower: string;
  let upper: string;
  before(async () => {
    t = await tempDir();
    lower = join(t.dir, 'lower');
    upper = join(t.dir, 'upper');
    const l = (rel: string) => join(lower, rel);
    fs.mkdirSync(l('etc/deep/er'), { recursive: true });
    fs.mkdirSync(l('gone/sub'), { recursive: true });
    fs.mkdirSync(l('untouched'));
    for (const f of ['etc/passwd', 'etc/hosts', 'etc/same', 'etc/sneaky', 'etc/deep/er/x', 'gone/sub/f', 'untouched/f', 'chmod', 'was-file', 'del']) {
      fs.writeFileSync(l(f), `content of ${f}`);
    }
    fs.symlinkSync('aaaa', l('link'));
    for (const f of ['etc/passwd', 'etc/hosts', 'etc/same', 'etc/sneaky', 'etc/deep/er/x', 'gone/sub/f', 'untouched/f', 'chmod', 'was-file', 'del', 'link']) {
      setTime(l(f), 1_600_000_000);
    }
    assert.equal(spawnSync('cp', ['-a', lower, upper]).status, 0);
    const u = (rel: string) => join(upper, rel);
    fs.writeFileSync(u('etc/passwd'), 'root:x:0:0::/root:/bin/sh\n'); // new size, new mtime
    setTime(u('etc/hosts'), 1_700_000_000); // same bytes, new mtime
    fs.writeFileSync(u('etc/sneaky'), `CONTENT OF etc/sneaky`); // same size...
    setTime(u('etc/sneaky'), 1_600_000_000); // ...and mtime: unchanged, as Docker sees it
    fs.chmodSync(u('chmod'), 0o600);
    sys().lsetxattr(u('etc/same'), 'user.new', Buffer.from('x'));
    fs.rmSync(u('gone'), { recursive: true });
    fs.rmSync(u('del'));
    fs.rmSync(u('was-file'));
    fs.mkdirSync(u('was-file'));
    fs.writeFileSync(u('was-file/inside'), 'i');
    fs.writeFileSync(u('etc/deep/er/new'), 'new');
    fs.rmSync(u('link'));
    fs.symlinkSync('bbbb', u('link')); // same length
    setTime(u('link'), 1_600_000_000);
  });
  after(() => t?.remove());

  it('lists changes like docker diff, parents included', async () => {
    const got = await changes({ lower: [lower], upper, mode: 'compare' });
    assert.deepEqual(got, [
      { path: '/del', kind: Deleted },
      { path: '/gone', kind: Deleted },
      { path: '/chmod', kind: Modified },
      { path: '/etc', kind: Modified },
      { path: '/etc/deep', kind: Modified },
      { path: '/etc/deep/er', kind: Modified },
      { path: '/etc/deep/er/new', kind: Added },
      { path: '/etc/hosts', kind: Modified },
      { path: '/etc/passwd', kind: Modified },
      { path: '/etc/same', kind: Modified },
      { path: '/link', kind: Modified },
      { path: '/was-file', kind: Modified },
      { path: '/was-file/inside', kind: Added },
    ]);
  });

  it('writes the changes as a layer that turns lower into upper', async () => {
    const tar = await collect(writeDiff({ lower: [lower], upper, mode: 'compare' }));
    const names = (await listTar(tar)).map((e) => e.name);
    assert.deepEqual(names, [
      '.wh.del', '.wh.gone', 'chmod', 'etc/', 'etc/deep/', 'etc/deep/er/', 'etc/deep/er/new', 'etc/hosts', 'etc/passwd',
      'etc/same', 'link', 'was-file/', 'was-file/inside',
    ]);
    const replay = join(t.dir, 'replay');
    fs.mkdirSync(replay);
    await applyLayer(replay, writeDiff({ lower: [], upper: lower, mode: 'compare' }));
    await applyLayer(replay, streamOf(tar));
    const want = snapshotTree(upper, { skipRoot: true });
    const got = snapshotTree(replay, { skipRoot: true });
    // The change Docker's rule cannot see stays as it was below.
    assert.equal(fs.readFileSync(join(replay, 'etc/sneaky'), 'utf8'), 'content of etc/sneaky');
    delete want['etc/sneaky'];
    delete got['etc/sneaky'];
    assert.deepEqual(got, want);
  });

  it('treats a missing lower as everything added', async () => {
    const got = await changes({ lower: [], upper, mode: 'compare' });
    assert.ok(got.every((c) => c.kind === Added));
    assert.ok(got.some((c) => c.path === '/etc/deep/er/x'));
  });
});

/** A real overlayfs mount: changes made through it, then the upperdir diffed. */
describe('writeDiff overlay mode', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let lower: string;
  let upper: string;
  let merged: string;
  let mergedSnap: ReturnType<typeof snapshotTree>;
  let layer1: Buffer;

  before(async () => {
    t = await tempDir();
    [lower, upper, merged] = ['lower', 'upper', 'merged'].map((d) => join(t.dir, d)) as [string, string, string];
    const work = join(t.dir, 'work');
    for (const d of [lower, upper, merged, work]) fs.mkdirSync(d);
    layer1 = await makeTar([
      { name: 'a/', type: 'directory', mode: 0o755 },
      { name: 'a/x', data: 'x' },
      { name: 'a/y', data: 'y' },
      { name: 'b/', type: 'directory', mode: 0o755 },
      { name: 'b/p', data: 'p' },
      { name: 'b/sub/', type: 'directory' },
      { name: 'b/sub/deep', data: 'deep' },
      { name: 'keep', data: 'keep' },
      { name: 'mod', data: 'before' },
      { name: 'other/', type: 'directory' },
      { name: 'other/f', data: 'f' },
    ]);
    await applyLayer(lower, streamOf(layer1));
    sys().mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work},index=off,redirect_dir=off,metacopy=off`);
    try {
      const m = (rel: string) => join(merged, rel);
      fs.rmSync(m('a/x'));
      fs.rmSync(m('b'), { recursive: true });
      fs.mkdirSync(m('b'));
      fs.writeFileSync(m('b/p'), 'new p');
      fs.writeFileSync(m('b/q'), 'q');
      fs.writeFileSync(m('mod'), 'after');
      fs.writeFileSync(m('added'), 'added');
      sys().lsetxattr(m('keep'), 'user.tag', Buffer.from('t'));
      fs.rmSync(m('other'), { recursive: true });
      setTime(m('mod'), 1_650_000_000);
      mergedSnap = snapshotTree(merged, { skipRoot: true });
    } finally {
      sys().umount(merged, 0);
    }
  });
  after(() => t?.remove());

  it('turns whiteout devices and opaque directories into OCI whiteouts', async () => {
    // What overlayfs left in the upper dir.
    assert.ok(fs.lstatSync(join(upper, 'a/x')).isCharacterDevice());
    assert.deepEqual(sys().lgetxattr(join(upper, 'b'), 'trusted.overlay.opaque'), Buffer.from('y'));

    const entries = await listTar(await collect(writeDiff({ lower: [lower], upper, mode: 'overlay' })));
    assert.deepEqual(entries.map((e) => e.name), [
      '.wh.other', 'a/', 'a/.wh.x', 'added', 'b/', 'b/.wh..wh..opq', 'b/p', 'b/q', 'keep', 'mod',
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('a/.wh.x')!.type, 'file');
    assert.equal(byName.get('a/.wh.x')!.size, 0);
    for (const e of entries) {
      for (const k of Object.keys(e.pax ?? {})) assert.ok(!k.startsWith('SCHILY.xattr.trusted.overlay.'), `${e.name} leaks ${k}`);
    }
    assert.equal(byName.get('keep')!.pax?.['SCHILY.xattr.user.tag'], 't');
  });

  it('replays onto the lower layer to give what the mount showed', async () => {
    const replay = join(t.dir, 'replay');
    fs.mkdirSync(replay);
    await applyLayer(replay, streamOf(layer1));
    await applyLayer(replay, writeDiff({ lower: [lower], upper, mode: 'overlay' }));
    assert.deepEqual(snapshotTree(replay, { skipRoot: true }), mergedSnap);
  });

  it('lists changes, telling added from modified through the lower layers', async () => {
    assert.deepEqual(await changes({ lower: [lower], upper, mode: 'overlay' }), [
      { path: '/other', kind: Deleted },
      { path: '/a', kind: Modified },
      { path: '/a/x', kind: Deleted },
      { path: '/added', kind: Added },
      { path: '/b', kind: Modified },
      { path: '/b/sub', kind: Deleted }, // hidden by the opaque directory
      { path: '/b/p', kind: Added }, // a new file in a new directory
      { path: '/b/q', kind: Added },
      { path: '/keep', kind: Modified },
      { path: '/mod', kind: Modified },
    ]);
  });

  it('reads lower layers in overlay format: whiteouts and opaque dirs below hide what is under them', async () => {
    // lower2 (nearest) deletes keep and makes other/ opaque over lower.
    const lower2 = join(t.dir, 'lower2');
    fs.mkdirSync(join(lower2, 'other'), { recursive: true });
    sys().lsetxattr(join(lower2, 'other'), 'trusted.overlay.opaque', Buffer.from('y'));
    sys().mknod(join(lower2, 'keep'), fs.constants.S_IFCHR, 0, 0);
    const top = join(t.dir, 'top');
    fs.mkdirSync(join(top, 'other'), { recursive: true });
    fs.writeFileSync(join(top, 'keep'), 'back');
    fs.writeFileSync(join(top, 'other/f'), 'f');
    fs.writeFileSync(join(top, 'a'), 'now a file');
    assert.deepEqual(await changes({ lower: [lower2, lower], upper: top, mode: 'overlay' }), [
      { path: '/a', kind: Modified },
      { path: '/keep', kind: Added },
      { path: '/other', kind: Modified },
      { path: '/other/f', kind: Added },
    ]);
  });

  it('refuses an upper dir that uses redirect_dir or metacopy', async () => {
    const odd = join(t.dir, 'odd');
    fs.mkdirSync(join(odd, 'moved'), { recursive: true });
    sys().lsetxattr(join(odd, 'moved'), 'trusted.overlay.redirect', Buffer.from('/orig'));
    await assert.rejects(collect(writeDiff({ lower: [], upper: odd, mode: 'overlay' })), (e: unknown) => {
      assert.ok(e instanceof EngineError && e.kind === 'not-implemented');
      assert.match(e.message, /redirect_dir=off/);
      return true;
    });
  });
});

describe('writeDiff throughput (timings only)', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    t = await tempDir();
  });
  after(() => t?.remove());

  it('5000 small files and one 100 MiB file', async (ctx) => {
    const src = join(t.dir, 'src');
    for (let d = 0; d < 50; d++) {
      fs.mkdirSync(join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(join(src, `d${d}/f${f}`), Buffer.alloc(1024 + f, d));
    }
    let start = process.hrtime.bigint();
    let n = 0;
    for await (const c of writeDiff({ lower: [], upper: src, mode: 'compare' })) n += (c as Buffer).length;
    let ms = Number(process.hrtime.bigint() - start) / 1e6;
    ctx.diagnostic(`diff 5000 small files (${(n / (1 << 20)).toFixed(1)} MiB tar): ${ms.toFixed(0)} ms, ${(5000 / (ms / 1000)).toFixed(0)} files/s`);

    const big = join(t.dir, 'big');
    fs.mkdirSync(big);
    const fd = fs.openSync(join(big, 'f'), 'w');
    const chunk = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 100; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    start = process.hrtime.bigint();
    n = 0;
    for await (const c of writeDiff({ lower: [], upper: big, mode: 'compare' })) n += (c as Buffer).length;
    ms = Number(process.hrtime.bigint() - start) / 1e6;
    ctx.diagnostic(`diff one 100 MiB file: ${ms.toFixed(0)} ms, ${(n / (1 << 20) / (ms / 1000)).toFixed(0)} MiB/s`);
  });
});
