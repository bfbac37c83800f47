/**
 * The kernel calls Node.js has no API for, from our native addon
 * (native/pier_sys.c): mount, umount2, mknod, the l*xattr family, flock, and
 * network namespaces (a new one pinned at a path; sockets bound inside one).
 * Why an addon and not mount(8)/setfattr(1): docs/architecture.md, "Kernel calls".
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

export interface Sys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  /** flock(LOCK_EX|LOCK_NB): true when this process now holds the lock. Released by the kernel when the fd closes or the process dies. */
  trylock(fd: number): boolean;
  /** A new network namespace with lo up, pinned by a bind mount at path (which must not exist). */
  netnsCreate(path: string): void;
  /** A non-blocking socket bound inside the namespace at nsPath (tcp: also listening); its fd. */
  netnsSocket(nsPath: string, type: 'udp' | 'tcp', ipv4: string, port: number): number;
}

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64, DIRSYNC: 128,
  NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384,
  UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24,
} as const;
export const MNT_DETACH = 2;

let cached: Sys | undefined;

/** Loads the addon; looks beside the bundle and in the source tree. */
export function sys(): Sys {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.PIER_NATIVE,
    join(here, '../native/build/Release/pier_sys.node'),
    join(here, '../../native/build/Release/pier_sys.node'),
    join(here, '../../../native/build/Release/pier_sys.node'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`native addon pier_sys.node not found (looked in ${candidates.join(', ')}); run "npm run build"`);
  cached = createRequire(import.meta.url)(found) as Sys;
  return cached;
}
