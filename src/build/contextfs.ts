/**
 * Read-only file systems the builder reads COPY/ADD sources from: the build
 * context as the client sent it (TarFS), and a stage's or an image's root
 * file system for `COPY --from` (DirFS).
 *
 * TarFS never unpacks the context. The upload is written to one file as it
 * arrives (decompressed), and an index of its entries is read from the tar
 * headers by seeking from one header to the next: no file content passes
 * through the daemon until a step needs it. A fully cached rebuild then costs
 * the upload and one checksum of each copied file; nothing of an untrusted
 * tar is ever written to the host's file system under its own names, so a
 * traversal or a symlink in it cannot reach anything (names are cleaned into
 * the context's own namespace). Why headers are read by hand and not with
 * tar-stream: tar-stream passes every byte of content through JavaScript,
 * which costs more than the upload itself (docs/benchmarks.md, "Build").
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { invalid } from '../base/errdefs.js';

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

/** A tar file with an index of its entries (see the top of this file). */
export class TarFS implements ContextFS {
  private readonly entries = new Map<string, TarEntry>();
  private readonly children = new Map<string, Set<string>>();
  private readonly hashes = new Map<string, Promise<string>>();

  private constructor(readonly path: string) {}

  static async open(path: string): Promise<TarFS> {
    const t = new TarFS(path);
    await t.index();
    return t;
  }

  private add(name: string, e: TarEntry): void {
    const parts = name ? name.split('/') : [];
    for (let i = 0; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const child = parts[i]!;
      let set = this.children.get(parent);
      if (!set) this.children.set(parent, (set = new Set()));
      set.add(child);
      const dir = parts.slice(0, i + 1).join('/');
      if (i < parts.length - 1 && !this.entries.has(dir)) this.entries.set(dir, { type: 'dir', mode: 0o755, size: 0, mtime: new Date(0), offset: 0 });
    }
    if (name === '' && e.type !== 'dir') return;
    this.entries.set(name, e);
  }

  private async index(): Promise<void> {
    const fh = await fs.open(this.path, 'r');
    try {
      const size = (await fh.stat()).size;
      const header = Buffer.alloc(512);
      let offset = 0;
      let pax: Record<string, string> = {};
      let longName: string | undefined;
      let longLink: string | undefined;
      this.entries.set('', { type: 'dir', mode: 0o755, size: 0, mtime: new Date(0), offset: 0 });
      while (offset + 512 <= size) {
        const { bytesRead } = await fh.read(header, 0, 512, offset);
        if (bytesRead < 512 || header.every((b) => b === 0)) break;
        if (!checksumOk(header)) throw invalid('the build context is not a valid tar archive (a header checksum is wrong)');
        const str = (a: number, n: number) => {
          const s = header.subarray(a, a + n);
          const z = s.indexOf(0);
          return (z < 0 ? s : s.subarray(0, z)).toString('utf8');
        };
        const num = (a: number, n: number) => {
          if (header[a]! & 0x80) {
            let v = 0;
            for (let i = a + 1; i < a + n; i++) v = v * 256 + header[i]!;
            return v;
          }
          const s = str(a, n).trim();
          return s ? parseInt(s, 8) : 0;
        };
        const type = String.fromCharCode(header[156]!) || '0';
        let entrySize = num(124, 12);
        const data = offset + 512;
        const next = data + Math.ceil(entrySize / 512) * 512;
        if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
          const body = Buffer.alloc(entrySize);
          await fh.read(body, 0, entrySize, data);
          if (type === 'x') pax = { ...pax, ...parsePax(body) };
          else if (type === 'L') longName = body.toString('utf8').replace(/\0+$/, '');
          else if (type === 'K') longLink = body.toString('utf8').replace(/\0+$/, '');
          offset = next;
          continue;
        }
        const prefix = header.subarray(257, 263).toString() === 'ustar\0' ? str(345, 155) : '';
        let name = pax['path'] ?? longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
        const link = pax['linkpath'] ?? longLink ?? str(157, 100);
        if (pax['size']) entrySize = Number(pax['size']);
        const mtime = new Date((pax['mtime'] ? Number(pax['mtime']) : num(136, 12)) * 1000);
        pax = {};
        longName = longLink = undefined;
        const clean = cleanName(name);
        name = clean ?? '';
        if (clean !== undefined) {
          const mode = num(100, 8) & 0o7777;
          const base = { mode, mtime, offset: data };
          if (type === '0' || type === '\0' || type === '7') this.add(name, { ...base, type: 'file', size: entrySize });
          else if (type === '5') this.add(name, { ...base, type: 'dir', size: 0 });
          else if (type === '2') this.add(name, { ...base, type: 'symlink', size: 0, linkname: link });
          else if (type === '1') {
            const target = cleanName(link);
            const t = target !== undefined ? this.entries.get(target) : undefined;
            if (t?.type === 'file') this.add(name, { ...t, mode, hardlink: target });
          } else this.add(name, { ...base, type: 'other', size: 0 });
        }
        offset = data + Math.ceil(entrySize / 512) * 512;
      }
    } finally {
      await fh.close();
    }
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
    if (e.size === 0) return createReadStream(this.path, { start: 0, end: -1 });
    return createReadStream(this.path, { start: e.offset, end: e.offset + e.size - 1 });
  }

  hash(rel: string): Promise<string> {
    const key = norm(rel);
    let h = this.hashes.get(key);
    if (!h) this.hashes.set(key, (h = this.entries.get(key)?.size === 0 ? Promise.resolve(createHash('sha256').digest('hex')) : hashStream(this.open(key))));
    return h;
  }
}

function checksumOk(h: Buffer): boolean {
  const stored = parseInt(h.subarray(148, 156).toString().replace(/\0.*$/, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === stored;
}

/** PAX extended header records: "%d key=value\n". */
function parsePax(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < b.length) {
    const sp = b.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(b.subarray(i, sp).toString(), 10);
    if (!len) break;
    const rec = b.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}
