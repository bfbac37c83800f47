/**
 * The image store as pulls and pushes see it: blobs, metadata, layers and
 * events. engine's ImageService has all of these; distribution sits below
 * engine, so it names only what it uses and the daemon hands the service in.
 */
import type { Digest } from '../base/digest.js';
import type { ContentStore } from '../image/content.js';
import type { Manifest } from '../image/oci.js';
import type { ImageStore } from '../image/store.js';
import type { Layers } from '../layer/layers.js';

export interface ImageSink {
  readonly content: ContentStore;
  readonly meta: ImageStore;
  readonly layers: Layers;
  readonly events: { emit(type: 'image', action: string, id: string, attributes?: Record<string, string>): unknown };
}

/** Blobs that some image's config or manifest names (layers included). */
export async function referencedBlobs(images: ImageSink): Promise<Set<string>> {
  const keep = new Set<string>();
  for (const r of images.meta.list()) {
    keep.add(r.id).add(r.manifest);
    try {
      const m = JSON.parse((await images.content.read(r.manifest)).toString('utf8')) as Manifest;
      for (const l of m.layers ?? []) keep.add(l.digest);
    } catch {
      /* a missing manifest names nothing */
    }
  }
  return keep;
}

/** Deletes those of `blobs` that no image names: what a failed pull brought. */
export async function dropUnused(images: ImageSink, blobs: Iterable<Digest>): Promise<void> {
  const list = [...blobs];
  if (list.length === 0) return;
  const keep = await referencedBlobs(images);
  for (const d of list) if (!keep.has(d)) await images.content.delete(d);
}
