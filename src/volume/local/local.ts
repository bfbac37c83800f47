/**
 * Docker's `local` volume driver: each volume is a directory
 * `<root>/<name>/_data` (root is `<data-root>/volumes`), its record (creation
 * time, labels, driver options) a row in SQLite, written through like the
 * container store.
 *
 * Driver options are Docker's: `type`, `device` and `o` are mount(8)'s
 * arguments, applied to `_data` when the first user mounts the volume and
 * undone when the last one leaves:
 *
 *   type=tmpfs,device=tmpfs,o=size=100m,uid=1000     a tmpfs per volume
 *   type=none,device=/srv/data,o=bind                 a host directory
 *   type=nfs,device=:/export,o=addr=10.0.0.1          a network file system
 *
 * `size` (a quota) needs project quotas, which this driver does not set up, so
 * it is refused like Docker refuses it without quota support.
 */
import { KeyedLock } from '../../base/keyed-lock.js';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../../base/db.js';
import { conflict, EngineError, invalid, messageOf, notFound } from '../../base/errdefs.js';
import type { Host } from '../../base/host.js';
import { nowNs } from '../../base/clock.js';
import type { CreateVolumeOpts, Volume, VolumeDriver } from '../volume.js';

export const LOCAL_VOLUME_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS local_volumes (
     name TEXT PRIMARY KEY,
     created_ns INTEGER NOT NULL,
     labels TEXT,
     options TEXT
   );`,
];

/** Docker's RestrictedNamePattern: the name becomes a directory, so nothing that could leave the root. */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';

const VALID_OPTS = ['type', 'o', 'device', 'size'];
/** An option and the options it needs (checked in this order, for a stable message). */
const REQUIRED_OPTS: [string, string[]][] = [['device', ['type']], ['type', ['device']], ['o', ['device', 'type']]];

/** The local driver's name check, with Docker's messages. */
export function validateVolumeName(name: string): void {
  if (name.length === 1) throw invalid('volume name is too short, names should be at least two alphanumeric characters');
  if (!VOLUME_NAME.test(name))
    throw invalid(`${JSON.stringify(name)} includes invalid characters for a local volume name, only ${JSON.stringify(NAME_CHARS)} are allowed. If you intended to pass a host directory, use absolute path`);
}

/** Docker's validateOpts for the local driver on Linux. */
export function validateVolumeOptions(opts: Record<string, string> | null | undefined): void {
  if (!opts) return;
  const keys = Object.keys(opts);
  if (keys.length === 0) return;
  for (const k of keys) if (!VALID_OPTS.includes(k)) throw invalid(`invalid option: ${JSON.stringify(k)}`);
  if ('size' in opts) {
    const size = ramInBytes(opts.size!);
    if (size > 0) throw invalid('quota size requested but no quota support');
  }
  for (const [opt, needs] of REQUIRED_OPTS) {
    if (!(opt in opts)) continue;
    for (const n of needs) if (!(n in opts)) throw invalid(`missing required option: ${JSON.stringify(n)}`);
  }
}

/** go-units RAMInBytes (binary multiples), with its error message. */
function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw invalid(`invalid size: '${s}'`);
  return Math.trunc(Number(m[1]) * 1024 ** ' kmgtp'.indexOf((m[2] || ' ').toLowerCase()));
}

/** A volume needs a mount when it was created with a type or a device. */
const needsMount = (o: Record<string, string> | null): o is Record<string, string> => !!o && (!!o.type || !!o.device);

interface Row {
  name: string;
  created_ns: number;
  labels: string | null;
  options: string | null;
}

interface Active {
  refs: Set<string>;
  mounted: boolean;
}

export class LocalDriver implements VolumeDriver {
  readonly name = 'local';
  readonly scope = 'local' as const;
  private readonly volumes = new Map<string, Volume>();
  private readonly active = new Map<string, Active>();
  private readonly locks = new KeyedLock();
  private readonly put_;
  private readonly del_;

  private constructor(
    readonly root: string,
    db: Db,
    private readonly host: Host,
  ) {
    for (const m of LOCAL_VOLUME_MIGRATIONS) db.exec(m);
    this.put_ = db.prepare('INSERT INTO local_volumes (name, created_ns, labels, options) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET labels = excluded.labels, options = excluded.options');
    this.del_ = db.prepare('DELETE FROM local_volumes WHERE name = ?');
    for (const r of db.prepare('SELECT name, created_ns, labels, options FROM local_volumes ORDER BY created_ns, rowid').all() as Row[]) {
      this.volumes.set(r.name, this.volume(r.name, r.created_ns, parse(r.labels), parse(r.options)));
    }
  }

  /**
   * Opens the driver on root (made 0701 if missing). A directory without a
   * record (a create cut short) becomes a volume, as Docker treats every
   * directory there; a record without its directory is dropped. Volumes
   * still mounted from before a restart are known as mounted, with no refs
   * until their containers are restored.
   */
  static async open(root: string, db: Db, host: Host): Promise<LocalDriver> {
    await fs.mkdir(root, { recursive: true, mode: 0o701 });
    const d = new LocalDriver(root, db, host);
    const dirs = new Set<string>();
    for (const e of await fs.readdir(root, { withFileTypes: true })) {
      if (!e.isDirectory() || !VOLUME_NAME.test(e.name)) continue;
      dirs.add(e.name);
      if (!d.volumes.has(e.name)) {
        const st = await fs.stat(join(root, e.name), { bigint: true });
        const v = d.volume(e.name, Number(st.ctimeNs), null, null);
        await fs.mkdir(v.mountpoint, { recursive: true, mode: 0o755 });
        d.volumes.set(e.name, v);
        d.put_.run(v.name, v.createdNs, null, null);
      }
    }
    const mounted = await mountPoints();
    for (const v of [...d.volumes.values()]) {
      if (!dirs.has(v.name)) {
        d.volumes.delete(v.name);
        d.del_.run(v.name);
      } else if (needsMount(v.options) && mounted.has(v.mountpoint)) d.active.set(v.name, { refs: new Set(), mounted: true });
    }
    return d;
  }

  private volume(name: string, createdNs: number, labels: Record<string, string> | null, options: Record<string, string> | null): Volume {
    return { name, driver: this.name, mountpoint: join(this.root, name, '_data'), createdNs, labels, options, scope: this.scope };
  }

  /** Runs fn with the volume's lock held: mounts, unmounts and removal of one volume never interleave. */
  private locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(name, fn);
  }

  async create(name: string, o: CreateVolumeOpts = {}): Promise<Volume> {
    validateVolumeName(name);
    validateVolumeOptions(o.options);
    return this.locked(name, async () => {
      const existing = this.volumes.get(name);
      if (existing) return copy(existing);
      const v = this.volume(name, nowNs(), o.labels ? { ...o.labels } : o.labels ?? null, o.options ? { ...o.options } : o.options ?? null);
      const dir = join(this.root, name);
      // Directory first, then the record: a crash in between leaves a directory that open() adopts.
      await fs.mkdir(dir, { mode: 0o701 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      try {
        await fs.mkdir(v.mountpoint, { recursive: true, mode: 0o755 });
        this.put_.run(name, v.createdNs, json(v.labels), json(v.options));
      } catch (e) {
        await fs.rm(dir, { recursive: true, force: true });
        throw new EngineError('internal', `error while creating volume data path '${v.mountpoint}': ${messageOf(e)}`, { cause: e });
      }
      this.volumes.set(name, v);
      return copy(v);
    });
  }

  async get(name: string): Promise<Volume | undefined> {
    const v = this.volumes.get(name);
    return v && copy(v);
  }

  async list(): Promise<Volume[]> {
    return [...this.volumes.values()].map(copy);
  }

  refs(name: string): string[] {
    return [...(this.active.get(name)?.refs ?? [])];
  }

  restore(name: string, ref: string): void {
    if (!this.volumes.has(name)) return;
    const a = this.active.get(name) ?? { refs: new Set<string>(), mounted: false };
    a.refs.add(ref);
    this.active.set(name, a);
  }

  mount(name: string, ref: string): Promise<string> {
    return this.locked(name, async () => {
      const v = this.volumes.get(name);
      if (!v) throw notFound('no such volume');
      const a = this.active.get(name) ?? { refs: new Set<string>(), mounted: false };
      if (needsMount(v.options) && !a.mounted) {
        if (!v.options.device) throw invalid('missing device in volume options');
        await fs.mkdir(v.mountpoint, { recursive: true, mode: 0o755 });
        try {
          await this.host.mount({ type: v.options.type ?? '', source: v.options.device, options: v.options.o ? v.options.o.split(',') : [] }, v.mountpoint);
        } catch (e) {
          throw new EngineError('internal', `failed to mount local volume: ${hidePassword(messageOf(e), v.options.o)}`, { cause: e });
        }
        a.mounted = true;
      }
      a.refs.add(ref);
      this.active.set(name, a);
      return v.mountpoint;
    });
  }

  unmount(name: string, ref: string): Promise<void> {
    return this.locked(name, async () => {
      const a = this.active.get(name);
      if (!a || !a.refs.delete(ref) || a.refs.size > 0) return;
      await this.unmountData(name);
    });
  }

  /** Unmounts _data when this driver mounted it (busy: detached lazily, the caller is done with it). */
  private async unmountData(name: string): Promise<void> {
    const a = this.active.get(name);
    const v = this.volumes.get(name);
    if (!a || !v) return;
    if (a.mounted) {
      await this.host.unmount(v.mountpoint).catch(() => this.host.unmount(v.mountpoint, { lazy: true }));
      a.mounted = false;
    }
    if (a.refs.size === 0) this.active.delete(name);
  }

  remove(name: string): Promise<void> {
    return this.locked(name, async () => {
      const v = this.volumes.get(name);
      if (!v) throw notFound('no such volume');
      const a = this.active.get(name);
      if (a && a.refs.size > 0) throw conflict('volume has active mounts');
      await this.unmountData(name);
      const dir = join(this.root, name);
      // A recursive delete would go on into a mounted file system: refuse instead.
      const mounted = [...(await mountPoints())].filter((p) => p === dir || p.startsWith(`${dir}/`));
      if (mounted.length) throw new EngineError('internal', `error removing volume path '${dir}': still mounted at ${mounted.join(', ')}`);
      await fs.rm(dir, { recursive: true, force: true }).catch((e: unknown) => {
        throw new EngineError('internal', `error removing volume path '${dir}': ${messageOf(e)}`, { cause: e });
      });
      // The data first, then the record: a crash in between leaves a record without a directory, which open() drops.
      this.del_.run(name);
      this.volumes.delete(name);
    });
  }

  async close(): Promise<void> {
    await this.locks.idle();
  }

  /** For tests: whether the volume's data directory is a mount point now. */
  async isMounted(name: string): Promise<boolean> {
    const v = this.volumes.get(name);
    return !!v && existsSync(v.mountpoint) && (await mountPoints()).has(v.mountpoint);
  }
}

const parse = (s: string | null): Record<string, string> | null => (s === null ? null : (JSON.parse(s) as Record<string, string>));
const json = (o: Record<string, string> | null): string | null => (o === null ? null : JSON.stringify(o));
const copy = (v: Volume): Volume => ({ ...v, labels: v.labels && { ...v.labels }, options: v.options && { ...v.options } });

/** A mount error must not print the password of a cifs mount. */
function hidePassword(msg: string, o: string | undefined): string {
  const pw = o?.split(',').find((x) => x.startsWith('password='));
  return pw ? msg.replaceAll(pw, 'password=********') : msg;
}

/** Every mount point in this mount namespace (/proc/self/mountinfo, octal escapes decoded). */
async function mountPoints(): Promise<Set<string>> {
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return new Set(
    info
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p): p is string => !!p)
      .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))),
  );
}
