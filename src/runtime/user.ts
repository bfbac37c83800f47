/**
 * Resolves a container's `User` ("name", "uid", "name:group", "uid:gid", '')
 * against the image's own /etc/passwd and /etc/group, with Docker's rules
 * (moby/sys/user GetExecUser + daemon getUser):
 *
 *  - '' is root (uid 0), taking gid and home from passwd's uid-0 entry if any;
 *  - a numeric user or group is an id even without an entry; a missing name is
 *    an error ("unable to find user x: no matching entries in passwd file");
 *  - the user's supplementary groups (members in /etc/group) are added only in
 *    the implicit form ("name", no ":group"); GroupAdd names or gids follow.
 *
 * The files are read from inside the rootfs as if it were "/": symlinks are
 * resolved component by component within the root, so an image whose
 * /etc/passwd links to /etc/shadow-like host paths reads its own files, never
 * the host's.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../base/errdefs.js';

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string; name?: string }

const MAX_ID = 2147483647;
const RANGE = `uids and gids must be in range 0-${MAX_ID}`;

/**
 * `path` (absolute, container view) → host path under `root`, following
 * symlinks as the container would see them. Undefined when something on the
 * way does not exist.
 */
export async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  const pending = path.split('/').filter(Boolean);
  let done: string[] = [];
  for (let links = 0; pending.length; ) {
    const c = pending.shift()!;
    if (c === '.') continue;
    if (c === '..') { done.pop(); continue; }
    const full = join(root, ...done, c);
    let st;
    try {
      st = await lstat(full);
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw e;
    }
    if (!st.isSymbolicLink()) { done.push(c); continue; }
    if (++links > 255) throw invalid(`too many levels of symbolic links resolving ${path} in the container`);
    const target = await readlink(full);
    if (target.startsWith('/')) done = [];
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return join(root, ...done);
}

/** Reads a file of the container by its container path; undefined when absent. */
async function readInRoot(root: string, path: string): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  if (!host) return undefined;
  // O_NOFOLLOW: if the last component was swapped for a link since we looked, fail rather than follow it out.
  const f = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!f) return undefined;
  try {
    return await f.readFile('utf8');
  } finally {
    await f.close();
  }
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const intOf = (s: string | undefined) => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : undefined);
const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const l of lines(text)) {
    const [name = '', , uid, gid, , home = ''] = l.split(':');
    const u = intOf(uid), g = intOf(gid);
    if (u !== undefined && g !== undefined) out.push({ name, uid: u, gid: g, home });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const l of lines(text)) {
    const [name = '', , gid, list = ''] = l.split(':');
    const g = intOf(gid);
    if (g !== undefined) out.push({ name, gid: g, members: list.split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

const inRange = (id: number) => {
  if (id < 0 || id > MAX_ID) throw invalid(RANGE);
  return id;
};

export async function resolveUser(rootfs: string, user: string | undefined, groupAdd?: string[] | null): Promise<ResolvedUser> {
  const [userArg = '', groupArg = ''] = (user ?? '').split(':');
  const passwdText = await readInRoot(rootfs, '/etc/passwd');
  const groupText = await readInRoot(rootfs, '/etc/group');
  const passwd = passwdText === undefined ? [] : parsePasswd(passwdText);
  const groups = groupText === undefined ? [] : parseGroup(groupText);
  const uidArg = intOf(userArg), gidArg = intOf(groupArg);

  const r: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  const match = passwd.find((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  if (match) {
    Object.assign(r, { uid: match.uid, gid: match.gid, home: match.home || '/', name: match.name });
  } else if (userArg !== '') {
    if (uidArg === undefined) throw invalid(`unable to find user ${userArg}: no matching entries in passwd file`);
    r.uid = inRange(uidArg);
  }

  if (groupArg !== '') {
    const g = groups.find((x) => (gidArg !== undefined ? x.gid === gidArg : x.name === groupArg));
    if (g) r.gid = g.gid;
    else if (gidArg === undefined) throw invalid(`unable to find group ${groupArg}: no matching entries in group file`);
    else r.gid = inRange(gidArg);
  } else if (r.name !== undefined) {
    // implicit form: the groups listing the user as a member
    r.additionalGids = groups.filter((g) => g.members.includes(r.name!)).map((g) => g.gid);
  }

  for (const a of groupAdd ?? []) {
    const g = groups.find((x) => x.name === a || String(x.gid) === a);
    let gid = g?.gid;
    if (gid === undefined) {
      gid = intOf(a);
      if (gid === undefined) throw invalid(`Unable to find group ${a}: no matching entries in group file`);
      inRange(gid);
    }
    r.additionalGids.push(gid);
  }
  r.additionalGids = [...new Set(r.additionalGids)];
  return r;
}
