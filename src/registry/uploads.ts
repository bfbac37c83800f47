/**
 * Blob upload sessions. A session is a folder `uploads/<uuid>/` holding the
 * bytes so far (`data`) and `info.json` ({repo, startedAt}); in memory it also
 * holds the running sha256. Lifecycle:
 *
 *   create → append* (PATCH, in order) → complete (PUT ?digest=) → blob committed, folder gone
 *                                      ↘ cancel (DELETE) or expiry (idle for ttl) → folder gone
 *
 * Nothing in a session is visible as a blob until `complete` has checked the
 * digest and renamed the file into place. A client that drops mid-chunk leaves
 * the bytes that arrived (file and hash agree, see ingest.ts), and the session
 * either continues or expires. Sessions survive a restart (their hash is rebuilt
 * from the file on first use); expired ones are removed at start and by a timer.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Digest } from '../base/digest.js';
import { nullLogger, type Logger } from '../base/log.js';
import { regErr } from './errors.js';
import { BlobIngest } from './ingest.js';
import { readdirOr, type RegistryStore } from './storage.js';

export interface UploadSession {
  readonly id: string;
  readonly repo: string;
  readonly dir: string;
  /** Undefined for a session found on disk at start until it is first used. */
  ingest?: BlobIngest;
  lastActive: number;
  busy: boolean;
}

export interface UploadOptions {
  ttlMs?: number;
  /** Largest blob a session may grow to (413 SIZE_INVALID beyond). */
  maxBlobBytes?: number;
  log?: Logger;
}

export const DEFAULT_UPLOAD_TTL_MS = 3600_000;
export const DEFAULT_MAX_BLOB_BYTES = 64 * 1024 ** 3;

/** `Range: 0-<last byte>`, as distribution writes it (an empty upload is "0-0"). */
export const rangeHeader = (size: number) => `0-${Math.max(size - 1, 0)}`;

export class Uploads {
  private readonly sessions = new Map<string, UploadSession>();
  private timer?: NodeJS.Timeout;
  readonly ttlMs: number;
  readonly maxBlobBytes: number;
  private readonly log: Logger;

  private constructor(
    private readonly store: RegistryStore,
    o: UploadOptions,
  ) {
    this.ttlMs = o.ttlMs ?? DEFAULT_UPLOAD_TTL_MS;
    this.maxBlobBytes = o.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
    this.log = o.log ?? nullLogger;
  }

