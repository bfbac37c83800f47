/**
 * The sources of COPY/ADD, found in a ContextFS (contextfs.ts: the uploaded
 * context, read in place from its tar; or an image's root for --from), their
 * checksum for the cache, and the tar that puts them at the destination.
 *
 * A source is a path relative to the context, with Go's filepath.Match
 * wildcards per path element. It may not leave the context: `../x` is refused,
 * and a source that is a symlink is followed only while it stays inside (a
 * link to /etc/passwd is refused, and nothing outside is read). Symlinks met
 * while copying a directory are copied as links, like Docker.
 *
 * checksum() hashes what a copy depends on — paths, types, modes, sizes,
 * contents, link targets — and not mtimes, so the cache survives a fresh
 * checkout of the same files.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { invalid } from '../base/errdefs.js';
import { decompress, detectArchiveCompression, MAGIC_BYTES } from '../archive/compression.js';
import { TarFS, TarIndexer, type ContextFS, type FileInfo } from './contextfs.js';

/** Contexts up to this size stay in memory; a bigger one goes to a file as it arrives. */
export const MEMORY_CONTEXT_BYTES = 256 * 1024 * 1024;

/**
 * The upload, decompressed and indexed as it passes (TarIndexer), kept in
 * memory — the docker CLI sends its context in small chunks, and a file write
 * per chunk costs more than the transfer (docs/benchmarks.md, "Build") — or,
 * past MEMORY_CONTEXT_BYTES, in one file written in large blocks.
 */
export async function receiveContext(body: Readable, file: string, signal?: AbortSignal): Promise<TarFS> {
  const ix = new TarIndexer();
  let chunks: Buffer[] = [];
  let held = 0;
  let fh: fs.FileHandle | undefined;
  let block: Buffer[] = [];
  let blockBytes = 0;
  const flush = async () => {
    if (!blockBytes) return;
    const data = block.length === 1 ? block[0]! : Buffer.concat(block, blockBytes);
    block = [];
    blockBytes = 0;
    await fh!.write(data);
  };
  /** One chunk of the (decompressed) tar; a promise only when it had to write to the file. */
  const take = (chunk: Buffer): Promise<void> | undefined => {
    ix.push(chunk);
    if (!fh) {
      chunks.push(chunk);
      held += chunk.length;
      if (held <= MEMORY_CONTEXT_BYTES) return undefined;
      return (async () => {
        await fs.mkdir(posix.dirname(file), { recursive: true, mode: 0o700 });
        fh = await fs.open(file, 'w', 0o600);
        block = chunks;
        blockBytes = held;
        chunks = [];
        await flush();
      })();
    }
    block.push(chunk);
    blockBytes += chunk.length;
    return blockBytes >= 4 << 20 ? flush() : undefined;
  };
  try {
    const plain = await readPlain(body, take, signal);
    if (!plain) for await (const c of await decompress(body, { archive: true })) {
      signal?.throwIfAborted();
      await take(c as Buffer);
    }
    if (fh) await flush();
  } finally {
    await fh?.close();
  }
  return new TarFS(fh ? { file } : { chunks }, ix.entries);
}

/**
 * Reads an uncompressed body straight from its 'data' events (no stream in
 * between: each hop costs per chunk, and the docker CLI sends many small
 * ones). Returns false, with nothing consumed, when the body is compressed.
 */
