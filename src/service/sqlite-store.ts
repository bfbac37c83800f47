/**
 * SqliteClusterStore: the ClusterStore of a single-node swarm, in the
 * daemon's SQLite database. One table of JSON documents keyed (kind, id) with
 * the revision beside each, and the store-wide revision counter in a second
 * table, so revisions keep growing across restarts (and across deletes).
 * Every put/delete/txn is one SQLite transaction: all of it survives a
 * `kill -9`, or none of it does. Watchers are in-process listeners called
 * after the commit; a store shared by several machines (etcd) will bring its
 * own watch stream.
 *
 *   const store = new SqliteClusterStore(db);   // db from base/db.ts openDb
 */
import type { Db } from '../base/db.js';
import type { Kind, Kinds, Op } from './cluster-store.js';
import { applyOps, DocumentStore } from './store-common.js';

export const CLUSTER_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS cluster_objects (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     revision INTEGER NOT NULL,
     doc TEXT NOT NULL,
     PRIMARY KEY (kind, id)
   );
   CREATE TABLE IF NOT EXISTS cluster_revision (
     one INTEGER PRIMARY KEY CHECK (one = 1),
     revision INTEGER NOT NULL
   );
   INSERT OR IGNORE INTO cluster_revision (one, revision) VALUES (1, 0);`,
];

export class SqliteClusterStore extends DocumentStore {
  private readonly getStmt;
  private readonly listStmt;
  private readonly putStmt;
  private readonly delStmt;
  private readonly revStmt;
  private readonly setRevStmt;

  /** The database stays the caller's: close() does not close it. */
  constructor(private readonly db: Db) {
    super();
    for (const m of CLUSTER_MIGRATIONS) db.exec(m);
    this.getStmt = db.prepare('SELECT doc FROM cluster_objects WHERE kind = ? AND id = ?');
    this.listStmt = db.prepare('SELECT doc FROM cluster_objects WHERE kind = ? ORDER BY revision');
    this.putStmt = db.prepare(
      'INSERT INTO cluster_objects (kind, id, revision, doc) VALUES (?, ?, ?, ?) ON CONFLICT(kind, id) DO UPDATE SET revision = excluded.revision, doc = excluded.doc',
    );
    this.delStmt = db.prepare('DELETE FROM cluster_objects WHERE kind = ? AND id = ?');
    this.revStmt = db.prepare('SELECT revision FROM cluster_revision WHERE one = 1');
    this.setRevStmt = db.prepare('UPDATE cluster_revision SET revision = ? WHERE one = 1');
  }

  private read(kind: Kind, id: string): Kinds[Kind] | undefined {
    const row = this.getStmt.get(kind, id) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as Kinds[Kind]) : undefined;
  }

  async get<K extends Kind>(kind: K, id: string): Promise<Kinds[K] | undefined> {
    this.checkOpen();
    return this.read(kind, id) as Kinds[K] | undefined;
  }

  async list<K extends Kind>(kind: K): Promise<Kinds[K][]> {
    this.checkOpen();
    return (this.listStmt.all(kind) as { doc: string }[]).map((r) => JSON.parse(r.doc) as Kinds[K]);
  }

  protected commit(ops: Op[]): Kinds[Kind][] {
    this.checkOpen();
    // better-sqlite3 is synchronous: nothing else runs between the checks and the writes.
    const result = this.db.transaction(() => {
      const rev = (this.revStmt.get() as { revision: number }).revision;
      const r = applyOps(ops, rev, (kind, id) => this.read(kind, id));
      for (const e of r.events) {
        if (e.action === 'delete') this.delStmt.run(e.kind, e.obj.ID);
        else this.putStmt.run(e.kind, e.obj.ID, e.obj.Version.Index, JSON.stringify(e.obj));
      }
      this.setRevStmt.run(r.revision);
      return r;
    })();
    this.watchers.emit(result.events);
    return result.stored;
  }
}
