/**
 * Snapshot bookkeeping shared by the drivers: the records (key → id, kind,
 * parent, labels) in one JSON file, the rules of the lifecycle, and disk usage.
 *
 * Drivers keep their data in directories named by the record's numeric id, so
 * keys (chain IDs, container IDs, anything) never become paths and overlay's
 * lowerdir lists stay short.
 *
 * Crash safety: the file is replaced whole (write temp, fsync, rename, fsync
 * dir). Disk work happens *before* a record appears and *after* it disappears,
 * so after a crash the only possible debris is a directory no record names;
 * drivers delete those when they open (see `ids()`).
 *
 * Concurrency: the in-memory maps are the truth and change synchronously, so
 * checks and reservations are atomic without a lock; slow disk work (copies,
 * btrfs snapshots) runs outside, with the key reserved and its parent pinned.
 * One process per root: nothing stops a second process from opening it.
 */
import { lstat, mkdir, open, readFile, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { conflict, EngineError, internal, invalid, messageOf, notFound, unavailable } from '../base/errdefs.js';
import type { SnapshotInfo, SnapshotKind, Usage } from './snapshotter.js';

export interface SnapshotRecord {
  /** Names the driver's directory for this snapshot; never reused while the record exists. */
  id: number;
  kind: SnapshotKind;
  parent: string;
  created: string;
  labels: Record<string, string>;
}

/** What commit asks of a driver whose committed data lives elsewhere than its active data (btrfs). */
export interface CommitSteps {
  /** Makes the committed copy of `active` as `committed`; runs before the record changes. */
  seal(active: SnapshotRecord, committed: SnapshotRecord): Promise<void>;
  /** Undoes whatever seal did when it or saving the record failed. */
  unseal(committed: SnapshotRecord): Promise<void>;
  /** Deletes the active data once the committed record is saved. */
  drop(active: SnapshotRecord): Promise<void>;
}

interface FileFormat {
  version: 1;
  nextId: number;
  snapshots: Record<string, SnapshotRecord>;
}

const FILE = 'metadata.json';

export class SnapshotMeta {
  private readonly records = new Map<string, SnapshotRecord>();
  /** Snapshots being built: not visible yet, but their key is taken and their parent pinned. */
  private readonly pending = new Map<string, SnapshotRecord>();
  /** Keys with a commit or remove in flight. */
  private readonly busy = new Set<string>();
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly file: string,
    private nextId: number,
  ) {}

  static async open(root: string): Promise<SnapshotMeta> {
    await mkdir(root, { recursive: true, mode: 0o711 });
    const file = join(root, FILE);
    let data: FileFormat = { version: 1, nextId: 1, snapshots: {} };
    try {
      data = JSON.parse(await readFile(file, 'utf8')) as FileFormat;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw internal(`snapshot metadata ${file} is unreadable: ${messageOf(e)}`, e);
    }
    if (data.version !== 1) throw internal(`snapshot metadata ${file}: unknown version ${String(data.version)}`);
    const meta = new SnapshotMeta(file, data.nextId);
    for (const [key, rec] of Object.entries(data.snapshots)) meta.records.set(key, rec);
    return meta;
  }

  /** The record of key; not-found when there is none. */
  get(key: string): SnapshotRecord {
    this.checkOpen();
    const rec = this.records.get(key);
    if (!rec) throw notFound(`snapshot ${key}: not found`);
    return rec;
  }

  /** key's record followed by its ancestors', nearest first. */
  chain(key: string): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (let k = key; k; k = out[out.length - 1]!.parent) out.push(this.get(k));
    return out;
  }

  info(key: string): SnapshotInfo {
    return toInfo(key, this.get(key));
  }

  list(): SnapshotInfo[] {
    this.checkOpen();
    return [...this.records].map(([key, rec]) => toInfo(key, rec));
  }

  /** Ids in use, by kind; anything else a driver finds on disk is debris from a crash. */
  ids(): Map<number, SnapshotKind> {
    const ids = new Map<number, SnapshotKind>();
    for (const rec of [...this.records.values(), ...this.pending.values()]) ids.set(rec.id, rec.kind);
    return ids;
  }

  /**
   * Makes the active or view snapshot key on parent. `build` creates its data
   * (given the parent chain, nearest first); on any failure `discard` deletes
   * whatever build left.
   */
  async create(
    kind: 'active' | 'view',
    key: string,
    parent: string,
    labels: Record<string, string> | undefined,
    build: (rec: SnapshotRecord, parents: SnapshotRecord[]) => Promise<void>,
    discard: (rec: SnapshotRecord) => Promise<void>,
  ): Promise<SnapshotRecord> {
    this.checkOpen();
    if (!key) throw invalid('snapshot key must not be empty');
    if (this.taken(key)) throw conflict(`snapshot ${key} already exists`);
    const parents = parent ? this.chain(parent) : [];
    if (parents[0] && parents[0].kind !== 'committed')
      throw invalid(`parent snapshot ${parent} is not committed (it is ${parents[0].kind})`);
    const rec: SnapshotRecord = { id: this.nextId++, kind, parent, created: now(), labels: { ...labels } };
    this.pending.set(key, rec);
    this.busy.add(key);
    try {
      await build(rec, parents);
      this.pending.delete(key);
      this.records.set(key, rec);
      await this.persist();
      return rec;
    } catch (e) {
      this.pending.delete(key);
      this.records.delete(key);
      await discard(rec).catch(() => undefined); // what is left is debris, deleted at the next open
      throw e;
    } finally {
      this.busy.delete(key);
    }
  }

  /** Turns the active snapshot key into the committed snapshot name (same id); the key is gone afterwards. */
  async commit(name: string, key: string, labels: Record<string, string> | undefined, steps?: CommitSteps): Promise<SnapshotRecord> {
    this.checkOpen();
    if (!name) throw invalid('snapshot name must not be empty');
    const active = this.get(key);
    if (active.kind !== 'active') throw invalid(`snapshot ${key} is ${article(active.kind)}, only active snapshots can be committed`);
    if (this.busy.has(key)) throw conflict(`snapshot ${key} is busy`);
    if (this.taken(name)) throw conflict(`snapshot ${name} already exists`);
    const committed: SnapshotRecord = { ...active, kind: 'committed', created: now(), labels: { ...(labels ?? active.labels) } };
    this.busy.add(key);
    this.busy.add(name);
    try {
      await steps?.seal(active, committed);
      this.records.delete(key);
      this.records.set(name, committed);
      await this.persist();
    } catch (e) {
      this.records.delete(name);
      this.records.set(key, active);
      await steps?.unseal(committed).catch(() => undefined);
      throw e;
    } finally {
      this.busy.delete(key);
      this.busy.delete(name);
    }
    await steps?.drop(active).catch((e) => {
      throw leftBehind(key, e);
    });
    return committed;
  }

  /** Removes key, refusing while it has children; `destroy` deletes its data once the record is gone. */
  async remove(key: string, destroy: (rec: SnapshotRecord) => Promise<void>): Promise<void> {
    const rec = this.get(key);
    if (this.busy.has(key)) throw conflict(`snapshot ${key} is busy`);
    const children = [...this.records, ...this.pending].filter(([, r]) => r.parent === key).map(([k]) => k);
    if (children.length)
      throw conflict(`cannot remove snapshot ${key}: it has ${children.length} child snapshot(s): ${children.slice(0, 3).join(', ')}`);
    this.records.delete(key);
    this.busy.add(key);
    try {
      await this.persist();
    } catch (e) {
      this.records.set(key, rec);
      throw e;
    } finally {
      this.busy.delete(key);
    }
    await destroy(rec).catch((e) => {
      throw leftBehind(key, e);
    });
  }

  /** Waits for pending writes; later calls fail with unavailable. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writes;
  }

  private taken(key: string): boolean {
    return this.records.has(key) || this.pending.has(key) || this.busy.has(key);
  }

  private checkOpen(): void {
    if (this.closed) throw unavailable('snapshotter is closed');
  }

  /** Saves the current state; writes are queued so a later state never loses to an earlier one. */
  private persist(): Promise<void> {
    const run = this.writes.then(() => this.write());
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async write(): Promise<void> {
    const data: FileFormat = { version: 1, nextId: this.nextId, snapshots: Object.fromEntries(this.records) };
    const tmp = `${this.file}.tmp`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(data));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
      // The rename is durable only once the directory itself is synced.
      const dir = await open(dirname(this.file), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (e) {
      throw internal(`saving snapshot metadata ${this.file}: ${messageOf(e)}`, e);
    }
  }
}

