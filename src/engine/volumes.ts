/**
 * VolumeService: the volume backend of the Engine API (create, inspect, list,
 * remove, prune, the figures of `system df`) and the containers' way to mount
 * volumes. Volumes live in drivers (volume/volume.ts); this service names
 * them, keeps Docker's rules and messages, and emits `volume` events.
 *
 * A volume is in use while any container references it, running or not (the
 * container service answers `usersOf`), or while a container being created
 * holds a reservation on it: `create(…, { reference: id })` reserves, and the
 * container code releases once its record exists (or the create failed), so a
 * concurrent `volume rm` never takes a volume from under a new container.
 *
 * Anonymous volumes (created without a name) get a 64-hex name and the label
 * `com.docker.volume.anonymous`, which is what prune looks for by default.
 */
import { KeyedLock } from '../base/keyed-lock.js';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { conflict, EngineError, invalid, isKind, messageOf, notFound } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import type { Volume, VolumeDriver } from '../volume/volume.js';
import type { Readable } from 'node:stream';
import { archiveFromRoot, extractToRoot } from '../archive/copy.js';
import type { EventBus } from './events.js';
import { matchKVList, type Filters } from './filters.js';
import { rfc3339Local } from '../base/time.js';

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
export const DEFAULT_DRIVER = 'local';

/** A volume as the Engine API shows it, fields in the order Docker's encoder writes them. */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: string;
  UsageData?: { Size: number; RefCount: number };
}

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Who uses a volume; the container service answers (nobody until it exists). */
export interface VolumeUsers {
  /** IDs of the containers that reference the volume, running or not. */
  usersOf(name: string): string[];
}

/** Docker's stringid.GenerateRandomID: 64 hex digits whose short form is never all digits. */
export function randomId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}

/** Keys sorted, as Go encodes a map. */
const sorted = (m: Record<string, string> | null): Record<string, string> | null =>
  m && Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function volumeView(v: Volume): VolumeView {
  return {
    CreatedAt: rfc3339Local(v.createdNs), Driver: v.driver, Labels: sorted(v.labels), Mountpoint: v.mountpoint, Name: v.name,
    Options: sorted(v.options), Scope: v.scope,
  };
}

/** filters.Args.Match: an exact value, or a regular expression found in source. */
function matchName(want: readonly string[], source: string): boolean {
  if (want.includes(source)) return true;
  return want.some((w) => {
    try {
      return new RegExp(w).test(source);
    } catch {
      return false;
    }
  });
}

/** filters.Args.GetBoolOrDefault: one of 1/true or 0/false. */
function boolFilter(f: Filters, key: string): boolean | undefined {
  if (!f.keys().includes(key)) return undefined;
  const vs = f.get(key);
  const t = vs.includes('1') || vs.includes('true');
  const n = vs.includes('0') || vs.includes('false');
  if (t === n) throw invalid(`invalid filter '${key}${vs.length ? `=${vs.join(',')}` : ''}'`);
  return t;
}

/** Go's strconv.ParseBool. */
function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/**
 * pkg/directory.Size: bytes of the files below dir (directories not
 * counted, a hard-linked file once, symlinks by their own size).
 */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<bigint>();
  let size = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await fs.lstat(p, { bigint: true }).catch(() => undefined);
      if (!st || st.size === 0n || seen.has(st.ino)) continue;
      seen.add(st.ino);
      size += Number(st.size);
    }
  };
  await walk(dir);
  return size;
}

