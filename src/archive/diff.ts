/**
 * Producing an OCI image layer (an uncompressed tar changeset) from a
 * snapshot, and listing the same changes for `docker diff`.
 *
 *   const tar = writeDiff({ lower: [parentFs], upper: upperDir, mode: 'overlay' });
 *   const blob = await store.ingest(compressGzip(tar));
 *
 * Two ways to find what changed:
 * - 'overlay': upper is an overlayfs upperdir, so it holds only what changed.
 *   A 0/0 character device is a deletion (→ `.wh.<name>`), a directory with
 *   trusted.overlay.opaque=y replaced the lower one (→ the directory, then
 *   `.wh..wh..opq`). lower (layer dirs in overlayfs format, nearest first)
 *   is only read by changes(), to tell added from modified.
 * - 'compare': upper is a full tree (vfs, btrfs) and lower[0] the full
 *   parent tree (none: everything is added). Like Docker's ChangesDirs, a
 *   non-directory whose size and mtime (to the nanosecond) are unchanged
 *   counts as unchanged, whatever its bytes; type, mode, owner, device,
 *   symlink target and xattrs are compared too. Directories are compared
 *   without size and mtime, and an unchanged directory is still emitted
 *   (as modified) before anything that changed inside it, so that its
 *   metadata survives in the layer.
 *
 * The tar is deterministic for a given tree: entries depth-first, names
 * sorted, whiteouts of a directory before its other entries (the spec's
 * SHOULD), mtimes in whole seconds (as Docker), no user/group names, PAX
 * records only where ustar cannot say it (long or non-ASCII names, big ids or
 * sizes, xattrs). A file linked more than once within the layer is emitted
 * once, then as hardlink entries. Sockets are skipped, as Docker does.
 */
import * as fs from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { internal, notImplemented } from '../base/errdefs.js';
import { sys } from '../base/sys.js';
import { OPAQUE_WHITEOUT, OVERLAY_XATTR_PREFIX, WHITEOUT_PREFIX } from './apply.js';

export type DiffMode = 'overlay' | 'compare';

export interface DiffOpts {
  /** Lower directories, nearest first; may be empty. */
  lower: string[];
  upper: string;
  mode: DiffMode;
  /** Paths (relative, "etc/hosts") left out: a container's mount points, which are not its changes. */
  skip?: ReadonlySet<string>;
}

/** Docker's change kinds, as `GET /containers/{id}/changes` numbers them. */
export const ChangeKind = { Modified: 0, Added: 1, Deleted: 2 } as const;
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Change {
  /** Absolute path inside the container, e.g. "/etc/passwd". */
  path: string;
  kind: ChangeKind;
}

/** One change found by a walk. Deletions carry no file, except overlay's whiteout device. */
interface Item {
  rel: string;
  kind: ChangeKind;
  abs?: string;
  st?: fs.BigIntStats;
  /** Xattr names on abs. */
  xattrs?: string[];
  /** Overlay: the directory hides everything lower layers have below it. */
  opaque?: boolean;
}

/** An uncompressed OCI layer tar of the changes from lower to upper. Destroying it stops the walk. */
export function writeDiff(o: DiffOpts): Readable {
  return Readable.from(tarOf(walk(o, false)), { objectMode: false, highWaterMark: 1 << 20 });
}

/** The same walk as writeDiff, as `docker diff` lists it: parents before children. */
export async function changes(o: DiffOpts): Promise<Change[]> {
  const out: Change[] = [];
  for (const it of walk(o, true)) {
    out.push({ path: `/${it.rel}`, kind: it.kind });
    // A big tree must not hold the event loop for its whole walk.
    if (out.length % 1024 === 0) await new Promise((r) => setImmediate(r));
  }
  return out;
}

function* walk(o: DiffOpts, classify: boolean): Generator<Item> {
  const all = o.mode === 'overlay' ? overlayWalk(o, classify) : compareWalk(o);
  if (!o.skip?.size) return yield* all;
  for (const it of all) if (!o.skip.has(it.rel)) yield it;
}

const join = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);
const lstat = (p: string): fs.BigIntStats => fs.lstatSync(p, { bigint: true });
const isWhiteoutDevice = (st: fs.BigIntStats | fs.Stats): boolean => st.isCharacterDevice() && BigInt(st.rdev) === 0n;
const isOpaque = (path: string): boolean => sys().lgetxattr(path, 'trusted.overlay.opaque')?.toString() === 'y';

