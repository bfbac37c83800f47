/**
 * VolumeDriver: where a volume's data lives and how it is made available to a
 * container. Docker's volume plugin protocol, reduced to what the engine uses.
 *
 * Lifecycle of one volume:
 *
 *   create(name, {options, labels})      the volume exists (idempotent: an existing one is returned unchanged)
 *     mount(name, ref) → path            ref (a container ID) uses it; the first ref mounts (tmpfs, nfs, a bind …)
 *     unmount(name, ref)                 ref is done; the last one unmounts
 *   remove(name)                         data and record gone; refused (conflict) while any ref holds it
 *
 * `get` and `list` read the records; `refs` names the refs holding mounts.
 * Refs are a set, so mount/unmount with the same ref twice counts once, and an
 * unknown ref is ignored. They live in memory: after pierd restarts, `restore`
 * re-registers the refs of containers that kept running (live restore) without
 * mounting again.
 *
 *   const v = await driver.create('data', { options: { type: 'tmpfs', device: 'tmpfs', o: 'size=64m' } });
 *   const path = await driver.mount('data', containerId);   // tmpfs mounted at v.mountpoint
 *   await driver.unmount('data', containerId);               // last user: unmounted
 *   await driver.remove('data');
 *
 * Vocabulary: `mountpoint` is the host directory holding the data (Docker's
 * Mountpoint, `<root>/volumes/<name>/_data` for the local driver); `options`
 * are the driver options given at create (`-o`); labels are kept as given.
 */

export interface Volume {
  name: string;
  /** The driver's name ("local"). */
  driver: string;
  /** Host path of the data. */
  mountpoint: string;
  /** Creation time, ns since the epoch. */
  createdNs: number;
  /** As given at create: null when none were given, {} when an empty set was. */
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  scope: 'local' | 'global';
}

export interface CreateVolumeOpts {
  options?: Record<string, string> | null;
  labels?: Record<string, string> | null;
}

export interface VolumeDriver {
  readonly name: string;
  readonly scope: 'local' | 'global';
  /** Creates the volume, or returns the existing one of that name unchanged. Bad names or options are `invalid`. */
  create(name: string, o?: CreateVolumeOpts): Promise<Volume>;
  get(name: string): Promise<Volume | undefined>;
  list(): Promise<Volume[]>;
  /** Makes the data available to ref and returns its host path; the first ref mounts. `not-found` for an unknown volume. */
  mount(name: string, ref: string): Promise<string>;
  /** Drops ref; when none is left the volume is unmounted. Unknown volumes and refs are ignored. */
  unmount(name: string, ref: string): Promise<void>;
  /** Live restore: ref kept using the volume while pierd was away. Nothing is mounted. */
  restore(name: string, ref: string): void;
  /** Refs holding mounts of the volume now. */
  refs(name: string): string[];
  /** Deletes data and record; `conflict` while refs hold it, `not-found` when there is no such volume. */
  remove(name: string): Promise<void>;
  close(): Promise<void>;
}
