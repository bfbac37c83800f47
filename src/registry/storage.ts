/**
 * The registry's file-system storage. Layout under `root`:
 *
 *   blobs/<alg>/<hex>                                  every blob once, shared by all repositories
 *   repos/<name>/_layers/<alg>/<hex>                   link: the repository may serve this blob
 *   repos/<name>/_manifests/revisions/<alg>/<hex>      link: a manifest of the repository ({"mediaType"})
 *   repos/<name>/_manifests/tags/<tag>                 the tag's manifest digest
 *   repos/<name>/_referrers/<alg>/<subject-hex>/<alg>-<hex>   descriptor of a manifest whose subject is that digest
 *   uploads/<uuid>/{data,info.json}                    upload sessions (uploads.ts)
 *   tmp/                                               temp files of atomic writes
 *   gc/token, gc/trash/                                the garbage collector's side (gc.ts)
 *
 * Every write is a temp file renamed into place, so a reader sees all of a file
 * or none of it. Names passed here have passed names.checkName.
 *
 * Writers and the collector coordinate through mtimes, renames and gc/token — see
 * the comment at the top of gc.ts for the protocol and why it is safe.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { hexOf, isDigest, type Digest } from '../base/digest.js';
import { nullLogger, type Logger } from '../base/log.js';
import type { Descriptor } from '../image/oci.js';
import { regErr } from './errors.js';
import { parseManifest, referencesOf, type ParsedManifest } from './manifest.js';
import { isTag, type ManifestRef } from './names.js';

export interface StoredManifest {
  body: Buffer;
  mediaType: string;
  digest: Digest;
}

const algOf = (d: string) => d.slice(0, d.indexOf(':'));
const isENOENT = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function digestOf(body: Buffer, algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}` as Digest;
}

/** Sets a file's mtime to now; ENOENT when it is gone. */
export async function touch(path: string): Promise<void> {
  const now = new Date();
  await fs.utimes(path, now, now);
}

export interface StoreOptions {
  log?: Logger;
  /** For tests: runs inside putManifest after the references were touched and before the manifest is written. */
  afterHold?: () => Promise<void>;
}

export class RegistryStore {
  private constructor(
    readonly root: string,
    private readonly log: Logger,
    private readonly afterHold?: StoreOptions['afterHold'],
  ) {}

  static async open(root: string, o: StoreOptions = {}): Promise<RegistryStore> {
    for (const d of ['blobs', 'repos', 'uploads', 'tmp', 'gc/trash']) await fs.mkdir(join(root, d), { recursive: true });
    const store = new RegistryStore(root, o.log ?? nullLogger, o.afterHold);
    await store.sweepTmp();
    await store.recoverTrash();
    return store;
  }

  // --- paths ---------------------------------------------------------------

  blobPath(d: Digest): string {
    if (!isDigest(d)) throw regErr('DIGEST_INVALID', `invalid digest ${d}`);
    return join(this.root, 'blobs', algOf(d), hexOf(d));
  }
  repoDir(repo: string): string {
    return join(this.root, 'repos', repo);
  }
  layerLink(repo: string, d: Digest): string {
    return join(this.repoDir(repo), '_layers', algOf(d), hexOf(d));
  }
  revisionLink(repo: string, d: Digest): string {
    return join(this.repoDir(repo), '_manifests', 'revisions', algOf(d), hexOf(d));
  }
  tagPath(repo: string, tag: string): string {
    return join(this.repoDir(repo), '_manifests', 'tags', tag);
  }
  referrerDir(repo: string, subject: Digest): string {
    return join(this.repoDir(repo), '_referrers', algOf(subject), hexOf(subject));
  }
  referrerEntry(repo: string, subject: Digest, d: Digest): string {
    return join(this.referrerDir(repo, subject), `${algOf(d)}-${hexOf(d)}`);
  }
  tmpPath(): string {
    return join(this.root, 'tmp', randomBytes(12).toString('hex'));
  }

  // --- primitive writes ----------------------------------------------------

