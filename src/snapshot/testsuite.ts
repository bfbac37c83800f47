/**
 * Conformance suite every Snapshotter passes. It checks what a user of the
 * seam can observe: files written through a prepared snapshot's mounts show in
 * views of the commit, layers stack (changes, deletions, opaque directories),
 * metadata and errors follow the lifecycle, data survives a reopen.
 *
 *   snapshotterSuite('overlay', (root) => OverlaySnapshotter.open(root), { needsRoot: true });
 *
 * Each test gets its own root under o.tmpdir() (default the system temp dir)
 * and removes every snapshot, mount and directory it made, also on failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EngineError, type ErrorKind } from '../base/errdefs.js';
import { NodeHost, type Host } from '../base/host.js';
import type { Mount } from '../base/mount.js';
import { sys } from '../base/sys.js';
import { withMounted } from './mounted.js';
import type { Snapshotter } from './snapshotter.js';

export interface SuiteOpts {
  /** Skips the suite (with that reason) unless running as root. */
  needsRoot?: boolean;
  /** A reason to skip the suite, e.g. a missing tool. */
  skip?: string | false;
  /** Parent directory for each test's root; read when the test runs, so a before() hook may create it. */
  tmpdir?: () => string;
}

const MiB = 1 << 20;

export function snapshotterSuite(name: string, open: (root: string) => Promise<Snapshotter>, o: SuiteOpts = {}): void {
  const skip = o.skip || (o.needsRoot && process.getuid?.() !== 0 ? 'needs root' : false);

  describe(`${name} snapshotter conformance`, { skip }, () => {
    const test = (title: string, fn: (f: Fixture) => Promise<void>): void => {
      it(title, () => withFixture(name, open, o.tmpdir?.() ?? tmpdir(), fn));
    };

    test('files written in a prepared snapshot show in a view of its commit', async (f) => {
      const mounts = await f.sn.prepare('base-key', '');
      await f.on(mounts, async (dir) => {
        await writeFile(join(dir, 'a'), 'one');
        await mkdir(join(dir, 'sub'));
        await writeFile(join(dir, 'sub', 'b'), 'two');
      });
      await f.sn.commit('base', 'base-key');
      assert.deepEqual(await f.look('base'), { a: 'one', 'sub/': 'dir', 'sub/b': 'two' });
    });

    test('an active snapshot keeps its files across unmounts, and mounts() repeats prepare', async (f) => {
      const mounts = await f.sn.prepare('act', '');
      assert.ok(mounts.length > 0);
      await f.on(mounts, (dir) => writeFile(join(dir, 'kept'), 'yes'));
      assert.deepEqual(await f.sn.mounts('act'), mounts);
      assert.deepEqual(await f.on(await f.sn.mounts('act'), tree), { kept: 'yes' });
    });

    test('views are read-only, also on the empty parent', async (f) => {
      await f.layer('base', '', (dir) => writeFile(join(dir, 'a'), 'one'));
      for (const parent of ['base', '']) {
        await f.sn.view('v', parent);
        await f.on(await f.sn.mounts('v'), async (dir) => {
          await assert.rejects(writeFile(join(dir, 'new'), 'x'), { code: 'EROFS' });
          await assert.rejects(mkdir(join(dir, 'newdir')), { code: 'EROFS' });
          assert.deepEqual(await tree(dir), parent ? { a: 'one' } : {});
        });
        await f.sn.remove('v');
      }
    });

    test('a file deleted in a child is absent from the child but still in the parent', async (f) => {
      await f.layer('parent', '', async (dir) => {
        await writeFile(join(dir, 'doomed'), 'x');
        await writeFile(join(dir, 'stays'), 'y');
      });
      await f.layer('child', 'parent', (dir) => unlink(join(dir, 'doomed')));
      assert.deepEqual(await f.look('child'), { stays: 'y' });
      assert.deepEqual(await f.look('parent'), { doomed: 'x', stays: 'y' });
    });

    test('a chain of three layers stacks changes, deletions and replaced directories', async (f) => {
      await f.layer('l1', '', async (dir) => {
        await writeFile(join(dir, 'a'), '1');
        await writeFile(join(dir, 'b'), '1');
        await mkdir(join(dir, 'd'));
        await writeFile(join(dir, 'd', 'old'), '1');
        await writeFile(join(dir, 'keep'), 'k');
      });
      await f.layer('l2', 'l1', async (dir) => {
        await writeFile(join(dir, 'a'), '2');
        await unlink(join(dir, 'b'));
        await writeFile(join(dir, 'c'), '2');
        // Deleted and made again: none of the old entries may show through.
        await rm(join(dir, 'd'), { recursive: true });
        await mkdir(join(dir, 'd'));
        await writeFile(join(dir, 'd', 'new'), '2');
      });
      await f.layer('l3', 'l2', async (dir) => {
        await writeFile(join(dir, 'c'), '3');
        await writeFile(join(dir, 'b'), '3');
        await writeFile(join(dir, 'd', 'more'), '3');
      });
      const l1 = { a: '1', b: '1', 'd/': 'dir', 'd/old': '1', keep: 'k' };
      const l2 = { a: '2', c: '2', 'd/': 'dir', 'd/new': '2', keep: 'k' };
      const l3 = { a: '2', b: '3', c: '3', 'd/': 'dir', 'd/new': '2', 'd/more': '3', keep: 'k' };
      assert.deepEqual(await f.look('l1'), l1);
      assert.deepEqual(await f.look('l2'), l2);
      assert.deepEqual(await f.look('l3'), l3);

      // An active snapshot on the top shows it all, and writing there changes no layer.
      const mounts = await f.sn.prepare('rw', 'l3');
      await f.on(mounts, async (dir) => {
        assert.deepEqual(await tree(dir), l3);
        await writeFile(join(dir, 'a'), 'changed');
        await unlink(join(dir, 'keep'));
      });
      assert.deepEqual(await f.look('l3'), l3);
      assert.deepEqual(await f.look('l1'), l1);
    });

    test('changes in an active snapshot do not leak into its parent or siblings', async (f) => {
      await f.layer('base', '', (dir) => writeFile(join(dir, 'shared'), 's'));
      const a = await f.sn.prepare('a', 'base');
      const b = await f.sn.prepare('b', 'base');
      await f.on(a, async (dir) => {
        await writeFile(join(dir, 'shared'), 'changed by a');
        await writeFile(join(dir, 'only-a'), 'a');
      });
      assert.deepEqual(await f.on(b, tree), { shared: 's' });
      assert.deepEqual(await f.look('base'), { shared: 's' });
      assert.deepEqual(await f.on(a, tree), { shared: 'changed by a', 'only-a': 'a' });
    });

    test('owners, modes, times, links, devices, fifos and xattrs survive layering', async (f) => {
      const when = new Date('2001-02-03T04:05:06Z');
      await f.layer('base', '', async (dir) => {
        await chmod(dir, 0o750);
        await writeFile(join(dir, 'f'), 'data');
        await chown(join(dir, 'f'), 1234, 5678);
        await chmod(join(dir, 'f'), 0o640);
        sys().lsetxattr(join(dir, 'f'), 'user.pier', Buffer.from('yes'));
        await utimes(join(dir, 'f'), when, when);
        await link(join(dir, 'f'), join(dir, 'hard'));
        await symlink('f', join(dir, 'sym'));
        await mkdir(join(dir, 'private'), { mode: 0o700 });
        await chown(join(dir, 'private'), 42, 42);
        sys().mknod(join(dir, 'null'), 0o20666, 1, 3); // S_IFCHR
        await f.host.run('mkfifo', [join(dir, 'fifo')]);
      });
      await f.layer('child', 'base', (dir) => writeFile(join(dir, 'other'), 'x'));
      for (const name of ['base', 'child']) {
        await f.look(name, async (dir) => {
          assert.equal((await stat(dir)).mode & 0o7777, 0o750, `${name}: root mode`);
          const st = await lstat(join(dir, 'f'));
          assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o640], `${name}: owner and mode`);
          assert.equal(st.mtime.getTime(), when.getTime(), `${name}: mtime`);
          assert.equal(sys().lgetxattr(join(dir, 'f'), 'user.pier')?.toString(), 'yes', `${name}: xattr`);
          const hard = await lstat(join(dir, 'hard'));
          assert.equal(hard.ino, st.ino, `${name}: hard link`);
          assert.equal(st.nlink, 2, `${name}: link count`);
          assert.equal(await readlink(join(dir, 'sym')), 'f', `${name}: symlink`);
          const priv = await lstat(join(dir, 'private'));
          assert.deepEqual([priv.uid, priv.mode & 0o7777], [42, 0o700], `${name}: directory owner and mode`);
          const dev = await lstat(join(dir, 'null'));
          assert.ok(dev.isCharacterDevice() && dev.rdev === ((1 << 8) | 3), `${name}: device node`);
          assert.ok((await lstat(join(dir, 'fifo'))).isFIFO(), `${name}: fifo`);
        });
      }
    });

    test('stat and list show kind, parent, labels and creation time', async (f) => {
      await f.sn.prepare('a', '', { labels: { stage: 'extract' } });
      const active = await f.sn.stat('a');
      assert.deepEqual({ ...active, created: '' }, { name: 'a', parent: '', kind: 'active', labels: { stage: 'extract' }, created: '' });
      assert.ok(!Number.isNaN(Date.parse(active.created)) && /Z$|[+-]\d\d:\d\d$/.test(active.created), 'created is RFC 3339');

      await f.sn.commit('A', 'a', { labels: { layer: 'yes' } });
      await kind(f.sn.stat('a'), 'not-found');
      const committed = await f.sn.stat('A');
      assert.deepEqual([committed.kind, committed.parent, committed.labels], ['committed', '', { layer: 'yes' }]);

      await f.sn.view('v', 'A');
      await f.sn.prepare('c', 'A');
      assert.deepEqual([(await f.sn.stat('v')).kind, (await f.sn.stat('v')).parent], ['view', 'A']);
      const listed = (await f.sn.list()).map((s) => [s.name, s.kind, s.parent]).sort();
      assert.deepEqual(listed, [['A', 'committed', ''], ['c', 'active', 'A'], ['v', 'view', 'A']]);
    });

    test('remove refuses snapshots with children, then works leaf first', async (f) => {
      await f.layer('base', '', (dir) => writeFile(join(dir, 'a'), '1'));
      await f.layer('mid', 'base', (dir) => writeFile(join(dir, 'b'), '2'));
      await f.sn.prepare('top', 'mid');
      await f.sn.view('look', 'base');
      await kind(f.sn.remove('base'), 'conflict', /child/);
      await kind(f.sn.remove('mid'), 'conflict', /child/);
      assert.deepEqual(await f.look('mid'), { a: '1', b: '2' }, 'a refused remove changes nothing');

      await f.sn.remove('top');
      await f.sn.remove('mid');
      await kind(f.sn.remove('base'), 'conflict', /child/); // the view still stands on it
      await f.sn.remove('look');
      await f.sn.remove('base');
      assert.deepEqual(await f.sn.list(), []);
      await kind(f.sn.stat('base'), 'not-found');
      await kind(f.sn.remove('base'), 'not-found');
      // Names are free again.
      await f.layer('base', '', (dir) => writeFile(join(dir, 'again'), '3'));
      assert.deepEqual(await f.look('base'), { again: '3' });
    });

    test('errors follow the lifecycle', async (f) => {
      await f.layer('base', '', (dir) => writeFile(join(dir, 'a'), '1'));
      await f.sn.prepare('act', 'base');
      await f.sn.view('v', 'base');
      const before = await f.sn.list();

      await kind(f.sn.prepare('act', 'base'), 'conflict', /snapshot act already exists/);
      await kind(f.sn.prepare('base', ''), 'conflict', /already exists/);
      await kind(f.sn.view('v', ''), 'conflict', /already exists/);
      await kind(f.sn.prepare('x', 'nope'), 'not-found');
      await kind(f.sn.prepare('x', 'act'), 'invalid', /not committed/);
      await kind(f.sn.view('x', 'v'), 'invalid', /not committed/);
      await kind(f.sn.prepare('', 'base'), 'invalid');
      await kind(f.sn.commit('y', 'nope'), 'not-found');
      await kind(f.sn.commit('base', 'act'), 'conflict', /already exists/);
      await kind(f.sn.commit('y', 'v'), 'invalid');
      await kind(f.sn.commit('y', 'base'), 'invalid');
      for (const call of [f.sn.mounts('nope'), f.sn.stat('nope'), f.sn.usage('nope'), f.sn.remove('nope')])
        await kind(call, 'not-found');

      assert.deepEqual(await f.sn.list(), before, 'failed calls change nothing');
      assert.deepEqual(await f.on(await f.sn.mounts('act'), tree), { a: '1' });
    });

    test('usage counts allocated bytes of the snapshot, each inode once', async (f) => {
      await f.layer('base', '', async (dir) => {
        await writeFile(join(dir, 'big'), randomBytes(MiB));
        await link(join(dir, 'big'), join(dir, 'big-again'));
        for (let i = 0; i < 10; i++) await writeFile(join(dir, `small${i}`), `${i}`);
      });
      const base = await f.sn.usage('base');
      assert.ok(base.size >= MiB, `size ${base.size} counts the 1 MiB file`);
      assert.ok(base.size < 2 * MiB, `size ${base.size} counts the hard-linked file once`);
      assert.ok(base.inodes >= 12, `inodes ${base.inodes}: root, big, 10 small`);

      const mounts = await f.sn.prepare('w', 'base');
      const u0 = await f.sn.usage('w');
      await f.on(mounts, (dir) => writeFile(join(dir, 'more'), randomBytes(MiB / 2)));
      const u1 = await f.sn.usage('w');
      assert.ok(u1.size - u0.size >= MiB / 2, `writing 512 KiB grew usage from ${u0.size} to ${u1.size}`);
      assert.equal(u1.inodes, u0.inodes + 1);
    });

    test('concurrent prepares: distinct keys all succeed, one key wins once', async (f) => {
      await f.layer('base', '', (dir) => writeFile(join(dir, 'a'), '1'));
      const same = await Promise.allSettled([1, 2, 3, 4].map(() => f.sn.prepare('same', 'base')));
      assert.equal(same.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of same) if (r.status === 'rejected') assert.equal((r.reason as EngineError).kind, 'conflict');

      const keys = [0, 1, 2, 3, 4, 5].map((i) => `k${i}`);
      const all = await Promise.all(keys.map((k) => f.sn.prepare(k, 'base')));
      assert.equal(new Set(all.map((m) => JSON.stringify(m))).size, keys.length, 'each gets its own mounts');
      await Promise.all(all.map((m, i) => f.on(m, (dir) => writeFile(join(dir, `mine${i}`), `${i}`))));
      const seen = await Promise.all(all.map((m) => f.on(m, tree)));
      seen.forEach((t, i) => assert.deepEqual(t, { a: '1', [`mine${i}`]: `${i}` }));
      await Promise.all(keys.map((k, i) => f.sn.commit(`c${i}`, k)));
      assert.equal((await f.sn.list()).filter((s) => s.kind === 'committed').length, 1 + keys.length);
    });

    test('reopening the root keeps snapshots, their data and their metadata', async (f) => {
      await f.layer('base', '', (dir) => writeFile(join(dir, 'a'), '1'), { labels: { l: 'v' } });
      await f.on(await f.sn.prepare('act', 'base'), (dir) => writeFile(join(dir, 'b'), '2'));
      const before = await f.sn.list();
      await f.reopen();
      assert.deepEqual(await f.sn.list(), before);
      assert.deepEqual(await f.look('base'), { a: '1' });
      assert.deepEqual(await f.on(await f.sn.mounts('act'), tree), { a: '1', b: '2' });
      await f.sn.commit('next', 'act');
      assert.deepEqual(await f.look('next'), { a: '1', b: '2' });
    });

    test('reports a driver name and status pairs', async (f) => {
      assert.ok(f.sn.driver.length > 0);
      for (const pair of await f.sn.status()) {
        assert.equal(pair.length, 2);
        assert.ok(pair.every((s) => typeof s === 'string'));
      }
    });
  });
}

