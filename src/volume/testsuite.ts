/**
 * Conformance suite every VolumeDriver passes. It checks what the engine can
 * observe through the seam: create is idempotent and keeps labels and options
 * as given, data written through a mount stays in the volume, refs count users
 * and hold off removal, errors come as kinds, records survive a reopen. With
 * `mountOptions` (options that make the driver mount something, such as a
 * tmpfs) it also checks that the first ref mounts and the last one unmounts.
 *
 *   volumeDriverSuite('local', (root) => LocalDriver.open(join(root, 'volumes'), db, host), {
 *     mountOptions: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' }, needsRoot: true,
 *   });
 *
 * `open(root)` is called again on the same root to check persistence. Each
 * test has its own root under the system temp dir, removed afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EngineError, type ErrorKind } from '../base/errdefs.js';
import type { VolumeDriver } from './volume.js';

export interface VolumeSuiteOpts {
  needsRoot?: boolean;
  skip?: string | false;
  /** Driver options under which the driver mounts at the first ref (e.g. a tmpfs). */
  mountOptions?: Record<string, string>;
}

const kind = (k: ErrorKind) => (e: unknown) => e instanceof EngineError && e.kind === k;

async function mountedAt(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info.split('\n').some((l) => unescape(l.split(' ')[4] ?? '') === path);
}

export function volumeDriverSuite(name: string, open: (root: string) => Promise<VolumeDriver>, o: VolumeSuiteOpts = {}): void {
  const skip = o.skip || (o.needsRoot && process.getuid?.() !== 0 ? 'needs root' : false);

  describe(`${name} volume driver conformance`, { skip }, () => {
    const test = (title: string, fn: (d: VolumeDriver, root: string) => Promise<void>, needsMount = false): void => {
      it(title, { skip: needsMount && !o.mountOptions ? 'the driver has no mounting options' : false }, async () => {
        const root = await mkdtemp(join(tmpdir(), `pier-volumes-${name.replace(/[^a-z0-9]+/gi, '-')}-`));
        const d = await open(root);
        try {
          await fn(d, root);
        } finally {
          for (const v of await d.list().catch(() => [])) {
            for (const ref of d.refs(v.name)) await d.unmount(v.name, ref).catch(() => undefined);
            await d.remove(v.name).catch(() => undefined);
          }
          await d.close();
          await rm(root, { recursive: true, force: true });
        }
      });
    };

    test('create makes a volume with a data directory; create again returns it unchanged', async (d) => {
      const v = await d.create('data', { labels: { a: '1' }, options: {} });
      assert.equal(v.name, 'data');
      assert.equal(v.driver, d.name);
      assert.equal(v.scope, d.scope);
      assert.deepEqual(v.labels, { a: '1' });
      assert.deepEqual(v.options, {});
      assert.ok(v.createdNs > 0);
      assert.ok(existsSync(v.mountpoint), 'the data directory exists');
      const again = await d.create('data', { labels: { b: '2' } });
      assert.deepEqual(again, v);
      const bare = await d.create('bare');
      assert.equal(bare.labels, null, 'no labels given: null, not {}');
      assert.equal(bare.options, null);
    });

    test('get and list read the records', async (d) => {
      assert.equal(await d.get('nope'), undefined);
      await d.create('one');
      await d.create('two');
      assert.equal((await d.get('one'))?.name, 'one');
      assert.deepEqual((await d.list()).map((v) => v.name).sort(), ['one', 'two']);
    });

    test('data written through a mount stays in the volume', async (d) => {
      await d.create('keep');
      const p = await d.mount('keep', 'c1');
      await writeFile(join(p, 'f'), 'hello');
      await d.unmount('keep', 'c1');
      const again = await d.mount('keep', 'c2');
      assert.equal(await readFile(join(again, 'f'), 'utf8'), 'hello');
      await d.unmount('keep', 'c2');
    });

    test('refs hold off removal until the last one is gone', async (d) => {
      const v = await d.create('shared');
      await d.mount('shared', 'a');
      await d.mount('shared', 'b');
      await d.mount('shared', 'b'); // a ref counts once
      assert.deepEqual(d.refs('shared').sort(), ['a', 'b']);
      await assert.rejects(d.remove('shared'), kind('conflict'));
      await d.unmount('shared', 'a');
      await d.unmount('shared', 'nobody'); // ignored
      assert.deepEqual(d.refs('shared'), ['b']);
      await assert.rejects(d.remove('shared'), kind('conflict'));
      await d.unmount('shared', 'b');
      await d.remove('shared');
      assert.equal(await d.get('shared'), undefined);
      assert.ok(!existsSync(v.mountpoint), 'the data is gone');
    });

    test('unknown volumes: not-found for mount and remove, nothing for unmount', async (d) => {
      await assert.rejects(d.mount('ghost', 'c'), kind('not-found'));
      await assert.rejects(d.remove('ghost'), kind('not-found'));
      await d.unmount('ghost', 'c');
    });

    test('names that could leave the root are invalid and create nothing', async (d, root) => {
      const before = await readdir(root, { recursive: true });
      for (const bad of ['../x', 'a/b', '.hidden', 'x', '', 'a b', '/abs'])
        await assert.rejects(d.create(bad), kind('invalid'), `name ${JSON.stringify(bad)}`);
      assert.deepEqual(await readdir(root, { recursive: true }), before);
      assert.deepEqual(await d.list(), []);
    });

    test('records survive a reopen', async (d, root) => {
      const v = await d.create('persist', { labels: { k: 'v' }, options: o.mountOptions ?? {} });
      await d.create('plain');
      await d.close();
      const d2 = await open(root);
      try {
        assert.deepEqual(await d2.get('persist'), v);
        assert.deepEqual((await d2.list()).map((x) => x.name).sort(), ['persist', 'plain']);
      } finally {
        await d2.close();
      }
    });

    test('with mount options the first ref mounts and the last unmounts', async (d) => {
      const v = await d.create('mounted', { options: o.mountOptions! });
      assert.equal(await mountedAt(v.mountpoint), false, 'nothing mounted before a user comes');
      const p = await d.mount('mounted', 'a');
      assert.equal(p, v.mountpoint);
      assert.equal(await mountedAt(v.mountpoint), true);
      await d.mount('mounted', 'b');
      await d.unmount('mounted', 'a');
      assert.equal(await mountedAt(v.mountpoint), true, 'still used by b');
      await d.unmount('mounted', 'b');
      assert.equal(await mountedAt(v.mountpoint), false, 'the last user unmounted it');
    }, true);

    test('a restored ref keeps a mount made before a reopen, and its unmount undoes it', async (d, root) => {
      const v = await d.create('live', { options: o.mountOptions! });
      await d.mount('live', 'ctr');
      await d.close();
      const d2 = await open(root);
      try {
        assert.deepEqual(d2.refs('live'), []);
        d2.restore('live', 'ctr');
        assert.deepEqual(d2.refs('live'), ['ctr']);
        await assert.rejects(d2.remove('live'), kind('conflict'));
        await d2.unmount('live', 'ctr');
        assert.equal(await mountedAt(v.mountpoint), false);
        await d2.remove('live');
      } finally {
        await d2.close();
      }
    }, true);
  });
}
