/**
 * A blob being written: a file, how many bytes it holds, and the sha256 of
 * exactly those bytes. Bytes are hashed only after they are on disk, so a
 * request that dies mid-chunk leaves file and hash agreeing on what arrived and
 * the upload can continue from there. Memory per ingest is bounded by the
 * stream's high-water mark, never by the blob's size.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../base/digest.js';
import { regErr } from './errors.js';

const HIGH_WATER = 1 << 20;
const SINK_HIGH_WATER = 128 << 10;

export class BlobIngest {
  private constructor(
    readonly path: string,
    private hash: Hash,
    public size: number,
  ) {}

  /** A new, empty ingest file. */
  static async create(path: string): Promise<BlobIngest> {
    await (await fs.open(path, 'wx')).close();
    return new BlobIngest(path, createHash('sha256'), 0);
  }

  /** An ingest file left by an earlier process: its bytes are hashed again (hash state does not survive a restart). */
  static async resume(path: string): Promise<BlobIngest> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: HIGH_WATER })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return new BlobIngest(path, hash, size);
  }

  /**
   * Appends a stream at the current end. `limit` caps the total size (413 SIZE_INVALID);
   * on any failure the bytes that reached the disk stay counted.
   */
  async append(src: Readable | AsyncIterable<Uint8Array>, limit = Infinity): Promise<number> {
    const before = this.size;
    const fh = await fs.open(this.path, 'r+');
    const sink = new AppendSink(fh, this, limit);
    // A refused chunk must not destroy the request: its socket still has to carry the error answer.
    const source = src instanceof Readable ? src.iterator({ destroyOnReturn: false }) : src;
    try {
      await pipeline(source, sink);
    } finally {
      await sink.settled();
      await fh.close();
    }
    return this.size - before;
  }

  /** Opens the file for a series of appends (the pull-through tee); `close` when done. */
  async appender(): Promise<{ write(chunk: Buffer): Promise<void>; close(): Promise<void> }> {
    const fh = await fs.open(this.path, 'r+');
    return {
      write: async (chunk) => {
        await writeAll(fh, [chunk], this.size);
        this.wrote([chunk]);
      },
      close: () => fh.close(),
    };
  }

  /** @internal called by the sink once bytes are on disk. */
  wrote(bufs: Buffer[]): void {
    for (const b of bufs) {
      this.hash.update(b);
      this.size += b.length;
    }
  }

  /** A point to come back to when a chunk turns out to be bad after it was written. */
  checkpoint(): { hash: Hash; size: number } {
    return { hash: this.hash.copy(), size: this.size };
  }

  /** Forgets everything written since `cp` (the file's tail is cut by `trim`). */
  async rollback(cp: { hash: Hash; size: number }): Promise<void> {
    this.hash = cp.hash;
    this.size = cp.size;
    await this.trim();
  }

  /** The digest of the bytes so far, in the algorithm the client named. */
  async digest(algorithm: string): Promise<Digest> {
    if (algorithm === 'sha256') return `sha256:${this.hash.copy().digest('hex')}`;
    // Only sha256 is hashed while streaming; another algorithm reads the file once more.
    const h = createHash(algorithm);
    // (An empty blob has nothing to read, and `end: -1` would throw.)
    if (this.size > 0) for await (const chunk of createReadStream(this.path, { end: this.size - 1, highWaterMark: HIGH_WATER })) h.update(chunk as Buffer);
    return `${algorithm}:${h.digest('hex')}` as Digest;
  }

  /** Drops anything beyond `size` (a write that failed halfway may have left a tail). */
  async trim(): Promise<void> {
    await fs.truncate(this.path, this.size);
  }
}

class AppendSink extends Writable {
  private pending: Promise<void> = Promise.resolve();
  constructor(
    private readonly fh: FileHandle,
    private readonly ingest: BlobIngest,
    private readonly limit: number,
  ) {
    // Small on purpose: with 50 uploads at once this is what bounds memory (writev coalesces chunks anyway).
    super({ highWaterMark: SINK_HIGH_WATER });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (e?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    const n = bufs.reduce((a, b) => a + b.length, 0);
    if (this.ingest.size + n > this.limit) {
      cb(regErr('SIZE_INVALID', `blob exceeds the limit of ${this.limit} bytes`, { status: 413 }));
      return;
    }
    const p = writeAll(this.fh, bufs, this.ingest.size).then(() => this.ingest.wrote(bufs));
    this.pending = p.catch(() => {});
    p.then(() => cb(), cb);
  }

  /** Resolves once no write is in flight, so the ingest's size is final. */
  settled(): Promise<void> {
    return this.pending;
  }
}

async function writeAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest, position);
    position += bytesWritten;
    // A short write is rare on a regular file (a signal, a full disk); resume after what landed.
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    if (next.length && bytesWritten === 0) throw new Error('write made no progress');
    rest = next;
  }
}
