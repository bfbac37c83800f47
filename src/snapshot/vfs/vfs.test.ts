import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NodeHost } from '../../base/host.js';
import { withMounted } from '../mounted.js';
import { snapshotterSuite } from '../testsuite.js';
import { VfsSnapshotter } from './vfs.js';

snapshotterSuite('vfs', (root) => VfsSnapshotter.open(root), { needsRoot: true });

describe('vfs specifics', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const host = new NodeHost();

  it('views copy nothing, active snapshots copy everything, and a crash leaves no debris', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pier-vfs-unit-'));
    try {
      let sn = await VfsSnapshotter.open(root, host);
      await withMounted(host, await sn.prepare('a', ''), (dir) => writeFile(join(dir, 'big'), randomBytes(1 << 20)));
      await sn.commit('A', 'a');
      await sn.view('v', 'A');
      await sn.prepare('b', 'A');
      assert.ok((await sn.usage('v')).size < 64 << 10, 'a view owns nothing');
      assert.ok((await sn.usage('b')).size >= 1 << 20, 'an active snapshot is a full copy');
      await sn.close();

      await mkdir(join(root, 'snapshots', '77'));
      await writeFile(join(root, 'snapshots', '77', 'half-copied'), 'x');
      sn = await VfsSnapshotter.open(root, host);
      assert.deepEqual((await readdir(join(root, 'snapshots'))).sort(), ['1', '2', '3']);
      assert.deepEqual((await sn.list()).map((s) => s.name).sort(), ['A', 'b', 'v']);
      await sn.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
