/**
 * The filesystem side of `docker cp` and `docker export`: stat, archive and
 * extract a path of a container's root filesystem (a directory on the host),
 * and archive all of it, the way dockerd does (daemon/archive_unix.go and
 * go-archive's TarWithOptions / Unpack, checked against a real dockerd).
 *
 *   const { stat, stream } = await archiveFromRoot(rootfs, '/etc/', { what: name });
 *   res.setHeader('X-Docker-Container-Path-Stat', encodePathStat(stat));
 *
 * Every path is resolved inside the root as in a chroot (resolve.ts):
 * symlinks, absolute or relative, never lead out of it, even while the
 * container runs and changes them.
 *
 * Reading (GET archive, export):
 * - A path's archive is rebased on its last name: `/etc` gives `etc/`,
 *   `etc/passwd`...; `/etc/.` gives `./`, `./passwd` (what the CLI uses for
 *   "the contents of"); `/` gives `/`, `/bin/`... A symlink as the last name
 *   is archived as itself, unless the path ends in `/` or `/.`.
 * - Export holds everything below the root, named relatively (`bin/`,
 *   `bin/sh`), without an entry for the root itself.
 * - Entries come depth-first in name order; directory names end in `/`;
 *   modes carry permission and set-id bits only; owners are numeric; mtimes
 *   whole seconds; a file linked more than once is archived once, then as
 *   hardlinks to that first name. The one xattr kept is security.capability
 *   (revision 3 rewritten as 2, as Docker does). Sockets are left out.
 *   The tar header encoding is diff.ts's, which (unlike tar-stream's pack)
 *   writes binary PAX values such as security.capability byte for byte.
 *
 * Writing (PUT archive), like Docker's Unpack:
 * - The tar may be gzip, zstd, bzip2 or xz compressed.
 * - Entry names are relative to the destination directory, `/x` included;
 *   a name that climbs out of it (`../x`) fails the copy, and so does a
 *   relative symlink or a hardlink pointing out of it. Missing parents are
 *   made (0755, root's). An entry replaces what is there, except that a
 *   directory over a directory merges; noOverwriteDirNonDir refuses to put a
 *   non-directory over a directory or the reverse.
 * - Files keep the tar's owners (what dockerd does without `-a`, whatever
 *   the docs say); with copyUIDGID and the container's user, they get that
 *   user's (dockerd: only when the container has a User).
 * - Nothing is rolled back on failure: what was extracted stays, as with Docker.
 */
import * as fs from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { promisify } from 'node:util';
import tarStream, { type Header as TarHeader } from 'tar-stream';
import { conflict, EngineError, internal, invalid, messageOf, notFound } from '../base/errdefs.js';
import { sys } from '../base/sys.js';
import { binarySafePax, chunksOf as layerChunks, drained, isAbort, OVERLAY_XATTR_PREFIX, paxNumber, times } from './apply.js';

const chunksOf = (body: Body) => layerChunks(body, 'tar');
const drain = async (body: Body): Promise<void> => {
  for await (const _ of chunksOf(body)) {
    // discard
  }
};
import { decompress } from './compression.js';
import { encodeHeader, type TarEntry } from './diff.js';
import { at, containerPath, type Dir, O_PATH, openDir, RootDir, ScopeError, slash } from './resolve.js';
import { goJsonTime } from '../base/time.js';

/** Docker's ContainerPathStat, carried base64(JSON) in the X-Docker-Container-Path-Stat header. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: dir 1<<31, symlink 1<<27, device 1<<26, pipe 1<<25, socket 1<<24, setuid 1<<23, setgid 1<<22, char device 1<<21, sticky 1<<20, plus permissions. */
  mode: number;
  /** RFC 3339 with nanoseconds, trailing zeros dropped, as Go's time.Time marshals. */
  mtime: string;
  /** For a symlink: where it leads in the container, fully resolved; '' otherwise. */
  linkTarget: string;
}