function list(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

// ---------------------------------------------------------------- overlay

function* overlayWalk(o: DiffOpts, classify: boolean): Generator<Item> {
  const lowers = classify ? new OverlayLowers(o.lower) : null;

  /** hiddenAbove: an opaque directory above rel already hides the lower layers. */
  function* dir(rel: string, hiddenAbove: boolean, opaque: boolean): Generator<Item> {
    const hidden = hiddenAbove || opaque;
    const names = list(join(o.upper, rel));
    const kids = names.map((name) => {
      const r = join(rel, name);
      const abs = `${o.upper}/${r}`;
      return { rel: r, abs, st: lstat(abs) };
    });
    for (const k of kids) if (isWhiteoutDevice(k.st)) yield { ...k, kind: ChangeKind.Deleted };
    // What an opaque directory hid is gone too (only changes() asks).
    if (lowers && opaque && !hiddenAbove) {
      const here = new Set(names);
      for (const name of lowers.readdir(rel)) if (!here.has(name)) yield { rel: join(rel, name), kind: ChangeKind.Deleted };
    }
    for (const k of kids) {
      if (isWhiteoutDevice(k.st)) continue;
      const xattrs = sys().llistxattr(k.abs);
      for (const x of ['trusted.overlay.redirect', 'trusted.overlay.metacopy']) {
        if (xattrs.includes(x)) {
          throw notImplemented(`cannot diff overlay upper "${o.upper}": "${k.rel}" has ${x}; mount overlay with redirect_dir=off,metacopy=off`);
        }
      }
      const isDir = k.st.isDirectory();
      const op = isDir && xattrs.includes('trusted.overlay.opaque') && isOpaque(k.abs);
      let kind: ChangeKind = ChangeKind.Modified;
      if (lowers) kind = !hidden && lowers.exists(k.rel) ? ChangeKind.Modified : ChangeKind.Added;
      yield { ...k, kind, xattrs, opaque: op };
      if (isDir) yield* dir(k.rel, hidden, op);
    }
  }
  yield* dir('', false, false);
}

/** The merged view of overlayfs lower layer dirs (nearest first), as far as changes() needs it. */
class OverlayLowers {
  constructor(private readonly layers: readonly string[]) {}

  /** What layer has at rel, and whether it hides rel in the layers below. */
  private probe(layer: string, rel: string): { st?: fs.BigIntStats; hides: boolean } {
    const parts = rel.split('/');
    let hides = false;
    for (let i = 1; i < parts.length; i++) {
      const p = `${layer}/${parts.slice(0, i).join('/')}`;
      const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
      if (!st) return { hides };
      if (!st.isDirectory()) return { hides: true };
      if (isOpaque(p)) hides = true;
    }
    const p = `${layer}/${rel}`;
    const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (st && (!st.isDirectory() || isOpaque(p))) hides = true;
    return { st, hides };
  }

  exists(rel: string): boolean {
    for (const layer of this.layers) {
      const { st, hides } = this.probe(layer, rel);
      if (st) return !isWhiteoutDevice(st);
      if (hides) return false;
    }
    return false;
  }

  readdir(rel: string): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const layer of this.layers) {
      const { st, hides } = this.probe(layer, rel);
      if (st?.isDirectory()) {
        const dir = join(layer, rel);
        for (const name of fs.readdirSync(dir)) {
          if (seen.has(name)) continue;
          seen.add(name);
          if (!isWhiteoutDevice(lstat(`${dir}/${name}`))) out.push(name);
        }
      }
      if (hides) break;
    }
    return out.sort();
  }
}

// ---------------------------------------------------------------- compare

function* compareWalk(o: DiffOpts): Generator<Item> {
  const lowerRoot = o.lower[0];
  // Unchanged directories on the way down, emitted only if something below changed.
  const pending: { item: Item; emitted: boolean }[] = [];

  function* emit(it: Item): Generator<Item> {
    for (const p of pending) {
      if (p.emitted) continue;
      p.emitted = true;
      yield p.item;
    }
    yield it;
  }

  function* dir(rel: string, lower: string | undefined): Generator<Item> {
    const names = list(join(o.upper, rel));
    const lowerNames = lower === undefined ? [] : list(lower);
    const here = new Set(names);
    for (const name of lowerNames) if (!here.has(name)) yield* emit({ rel: join(rel, name), kind: ChangeKind.Deleted });
    const before = new Set(lowerNames);
    for (const name of names) {
      const r = join(rel, name);
      const abs = `${o.upper}/${r}`;
      const st = lstat(abs);
      const xattrs = sys().llistxattr(abs);
      const lowerAbs = lower !== undefined && before.has(name) ? `${lower}/${name}` : undefined;
      const lst = lowerAbs === undefined ? undefined : lstat(lowerAbs);
      const item: Item = { rel: r, abs, st, xattrs, kind: lst ? ChangeKind.Modified : ChangeKind.Added };
      const changed = !lst || differs(abs, st, xattrs, lowerAbs!, lst);
      if (changed) yield* emit(item);
      if (!st.isDirectory()) continue;
      if (!changed) pending.push({ item, emitted: false });
      yield* dir(r, lst?.isDirectory() ? lowerAbs : undefined);
      if (!changed) pending.pop();
    }
  }
  yield* dir('', lowerRoot);
}