/** What a test works with: the snapshotter at a fresh root and helpers that always unmount. */
export interface Fixture {
  sn: Snapshotter;
  root: string;
  host: Host;
  /** Closes the snapshotter and opens a new one on the same root. */
  reopen(): Promise<void>;
  /** Mounts mounts on a temporary directory for fn. */
  on<T>(mounts: Mount[], fn: (dir: string) => Promise<T>): Promise<T>;
  /** Prepares a layer on parent, lets write fill it, commits it as name. */
  layer(name: string, parent: string, write: (dir: string) => Promise<void>, o?: { labels?: Record<string, string> }): Promise<void>;
  /** Looks at the committed snapshot name through a view: by default its tree. */
  look(name: string): Promise<Tree>;
  look<T>(name: string, fn: (dir: string) => Promise<T>): Promise<T>;
}

async function withFixture(
  name: string,
  open: (root: string) => Promise<Snapshotter>,
  base: string,
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const host = new NodeHost();
  const root = await mkdtemp(join(base, `pier-${name}-`));
  let views = 0;
  let sn: Snapshotter | undefined;
  const f: Fixture = {
    get sn(): Snapshotter {
      if (!sn) throw new Error('snapshotter is not open');
      return sn;
    },
    root,
    host,
    async reopen() {
      const old = sn;
      sn = undefined;
      await old?.close();
      sn = await open(root);
    },
    on: (mounts, fn) => withMounted(host, mounts, fn),
    async layer(name, parent, write, o = {}) {
      const key = `${name}-extract`;
      await f.on(await f.sn.prepare(key, parent), write);
      await f.sn.commit(name, key, o.labels ? { labels: o.labels } : {});
    },
    async look<T>(name: string, fn: (dir: string) => Promise<T> = tree as (dir: string) => Promise<T>): Promise<T> {
      const key = `look-${views++}`;
      const mounts = await f.sn.view(key, name);
      try {
        return await f.on(mounts, fn);
      } finally {
        await f.sn.remove(key);
      }
    },
  } as Fixture;

  // The first failure wins: cleanup errors must not hide why the test failed.
  let failure: { error: unknown } | undefined;
  try {
    sn = await open(root);
    await fn(f);
  } catch (e) {
    failure = { error: e };
  }
  try {
    if (sn) {
      await removeAll(sn);
      await sn.close();
    }
  } catch (e) {
    failure ??= { error: e };
  }
  await rm(root, { recursive: true, force: true }).catch((e) => (failure ??= { error: e }));
  if (failure) throw failure.error;
}