export interface ExtractOpts {
  /** Refuse to replace a directory with a non-directory, or the reverse (the CLI sets it unless told otherwise). */
  noOverwriteDirNonDir?: boolean;
  /** `docker cp -a`: entries get `user`'s owner, when given. */
  copyUIDGID?: boolean;
  /** The container's Config.User, resolved in the container by the engine; unset when it has none. */
  user?: { uid: number; gid: number };
  signal?: AbortSignal;
  /** The container as the user named it, for messages. */
  what?: string;
}

/** The header value: base64 of the JSON, byte for byte what dockerd sends. */
export function encodePathStat(s: PathStat): string {
  // Go's encoding/json escapes <, >, & and U+2028/9.
  const json = JSON.stringify({ name: s.name, size: s.size, mode: s.mode, mtime: s.mtime, linkTarget: s.linkTarget })
    .replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(json).toString('base64');
}

/** Stat of path in the container, the last name not followed unless the path ends in `/` or `/.`. */
export async function statInRoot(root: string, path: string, what?: string): Promise<PathStat> {
  const r = openRoot(root);
  try {
    const f = find(r, path, what);
    f.release();
    return f.stat;
  } finally {
    r.close();
  }
}

/** GET archive: the path's stat and a tar of it, rebased on its last name. */
export async function archiveFromRoot(root: string, path: string, o: { signal?: AbortSignal; what?: string } = {}): Promise<{ stat: PathStat; stream: Readable }> {
  o.signal?.throwIfAborted();
  const r = openRoot(root);
  let f: Found;
  let sub: number | undefined;
  try {
    f = find(r, path, o.what);
    if (f.st.isDirectory() && !f.dir) sub = openDir(f.node);
  } catch (e) {
    r.close();
    throw e;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (sub !== undefined) fs.closeSync(sub);
    f.release();
    r.close();
  };
  const prefix = f.stat.name === '/' ? '' : f.stat.name;
  const self: Item = { node: f.node, st: f.st, name: prefix };
  const dirFd = f.dir?.fd ?? sub;
  const items = dirFd !== undefined ? tree(dirFd, self, prefix, '') : [self];
  return { stat: f.stat, stream: toStream(items, o.signal, release) };
}

/** docker export: every entry below the root, named relative to it. `exclude`: container paths left out, with all below them. */
export function exportRoot(root: string, o: { signal?: AbortSignal; exclude?: string[] } = {}): Readable {
  const skip = new Set((o.exclude ?? []).map((p) => slash(containerPath(p))));
  let r: RootDir | undefined;
  return toStream(
    (function* () {
      r = openRoot(root);
      yield* tree(r.fd, null, null, '', skip);
    })(),
    o.signal,
    () => r?.close(),
  );
}

/** PUT archive: extracts tar into the directory at path (its last symlink followed). */
export async function extractToRoot(root: string, path: string, tar: Readable, o: ExtractOpts = {}): Promise<void> {
  let r: RootDir;
  let dest: Dir;
  try {
    o.signal?.throwIfAborted();
    r = openRoot(root);
    try {
      dest = r.dir(pathComps(path));
    } catch (e) {
      r.close();
      if (e instanceof ScopeError && e.code === 'ENOTDIR' && e.final) throw invalid('extraction point is not a directory');
      throw scopeFailure(e, path, o.what);
    }
  } catch (e) {
    tar.destroy();
    throw e;
  }
  const x = new Extraction(r, dest, o);
  // Go reads pre-POSIX (v7) tars too.
  const extract = tarStream.extract({ allowUnknownFormat: true } as object);
  binarySafePax(extract);
  let input: Readable = tar;
  // The first failure wins; later ones are its echoes (destroyed streams).
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    if (failure) return;
    failure = { error };
    tar.destroy();
    input.destroy();
    extract.destroy(error instanceof Error ? error : new Error(String(error)));
  };
  const onAbort = () => fail(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let feeding: Promise<void> = Promise.resolve();
  try {
    input = await decompress(tar, { archive: true }); // gzip, zstd, bzip2, xz: whatever docker cp sends
    feeding = (async () => {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        if (!extract.write(chunk)) await drained(extract);
        if (failure) return;
      }
      extract.end(null);
    })().catch(fail);
    for await (const entry of extract) await x.entry(entry.header as Header, entry);
    await feeding;
    if (failure) throw failure.error;
    x.finish();
  } catch (e) {
    fail(e instanceof EngineError || isAbort(e) ? e : invalid(`invalid tar: ${messageOf(e)}`, e));
    await feeding;
    throw failure!.error;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    x.close();
    r.close();
  }
}

