// The build context of `pier build` for the classic builder, made as docker's
// CLI makes it (cli/command/image/build/context.go, moby's archive.TarWithOptions
// and moby/patternmatcher):
//
//   const { contextDir, relDockerfile } = await getContextFromLocalDir('.', '');
//   const excludes = trimBuildFilesFromExcludes(await readDockerignore(contextDir), relDockerfile, false);
//   const tar = tarContext(contextDir, excludes);   // streamed, entry by entry
//
// .dockerignore follows Docker's pattern matcher exactly (build/dockerignore.ts,
// ported from moby/patternmatcher; shared with the daemon's builder).
//
// Entries are sent as archive.TarWithOptions writes them: names relative to the
// context in byte order, directories with a trailing '/', symlinks as symlinks
// (never followed), hard links as links to the first name, uid/gid 0 and no
// user names, the file's permission bits with setuid/setgid/sticky, mtimes cut
// to the second; sockets are left out.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, mkdtemp, open, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import tarStream, { type Header } from 'tar-stream';
import { goClean, parseDockerignore, PatternMatcher, type MatchInfo } from '../build/dockerignore.js';

type TarHeaders = Partial<Header> & { name: string };

// --- Go error texts ---------------------------------------------------------------------

const strerror: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
};

/** Go's *PathError text: "lstat /x: no such file or directory". */
export function goPathError(op: string, path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return Object.assign(new Error(`${op} ${path}: ${strerror[code] ?? (e as Error).message}`), { code });
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

// --- paths (Go's filepath.Clean, EvalSymlinks) -------------------------------------------

/** filepath.Rel for two cleaned absolute paths ("." when equal). */
const goRel = (base: string, target: string) => relative(base, target) || '.';

/** filepath.EvalSymlinks (walkSymlinks of path/filepath/symlink.go): the errors name the component that failed. */
export async function evalSymlinks(path: string): Promise<string> {
  let volLen = path.startsWith('/') ? 1 : 0;
  let vol = path.slice(0, volLen);
  let dest = vol;
  let linksWalked = 0;
  for (let start = volLen, end = volLen; start < path.length; start = end) {
    while (start < path.length && path[start] === '/') start++;
    end = start;
    while (end < path.length && path[end] !== '/') end++;
    const part = path.slice(start, end);
    if (end === start) break;
    if (part === '.') continue;
    if (part === '..') {
      let r = dest.length - 1;
      while (r >= volLen && dest[r] !== '/') r--;
      if (r < volLen || dest.slice(r + 1) === '..') {
        if (dest.length > volLen) dest += '/';
        dest += '..';
      } else dest = dest.slice(0, r);
      continue;
    }
    if (dest.length > 0 && !dest.endsWith('/')) dest += '/';
    dest += part;
    let st: Stats;
    try {
      st = await lstat(dest);
    } catch (e) {
      throw goPathError('lstat', dest, e);
    }
    if (!st.isSymbolicLink()) {
      if (!st.isDirectory() && end < path.length) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      continue;
    }
    if (++linksWalked > 255) throw new Error('EvalSymlinks: too many links');
    let link: string;
    try {
      link = await readlink(dest);
    } catch (e) {
      throw goPathError('readlink', dest, e);
    }
    path = link + path.slice(end);
    if (link.startsWith('/')) {
      dest = '/';
      end = 1;
      vol = '/';
      volLen = 1;
    } else {
      let r = dest.length - 1;
      while (r >= volLen && dest[r] !== '/') r--;
      dest = r < volLen ? vol : dest.slice(0, r);
      end = 0;
    }
  }
  return goClean(dest);
}

/** build.ResolveAndValidateContextPath: the absolute, symlink-free context directory. */
export async function resolveAndValidateContextPath(given: string, cwd = process.cwd()): Promise<string> {
  let abs = resolve(cwd, given);
  try {
    abs = await evalSymlinks(abs);
  } catch (e) {
    throw new Error(`unable to evaluate symlinks in context path: ${(e as Error).message}`);
  }
  let st: Stats;
  try {
    st = await lstat(abs);
  } catch (e) {
    throw new Error(`unable to stat context directory ${JSON.stringify(abs)}: ${goPathError('lstat', abs, e).message}`);
  }
  if (!st.isDirectory()) throw new Error(`context must be a directory: ${abs}`);
  return abs;
}

/** build.getDockerfileRelPath: the Dockerfile relative to the context ("-" stays "-"). */
export async function getDockerfileRelPath(absContextDir: string, givenDockerfile: string): Promise<string> {
  if (givenDockerfile === '-') return givenDockerfile;
  let absDockerfile = givenDockerfile;
  if (absDockerfile === '') {
    // No -f: "Dockerfile", or "dockerfile" when only that one exists.
    absDockerfile = join(absContextDir, 'Dockerfile');
    try {
      await lstat(absDockerfile);
    } catch (e) {
      if (errno(e) === 'ENOENT') {
        const alt = join(absContextDir, 'dockerfile');
        try {
          await lstat(alt);
          absDockerfile = alt;
        } catch {
          // keep "Dockerfile" for the error below
        }
      }
    }
  }
  if (!isAbsolute(absDockerfile)) absDockerfile = join(absContextDir, absDockerfile);
  try {
    absDockerfile = await evalSymlinks(absDockerfile);
  } catch (e) {
    throw new Error(`unable to evaluate symlinks in Dockerfile path: ${(e as Error).message}`);
  }
  try {
    await lstat(absDockerfile);
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new Error(`Cannot locate Dockerfile: ${JSON.stringify(absDockerfile)}`);
    throw new Error(`unable to stat Dockerfile: ${goPathError('lstat', absDockerfile, e).message}`);
  }
  return goRel(absContextDir, absDockerfile);
}

/**
 * build.GetContextFromLocalDir. A -f path is relative to the current
 * directory, not to the context (docker's rule).
 */
export async function getContextFromLocalDir(localDir: string, dockerfileName: string, cwd = process.cwd()): Promise<{ contextDir: string; relDockerfile: string }> {
  const contextDir = await resolveAndValidateContextPath(localDir, cwd);
  if (dockerfileName !== '' && dockerfileName !== '-') dockerfileName = resolve(cwd, dockerfileName);
  return { contextDir, relDockerfile: await getDockerfileRelPath(contextDir, dockerfileName) };
}

// --- .dockerignore (the matcher itself is build/dockerignore.ts) -------------------------

/** build.ReadDockerignore: the context's patterns, none when there is no .dockerignore. */
export async function readDockerignore(contextDir: string): Promise<string[]> {
  const path = join(contextDir, '.dockerignore');
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return [];
    if (errno(e) === 'EISDIR') throw new Error(`error reading .dockerignore: ${goPathError('read', path, e).message}`);
    throw goPathError('open', path, e);
  }
  return parseDockerignore(content);
}

