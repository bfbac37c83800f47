import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EngineError } from '../../base/errdefs.js';
import { NodeHost, type Host, type RunResult } from '../../base/host.js';
import type { Mount } from '../../base/mount.js';
import { withMounted } from '../mounted.js';
import { snapshotterSuite, tree } from '../testsuite.js';
import { OverlaySnapshotter } from './overlay.js';

snapshotterSuite('overlay', (root) => OverlaySnapshotter.open(root), { needsRoot: true });

/** Records mounts instead of making them, so the layout logic runs without root. */
class RecordingHost implements Host {
  readonly mounts: [Mount, string][] = [];
  constructor(private readonly failMount?: Error) {}
  async run(): Promise<RunResult> {
    return { code: 0, stdout: '', stderr: '' };
  }
  async mount(m: Mount, target: string): Promise<void> {
    if (this.failMount) throw this.failMount;
    this.mounts.push([m, target]);
  }
  async unmount(): Promise<void> {}
}

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'pier-overlay-unit-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const lowerdirOf = (m: Mount[]): string[] =>
  m[0]!.options.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length).split(':');

describe('overlay layout (recording host)', () => {
  it('open mounts a test overlay inside root and leaves nothing behind', async () => {
    await withRoot(async (root) => {
      const host = new RecordingHost();
      const sn = await OverlaySnapshotter.open(root, host);
      assert.equal(host.mounts.length, 1);
      const [m, target] = host.mounts[0]!;
      assert.equal(m.type, 'overlay');
      assert.ok(target.startsWith(join(root, 'snapshots', 'check-')));
      assert.deepEqual(await readdir(join(root, 'snapshots')), []);
      assert.equal(sn.driver, 'overlay2');
      await sn.close();
    });
  });

  it('open fails with unavailable, saying why, when overlay cannot be mounted', async () => {
    await withRoot(async (root) => {
      const host = new RecordingHost(Object.assign(new Error('mount: no such device'), { code: 'ENODEV' }));
      await assert.rejects(OverlaySnapshotter.open(root, host), (e: unknown) => {
        assert.ok(e instanceof EngineError && e.kind === 'unavailable');
        assert.match(e.message, /cannot mount overlay.*no such device.*vfs/);
        return true;
      });
      assert.deepEqual(await readdir(join(root, 'snapshots')), [], 'the test mount directory is gone');
    });
  });

  it('mounts: bind on the empty parent, overlay with lowerdir nearest first, read-only binds for one layer', async () => {
    await withRoot(async (root) => {
      const sn = await OverlaySnapshotter.open(root, new RecordingHost());
      const dir = (id: number) => join(root, 'snapshots', String(id));
      const fs = (id: number) => join(dir(id), 'fs');

      assert.deepEqual(await sn.prepare('a', ''), [{ type: 'bind', source: fs(1), options: ['rbind', 'rw'] }]);
      await sn.commit('A', 'a');
      assert.deepEqual(await sn.prepare('b', 'A'), [
        {
          type: 'overlay',
          source: 'overlay',
          options: ['index=off', `workdir=${join(dir(2), 'work')}`, `upperdir=${fs(2)}`, `lowerdir=${fs(1)}`],
        },
      ]);
      await sn.commit('B', 'b');
      assert.deepEqual(lowerdirOf(await sn.prepare('c', 'B')), [fs(2), fs(1)]);

      assert.deepEqual(await sn.view('v0', ''), [{ type: 'bind', source: fs(4), options: ['rbind', 'ro'] }]);
      assert.deepEqual(await sn.view('v1', 'A'), [{ type: 'bind', source: fs(1), options: ['rbind', 'ro'] }]);
      const v2 = await sn.view('v2', 'B');
      assert.deepEqual(v2, [{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${fs(2)}:${fs(1)}`, 'ro'] }]);
      // Committed snapshots mount read-only as themselves on their parents.
      assert.deepEqual(await sn.mounts('B'), v2);
      assert.deepEqual(await sn.mounts('A'), [{ type: 'bind', source: fs(1), options: ['rbind', 'ro'] }]);
      await sn.close();
    });
  });

  it('refuses, with invalid, a chain whose lowerdir list would not fit in a page', async () => {
    await withRoot(async (root) => {
      const sn = await OverlaySnapshotter.open(root, new RecordingHost());
      let parent = '';
      let depth = 0;
      let refused: unknown;
      for (; depth < 200; depth++) {
        try {
          await sn.prepare(`k${depth}`, parent);
        } catch (e) {
          refused = e;
          break;
        }
        await sn.commit(`l${depth}`, `k${depth}`);
        parent = `l${depth}`;
      }
      assert.ok(refused instanceof EngineError && refused.kind === 'invalid', String(refused));
      assert.match(refused.message, /layers.*4095/);
      assert.ok(depth > 60, `only ${depth} layers fit`);
      // The refused snapshot left neither a record nor a directory.
      await assert.rejects(sn.stat(`k${depth}`), { kind: 'not-found' });
      assert.equal((await readdir(join(root, 'snapshots'))).length, depth);
      // A view needs no upperdir or workdir, so it gets a little further.
      await sn.view('v', parent);
      await sn.close();
    });
  });

  it('open deletes debris a crash left: unrecorded directories and a half-written metadata file', async () => {
    await withRoot(async (root) => {
      let sn = await OverlaySnapshotter.open(root, new RecordingHost());
      await sn.prepare('a', '');
      await sn.close();
      await mkdir(join(root, 'snapshots', '99', 'fs'), { recursive: true });
      await mkdir(join(root, 'snapshots', 'check-xyz'));
      await writeFile(join(root, 'metadata.json.tmp'), '{"trunc');
      sn = await OverlaySnapshotter.open(root, new RecordingHost());
      assert.deepEqual(await readdir(join(root, 'snapshots')), ['1']);
      assert.deepEqual((await sn.list()).map((s) => s.name), ['a']);
      // Ids are not reused: the next snapshot does not land in a directory of an old one.
      assert.deepEqual(await sn.prepare('b', ''), [{ type: 'bind', source: join(root, 'snapshots', '2', 'fs'), options: ['rbind', 'rw'] }]);
      await sn.close();
    });
  });

  it('status names the backing file system', async () => {
    await withRoot(async (root) => {
      const sn = await OverlaySnapshotter.open(root, new RecordingHost());
      const status = await sn.status();
      assert.deepEqual(status.map(([k]) => k), ['Backing Filesystem', 'Supports d_type']);
      assert.ok(status[0]![1].length > 0);
      await sn.close();
    });
  });
});

describe('overlay on the kernel', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const host = new NodeHost();

  it('usage of a layer counts only its own changes', async () => {
    await withRoot(async (root) => {
      const sn = await OverlaySnapshotter.open(root, host);
      try {
        await withMounted(host, await sn.prepare('a', ''), (dir) => writeFile(join(dir, 'big'), randomBytes(1 << 20)));
        await sn.commit('A', 'a');
        await withMounted(host, await sn.prepare('b', 'A'), (dir) => writeFile(join(dir, 'small'), 'x'));
        assert.ok((await sn.usage('A')).size >= 1 << 20);
        assert.ok((await sn.usage('b')).size < 64 << 10, 'the parent is not counted');
        await sn.remove('b');
        await sn.remove('A');
      } finally {
        await sn.close();
      }
    });
  });

  it('the deepest chain the limit allows really mounts', async () => {
    await withRoot(async (root) => {
      const sn = await OverlaySnapshotter.open(root, host);
      try {
        let parent = '';
        for (let i = 0; ; i++) {
          let mounts: Mount[];
          try {
            mounts = await sn.prepare(`k${i}`, parent);
          } catch (e) {
            assert.ok(e instanceof EngineError && e.kind === 'invalid', String(e));
            break;
          }
          await withMounted(host, mounts, (dir) => writeFile(join(dir, `f${i}`), `${i}`));
          await sn.commit(`l${i}`, `k${i}`);
          parent = `l${i}`;
        }
        const depth = Number(parent.slice(1)) + 1;
        const files = await withMounted(host, await sn.view('v', parent), tree);
        assert.equal(Object.keys(files).length, depth);
        assert.equal(files[`f${depth - 1}`], `${depth - 1}`);
        assert.equal(files.f0, '0');
      } finally {
        await sn.close();
      }
    });
  });
});
