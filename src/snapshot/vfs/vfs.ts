/**
 * The vfs snapshotter: every active snapshot is a full copy of its parent, so
 * it works on any file system, slowly and at the cost of disk space.
 *
 *   root/metadata.json       records (see ../meta.ts)
 *   root/snapshots/<id>      the snapshot's tree
 *
 * Copies are `cp -a --reflink=auto`: exact (owners, modes, times, xattrs,
 * devices, hard links, sparse files) and cheap where the file system can share
 * extents (btrfs, xfs). Views copy nothing: a committed snapshot never
 * changes, so a read-only bind of it is the view. Mounts are binds.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NodeHost, type Host } from '../../base/host.js';
import type { Mount } from '../../base/mount.js';
import { diskUsage, SnapshotMeta, sweep, type SnapshotRecord } from '../meta.js';
import { assertUnmounted, removeTree } from '../mounted.js';
import type { SnapshotOpts, Usage } from '../snapshotter.js';
import { RecordedSnapshotter } from '../recorded.js';

export class VfsSnapshotter extends RecordedSnapshotter {
  readonly driver = 'vfs';

  private constructor(
    private readonly root: string,
    private readonly host: Host,
    meta: SnapshotMeta,
  ) {
    super(meta);
  }

  static async open(root: string, host: Host = new NodeHost()): Promise<VfsSnapshotter> {
    root = resolve(root);
    const meta = await SnapshotMeta.open(root);
    const sn = new VfsSnapshotter(root, host, meta);
    const ids = meta.ids();
    await sweep(sn.snapshots, (id) => ids.has(id), removeTree);
    return sn;
  }

  async mounts(key: string): Promise<Mount[]> {
    const rec = this.meta.get(key);
    return this.mountsOf(rec, rec.parent ? this.meta.get(rec.parent) : undefined);
  }

  async remove(key: string): Promise<void> {
    await assertUnmounted(this.dir(this.meta.get(key).id));
    await this.meta.remove(key, (rec) => removeTree(this.dir(rec.id)));
  }

  /** The snapshot's own tree, which is a full copy: it includes what it inherited. Views own nothing. */
  async usage(key: string): Promise<Usage> {
    return diskUsage(this.dir(this.meta.get(key).id));
  }

  protected async create(kind: 'active' | 'view', key: string, parent: string, o: SnapshotOpts): Promise<Mount[]> {
    o.signal?.throwIfAborted();
    let nearest: SnapshotRecord | undefined;
    const build = async (rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void> => {
      nearest = parents[0];
      const dir = this.dir(rec.id);
      if (kind === 'active' && nearest) {
        const args = ['-a', '--reflink=auto', '--', this.dir(nearest.id), dir];
        await this.host.run('cp', args, o.signal ? { signal: o.signal } : {});
      } else {
        await mkdir(dir, { mode: 0o755 });
      }
    };
    const rec = await this.meta.create(kind, key, parent, o.labels, build, (rec) => rm(this.dir(rec.id), { recursive: true, force: true }));
    return this.mountsOf(rec, nearest);
  }

  private mountsOf(rec: SnapshotRecord, parent: SnapshotRecord | undefined): Mount[] {
    if (rec.kind === 'active') return [{ type: 'bind', source: this.dir(rec.id), options: ['rbind', 'rw'] }];
    const shown = rec.kind === 'view' && parent ? parent : rec;
    return [{ type: 'bind', source: this.dir(shown.id), options: ['rbind', 'ro'] }];
  }

  private get snapshots(): string {
    return join(this.root, 'snapshots');
  }

  private dir(id: number): string {
    return join(this.snapshots, String(id));
  }
}
