import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../base/db.js';
import { nullLogger } from '../base/log.js';
import { NodeHost } from '../base/host.js';
import { sha256, type Digest } from '../base/digest.js';
import { IMAGE_MIGRATIONS, ImageStore } from '../image/store.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { Layers, chainIdOf, chainIds } from './layers.js';

/** A snapshotter that only records removals: prune's decisions are what is under test. */
function recordingSnapshotter(removed: string[]): Snapshotter {
  return { remove: async (k: string) => void removed.push(k) } as unknown as Snapshotter;
}

/** A store with two stacked layers, l1 (10 bytes) under l2 (20 bytes), that no image uses. */
function twoLayers() {
  const meta = new ImageStore(openDb(':memory:', IMAGE_MIGRATIONS));
  const removed: string[] = [];
  const layers = new Layers(recordingSnapshotter(removed), new NodeHost(), meta, nullLogger);
  const [l1, l2] = chainIds([sha256('one'), sha256('two')]) as [Digest, Digest];
  meta.putLayer({ chainId: l1, diffId: sha256('one'), parent: '', size: 10 });
  meta.putLayer({ chainId: l2, diffId: sha256('two'), parent: l1, size: 20 });
  return { layers, removed, l1, l2 };
}

describe('Layers', () => {
  it('computes chain IDs as the OCI spec says', () => {
    const a = sha256('a');
    const b = sha256('b');
    assert.deepEqual(chainIds([a, b]), [a, sha256(`${a} ${b}`)]);
    assert.equal(chainIdOf('', a), a);
  });

  it('prunes unreferenced layers top down, but never held ones', async () => {
    const { layers, removed, l1, l2 } = twoLayers();

    const release = layers.hold([l1, l2]);
    assert.equal(await layers.prune(new Set()), 0);
    assert.deepEqual(removed, [], 'an image being assembled keeps its layers');

    release();
    release(); // idempotent
    assert.equal(await layers.prune(new Set()), 30);
    assert.deepEqual(removed, [l2, l1], 'child first, then its parent');
    assert.equal(layers.has(l1) || layers.has(l2), false);
  });

  it('keeps the chains an image still uses', async () => {
    const { layers, removed, l1, l2 } = twoLayers();
    assert.equal(await layers.prune(new Set([l1])), 20);
    assert.deepEqual(removed, [l2]);
  });
});