const LIST_FILTERS = ['dangling', 'name', 'driver', 'label'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

export class VolumeService {
  users: VolumeUsers = { usersOf: () => [] };
  private readonly reservations = new Map<string, Set<string>>();
  private readonly locks = new KeyedLock();
  private pruning = false;

  constructor(
    private readonly drivers: Record<string, VolumeDriver>,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  /** Driver names, for `info`'s Plugins.Volume. */
  driverNames(): string[] {
    return Object.keys(this.drivers);
  }

  /** Runs fn with the volume name's lock held: create and remove of one name never interleave. */
  private locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(name, fn);
  }

  private async find(name: string): Promise<{ v: Volume; d: VolumeDriver } | undefined> {
    for (const d of Object.values(this.drivers)) {
      const v = await d.get(name);
      if (v) return { v, d };
    }
    return undefined;
  }

  /** Containers (and creates in progress) that use the volume. */
  usersOf(name: string): string[] {
    const users = new Set(this.users.usersOf(name));
    for (const r of this.reservations.get(name) ?? []) users.add(r);
    return [...users];
  }

  /** Ends every reservation ref holds (its container record exists now, or its create failed). */
  release(ref: string): void {
    for (const [name, refs] of this.reservations) {
      refs.delete(ref);
      if (refs.size === 0) this.reservations.delete(name);
    }
  }

  private reserve(name: string, ref: string): void {
    let s = this.reservations.get(name);
    if (!s) this.reservations.set(name, (s = new Set()));
    s.add(ref);
  }

  // ---- create / inspect / list ---------------------------------------------------------------

  /**
   * POST /volumes/create. An existing name returns that volume unchanged (its
   * driver must match when one is named); an empty name makes an anonymous
   * volume. With `reference`, the volume is reserved for that container.
   */
  async create(req: VolumeCreateRequest, o: { reference?: string } = {}): Promise<VolumeView> {
    let name = req.Name ?? '';
    let labels = req.Labels ?? null;
    if (!name) {
      name = randomId();
      labels = { ...(labels ?? {}), [ANONYMOUS_LABEL]: '' };
    }
    const op = (e: unknown) => (e instanceof EngineError ? new EngineError(e.kind, `create ${name}: ${e.message}`, { cause: e }) : e);
    const driverName = req.Driver ?? '';
    const driver = this.drivers[driverName || DEFAULT_DRIVER];
    if (!driver) throw notFound(`create ${name}: error looking up volume plugin ${driverName}: plugin ${JSON.stringify(driverName)} not found`);
    return this.locked(name, async () => {
      const existing = await this.find(name);
      if (existing) {
        if (driverName && existing.d.name !== driverName)
          throw conflict(`create ${name}: driver '${existing.d.name}' already has volume '${name}': volume name must be unique`);
        if (o.reference) this.reserve(name, o.reference);
        return volumeView(existing.v);
      }
      let v: Volume;
      try {
        v = await driver.create(name, { options: req.DriverOpts ?? null, labels });
      } catch (e) {
        throw op(e);
      }
      if (o.reference) this.reserve(name, o.reference);
      this.events.emit('volume', 'create', v.name, { driver: v.driver });
      return volumeView(v);
    });
  }

  /** GET /volumes/{name}. */
  async inspect(name: string): Promise<VolumeView> {
    const f = await this.find(name);
    if (!f) throw notFound(`get ${name}: no such volume`);
    return volumeView(f.v);
  }

  /** GET /volumes with Docker's filters: name (exact or a regular expression), driver, label, dangling. */
  async list(f: Filters): Promise<{ Volumes: VolumeView[]; Warnings: null }> {
    f.validate(LIST_FILTERS);
    const dangling = boolFilter(f, 'dangling');
    const out: VolumeView[] = [];
    for (const d of Object.values(this.drivers)) {
      if (f.get('driver').length && !f.get('driver').includes(d.name)) continue;
      for (const v of await d.list()) {
        if (f.get('name').length && !matchName(f.get('name'), v.name)) continue;
        if (!matchKVList(f.get('label'), v.labels)) continue;
        if (dangling !== undefined && this.usersOf(v.name).length === 0 !== dangling) continue;
        out.push(volumeView(v));
      }
    }
    return { Volumes: out, Warnings: null };
  }

  /** The local volumes without driver options (the others are not really local), with sizes: `system df`. */
  async usage(): Promise<VolumeView[]> {
    const d = this.drivers[DEFAULT_DRIVER];
    if (!d) return [];
    const out: VolumeView[] = [];
    for (const v of await d.list()) {
      if (v.options && Object.keys(v.options).length) continue;
      out.push({ ...volumeView(v), UsageData: { Size: await directorySize(v.mountpoint), RefCount: this.usersOf(v.name).length } });
    }
    return out;
  }

  // ---- remove / prune ----------------------------------------------------------------------

  /** DELETE /volumes/{name}: refused while any container references it; `force` makes a missing volume no error. */
  async remove(name: string, o: { force?: boolean } = {}): Promise<void> {
    const f = await this.find(name);
    if (!f) {
      if (o.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    await this.locked(name, () => this.removeLocked(name, f.d));
  }

  private async removeLocked(name: string, d: VolumeDriver): Promise<void> {
    const users = this.usersOf(name);
    const refs = d.refs(name);
    if (users.length || refs.length) throw conflict(`remove ${name}: volume is in use - [${[...new Set([...users, ...refs])].join(', ')}]`);
    try {
      await d.remove(name);
    } catch (e) {
      if (isKind(e, 'not-found')) return; // gone meanwhile: what was asked for
      throw e instanceof EngineError ? new EngineError(e.kind, `remove ${name}: ${e.message}`, { cause: e }) : e;
    }
    this.events.emit('volume', 'destroy', name, { driver: d.name });
  }

  /**
   * POST /volumes/prune: unused local volumes without driver options —
   * only anonymous ones unless the filter `all` is true (`allByDefault` for
   * API versions before 1.42, which pruned every unused volume).
   */
  async prune(f: Filters, o: { allByDefault?: boolean } = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    if (this.pruning) throw conflict('a prune operation is already running');
    f.validate(PRUNE_FILTERS);
    let all = !!o.allByDefault && !f.keys().includes('all');
    const vs = f.get('all');
    if (vs.length > 1) throw invalid(`invalid filter 'all=[${vs.join(' ')}]': only one value is expected`);
    if (vs.length === 1) {
      const b = parseBool(vs[0]!);
      if (b === undefined) throw invalid(`invalid filter 'all': strconv.ParseBool: parsing ${JSON.stringify(vs[0])}: invalid syntax`);
      all = b;
    }
    const labels = [...f.get('label'), ...(all ? [] : [ANONYMOUS_LABEL])];
    const notLabels = f.get('label!');
    const d = this.drivers[DEFAULT_DRIVER];
    const report = { VolumesDeleted: [] as string[], SpaceReclaimed: 0 };
    if (!d) return report;
    this.pruning = true;
    try {
      for (const v of await d.list()) {
        if (v.options && Object.keys(v.options).length) continue;
        if (!matchKVList(labels, v.labels)) continue;
        if (notLabels.length && matchKVList(notLabels, v.labels)) continue;
        if (this.usersOf(v.name).length || d.refs(v.name).length) continue;
        const size = await directorySize(v.mountpoint);
        try {
          await this.locked(v.name, () => this.removeLocked(v.name, d));
        } catch (e) {
          this.log.warn({ volume: v.name, err: messageOf(e) }, 'prune: removing a volume failed');
          continue;
        }
        report.VolumesDeleted.push(v.name);
        report.SpaceReclaimed += size;
      }
    } finally {
      this.pruning = false;
    }
    this.events.emit('volume', 'prune', '', { reclaimed: String(report.SpaceReclaimed) });
    return report;
  }

  // ---- containers --------------------------------------------------------------------------

  /**
   * Mounts the volume for a container (ref: its ID) and returns the data's
   * host path; emits `mount` with the attributes given (container,
   * destination, read/write, propagation).
   */
  async mount(name: string, ref: string, attributes: Record<string, string> = {}): Promise<string> {
    const f = await this.find(name);
    if (!f) throw notFound(`get ${name}: no such volume`);
    let path: string;
    try {
      path = await f.d.mount(name, ref);
    } catch (e) {
      throw new EngineError(e instanceof EngineError ? e.kind : 'internal', `error while mounting volume '${f.v.mountpoint}': ${messageOf(e)}`, { cause: e });
    }
    this.events.emit('volume', 'mount', name, { driver: f.d.name, ...attributes });
    return path;
  }

  /** The container is done with the volume; emits `unmount`. A volume gone meanwhile is no error. */
  async unmount(name: string, ref: string, attributes: Record<string, string> = {}): Promise<void> {
    const f = await this.find(name);
    if (!f) return;
    const held = f.d.refs(name).includes(ref);
    await f.d.unmount(name, ref);
    if (held) this.events.emit('volume', 'unmount', name, { driver: f.d.name, ...attributes });
  }

  /** Live restore: a container that kept running while pierd was away still uses the volume. */
  async restore(name: string, ref: string): Promise<void> {
    (await this.find(name))?.d.restore(name, ref);
  }

  // ---- data in and out (Pier's container move) ------------------------------------------------

  /**
   * A local volume whose data Pier holds (no driver options: a tmpfs, bind or nfs
   * volume's data lives elsewhere), for reading or writing it whole.
   */
  private async dataOf(name: string): Promise<{ v: Volume; d: VolumeDriver }> {
    const f = await this.find(name);
    if (!f) throw notFound(`get ${name}: no such volume`);
    if (f.v.options && Object.keys(f.v.options).length)
      throw invalid(`volume ${name} has driver options (${Object.keys(f.v.options).join(', ')}): its data is not kept by Pier, so it cannot be read or written whole`);
    return f;
  }

  /** A tar of the volume's data (its root directory's owner and mode included). */
  async archive(name: string, o: { signal?: AbortSignal } = {}): Promise<Readable> {
    const { v } = await this.dataOf(name);
    return (await archiveFromRoot(v.mountpoint, '/', { signal: o.signal, what: `volume ${name}` })).stream;
  }

  /**
   * `PUT /volumes/{name}/archive` (a Pier extension): extracts a tar into the volume's
   * data, resolved inside it like `docker cp` (no entry can leave the volume). Refused
   * while a running container has the volume mounted.
   */
  async putArchive(name: string, tar: Readable, o: { signal?: AbortSignal } = {}): Promise<void> {
    const { v, d } = await this.dataOf(name);
    const refs = d.refs(name);
    if (refs.length) throw conflict(`volume ${name} is mounted by running container ${refs[0]!.slice(0, 12)}: stop it before writing the volume's data`);
    await extractToRoot(v.mountpoint, '/', tar, { signal: o.signal, what: `volume ${name}` });
  }

  /** Whether the volume's data directory has no entries (false for volumes whose data Pier does not hold). */
  async isEmpty(name: string): Promise<boolean> {
    const f = await this.dataOf(name).catch(() => undefined);
    if (!f) return false;
    return (await fs.readdir(f.v.mountpoint).catch(() => [])).length === 0;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.drivers).map((d) => d.close()));
  }
}
