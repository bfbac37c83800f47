/**
 * Gzip copies of uncompressed layers, for pushing. Loaded and imported
 * images keep their layers as plain tar; registries get them gzipped, like
 * Docker sends them. The first push compresses a layer once into the content
 * store and records diff ID → gzip blob here, so later pushes (to any
 * registry) reuse that blob, and its digest lets them ask the registry first
 * whether it already has it.
 *
 *   root/<diff ID hex>   {"digest":"sha256:…","size":123}
 *
 * Entries whose layer no longer exists are swept (blob and all) before a push.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hexOf, isDigest, type Digest } from '../base/digest.js';
import type { BlobInfo } from '../image/content.js';
import { referencedBlobs, type ImageSink } from './store.js';

export class CompressedBlobs {
  constructor(
    private readonly root: string,
    private readonly images: ImageSink,
  ) {}

  /** The gzip blob recorded for an uncompressed layer, if it is still in the content store. */
  async get(diffId: Digest): Promise<BlobInfo | undefined> {
    let rec: { digest?: string; size?: number };
    try {
      rec = JSON.parse(await fs.readFile(join(this.root, hexOf(diffId)), 'utf8')) as typeof rec;
    } catch {
      return undefined;
    }
    if (!rec.digest || !isDigest(rec.digest) || typeof rec.size !== 'number') return undefined;
    if (!(await this.images.content.has(rec.digest))) return undefined;
    return { digest: rec.digest, size: rec.size };
  }

  async put(diffId: Digest, blob: BlobInfo): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${randomBytes(6).toString('hex')}`);
    await fs.writeFile(tmp, JSON.stringify({ digest: blob.digest, size: blob.size }));
    await fs.rename(tmp, join(this.root, hexOf(diffId)));
  }

  /** Forgets the copies of layers that are gone, and removes their blobs unless an image names them. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.root);
    } catch {
      return;
    }
    const live = new Set(this.images.meta.layers().map((l) => hexOf(l.diffId)));
    const stale = names.filter((n) => /^[a-f0-9]{64}$/.test(n) && !live.has(n));
    if (stale.length === 0) return;
    const keep = await referencedBlobs(this.images);
    for (const n of stale) {
      const blob = await this.get(`sha256:${n}`);
      await fs.rm(join(this.root, n), { force: true });
      if (blob && !keep.has(blob.digest)) await this.images.content.delete(blob.digest);
    }
  }
}
