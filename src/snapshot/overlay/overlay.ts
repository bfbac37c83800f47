/**
 * The overlay snapshotter, laid out like containerd's:
 *
 *   root/metadata.json         records (see ../meta.ts)
 *   root/snapshots/<id>/fs     the snapshot's own changes: an overlay upperdir, a layer's diff
 *   root/snapshots/<id>/work   overlay's workdir (active snapshots only)
 *
 * An active snapshot on a parent mounts as overlay with its fs as upperdir and
 * its ancestors' fs as lowerdir, nearest first; without a parent it is a plain
 * bind of fs. Read-only snapshots with a single layer are read-only binds.
 *
 * Layer limit: the kernel copies mount options into one page (4096 bytes), and
 * our mount call cannot chdir to use Docker's short relative paths, so each
 * layer costs its absolute path (`<root>/snapshots/<id>/fs:`). Ids are short
 * numbers, which leaves room for about 90 layers with a root such as
 * /var/lib/pier/snapshots; prepare/view beyond the limit fail with invalid.
 */
import { chmod, chown, mkdir, mkdtemp, rm, stat, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { invalid, messageOf, unavailable } from '../../base/errdefs.js';
import { NodeHost, type Host } from '../../base/host.js';
import type { Mount } from '../../base/mount.js';
import { diskUsage, SnapshotMeta, sweep, type SnapshotRecord } from '../meta.js';
import { assertUnmounted, removeTree } from '../mounted.js';
import type { SnapshotOpts, Usage } from '../snapshotter.js';
import { RecordedSnapshotter } from '../recorded.js';

/** Mount data must fit in one page, terminating NUL included. */
const MAX_MOUNT_DATA = 4095;
/** The kernel's OVL_MAX_STACK. */
const MAX_LAYERS = 500;

export class OverlaySnapshotter extends RecordedSnapshotter {
  readonly driver = 'overlay2';

  private constructor(
    private readonly root: string,
    meta: SnapshotMeta,
  ) {
    super(meta);
  }

  /** Opens (creating) the snapshotter at root; unavailable when overlay cannot be mounted there. */
  static async open(root: string, host: Host = new NodeHost()): Promise<OverlaySnapshotter> {
    root = resolve(root);
    const meta = await SnapshotMeta.open(root);
    const sn = new OverlaySnapshotter(root, meta);
    const ids = meta.ids();
    await sweep(sn.snapshots, (id) => ids.has(id), removeTree);
    await checkOverlay(sn.snapshots, host);
    return sn;
  }

  // commit: the base class's; the upperdir simply becomes a lower layer, nothing moves on disk.

  async mounts(key: string): Promise<Mount[]> {
    const [rec, ...parents] = this.meta.chain(key);
    return this.mountsOf(rec!, parents);
  }

  async remove(key: string): Promise<void> {
    await assertUnmounted(this.dir(this.meta.get(key).id));
    await this.meta.remove(key, (rec) => removeTree(this.dir(rec.id)));
  }

  /** The snapshot's own layer (its fs), not its parents'. */
  async usage(key: string): Promise<Usage> {
    return diskUsage(this.fs(this.meta.get(key).id));
  }

  override async status(): Promise<[string, string][]> {
    return [
      ['Backing Filesystem', await backingFs(this.root)],
      // TODO: test d_type for real (needs getdents in the addon); the kernel only warns without it.
      // ext4, btrfs, tmpfs and xfs with ftype=1 (mkfs default since 2016) all have it.
      ['Supports d_type', 'true'],
    ];
  }

  protected async create(kind: 'active' | 'view', key: string, parent: string, o: SnapshotOpts): Promise<Mount[]> {
    o.signal?.throwIfAborted();
    let chain: SnapshotRecord[] = [];
    const build = (rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void> => {
      chain = parents;
      return this.build(key, rec, parents);
    };
    const rec = await this.meta.create(kind, key, parent, o.labels, build, (rec) => rm(this.dir(rec.id), { recursive: true, force: true }));
    return this.mountsOf(rec, chain);
  }

  private async build(key: string, rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void> {
    this.checkLimit(key, rec, parents);
    await mkdir(this.dir(rec.id), { mode: 0o700 });
    const fs = this.fs(rec.id);
    await mkdir(fs, { mode: 0o755 });
    if (rec.kind === 'active') await mkdir(join(this.dir(rec.id), 'work'), { mode: 0o700 });
    // The merged root takes its owner and mode from the upperdir: keep the parent's.
    if (parents[0]) {
      const st = await stat(this.fs(parents[0].id));
      await chown(fs, st.uid, st.gid);
      await chmod(fs, st.mode & 0o7777);
    }
  }

  private checkLimit(key: string, rec: SnapshotRecord, parents: SnapshotRecord[]): void {
    const data = this.mountsOf(rec, parents)
      .flatMap((m) => m.options)
      .filter((opt) => !['ro', 'rw', 'rbind', 'bind'].includes(opt))
      .join(',');
    const layers = parents.length + 1;
    if (layers > MAX_LAYERS || data.length > MAX_MOUNT_DATA)
      throw invalid(
        `snapshot ${key} would stack ${layers} layers, more than overlay can mount from ${this.root}: ` +
          `the mount options take ${data.length} bytes and the kernel accepts ${MAX_MOUNT_DATA} (and at most ${MAX_LAYERS} layers)`,
      );
  }

  private mountsOf(rec: SnapshotRecord, parents: SnapshotRecord[]): Mount[] {
    if (rec.kind === 'active') {
      if (!parents.length) return [{ type: 'bind', source: this.fs(rec.id), options: ['rbind', 'rw'] }];
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: [
            'index=off',
            `workdir=${join(this.dir(rec.id), 'work')}`,
            `upperdir=${this.fs(rec.id)}`,
            `lowerdir=${parents.map((p) => this.fs(p.id)).join(':')}`,
          ],
        },
      ];
    }
    // Read-only: a view shows its parents; a committed snapshot (mounted for diffs or export) shows itself too.
    const layers = rec.kind === 'view' ? parents : [rec, ...parents];
    if (layers.length <= 1) return [{ type: 'bind', source: this.fs((layers[0] ?? rec).id), options: ['rbind', 'ro'] }];
    // Overlay without an upperdir is read-only by itself; 'ro' says so to whoever mounts it.
    return [{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${layers.map((l) => this.fs(l.id)).join(':')}`, 'ro'] }];
  }

  private get snapshots(): string {
    return join(this.root, 'snapshots');
  }

  private dir(id: number): string {
    return join(this.snapshots, String(id));
  }

  private fs(id: number): string {
    return join(this.dir(id), 'fs');
  }
}

/** Mounts a tiny two-layer overlay under dir; unavailable, saying why, when the kernel refuses. */
async function checkOverlay(dir: string, host: Host): Promise<void> {
  const t = await mkdtemp(join(dir, 'check-'));
  const [lower1, lower2, upper, work, merged] = ['l1', 'l2', 'upper', 'work', 'merged'].map((n) => join(t, n)) as [string, string, string, string, string];
  try {
    for (const d of [lower1, lower2, upper, work, merged]) await mkdir(d);
    const opts = ['index=off', `workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower2}:${lower1}`];
    await host.mount({ type: 'overlay', source: 'overlay', options: opts }, merged);
    await host.unmount(merged);
  } catch (e) {
    throw unavailable(
      `the overlay snapshotter cannot mount overlay on ${dir} (${await backingFs(dir)}): ${messageOf(e)}; ` +
        'use a data root on ext4 or xfs, or the btrfs or vfs snapshotter',
      e,
    );
  } finally {
    await host.unmount(merged, { lazy: true }).catch(() => undefined);
    await rm(t, { recursive: true, force: true });
  }
}

/** statfs f_type → the names Docker shows as "Backing Filesystem". */
const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0xf2f52010: 'f2fs',
  0x65735546: 'fuse',
  0x858458f6: 'ramfs',
  0x73717368: 'squashfs',
  0x01021997: 'v9fs',
};

async function backingFs(path: string): Promise<string> {
  const { type } = await statfs(path);
  return FS_NAMES[type] ?? `unknown (0x${type.toString(16)})`;
}
