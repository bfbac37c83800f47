import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { Digester, hexOf, isDigest, type Digest } from '../base/digest.js';
import { invalid, notFound } from '../base/errdefs.js';
import type { BlobInfo, ContentStore, IngestOpts } from './content.js';

/**
 * ContentStore on the local file system:
 *   root/blobs/sha256/<hex>   committed, read-only blobs
 *   root/ingest/<random>      in-flight writes, removed on failure and swept at open
 */
export class FsContentStore implements ContentStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<FsContentStore> {
    await fs.mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
    // Whatever is in ingest/ was being written when the daemon stopped: never visible, safe to drop.
    await fs.rm(join(root, 'ingest'), { recursive: true, force: true });
    await fs.mkdir(join(root, 'ingest'), { recursive: true });
    return new FsContentStore(root);
  }

  path(d: Digest): string {
    if (!isDigest(d) || !d.startsWith('sha256:')) throw invalid(`unsupported digest ${d}`);
    return join(this.root, 'blobs', 'sha256', hexOf(d));
  }

  async info(d: Digest): Promise<BlobInfo> {
    try {
      const st = await fs.stat(this.path(d));
      return { digest: d, size: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${d}: not found`);
      throw e;
    }
  }

  async has(d: Digest): Promise<boolean> {
    try {
      await fs.access(this.path(d));
      return true;
    } catch {
      return false;
    }
  }

  async read(d: Digest): Promise<Buffer> {
    try {
      return await fs.readFile(this.path(d));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${d}: not found`);
      throw e;
    }
  }

  async reader(d: Digest, range: { start?: number; end?: number } = {}): Promise<Readable> {
    await this.info(d);
    return createReadStream(this.path(d), { start: range.start, end: range.end, highWaterMark: 1 << 20 });
  }

  async put(data: Buffer | string, o: IngestOpts = {}): Promise<BlobInfo> {
    return this.ingest(Readable.from([typeof data === 'string' ? Buffer.from(data) : data]), o);
  }

  async ingest(src: Readable | AsyncIterable<Uint8Array>, o: IngestOpts = {}): Promise<BlobInfo> {
    const tmp = join(this.root, 'ingest', randomBytes(12).toString('hex'));
    const dg = new Digester();
    const limit = o.limit ?? Infinity;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        dg.update(chunk);
        if (dg.size > limit) cb(invalid(`blob exceeds the limit of ${limit} bytes`));
        else cb(null, chunk);
      },
    });
    try {
      await pipeline(src, counter, createWriteStream(tmp, { highWaterMark: 1 << 20 }), { signal: o.signal });
      const digest = dg.digest();
      if (o.expected && o.expected !== digest)
        throw invalid(`digest mismatch: expected ${o.expected}, got ${digest}`);
      if (o.size !== undefined && o.size >= 0 && o.size !== dg.size)
        throw invalid(`size mismatch for ${digest}: expected ${o.size} bytes, got ${dg.size}`);
      // Rename is atomic: readers see the whole blob or none.
      await fs.rename(tmp, this.path(digest));
      return { digest, size: dg.size };
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  async delete(d: Digest): Promise<void> {
    await fs.rm(this.path(d), { force: true });
  }

  async list(): Promise<BlobInfo[]> {
    const dir = join(this.root, 'blobs', 'sha256');
    const out: BlobInfo[] = [];
    for (const name of await fs.readdir(dir)) {
      const st = await fs.stat(join(dir, name));
      out.push({ digest: `sha256:${name}`, size: st.size });
    }
    return out;
  }
}
