// pier image busybox: an offline base image from the host's busybox-static.
//
// Builds a small rootfs tar in memory (busybox, one symlink per applet, the usual
// directories, /etc/passwd and /etc/group) with fixed mtimes and owners, so the
// layer digest depends only on the busybox binary, then imports it with
// POST /images/create?fromSrc=- — which works against dockerd as well.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { pack as tarPack, type Header } from 'tar-stream';
import { jsonMessages } from '../../client/client.js';
import { StreamError } from '../../client/errors.js';
import { familiarName, parseReference as parseNormalizedNamed } from '../../image/reference.js';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';

const MTIME = new Date('2000-01-01T00:00:00Z');
export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const DIRS: [string, number][] = [
  ['bin', 0o755], ['dev', 0o755], ['etc', 0o755], ['home', 0o755], ['proc', 0o555], ['root', 0o700],
  ['sbin', 0o755], ['sys', 0o555], ['tmp', 0o1777], ['usr', 0o755], ['usr/bin', 0o755], ['usr/sbin', 0o755],
  ['var', 0o755],
];

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
export const GROUP = 'root:x:0:\nnobody:x:65534:\n';

interface RootfsEntry {
  name: string;
  type: 'directory' | 'file' | 'symlink';
  mode: number;
  data?: Buffer;
  linkname?: string;
}

/** The rootfs entries, sorted, for a busybox binary and its `--list-full` applet paths. */
export function rootfsEntries(busybox: Buffer, applets: string[]): RootfsEntry[] {
  const dirs = new Map<string, number>(DIRS);
  const links = new Set<string>();
  for (const raw of applets) {
    const p = raw.trim().replace(/^\/+/, '');
    if (!p || p === 'bin/busybox' || p.includes('..')) continue;
    links.add(p);
    // Parent directories of applets that live elsewhere (e.g. usr/local/bin).
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) dirs.set(d, 0o755);
    }
  }
  const entries: RootfsEntry[] = [];
  for (const [name, mode] of dirs) entries.push({ name: `${name}/`, type: 'directory', mode });
  entries.push({ name: 'bin/busybox', type: 'file', mode: 0o755, data: busybox });
  entries.push({ name: 'etc/passwd', type: 'file', mode: 0o644, data: Buffer.from(PASSWD) });
  entries.push({ name: 'etc/group', type: 'file', mode: 0o644, data: Buffer.from(GROUP) });
  for (const l of links) entries.push({ name: l, type: 'symlink', mode: 0o777, linkname: '/bin/busybox' });
  // Directories sort before their contents since "x/" < "x/y".
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries;
}

/** A deterministic tar of the entries (fixed mtime, root-owned). */
export async function buildTar(entries: RootfsEntry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header: Partial<Header> & { name: string } = {
      name: e.name, type: e.type, mode: e.mode, mtime: MTIME, uid: 0, gid: 0, uname: 'root', gname: 'root',
    };
    if (e.linkname) header.linkname = e.linkname;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === 'file') pack.entry(header, e.data!, cb);
      else pack.entry(header, cb); // void entries finish by themselves
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** True when the ELF file has a PT_INTERP segment (needs a dynamic loader). */
export function isDynamicELF(b: Buffer): boolean {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const phoff = is64 ? Number(le ? b.readBigUInt64LE(0x20) : b.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > b.length) break;
    if (u32(off) === 3 /* PT_INTERP */) return true;
  }
  return false;
}

async function runBusybox(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const path = f.values['busybox'] as string;
  const tag = f.values['tag'] as string;
  let ref;
  try {
    ref = parseNormalizedNamed(tag);
  } catch (e) {
    throw new StatusError(1, `invalid tag ${JSON.stringify(tag)}: ${(e as Error).message}`);
  }
  if (ref.digest) throw new StatusError(1, `invalid tag ${JSON.stringify(tag)}: a digest is not allowed`);

  let bin: Buffer;
  try {
    bin = await readFile(path);
  } catch (e) {
    const hint = (e as NodeJS.ErrnoException).code === 'ENOENT' ? ' (install the busybox-static package)' : '';
    throw new StatusError(1, `cannot read ${path}: ${(e as Error).message}${hint}`);
  }
  if (isDynamicELF(bin)) {
    throw new StatusError(1, `${path} is dynamically linked; a base image needs busybox-static`);
  }
  let list: string;
  try {
    ({ stdout: list } = await promisify(execFile)(path, ['--list-full'], { maxBuffer: 1 << 20 }));
  } catch (e) {
    throw new StatusError(1, `${path} --list-full: ${(e as Error).message}`);
  }
  const layer = await buildTar(rootfsEntries(bin, list.split('\n')));
  if (ctx.debug) ctx.err(`rootfs tar: ${layer.length} bytes\n`);

  const res = await ctx.client().imageImport({ stream: layer, name: '-' }, {
    repo: familiarName(ref),
    tag: ref.tag ?? 'latest',
    changes: ['CMD ["sh"]', `ENV PATH=${BASE_PATH}`],
  });
  let id = '';
  for await (const m of jsonMessages(res.body)) {
    if (m.errorDetail || m.error) throw new StreamError(m.errorDetail?.message ?? m.error ?? '');
    if (m.status) id = m.status;
  }
  if (!id) throw new StatusError(1, 'the daemon did not report an image ID');
  ctx.out(id + '\n');
  return 0;
}

export const commands: Record<string, CommandDef> = {
  busybox: {
    use: 'busybox [OPTIONS]',
    flags: [
      { name: 'tag', short: 't', type: 'string', usage: 'Name and tag of the image', default: 'busybox:latest' },
      { name: 'busybox', type: 'string', usage: 'Statically linked busybox binary to use', default: '/bin/busybox' },
    ],
    run: runBusybox,
  },
};
