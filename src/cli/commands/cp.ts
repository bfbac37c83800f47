// pier cp: the client half of docker cp (cli/command/container/cp.go and moby's
// pkg/archive/copy.go). The API only moves tar archives — GET/PUT
// /containers/{id}/archive?path= plus HEAD for a stat — so the copy semantics
// live here, in how the archive is built, renamed and extracted:
//
//   SRC is a file:       DEST exists as a dir → DEST/name; else DEST is the file.
//   SRC is a dir:        DEST exists as a dir → DEST/SRC's name/…; else DEST is created.
//   SRC ends in "/.":    the directory's *contents* go into DEST (created if missing).
//   DEST ends in "/":    it must be a directory (or not exist, for a directory SRC).

import { constants, createReadStream, promises as fsp, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve as resolvePath } from 'node:path';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';

type TarHeaders = Partial<Header> & { name: string };
import tarStream, { type Header } from 'tar-stream';
import type { PathStat } from '../../client/types.js';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';
import { humanSizeWithPrecision } from '../units.js';

// --- path semantics (pkg/archive) ----------------------------------------------------------

const specifiesCurrentDir = (p: string) => posix.basename(p) === '.';
const hasTrailingSeparator = (p: string) => p.length > 0 && p.endsWith('/');

/** Go's filepath.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  return posix.normalize(p).replace(/(.)\/+$/, '$1');
}

/** archive.PreserveTrailingDotOrSeparator: keep a trailing "/." or "/" that cleaning removed. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  if (!specifiesCurrentDir(cleaned) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(cleaned)) cleaned += '/';
    cleaned += '.';
  }
  if (!hasTrailingSeparator(cleaned) && hasTrailingSeparator(original)) cleaned += '/';
  return cleaned;
}

/** archive.SplitPathDirEntry: the cleaned parent and base, a trailing "." kept as the base. */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = cleanPath(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [posix.dirname(cleaned), posix.basename(cleaned)];
}

const assertsDirectory = (p: string) => hasTrailingSeparator(p) || specifiesCurrentDir(p);

/** splitCpArg: "ctr:/path" → ["ctr", "/path"]; local paths (absolute, "./x:y", no colon) → ["", arg]. */
export function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith('/')) return ['', arg];
  const i = arg.indexOf(':');
  if (i === -1 || arg.slice(0, i).startsWith('.')) return ['', arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName: string;
}

/** archive.GetRebaseName. */
export function getRebaseName(path: string, resolved: string): [string, string] {
  let rebase = '';
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(resolved)) resolved += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(resolved)) resolved += '/';
  if (posix.basename(path) !== posix.basename(resolved)) rebase = posix.basename(path);
  return [resolved, rebase];
}

/**
 * archive.PrepareArchiveCopy's decision: the directory to extract into, and the
 * name the archive's top entry must be renamed from/to (undefined: as is).
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; rebase?: [string, string] } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  let [, srcBase] = splitPathDirEntry(src.path);
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new Error('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new Error('no such directory');
  if (src.rebaseName) srcBase = src.rebaseName;
  return { dstDir, rebase: [srcBase, dstBase] };
}

// --- Go's os.FileMode bits, as the archive stat header carries them -------------------------

const bit = (mode: number, n: number) => Math.floor(mode / 2 ** n) % 2 === 1;
export const modeIsDir = (m: number) => bit(m, 31);
export const modeIsSymlink = (m: number) => bit(m, 27);
const modeIsDevice = (m: number) => bit(m, 26);
const modeIsIrregular = (m: number) => bit(m, 19);

/** command.ValidateOutputPathFileMode. */
function outputPathFileModeError(mode: number): string | undefined {
  if (modeIsDevice(mode)) return 'got a device';
  if (modeIsIrregular(mode)) return 'got an irregular file';
  return undefined;
}

// --- local file system errors, worded as Go's *PathError ----------------------------------

const strerror: Record<string, string> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', ENOTDIR: 'not a directory', EISDIR: 'is a directory',
  EEXIST: 'file exists', ELOOP: 'too many levels of symbolic links', EROFS: 'read-only file system', ENOSPC: 'no space left on device',
  EPERM: 'operation not permitted', ENOTEMPTY: 'directory not empty',
};

function pathErr(op: string, path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (!code) return e as Error;
  return new Error(`${op} ${path}: ${strerror[code] ?? (e as Error).message}`);
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw pathErr('lstat', p, e);
  }
}

