/**
 * Using a snapshotter's mounts: stack them on a target, or on a temporary
 * directory for the length of a callback.
 *
 *   const files = await withMounted(host, await sn.view('v', chainId), (dir) => readdir(dir));
 */
import { mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { conflict, internal, messageOf } from '../base/errdefs.js';
import type { Host } from '../base/host.js';
import type { Mount } from '../base/mount.js';

/** Mounts each of mounts on target in order, so later ones stack on earlier ones; on failure unmounts what it mounted. */
export async function mountAll(host: Host, mounts: readonly Mount[], target: string): Promise<void> {
  let done = 0;
  try {
    for (const m of mounts) {
      await host.mount(m, target);
      done++;
    }
  } catch (e) {
    await unmountAll(host, target, done).catch(() => undefined);
    throw e;
  }
}

/**
 * Unmounts target count times (stacked mounts). A busy mount is detached
 * lazily instead: the caller is done with it, and a stuck mount would pin the
 * snapshot's directories for good.
 */
export async function unmountAll(host: Host, target: string, count = 1): Promise<void> {
  for (let i = 0; i < count; i++) {
    try {
      await host.unmount(target);
    } catch {
      await host.unmount(target, { lazy: true });
    }
  }
}

/** Mounts mounts on a new temporary directory, runs fn on it, then always unmounts and removes the directory. */
export async function withMounted<T>(
  host: Host,
  mounts: readonly Mount[],
  fn: (dir: string) => Promise<T>,
  o: { tmpdir?: string } = {},
): Promise<T> {
  const dir = await mkdtemp(join(o.tmpdir ?? tmpdir(), 'pier-mount-'));
  // The first failure wins: a cleanup error must not hide why fn failed.
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => void (failure ??= { error });
  let result: T | undefined;
  try {
    await mountAll(host, mounts, dir);
    try {
      result = await fn(dir);
    } catch (e) {
      fail(e);
    }
    await unmountAll(host, dir, mounts.length).catch(fail);
  } catch (e) {
    fail(e);
  }
  // rmdir, never a recursive delete: should a mount survive, this fails instead of deleting through it.
  await rmdir(dir).catch((e) => fail(internal(`removing temporary mount point ${dir}: ${messageOf(e)}`, e)));
  if (failure) throw failure.error;
  return result as T;
}

/** Mount points at or below dir in this mount namespace (from /proc/self/mountinfo). */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  const base = resolve(dir);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === base || p.startsWith(`${base}/`));
}

/** Throws conflict when something is mounted at or below dir. */
export async function assertUnmounted(dir: string): Promise<void> {
  const mounted = await mountPointsUnder(dir);
  if (mounted.length) throw conflict(`${dir} is still mounted at ${mounted.join(', ')}; unmount it first`);
}

/** Deletes the tree at dir; a recursive delete would go on into mounted file systems, so those make it refuse. */
export async function removeTree(dir: string): Promise<void> {
  await assertUnmounted(dir);
  await rm(dir, { recursive: true, force: true });
}
