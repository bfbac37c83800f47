/**
 * Applying an OCI image layer (an uncompressed tar changeset) to a directory,
 * usually a freshly prepared snapshot mounted over its parents.
 *
 *   const { size, diffId } = await applyLayer(dir, await decompress(blob), { signal });
 *
 * The layer's sha256 (its diffID) is computed from the very bytes extracted.
 * Rules, from the OCI image spec ("Representing Changes") and Docker:
 *
 * - `.wh.<name>` deletes <name> from the lower layers; `.wh..wh..opq` hides
 *   every lower-layer child of its directory. Whiteouts only ever apply to
 *   lower layers: whatever this layer itself puts in place, before or after
 *   the marker, stays. Whiteout files are never created.
 * - An entry replaces what is there, except that a directory over a directory
 *   merges (contents kept, metadata updated).
 * - Names are cleaned like Docker's filepath.Clean: a leading `/` is dropped,
 *   `..` that would climb out of the root is refused.
 * - Symlinks already in the tree are resolved the way a chroot would resolve
 *   them: an absolute target starts at the root, `..` stops at the root. So a
 *   layer with `etc -> /host` then `etc/passwd` writes `<root>/host/passwd`,
 *   which is what Docker does by extracting inside a chroot. Nothing is ever
 *   written, linked, or removed outside the root. The last component of an
 *   entry is never followed: an existing symlink there is replaced.
 * - Hardlink targets are root-relative names, resolved the same way, and
 *   must exist already (in this layer or below).
 * - Extended attributes come from PAX `SCHILY.xattr.*` records. Overlayfs's
 *   own `trusted.overlay.*` are dropped: set on a snapshot that later becomes a
 *   lowerdir, they would change what overlayfs shows (opaque, redirect...).
 *
 * On any failure the directory is left half-applied: the caller discards the
 * snapshot.
 */
import { posix } from 'node:path';
import * as fs from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import tarStream, { type Extract, type Header as TarHeader } from 'tar-stream';
import { Digester, type Digest } from '../base/digest.js';
import { EngineError, internal, invalid, messageOf } from '../base/errdefs.js';
import { sys } from '../base/sys.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** Xattrs overlayfs keeps for itself; never copied into or out of a layer. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

export interface ApplyLimits {
  /** Refuse the layer once its uncompressed tar grows beyond this many bytes. */
  maxBytes?: number;
  /** Refuse the layer once it has more than this many tar entries. */
  maxEntries?: number;
}

export interface ApplyOpts {
  signal?: AbortSignal;
  limits?: ApplyLimits;
  /** Give files the tar's uid/gid (default: when running as root, like tar(1)). */
  sameOwner?: boolean;
}

export interface ApplyResult {
  /** Bytes of uncompressed tar read. */
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
}

/** tar-stream's header, with the PAX records it attaches (decoded by decodePax below). */
type Header = Omit<TarHeader, 'pax'> & { pax?: Record<string, string> | null };
/** An entry's body: tar-stream's (streamx) Readable. */
type Body = AsyncIterable<unknown> & { destroy(err?: Error | null): void };

/** Bytes of a file body kept in memory and written synchronously; larger files stream. */
const SMALL_FILE = 256 * 1024;
const MAX_SYMLINK_HOPS = 255;
/** Small files written at once; pierd sizes libuv's thread pool to match (bin/pierd). */
const WRITE_CONCURRENCY = 32;