// ---------------------------------------------------------------- paths and stat

function openRoot(root: string): RootDir {
  try {
    return RootDir.open(root);
  } catch (e) {
    throw internal(`cannot open the container's root filesystem "${root}": ${messageOf(e)}`, e);
  }
}

function pathComps(path: string): string[] {
  if (path.includes('\0')) throw invalid(`invalid path ${JSON.stringify(path)}: NUL byte`);
  return containerPath(path);
}

function scopeFailure(e: unknown, path: string, what: string | undefined): unknown {
  if (!(e instanceof ScopeError)) return e;
  if (e.code === 'ENOENT') return notFound(`Could not find the file ${path}${what ? ` in container ${what}` : ''}`);
  return invalid(`lstat ${path}: ${e.code === 'ENOTDIR' ? 'not a directory' : 'too many levels of symbolic links'}`);
}

interface Found {
  stat: PathStat;
  st: fs.BigIntStats;
  /** The resolved thing, for calls that do not follow the last component. */
  node: string;
  /** Open on it when it was reached as a directory (trailing `/` or `/.`, or the root). */
  dir?: Dir;
  release(): void;
}

/**
 * What path names, as dockerd finds it: cleaned as an absolute path; the last
 * name followed only when the path ends in `/` or `/.`; stat name the last
 * name ('/' for the root, '.' for a path ending in `/.`).
 */
function find(r: RootDir, path: string, what: string | undefined): Found {
  const comps = pathComps(path);
  const trimmed = path.replace(/\/+$/, '');
  const dot = trimmed === '' ? path === '' : trimmed.slice(trimmed.lastIndexOf('/') + 1) === '.';
  const name = dot ? '.' : comps.length ? comps[comps.length - 1]! : '/';
  let held: Dir | undefined;
  try {
    if (dot || path.endsWith('/') || comps.length === 0) {
      const dir = (held = r.dir(comps));
      const st = fs.lstatSync(at(dir.fd), { bigint: true });
      return { stat: pathStat(name, st, ''), st, node: at(dir.fd), dir, release: () => fs.closeSync(dir.fd) };
    }
    const parent = (held = r.dir(comps.slice(0, -1)));
    const node = at(parent.fd, comps[comps.length - 1]);
    const st = fs.lstatSync(node, { bigint: true, throwIfNoEntry: false });
    if (!st) throw new ScopeError('ENOENT', path, true);
    const linkTarget = st.isSymbolicLink() ? slash(r.follow(comps)) : '';
    return { stat: pathStat(name, st, linkTarget), st, node, release: () => fs.closeSync(parent.fd) };
  } catch (e) {
    if (held) fs.closeSync(held.fd);
    throw scopeFailure(e, path, what);
  }
}

const { S_IFMT, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK } = fs.constants;
const GO_TYPE: Record<number, number> = {
  [S_IFDIR]: 2 ** 31, [S_IFLNK]: 2 ** 27, [S_IFIFO]: 2 ** 25, [S_IFSOCK]: 2 ** 24, [S_IFCHR]: 2 ** 26 + 2 ** 21, [S_IFBLK]: 2 ** 26,
};

/** A Unix st_mode as Go's os.FileMode. */
export function goFileMode(m: number): number {
  return (GO_TYPE[m & S_IFMT] ?? 0) + (m & 0o4000 ? 2 ** 23 : 0) + (m & 0o2000 ? 2 ** 22 : 0) + (m & 0o1000 ? 2 ** 20 : 0) + (m & 0o777);
}

const pathStat = (name: string, st: fs.BigIntStats, linkTarget: string): PathStat => ({
  name, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: goJsonTime(st.mtimeNs), linkTarget,
});

// ---------------------------------------------------------------- reading

interface Item {
  /** For calls that do not follow the last component. */
  node: string;
  st: fs.BigIntStats;
  /** Tar name, without a directory's trailing slash. */
  name: string;
}