  /** Writes a file by temp + rename, with an explicit fresh mtime (gc.ts relies on it). */
  async writeAtomic(path: string, data: string | Buffer): Promise<void> {
    const tmp = this.tmpPath();
    try {
      await fs.writeFile(tmp, data);
      const now = new Date();
      await fs.utimes(tmp, now, now);
      await this.renameInto(tmp, path);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  private async renameInto(from: string, to: string): Promise<void> {
    try {
      await fs.rename(from, to);
    } catch (e) {
      if (!isENOENT(e)) throw e;
      await fs.mkdir(dirname(to), { recursive: true });
      await fs.rename(from, to);
    }
  }

  /** The collector's generation: changes whenever a collection starts (gc.ts). */
  async gcToken(): Promise<string> {
    try {
      return await fs.readFile(join(this.root, 'gc', 'token'), 'utf8');
    } catch (e) {
      if (isENOENT(e)) return '';
      throw e;
    }
  }

  /**
   * The prefix of the gc/trash names under which the collector holds `path`
   * aside (gc.ts): lets a reader tell "held for a moment" from "gone".
   */
  heldKey(path: string): string {
    return createHash('sha256').update(relative(this.root, path)).digest('hex').slice(0, 24);
  }

  /** Whether a collector holds `path` aside right now. */
  async isHeld(path: string): Promise<boolean> {
    const key = this.heldKey(path);
    return (await readdirOr(join(this.root, 'gc', 'trash'))).some((n) => n.startsWith(key));
  }

  /**
   * Runs `fn` (which uses `path`) again while it fails with ENOENT because a
   * collector holds that very file aside (gc.ts renames a file away, checks its
   * mtime, and puts back what is in use) — for up to about a second, so a file
   * that is put back is never reported gone. Other ENOENTs fail at once.
   */
  async whileHeld<T>(path: string, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!isENOENT(e) || i >= 20 || !(await this.isHeld(path))) throw e;
        await sleep(5 + 5 * i);
      }
    }
  }

  // --- blobs -----------------------------------------------------------------

  /** The blob's size when the repository may serve it and it is stored; undefined otherwise. */
  async blobSize(repo: string, d: Digest): Promise<number | undefined> {
    const opened = await this.openBlob(repo, d);
    if (!opened) return undefined;
    await opened.fh.close();
    return opened.size;
  }

  /** An open handle on the blob (so a later delete cannot pull it away mid-read), or undefined. */
  async openBlob(repo: string, d: Digest): Promise<{ fh: FileHandle; size: number } | undefined> {
    try {
      await this.whileHeld(this.layerLink(repo, d), () => fs.access(this.layerLink(repo, d)));
      const fh = await this.whileHeld(this.blobPath(d), () => fs.open(this.blobPath(d), 'r'));
      return { fh, size: (await fh.stat()).size };
    } catch (e) {
      if (isENOENT(e)) return undefined;
      throw e;
    }
  }

  async linkBlob(repo: string, d: Digest): Promise<void> {
    await this.writeAtomic(this.layerLink(repo, d), d);
  }

  /** Removes the repository's link to a blob (the data stays until gc). False when there was none. */
  async unlinkBlob(repo: string, d: Digest): Promise<boolean> {
    try {
      await fs.unlink(this.layerLink(repo, d));
      return true;
    } catch (e) {
      if (isENOENT(e)) return false;
      throw e;
    }
  }

  /**
   * Cross-repository mount: links a blob of `from` into `to`. False when `from`
   * does not have it (the caller then opens an upload session instead).
   */
  async mountBlob(to: string, from: string, d: Digest): Promise<boolean> {
    if (!(await exists(this.layerLink(from, d)))) return false;
    try {
      await this.whileHeld(this.blobPath(d), () => touch(this.blobPath(d))); // fresh mtime first: a collection now in progress keeps it
    } catch (e) {
      if (isENOENT(e)) return false;
      throw e;
    }
    await this.linkBlob(to, d);
    return true;
  }

  /**
   * Makes a verified ingest file the blob `d` and links it into `repo`. The file
   * gets a fresh mtime before the rename, so an upload finished during a
   * collection is never collected by it.
   */
  async commitBlob(repo: string, file: string, d: Digest): Promise<void> {
    const now = new Date();
    await fs.utimes(file, now, now);
    await this.renameInto(file, this.blobPath(d));
    await this.linkBlob(repo, d);
  }

  // --- manifests -------------------------------------------------------------

  async readTag(repo: string, tag: string): Promise<Digest | undefined> {
    try {
      const s = (await fs.readFile(this.tagPath(repo, tag), 'utf8')).trim();
      return isDigest(s) ? s : undefined;
    } catch (e) {
      if (isENOENT(e)) return undefined;
      throw e;
    }
  }

  async hasManifest(repo: string, d: Digest): Promise<boolean> {
    return exists(this.revisionLink(repo, d));
  }

  async getManifest(repo: string, ref: ManifestRef): Promise<StoredManifest | undefined> {
    const digest = ref.digest ?? (await this.readTag(repo, ref.tag));
    if (!digest) return undefined;
    try {
      const rev = await this.whileHeld(this.revisionLink(repo, digest), () => fs.readFile(this.revisionLink(repo, digest), 'utf8'));
      const mediaType = (JSON.parse(rev) as { mediaType: string }).mediaType;
      return { body: await this.whileHeld(this.blobPath(digest), () => fs.readFile(this.blobPath(digest))), mediaType, digest };
    } catch (e) {
      if (isENOENT(e)) return undefined;
      throw e;
    }
  }

  /**
   * Stores a manifest after checking it and that everything it references is in
   * the repository. Follows the collector protocol of gc.ts (rule 3): touch the
   * references, write, seal; repeat touch and seal until no collection started
   * during a round. If a reference vanished meanwhile, what this call wrote is
   * undone and MANIFEST_BLOB_UNKNOWN is thrown.
   */
  async putManifest(repo: string, ref: ManifestRef, body: Buffer, contentType: string | undefined): Promise<{ digest: Digest; parsed: ParsedManifest }> {
    const parsed = parseManifest(body, contentType);
    const digest = digestOf(body, ref.digest ? algOf(ref.digest) : 'sha256');
    if (ref.digest && ref.digest !== digest)
      throw regErr('DIGEST_INVALID', `manifest digest ${digest} does not match the reference ${ref.digest}`, { detail: { digest: ref.digest } });

    const own = this.ownFiles(repo, digest, body, parsed.mediaType, parsed);
    const prevTag = ref.tag ? await this.readTag(repo, ref.tag) : undefined;
    const hadRevision = await this.hasManifest(repo, digest);
    const deadline = Date.now() + 60_000;
    for (let round = 0; ; round++) {
      const token = await this.gcToken();
      try {
        await this.holdReferences(repo, parsed);
      } catch (e) {
        if (round > 0) await this.undoPut(repo, digest, parsed, ref.tag, prevTag, hadRevision);
        throw e;
      }
      if (round === 0) {
        await this.afterHold?.();
        for (const [path, data] of own) await this.writeAtomic(path, data);
        if (ref.tag) await this.writeAtomic(this.tagPath(repo, ref.tag), digest);
      }
      // Seal: the manifest's own files get a mtime later than the tag's (or are
      // written again if a collection took them while the tag was not yet there).
      for (const [path, data] of own) {
        try {
          await this.whileHeld(path, () => touch(path));
        } catch (e) {
          if (!isENOENT(e)) throw e;
          await this.writeAtomic(path, data);
        }
      }
      if ((await this.gcToken()) === token) return { digest, parsed };
      this.log.debug({ repo, digest, round }, 'manifest put overlapped a garbage collection: touching its references again');
      if (Date.now() > deadline) {
        await this.undoPut(repo, digest, parsed, ref.tag, prevTag, hadRevision);
        throw regErr('UNAVAILABLE', 'garbage collections keep starting while this manifest is stored; retry');
      }
    }
  }

  /** The files a manifest PUT writes besides the tag: blob, revision link, referrers entry. */
  private ownFiles(repo: string, digest: Digest, body: Buffer, mediaType: string, parsed: ParsedManifest | undefined): Array<[string, string | Buffer]> {
    const files: Array<[string, string | Buffer]> = [
      [this.blobPath(digest), body],
      [this.revisionLink(repo, digest), JSON.stringify({ mediaType })],
    ];
    if (parsed?.subject) {
      const desc: Descriptor = { mediaType, digest, size: body.length };
      if (parsed.artifactType) desc.artifactType = parsed.artifactType;
      if (parsed.annotations && Object.keys(parsed.annotations).length) desc.annotations = parsed.annotations;
      files.push([this.referrerEntry(repo, parsed.subject.digest, digest), JSON.stringify(desc)]);
    }
    return files;
  }

  private async undoPut(repo: string, digest: Digest, parsed: ParsedManifest, tag: string | undefined, prevTag: Digest | undefined, hadRevision: boolean): Promise<void> {
    if (tag && (await this.readTag(repo, tag)) === digest) {
      if (prevTag) await this.writeAtomic(this.tagPath(repo, tag), prevTag);
      else await fs.rm(this.tagPath(repo, tag), { force: true });
    }
    if (!hadRevision) {
      await fs.rm(this.revisionLink(repo, digest), { force: true });
      if (parsed.subject) await fs.rm(this.referrerEntry(repo, parsed.subject.digest, digest), { force: true });
    }
  }

  /** Stores a manifest fetched by the pull-through cache: its blobs are fetched lazily, so they are not required. */
  async putProxiedManifest(repo: string, m: StoredManifest, tag?: string): Promise<void> {
    let parsed: ParsedManifest | undefined;
    try {
      parsed = parseManifest(m.body, m.mediaType);
    } catch {
      parsed = undefined;
    }
    await this.writeManifest(repo, m.digest, m.body, m.mediaType, parsed, tag);
  }

  /**
   * Touches every blob and child manifest `m` references (fresh mtime: the
   * collector keeps them), checking they are this repository's and of the size
   * the manifest says.
   */
  private async holdReferences(repo: string, m: ParsedManifest): Promise<void> {
    const check = async (d: Descriptor, link: string, what: 'blob' | 'manifest') => {
      let size: number;
      try {
        const blob = this.blobPath(d.digest);
        await this.whileHeld(blob, () => touch(blob));
        await this.whileHeld(link, () => touch(link));
        size = (await this.whileHeld(blob, () => fs.stat(blob))).size;
      } catch (e) {
        if (!isENOENT(e)) throw e;
        throw regErr('MANIFEST_BLOB_UNKNOWN', `${what} unknown to registry: ${d.digest}`, { detail: { digest: d.digest } });
      }
      if (size !== d.size)
        throw regErr('MANIFEST_INVALID', `descriptor of ${d.digest} says ${d.size} bytes, the stored ${what} has ${size}`, { detail: { digest: d.digest } });
    };
    const jobs = [
      ...m.blobs.map((d) => () => check(d, this.layerLink(repo, d.digest), 'blob')),
      ...m.manifests.map((d) => () => check(d, this.revisionLink(repo, d.digest), 'manifest')),
    ];
    await inBatches(jobs, 32);
  }

  private async writeManifest(repo: string, digest: Digest, body: Buffer, mediaType: string, parsed: ParsedManifest | undefined, tag?: string): Promise<void> {
    for (const [path, data] of this.ownFiles(repo, digest, body, mediaType, parsed)) await this.writeAtomic(path, data);
    if (tag) await this.writeAtomic(this.tagPath(repo, tag), digest);
  }

  /** Deletes a manifest revision, the tags that point at it, and its referrers entry. False when absent. */
  async deleteManifest(repo: string, d: Digest): Promise<boolean> {
    const link = this.revisionLink(repo, d);
    if (!(await exists(link))) return false;
    try {
      const { subject } = referencesOf(await fs.readFile(this.blobPath(d)));
      if (subject) await fs.rm(this.referrerEntry(repo, subject, d), { force: true });
    } catch (e) {
      if (!isENOENT(e)) throw e;
    }
    for (const tag of (await this.tags(repo)) ?? []) if ((await this.readTag(repo, tag)) === d) await fs.rm(this.tagPath(repo, tag), { force: true });
    await fs.rm(link, { force: true });
    return true;
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    try {
      await fs.unlink(this.tagPath(repo, tag));
      return true;
    } catch (e) {
      if (isENOENT(e)) return false;
      throw e;
    }
  }

  // --- listings --------------------------------------------------------------

  async repoExists(repo: string): Promise<boolean> {
    return (await exists(join(this.repoDir(repo), '_manifests'))) || (await exists(join(this.repoDir(repo), '_layers')));
  }

  /** Sorted tags, or undefined when the repository is unknown. */
  async tags(repo: string): Promise<string[] | undefined> {
    if (!(await this.repoExists(repo))) return undefined;
    const names = await readdirOr(join(this.repoDir(repo), '_manifests', 'tags'));
    return names.filter(isTag).sort();
  }

  /** Every repository name, sorted. */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const base = join(this.root, 'repos');
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdirOr(dir);
      if (dir !== base && (entries.includes('_manifests') || entries.includes('_layers'))) out.push(relative(base, dir));
      for (const e of entries) if (!e.startsWith('_') && !e.startsWith('.')) await walk(join(dir, e));
    };
    await walk(base);
    return out.sort();
  }

  /** Manifest digests stored in a repository. */
  async revisions(repo: string): Promise<Digest[]> {
    const out: Digest[] = [];
    const base = join(this.repoDir(repo), '_manifests', 'revisions');
    for (const alg of await readdirOr(base)) for (const hex of await readdirOr(join(base, alg))) if (isDigest(`${alg}:${hex}`)) out.push(`${alg}:${hex}`);
    return out;
  }

  /** Blob digests a repository links. */
  async layerLinks(repo: string): Promise<Digest[]> {
    const out: Digest[] = [];
    const base = join(this.repoDir(repo), '_layers');
    for (const alg of await readdirOr(base)) for (const hex of await readdirOr(join(base, alg))) if (isDigest(`${alg}:${hex}`)) out.push(`${alg}:${hex}`);
    return out;
  }

  /** Every stored blob digest. */
  async allBlobs(): Promise<Digest[]> {
    const out: Digest[] = [];
    const base = join(this.root, 'blobs');
    for (const alg of await readdirOr(base)) for (const hex of await readdirOr(join(base, alg))) if (isDigest(`${alg}:${hex}`)) out.push(`${alg}:${hex}`);
    return out;
  }

  /** Descriptors of the repository's manifests whose subject is `subject`, sorted by digest. */
  async referrers(repo: string, subject: Digest): Promise<Descriptor[]> {
    const dir = this.referrerDir(repo, subject);
    const out: Descriptor[] = [];
    for (const name of await readdirOr(dir)) {
      let desc: Descriptor;
      try {
        desc = JSON.parse(await fs.readFile(join(dir, name), 'utf8')) as Descriptor;
      } catch {
        continue;
      }
      // An entry whose manifest was deleted (by a delete racing this read, or gc) is not listed.
      if (isDigest(desc.digest) && (await this.hasManifest(repo, desc.digest))) out.push(desc);
    }
    return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  // --- housekeeping ----------------------------------------------------------

  /** Temp files of writes that cannot still be running (older than an hour). */
  private async sweepTmp(): Promise<void> {
    const dir = join(this.root, 'tmp');
    const cutoff = Date.now() - 3600_000;
    for (const n of await readdirOr(dir)) {
      try {
        if ((await fs.stat(join(dir, n))).mtimeMs < cutoff) await fs.rm(join(dir, n), { force: true, recursive: true });
      } catch {
        /* raced with another sweeper */
      }
    }
  }

  /**
   * Files a collector set aside and then died before deciding about: put back
   * (keeping too much is always safe; the next collection decides again).
   */
  async recoverTrash(): Promise<number> {
    const dir = join(this.root, 'gc', 'trash');
    let n = 0;
    for (const name of await readdirOr(dir)) {
      if (!name.endsWith('.json')) continue;
      const side = join(dir, name);
      let rec: { path: string; pid: number };
      try {
        rec = JSON.parse(await fs.readFile(side, 'utf8')) as { path: string; pid: number };
      } catch {
        continue;
      }
      if (processAlive(rec.pid)) continue;
      const held = side.slice(0, -'.json'.length);
      try {
        await fs.mkdir(dirname(join(this.root, rec.path)), { recursive: true });
        await fs.rename(held, join(this.root, rec.path));
        n++;
        this.log.info({ path: rec.path }, 'restored a file an interrupted garbage collection had set aside');
      } catch (e) {
        if (!isENOENT(e)) throw e;
      }
      await fs.rm(side, { force: true });
    }
    return n;
  }
}

export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export async function readdirOr(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    if (isENOENT(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
}

async function inBatches(jobs: Array<() => Promise<void>>, n: number): Promise<void> {
  for (let i = 0; i < jobs.length; i += n) await Promise.all(jobs.slice(i, i + n).map((j) => j()));
}