export async function applyLayer(root: string, tar: Readable, o: ApplyOpts = {}): Promise<ApplyResult> {
  o.signal?.throwIfAborted();
  let rootDir: string;
  try {
    rootDir = fs.realpathSync(root);
    if (!fs.statSync(rootDir).isDirectory()) throw internal(`cannot apply a layer to "${root}": not a directory`);
  } catch (e) {
    tar.destroy();
    throw e instanceof EngineError ? e : internal(`cannot apply a layer to "${root}": ${messageOf(e)}`, e);
  }
  const maxBytes = o.limits?.maxBytes ?? Infinity;
  const maxEntries = o.limits?.maxEntries ?? Infinity;
  const layer = new Extraction(rootDir, o.sameOwner ?? process.getuid?.() === 0);
  const extract = tarStream.extract();
  binarySafePax(extract);
  const digester = new Digester();

  // The first failure wins; later ones are its echoes (destroyed streams).
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    if (failure) return;
    failure = { error };
    tar.destroy();
    extract.destroy(error instanceof Error ? error : new Error(String(error)));
  };
  const onAbort = () => fail(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });

  // Feed the whole input, trailing padding included, through the digest: the
  // diffID covers every byte, not just what the tar parser looks at.
  const feeding = (async () => {
    for await (const chunk of tar as AsyncIterable<Buffer>) {
      digester.update(chunk);
      if (digester.size > maxBytes) throw invalid(`layer exceeds ${maxBytes} bytes`);
      if (!extract.write(chunk)) await drained(extract);
      if (failure) return;
    }
    extract.end(null);
  })().catch(fail);

  let entries = 0;
  try {
    for await (const entry of extract) {
      if (++entries > maxEntries) throw invalid(`layer exceeds ${maxEntries} entries`);
      await layer.apply(entry.header as Header, entry);
    }
    await feeding;
    if (failure) throw failure.error;
    await layer.finish();
    return { size: digester.size, diffId: digester.digest() };
  } catch (e) {
    fail(e instanceof EngineError || isAbort(e) ? e : invalid(`invalid layer tar: ${messageOf(e)}`, e));
    await feeding;
    await layer.settle();
    throw failure!.error;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

export const isAbort = (e: unknown): boolean => e instanceof Error && e.name === 'AbortError';

/** Resolves when w wants more, or is gone (destroyed streams never drain). */
export function drained(w: Extract): Promise<void> {
  return new Promise((resolve) => {
    if ((w as unknown as { destroying: boolean }).destroying || w.destroyed) return resolve();
    const done = () => {
      w.off('drain', done).off('close', done);
      resolve();
    };
    w.on('drain', done).on('close', done);
  });
}

/**
 * Root-relative components of a tar entry name, cleaned like Go's
 * filepath.Clean: a rooted name can never climb above `/`, a relative one
 * that tries is refused.
 */
export function cleanEntryName(name: string, what = 'tar entry'): string[] {
  if (name.includes('\0')) throw invalid(`invalid ${what} ${JSON.stringify(name)}: NUL in name`);
  const rooted = name.startsWith('/');
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c !== '..') out.push(c);
    else if (out.length > 0) out.pop();
    else if (!rooted) throw invalid(`invalid ${what} ${JSON.stringify(name)}: path escapes the layer root`);
  }
  return out;
}

const join = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);

/** One layer being applied: what it has created so far, and the directory metadata still to set. */
class Extraction {
  /** Root-relative real paths this layer created or wrote into (with all their ancestors). */
  private readonly touched = new Set<string>(['']);
  /** Logical parent path → real path, valid until something that could be a path component is removed. */
  private readonly dirs = new Map<string, string>();
  private readonly dirTimes: [path: string, atime: number, mtime: number][] = [];
  /**
   * Small files being written on the thread pool, by absolute path. Creating a
   * file costs ~0.7 ms of kernel time on this kind of disk and parallelises well,
   * so small files are written WRITE_CONCURRENCY at a time; any entry that could
   * depend on one of them (not a plain new file) waits for all of them first.
   */
  private readonly writes = new Map<string, Promise<void>>();
  private writeError: { error: unknown } | undefined;

  constructor(
    private readonly root: string,
    private readonly sameOwner: boolean,
  ) {}

  private abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  async apply(h: Header, body: Body): Promise<void> {
    try {
      await this.entry(h, body);
    } catch (e) {
      body.destroy();
      if (e instanceof EngineError) throw e;
      throw internal(`applying layer entry ${JSON.stringify(h.name)}: ${messageOf(e)}`, e);
    }
  }

  /** Waits for every small-file write in flight; rethrows the first failure. */
  private async drainWrites(): Promise<void> {
    while (this.writes.size) await Promise.all(this.writes.values());
    if (this.writeError) throw this.writeError.error;
  }

