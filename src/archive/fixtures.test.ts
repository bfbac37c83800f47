/**
 * Helpers for the archive tests: tars built in memory with tar-stream, temp
 * dirs, and a comparable snapshot of a directory tree. No tests of its own.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tarStream, { type Header } from 'tar-stream';
import { sys } from '../base/sys.js';

export interface TarSpec extends Partial<Omit<Header, 'pax'>> {
  name: string;
  data?: string | Buffer;
  pax?: Record<string, string>;
}

/** An uncompressed tar of entries, in order, made by tar-stream's pack. */
export async function makeTar(entries: TarSpec[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const out = collect(pack as unknown as AsyncIterable<Buffer>);
  for (const { data, ...h } of entries) {
    const header = { mtime: new Date(1_600_000_000_000), ...h } as Header;
    await new Promise<void>((resolve, reject) => {
      if (data !== undefined) pack.entry(header, data, (e) => (e ? reject(e) : resolve()));
      else pack.entry(header, (e) => (e ? reject(e) : resolve())).end(null);
    });
  }
  pack.finalize();
  return out;
}

export async function collect(src: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** buf as a stream of chunk-sized pieces, like a file or socket would deliver it. */
export function streamOf(buf: Buffer, chunk = 64 * 1024): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) pieces.push(buf.subarray(i, i + chunk));
  return Readable.from(pieces, { objectMode: false });
}

export interface Listed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  size: number;
  pax: Record<string, string> | null;
  data: Buffer;
}

/** The entries of a tar, read by tar-stream (PAX values as it decodes them: UTF-8). */
export async function listTar(buf: Buffer): Promise<Listed[]> {
  const ex = tarStream.extract();
  const out: Listed[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const h = e.header;
      out.push({
        name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, linkname: h.linkname, size: h.size,
        pax: (h.pax as Record<string, string> | null) ?? null, data: await collect(e),
      });
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

/** A temp dir under os.tmpdir(); remove() unmounts nothing, so unmount first. */
export async function tempDir(prefix = 'pier-archive-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface NodeInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime?: number;
  rdev?: number;
  target?: string;
  sha?: string;
  xattrs: Record<string, string>;
  /** Other names of the same inode within the tree (hardlinks), sorted. */
  links?: string[];
}

/**
 * Everything about a tree that a layer should carry, by relative path.
 * Directory mtimes only when withDirTimes (overlayfs and applies touch them).
 */
export function snapshotTree(root: string, o: { withDirTimes?: boolean; skipRoot?: boolean } = {}): Record<string, NodeInfo> {
  const out: Record<string, NodeInfo> = {};
  const inodes = new Map<string, string[]>();
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const st = fs.lstatSync(abs);
    const xattrs: Record<string, string> = {};
    for (const n of sys().llistxattr(abs).sort()) {
      if (n.startsWith('trusted.overlay.')) continue;
      xattrs[n] = sys().lgetxattr(abs, n)?.toString('hex') ?? '';
    }
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file'
      : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
    const info: NodeInfo = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, xattrs };
    if (type !== 'dir' || o.withDirTimes) info.mtime = Math.floor(st.mtimeMs / 1000);
    if (type === 'file') {
      info.size = st.size;
      info.sha = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    }
    if (type === 'symlink') info.target = fs.readlinkSync(abs);
    if (type === 'char' || type === 'block') info.rdev = st.rdev;
    if (type !== 'dir' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      inodes.set(key, [...(inodes.get(key) ?? []), rel]);
      info.links = inodes.get(key);
    }
    if (rel || !o.skipRoot) out[rel || '.'] = info;
    if (type === 'dir') for (const n of fs.readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  for (const names of inodes.values()) for (const n of names) out[n]!.links = [...names].sort();
  return out;
}

/** Sets a file's times to whole seconds (so tar's second resolution round-trips exactly). */
export function setTime(path: string, seconds: number): void {
  fs.lutimesSync(path, seconds, seconds);
}
