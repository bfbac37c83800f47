/**
 * Read-only file systems the builder reads COPY/ADD sources from: the build
 * context as the client sent it (TarFS), and a stage's or an image's root
 * file system for `COPY --from` (DirFS).
 *
 * TarFS never unpacks the context. The upload is kept as it arrives
 * (decompressed; in memory, or in one file when large: context.ts) while
 * TarIndexer reads its headers and hashes each file's content in the same
 * pass; later steps read content by offset. A fully
 * cached rebuild then costs the upload and nothing more, and nothing of an
 * untrusted tar is ever written to the host's file system under its own names,
 * so a traversal or a symlink in it cannot reach anything (names are cleaned
 * into the context's own namespace). Why the headers are read here and not
 * with tar-stream: tar-stream hands content out entry by entry for a consumer
 * to drain, where this indexer only watches the bytes go by on their way to
 * the file, and needs them in order, once (docs/benchmarks.md, "Build").
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { invalid } from '../base/errdefs.js';
import { decodePax } from '../archive/apply.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'other';

export interface FileInfo {
  type: FileType;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  size: number;
  mtime: Date;
  linkname?: string;
}

export interface ContextFS {
  /** Like lstat; undefined when missing. `rel` is '/'-separated, relative, cleaned ('' or '.' is the root). */
  lstat(rel: string): Promise<FileInfo | undefined>;
  readdir(rel: string): Promise<string[]>;
  /** A regular file's content. */
  open(rel: string): Readable;
  /** sha256 of a regular file's content (cached). */
  hash(rel: string): Promise<string>;
}

const norm = (rel: string) => (rel === '.' ? '' : rel.replace(/^\/+|\/+$/g, ''));

function infoOf(st: Stats, link?: string): FileInfo {
  const type: FileType = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { type, mode: st.mode & 0o7777, size: st.isFile() ? st.size : 0, mtime: st.mtime, ...(link !== undefined ? { linkname: link } : {}) };
}

/** A directory on the host (a mounted image root), read without following its symlinks. */
export class DirFS implements ContextFS {
  private readonly hashes = new Map<string, Promise<string>>();
  constructor(readonly root: string) {}

  private abs(rel: string): string {
    const r = norm(rel);
    return r ? join(this.root, r) : this.root;
  }

  async lstat(rel: string): Promise<FileInfo | undefined> {
    const p = this.abs(rel);
    const st = await fs.lstat(p).catch(() => undefined);
    if (!st) return undefined;
    return infoOf(st, st.isSymbolicLink() ? await fs.readlink(p) : undefined);
  }

  async readdir(rel: string): Promise<string[]> {
    return (await fs.readdir(this.abs(rel))).sort();
  }

  open(rel: string): Readable {
    return createReadStream(this.abs(rel));
  }

  hash(rel: string): Promise<string> {
    let h = this.hashes.get(rel);
    if (!h) this.hashes.set(rel, (h = hashStream(this.open(rel))));
    return h;
  }
}