  /** Waits for writes in flight without throwing (cleanup after a failure). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.writes.values());
  }

  private async entry(h: Header, body: Body): Promise<void> {
    const name = h.name;
    const parts = cleanEntryName(name);
    if (this.writeError) throw this.writeError.error;
    if (h.type !== 'file' && h.type !== 'contiguous-file') await this.drainWrites();
    else if (this.writes.size && (parts.length > 1 && this.writes.has(this.abs(parts.slice(0, -1).join('/'))) || this.writes.has(this.abs(parts.join('/')))))
      await this.drainWrites();
    const base = parts.length ? parts[parts.length - 1]! : '';

    // Docker's aufs-era metadata (/.wh..wh.plnk, /.wh..wh.aufs...): not content.
    if (parts.length && parts[0]!.startsWith(WHITEOUT_META_PREFIX) && !(parts.length === 1 && base === OPAQUE_WHITEOUT)) {
      return drain(body);
    }
    for (const c of parts.slice(0, -1)) {
      if (c.startsWith(WHITEOUT_PREFIX)) throw invalid(`invalid tar entry ${JSON.stringify(name)}: a whiteout cannot have children`);
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      await drain(body);
      return this.whiteout(name, parts);
    }

    if (parts.length === 0) {
      if (h.type !== 'directory') throw invalid(`invalid tar entry ${JSON.stringify(name)}: only a directory can stand for the layer root`);
      await drain(body);
      return this.metadata(h, this.root, 'directory');
    }

    const parent = this.resolveDir(parts.slice(0, -1), name, true)!;
    const rel = join(parent, base);
    const path = this.abs(rel);
    const type = h.type === 'contiguous-file' ? 'file' : h.type;

    // Docker refuses a relative symlink whose target climbs out of the layer (a "breakout"),
    // before anything is changed; absolute targets are resolved inside the root like in a chroot.
    if (type === 'symlink' && h.linkname && !h.linkname.startsWith('/')) {
      const target = posix.join(parts.slice(0, -1).join('/') || '.', h.linkname);
      if (target === '..' || target.startsWith('../'))
        throw invalid(`invalid symlink ${JSON.stringify(name)} -> ${JSON.stringify(h.linkname)}: the link points outside the layer (breakout)`);
    }

    // Resolve a hardlink's target before anything is removed.
    let linkTarget: string | undefined;
    if (type === 'link') linkTarget = this.hardlinkTarget(name, h.linkname ?? '');

    const existing = fs.lstatSync(path, { throwIfNoEntry: false });
    const selfLink = linkTarget === path; // a hardlink to itself: just its metadata
    if (existing && !selfLink && !(existing.isDirectory() && type === 'directory')) {
      // What goes away could have been a component of a cached parent path.
      if (existing.isDirectory() || existing.isSymbolicLink()) this.dirs.clear();
      if (existing.isDirectory()) fs.rmSync(path, { recursive: true, force: true });
      else fs.unlinkSync(path);
    }

    switch (type) {
      case 'file':
        await this.writeFile(path, h, body);
        break;
      case 'directory':
        await drain(body);
        if (!existing?.isDirectory()) fs.mkdirSync(path, 0o700);
        break;
      case 'symlink':
        await drain(body);
        fs.symlinkSync(h.linkname ?? '', path);
        break;
      case 'link':
        await drain(body);
        if (!selfLink) fs.linkSync(linkTarget!, path);
        break;
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(body);
        const fmt = type === 'fifo' ? fs.constants.S_IFIFO : type === 'block-device' ? fs.constants.S_IFBLK : fs.constants.S_IFCHR;
        sys().mknod(path, fmt | ((h.mode ?? 0) & 0o7777), h.devmajor ?? 0, h.devminor ?? 0);
        break;
      }
      default:
        throw invalid(`invalid tar entry ${JSON.stringify(name)}: unsupported entry type ${JSON.stringify(h.type)}`);
    }
    this.touch(rel);
    // chmod follows symlinks, and a hardlink to a symlink is one.
    if (type === 'link' && fs.lstatSync(path).isSymbolicLink()) this.metadata(h, path, 'symlink');
    else if (type !== 'file') this.metadata(h, path, type);
  }

  /** Marks rel, and every directory above it, as this layer's own. */
  private touch(rel: string): void {
    while (!this.touched.has(rel)) {
      this.touched.add(rel);
      const i = rel.lastIndexOf('/');
      rel = i < 0 ? '' : rel.slice(0, i);
    }
  }

