/**
 * Garbage collection: mark what tags (and, unless deleteUntagged, every stored
 * manifest) reach, then sweep blobs nothing reaches. It runs while the registry
 * serves pushes, in the server's process or in another one, without locks.
 *
 * Mark. Roots are every tag's manifest, plus every manifest revision unless
 * `deleteUntagged`. From a kept manifest: its own blob, config, layers, child
 * manifests (index), and the manifests whose subject it is (referrers), recursively.
 *
 * Sweep. First untagged, unreached manifest revisions (deleteUntagged only), then
 * blobs, then the repository links of the blobs deleted.
 *
 * Why pushes are safe. The protocol has four parts:
 *
 *  1. Fresh is kept. The collection notes `start` before anything else; its
 *     cutoff is `start - grace`. A file whose mtime is at or after the cutoff is
 *     never deleted. Every write gives its file an explicit fresh mtime (temp +
 *     utimes + rename), an upload's commit too, and a mount or a manifest PUT
 *     touches (utimes) every blob, link and child manifest it relies on.
 *
 *  2. Deciding is atomic. A candidate is renamed into gc/trash first (after a
 *     sidecar naming its home), and only then is its mtime read. A touch before
 *     the rename shows in that mtime and the file is put back; a touch after it
 *     fails with ENOENT, so the writer learns the file is gone instead of
 *     trusting it. There is no moment where a writer's check succeeds and the
 *     file is deleted after. (Readers and writers retry ENOENT for up to a second
 *     while gc/trash holds that very file, so a file that is put back is never
 *     reported gone.)
 *
 *  3. Writers notice overlapping collections. A collection writes a new gc/token
 *     right after noting `start`, before it reads a single tag. A manifest PUT
 *     works in rounds: read the token; touch every reference (blob and its
 *     repository link; for an index, each child's revision link and blob); in
 *     the first round write the manifest's blob, revision, referrers entry and
 *     tag; then seal: touch the blob, revision and referrers entry again (or
 *     write them again if gone), so they are younger than the tag; read the
 *     token. The PUT ends after a round in which the token did not change.
 *     Then every collection G either wrote its token before that round began —
 *     so the round's touches and seal came after G's start and are fresh to it
 *     (kept), or a touch failed with ENOENT because G took that file (the PUT
 *     undoes its tag and revision and answers MANIFEST_BLOB_UNKNOWN: a clean
 *     failure, never a manifest with a missing blob) — or G wrote its token
 *     after the round ended, when manifest, tag and references were all on
 *     disk, so G's mark reaches them through the tag. The seal matters because
 *     the write is several files: a collection that starts between the revision
 *     and the tag sees an untagged revision, which must then look fresh to it.
 *     An index's grandchildren (its children's layers) are kept because a
 *     collection keeps a fresh or reachable revision with all it reaches, and
 *     decides every revision before any blob.
 *
 *  4. Crashes. A collector that dies leaves sidecars in gc/trash; the next
 *     registry or collector start puts those files back.
 *
 * The cost: a blob uploaded and left unreferenced for longer than `grace` can be
 * collected before its manifest arrives; that push then fails with
 * MANIFEST_BLOB_UNKNOWN and must be retried. The default grace (1 h) is far
 * longer than any sane push. Clocks: one host, one wall clock; a clock stepped
 * backwards by more than the grace during a collection voids rule 1.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import type { Digest } from '../base/digest.js';
import { nullLogger, type Logger } from '../base/log.js';
import { referencesOf } from './manifest.js';
import { RegistryStore } from './storage.js';

export interface GcOptions {
  dryRun?: boolean;
  deleteUntagged?: boolean;
  /** Files younger than this are never collected (default 1 h). */
  graceMs?: number;
  log?: Logger;
}

export interface GcReport {
  dryRun: boolean;
  startedAt: string;
  repositories: number;
  manifestsKept: number;
  /** Deleted (or, on a dry run, would be). */
  manifestsDeleted: Array<{ repo: string; digest: Digest }>;
  blobsKept: number;
  blobsDeleted: Digest[];
  bytesFreed: number;
  linksDeleted: number;
}

export const DEFAULT_GRACE_MS = 3600_000;
/** utimes and stat round through floating seconds; a couple of ms keeps "now" at or after the cutoff. */
const ROUNDING_MS = 2;

type Hold = { state: 'gone' } | { state: 'fresh' } | { state: 'deleted'; size: number };

