import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EngineError, messageOf } from '../../base/errdefs.js';
import { NodeHost } from '../../base/host.js';
import { withMounted } from '../mounted.js';
import { snapshotterSuite } from '../testsuite.js';
import { BtrfsSnapshotter } from './btrfs.js';

const host = new NodeHost();

/**
 * A btrfs file system in a sparse file on a loop device, for the length of
 * this file's tests. Made at load time so a missing tool or loop device turns
 * into a skip with the reason rather than a failure.
 */
async function loopBtrfs(): Promise<{ mnt: string; dispose: () => Promise<void> } | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'needs root' };
  const mkfs = await host.run('sh', ['-c', 'command -v mkfs.btrfs && command -v btrfs'], { allowFail: true });
  if (mkfs.code !== 0) return { skip: 'mkfs.btrfs or btrfs (btrfs-progs) is not installed' };
  const dir = await mkdtemp(join(tmpdir(), 'pier-btrfs-'));
  const img = join(dir, 'fs.img');
  const mnt = join(dir, 'mnt');
  const dispose = async (): Promise<void> => {
    await host.run('umount', [mnt], { allowFail: true });
    // mount -o loop sets autoclear, so this finds nothing unless the unmount failed or was lazy.
    const loops = await host.run('losetup', ['-j', img, '-O', 'NAME', '-n'], { allowFail: true });
    for (const dev of loops.stdout.split('\n').filter(Boolean)) await host.run('losetup', ['-d', dev.trim()], { allowFail: true });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await host.run('truncate', ['-s', '300M', img]);
    await host.run('mkfs.btrfs', ['-q', img]);
    await host.run('mkdir', [mnt]);
    await host.run('mount', ['-o', 'loop', img, mnt]);
    return { mnt, dispose };
  } catch (e) {
    await dispose();
    return { skip: `cannot mount a loop btrfs: ${messageOf(e)}` };
  }
}

const fs = await loopBtrfs();
after(async () => {
  if ('dispose' in fs) await fs.dispose();
});

const skip = 'skip' in fs ? fs.skip : false;
const mnt = 'mnt' in fs ? fs.mnt : '';

snapshotterSuite('btrfs', (root) => BtrfsSnapshotter.open(root, host), { needsRoot: true, skip, tmpdir: () => mnt });

describe('btrfs specifics', { skip }, () => {
  it('open refuses a root that is not on btrfs', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pier-btrfs-not-'));
    try {
      await assert.rejects(BtrfsSnapshotter.open(root, host), (e: unknown) => {
        assert.ok(e instanceof EngineError && e.kind === 'unavailable');
        assert.match(e.message, /needs its root .* on a btrfs file system/);
        return true;
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('committed snapshots and views are read-only subvolumes, active ones writable', async () => {
    const root = await mkdtemp(join(mnt, 'pier-btrfs-ro-'));
    const sn = await BtrfsSnapshotter.open(root, host);
    try {
      await withMounted(host, await sn.prepare('a', ''), (dir) => writeFile(join(dir, 'f'), '1'));
      await sn.commit('A', 'a');
      await sn.view('v', 'A');
      await sn.prepare('b', 'A');
      const ro = async (path: string) => (await host.run('btrfs', ['property', 'get', '-ts', path, 'ro'])).stdout.trim();
      assert.equal(await ro(join(root, 'snapshots', '1')), 'ro=true');
      assert.equal(await ro(join(root, 'active', '2')), 'ro=true');
      assert.equal(await ro(join(root, 'active', '3')), 'ro=false');
      await assert.rejects(writeFile(join(root, 'snapshots', '1', 'g'), 'x'), { code: 'EROFS' });
      const list = await host.run('btrfs', ['subvolume', 'list', '-o', root]);
      assert.equal(list.stdout.trim().split('\n').length, 3, 'commit deleted the active subvolume');
      await sn.remove('b');
      await sn.remove('v');
      await sn.remove('A');
      assert.equal((await host.run('btrfs', ['subvolume', 'list', '-o', root])).stdout.trim(), '');
    } finally {
      await sn.close();
      await rm(root, { recursive: true, force: true }).catch(() => undefined);
    }
  });
});