function differs(abs: string, st: fs.BigIntStats, xattrs: string[], lowerAbs: string, lst: fs.BigIntStats): boolean {
  if (st.mode !== lst.mode || st.uid !== lst.uid || st.gid !== lst.gid || st.rdev !== lst.rdev) return true;
  // Directory sizes and mtimes say nothing useful (moby#9874).
  if (!st.isDirectory() && (st.size !== lst.size || st.mtimeNs !== lst.mtimeNs)) return true;
  if (st.isSymbolicLink() && fs.readlinkSync(abs) !== fs.readlinkSync(lowerAbs)) return true;
  const mine = xattrs.filter(keptXattr).sort();
  const theirs = sys().llistxattr(lowerAbs).filter(keptXattr).sort();
  if (mine.length !== theirs.length || mine.some((n, i) => n !== theirs[i])) return true;
  return mine.some((n) => !sys().lgetxattr(abs, n)?.equals(sys().lgetxattr(lowerAbs, n) ?? Buffer.alloc(0)));
}

const keptXattr = (name: string): boolean => !name.startsWith(OVERLAY_XATTR_PREFIX);

// ---------------------------------------------------------------- tar

/** Ustar typeflags. */
const T = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6', pax: 'x' } as const;
type TypeFlag = (typeof T)[keyof typeof T];

export interface TarEntry {
  name: string;
  type: TypeFlag;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: [name: string, value: Buffer][];
}

/** Files up to this size are read synchronously into the current batch. */
const SMALL_FILE = 64 * 1024;
/** Small entries are gathered into chunks about this big. */
const BATCH = 64 * 1024;
const READ_CHUNK = 1 << 20;

async function* tarOf(items: Generator<Item>): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  let batch: Buffer[] = [];
  let batched = 0;
  const add = (b: Buffer) => {
    batch.push(b);
    batched += b.length;
  };
  const take = (): Buffer => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };

  for (const it of items) {
    const slash = it.rel.lastIndexOf('/');
    const dir = it.rel.slice(0, slash + 1);
    const base = it.rel.slice(slash + 1);
    const st = it.st;

    if (it.kind === ChangeKind.Deleted) {
      // An overlay whiteout keeps its device's owner and time; a compared deletion has neither.
      add(encodeHeader({
        name: `${dir}${WHITEOUT_PREFIX}${base}`, type: T.file, mode: 0o600, size: 0,
        uid: st ? Number(st.uid) : 0, gid: st ? Number(st.gid) : 0, mtime: st ? seconds(st) : 0,
      }));
    } else if (st && !st.isSocket()) {
      const abs = it.abs!;
      const e: TarEntry = {
        name: it.rel, type: T.file, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid),
        size: 0, mtime: seconds(st), xattrs: xattrsOf(abs, it.xattrs ?? []),
      };
      const linkKey = !st.isDirectory() && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
      const first = linkKey === undefined ? undefined : links.get(linkKey);
      if (first !== undefined) {
        e.type = T.link;
        e.linkname = first;
      } else {
        if (linkKey !== undefined) links.set(linkKey, it.rel);
        if (st.isDirectory()) e.type = T.dir;
        else if (st.isSymbolicLink()) {
          e.type = T.symlink;
          e.linkname = fs.readlinkSync(abs);
        } else if (st.isCharacterDevice() || st.isBlockDevice()) {
          e.type = st.isCharacterDevice() ? T.char : T.block;
          [e.devmajor, e.devminor] = majorMinor(st.rdev);
        } else if (st.isFIFO()) e.type = T.fifo;
        else e.size = Number(st.size);
      }
      add(encodeHeader(e));
      if (e.type === T.file && e.size > 0) {
        if (e.size <= SMALL_FILE) add(readSmall(abs, e.size, it.rel));
        else {
          if (batched) yield take();
          yield* readLarge(abs, e.size, it.rel);
        }
        const pad = padding(e.size);
        if (pad) add(Buffer.alloc(pad));
      }
      if (it.opaque) {
        add(encodeHeader({ ...e, name: `${it.rel}/${OPAQUE_WHITEOUT}`, type: T.file, mode: e.mode & 0o777, xattrs: [] }));
      }
    }
    if (batched >= BATCH) yield take();
  }
  add(Buffer.alloc(1024)); // end of archive: two zero blocks, as Go's archive/tar writes
  yield take();
}

