/**
 * A container's network namespace, made before the container: a new namespace
 * pinned by a bind mount on a file (as `ip netns add` does), so the network can
 * be set up before runc starts the process, which then joins it by path. The
 * namespace ends when the file is unmounted and the last process in it exits.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { sys, MNT_DETACH } from '../base/sys.js';

export async function createNetns(path: string): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true });
  await fs.rm(path, { force: true }).catch(() => undefined);
  sys().netnsCreate(path);
}

export async function removeNetns(path: string): Promise<void> {
  try {
    sys().umount(path, MNT_DETACH);
  } catch {
    /* not mounted */
  }
  await fs.rm(path, { force: true });
}