export async function collectGarbage(storeOrRoot: RegistryStore | string, o: GcOptions = {}): Promise<GcReport> {
  const log = o.log ?? nullLogger;
  const store = typeof storeOrRoot === 'string' ? await RegistryStore.open(storeOrRoot, { log }) : storeOrRoot;
  const start = Date.now();
  const cutoff = start - (o.graceMs ?? DEFAULT_GRACE_MS) - ROUNDING_MS;
  const dryRun = !!o.dryRun;
  // Rule 3: the token changes before the first tag is read.
  if (!dryRun) await store.writeAtomic(join(store.root, 'gc', 'token'), `${start}-${process.pid}-${randomBytes(6).toString('hex')}`);

  const report: GcReport = {
    dryRun, startedAt: new Date(start).toISOString(), repositories: 0, manifestsKept: 0,
    manifestsDeleted: [], blobsKept: 0, blobsDeleted: [], bytesFreed: 0, linksDeleted: 0,
  };

  // --- mark ---------------------------------------------------------------------
  const marked = new Set<Digest>();
  const refsCache = new Map<Digest, ReturnType<typeof referencesOf>>();
  const refs = async (d: Digest) => {
    let r = refsCache.get(d);
    if (!r) {
      try {
        r = referencesOf(await fs.readFile(store.blobPath(d)));
      } catch {
        r = { blobs: [], manifests: [] }; // a manifest without its blob (pull-through, damage) reaches nothing
      }
      refsCache.set(d, r);
    }
    return r;
  };
  const kept = new Map<string, Set<Digest>>();
  const keep = async (repo: string, d: Digest): Promise<void> => {
    const set = kept.get(repo)!;
    if (set.has(d)) return;
    set.add(d);
    marked.add(d);
    const r = await refs(d);
    for (const b of r.blobs) marked.add(b);
    for (const c of r.manifests) await keep(repo, c);
    for (const ref of await store.referrers(repo, d)) await keep(repo, ref.digest);
  };

  const repos = await store.repositories();
  report.repositories = repos.length;
  const revisions = new Map<string, Digest[]>();
  for (const repo of repos) {
    kept.set(repo, new Set());
    const revs = await store.revisions(repo);
    revisions.set(repo, revs);
    for (const tag of (await store.tags(repo)) ?? []) {
      const d = await store.readTag(repo, tag);
      // Kept even if its revision is missing right now (a PUT may be rewriting it): keeping too much is safe.
      if (d) await keep(repo, d);
    }
    if (!o.deleteUntagged) for (const d of revs) await keep(repo, d);
  }

  const hold = async (path: string): Promise<Hold> => {
    // Named by the path's key, so readers can see this very file is only held (storage.isHeld).
    const held = join(store.root, 'gc', 'trash', `${store.heldKey(path)}-${randomBytes(8).toString('hex')}`);
    await store.writeAtomic(`${held}.json`, JSON.stringify({ path: relative(store.root, path), pid: process.pid }));
    try {
      try {
        await fs.rename(path, held);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'gone' };
        throw e;
      }
      const st = await fs.stat(held);
      if (st.mtimeMs >= cutoff) {
        // Touched before we took it: in use. Put back (over any copy written
        // meanwhile — same name, same content).
        await fs.mkdir(dirname(path), { recursive: true });
        await fs.rename(held, path);
        return { state: 'fresh' };
      }
      await fs.unlink(held);
      return { state: 'deleted', size: st.size };
    } finally {
      await fs.rm(`${held}.json`, { force: true });
    }
  };
  const mtime = async (p: string) => {
    try {
      return (await fs.stat(p)).mtimeMs;
    } catch {
      return undefined;
    }
  };

  // --- sweep manifests (deleteUntagged) -----------------------------------------
  if (o.deleteUntagged) {
    for (const repo of repos) {
      for (const d of revisions.get(repo)!) {
        if (kept.get(repo)!.has(d)) continue;
        const link = store.revisionLink(repo, d);
        const t = await mtime(link);
        if (t === undefined) continue;
        // Pushed during this collection (or within the grace): kept, with all it reaches.
        if (t >= cutoff) {
          await keep(repo, d);
          continue;
        }
        if (dryRun) {
          report.manifestsDeleted.push({ repo, digest: d });
          continue;
        }
        const h = await hold(link);
        if (h.state === 'fresh') await keep(repo, d);
        else if (h.state === 'deleted') {
          report.manifestsDeleted.push({ repo, digest: d });
          const { subject } = await refs(d);
          if (subject) await fs.rm(store.referrerEntry(repo, subject, d), { force: true });
          log.debug({ repo, digest: d }, 'gc: deleted untagged manifest');
        }
      }
    }
  }
  for (const s of kept.values()) report.manifestsKept += s.size;

  // --- sweep blobs ---------------------------------------------------------------
  const deleted = new Set<Digest>();
  for (const d of await store.allBlobs()) {
    if (marked.has(d)) {
      report.blobsKept++;
      continue;
    }
    const path = store.blobPath(d);
    let st;
    try {
      st = await fs.stat(path);
    } catch {
      continue;
    }
    if (st.mtimeMs >= cutoff) {
      report.blobsKept++;
      continue;
    }
    if (dryRun) {
      report.blobsDeleted.push(d);
      report.bytesFreed += st.size;
      continue;
    }
    const h = await hold(path);
    if (h.state === 'fresh') report.blobsKept++;
    else if (h.state === 'deleted') {
      deleted.add(d);
      report.blobsDeleted.push(d);
      report.bytesFreed += h.size;
    }
  }

  // --- links of deleted blobs ------------------------------------------------------
  if (!dryRun && deleted.size) {
    for (const repo of repos) {
      for (const d of await store.layerLinks(repo)) {
        if (!deleted.has(d)) continue;
        const h = await hold(store.layerLink(repo, d));
        if (h.state === 'deleted') report.linksDeleted++;
      }
    }
  }

  log.info(
    {
      dryRun, repositories: report.repositories, manifestsKept: report.manifestsKept, manifestsDeleted: report.manifestsDeleted.length,
      blobsKept: report.blobsKept, blobsDeleted: report.blobsDeleted.length, bytesFreed: report.bytesFreed, ms: Date.now() - start,
    },
    dryRun ? 'gc dry run' : 'gc done',
  );
  return report;
}
