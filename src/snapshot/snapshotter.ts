import type { Mount } from '../base/mount.js';

/**
 * Snapshotter: the union file system seam (containerd's model).
 *
 * Lifecycle: `prepare(key, parent)` makes an *active* snapshot (writable) on top
 * of the committed snapshot `parent` ('' = empty) and returns the mounts that
 * show it; the caller mounts them, writes, unmounts, then `commit(name, key)`
 * turns it into the *committed*, read-only snapshot `name` (the key is gone).
 * `view(key, parent)` gives a read-only active snapshot. `remove` deletes an
 * active or committed snapshot that has no children.
 *
 * Image layers are committed snapshots named by their chain ID; a container's
 * rootfs is an active snapshot keyed by the container ID.
 *
 *   const mounts = await sn.prepare('extract-1', parentChainId);
 *   await withMounted(host, mounts, (dir) => applyLayer(dir, tar));
 *   await sn.commit(chainId, 'extract-1');
 */
export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  name: string;
  parent: string; // '' when none
  kind: SnapshotKind;
  created: string; // RFC 3339
  labels: Record<string, string>;
}

export interface Usage {
  size: number; // bytes used by this snapshot alone (not its parents)
  inodes: number;
}

export interface SnapshotOpts {
  labels?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Snapshotter {
  /** The driver name shown as "Storage Driver" in `docker info`: overlay2-compatible naming is up to the caller. */
  readonly driver: string;
  prepare(key: string, parent: string, o?: SnapshotOpts): Promise<Mount[]>;
  view(key: string, parent: string, o?: SnapshotOpts): Promise<Mount[]>;
  commit(name: string, key: string, o?: SnapshotOpts): Promise<void>;
  mounts(key: string): Promise<Mount[]>;
  remove(key: string): Promise<void>;
  stat(key: string): Promise<SnapshotInfo>;
  usage(key: string): Promise<Usage>;
  list(): Promise<SnapshotInfo[]>;
  /** Driver facts for `docker info` DriverStatus, e.g. [['Backing Filesystem','extfs']]. */
  status(): Promise<[string, string][]>;
  close(): Promise<void>;
}
