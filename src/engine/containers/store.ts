/**
 * Container records in SQLite: one row per container, its record as JSON,
 * the name unique. The in-memory map is the working copy; every change is
 * written through at once (a commit costs microseconds in WAL mode), so a
 * daemon killed at any point finds the last state on restart.
 */
import type { Db } from '../../base/db.js';
import { conflict, invalid, notFound } from '../../base/errdefs.js';
import type { ContainerRecord } from './record.js';

export const CONTAINER_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     created_ns INTEGER NOT NULL,
     record TEXT NOT NULL
   );`,
];

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  private readonly put_;
  private readonly del_;
  private seq = 0;
  /** Creation order (before/since filters, ps order). */
  readonly order = new Map<string, number>();

  constructor(db: Db) {
    for (const m of CONTAINER_MIGRATIONS) db.exec(m);
    this.put_ = db.prepare('INSERT INTO containers (id, name, created_ns, record) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record');
    this.del_ = db.prepare('DELETE FROM containers WHERE id = ?');
    for (const row of db.prepare('SELECT record FROM containers ORDER BY created_ns, rowid').all() as { record: string }[]) {
      const r = JSON.parse(row.record) as ContainerRecord;
      this.byId.set(r.id, r);
      this.byName.set(r.name, r.id);
      this.order.set(r.id, this.seq++);
    }
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  /** Docker's lookup order: full ID, name, unique ID prefix. */
  find(ref: string): ContainerRecord {
    if (!ref) throw invalid('container name or ID cannot be empty');
    const direct = this.byId.get(ref);
    if (direct) return direct;
    const byName = this.byName.get(ref.replace(/^\//, ''));
    if (byName) return this.byId.get(byName)!;
    if (/^[a-f0-9]+$/.test(ref)) {
      const hits = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (hits.length > 1) throw invalid(`multiple IDs found with provided prefix: ${ref}`);
      if (hits.length === 1) return this.byId.get(hits[0]!)!;
    }
    throw notFound(`No such container: ${ref}`);
  }

  nameInUse(name: string): string | undefined {
    return this.byName.get(name);
  }

  add(r: ContainerRecord): void {
    const other = this.byName.get(r.name);
    if (other) throw nameConflict(r.name, other);
    this.put_.run(r.id, r.name, Date.parse(r.created) * 1e6, JSON.stringify(r));
    this.byId.set(r.id, r);
    this.byName.set(r.name, r.id);
    this.order.set(r.id, this.seq++);
  }

  /** Writes the record's current state through. */
  save(r: ContainerRecord): void {
    if (!this.byId.has(r.id)) return; // removed meanwhile
    this.put_.run(r.id, r.name, Date.parse(r.created) * 1e6, JSON.stringify(r));
  }

  rename(r: ContainerRecord, name: string): void {
    const other = this.byName.get(name);
    if (other && other !== r.id) throw nameConflict(name, other);
    this.byName.delete(r.name);
    r.name = name;
    this.byName.set(name, r.id);
    this.save(r);
  }

  remove(id: string): void {
    const r = this.byId.get(id);
    if (!r) return;
    this.del_.run(id);
    this.byId.delete(id);
    this.byName.delete(r.name);
    this.order.delete(id);
  }
}

export const nameConflict = (name: string, id: string) =>
  conflict(`Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