/** filepath.EvalSymlinks for an existing path ('' resolves to '.'). */
async function evalSymlinks(p: string): Promise<string> {
  try {
    return await fsp.realpath(p === '' ? '.' : p);
  } catch (e) {
    throw pathErr('lstat', p, e);
  }
}

/** archive.CopyInfoSourcePath: the local source, with symlinks before its last element resolved. */
export async function copyInfoSourcePath(path: string, followLink: boolean): Promise<CopyInfo> {
  let resolved: string;
  let rebaseName = '';
  if (followLink) {
    [resolved, rebaseName] = getRebaseName(path, await evalSymlinks(path));
  } else {
    const i = path.lastIndexOf('/');
    const dir = path.slice(0, i + 1);
    const base = path.slice(i + 1);
    resolved = `${await evalSymlinks(dir)}/${base}`.replace(/^\/\//, '/');
    if (hasTrailingSeparator(path) && posix.basename(path) !== posix.basename(resolved)) rebaseName = posix.basename(path);
  }
  let st: Stats;
  try {
    st = await fsp.lstat(resolved);
  } catch (e) {
    throw pathErr('lstat', resolved, e);
  }
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** archive.CopyInfoDestinationPath: follow a symlinked destination; a missing one needs an existing parent directory. */
export async function copyInfoDestinationPath(path: string): Promise<CopyInfo> {
  const original = path;
  let st = await lstatOrUndefined(path);
  if (st && !st.isSymbolicLink()) return { path, exists: true, isDir: st.isDirectory(), rebaseName: '' };
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new Error(`too many symlinks in ${original}`);
    let target = await fsp.readlink(path);
    if (!isAbsolute(target)) target = join(splitPathDirEntry(path)[0], target);
    path = target;
    st = await lstatOrUndefined(path);
  }
  if (!st) {
    const [parent] = splitPathDirEntry(path);
    let pst: Stats;
    try {
      pst = await fsp.stat(parent);
    } catch (e) {
      throw pathErr('stat', parent, e);
    }
    if (!pst.isDirectory()) throw new Error('not a directory');
    return { path, exists: false, isDir: false, rebaseName: '' };
  }
  return { path, exists: true, isDir: st.isDirectory(), rebaseName: '' };
}

// --- tar: build (TarResource), rename (RebaseArchiveEntries), extract (Untar) -----------------

/**
 * archive.TarResourceRebase: a tar of `sourcePath` (a file, or a directory
 * and everything under it) whose entries are named relative to its parent, the
 * first element renamed to `rebaseName` when given. A "/." source yields "./…".
 */
export function tarResource(sourcePath: string, rebaseName = ''): Readable {
  const [sourceDir, sourceBase] = splitPathDirEntry(sourcePath);
  const pack = tarStream.pack();
  const inodes = new Map<string, string>();
  const rename = (rel: string) => {
    if (!rebaseName) return rel;
    return rel.replace(sourceBase, rebaseName === '/' ? '' : rebaseName);
  };
  const add = (header: TarHeaders, body?: Readable) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) {
        const w = pack.entry(header, cb);
        // The callback gets the entry's error; a pack destroyed meanwhile (the upload failed) must not throw it again.
        w.on('error', () => undefined);
        body.on('error', (e) => w.destroy(e));
        body.pipe(w);
      } else pack.entry(header, cb);
    });
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await fsp.lstat(abs);
    if (st.isSocket()) return; // docker skips sockets
    let name = rename(rel);
    const header: TarHeaders = {
      name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: 0,
    };
    if (st.isDirectory()) {
      if (!name.endsWith('/')) header.name = name += '/';
      header.type = 'directory';
      await add(header);
      const names = (await fsp.readdir(abs)).sort();
      for (const n of names) await walk(join(abs, n), rel === '.' ? `./${n}` : `${rel}/${n}`);
      return;
    }
    if (st.isSymbolicLink()) {
      header.type = 'symlink';
      header.linkname = await fsp.readlink(abs);
      return add(header);
    }
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        const first = inodes.get(key);
        if (first !== undefined) {
          header.type = 'link';
          header.linkname = first;
          return add(header);
        }
        inodes.set(key, name);
      }
      header.type = 'file';
      header.size = st.size;
      return add(header, createReadStream(abs));
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      header.type = st.isCharacterDevice() ? 'character-device' : 'block-device';
      header.devmajor = Math.floor(st.rdev / 256) & 0xfff;
      header.devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
      return add(header);
    }
    if (st.isFIFO()) {
      header.type = 'fifo';
      return add(header);
    }
  };
  void (async () => {
    try {
      await walk(join(sourceDir, sourceBase), sourceBase);
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** The header fields worth carrying through a rename. */
function copyHeader(h: Header, name: string, linkname?: string | null): TarHeaders {
  const out: TarHeaders = { name, mode: h.mode, uid: h.uid, gid: h.gid, size: h.size, mtime: h.mtime, type: h.type, uname: h.uname, gname: h.gname };
  if (linkname) out.linkname = linkname;
  if (h.devmajor !== undefined) out.devmajor = h.devmajor;
  if (h.devminor !== undefined) out.devminor = h.devminor;
  return out;
}

/** archive.RebaseArchiveEntries: rename the first occurrence of oldBase in every entry name (and hard link target). */
export function rebaseArchiveEntries(src: Readable, oldBase: string, newBase: string): Readable {
  if (oldBase === '/') oldBase = '';
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  extract.on('entry', (h, body, next) => {
    const name = h.name.replace(oldBase, newBase);
    const link = h.type === 'link' && h.linkname ? h.linkname.replace(oldBase, newBase) : h.linkname;
    const w = pack.entry(copyHeader(h, name, link), (err) => (err ? next(err) : next()));
    w.on('error', () => undefined); // reported through the callback
    body.pipe(w);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (e: Error) => pack.destroy(e));
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract);
  return pack as unknown as Readable;
}

/**
 * archive.Untar with NoLchown and NoOverwriteDirNonDir, as CopyTo extracts: no
 * entry may land outside `dest` (nor through a symlink pointing out of it), a
 * directory is never replaced by a file or the other way round, and directory
 * times are set last.
 */
export async function untar(src: Readable, dest: string): Promise<void> {
  dest = cleanPath(resolvePath(dest));
  const extract = tarStream.extract();
  const dirs: { path: string; mtime: Date }[] = [];
  const inside = (p: string) => {
    const r = relative(dest, p);
    return !(r === '..' || r.startsWith('../') || isAbsolute(r));
  };
  const realInside = async (p: string) => {
    // The deepest existing ancestor must resolve inside dest (no escaping through symlinks).
    let q = p;
    for (;;) {
      try {
        const real = await fsp.realpath(q);
        const realDest = await fsp.realpath(dest);
        const r = relative(realDest, real);
        return !(r === '..' || r.startsWith('../') || isAbsolute(r));
      } catch {
        const up = dirname(q);
        if (up === q) return false;
        q = up;
      }
    }
  };
  src.on('error', (e) => extract.destroy(e));
  // Leaving the loop early destroys the extractor while src may still write: that late error is no news.
  extract.on('error', () => undefined);
  src.pipe(extract);
  for await (const entry of extract) {
    const h = entry.header;
    const name = cleanPath(h.name);
    const path = join(dest, name);
    if (!inside(path)) throw new Error(`${JSON.stringify(h.name)} is outside of ${JSON.stringify(dest)}`);
    const parent = dirname(path);
    if (!(await realInside(parent))) throw new Error(`${JSON.stringify(h.name)} is outside of ${JSON.stringify(dest)}`);
    if (!h.name.endsWith('/') && !(await lstatOrUndefined(parent))) await fsp.mkdir(parent, { recursive: true, mode: 0o755 });
    const isDir = h.type === 'directory';
    const existing = await lstatOrUndefined(path);
    if (existing) {
      if (existing.isDirectory() && !isDir) throw new Error(`cannot overwrite directory ${JSON.stringify(path)} with non-directory ${JSON.stringify(dest)}`);
      if (!existing.isDirectory() && isDir) throw new Error(`cannot overwrite non-directory ${JSON.stringify(path)} with directory ${JSON.stringify(dest)}`);
      if (existing.isDirectory() && name === '.') {
        entry.resume();
        continue;
      }
      if (!(existing.isDirectory() && isDir)) await fsp.rm(path, { recursive: true, force: true });
    }
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'directory':
        if (!existing) await fsp.mkdir(path, { mode });
        break;
      case 'file':
      case 'contiguous-file':
      case undefined:
      case null: {
        const fh = await fsp.open(path, constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL, mode);
        const ws = fh.createWriteStream();
        for await (const c of entry) {
          if (!ws.write(c)) await once(ws, 'drain');
        }
        ws.end();
        await once(ws, 'close');
        break;
      }
      case 'link': {
        const target = join(dest, h.linkname ?? '');
        if (!inside(target)) throw new Error(`invalid hardlink ${JSON.stringify(target)} -> ${JSON.stringify(h.linkname)}`);
        await fsp.link(target, path);
        break;
      }
      case 'symlink': {
        const target = join(dirname(path), h.linkname ?? '');
        if (!inside(target)) throw new Error(`invalid symlink ${JSON.stringify(path)} -> ${JSON.stringify(h.linkname)}`);
        await fsp.symlink(h.linkname ?? '', path);
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo':
        // Not creatable without mknod; docker skips these too when it may not create them.
        entry.resume();
        continue;
      default:
        throw new Error(`unhandled tar header type ${String(h.type)}`);
    }
    entry.resume();
    const mtime = h.mtime ?? new Date();
    if (h.type === 'symlink') {
      await fsp.lutimes(path, mtime, mtime).catch(() => {});
      continue;
    }
    if (h.type !== 'link') await fsp.chmod(path, mode);
    if (isDir) dirs.push({ path, mtime });
    else if (h.type !== 'link') await fsp.utimes(path, mtime, mtime);
  }
  for (const d of dirs.reverse()) await fsp.utimes(d.path, d.mtime, d.mtime);
}

// --- the command ----------------------------------------------------------------------------

/** cp's progress line on a terminal: "Copying to container - 1.2MB", redrawn every 75ms. */
function progress(err: Writable & { isTTY?: boolean }, header: string, total: () => number): () => void {
  if (!err.isTTY) return () => {};
  // morikuni/aec: save/restore cursor, hide/show it, erase line, move to column.
  err.write('\x1b[sPreparing to copy...');
  err.write('\x1b[?25l\x1b[u\x1b[2K' + header + humanSizeWithPrecision(0, 3));
  let last = 0;
  const t = setInterval(() => {
    const n = total();
    if (n === last) return;
    err.write(`\x1b[${header.length + 1}G\x1b[0K${humanSizeWithPrecision(n, 3)}`);
    last = n;
  }, 75);
  return () => {
    clearInterval(t);
    err.write('\x1b[?25h\x1b[u\x1b[2K');
  };
}

/** Counts the bytes that pass (for the progress and the final "Successfully copied" line). */
function counting(src: Readable, counter: { n: number }): Readable {
  const pt = new PassThrough();
  src.on('data', (c: Buffer) => (counter.n += c.length));
  src.on('error', (e) => pt.destroy(e));
  src.pipe(pt);
  return pt;
}

/** command.ValidateOutputPath. */
async function validateOutputPath(path: string): Promise<void> {
  const dir = dirname(cleanPath(path));
  if (dir !== '' && dir !== '.' && !(await lstatOrUndefined(dir).catch(() => undefined))) {
    try {
      await fsp.stat(dir);
    } catch {
      throw new Error(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
    }
  }
  let st: Stats | undefined;
  try {
    st = await fsp.stat(path);
  } catch {
    return;
  }
  if (st.isDirectory() || st.isFile()) return;
  if (st.isCharacterDevice() || st.isBlockDevice()) throw new Error(`invalid output path: ${JSON.stringify(path)} must be a directory or a regular file: got a device`);
}

const resolveLocalPath = (p: string) => preserveTrailingDotOrSeparator(resolvePath(p), p);

async function copyFromContainer(ctx: Ctx, container: string, srcPath: string, dstPath: string, o: { followLink: boolean; quiet: boolean }): Promise<void> {
  if (dstPath !== '-') dstPath = resolveLocalPath(dstPath);
  await validateOutputPath(dstPath);
  const client = ctx.client();
  let rebaseName = '';
  if (o.followLink) {
    let st: PathStat | undefined;
    try {
      st = await client.containerStatPath(container, srcPath);
    } catch {
      st = undefined;
    }
    if (st && modeIsSymlink(st.mode)) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(srcPath)[0], target);
      [target, rebaseName] = getRebaseName(srcPath, target);
      srcPath = target;
    }
  }
  const { body, stat } = await client.copyFromContainer(container, srcPath);
  if (dstPath === '-') {
    for await (const c of body) {
      if (!ctx.io.stdout.write(c)) await once(ctx.io.stdout, 'drain');
    }
    return;
  }
  const counter = { n: 0 };
  let content: Readable = o.quiet ? body : counting(body, counter);
  if (rebaseName) content = rebaseArchiveEntries(content, splitPathDirEntry(srcPath)[1], rebaseName);
  const src: CopyInfo = { path: srcPath, exists: true, isDir: modeIsDir(stat.mode), rebaseName };
  const done = o.quiet ? () => {} : progress(ctx.io.stderr, 'Copying from container - ', () => counter.n);
  try {
    const dst = await copyInfoDestinationPath(dstPath);
    const { dstDir, rebase } = prepareArchiveCopy(src, dst);
    await untar(rebase ? rebaseArchiveEntries(content, rebase[0], rebase[1]) : content, dstDir);
  } finally {
    done();
  }
  if (!o.quiet) ctx.err(`Successfully copied ${humanSizeWithPrecision(counter.n, 3)} to ${dstPath}\n`);
}

async function copyToContainer(ctx: Ctx, container: string, srcPath: string, dstPath: string, o: { followLink: boolean; quiet: boolean; copyUIDGID: boolean }): Promise<void> {
  if (srcPath !== '-') srcPath = resolveLocalPath(srcPath);
  const client = ctx.client();
  const dst: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  let st: PathStat | undefined;
  let statErr = false;
  try {
    st = await client.containerStatPath(container, dstPath);
    if (modeIsSymlink(st.mode)) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(dstPath)[0], target);
      dst.path = target;
      st = await client.containerStatPath(container, target);
    }
  } catch {
    statErr = true;
  }
  const bad = st && !statErr ? outputPathFileModeError(st.mode) : undefined;
  if (bad) throw new Error(`destination "${container}:${dstPath}" must be a directory or a regular file: ${bad}`);
  if (st && !statErr) {
    dst.exists = true;
    dst.isDir = modeIsDir(st.mode);
  }
  let content: Readable;
  let resolvedDst: string;
  const counter = { n: 0 };
  if (srcPath === '-') {
    content = ctx.io.stdin;
    resolvedDst = dst.path;
    if (!dst.isDir) throw new Error(`destination "${container}:${dstPath}" must be a directory`);
  } else {
    const src = await copyInfoSourcePath(srcPath, o.followLink);
    const archive = tarResource(src.path, src.rebaseName);
    const { dstDir, rebase } = prepareArchiveCopy(src, dst);
    resolvedDst = dstDir;
    content = rebase ? rebaseArchiveEntries(archive, rebase[0], rebase[1]) : archive;
    if (!o.quiet) content = counting(content, counter);
  }
  const done = o.quiet ? () => {} : progress(ctx.io.stderr, 'Copying to container - ', () => counter.n);
  try {
    await client.copyToContainer(container, resolvedDst, content, { copyUIDGID: o.copyUIDGID });
  } finally {
    done();
  }
  if (!o.quiet) ctx.err(`Successfully copied ${humanSizeWithPrecision(counter.n, 3)} to ${container}:${dst.path}\n`);
}