  private async writeFile(path: string, h: Header, body: Body): Promise<void> {
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    const size = h.size ?? 0;
    if (size <= SMALL_FILE) {
      // Small files: read the body now (the tar stream is sequential), write it on the thread pool.
      const chunks: Buffer[] = [];
      for await (const c of chunksOf(body)) chunks.push(c);
      if (this.writes.size >= WRITE_CONCURRENCY) await Promise.race(this.writes.values());
      const job = (async () => {
        const fh = await open(path, flags, 0o600);
        try {
          for (const c of chunks) {
            let off = 0;
            while (off < c.length) off += (await fh.write(c, off, c.length - off)).bytesWritten;
          }
          this.fdMetadata(fh.fd, path, h);
        } finally {
          await fh.close();
        }
      })()
        .catch((e: unknown) => void (this.writeError ??= { error: e }))
        .finally(() => this.writes.delete(path));
      this.writes.set(path, job);
      return;
    }
    const fh = await open(path, flags, 0o600);
    try {
      for await (const c of chunksOf(body)) {
        let off = 0;
        while (off < c.length) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
      this.fdMetadata(fh.fd, path, h);
    } finally {
      await fh.close();
    }
  }

  /** Owner, xattrs, mode (after chown, which clears set-id bits), times: on an open file. */
  private fdMetadata(fd: number, path: string, h: Header): void {
    if (this.sameOwner) fs.fchownSync(fd, ids(h).uid, ids(h).gid);
    this.xattrs(h, path);
    fs.fchmodSync(fd, (h.mode ?? 0o644) & 0o7777);
    const [atime, mtime] = times(h);
    fs.futimesSync(fd, atime, mtime);
  }

  /** Owner, xattrs, mode, times by path; a directory's times wait until its contents are in place. */
  private metadata(h: Header, path: string, type: string): void {
    if (this.sameOwner) fs.lchownSync(path, ids(h).uid, ids(h).gid);
    this.xattrs(h, path);
    if (type !== 'symlink') fs.chmodSync(path, (h.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777);
    const [atime, mtime] = times(h);
    if (type === 'directory') this.dirTimes.push([path, atime, mtime]);
    else fs.lutimesSync(path, atime, mtime);
  }

  private xattrs(h: Header, path: string): void {
    if (!h.pax) return;
    for (const [key, value] of Object.entries(h.pax)) {
      if (!key.startsWith('SCHILY.xattr.')) continue;
      const name = key.slice('SCHILY.xattr.'.length);
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      try {
        sys().lsetxattr(path, name, Buffer.from(value, 'latin1'));
      } catch (e) {
        // Like Docker: a filesystem without xattrs (or that refuses this
        // namespace) still gets the layer.
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTSUP' || code === 'EPERM') continue;
        throw invalid(`invalid tar entry ${JSON.stringify(h.name)}: cannot set xattr ${JSON.stringify(name)}: ${messageOf(e)}`, e);
      }
    }
  }

  /** Directories' times, now that nothing more will be created in them. */
  async finish(): Promise<void> {
    await this.drainWrites();
    for (const [path, atime, mtime] of this.dirTimes) {
      try {
        fs.lutimesSync(path, atime, mtime);
      } catch (e) {
        // Removed or replaced by a later entry of the layer.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  private whiteout(name: string, parts: string[]): void {
    const base = parts[parts.length - 1]!;
    const victim = base.slice(WHITEOUT_PREFIX.length);
    if (base !== OPAQUE_WHITEOUT && (victim === '' || victim === '.' || victim === '..')) {
      throw invalid(`invalid tar entry ${JSON.stringify(name)}: whiteout names no file`);
    }
    // Nothing to hide under a directory that does not exist.
    const parent = this.resolveDir(parts.slice(0, -1), name, false);
    if (parent === null) return;
    if (base === OPAQUE_WHITEOUT) {
      for (const child of fs.readdirSync(this.abs(parent))) this.removeLower(join(parent, child));
    } else if (!victim.startsWith(WHITEOUT_PREFIX)) {
      this.removeLower(join(parent, victim));
    }
  }

  /**
   * Removes rel as far as it comes from lower layers: what this layer has
   * created (and the directories leading to it) stays.
   */
  private removeLower(rel: string): void {
    const path = this.abs(rel);
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (!this.touched.has(rel)) {
      if (st.isDirectory() || st.isSymbolicLink()) this.dirs.clear();
      fs.rmSync(path, { recursive: true, force: true });
      return;
    }
    if (st.isDirectory()) for (const child of fs.readdirSync(path)) this.removeLower(join(rel, child));
  }

  /** The existing, root-relative real path of a hardlink's target. */
  private hardlinkTarget(name: string, linkname: string): string {
    const what = `hardlink ${JSON.stringify(name)} -> ${JSON.stringify(linkname)}`;
    const parts = cleanEntryName(linkname, `tar entry: ${what}:`);
    if (parts.length === 0) throw invalid(`invalid ${what}: target is the layer root`);
    const parent = this.resolveDir(parts.slice(0, -1), name, false);
    const rel = parent === null ? null : join(parent, parts[parts.length - 1]!);
    const st = rel === null ? undefined : fs.lstatSync(this.abs(rel), { throwIfNoEntry: false });
    if (!st) throw invalid(`invalid ${what}: target does not exist in the layer or below it`);
    if (st.isDirectory()) throw invalid(`invalid ${what}: target is a directory`);
    return this.abs(rel!);
  }

  /**
   * The real root-relative path of directory parts, resolving symlinks as if
   * the root were `/` (absolute targets restart at the root, `..` stops there),
   * so the result is always inside the root and free of symlinks. Missing
   * directories are created (0755) when create is set; otherwise null.
   */
  private resolveDir(parts: string[], entry: string, create: boolean): string | null {
    const key = parts.join('/');
    const hit = this.dirs.get(key);
    if (hit !== undefined) return hit;
    const todo = parts.slice().reverse();
    const cur: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur.pop();
        continue;
      }
      cur.push(c);
      const rel = cur.join('/');
      const path = this.abs(rel);
      const st = fs.lstatSync(path, { throwIfNoEntry: false });
      if (!st) {
        if (!create) return null;
        fs.mkdirSync(path, 0o755);
        fs.chmodSync(path, 0o755);
        this.touch(rel);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw invalid(`invalid tar entry ${JSON.stringify(entry)}: too many levels of symbolic links`);
        const target = fs.readlinkSync(path);
        cur.pop();
        if (target.startsWith('/')) cur.length = 0;
        todo.push(...target.split('/').reverse());
      } else if (!st.isDirectory()) {
        if (!create) return null;
        throw invalid(`invalid tar entry ${JSON.stringify(entry)}: ${JSON.stringify(rel)} is not a directory`);
      }
    }
    const real = cur.join('/');
    this.dirs.set(key, real);
    return real;
  }
}


/** An entry's bytes; its stream fails only when the tar does (truncated, corrupt, aborted). */
export async function* chunksOf(body: Body, what = 'layer tar'): AsyncGenerator<Buffer> {
  try {
    for await (const c of body) yield c as Buffer;
  } catch (e) {
    throw e instanceof EngineError || isAbort(e) ? e : invalid(`invalid ${what}: ${messageOf(e)}`, e);
  }
}

export async function drain(body: Body, what = 'layer tar'): Promise<void> {
  for await (const _ of chunksOf(body, what)) {
    // discard
  }
}

/** uid/gid, PAX records first: they carry ids too large for the ustar fields. */
function ids(h: Header): { uid: number; gid: number } {
  return { uid: paxNumber(h.pax?.uid) ?? h.uid ?? 0, gid: paxNumber(h.pax?.gid) ?? h.gid ?? 0 };
}

/** [atime, mtime] in seconds; PAX records carry fractions. atime is never before mtime (as Docker). */
export function times(h: Header): [number, number] {
  const mtime = paxNumber(h.pax?.mtime) ?? (h.mtime ? h.mtime.getTime() / 1000 : 0);
  const atime = paxNumber(h.pax?.atime) ?? mtime;
  return [Math.max(atime, mtime), mtime];
}

export function paxNumber(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * tar-stream decodes PAX records as UTF-8 text, which mangles binary
 * `SCHILY.xattr.*` values such as security.capability. This replaces its
 * decoder on one extractor with one that keeps xattr values as latin1 strings
 * (one char per byte; read back with Buffer.from(v, 'latin1')). Global PAX
 * headers are ignored, as Docker (Go's archive/tar) does.
 */
export function binarySafePax(ex: Extract): void {
  interface Internals {
    _decodeLongHeader: (buf: Buffer) => void;
    _header: { type?: string } | null;
    _pax: Record<string, string> | null;
  }
  const inner = ex as unknown as Internals;
  const original = inner._decodeLongHeader;
  if (typeof original !== 'function' || !('_pax' in inner)) {
    throw internal('tar-stream internals changed: cannot decode PAX records binary-safe (check the tar-stream version)');
  }
  inner._decodeLongHeader = function (this: Internals, buf: Buffer): void {
    const type = this._header?.type;
    if (type === 'pax-header') this._pax = decodePax(buf);
    else if (type !== 'pax-global-header') original.call(this, buf);
  };
}

/** PAX extended header records: `<len> <key>=<value>\n`, len counting the whole record in bytes. */
export function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0) break; // NUL padding some writers leave
    const sp = buf.indexOf(0x20, i);
    const len = sp < 0 ? NaN : Number(buf.toString('latin1', i, sp));
    if (!Number.isInteger(len) || len <= sp - i + 1 || i + len > buf.length || buf[i + len - 1] !== 0x0a) {
      throw invalid('invalid tar: malformed PAX extended header record');
    }
    const rec = buf.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw invalid('invalid tar: malformed PAX extended header record');
    const key = rec.toString('utf8', 0, eq);
    out[key] = key.startsWith('SCHILY.xattr.') ? rec.toString('latin1', eq + 1) : rec.toString('utf8', eq + 1);
    i += len;
  }
  return out;
}
