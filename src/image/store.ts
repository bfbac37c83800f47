/**
 * ImageStore: the metadata of images, their names and their layers, in SQLite.
 * Blobs themselves (configs, manifests, layers) live in the ContentStore; an
 * image record names its config (the image ID, as Docker computes it) and the
 * manifest that lists its layer blobs.
 */
import type { Digest } from '../base/digest.js';
import type { Db } from '../base/db.js';

export const IMAGE_MIGRATIONS = [
  `CREATE TABLE images (
     id TEXT PRIMARY KEY,            -- config digest = image ID
     manifest TEXT NOT NULL,         -- manifest digest in the content store
     created TEXT NOT NULL DEFAULT '',
     size INTEGER NOT NULL,          -- uncompressed size of all layers
     parent TEXT NOT NULL DEFAULT '',-- local parent image (builder), '' if none
     added_at INTEGER NOT NULL,      -- ms since epoch, orders before/since filters
     last_tag_time TEXT NOT NULL DEFAULT ''
   );
   CREATE TABLE tags (
     ref TEXT PRIMARY KEY,           -- normalised: docker.io/library/busybox:latest or name@sha256:...
     image_id TEXT NOT NULL REFERENCES images(id)
   );
   CREATE INDEX tags_image ON tags(image_id);
   CREATE TABLE layers (
     chain_id TEXT PRIMARY KEY,      -- also the snapshot name
     diff_id TEXT NOT NULL,
     parent TEXT NOT NULL,           -- parent chain ID, '' for a base layer
     size INTEGER NOT NULL           -- uncompressed tar size
   );`,
];

export interface ImageRecord {
  id: Digest;
  manifest: Digest;
  created: string;
  size: number;
  parent: string;
  addedAt: number;
  lastTagTime: string;
}

export interface LayerRecord {
  chainId: Digest;
  diffId: Digest;
  parent: string;
  size: number;
}

interface ImageRow { id: string; manifest: string; created: string; size: number; parent: string; added_at: number; last_tag_time: string }
const toImage = (r: ImageRow): ImageRecord => ({
  id: r.id as Digest, manifest: r.manifest as Digest, created: r.created, size: r.size,
  parent: r.parent, addedAt: r.added_at, lastTagTime: r.last_tag_time,
});

export class ImageStore {
  private readonly q;
  constructor(private readonly db: Db) {
    this.q = {
      get: db.prepare<[string], ImageRow>('SELECT * FROM images WHERE id = ?'),
      byPrefix: db.prepare<[string], ImageRow>("SELECT * FROM images WHERE id LIKE ? || '%' LIMIT 2"),
      all: db.prepare<[], ImageRow>('SELECT * FROM images ORDER BY added_at DESC, id'),
      put: db.prepare(`INSERT INTO images (id, manifest, created, size, parent, added_at) VALUES (@id, @manifest, @created, @size, @parent, @addedAt)
                       ON CONFLICT(id) DO UPDATE SET manifest = excluded.manifest`),
      del: db.prepare('DELETE FROM images WHERE id = ?'),
      tagTime: db.prepare('UPDATE images SET last_tag_time = ? WHERE id = ?'),
      children: db.prepare<[string], { id: string }>('SELECT id FROM images WHERE parent = ?'),
      tag: db.prepare<[string], { image_id: string }>('SELECT image_id FROM tags WHERE ref = ?'),
      setTag: db.prepare('INSERT INTO tags (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id'),
      delTag: db.prepare('DELETE FROM tags WHERE ref = ?'),
      tagsOf: db.prepare<[string], { ref: string }>('SELECT ref FROM tags WHERE image_id = ? ORDER BY ref'),
      allTags: db.prepare<[], { ref: string; image_id: string }>('SELECT ref, image_id FROM tags ORDER BY ref'),
      layer: db.prepare<[string], { chain_id: string; diff_id: string; parent: string; size: number }>('SELECT * FROM layers WHERE chain_id = ?'),
      putLayer: db.prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size) VALUES (?, ?, ?, ?)'),
      delLayer: db.prepare('DELETE FROM layers WHERE chain_id = ?'),
      allLayers: db.prepare<[], { chain_id: string; diff_id: string; parent: string; size: number }>('SELECT * FROM layers'),
    };
  }

  get(id: string): ImageRecord | undefined {
    const r = this.q.get.get(id);
    return r && toImage(r);
  }
  /** Images whose ID starts with the hex prefix (at most 2, to detect ambiguity). */
  byPrefix(hexPrefix: string): ImageRecord[] {
    return this.q.byPrefix.all(`sha256:${hexPrefix}`).map(toImage);
  }
  list(): ImageRecord[] {
    return this.q.all.all().map(toImage);
  }
  put(r: Omit<ImageRecord, 'lastTagTime'>): void {
    this.q.put.run(r);
  }
  delete(id: string): void {
    this.db.transaction(() => {
      for (const t of this.q.tagsOf.all(id)) this.q.delTag.run(t.ref);
      this.q.del.run(id);
    })();
  }
  children(id: string): string[] {
    return this.q.children.all(id).map((r) => r.id);
  }

  resolveTag(ref: string): string | undefined {
    return this.q.tag.get(ref)?.image_id;
  }
  /** Points ref at image id; returns the image the ref pointed at before, if another. */
  setTag(ref: string, id: string): string | undefined {
    return this.db.transaction(() => {
      const before = this.q.tag.get(ref)?.image_id;
      this.q.setTag.run(ref, id);
      this.q.tagTime.run(new Date().toISOString(), id);
      return before !== id ? before : undefined;
    })();
  }
  deleteTag(ref: string): void {
    this.q.delTag.run(ref);
  }
  tagsOf(id: string): string[] {
    return this.q.tagsOf.all(id).map((r) => r.ref);
  }
  allTags(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const r of this.q.allTags.all()) {
      const l = m.get(r.image_id);
      if (l) l.push(r.ref);
      else m.set(r.image_id, [r.ref]);
    }
    return m;
  }

  layer(chainId: string): LayerRecord | undefined {
    const r = this.q.layer.get(chainId);
    return r && { chainId: r.chain_id as Digest, diffId: r.diff_id as Digest, parent: r.parent, size: r.size };
  }
  putLayer(l: LayerRecord): void {
    this.q.putLayer.run(l.chainId, l.diffId, l.parent, l.size);
  }
  deleteLayer(chainId: string): void {
    this.q.delLayer.run(chainId);
  }
  layers(): LayerRecord[] {
    return this.q.allLayers.all().map((r) => ({ chainId: r.chain_id as Digest, diffId: r.diff_id as Digest, parent: r.parent, size: r.size }));
  }
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