async function runCp(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [source, destination] = f.args as [string, string];
  if (source === '') throw new StatusError(1, 'source can not be empty');
  if (destination === '') throw new StatusError(1, 'destination can not be empty');
  const quiet = f.changed.has('quiet') ? f.values['quiet'] === true : ctx.io.stdout.isTTY !== true;
  const [srcContainer, srcPath] = splitCpArg(source);
  const [dstContainer, dstPath] = splitCpArg(destination);
  const o = { followLink: f.values['follow-link'] === true, quiet, copyUIDGID: f.values['archive'] === true };
  try {
    if (srcContainer && dstContainer) throw new Error('copying between containers is not supported');
    if (srcContainer) await copyFromContainer(ctx, srcContainer, srcPath, dstPath, o);
    else if (dstContainer) await copyToContainer(ctx, dstContainer, srcPath, dstPath, o);
    else throw new Error('must specify at least one container source');
  } catch (e) {
    if (e instanceof Error && e.constructor === Error) throw new StatusError(1, e.message);
    throw e;
  }
  return 0;
}

export const commands: Record<string, CommandDef> = {
  cp: {
    use: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tpier cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    flags: [
      { name: 'archive', short: 'a', type: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
      { name: 'follow-link', short: 'L', type: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
    ],
    args: { exact: 2 },
    run: runCp,
  },
};