/** build.TrimBuildFilesFromExcludes: the Dockerfile and .dockerignore are always sent (the daemon drops them later). */
export function trimBuildFilesFromExcludes(excludes: string[], dockerfile: string, dockerfileFromStdin: boolean): string[] {
  const matches = (file: string) => {
    try {
      const f = goClean(file);
      return f !== '.' && new PatternMatcher(excludes).matches(f);
    } catch {
      return false;
    }
  };
  const out = [...excludes];
  if (matches('.dockerignore')) out.push('!.dockerignore');
  if (matches(dockerfile) && !dockerfileFromStdin) out.push('!' + dockerfile);
  return out;
}

// --- walking the context ----------------------------------------------------------------------

/** Directory entries in Go's order: by name, byte-wise. */
async function readDirSorted(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * build.ValidateContextDirectory: every file that will be sent can be read.
 * Symlinks and named pipes are not opened; excluded directories are not entered.
 */
export async function validateContextDirectory(root: string, excludes: string[]): Promise<void> {
  const pm = new PatternMatcher(excludes);
  const visit = async (path: string, rel: string): Promise<void> => {
    let st: Stats;
    try {
      st = await lstat(path);
    } catch (e) {
      if (errno(e) === 'EACCES' || errno(e) === 'EPERM') throw new Error(`can't stat '${path}'`);
      if (errno(e) === 'ENOENT') throw new Error(`file ('${path}') not found or excluded by .dockerignore`);
      throw goPathError('lstat', path, e);
    }
    if (rel !== '.' && pm.matchesOrParentMatches(rel)) return;
    if (st.isSymbolicLink() || st.isFIFO()) return;
    if (!st.isDirectory()) {
      try {
        await (await open(path, 'r')).close();
      } catch (e) {
        if (errno(e) === 'EACCES' || errno(e) === 'EPERM') throw new Error(`no permission to read from '${path}'`);
      }
      return;
    }
    let names: string[];
    try {
      names = await readDirSorted(path);
    } catch (e) {
      if (errno(e) === 'EACCES' || errno(e) === 'EPERM') throw new Error(`can't stat '${path}'`);
      throw goPathError('open', path, e);
    }
    for (const n of names) await visit(join(path, n), rel === '.' ? n : `${rel}/${n}`);
  };
  await visit(root, '.');
}

export interface TarContextOptions {
  /** Owner of every entry; docker's ChownOpts {0, 0}. Absent: the files' own. */
  chown?: { uid: number; gid: number };
}

/**
 * An entry to write: no content (directories, links, …), a file's content read
 * from `path`, in memory (`data`), or streamed from another archive (`stream`).
 */
export type Entry =
  | { header: TarHeaders; path?: string }
  | { header: TarHeaders; data: Buffer }
  | { header: TarHeaders; stream: AsyncIterable<Buffer> };

/** One file's tar header (archive.FileInfoHeader), undefined for what tar cannot hold (sockets). */
async function fileHeader(path: string, name: string, st: Stats): Promise<TarHeaders | undefined> {
  // Mode carries the file type bits too: tar-stream keeps only the low 12, and a 0 would become its default.
  const h: TarHeaders = { name, mode: st.mode, uid: st.uid, gid: st.gid, size: 0, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
  if (st.isFile()) {
    h.type = 'file';
    h.size = st.size;
  } else if (st.isDirectory()) {
    h.type = 'directory';
    h.name = name + '/';
  } else if (st.isSymbolicLink()) {
    h.type = 'symlink';
    h.linkname = await readlink(path);
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    h.type = st.isCharacterDevice() ? 'character-device' : 'block-device';
    h.devmajor = ((st.rdev >> 8) & 0xfff) | (Math.floor(st.rdev / 2 ** 32) & ~0xfff);
    h.devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  } else if (st.isFIFO()) {
    h.type = 'fifo';
  } else return undefined;
  return h;
}

/**
 * archive.TarWithOptions(dir, {ExcludePatterns, ChownOpts}): the entries of the
 * context, walked lazily so that the archive is produced as it is read.
 */
export async function* contextEntries(root: string, excludes: string[], o: TarContextOptions = {}): AsyncGenerator<Entry> {
  const pm = new PatternMatcher(excludes);
  const seenInodes = new Map<number, string>();
  async function* walk(dir: string, relDir: string, parentInfo: MatchInfo | undefined): AsyncGenerator<Entry> {
    let names: string[];
    try {
      names = await readDirSorted(dir);
    } catch {
      return; // docker logs what it cannot read and goes on
    }
    for (const n of names) {
      const path = join(dir, n);
      const rel = relDir === '' ? n : `${relDir}/${n}`;
      let st: Stats;
      try {
        st = await lstat(path);
      } catch {
        continue;
      }
      const [skip, info] = pm.matchesUsingParentResults(rel, parentInfo);
      if (skip) {
        if (!st.isDirectory()) continue;
        // An excluded directory is still entered when an exception names something under it,
        // but is not itself sent ("dir" and "!dir/file" send dir/file alone).
        const dirSlash = rel + '/';
        if (!pm.exclusions || !pm.patterns.some((p) => p.exclusion && (p.cleaned + '/').startsWith(dirSlash))) continue;
        yield* walk(path, rel, info);
        continue;
      }
      let header: TarHeaders | undefined;
      try {
        header = await fileHeader(path, rel, st);
      } catch {
        continue;
      }
      if (!header) continue;
      if (!st.isDirectory() && st.nlink > 1) {
        const first = seenInodes.get(st.ino);
        if (first !== undefined) {
          header.type = 'link';
          header.linkname = first;
          header.size = 0;
        } else seenInodes.set(st.ino, rel);
      }
      if (o.chown) {
        header.uid = o.chown.uid;
        header.gid = o.chown.gid;
      }
      yield header.type === 'file' && header.size! > 0 ? { header, path } : { header };
      if (st.isDirectory()) yield* walk(path, rel, info);
    }
  }
  yield* walk(root, '', undefined);
}

/** Write `chunks` into a pack entry, waiting for it to drain; exactly `size` bytes (a file that grew is cut, one that shrank is padded). */
async function writeEntry(w: NodeJS.WritableStream, chunks: AsyncIterable<Buffer | string>, size: number): Promise<void> {
  let sent = 0;
  for await (const c of chunks) {
    let b = typeof c === 'string' ? Buffer.from(c) : c;
    if (sent + b.length > size) b = b.subarray(0, size - sent);
    sent += b.length;
    if (b.length && !w.write(b)) await new Promise((r) => w.once('drain', r));
  }
  if (sent < size) w.write(Buffer.alloc(size - sent));
  w.end();
}

/** Write entries into a tar-stream pack, contents streamed; resolves when all are written. */
async function packEntries(pack: tarStream.Pack, entries: AsyncIterable<Entry> | Iterable<Entry>): Promise<void> {
  for await (const e of entries) {
    await new Promise<void>((resolvePromise, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolvePromise());
      if ('data' in e) {
        pack.entry({ ...e.header, size: e.data.length }, e.data, cb);
        return;
      }
      const source = 'stream' in e ? e.stream : e.path && e.header.size ? createReadStream(e.path, { start: 0, end: e.header.size - 1 }) : undefined;
      const w = pack.entry(e.header, cb);
      if (!source) return;
      w.on('error', () => undefined); // reported through the callback
      writeEntry(w, source, e.header.size ?? 0).catch((err: Error) => w.destroy(err));
    });
  }
}

/** A tar stream of the entries, produced as it is read; an error ends it with that error. */
export function packStream(entries: AsyncIterable<Entry> | Iterable<Entry>): Readable {
  const pack = tarStream.pack();
  void (async () => {
    try {
      await packEntries(pack, entries);
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** The context directory as a tar with docker's exclusions and owner 0:0. */
export function tarContext(root: string, excludes: string[]): Readable {
  return packStream(contextEntries(root, excludes, { chown: { uid: 0, gid: 0 } }));
}

// --- stdin: a tar or a Dockerfile ----------------------------------------------------------------

/** archive.DetectCompression's magic numbers, and a first tar header with a valid checksum. */
export function isArchive(header: Buffer): boolean {
  const starts = (...b: number[]) => b.every((x, i) => header[i] === x);
  if (starts(0x42, 0x5a, 0x68) || starts(0x1f, 0x8b, 0x08) || starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) || starts(0x28, 0xb5, 0x2f, 0xfd)) return true;
  // tar.Reader.Next on what was peeked: a block with a valid checksum (a zero block is an empty archive, not one).
  // (Zero blocks first are an empty archive or a broken one: an error either way.)
  if (header.length < 512) return false;
  const blk = header.subarray(0, 512);
  if (blk.every((b) => b === 0)) return false;
  const field = blk.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : blk[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

// --- Go's reads ---------------------------------------------------------------------------------
// What docker prints while it downloads and uploads depends on the reads its
// readers see: net/http hands the last bytes of a body and EOF in the same read,
// pipes and files give EOF in a read of its own, bufio fills 4096 bytes at a
// time and its Peek swallows an EOF it met (the next read asks again), io.Copy
// asks for 32KiB, and tar.Reader stops at the end-of-archive blocks. Contexts are
// passed around as such reads so that the progress lines come out the same.

/** One read of a Go io.Reader: data, EOF, or both at once. */
export interface GoRead {
  data: Buffer;
  eof: boolean;
}

/** An io.Reader: read(max) gives at most `max` bytes; read() again after EOF gives EOF again. */
export interface GoReader {
  read(max: number): Promise<GoRead>;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** io.Copy's buffer. */
export const COPY_SIZE = 32 * 1024;

/**
 * The chunks of `src` as reads (a chunk is what one read can get);
 * `eofWithLastData` gives the last bytes and EOF together, as net/http does;
 * `firstMax` caps the first read (what was left in a 4096-byte buffer after a response head).
 */
export function goReader(src: AsyncIterable<Buffer | string>, eofWithLastData = false, firstMax = Infinity): GoReader {
  const it = src[Symbol.asyncIterator]();
  let cur: Buffer = EMPTY;
  let ahead: Buffer | undefined; // the chunk after `cur`, to know whether `cur` is the last
  let done = false;
  const next = async (): Promise<Buffer | undefined> => {
    while (!done) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      if (b.length) return b;
    }
    return undefined;
  };
  return {
    async read(max) {
      max = Math.min(max, firstMax);
      firstMax = Infinity;
      if (cur.length === 0) {
        const b = ahead ?? (await next());
        ahead = undefined;
        if (b === undefined) return { data: EMPTY, eof: true };
        cur = b;
      }
      const data = cur.subarray(0, max);
      cur = cur.subarray(data.length);
      if (!eofWithLastData || cur.length > 0) return { data, eof: false };
      ahead = await next();
      return { data, eof: ahead === undefined };
    },
  };
}

/** io.Copy's side: read until EOF. */
export async function* goChunks(r: GoReader, size = COPY_SIZE): AsyncGenerator<Buffer> {
  for (;;) {
    const { data, eof } = await r.read(size);
    if (data.length) yield data;
    if (eof) return;
  }
}

export const goReadAll = (r: GoReader) => readAllChunks(goChunks(r));

/**
 * bufio.Reader (4096 bytes): small reads are served from the buffer, filled by
 * one read of the source at a time; reads as large as the buffer go to the source.
 */
class BufReader implements GoReader {
  private buf: Buffer = EMPTY;
  private eof = false;

  constructor(private readonly src: GoReader, readonly size = 4096) {}

  /** Peek(n): fill until n bytes are buffered or EOF; an EOF that leaves fewer than n bytes is reported, and so dropped. */
  async peek(n: number): Promise<Buffer> {
    while (this.buf.length < n && this.buf.length < this.size && !this.eof) await this.fill();
    if (this.buf.length < n) this.eof = false;
    return this.buf.subarray(0, n);
  }

  private async fill(): Promise<void> {
    const r = await this.src.read(this.size - this.buf.length);
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.data]) : r.data;
    if (r.eof) this.eof = true;
  }

  async read(max: number): Promise<GoRead> {
    if (this.buf.length === 0) {
      if (this.eof) {
        this.eof = false;
        return { data: EMPTY, eof: true };
      }
      if (max >= this.size) return this.src.read(max);
      await this.fill();
      if (this.buf.length === 0) return this.read(max);
    }
    const data = this.buf.subarray(0, max);
    this.buf = this.buf.subarray(data.length);
    return { data, eof: false };
  }

  /** io.ReadFull(n): exactly n bytes, fewer only at EOF. */
  async readFull(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const r = await this.read(n - got);
      parts.push(r.data);
      got += r.data.length;
      if (r.eof && r.data.length === 0) break;
    }
    return Buffer.concat(parts);
  }
}

/** DetectArchiveReader: Peek(1024) through a bufio.Reader, which then reads on. */
export async function detectArchiveReader(input: GoReader): Promise<{ isArchive: boolean; rest: GoReader }> {
  const rest = new BufReader(input);
  return { isArchive: isArchive(await rest.peek(1024)), rest };
}

/**
 * The bytes of one tar archive as tar.Reader reads them: headers and contents up
 * to the two zero blocks that end it, nothing after (what follows is never read).
 */
async function* tarArchiveBytes(r: GoReader): AsyncGenerator<Buffer> {
  const br = r instanceof BufReader ? r : new BufReader(r);
  for (;;) {
    const h = await br.readFull(512);
    if (h.length) yield h;
    if (h.length < 512) return;
    if (h.every((b) => b === 0)) {
      const h2 = await br.readFull(512);
      if (h2.length) yield h2;
      if (h2.length < 512 || h2.every((b) => b === 0)) return;
      continue;
    }
    let left = tarSize(h);
    left += (512 - (left % 512)) % 512;
    while (left > 0) {
      const c = await br.read(Math.min(left, COPY_SIZE));
      if (c.data.length) yield c.data;
      left -= c.data.length;
      if (c.eof && c.data.length === 0) return;
    }
  }
}

/** A header's size field: octal, or base-256 when its first byte has the high bit. */
function tarSize(h: Buffer): number {
  const f = h.subarray(124, 136);
  if (f[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]!;
    return n;
  }
  const t = f.toString('latin1').replace(/[\0 ]+$/, '').trim();
  return t ? parseInt(t, 8) || 0 : 0;
}

export async function readAllChunks(src: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/**
 * build.GetContextFromReader: a tar (or compressed tar) goes as it is, with the
 * Dockerfile named by -f; anything else is a Dockerfile, sent as the only file of
 * a context (archive.Tar of a temporary directory: the user's own uid/gid, mode
 * 0666 less the umask, mtime now).
 */
export async function getContextFromReader(input: GoReader, dockerfileName: string): Promise<{ context: GoReader; relDockerfile: string }> {
  const { isArchive: archive, rest } = await detectArchiveReader(input);
  if (archive) return { context: rest, relDockerfile: dockerfileName };
  if (dockerfileName === '-') throw new Error('build context is not an archive');
  if (dockerfileName !== '') throw new Error('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles');
  const data = await goReadAll(rest);
  const umask = process.umask();
  const header: TarHeaders = {
    name: 'Dockerfile', type: 'file', mode: 0o100000 | (0o666 & ~umask), size: data.length,
    uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: new Date(Math.floor(Date.now() / 1000) * 1000),
  };
  return { context: goReader(packStream([{ header, data }])), relDockerfile: 'Dockerfile' };
}

/** stringid.GenerateRandomID()[:20], as the name of a Dockerfile added to the context. */
export function randomDockerfileName(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (/^\d+$/.test(id.slice(0, 12))) continue; // GenerateRandomID avoids IDs that read as numbers
    return `.dockerfile.${id.slice(0, 20)}`;
  }
}

/**
 * build.AddDockerfileToBuildContext: the tar with the Dockerfile added under a
 * random name (mode 0600, mtime now) and that name appended to .dockerignore
 * (created if missing), so the daemon leaves it out of the context it uses.
 */
export function addDockerfileToBuildContext(dockerfile: Buffer, context: GoReader, name = randomDockerfileName()): { context: GoReader; relDockerfile: string } {
  const extract = tarStream.extract();
  const now = new Date(Math.round(Date.now() / 1000) * 1000);
  const added = (n: string, data: Buffer): Entry => ({ header: { name: n, type: 'file', mode: 0o100600, uid: 0, gid: 0, mtime: now, size: data.length }, data });
  async function* entries(): AsyncGenerator<Entry> {
    let sawIgnore = false;
    for await (const e of extract) {
      const h = { ...e.header };
      if (h.name === '.dockerignore' && h.type === 'file') {
        sawIgnore = true;
        const data = await readAllChunks(e as AsyncIterable<Buffer>);
        yield { header: h, data: Buffer.concat([data, Buffer.from(`\n${name}\n`)]) };
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        // The next entry comes once this one's content has been read.
        yield { header: h, stream: e as AsyncIterable<Buffer> };
      } else {
        e.resume();
        yield { header: h };
      }
    }
    if (!sawIgnore) yield added('.dockerignore', Buffer.from(`.dockerignore\n${name}\n`));
    yield added(name, dockerfile);
  }
  void (async () => {
    try {
      for await (const c of tarArchiveBytes(context)) {
        if (!extract.write(c)) await new Promise<void>((r) => extract.once('drain', () => r()));
      }
      extract.end(undefined);
    } catch (e) {
      extract.destroy(e as Error);
    }
  })();
  return { context: goReader(packStream(entries())), relDockerfile: name };
}

// --- remote contexts: git repositories and URLs --------------------------------------------------

/** urlutil.IsURL. */
export const isURL = (s: string) => s.startsWith('https://') || s.startsWith('http://');

/** urlutil.IsGitURL. */
export function isGitURL(s: string): boolean {
  if (isURL(s) && /\.git(?:#.+)?$/.test(s)) return true;
  return ['git://', 'github.com/', 'git@'].some((p) => s.startsWith(p));
}

function urlScheme(s: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s);
  return m ? m[1]!.toLowerCase() : '';
}

interface GitRepo {
  remote: string;
  ref: string;
  subdir: string;
}

/** git.parseRemoteURL: "repo.git#ref:subdir" (ref defaults to master). */
export function parseGitURL(remoteURL: string): GitRepo {
  const isTransport = remoteURL.startsWith('git@') || ['git', 'http', 'https', 'ssh'].includes(urlScheme(remoteURL));
  if (!isTransport) remoteURL = 'https://' + remoteURL;
  const hash = remoteURL.indexOf('#');
  const remote = hash === -1 ? remoteURL : remoteURL.slice(0, hash);
  const fragment = hash === -1 ? '' : remoteURL.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = (colon === -1 ? fragment : fragment.slice(0, colon)) || 'master';
  const subdir = colon === -1 ? '' : fragment.slice(colon + 1);
  if (ref.startsWith('-')) throw new Error(`invalid refspec: ${ref}`);
  return { remote, ref, subdir };
}

function git(dir: string, args: string[]): Promise<{ ok: boolean; out: string; err?: Error }> {
  return new Promise((resolvePromise) => {
    execFile('git', ['-c', 'protocol.file.allow=never', ...args], { cwd: dir, env: { ...process.env, GIT_PROTOCOL_FROM_USER: '0' }, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolvePromise({ ok: !err, out: String(stdout) + String(stderr), ...(err ? { err } : {}) });
    });
  });
}

const exitText = (e: Error | undefined) => {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? `exit status ${code}` : (e?.message ?? '');
};

/** supportsShallowClone: non-HTTP remotes always, HTTP ones when they are smart servers. */
async function supportsShallowClone(remote: string): Promise<boolean> {
  const scheme = urlScheme(remote);
  if (scheme !== 'http' && scheme !== 'https') return true;
  const url = remote + '/info/refs?service=git-upload-pack';
  let res: Response | undefined;
  try {
    res = await fetch(url, { method: 'HEAD' });
  } catch {
    res = undefined;
  }
  if (!res || res.status !== 200) {
    try {
      res = await fetch(url);
      await res.body?.cancel();
    } catch {
      return false;
    }
    if (res.status !== 200) return false;
  }
  return res.headers.get('content-type') === 'application/x-git-upload-pack-advertisement';
}

/** git.Clone: a shallow fetch of the ref into a temporary directory; resolves with the directory to use and the root to remove. */
export async function gitClone(remoteURL: string): Promise<{ dir: string; root: string }> {
  const repo = parseGitURL(remoteURL);
  const fetchArgs = ['fetch', ...((await supportsShallowClone(repo.remote)) ? ['--depth', '1'] : []), 'origin', '--', repo.ref];
  const root = await mkdtemp(join(tmpdir(), 'pier-build-git'));
  try {
    let r = await git(root, ['init']);
    if (!r.ok) throw new Error(`failed to init repo at ${root}: ${r.out}: ${exitText(r.err)}`);
    r = await git(root, ['remote', 'add', 'origin', repo.remote]);
    if (!r.ok) throw new Error(`failed add origin repo at ${repo.remote}: ${r.out}: ${exitText(r.err)}`);
    r = await git(root, fetchArgs);
    if (!r.ok) throw new Error(`error fetching: ${r.out}: ${exitText(r.err)}`);
    r = await git(root, ['checkout', repo.ref]);
    if (!r.ok && !(await git(root, ['checkout', 'FETCH_HEAD'])).ok) throw new Error(`error checking out ${repo.ref}: ${r.out}: ${exitText(r.err)}`);
    let dir = root;
    if (repo.subdir !== '') {
      // symlink.FollowSymlinkInScope, approximated: the resolved subdirectory must stay in the clone.
      let target: string;
      try {
        target = await realpath(join(root, repo.subdir));
      } catch (e) {
        throw goPathError('stat', join(root, repo.subdir), e);
      }
      const realRoot = await realpath(root);
      if (target !== realRoot && !target.startsWith(realRoot + '/')) {
        throw new Error(`error setting git context, ${JSON.stringify(repo.subdir)} not within git root: ${target}`);
      }
      if (!(await stat(target)).isDirectory()) throw new Error(`error setting git context, not a directory: ${target}`);
      dir = target;
    }
    const sub = await new Promise<{ ok: boolean; out: string; err?: Error }>((resolvePromise) => {
      execFile('git', ['submodule', 'update', '--init', '--recursive', '--depth=1'], { cwd: root, maxBuffer: 1 << 26 }, (err, so, se) =>
        resolvePromise({ ok: !err, out: String(so) + String(se), ...(err ? { err } : {}) }));
    });
    if (!sub.ok) throw new Error(`error initializing submodules: ${sub.out}: ${exitText(sub.err)}`);
    return { dir, root };
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw e;
  }
}

/** getWithStatusError: a GET whose 4xx/5xx is an error carrying the body. */
export async function getWithStatusError(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: Error }).cause;
    throw new Error(`Get ${JSON.stringify(url)}: ${cause?.message ?? (e as Error).message}`);
  }
  if (res.status < 400) return res;
  const msg = `failed to GET ${url} with status ${res.status} ${res.statusText}`;
  const body = (await res.text()).trim();
  throw new Error(`${msg}: ${body}`);
}