async function hashStream(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

interface TarEntry extends FileInfo {
  /** Offset of the content in the tar file. */
  offset: number;
  /** Hard link: the entry whose content this is. */
  hardlink?: string;
}

/** Cleans a name from a tar header into the context's namespace: no leading '/', no '..' above the root. */
function cleanName(name: string): string | undefined {
  const n = posix.normalize('/' + name).slice(1).replace(/\/+$/, '');
  return n.split('/').includes('..') ? undefined : n;
}

interface Raw {
  name: string;
  type: string;
  mode: number;
  size: number;
  mtime: Date;
  linkname: string;
  offset: number;
  hash?: string;
}

/**
 * Reads tar headers from a stream as it passes (push each chunk, in order),
 * hashing each regular file's content on the way: the upload is indexed and
 * checksummed in the same pass that writes it to disk.
 */
export class TarIndexer {
  readonly entries: Raw[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Bytes of the current entry's data still to come, and the padding after it. */
  private remaining = 0;
  private padding = 0;
  private hash?: ReturnType<typeof createHash>;
  private current?: Raw;
  private meta?: { kind: string; parts: Buffer[] };
  private pax: Record<string, string> = {};
  private longName?: string;
  private longLink?: string;
  private done = false;

  push(chunk: Buffer): void {
    let c = chunk;
    while (c.length && !this.done) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, c.length);
        const part = c.subarray(0, n);
        if (this.meta) this.meta.parts.push(Buffer.from(part));
        else this.hash?.update(part);
        this.remaining -= n;
        this.pos += n;
        c = c.subarray(n);
        if (this.remaining === 0) this.finishData();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, c.length);
        this.padding -= n;
        this.pos += n;
        c = c.subarray(n);
        continue;
      }
      // A header: gather 512 bytes.
      const need = 512 - this.buf.length;
      const take = c.subarray(0, need);
      this.buf = this.buf.length ? Buffer.concat([this.buf, take]) : Buffer.from(take);
      c = c.subarray(take.length);
      if (this.buf.length < 512) return;
      const h = this.buf;
      this.buf = Buffer.alloc(0);
      this.pos += 512;
      this.header(h);
    }
  }

  private header(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.done = true;
      return;
    }
    if (!checksumOk(h)) throw invalid('the build context is not a valid tar archive (a header checksum is wrong)');
    const str = (a: number, n: number) => {
      const x = h.subarray(a, a + n);
      const z = x.indexOf(0);
      return (z < 0 ? x : x.subarray(0, z)).toString('utf8');
    };
    const num = (a: number, n: number) => {
      if (h[a]! & 0x80) {
        let v = 0;
        for (let i = a + 1; i < a + n; i++) v = v * 256 + h[i]!;
        return v;
      }
      const t = str(a, n).trim();
      return t ? parseInt(t, 8) : 0;
    };
    const type = h[156] ? String.fromCharCode(h[156]) : '0';
    let size = num(124, 12);
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      this.meta = { kind: type, parts: [] };
      this.setData(size);
      return;
    }
    const prefix = h.subarray(257, 263).toString() === 'ustar\0' ? str(345, 155) : '';
    const name = this.pax['path'] ?? this.longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const linkname = this.pax['linkpath'] ?? this.longLink ?? str(157, 100);
    if (this.pax['size']) size = Number(this.pax['size']);
    const mtime = new Date((this.pax['mtime'] ? Number(this.pax['mtime']) : num(136, 12)) * 1000);
    this.pax = {};
    this.longName = this.longLink = undefined;
    const raw: Raw = { name, type, mode: num(100, 8) & 0o7777, size, mtime, linkname, offset: this.pos };
    this.entries.push(raw);
    if (type === '0' || type === '7') {
      this.current = raw;
      this.hash = createHash('sha256');
    }
    this.setData(size);
  }

  private setData(size: number): void {
    this.remaining = size;
    this.padding = (512 - (size % 512)) % 512;
    if (size === 0) this.finishData();
  }

  private finishData(): void {
    if (this.meta) {
      const body = Buffer.concat(this.meta.parts);
      if (this.meta.kind === 'x') this.pax = { ...this.pax, ...decodePax(body) };
      else if (this.meta.kind === 'L') this.longName = body.toString('utf8').replace(/\0+$/, '');
      else if (this.meta.kind === 'K') this.longLink = body.toString('utf8').replace(/\0+$/, '');
      this.meta = undefined;
    } else if (this.current && this.hash) {
      this.current.hash = this.hash.digest('hex');
      this.current = undefined;
      this.hash = undefined;
    }
  }
}

/** A tar file with an index of its entries (see the top of this file). */
export class TarFS implements ContextFS {
  private readonly entries = new Map<string, TarEntry>();
  private readonly children = new Map<string, Set<string>>();
  private readonly hashes = new Map<string, Promise<string>>();

