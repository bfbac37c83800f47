import type { Readable } from 'node:stream';
import type { Digest } from '../base/digest.js';

/**
 * ContentStore: blobs by digest (layers, configs, manifests, indexes).
 *
 * Writes are ingests: bytes stream into a private ingest file while their
 * sha256 is computed; `commit` checks the digest (and size) against what was
 * expected and only then renames the file into place, so a crash or a bad
 * digest never leaves a half-written blob visible. Readers see only committed
 * blobs. Deleting a blob that a reader holds open is safe (POSIX unlink).
 *
 *   const d = await store.ingest(stream, { expected: desc.digest, size: desc.size });
 */
export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface IngestOpts {
  expected?: Digest;
  size?: number;
  /** Refuse (and discard) the blob once it grows beyond this many bytes. */
  limit?: number;
  signal?: AbortSignal;
}

export interface ContentStore {
  info(d: Digest): Promise<BlobInfo>; // not-found when absent
  has(d: Digest): Promise<boolean>;
  read(d: Digest): Promise<Buffer>;
  reader(d: Digest, range?: { start?: number; end?: number }): Promise<Readable>;
  /** Path of the committed blob, for zero-copy readers (sendfile-like piping). */
  path(d: Digest): string;
  put(data: Buffer | string, o?: IngestOpts): Promise<BlobInfo>;
  ingest(src: Readable | AsyncIterable<Uint8Array>, o?: IngestOpts): Promise<BlobInfo>;
  delete(d: Digest): Promise<void>;
  list(): Promise<BlobInfo[]>;
}
