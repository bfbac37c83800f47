/**
 * Network records in SQLite, one row per network with its record as JSON and
 * its name unique; the in-memory map is the working copy, written through.
 * Addresses need no table of their own: they are kept on the container
 * records (static addresses and running endpoints), so both survive restarts
 * in the same transaction as the container they belong to.
 */
import type { Db } from '../base/db.js';
import { invalid, notFound } from '../base/errdefs.js';
import type { NetworkRecord } from './types.js';

export const NETWORK_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS networks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     record TEXT NOT NULL
   );`,
];

export class NetworkStore {
  private readonly byId = new Map<string, NetworkRecord>();
  private readonly put_;
  private readonly del_;

  constructor(db: Db) {
    for (const m of NETWORK_MIGRATIONS) db.exec(m);
    this.put_ = db.prepare('INSERT INTO networks (id, name, record) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record');
    this.del_ = db.prepare('DELETE FROM networks WHERE id = ?');
    for (const row of db.prepare('SELECT record FROM networks ORDER BY rowid').all() as { record: string }[]) {
      const n = JSON.parse(row.record) as NetworkRecord;
      this.byId.set(n.id, n);
    }
  }

  all(): NetworkRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): NetworkRecord | undefined {
    return this.byId.get(id);
  }

  byName(name: string): NetworkRecord | undefined {
    for (const n of this.byId.values()) if (n.name === name) return n;
    return undefined;
  }

  /** Docker's lookup order: full ID, exact name, unique ID prefix. */
  find(ref: string): NetworkRecord {
    if (!ref) throw invalid('network name or ID cannot be empty');
    const direct = this.byId.get(ref) ?? this.byName(ref);
    if (direct) return direct;
    if (/^[a-f0-9]+$/.test(ref)) {
      const hits = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (hits.length > 1) throw invalid(`network ${ref} is ambiguous (${hits.length} matches found on ID prefix)`);
      if (hits.length === 1) return this.byId.get(hits[0]!)!;
    }
    throw notFound(`network ${ref} not found`);
  }

  save(n: NetworkRecord): void {
    this.put_.run(n.id, n.name, JSON.stringify(n));
    this.byId.set(n.id, n);
  }

  remove(id: string): void {
    this.del_.run(id);
    this.byId.delete(id);
  }
}