/**
 * `self` (the directory open at fd; null: not archived), then everything
 * below it, depth-first in name order; children are named `${prefix}/${name}`
 * (just `name` when prefix is null). cpath is the directory's container path,
 * for `skip`. Anything that vanishes or changes type while walked is passed
 * over, as Docker does.
 */
function* tree(fd: number, self: Item | null, prefix: string | null, cpath: string, skip?: Set<string>): Generator<Item> {
  if (self) yield self;
  let names: string[];
  try {
    names = fs.readdirSync(at(fd)).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const c = `${cpath}/${n}`;
    if (skip?.has(c)) continue;
    const node = at(fd, n);
    const st = fs.lstatSync(node, { bigint: true, throwIfNoEntry: false });
    if (!st) continue;
    const item = { node, st, name: prefix === null ? n : `${prefix}/${n}` };
    if (!st.isDirectory()) {
      yield item;
      continue;
    }
    const sub = openDir(node);
    if (sub === undefined) continue;
    try {
      yield* tree(sub, item, item.name, c, skip);
    } finally {
      fs.closeSync(sub);
    }
  }
}

/** A tar of items; release runs once the walk is over, or the stream is gone before it began. */
function toStream(items: Iterable<Item>, signal: AbortSignal | undefined, release: () => void): Readable {
  let started = false;
  let released = false;
  const done = () => {
    if (!released) release();
    released = true;
  };
  const stream = Readable.from(
    (async function* () {
      started = true;
      try {
        yield* tarOf(items);
      } finally {
        done();
      }
    })(),
    { objectMode: false, highWaterMark: 1 << 20 },
  );
  // An async generator that never ran never runs its finally.
  stream.on('close', () => {
    if (!started) done();
  });
  return signal ? addAbortSignal(signal, stream) : stream;
}

const SMALL_FILE = 64 * 1024;
const BATCH = 64 * 1024;
const READ_CHUNK = 1 << 20;
const readAsync = promisify(fs.read);

async function* tarOf(items: Iterable<Item>): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  let parts: Buffer[] = [];
  let size = 0;
  const add = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  const take = (): Buffer => {
    const b = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    return b;
  };
  for (const it of items) {
    const e = entryOf(it, links);
    if (!e) continue;
    add(encodeHeader(e));
    if (e.type === '0' && e.size > 0) {
      if (e.size <= SMALL_FILE) add(readSmall(it.node, e.size));
      else {
        if (size) yield take();
        yield* readLarge(it.node, e.size);
      }
      const pad = (512 - (e.size % 512)) % 512;
      if (pad) add(Buffer.alloc(pad));
    }
    if (size >= BATCH) yield take();
  }
  add(Buffer.alloc(1024)); // end of archive: two zero blocks, as Go's archive/tar writes
  yield take();
}

function entryOf(it: Item, links: Map<string, string>): TarEntry | undefined {
  const st = it.st;
  if (st.isSocket()) return undefined; // Go's tar has no type for them; Docker skips them
  const e: TarEntry = {
    name: it.name, type: '0', mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), size: 0,
    mtime: Number(st.mtimeNs / 1_000_000_000n), xattrs: capability(it.node),
  };
  if (!st.isDirectory() && st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) return { ...e, type: '1', linkname: first };
    links.set(key, it.name);
  }
  if (st.isDirectory()) e.type = '5';
  else if (st.isSymbolicLink()) {
    e.type = '2';
    try {
      e.linkname = fs.readlinkSync(it.node);
    } catch {
      return undefined; // replaced since the walk saw it
    }
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    e.type = st.isCharacterDevice() ? '3' : '4';
    [e.devmajor, e.devminor] = majorMinor(st.rdev);
  } else if (st.isFIFO()) e.type = '6';
  else e.size = Number(st.size);
  return e;
}

/** security.capability, the one xattr Docker archives; revision 3 (with a namespace root uid) as revision 2. */
function capability(node: string): [string, Buffer][] {
  let v: Buffer | null;
  try {
    v = sys().lgetxattr(node, 'security.capability');
  } catch {
    return [];
  }
  if (!v) return [];
  if (v.length >= 20 && v[3] === 3) {
    v = Buffer.from(v.subarray(0, 20));
    v[3] = 2;
  }
  return [['security.capability', v]];
}

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
function majorMinor(rdev: bigint): [number, number] {
  return [Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)), Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn))];
}

