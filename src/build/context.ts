/**
 * The build context: the tar the client uploaded, unpacked into a directory of
 * the daemon's (scoped: a traversal or a symlink in the tar cannot write
 * outside it), and the sources of COPY/ADD found in it.
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
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import { posix, join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { invalid } from '../base/errdefs.js';
import { decompress } from '../archive/compression.js';
import { extractToRoot } from '../archive/copy.js';

export async function unpackContext(body: Readable, dir: string, signal?: AbortSignal): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await extractToRoot(dir, '/', await decompress(body, { archive: true }), { signal, what: 'build context' });
}

export interface Source {
  /** Relative to the context, '/'-separated ('.' for the context itself). */
  rel: string;
  abs: string;
  stat: Stats;
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
      let cls = p.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '!' + cls.slice(1);
      re += `[${cls.startsWith('!') ? '^' + cls.slice(1) : cls}]`;
      i = end;
    } else if (c === '\\' && i + 1 < p.length) re += p[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const hasWildcard = (s: string) => /[*?[]/.test(s);

/** Lexically cleans a source path and refuses one that leaves the context. */
function cleanSource(src: string): string {
  const n = posix.normalize('/' + src.replace(/\\/g, '/')).slice(1);
  const raw = posix.normalize(src);
  if (raw === '..' || raw.startsWith('../')) throw invalid(`forbidden path outside the build context: ${src} ()`);
  return n || '.';
}

/** Resolves a path's symlinks inside the context; refuses one that leads out of it. */
/** `rooted`: an image's file system, where absolute links are relative to its root (COPY --from). */
async function resolveIn(ctx: string, rel: string, original: string, rooted = false): Promise<string> {
  const comps = rel === '.' ? [] : rel.split('/');
  const out: string[] = [];
  let hops = 0;
  while (comps.length) {
    const c = comps.shift()!;
    if (c === '.' || c === '') continue;
    if (c === '..') {
      if (!out.length) throw invalid(`forbidden path outside the build context: ${original} ()`);
      out.pop();
      continue;
    }
    const p = join(ctx, ...out, c);
    let st: Stats;
    try {
      st = await fs.lstat(p);
    } catch {
      out.push(c, ...comps);
      return out.join('/');
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw invalid(`too many levels of symbolic links: ${original}`);
      const target = await fs.readlink(p);
      if (target.startsWith('/') && !rooted) throw invalid(`forbidden path outside the build context: ${original} (a symlink to ${target})`);
      let next = target.startsWith('/') ? posix.normalize(target).slice(1) || '.' : posix.normalize(posix.join(...out, target));
      if (rooted) while (next === '..' || next.startsWith('../')) next = next === '..' ? '.' : next.slice(3); // / is its own parent
      if (next === '..' || next.startsWith('../')) throw invalid(`forbidden path outside the build context: ${original} (a symlink to ${target})`);
      comps.unshift(...(next === '.' ? [] : next.split('/')));
      out.length = 0;
      continue;
    }
    out.push(c);
  }
  return out.join('/') || '.';
}

/** The sources one COPY/ADD names, in order; a pattern that matches nothing is an error like Docker's. */
export async function findSources(ctx: string, patterns: string[], o: { rooted?: boolean } = {}): Promise<Source[]> {
  const out: Source[] = [];
  for (const pattern of patterns) {
    const clean = cleanSource(pattern);
    let rels: string[];
    if (!hasWildcard(clean)) rels = [await resolveIn(ctx, clean, pattern, o.rooted)];
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
          const names = await fs.readdir(join(ctx, base)).catch(() => [] as string[]);
          for (const n of names.sort()) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
        }
        rels = next;
      }
      rels = await Promise.all(rels.map((r) => resolveIn(ctx, r, pattern, o.rooted)));
    }
    let found = 0;
    for (const rel of rels) {
      const abs = rel === '.' ? ctx : join(ctx, rel);
      const stat = await fs.stat(abs).catch(() => undefined);
      if (!stat) continue;
      out.push({ rel, abs, stat });
      found++;
    }
    if (!found) throw invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${pattern}: file does not exist`);
  }
  return out;
}

interface Entry {
  /** Path in the destination, relative to / without a leading slash. */
  name: string;
  abs: string;
  stat: Stats;
  link?: string;
}

/** Every file under the sources, with where it lands. Directories' contents go into the destination directory. */
async function entries(sources: Source[], dest: string, destIsDir: boolean): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (abs: string, name: string) => {
    for (const n of (await fs.readdir(abs)).sort()) {
      const p = join(abs, n);
      const st = await fs.lstat(p);
      const e: Entry = { name: name ? `${name}/${n}` : n, abs: p, stat: st };
      if (st.isSymbolicLink()) e.link = await fs.readlink(p);
      out.push(e);
      if (st.isDirectory()) await walk(p, e.name);
    }
  };
  const root = dest.replace(/^\/+/, '').replace(/\/+$/, '');
  for (const s of sources) {
    if (s.stat.isDirectory()) {
      if (root) out.push({ name: root, abs: s.abs, stat: s.stat });
      await walk(s.abs, root);
    } else {
      const name = destIsDir ? posix.join(root, posix.basename(s.rel)) : root;
      out.push({ name, abs: s.abs, stat: s.stat });
    }
  }
  return out;
}

/** A checksum of what the sources hold (not their mtimes): the COPY/ADD part of a cache key. */
export async function checksum(sources: Source[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of await entries(sources, '', true)) {
    h.update(`${e.name}\0${e.stat.mode}\0${e.stat.isFile() ? e.stat.size : 0}\0${e.link ?? ''}\0`);
    if (e.stat.isFile()) for await (const chunk of createReadStream(e.abs)) h.update(chunk as Buffer);
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
}

/** The tar that puts the sources at the destination (extracted at / of the container). */
export function copyTar(sources: Source[], o: CopyOptions): Readable {
  const pack = tar.pack();
  void (async () => {
    try {
      const list = await entries(sources, o.dest, o.destIsDir);
      const dirs = new Set<string>();
      const parents = (name: string) => {
        const parts = name.split('/');
        for (let i = 1; i < parts.length; i++) {
          const d = parts.slice(0, i).join('/');
          if (dirs.has(d)) continue;
          dirs.add(d);
          pack.entry({ name: d, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
        }
      };
      if (o.destIsDir && o.dest.replace(/^\/+|\/+$/g, '')) {
        parents(o.dest.replace(/^\/+|\/+$/g, '') + '/x');
      }
      for (const e of list) {
        parents(e.name);
        const mode = o.mode ?? e.stat.mode & 0o7777;
        const common = { name: e.name, mode, uid: o.uid, gid: o.gid, mtime: e.stat.mtime };
        if (e.stat.isDirectory()) {
          dirs.add(e.name);
          pack.entry({ ...common, type: 'directory' });
        } else if (e.link !== undefined) pack.entry({ ...common, type: 'symlink', linkname: e.link });
        else if (e.stat.isFile()) {
          await new Promise<void>((resolve, reject) => {
            const w = pack.entry({ ...common, type: 'file', size: e.stat.size }, (err) => (err ? reject(err) : resolve()));
            createReadStream(e.abs).on('error', reject).pipe(w);
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