/** Removes every snapshot, children before parents. */
async function removeAll(sn: Snapshotter): Promise<void> {
  for (;;) {
    const all = await sn.list();
    const parents = new Set(all.map((s) => s.parent));
    const leaves = all.filter((s) => !parents.has(s.name));
    if (!leaves.length) return;
    for (const s of leaves) await sn.remove(s.name);
  }
}

/** A directory's contents, for deepEqual: 'path' → file text, 'dir/' → 'dir', 'link' → '-> target'. */
export type Tree = Record<string, string>;

export async function tree(dir: string, prefix = ''): Promise<Tree> {
  const out: Tree = {};
  for (const n of (await readdir(dir)).sort()) {
    const p = join(dir, n);
    const st = await lstat(p);
    if (st.isDirectory()) {
      out[`${prefix}${n}/`] = 'dir';
      Object.assign(out, await tree(p, `${prefix}${n}/`));
    } else if (st.isSymbolicLink()) out[prefix + n] = `-> ${await readlink(p)}`;
    else if (st.isFile()) out[prefix + n] = await readFile(p, 'utf8');
    else out[prefix + n] = 'special';
  }
  return out;
}

/** Asserts that p rejects with an EngineError of that kind (and message). */
async function kind(p: Promise<unknown>, k: ErrorKind, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
    assert.equal(e.kind, k, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}
