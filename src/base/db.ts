/**
 * The daemon's metadata database: SQLite through better-sqlite3 in WAL mode.
 * Why SQLite: crash-safe transactions (a daemon killed mid-write leaves the
 * last committed state), one file, synchronous calls that cost microseconds —
 * no separate server. See docs/architecture.md, "Metadata".
 *
 * Schema changes are numbered migrations; `user_version` records the last applied.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

export function openDb(path: string, migrations: readonly string[]): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL'); // WAL + NORMAL: durable across process crashes, fast commits
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