  /** Loads the sessions on disk, dropping expired and broken ones, and starts the expiry timer. */
  static async open(store: RegistryStore, o: UploadOptions = {}): Promise<Uploads> {
    const u = new Uploads(store, o);
    const base = join(store.root, 'uploads');
    for (const id of await readdirOr(base)) {
      const dir = join(base, id);
      try {
        const info = JSON.parse(await fs.readFile(join(dir, 'info.json'), 'utf8')) as { repo: string };
        const st = await fs.stat(join(dir, 'data'));
        const lastActive = Math.max(st.mtimeMs, (await fs.stat(join(dir, 'info.json'))).mtimeMs);
        if (Date.now() - lastActive > u.ttlMs) throw new Error('expired');
        u.sessions.set(id, { id, repo: info.repo, dir, lastActive, busy: false });
      } catch {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
    const every = Math.max(10, Math.min(u.ttlMs / 2, 60_000));
    u.timer = setInterval(() => void u.sweep().catch((e) => u.log.warn({ err: e }, 'upload sweep failed')), every);
    u.timer.unref();
    return u;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get count(): number {
    return this.sessions.size;
  }

  async create(repo: string): Promise<UploadSession> {
    const id = randomUUID();
    const dir = join(this.store.root, 'uploads', id);
    await fs.mkdir(dir);
    await fs.writeFile(join(dir, 'info.json'), JSON.stringify({ repo, startedAt: new Date().toISOString() }));
    const s: UploadSession = { id, repo, dir, ingest: await BlobIngest.create(join(dir, 'data')), lastActive: Date.now(), busy: false };
    this.sessions.set(id, s);
    return s;
  }

  /** The session, or BLOB_UPLOAD_UNKNOWN (unknown, expired, or another repository's). */
  get(repo: string, id: string): UploadSession {
    const s = this.sessions.get(id);
    if (!s || s.repo !== repo) throw regErr('BLOB_UPLOAD_UNKNOWN', `blob upload unknown to registry: ${id.slice(0, 100)}`, { detail: { uuid: id.slice(0, 100) } });
    return s;
  }

  /** Current size, rebuilding the hash of a session from a previous run if needed. */
  async size(s: UploadSession): Promise<number> {
    return (await this.ingestOf(s)).size;
  }

  /**
   * Appends a chunk. With `range` (from Content-Range) the chunk must start where
   * the upload ends (else 416 RANGE_INVALID carrying the current Range) and be as
   * long as it says (else it is dropped again: BLOB_UPLOAD_INVALID). A body
   * whose declared length would take the blob past maxBlobBytes is refused
   * before a byte is read (413 SIZE_INVALID).
   */
  async append(s: UploadSession, src: Readable, range?: { start: number; end: number }, declared?: number): Promise<number> {
    return this.exclusive(s, async () => {
      const ingest = await this.ingestOf(s);
      if (range && range.start !== ingest.size)
        throw regErr('RANGE_INVALID', `chunk starts at ${range.start}, the upload has ${ingest.size} bytes`, { headers: this.headers(s, ingest.size) });
      if (declared !== undefined && ingest.size + declared > this.maxBlobBytes)
        throw regErr('SIZE_INVALID', `blob exceeds the limit of ${this.maxBlobBytes} bytes`, { status: 413 });
      const cp = ingest.checkpoint();
      try {
        const n = await ingest.append(src, this.maxBlobBytes);
        if (range && n !== range.end - range.start + 1) {
          await ingest.rollback(cp);
          throw regErr('BLOB_UPLOAD_INVALID', `Content-Range ${range.start}-${range.end} announced ${range.end - range.start + 1} bytes, the body had ${n}`);
        }
      } finally {
        s.lastActive = Date.now();
      }
      return ingest.size;
    });
  }

  /**
   * Verifies the upload against `digest` and commits it as a blob of the
   * session's repository; on a mismatch the session and its bytes are dropped
   * (DIGEST_INVALID) and nothing becomes visible.
   */
  async complete(s: UploadSession, digest: Digest): Promise<void> {
    await this.exclusive(s, async () => {
      const ingest = await this.ingestOf(s);
      await ingest.trim();
      const actual = await ingest.digest(digest.slice(0, digest.indexOf(':')));
      if (actual !== digest) {
        await this.drop(s);
        throw regErr('DIGEST_INVALID', `provided digest ${digest} does not match the uploaded content (${actual}, ${ingest.size} bytes)`, { detail: { digest } });
      }
      await this.store.commitBlob(s.repo, ingest.path, digest);
      await this.drop(s);
    });
  }

  async cancel(s: UploadSession): Promise<void> {
    if (s.busy) throw regErr('BLOB_UPLOAD_INVALID', 'the upload is in use by another request');
    await this.drop(s);
  }

  /** The headers every upload response carries. */
  headers(s: UploadSession, size: number): Record<string, string> {
    return { Location: `/v2/${s.repo}/blobs/uploads/${s.id}`, Range: rangeHeader(size), 'Docker-Upload-UUID': s.id };
  }

  /** Removes sessions idle for longer than the ttl (never one a request is using). */
  async sweep(now = Date.now()): Promise<number> {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.busy || now - s.lastActive <= this.ttlMs) continue;
      await this.drop(s);
      n++;
      this.log.debug({ repo: s.repo, uuid: s.id }, 'upload session expired');
    }
    return n;
  }

  private async ingestOf(s: UploadSession): Promise<BlobIngest> {
    if (!s.ingest) s.ingest = await BlobIngest.resume(join(s.dir, 'data'));
    return s.ingest;
  }

  private async exclusive<T>(s: UploadSession, fn: () => Promise<T>): Promise<T> {
    if (s.busy) throw regErr('BLOB_UPLOAD_INVALID', 'the upload is in use by another request');
    s.busy = true;
    try {
      return await fn();
    } finally {
      s.busy = false;
    }
  }

  private async drop(s: UploadSession): Promise<void> {
    this.sessions.delete(s.id);
    await fs.rm(s.dir, { recursive: true, force: true });
  }
}