function readPlain(body: Readable, take: (c: Buffer) => Promise<void> | undefined, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let decided = false;
    let head: Buffer = Buffer.alloc(0);
    const done = (e?: unknown, plain = true) => {
      body.off('data', onData).off('end', onEnd).off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve(plain);
    };
    const feed = (c: Buffer) => {
      const p = take(c);
      if (p) {
        body.pause();
        p.then(() => body.resume(), (e: unknown) => done(e));
      }
    };
    const onData = (c: Buffer) => {
      if (!decided) {
        head = head.length ? Buffer.concat([head, c]) : c;
        if (head.length < MAGIC_BYTES) return;
        decided = true;
        if (detectArchiveCompression(head) !== 'none') {
          body.pause();
          done(undefined, false);
          body.unshift(head);
          return;
        }
        c = head;
      }
      try {
        feed(c);
      } catch (e) {
        done(e);
      }
    };
    const onEnd = () => {
      try {
        if (!decided && head.length) take(head);
        done();
      } catch (e) {
        done(e);
      }
    };
    const onError = (e: Error) => done(e);
    const onAbort = () => done(signal!.reason ?? new Error('aborted'));
    body.on('data', onData).once('end', onEnd).once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface Source {
  /** Relative to the root of its ContextFS, '/'-separated ('' for the root itself). */
  rel: string;
  /** What the path leads to (symlinks in the path followed, within the root). */
  info: FileInfo;
}

/** Go's filepath.Match pattern for one path element → RegExp. */
function elementRe(p: string): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = p.indexOf(']', i + 1);
      if (end < 0) throw invalid(`syntax error in pattern: ${p}`);
      const cls = p.slice(i + 1, end);
      re += `[${cls.startsWith('!') || cls.startsWith('^') ? '^' + cls.slice(1) : cls}]`;
      i = end;
    } else if (c === '\\' && i + 1 < p.length) re += p[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const hasWildcard = (s: string) => /[*?[]/.test(s);

/** Lexically cleans a source path and refuses one that leaves the context. */
function cleanSource(src: string): string {
  const raw = posix.normalize(src.replace(/\\/g, '/'));
  if (raw === '..' || raw.startsWith('../')) throw invalid(`forbidden path outside the build context: ${src} ()`);
  return posix.normalize('/' + raw).slice(1);
}

/**
 * Resolves a path's symlinks inside the root; refuses one that leads out of it.
 * `rooted`: an image's file system, where absolute links are relative to its root
 * and '..' at the root stays there (COPY --from).
 */
async function resolveIn(cfs: ContextFS, rel: string, original: string, rooted: boolean): Promise<string> {
  const comps = rel ? rel.split('/') : [];
  const out: string[] = [];
  let hops = 0;
  while (comps.length) {
    const c = comps.shift()!;
    if (c === '.' || c === '') continue;
    if (c === '..') {
      if (!out.length) {
        if (rooted) continue;
        throw invalid(`forbidden path outside the build context: ${original} ()`);
      }
      out.pop();
      continue;
    }
    const info = await cfs.lstat([...out, c].join('/'));
    if (!info) return [...out, c, ...comps].join('/');
    if (info.type === 'symlink') {
      if (++hops > 40) throw invalid(`too many levels of symbolic links: ${original}`);
      const target = info.linkname ?? '';
      if (target.startsWith('/') && !rooted) throw invalid(`forbidden path outside the build context: ${original} (a symlink to ${target})`);
      let next = target.startsWith('/') ? posix.normalize(target).slice(1) : posix.normalize(posix.join(...out, target));
      if (rooted) while (next === '..' || next.startsWith('../')) next = next === '..' ? '' : next.slice(3);
      if (next === '..' || next.startsWith('../')) throw invalid(`forbidden path outside the build context: ${original} (a symlink to ${target})`);
      comps.unshift(...(next && next !== '.' ? next.split('/') : []));
      out.length = 0;
      continue;
    }
    out.push(c);
  }
  return out.join('/');
}

/** The sources one COPY/ADD names, in order; a pattern that matches nothing is an error like Docker's. */
export async function findSources(cfs: ContextFS, patterns: string[], o: { rooted?: boolean } = {}): Promise<Source[]> {
  const out: Source[] = [];
  for (const pattern of patterns) {
    const clean = cleanSource(pattern);
    let rels: string[];
    if (!hasWildcard(clean)) rels = [await resolveIn(cfs, clean, pattern, !!o.rooted)];
    else {
      rels = [''];
      for (const el of clean.split('/')) {
        const next: string[] = [];
        for (const base of rels) {
          if (!hasWildcard(el)) {
            next.push(base ? `${base}/${el}` : el);
            continue;
          }
          const re = elementRe(el);
          const names = await cfs.readdir(base).catch(() => [] as string[]);
          for (const n of names) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
        }
        rels = next;
      }
      rels = await Promise.all(rels.map((r) => resolveIn(cfs, r, pattern, !!o.rooted)));
    }
    let found = 0;
    for (const rel of rels) {
      const info = await cfs.lstat(rel);
      if (!info) continue;
      out.push({ rel, info });
      found++;
    }
    if (!found) throw invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${pattern}: file does not exist`);
  }
  return out;
}

interface Entry {
  /** Path in the destination, relative to / without a leading slash. */
  name: string;
  rel: string;
  info: FileInfo;
}

/** Every file under the sources, with where it lands. Directories' contents go into the destination directory. */
async function entries(cfs: ContextFS, sources: Source[], dest: string, destIsDir: boolean): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (rel: string, name: string) => {
    for (const n of await cfs.readdir(rel)) {
      const r = rel ? `${rel}/${n}` : n;
      const info = (await cfs.lstat(r))!;
      const e: Entry = { name: name ? `${name}/${n}` : n, rel: r, info };
      out.push(e);
      if (info.type === 'dir') await walk(r, e.name);
    }
  };
  const root = dest.replace(/^\/+/, '').replace(/\/+$/, '');
  for (const s of sources) {
    if (s.info.type === 'dir') {
      // Its contents go into the destination; the directory itself is not copied (Docker).
      await walk(s.rel, root);
    } else {
      const name = destIsDir ? posix.join(root, posix.basename(s.rel)) : root;
      out.push({ name, rel: s.rel, info: s.info });
    }
  }
  return out;
}

/** A checksum of what the sources hold (not their mtimes): the COPY/ADD part of a cache key. */
export async function checksum(cfs: ContextFS, sources: Source[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of await entries(cfs, sources, '', true)) {
    h.update(`${e.name}\0${e.info.type}\0${e.info.mode}\0${e.info.size}\0${e.info.linkname ?? ''}\0`);
    if (e.info.type === 'file') h.update(await cfs.hash(e.rel));
  }
  return 'sha256:' + h.digest('hex');
}

export interface CopyOptions {
  /** Absolute path in the image. */
  dest: string;
  destIsDir: boolean;
  uid: number;
  gid: number;
  /** --chmod: the mode for every copied file and directory. */
  mode?: number;
  /** Directories to make first (relative to /, no leading slash): those on the way that do not exist. */
  missing?: Set<string>;
}

/** Directory entries, parents first (paths relative to / or absolute), 0755 and owned as given. */
export function packDirs(pack: tar.Pack, dirs: Iterable<string>, owner: { uid: number; gid: number }): void {
  for (const d of [...dirs].sort((x, y) => x.length - y.length)) pack.entry({ name: d.replace(/^\/+/, ''), type: 'directory', mode: 0o755, uid: owner.uid, gid: owner.gid });
}

/** The tar that puts the sources at the destination (extracted at / of the container). */
export function copyTar(cfs: ContextFS, sources: Source[], o: CopyOptions): Readable {
  const pack = tar.pack();
  void (async () => {
    try {
      const list = await entries(cfs, sources, o.dest, o.destIsDir);
      // Missing directories on the way (0755, owned like the files); existing ones are left as they are.
      packDirs(pack, o.missing ?? [], o);
      for (const e of list) {
        const mode = o.mode ?? e.info.mode;
        const common = { name: e.name, mode, uid: o.uid, gid: o.gid, mtime: e.info.mtime };
        if (e.info.type === 'dir') pack.entry({ ...common, type: 'directory' });
        else if (e.info.type === 'symlink') pack.entry({ ...common, type: 'symlink', linkname: e.info.linkname ?? '' });
        else if (e.info.type === 'file') {
          await new Promise<void>((resolve, reject) => {
            const w = pack.entry({ ...common, type: 'file', size: e.info.size }, (err) => (err ? reject(err) : resolve()));
            if (e.info.size === 0) return void (w as unknown as { end(): void }).end();
            cfs.open(e.rel).on('error', reject).pipe(w);
          });
        }
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}