/**
 * Disk usage of the tree at dir like `du -sx`: allocated blocks, each inode
 * counted once (hard links), not descending into other file systems.
 */
export async function diskUsage(dir: string): Promise<Usage> {
  const top = await lstat(dir);
  const seen = new Set<string>();
  let size = 0;
  const count = (st: { dev: number; ino: number; blocks: number }): void => {
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    size += st.blocks * 512;
  };
  count(top);
  const walk = async (d: string): Promise<void> => {
    const names = await readdir(d);
    const stats = await Promise.all(names.map((n) => lstat(join(d, n)).then((st) => [n, st] as const)));
    for (const [n, st] of stats) {
      if (st.dev !== top.dev) continue;
      count(st);
      if (st.isDirectory()) await walk(join(d, n));
    }
  };
  await walk(dir);
  return { size, inodes: seen.size };
}

/**
 * Deletes the entries of dir that are not the directory of a kept id: debris
 * of a crash between disk work and a metadata write. Creates dir if needed.
 * Failures are left for the next open rather than failing this one.
 */
export async function sweep(dir: string, keep: (id: number) => boolean, destroy: (path: string) => Promise<void>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const n of await readdir(dir)) {
    if (/^[1-9][0-9]*$/.test(n) && keep(Number(n))) continue;
    await destroy(join(dir, n)).catch(() => undefined);
  }
}

const toInfo = (name: string, r: SnapshotRecord): SnapshotInfo => ({
  name,
  parent: r.parent,
  kind: r.kind,
  created: r.created,
  labels: { ...r.labels },
});

const now = (): string => new Date().toISOString();

const article = (kind: SnapshotKind): string => (kind === 'active' ? 'an active snapshot' : `a ${kind} snapshot`);

const leftBehind = (key: string, e: unknown): EngineError =>
  internal(`snapshot ${key} is gone but deleting its data failed (retried when the snapshotter next opens): ${messageOf(e)}`, e);
