/**
 * What the three drivers share: the Snapshotter lifecycle kept in SnapshotMeta
 * records (meta.ts). A driver says how a snapshot is made on disk (`create`),
 * shown (`mounts`), measured and removed; `commit` defaults to flipping the
 * record, which is all overlay and vfs need (btrfs seals a read-only subvolume).
 */
import type { Mount } from '../base/mount.js';
import type { SnapshotMeta } from './meta.js';
import type { SnapshotInfo, SnapshotOpts, Snapshotter, Usage } from './snapshotter.js';

export abstract class RecordedSnapshotter implements Snapshotter {
  abstract readonly driver: string;

  protected constructor(protected readonly meta: SnapshotMeta) {}

  /** Makes the snapshot's directory (an active one writable, a view read-only) and returns its mounts. */
  protected abstract create(kind: 'active' | 'view', key: string, parent: string, o: SnapshotOpts): Promise<Mount[]>;
  abstract mounts(key: string): Promise<Mount[]>;
  abstract remove(key: string): Promise<void>;
  abstract usage(key: string): Promise<Usage>;

  prepare(key: string, parent: string, o: SnapshotOpts = {}): Promise<Mount[]> {
    return this.create('active', key, parent, o);
  }

  view(key: string, parent: string, o: SnapshotOpts = {}): Promise<Mount[]> {
    return this.create('view', key, parent, o);
  }

  async commit(name: string, key: string, o: SnapshotOpts = {}): Promise<void> {
    o.signal?.throwIfAborted();
    await this.meta.commit(name, key, o.labels);
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.meta.info(key);
  }

  async list(): Promise<SnapshotInfo[]> {
    return this.meta.list();
  }

  async status(): Promise<[string, string][]> {
    return [];
  }

  close(): Promise<void> {
    return this.meta.close();
  }
}