/**
 * A regular file opened for reading, or undefined when it is gone or no
 * longer one. It is checked after opening (O_NONBLOCK: a FIFO put there
 * meanwhile does not hang us), so a device node a container swaps in is
 * never read.
 */
function openRegular(node: string): number | undefined {
  try {
    const fd = fs.openSync(node, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    if (fs.fstatSync(fd).isFile()) return fd;
    fs.closeSync(fd);
  } catch {
    // vanished, or a symlink now
  }
  return undefined;
}

// A file that shrinks or vanishes while archived is padded with zeros to the
// size its header announced, so the archive stays readable.
function readSmall(node: string, size: number): Buffer {
  const buf = Buffer.alloc(size);
  const fd = openRegular(node);
  if (fd === undefined) return buf;
  try {
    for (let off = 0, n = 1; off < size && n > 0; off += n) n = fs.readSync(fd, buf, off, size - off, null);
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

async function* readLarge(node: string, size: number): AsyncGenerator<Buffer> {
  let left = size;
  const fd = openRegular(node);
  if (fd !== undefined) {
    try {
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
        const { bytesRead } = await readAsync(fd, buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        left -= bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  for (; left > 0; left -= Math.min(left, READ_CHUNK)) yield Buffer.alloc(Math.min(left, READ_CHUNK));
}

// ---------------------------------------------------------------- writing

/** tar-stream's header, with the PAX records it attaches. */
type Header = Omit<TarHeader, 'pax'> & { pax?: Record<string, string> | null };
/** An entry's body: tar-stream's (streamx) Readable. */
type Body = AsyncIterable<unknown> & { destroy(err?: Error | null): void };

const TYPES = new Set(['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);
const q = (s: string) => JSON.stringify(s);
const inside = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(`${dir}/`);

/** One PUT: the destination, the parent directories resolved so far, directory times to set last. */
class Extraction {
  /** Parents by entry-name key → open directory; cleared when something that could be a path component goes. */
  private readonly dirs = new Map<string, Dir>();
  private readonly dirTimes: [path: string[], atime: number, mtime: number][] = [];
  private readonly destPath: string;
  private readonly chown = process.getuid?.() === 0;

  constructor(
    private readonly root: RootDir,
    private readonly dest: Dir,
    private readonly o: ExtractOpts,
  ) {
    this.destPath = slash(dest.path);
  }

  async entry(h: Header, body: Body): Promise<void> {
    try {
      await this.apply(h, body);
    } catch (e) {
      body.destroy();
      if (e instanceof EngineError || isAbort(e)) throw e;
      throw internal(`extracting ${q(h.name)} into ${this.destPath}: ${messageOf(e)}`, e);
    }
  }

  private async apply(h: Header, body: Body): Promise<void> {
    const type = h.type === 'contiguous-file' ? 'file' : (h.type ?? '');
    if (!TYPES.has(type)) throw invalid(`invalid tar entry ${q(h.name)}: unhandled tar header type ${q(String(h.type))}`);
    if (h.name.includes('\0')) throw invalid(`invalid tar entry ${q(h.name)}: NUL in name`);
    // Go's path.Clean: a rooted name stays below the destination, a relative one may not climb out.
    const comps: string[] = [];
    for (const c of h.name.split('/')) {
      if (c === '' || c === '.') continue;
      if (c !== '..') comps.push(c);
      else if (comps.length) comps.pop();
      else if (!h.name.startsWith('/')) throw invalid(`${q(posix.normalize(h.name).replace(/\/$/, ''))} is outside of ${q(this.destPath)}`);
    }
    const [atime, mtime] = times(h);

    if (comps.length === 0) {
      // The destination itself: "." is passed over, "/" gives it its metadata (as Docker).
      await drain(body);
      if (type !== 'directory' && this.o.noOverwriteDirNonDir) {
        throw conflict(`cannot overwrite directory ${q(this.destPath)} with non-directory ${q(this.destPath)}`);
      }
      if (type !== 'directory' || !h.name.startsWith('/')) return;
      this.metadata(at(this.dest.fd), h, type, atime, mtime);
      this.dirTimes.push([this.dest.path, atime, mtime]);
      return;
    }

    const base = comps[comps.length - 1]!;
    const entryPath = posix.join(this.destPath, ...comps);
    const linkname = h.linkname ?? '';
    // Docker's breakout checks, before anything changes.
    if (type === 'symlink' && !inside(posix.join(posix.dirname(entryPath), linkname), this.destPath)) {
      throw invalid(`invalid symlink ${q(entryPath)} -> ${q(linkname)}`);
    }
    const target = type === 'link' ? this.hardlinkTarget(entryPath, linkname) : undefined;
    try {
      const key = comps.slice(0, -1).join('/');
      const parent = this.parent(key, entryPath);
      const p = at(parent.fd, base);
      const existing = fs.lstatSync(p, { throwIfNoEntry: false });
      if (existing) {
        const isDir = existing.isDirectory();
        if (this.o.noOverwriteDirNonDir && isDir !== (type === 'directory')) {
          throw conflict(isDir
            ? `cannot overwrite directory ${q(entryPath)} with non-directory ${q(this.destPath)}`
            : `cannot overwrite non-directory ${q(entryPath)} with directory ${q(this.destPath)}`);
        }
        if (!isDir || type !== 'directory') {
          if (isDir || existing.isSymbolicLink()) this.forget(key);
          if (isDir) removeTree(parent.fd, base);
          else fs.unlinkSync(p);
        }
      }
      switch (type) {
        case 'file':
          return await this.writeFile(p, h, body, atime, mtime);
        case 'directory':
          if (!existing?.isDirectory()) fs.mkdirSync(p, 0o700);
          this.dirTimes.push([[...parent.path, base], atime, mtime]);
          break;
        case 'symlink':
          fs.symlinkSync(linkname, p);
          break;
        case 'link':
          fs.linkSync(at(target!.dir.fd, target!.name), p);
          break;
        default: {
          const fmt = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
          sys().mknod(p, fmt | mode(h), h.devmajor ?? 0, h.devminor ?? 0);
        }
      }
      await drain(body);
      this.metadata(p, h, type, atime, mtime);
    } finally {
      if (target) fs.closeSync(target.dir.fd);
    }
  }

  private ids(h: Header): { uid: number; gid: number } {
    if (this.o.copyUIDGID && this.o.user) return this.o.user;
    return { uid: paxNumber(h.pax?.uid) ?? h.uid ?? 0, gid: paxNumber(h.pax?.gid) ?? h.gid ?? 0 };
  }

  private async writeFile(p: string, h: Header, body: Body, atime: number, mtime: number): Promise<void> {
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    const fh = await open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      for await (const c of chunksOf(body)) {
        for (let off = 0; off < c.length; ) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
      if (this.chown) await fh.chown(this.ids(h).uid, this.ids(h).gid);
      this.xattrs(p, h);
      await fh.chmod(mode(h)); // after chown, which clears set-id bits
      await fh.utimes(atime, mtime);
    } finally {
      await fh.close();
    }
  }

  /**
   * Owner, xattrs, mode, times, in Docker's order; never through a symlink
   * put in place meanwhile. A hardlink's go to the inode it shares, mode
   * included (dockerd skips that, so its chown clears a set-id bit for good);
   * real tars repeat the file's metadata there.
   */
  private metadata(p: string, h: Header, type: string, atime: number, mtime: number): void {
    if (this.chown) fs.lchownSync(p, this.ids(h).uid, this.ids(h).gid);
    this.xattrs(p, h);
    if (type !== 'symlink') chmodNoFollow(p, mode(h));
    if (type !== 'directory') fs.lutimesSync(p, atime, mtime);
  }

  private xattrs(p: string, h: Header): void {
    for (const [key, value] of Object.entries(h.pax ?? {})) {
      if (!key.startsWith('SCHILY.xattr.')) continue;
      const name = key.slice('SCHILY.xattr.'.length);
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      try {
        sys().lsetxattr(p, name, Buffer.from(value, 'latin1'));
      } catch (e) {
        // Like Docker: a filesystem without xattrs, or one refusing this name, still gets the file.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTSUP' && code !== 'EPERM') throw e;
      }
    }
  }

  /** A hardlink's target: relative to the destination (a leading `/` too), inside it, existing, not a directory. */
  private hardlinkTarget(entryPath: string, linkname: string): { dir: Dir; name: string } {
    const t = posix.join(this.destPath, linkname);
    const what = `invalid hardlink ${q(entryPath)} -> ${q(linkname)}`;
    if (!inside(t, this.destPath)) throw invalid(`invalid hardlink ${q(t)} -> ${q(linkname)}`);
    const comps = containerPath(t);
    if (comps.length === 0) throw invalid(`${what}: target is a directory`);
    let dir: Dir;
    try {
      dir = this.root.dir(comps.slice(0, -1));
    } catch (e) {
      if (e instanceof ScopeError) throw invalid(`${what}: target does not exist`);
      throw e;
    }
    const name = comps[comps.length - 1]!;
    const st = fs.lstatSync(at(dir.fd, name), { throwIfNoEntry: false });
    if (!st || st.isDirectory()) {
      fs.closeSync(dir.fd);
      throw invalid(`${what}: ${st ? 'target is a directory' : 'target does not exist'}`);
    }
    return { dir, name };
  }

  /** The directory an entry goes in, resolved in scope below the destination; missing ones made. */
  private parent(key: string, entryPath: string): Dir {
    if (key === '') return this.dest;
    let d = this.dirs.get(key);
    if (d) return d;
    if (this.dirs.size >= 256) this.forget();
    try {
      d = this.root.dir([...this.dest.path, ...key.split('/')], { create: true });
    } catch (e) {
      if (!(e instanceof ScopeError)) throw e;
      const why = e.code === 'ELOOP' ? 'too many levels of symbolic links' : 'not a directory';
      throw invalid(`cannot extract ${q(entryPath)}: ${e.path}: ${why}`);
    }
    this.dirs.set(key, d);
    return d;
  }

  /** Closes the cached parents (but keep's). */
  private forget(keep?: string): void {
    for (const [k, d] of this.dirs) {
      if (k === keep) continue;
      fs.closeSync(d.fd);
      this.dirs.delete(k);
    }
  }

  /** Directories' times, now that nothing more is created in them. */
  finish(): void {
    for (const [path, atime, mtime] of this.dirTimes) {
      let d: Dir;
      try {
        d = this.root.dir(path.slice(0, -1));
      } catch {
        continue; // removed by a later entry
      }
      try {
        fs.lutimesSync(path.length ? at(d.fd, path[path.length - 1]) : at(d.fd), atime, mtime);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw internal(`setting the times of ${slash(path)}: ${messageOf(e)}`, e);
      } finally {
        fs.closeSync(d.fd);
      }
    }
  }

  close(): void {
    this.forget();
    fs.closeSync(this.dest.fd);
  }
}

/** Removes a directory tree through directory fds: nothing a container swaps in is followed. */
function removeTree(parentFd: number, name: string): void {
  const p = at(parentFd, name);
  const fd = openDir(p);
  if (fd === undefined) return fs.rmSync(p, { force: true }); // no longer a directory
  try {
    for (const n of fs.readdirSync(at(fd))) {
      if (fs.lstatSync(at(fd, n)).isDirectory()) removeTree(fd, n);
      else fs.unlinkSync(at(fd, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.rmdirSync(p);
}

/** chmod without following a symlink at p: through an O_PATH fd on whatever is there. */
function chmodNoFollow(p: string, m: number): void {
  const fd = fs.openSync(p, O_PATH | fs.constants.O_NOFOLLOW);
  try {
    if (!fs.fstatSync(fd).isSymbolicLink()) fs.chmodSync(`/proc/self/fd/${fd}`, m);
  } finally {
    fs.closeSync(fd);
  }
}

const mode = (h: Header): number => (h.mode ?? 0o644) & 0o7777;

