/**
 * The btrfs snapshotter, laid out like containerd's:
 *
 *   root/metadata.json       records (see ../meta.ts)
 *   root/active/<id>         active snapshots and views: subvolumes, views read-only
 *   root/snapshots/<id>      committed snapshots: read-only subvolumes
 *
 * prepare snapshots the parent's subvolume (or creates an empty one), which
 * costs nothing up front: btrfs shares extents until they are written. commit
 * takes a read-only snapshot of the active subvolume and deletes the active
 * one. Mounts are binds of the subvolume directory.
 *
 * Subvolumes are made and deleted with btrfs-progs through Host.run; deleting
 * one a container created inside its rootfs (nested subvolume) fails.
 */
import { mkdir, stat, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { messageOf, unavailable } from '../../base/errdefs.js';
import { NodeHost, type Host } from '../../base/host.js';
import type { Mount } from '../../base/mount.js';
import { diskUsage, SnapshotMeta, sweep, type CommitSteps, type SnapshotRecord } from '../meta.js';
import { removeTree } from '../mounted.js';
import type { SnapshotOpts, Usage } from '../snapshotter.js';
import { RecordedSnapshotter } from '../recorded.js';

const BTRFS_SUPER_MAGIC = 0x9123683e;
/** Inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_INO = 256;

export class BtrfsSnapshotter extends RecordedSnapshotter {
  readonly driver = 'btrfs';

  private constructor(
    private readonly root: string,
    private readonly host: Host,
    meta: SnapshotMeta,
    private readonly version: string,
  ) {
    super(meta);
  }

  /** Opens (creating) the snapshotter at root; unavailable unless root is on btrfs and btrfs-progs is installed. */
  static async open(root: string, host: Host = new NodeHost()): Promise<BtrfsSnapshotter> {
    root = resolve(root);
    await mkdir(root, { recursive: true, mode: 0o711 });
    const { type } = await statfs(root);
    if (type !== BTRFS_SUPER_MAGIC)
      throw unavailable(`the btrfs snapshotter needs its root ${root} on a btrfs file system (its file system type is 0x${type.toString(16)}); use the overlay or vfs snapshotter`);
    let version: string;
    try {
      version = (await host.run('btrfs', ['--version'])).stdout.split('\n')[0]!.trim();
    } catch (e) {
      throw unavailable(`the btrfs snapshotter needs the btrfs command (btrfs-progs): ${messageOf(e)}`, e);
    }
    const meta = await SnapshotMeta.open(root);
    const sn = new BtrfsSnapshotter(root, host, meta, version);
    const ids = meta.ids();
    const destroy = (path: string): Promise<void> => sn.deleteSubvolume(path);
    await sweep(join(root, 'active'), (id) => ids.has(id) && ids.get(id) !== 'committed', destroy);
    await sweep(join(root, 'snapshots'), (id) => ids.get(id) === 'committed', destroy);
    return sn;
  }

  override async commit(name: string, key: string, o: SnapshotOpts = {}): Promise<void> {
    o.signal?.throwIfAborted();
    const steps: CommitSteps = {
      seal: (active, committed) => this.btrfs(['subvolume', 'snapshot', '-r', this.path(active), this.path(committed)], o.signal),
      unseal: (committed) => this.deleteSubvolume(this.path(committed)),
      drop: (active) => this.deleteSubvolume(this.path(active)),
    };
    await this.meta.commit(name, key, o.labels, steps);
  }

  async mounts(key: string): Promise<Mount[]> {
    return this.mountsOf(this.meta.get(key));
  }

  async remove(key: string): Promise<void> {
    await this.meta.remove(key, (rec) => this.deleteSubvolume(this.path(rec)));
  }

  /** The whole subvolume, extents it shares with its parent included (btrfs cannot tell whose they are). */
  async usage(key: string): Promise<Usage> {
    return diskUsage(this.path(this.meta.get(key)));
  }

  override async status(): Promise<[string, string][]> {
    return [['Build Version', this.version]];
  }

  protected async create(kind: 'active' | 'view', key: string, parent: string, o: SnapshotOpts): Promise<Mount[]> {
    o.signal?.throwIfAborted();
    const build = async (rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void> => {
      const target = this.path(rec);
      if (!parents[0]) return this.btrfs(['subvolume', 'create', target], o.signal);
      // A view is a read-only snapshot; an active one a writable snapshot of the read-only parent.
      const ro = kind === 'view' ? ['-r'] : [];
      await this.btrfs(['subvolume', 'snapshot', ...ro, this.path(parents[0]), target], o.signal);
    };
    const rec = await this.meta.create(kind, key, parent, o.labels, build, (rec) => this.deleteSubvolume(this.path(rec)));
    return this.mountsOf(rec);
  }

  private mountsOf(rec: SnapshotRecord): Mount[] {
    return [{ type: 'bind', source: this.path(rec), options: ['rbind', rec.kind === 'active' ? 'rw' : 'ro'] }];
  }

  private path(rec: SnapshotRecord): string {
    return join(this.root, rec.kind === 'committed' ? 'snapshots' : 'active', String(rec.id));
  }

  /** Deletes the subvolume at path; anything else there (debris) is deleted as a plain tree; a missing one is fine. */
  private async deleteSubvolume(path: string): Promise<void> {
    const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!st) return;
    if (st.ino === SUBVOLUME_INO) await this.btrfs(['subvolume', 'delete', path]);
    else await removeTree(path);
  }

  private async btrfs(args: string[], signal?: AbortSignal): Promise<void> {
    await this.host.run('btrfs', args, signal ? { signal } : {});
  }
}