  /** The tar: in memory (chunks in order), or in a file once it grew past what memory should hold. */
  constructor(private readonly store: { chunks: Buffer[] } | { file: string }, raws: readonly Raw[]) {
    this.entries.set('', { type: 'dir', mode: 0o755, size: 0, mtime: new Date(0), offset: 0 });
    for (const r of raws) {
      const name = cleanName(r.name);
      if (name === undefined) continue;
      const base = { mode: r.mode, mtime: r.mtime, offset: r.offset };
      if (r.type === '0' || r.type === '\0' || r.type === '7') {
        this.add(name, { ...base, type: 'file', size: r.size });
        if (r.hash) this.hashes.set(name, Promise.resolve(r.hash));
      } else if (r.type === '5') this.add(name, { ...base, type: 'dir', size: 0 });
      else if (r.type === '2') this.add(name, { ...base, type: 'symlink', size: 0, linkname: r.linkname });
      else if (r.type === '1') {
        const target = cleanName(r.linkname);
        const t = target !== undefined ? this.entries.get(target) : undefined;
        if (t?.type === 'file') {
          this.add(name, { ...t, mode: r.mode, hardlink: target });
          const h = this.hashes.get(target!);
          if (h) this.hashes.set(name, h);
        }
      } else this.add(name, { ...base, type: 'other', size: 0 });
    }
  }

  private add(name: string, e: TarEntry): void {
    const parts = name ? name.split('/') : [];
    for (let i = 0; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      let set = this.children.get(parent);
      if (!set) this.children.set(parent, (set = new Set()));
      set.add(parts[i]!);
      const dir = parts.slice(0, i + 1).join('/');
      if (i < parts.length - 1 && !this.entries.has(dir)) this.entries.set(dir, { type: 'dir', mode: 0o755, size: 0, mtime: new Date(0), offset: 0 });
    }
    if (name === '' && e.type !== 'dir') return;
    this.entries.set(name, e);
  }

  /** Takes a file out of the context (a Dockerfile or .dockerignore that .dockerignore names, after they were read). */
  hide(rel: string): void {
    const name = norm(rel);
    this.entries.delete(name);
    const i = name.lastIndexOf('/');
    this.children.get(i < 0 ? '' : name.slice(0, i))?.delete(i < 0 ? name : name.slice(i + 1));
  }

  async lstat(rel: string): Promise<FileInfo | undefined> {
    return this.entries.get(norm(rel));
  }

  async readdir(rel: string): Promise<string[]> {
    const e = this.entries.get(norm(rel));
    if (!e || e.type !== 'dir') throw Object.assign(new Error(`not a directory: ${rel}`), { code: 'ENOTDIR' });
    return [...(this.children.get(norm(rel)) ?? [])].sort();
  }

  open(rel: string): Readable {
    const e = this.entries.get(norm(rel));
    if (!e || e.type !== 'file') throw invalid(`not a file in the build context: ${rel}`);
    if (e.size === 0) return Readable.from([]);
    if ('file' in this.store) return createReadStream(this.store.file, { start: e.offset, end: e.offset + e.size - 1 });
    return Readable.from(slices(this.store.chunks, e.offset, e.size));
  }

  hash(rel: string): Promise<string> {
    const key = norm(rel);
    let h = this.hashes.get(key);
    if (!h) this.hashes.set(key, (h = this.entries.get(key)?.size === 0 ? Promise.resolve(createHash('sha256').digest('hex')) : hashStream(this.open(key))));
    return h;
  }
}

/** The bytes [offset, offset+size) of a list of chunks, without copying them. */
function* slices(chunks: Buffer[], offset: number, size: number): Generator<Buffer> {
  let pos = 0;
  let left = size;
  for (const c of chunks) {
    if (left <= 0) return;
    const end = pos + c.length;
    if (end > offset) {
      const from = Math.max(0, offset - pos);
      const part = c.subarray(from, Math.min(c.length, from + left));
      left -= part.length;
      offset += part.length;
      yield part;
    }
    pos = end;
  }
}

function checksumOk(h: Buffer): boolean {
  const stored = parseInt(h.subarray(148, 156).toString().replace(/\0.*$/, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === stored;
}
