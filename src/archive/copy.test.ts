import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { EngineError, type ErrorKind } from '../base/errdefs.js';
import { sys } from '../base/sys.js';
import { archiveFromRoot, encodePathStat, exportRoot, extractToRoot, goFileMode, statInRoot, type ExtractOpts } from './copy.js';
import { goJsonTime as rfc3339Nano } from '../base/time.js';
import { encodeHeader, type TarEntry } from './diff.js';
import { collect, listTar, makeTar, snapshotTree, streamOf, tempDir, type Listed, type TarSpec } from './fixtures.test.js';

const root = process.getuid?.() === 0;
const CAP_V2 = Buffer.from('0000000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, as setcap writes it
const CAP_V3 = Buffer.from('0000000300200000000000000000000000000000e8030000', 'hex'); // the same, root uid 1000

const kind = (k: ErrorKind, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
  assert.equal(e.kind, k, e.message);
  assert.match(e.message, re);
  return true;
};

/** A tar whose headers diff.ts writes: PAX xattr values byte for byte (tar-stream's pack would UTF-8 them). */
function rawTar(entries: (Partial<TarEntry> & { name: string; data?: string })[]): Buffer {
  const out: Buffer[] = [];
  for (const { data, ...e } of entries) {
    const body = Buffer.from(data ?? '');
    out.push(encodeHeader({ type: '0', mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000, size: body.length, ...e }));
    if (body.length) out.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

const names = (l: Listed[]) => l.map((e) => e.name);
const sizeOfStream = async (s: Readable) => (await collect(s)).length;
const openFds = () => fs.readdirSync('/proc/self/fd').length;

/**
 * A container root beside a "host" directory that symlinks in the root name
 * by its absolute host path, so that following one outside the root would
 * find the host's files.
 */
async function fixture() {
  const t = await tempDir('pier-copy-');
  const rootfs = join(t.dir, 'rootfs');
  const host = join(t.dir, 'host');
  fs.mkdirSync(host);
  fs.writeFileSync(join(host, 'secret.txt'), 'host secret');
  fs.writeFileSync(join(host, 'sentinel'), 'untouched');
  const w = (rel: string, data: string, mode = 0o644) => {
    fs.mkdirSync(join(rootfs, rel, '..'), { recursive: true });
    fs.writeFileSync(join(rootfs, rel), data);
    fs.chmodSync(join(rootfs, rel), mode);
  };
  w('bin/sh', '#!busybox', 0o755);
  w('etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
  w('data/a.txt', 'hello\n');
  fs.chownSync(join(rootfs, 'data/a.txt'), 1234, 5678);
  fs.linkSync(join(rootfs, 'data/a.txt'), join(rootfs, 'data/hard.txt'));
  w('data/sub/b', 'x\n', 0o4755);
  sys().lsetxattr(join(rootfs, 'data/sub/b'), 'security.capability', CAP_V2);
  sys().lsetxattr(join(rootfs, 'data/a.txt'), 'user.note', Buffer.from('not archived'));
  w('data/v3', '', 0o755);
  sys().lsetxattr(join(rootfs, 'data/v3'), 'security.capability', CAP_V3);
  w('data/big', 'B'.repeat(200_000));
  fs.symlinkSync(host, join(rootfs, 'data/abslink'));
  fs.symlinkSync(`../../../../../../../../../..${host}`, join(rootfs, 'data/uplink'));
  fs.symlinkSync('../etc/passwd', join(rootfs, 'data/rellink'));
  fs.symlinkSync('/nonexistent/x', join(rootfs, 'data/dangling'));
  fs.symlinkSync('loop2', join(rootfs, 'data/loop1'));
  fs.symlinkSync('loop1', join(rootfs, 'data/loop2'));
  sys().mknod(join(rootfs, 'data/fifo'), fs.constants.S_IFIFO | 0o644, 0, 0);
  sys().mknod(join(rootfs, 'data/null'), fs.constants.S_IFCHR | 0o644, 1, 3);
  fs.chmodSync(join(rootfs, 'data/null'), 0o644);
  fs.chmodSync(join(rootfs, 'data/fifo'), 0o644);
  fs.mkdirSync(join(rootfs, 'tmp'));
  fs.chmodSync(join(rootfs, 'tmp'), 0o755);
  // What the container has at the host directory's path: the only thing those symlinks may reach.
  w(`${host}/inside.txt`.slice(1), 'in the container');
  const sock: Server = await new Promise((resolve) => {
    const s = createServer().listen(join(rootfs, 'data/sock'), () => resolve(s));
  });
  const times = (rel: string, s: number) => fs.lutimesSync(join(rootfs, rel), s, s);
  for (const rel of ['data/a.txt', 'data/sub/b', 'data/abslink', 'data/fifo', 'data/null', 'data/sub', 'data']) times(rel, 1_700_000_000.5);
  return {
    t, rootfs, host,
    remove: async () => {
      await new Promise<void>((r) => sock.close(() => r()));
      await t.remove();
    },
  };
}

describe('copy', { skip: !root && 'needs root (owners, devices, security.capability)' }, () => {
  let f: Awaited<ReturnType<typeof fixture>>;
  beforeEach(async () => {
    f = await fixture();
  });
  afterEach(() => f?.remove());

  describe('stat', () => {
    it('encodes the header byte for byte as dockerd 20.10 sent it', () => {
      // Captured with curl -I from dockerd (HEAD /containers/c1/archive?path=/data/a.txt, then /data/abslink).
      assert.equal(
        encodePathStat({ name: 'a.txt', size: 6, mode: 420, mtime: '2026-11-28T02:12:36.339859345Z', linkTarget: '' }),
        'eyJuYW1lIjoiYS50eHQiLCJzaXplIjo2LCJtb2RlIjo0MjAsIm10aW1lIjoiMjAyNi0xMS0yOFQwMjoxMjozNi4zMzk4NTkzNDVaIiwibGlua1RhcmdldCI6IiJ9',
      );
      assert.equal(
        encodePathStat({ name: 'abslink', size: 4, mode: 134218239, mtime: '2026-11-28T02:12:36.339859345Z', linkTarget: '/etc' }),
        'eyJuYW1lIjoiYWJzbGluayIsInNpemUiOjQsIm1vZGUiOjEzNDIxODIzOSwibXRpbWUiOiIyMDI2LTExLTI4VDAyOjEyOjM2LjMzOTg1OTM0NVoiLCJsaW5rVGFyZ2V0IjoiL2V0YyJ9',
      );
      // Go's encoding/json escapes what HTML would mind.
      const json = Buffer.from(encodePathStat({ name: '<a&b>', size: 0, mode: 0, mtime: '', linkTarget: '' }), 'base64').toString();
      assert.equal(json, '{"name":"\\u003ca\\u0026b\\u003e","size":0,"mode":0,"mtime":"","linkTarget":""}');
    });

    it('gives modes as Go FileModes and mtimes as RFC3339Nano, the numbers dockerd gave for the same files', async () => {
      const s = (p: string) => statInRoot(f.rootfs, p, 'c1');
      assert.deepEqual(await s('/data/a.txt'), { name: 'a.txt', size: 6, mode: 420, mtime: '2023-11-14T22:13:20.5Z', linkTarget: '' });
      assert.equal((await s('/data/sub/b')).mode, 8389101); // setuid 0755
      assert.equal((await s('/data/fifo')).mode, 33554852);
      assert.equal((await s('/data/null')).mode, 69206436);
      assert.equal((await s('/data/abslink')).mode, 134218239);
      assert.equal((await s('/data/sub')).mode, 2147484141);
      assert.equal(goFileMode(fs.constants.S_IFSOCK | 0o755), 2 ** 24 + 0o755);
      assert.equal(goFileMode(fs.constants.S_IFDIR | 0o1777), 2147484141 - 0o755 + 0o777 + 2 ** 20);
      assert.equal(rfc3339Nano(1_795_831_956_339_859_345n), '2026-11-28T02:12:36.339859345Z');
      assert.equal(rfc3339Nano(1_795_831_956_000_000_000n), '2026-11-28T02:12:36Z');
      assert.equal(rfc3339Nano(-500_000_000n), '1969-12-31T23:59:59.5Z');
    });

    it('names the last component; follows it only for a trailing "/" or "/."; resolves link targets in scope', async () => {
      const s = (p: string) => statInRoot(f.rootfs, p, 'c1');
      assert.deepEqual(
        { ...(await s('/data/rellink')), mtime: '' },
        { name: 'rellink', size: 13, mode: 134218239, mtime: '', linkTarget: '/etc/passwd' },
      );
      assert.equal((await s('/data/dangling')).linkTarget, '/nonexistent/x');
      // The host path, as a path in the container (where it exists too).
      assert.equal((await s('/data/abslink')).linkTarget, f.host);
      assert.equal((await s('/data/uplink')).linkTarget, f.host);
      assert.equal((await s('/data/abslink/')).name, 'abslink');
      assert.equal((await s('/data/abslink/')).mode, 2147484141);
      assert.equal((await s('/data/abslink/.')).name, '.');
      assert.equal((await s('/')).name, '/');
      assert.equal((await s('/.')).name, '.');
      assert.equal((await s('data/../data/./a.txt')).name, 'a.txt');
      assert.equal((await s('/../../data')).name, 'data');
    });

    it('reports what is missing as Docker does, and other failures as invalid', async () => {
      const s = (p: string) => statInRoot(f.rootfs, p, 'c1');
      await assert.rejects(s('/nope'), kind('not-found', /^Could not find the file \/nope in container c1$/));
      await assert.rejects(s('/data/nope/x'), kind('not-found', /^Could not find the file \/data\/nope\/x in container c1$/));
      await assert.rejects(s('/data/dangling/'), kind('not-found', /^Could not find the file \/data\/dangling\/ in container c1$/));
      await assert.rejects(s('/data/a.txt/'), kind('invalid', /^lstat \/data\/a.txt\/: not a directory$/));
      await assert.rejects(s('/data/rellink/'), kind('invalid', /not a directory/));
      await assert.rejects(s('/data/loop1'), kind('invalid', /too many levels of symbolic links/));
      await assert.rejects(s('/data\0'), kind('invalid', /NUL/));
      await assert.rejects(statInRoot(join(f.t.dir, 'none'), '/'), kind('internal', /root filesystem/));
    });
  });

  describe('archiveFromRoot', () => {
    const get = async (p: string) => {
      const { stat, stream } = await archiveFromRoot(f.rootfs, p, { what: 'c1' });
      return { stat, entries: await listTar(await collect(stream)) };
    };

    it('rebases a directory on its name, with Docker header fields', async () => {
      const { stat, entries } = await get('/data');
      assert.equal(stat.name, 'data');
      assert.deepEqual(names(entries), [
        'data/', 'data/a.txt', 'data/abslink', 'data/big', 'data/dangling', 'data/fifo', 'data/hard.txt', 'data/loop1', 'data/loop2',
        'data/null', 'data/rellink', 'data/sub/', 'data/sub/b', 'data/uplink', 'data/v3',
      ]); // the socket is left out
      const e = Object.fromEntries(entries.map((x) => [x.name, x]));
      assert.deepEqual(
        [e['data/']!.type, e['data/']!.mode, e['data/a.txt']!.uid, e['data/a.txt']!.gid, e['data/a.txt']!.data.toString()],
        ['directory', 0o755, 1234, 5678, 'hello\n'],
      );
      assert.deepEqual([e['data/hard.txt']!.type, e['data/hard.txt']!.linkname], ['link', 'data/a.txt']);
      assert.deepEqual([e['data/abslink']!.type, e['data/abslink']!.linkname], ['symlink', f.host]);
      assert.deepEqual([e['data/null']!.type, e['data/fifo']!.type], ['character-device', 'fifo']);
      assert.equal(e['data/sub/b']!.mode, 0o4755);
      assert.equal(e['data/big']!.data.toString(), 'B'.repeat(200_000));
      // security.capability only; v3 (a namespace root uid) archived as v2, as Docker does.
      assert.deepEqual(Object.keys(e['data/sub/b']!.pax ?? {}), ['SCHILY.xattr.security.capability']);
      assert.equal(e['data/a.txt']!.pax, null);
    });

    it('writes xattr values byte for byte', async () => {
      const { stream } = await archiveFromRoot(f.rootfs, '/data/sub/b');
      const tar = await collect(stream);
      assert.ok(tar.includes(Buffer.concat([Buffer.from('SCHILY.xattr.security.capability='), CAP_V2, Buffer.from('\n')])));
      const v3 = await collect((await archiveFromRoot(f.rootfs, '/data/v3')).stream);
      assert.ok(v3.includes(Buffer.concat([Buffer.from('security.capability='), CAP_V2, Buffer.from('\n')])));
    });

    it('names entries like dockerd for "/.", "/", "/" on a symlink, a file, a symlink', async () => {
      assert.deepEqual(names((await get('/data/sub/.')).entries), ['./', './b']);
      assert.deepEqual(names((await get('/data/sub/')).entries), ['sub/', 'sub/b']);
      assert.deepEqual(names((await get('/')).entries).slice(0, 4), ['/', '/bin/', '/bin/sh', '/data/']);
      assert.deepEqual(names((await get('/.')).entries).slice(0, 3), ['./', './bin/', './bin/sh']);
      assert.deepEqual(names((await get('/data/sub/b')).entries), ['b']);
      const link = (await get('/data/rellink')).entries;
      assert.deepEqual(link.map((x) => [x.name, x.type, x.linkname]), [['rellink', 'symlink', '../etc/passwd']]);
    });

    it('follows a symlink to an absolute host path inside the root, never to the host', async () => {
      for (const p of ['/data/abslink/', '/data/uplink/']) {
        const { stat, entries } = await get(p);
        assert.equal(stat.mode, 2147484141);
        assert.deepEqual(names(entries).slice(1), [`${p.split('/')[2]}/inside.txt`], p);
        assert.equal(entries[1]!.data.toString(), 'in the container');
      }
      assert.deepEqual(names((await get(`/data/abslink/inside.txt`)).entries), ['inside.txt']);
      await assert.rejects(get('/data/abslink/secret.txt'), kind('not-found', /Could not find the file \/data\/abslink\/secret.txt in container c1/));
      fs.rmSync(join(f.rootfs, f.host), { recursive: true });
      await assert.rejects(get('/data/abslink/'), kind('not-found', /abslink/));
    });

    it('closes what it opened, read to the end or dropped unread; aborts with its signal', async () => {
      const before = openFds();
      await sizeOfStream((await archiveFromRoot(f.rootfs, '/data')).stream);
      const unread = (await archiveFromRoot(f.rootfs, '/')).stream;
      const started = (await archiveFromRoot(f.rootfs, '/')).stream;
      await new Promise((r) => started.once('readable', r));
      for (const s of [unread, started]) await new Promise((r) => s.once('close', r).destroy());
      assert.equal(openFds(), before);

      const ac = new AbortController();
      const { stream } = await archiveFromRoot(f.rootfs, '/', { signal: ac.signal });
      ac.abort();
      await assert.rejects(sizeOfStream(stream), { name: 'AbortError' });
    });
  });

  describe('exportRoot', () => {
    it('archives everything below the root, relatively, as docker export does', async () => {
      const entries = await listTar(await collect(exportRoot(f.rootfs)));
      const all = names(entries);
      assert.deepEqual(all.slice(0, 5), ['bin/', 'bin/sh', 'data/', 'data/a.txt', 'data/abslink']);
      assert.ok(!all.some((n) => n.startsWith('/') || n.startsWith('./') || n === 'data/sock'));
      assert.ok(all.includes(`${f.host.slice(1)}/inside.txt`) && all.includes('tmp/'));
      assert.deepEqual(entries.find((e) => e.name === 'data/hard.txt')?.linkname, 'data/a.txt');
    });

    it('leaves out excluded paths and what is below them', async () => {
      const all = names(await listTar(await collect(exportRoot(f.rootfs, { exclude: ['/data/sub', 'etc/passwd', '/nope'] }))));
      assert.ok(all.includes('data/a.txt') && all.includes('etc/'));
      assert.ok(!all.some((n) => n.startsWith('data/sub') || n === 'etc/passwd'));
    });

    it('round-trips through extractToRoot', async () => {
      const copy = join(f.t.dir, 'copy');
      fs.mkdirSync(copy);
      await extractToRoot(copy, '/', exportRoot(f.rootfs));
      const want = snapshotTree(f.rootfs, { skipRoot: true });
      delete want['data/sock'];
      want['data/v3']!.xattrs = { 'security.capability': CAP_V2.toString('hex') };
      delete want['data/a.txt']!.xattrs['user.note'];
      delete want['data/hard.txt']!.xattrs['user.note'];
      assert.deepEqual(snapshotTree(copy, { skipRoot: true }), want);
    });

    it('is an error stream for a root that does not exist', async () => {
      await assert.rejects(collect(exportRoot(join(f.t.dir, 'none'))), kind('internal', /root filesystem/));
    });
  });

  describe('extractToRoot', () => {
    const put = async (path: string, tar: TarSpec[] | Buffer, o: ExtractOpts = {}) =>
      extractToRoot(f.rootfs, path, streamOf(Buffer.isBuffer(tar) ? tar : await makeTar(tar)), { what: 'c1', ...o });
    const r = (rel: string) => join(f.rootfs, rel);
    const hostUntouched = () => {
      assert.deepEqual(fs.readdirSync(f.host).sort(), ['secret.txt', 'sentinel']);
      assert.equal(fs.readFileSync(join(f.host, 'sentinel'), 'utf8'), 'untouched');
      assert.equal(fs.statSync(join(f.host, 'secret.txt')).nlink, 1);
    };

    it('extracts with the tar\'s owners, modes and times; implied directories 0755 root\'s', async () => {
      await put('/tmp', [
        { name: 'newdir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime: new Date(1_000_000_000_000) },
        { name: 'newdir/f', data: 'f', mode: 0o4755, uid: 1002, gid: 1003, mtime: new Date(1_100_000_000_000) },
        { name: 'implied/deep/f2', data: 'f2', uid: 7, gid: 8 },
        { name: 'lnk', type: 'symlink', linkname: 'newdir/f' },
        // Real tars repeat the file's metadata on its hardlinks; the set-id bit outlives the chown.
        { name: 'hl', type: 'link', linkname: 'newdir/f', mode: 0o4755, uid: 1002, gid: 1003, mtime: new Date(1_100_000_000_000) },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'fifo', type: 'fifo', mode: 0o600 },
      ]);
      const snap = snapshotTree(r('tmp'), { withDirTimes: true });
      assert.deepEqual({ ...snap['newdir'], xattrs: undefined }, { type: 'dir', mode: 0o750, uid: 1000, gid: 1001, mtime: 1_000_000_000, xattrs: undefined });
      assert.deepEqual([snap['newdir/f']!.mode, snap['newdir/f']!.uid, snap['newdir/f']!.mtime], [0o4755, 1002, 1_100_000_000]);
      assert.deepEqual([snap['implied']!.mode, snap['implied']!.uid, snap['implied/deep']!.gid, snap['implied/deep/f2']!.uid], [0o755, 0, 0, 7]);
      assert.deepEqual([snap['lnk']!.type, snap['lnk']!.target], ['symlink', 'newdir/f']);
      assert.deepEqual(snap['hl']!.links, ['hl', 'newdir/f']);
      assert.deepEqual([snap['dev/null']!.type, snap['dev/null']!.rdev, snap['dev/null']!.mode, snap['fifo']!.type], ['char', fs.statSync('/dev/null').rdev, 0o666, 'fifo']);
    });

    it('gives entries the container user\'s owner only with copyUIDGID and a user, as dockerd does', async () => {
      const tar = [{ name: 'f', data: 'x', uid: 1234, gid: 5678 }, { name: 'd/', type: 'directory' as const, uid: 1234, gid: 5678 }];
      const owner = (rel: string) => [fs.lstatSync(r(rel)).uid, fs.lstatSync(r(rel)).gid];
      await put('/tmp', tar, { copyUIDGID: true, user: { uid: 1000, gid: 1001 } });
      assert.deepEqual([owner('tmp/f'), owner('tmp/d')], [[1000, 1001], [1000, 1001]]);
      await put('/tmp', tar, { copyUIDGID: true });
      assert.deepEqual(owner('tmp/f'), [1234, 5678]);
      await put('/tmp', tar, { user: { uid: 1000, gid: 1001 } });
      assert.deepEqual(owner('tmp/f'), [1234, 5678]);
    });

    it('refuses entries that climb out of the destination; rooted names stay below it', async () => {
      await assert.rejects(put('/tmp', [{ name: '../x', data: 'x' }]), kind('invalid', /^"\.\.\/x" is outside of "\/tmp"$/));
      await assert.rejects(put('/tmp', [{ name: 'a/../../x', data: 'x' }]), kind('invalid', /"\.\.\/x" is outside of "\/tmp"/));
      await assert.rejects(put('/', [{ name: '..', type: 'directory' }]), kind('invalid', /is outside of "\/"/));
      assert.ok(!fs.existsSync(r('x')) && !fs.existsSync(join(f.t.dir, 'x')) && !fs.existsSync(r('tmp/a')));
      await put('/tmp', [{ name: '/abs', data: 'a' }, { name: '/../../rooted', data: 'r' }]);
      assert.deepEqual([fs.readFileSync(r('tmp/abs'), 'utf8'), fs.readFileSync(r('tmp/rooted'), 'utf8')], ['a', 'r']);
    });

    it('writes through symlinks in the container inside the root, never on the host', async () => {
      // etc -> /<host dir>: Docker resolves it in the container, where that path is the root's.
      fs.rmSync(r('etc'), { recursive: true });
      fs.symlinkSync(f.host, r('etc'));
      await put('/etc', [{ name: 'sentinel', data: 'pwned' }, { name: 'sub/new', data: 'n' }]);
      assert.equal(fs.readFileSync(join(r(f.host.slice(1)), 'sentinel'), 'utf8'), 'pwned');
      assert.ok(fs.existsSync(join(r(f.host.slice(1)), 'sub/new')));
      // ...and through the symlinks of the tar itself, absolute or climbing.
      await put('/', [
        { name: 'evil', type: 'symlink', linkname: f.host },
        { name: 'evil/sentinel', data: 'pwned2' },
        { name: 'up', type: 'symlink', linkname: '../../../../../../../..' },
        { name: `up${f.host}/up.txt`, data: 'u' },
      ]);
      assert.equal(fs.readFileSync(join(r(f.host.slice(1)), 'sentinel'), 'utf8'), 'pwned2');
      assert.ok(fs.existsSync(join(r(f.host.slice(1)), 'up.txt')));
      // The destination through a symlink to a host path that the root lacks.
      fs.rmSync(r(f.host.slice(1)), { recursive: true });
      await assert.rejects(put('/data/abslink', [{ name: 'sentinel', data: 'x' }]), kind('not-found', /Could not find the file \/data\/abslink in container c1/));
      hostUntouched();
    });

    it('refuses symlinks and hardlinks leading out of the destination, and hardlinks to host files', async () => {
      await assert.rejects(put('/tmp', [{ name: 'esc', type: 'symlink', linkname: '../etc' }]), kind('invalid', /^invalid symlink "\/tmp\/esc" -> "\.\.\/etc"$/));
      await assert.rejects(put('/tmp', [{ name: 'h', type: 'link', linkname: '../etc/passwd' }]), kind('invalid', /^invalid hardlink "\/etc\/passwd" -> "\.\.\/etc\/passwd"$/));
      await assert.rejects(put('/tmp', [{ name: 'h', type: 'link', linkname: '/../etc/passwd' }]), kind('invalid', /invalid hardlink/));
      assert.ok(!fs.existsSync(r('tmp/esc')) && !fs.existsSync(r('tmp/h')));
      // Absolute symlink targets are the container's business; climbing is fine at the root.
      await put('/tmp', [{ name: 'abs', type: 'symlink', linkname: '/etc' }]);
      await put('/', [{ name: 'rel', type: 'symlink', linkname: '../../etc' }]);
      // A hardlink through a symlink to a host path finds the root's path, where there is nothing.
      fs.symlinkSync(f.host, r('tmp/hostdir'));
      await assert.rejects(put('/tmp', [{ name: 'stolen', type: 'link', linkname: 'hostdir/secret.txt' }]), kind('invalid', /target does not exist/));
      await assert.rejects(put('/tmp', [{ name: 'h', type: 'link', linkname: '/' }]), kind('invalid', /target is a directory/));
      // Relative to the destination, with or without a leading slash.
      await put('/data', [{ name: 'h2', type: 'link', linkname: 'a.txt' }, { name: 'h3', type: 'link', linkname: '/a.txt' }]);
      assert.equal(fs.statSync(r('data/a.txt')).nlink, 4);
      hostUntouched();
    });

    it('replaces what is there but merges directories; noOverwriteDirNonDir refuses a swap', async () => {
      await assert.rejects(
        put('/data', [{ name: 'sub', data: 'file' }], { noOverwriteDirNonDir: true }),
        kind('conflict', /^cannot overwrite directory "\/data\/sub" with non-directory "\/data"$/),
      );
      await assert.rejects(
        put('/data', [{ name: 'a.txt', type: 'directory' }], { noOverwriteDirNonDir: true }),
        kind('conflict', /^cannot overwrite non-directory "\/data\/a.txt" with directory "\/data"$/),
      );
      assert.ok(fs.statSync(r('data/sub')).isDirectory() && fs.statSync(r('data/a.txt')).isFile());
      await put('/data', [{ name: 'sub/', type: 'directory', mode: 0o700 }, { name: 'sub/c', data: 'c' }], { noOverwriteDirNonDir: true });
      assert.deepEqual(fs.readdirSync(r('data/sub')).sort(), ['b', 'c']);
      assert.equal(fs.statSync(r('data/sub')).mode & 0o777, 0o700);
      await put('/data', [{ name: 'sub', data: 'file' }, { name: 'a.txt', type: 'directory' }, { name: 'rellink', data: 'plain' }]);
      assert.equal(fs.readFileSync(r('data/sub'), 'utf8'), 'file');
      assert.ok(fs.lstatSync(r('data/a.txt')).isDirectory());
      assert.equal(fs.readFileSync(r('data/rellink'), 'utf8'), 'plain');
      assert.equal(fs.readFileSync(r('etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n'); // not written through
    });

    it('checks the extraction point as Docker does', async () => {
      await assert.rejects(put('/nope', []), kind('not-found', /^Could not find the file \/nope in container c1$/));
      await assert.rejects(put('/data/a.txt', []), kind('invalid', /^extraction point is not a directory$/));
      await assert.rejects(put('/data/a.txt/x', []), kind('invalid', /not a directory/));
      await assert.rejects(put('/data/dangling', []), kind('not-found', /\/data\/dangling/));
      fs.symlinkSync('/tmp', r('data/tmplink'));
      await put('/data/tmplink', [{ name: 'via', data: 'v' }]);
      assert.ok(fs.existsSync(r('tmp/via')));
    });

    it('"./" is passed over; "/" sets the destination\'s metadata', async () => {
      await put('/tmp', [{ name: './', type: 'directory', mode: 0o700 }, { name: './f', data: 'x' }]);
      assert.equal(fs.statSync(r('tmp')).mode & 0o7777, 0o755);
      await put('/tmp', [{ name: '/', type: 'directory', mode: 0o1777, uid: 3, gid: 4 }]);
      assert.deepEqual([fs.statSync(r('tmp')).mode & 0o7777, fs.statSync(r('tmp')).uid], [0o1777, 3]);
      await assert.rejects(put('/tmp', [{ name: './', data: 'x' }], { noOverwriteDirNonDir: true }), kind('conflict', /cannot overwrite directory/));
    });

    it('sets binary xattrs byte for byte, but never overlayfs\'s own', async () => {
      await put('/tmp', rawTar([{ name: 'cap', xattrs: [['security.capability', CAP_V2], ['trusted.overlay.opaque', Buffer.from('y')], ['user.x', Buffer.from([0xff, 0])]] }]));
      assert.deepEqual(sys().lgetxattr(r('tmp/cap'), 'security.capability'), CAP_V2);
      assert.deepEqual(sys().lgetxattr(r('tmp/cap'), 'user.x'), Buffer.from([0xff, 0]));
      assert.equal(sys().lgetxattr(r('tmp/cap'), 'trusted.overlay.opaque'), null);
    });

    it('takes gzip, bzip2 and xz archives', async () => {
      const tar = await makeTar([{ name: 'z', data: 'zipped' }]);
      const squeeze = (cmd: string) => spawnSync(cmd, ['-c'], { input: tar }).stdout;
      for (const [name, data] of [['gz', gzipSync(tar)], ['bz2', squeeze('bzip2')], ['xz', squeeze('xz')]] as const) {
        fs.rmSync(r('tmp/z'), { force: true });
        await put('/tmp', data);
        assert.equal(fs.readFileSync(r('tmp/z'), 'utf8'), 'zipped', name);
      }
      await assert.rejects(put('/tmp', squeeze('bzip2').subarray(0, 30)), kind('invalid', /bzip2 archive is corrupt or truncated/));
    });

    it('fails on a malformed or truncated tar, and on abort, closing what it opened', async () => {
      const before = openFds();
      const tar = await makeTar([{ name: 'f', data: 'x'.repeat(5000) }]);
      await assert.rejects(put('/tmp', tar.subarray(0, 1000)), kind('invalid', /^invalid tar/));
      const bad = Buffer.from(tar);
      bad[150] ^= 1; // checksum
      await assert.rejects(put('/tmp', bad), kind('invalid', /^invalid tar/));
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(put('/tmp', tar, { signal: ac.signal }), { name: 'AbortError' });
      const slow = new Readable({ read() {} });
      const ac2 = new AbortController();
      const p = extractToRoot(f.rootfs, '/tmp', slow, { signal: ac2.signal });
      slow.push(tar.subarray(0, 600));
      setTimeout(() => ac2.abort(), 20);
      await assert.rejects(p, { name: 'AbortError' });
      assert.equal(openFds(), before);
    });
  });
});

// Helpers exercised without root: no fixture needed.
describe('copy helpers', () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    t = await tempDir('pier-copy-');
  });
  after(() => t?.remove());

  it('maps each file type to its Go FileMode bit', () => {
    const { S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK } = fs.constants;
    assert.deepEqual(
      [S_IFREG | 0o644, S_IFDIR | 0o755, S_IFLNK | 0o777, S_IFIFO | 0o644, S_IFCHR | 0o644, S_IFBLK | 0o660, S_IFREG | 0o2755].map(goFileMode),
      [420, 2147484141, 134218239, 33554852, 69206436, 67109296, 4194797],
    );
  });

  it('stats a plain tree as any user', async () => {
    fs.mkdirSync(join(t.dir, 'd'));
    fs.chmodSync(join(t.dir, 'd'), 0o750);
    const st = fs.statSync(join(t.dir, 'd'));
    assert.deepEqual({ ...(await statInRoot(t.dir, '/d/')), mtime: '' }, { name: 'd', size: st.size, mode: 2 ** 31 + 0o750, mtime: '', linkTarget: '' });
  });
});