const seconds = (st: fs.BigIntStats): number => Number(st.mtimeNs / 1_000_000_000n);
const padding = (size: number): number => (512 - (size % 512)) % 512;

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
function majorMinor(rdev: bigint): [number, number] {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

function xattrsOf(abs: string, names: string[]): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const name of names.filter(keptXattr).sort()) {
    const v = sys().lgetxattr(abs, name);
    if (v) out.push([name, v]);
  }
  return out;
}

function changedWhileReading(rel: string): Error {
  return internal(`"${rel}" changed size while being archived; stop the container before committing or exporting it`);
}

function readSmall(abs: string, size: number, rel: string): Buffer {
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, null);
      if (n === 0) throw changedWhileReading(rel);
      off += n;
    }
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

async function* readLarge(abs: string, size: number, rel: string): AsyncGenerator<Buffer> {
  const fh = await open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) throw changedWhileReading(rel);
      left -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

// Field limits of ustar's octal numbers.
const MAX_ID = 0o7777777;
const MAX_SIZE = 0o77777777777;

/** A ustar header block, preceded by a PAX extended header when ustar cannot hold the entry. */
export function encodeHeader(e: TarEntry): Buffer {
  const pax: Buffer[] = [];
  const name = Buffer.from(e.type === T.dir ? `${e.name}/` : e.name);
  let split = isAscii(name) ? splitName(name) : undefined;
  if (!split) {
    pax.push(paxRecord('path', name));
    split = [Buffer.alloc(0), name.subarray(0, 100)];
  }
  let linkname = Buffer.from(e.linkname ?? '');
  if (linkname.length > 100 || !isAscii(linkname)) {
    pax.push(paxRecord('linkpath', linkname));
    linkname = linkname.subarray(0, 100);
  }
  const num = (key: string, v: number, max: number): number => {
    if (v >= 0 && v <= max && Number.isInteger(v)) return v;
    pax.push(paxRecord(key, Buffer.from(String(v))));
    return 0;
  };
  const uid = num('uid', e.uid, MAX_ID);
  const gid = num('gid', e.gid, MAX_ID);
  const size = num('size', e.size, MAX_SIZE);
  const mtime = num('mtime', e.mtime, MAX_SIZE);
  for (const [k, v] of e.xattrs ?? []) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));

  const header = ustar({
    name: split[1], prefix: split[0], mode: e.mode, uid, gid, size, mtime, type: e.type, linkname,
    devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
  });
  if (pax.length === 0) return header;
  const body = Buffer.concat(pax);
  const paxHeader = ustar({
    name: Buffer.from('PaxHeader'), prefix: Buffer.alloc(0), mode: 0o644, uid: 0, gid: 0, size: body.length,
    mtime, type: T.pax, linkname: Buffer.alloc(0), devmajor: 0, devminor: 0,
  });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), header]);
}

const isAscii = (b: Buffer): boolean => b.every((c) => c > 0 && c < 0x80);

/** ustar's [prefix, name] for a path: name up to 100 bytes, prefix up to 155, split at a slash. */
function splitName(p: Buffer): [Buffer, Buffer] | undefined {
  if (p.length <= 100) return [Buffer.alloc(0), p];
  for (let i = p.indexOf(0x2f); i >= 0 && i <= 155; i = p.indexOf(0x2f, i + 1)) {
    const rest = p.length - i - 1;
    if (rest > 0 && rest <= 100) return [p.subarray(0, i), p.subarray(i + 1)];
  }
  return undefined;
}

/** One PAX record: "<len> <key>=<value>\n", len counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const k = Buffer.from(key);
  const rest = k.length + value.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} `), k, Buffer.from('='), value, Buffer.from('\n')]);
}

interface UstarFields {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: TypeFlag;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
}

function ustar(f: UstarFields): Buffer {
  const b = Buffer.alloc(512);
  f.name.copy(b, 0, 0, 100);
  octal(b, 100, 8, f.mode);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  b.write(f.type, 156, 'latin1');
  f.linkname.copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 'latin1');
  if (f.type === T.char || f.type === T.block) {
    octal(b, 329, 8, f.devmajor);
    octal(b, 337, 8, f.devminor);
  }
  f.prefix.copy(b, 345, 0, 155);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

function octal(b: Buffer, off: number, width: number, n: number): void {
  b.write(`${n.toString(8).padStart(width - 1, '0')}\0`, off, 'latin1');
}
