/**
 * The build cache: which image a step produced, keyed by everything that
 * decides its result — the parent image, the instruction after variable
 * substitution, the build args in effect and, for COPY/ADD, a checksum of the
 * sources' content and metadata (not their mtimes). Kept in SQLite, so it
 * survives daemon restarts; an entry whose image was deleted is a miss.
 *
 * Beyond Docker, a miss can say why: the entries recorded for the same parent
 * tell whether the instruction, the build args or the files changed.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../base/db.js';

export const BUILD_CACHE_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS build_cache (
     key TEXT PRIMARY KEY,
     parent TEXT NOT NULL,
     instruction TEXT NOT NULL,
     args TEXT NOT NULL,
     sources TEXT NOT NULL,
     image TEXT NOT NULL,
     created_ns INTEGER NOT NULL
   );
   CREATE INDEX IF NOT EXISTS build_cache_parent ON build_cache(parent);`,
];

export interface StepKey {
  parent: string;
  instruction: string;
  /** Build args in effect, "k=v" sorted. */
  args: string[];
  /** Checksum of the COPY/ADD sources ('' for other steps). */
  sources: string;
}

export function keyOf(k: StepKey): string {
  return createHash('sha256').update(JSON.stringify([k.parent, k.instruction, k.args, k.sources])).digest('hex');
}

export class BuildCache {
  private readonly get_;
  private readonly put_;
  private readonly byParent_;
  private readonly del_;
  private readonly all_;
  private readonly entries_;

  constructor(db: Db) {
    for (const m of BUILD_CACHE_MIGRATIONS) db.exec(m);
    this.get_ = db.prepare('SELECT image FROM build_cache WHERE key = ?');
    this.put_ = db.prepare('INSERT INTO build_cache (key, parent, instruction, args, sources, image, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET image = excluded.image, created_ns = excluded.created_ns');
    this.byParent_ = db.prepare('SELECT instruction, args, sources FROM build_cache WHERE parent = ? ORDER BY created_ns DESC LIMIT 50');
    this.del_ = db.prepare('DELETE FROM build_cache WHERE key = ?');
    this.all_ = db.prepare('SELECT key, image FROM build_cache');
    this.entries_ = db.prepare('SELECT key, parent, instruction, image, created_ns FROM build_cache ORDER BY created_ns');
  }

  /** The image a step made before, if it still exists. */
  lookup(k: StepKey, exists: (image: string) => boolean): string | undefined {
    const key = keyOf(k);
    const row = this.get_.get(key) as { image: string } | undefined;
    if (!row) return undefined;
    if (exists(row.image)) return row.image;
    this.del_.run(key);
    return undefined;
  }

  record(k: StepKey, image: string): void {
    this.put_.run(keyOf(k), k.parent, k.instruction, JSON.stringify(k.args), k.sources, image, Date.now() * 1e6);
  }

  /** Why a step missed, compared with what was built before on the same parent; undefined when nothing was (a new parent, or a pruned cache). */
  whyMissed(k: StepKey): string | undefined {
    const rows = this.byParent_.all(k.parent) as { instruction: string; args: string; sources: string }[];
    if (!rows.length) return undefined;
    const same = rows.filter((r) => r.instruction === k.instruction);
    if (!same.length) {
      const verb = k.instruction.split(' ')[0];
      const was = rows.find((r) => r.instruction.split(' ')[0] === verb) ?? rows[0]!;
      return `the instruction changed (before: ${was.instruction.length > 80 ? was.instruction.slice(0, 77) + '...' : was.instruction})`;
    }
    const args = same.find((r) => r.sources === k.sources);
    if (args) {
      const before = new Set(JSON.parse(args.args) as string[]);
      const now = new Set(k.args);
      const changed = [...new Set([...before, ...now])].filter((a) => before.has(a) !== now.has(a)).map((a) => a.split('=')[0]!);
      return `build args changed: ${[...new Set(changed)].join(', ')}`;
    }
    return 'the source files changed (content or metadata)';
  }

  /** Every entry, oldest first (for /system/df's BuildCache). */
  entries(): { key: string; parent: string; instruction: string; image: string; createdNs: number }[] {
    return (this.entries_.all() as { key: string; parent: string; instruction: string; image: string; created_ns: number }[]).map((r) => ({
      key: r.key, parent: r.parent, instruction: r.instruction, image: r.image, createdNs: r.created_ns,
    }));
  }

  /** Removes the entries whose image is not `keep`-worthy (or every one with `all`); returns their keys. */
  prune(all: boolean, keep: (image: string) => boolean): string[] {
    const out: string[] = [];
    for (const r of this.all_.all() as { key: string; image: string }[]) {
      if (!all && keep(r.image)) continue;
      this.del_.run(r.key);
      out.push(r.key);
    }
    return out;
  }
}
