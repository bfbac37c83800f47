/**
 * Resolving paths inside a container's root filesystem (a directory on the
 * host) so that they never leave it, for `docker cp` (copy.ts). The answer is
 * the one a chroot gives, and Docker's FollowSymlinkInScope:
 *
 *   const root = RootDir.open(rootfs);
 *   const etc = root.dir(containerPath('/etc/'));   // symlinks followed in scope
 *   fs.readdirSync(at(etc.fd));
 *
 * - An absolute symlink target restarts at the root; `..` stops there.
 * - Each step opens the next directory relative to the open fd of the one
 *   before (through /proc/self/fd: Node has no openat) with O_NOFOLLOW, and
 *   symlinks are read and resolved here, never by the kernel. A running
 *   container that swaps a directory for a symlink between two steps (the
 *   `docker cp` race of CVE-2018-15664) gets nothing: an open fd keeps
 *   naming the directory it was opened on, inside the root.
 * - Callers act on `at(fd, name)` only with calls that do not follow the
 *   last component (lstat, mkdir, symlink, link, unlink, l*xattr, lchown,
 *   lutimes, O_NOFOLLOW opens), so the same holds for what they touch.
 */
import * as fs from 'node:fs';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
/** Linux's O_PATH (the value on x86 and arm), which Node does not export. */
export const O_PATH = 0o10000000;
const MAX_SYMLINK_HOPS = 255;

/** `name` in the directory open at fd, or the directory itself. */
export const at = (fd: number, name?: string): string => `/proc/self/fd/${fd}/${name ?? '.'}`;

/** The components of a container path, cleaned like Go's filepath.Clean("/" + path): `..` stops at the root. */
export function containerPath(path: string): string[] {
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '..') out.pop();
    else if (c !== '' && c !== '.') out.push(c);
  }
  return out;
}

export const slash = (comps: readonly string[]): string => `/${comps.join('/')}`;

/** Why a resolution stopped, and where (a container path). `final`: at the last component asked for. */
export class ScopeError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'ENOTDIR' | 'ELOOP',
    readonly path: string,
    readonly final: boolean,
  ) {
    super(`${path}: ${code}`);
  }
}

export interface Dir {
  /** Open (O_RDONLY|O_DIRECTORY) on the directory; the caller closes it. */
  fd: number;
  /** Its real path in the container: no symlinks, no `..`. */
  path: string[];
}

/** Opens path as a directory without following a symlink there; undefined when it is none (or gone). */
export function openDir(path: string): number | undefined {
  try {
    return fs.openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') return undefined;
    throw e;
  }
}

export class RootDir {
  private constructor(readonly fd: number) {}

  static open(root: string): RootDir {
    return new RootDir(fs.openSync(root, O_RDONLY | O_DIRECTORY));
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /**
   * The directory at comps, every symlink on the way (the last one too)
   * followed in scope. With `create`, missing directories are made (0755,
   * owned by root when we are root, like Docker's implied directories).
   */
  dir(comps: readonly string[], o: { create?: boolean } = {}): Dir {
    return this.walk(comps, o.create ? 'create' : 'dir');
  }

  /** Where comps leads with every symlink followed in scope; what does not exist is kept as written (FollowSymlinkInScope). */
  follow(comps: readonly string[]): string[] {
    return this.walk(comps, 'follow').path;
  }

  private walk(comps: readonly string[], mode: 'dir' | 'create' | 'follow'): Dir {
    const todo = [...comps].reverse();
    const fds: number[] = [];
    const names: string[] = [];
    let hops = 0;
    try {
      while (todo.length > 0) {
        const c = todo.pop()!;
        if (c === '' || c === '.') continue;
        if (c === '..') {
          if (names.length) {
            names.pop();
            fs.closeSync(fds.pop()!);
          }
          continue;
        }
        const p = at(fds[fds.length - 1] ?? this.fd, c);
        const fd = openDir(p);
        if (fd !== undefined) {
          fds.push(fd);
          names.push(c);
          continue;
        }
        const st = fs.lstatSync(p, { throwIfNoEntry: false });
        if (st?.isSymbolicLink()) {
          if (++hops > MAX_SYMLINK_HOPS) throw new ScopeError('ELOOP', slash([...names, c]), todo.length === 0);
          const target = fs.readlinkSync(p);
          if (target.startsWith('/')) {
            for (const f of fds.splice(0)) fs.closeSync(f);
            names.length = 0;
          }
          todo.push(...target.split('/').reverse());
        } else if (!st && mode === 'create') {
          fs.mkdirSync(p, 0o755);
          const made = openDir(p);
          if (made === undefined) throw new ScopeError('ENOTDIR', slash([...names, c]), todo.length === 0);
          fs.fchmodSync(made, 0o755); // past the umask
          if (process.getuid?.() === 0) fs.fchownSync(made, 0, 0);
          fds.push(made);
          names.push(c);
        } else if (mode === 'follow') {
          // A missing name, or a file: the rest stays as written.
          names.push(c);
          for (const r of todo.reverse()) {
            if (r === '..') names.pop();
            else if (r !== '' && r !== '.') names.push(r);
          }
          return { fd: -1, path: names };
        } else {
          throw new ScopeError(st ? 'ENOTDIR' : 'ENOENT', slash([...names, c]), todo.length === 0);
        }
      }
      if (mode === 'follow') return { fd: -1, path: names };
      return { fd: fds.pop() ?? fs.openSync(at(this.fd), O_RDONLY | O_DIRECTORY), path: names };
    } finally {
      for (const f of fds) fs.closeSync(f);
    }
  }
}
