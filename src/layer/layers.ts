/**
 * Layers: an image's filesystem is a chain of layers, each a committed
 * snapshot named by its chain ID (OCI: chainID(L0) = diffID(L0),
 * chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))), so identical
 * layer stacks are stored once whatever image they came from.
 *
 * `unpack` applies one uncompressed layer tar on top of a parent chain:
 * prepare an active snapshot, mount it, extract (whiteouts and all), unmount,
 * verify the diffID, commit. On any failure the active snapshot is removed,
 * so nothing half-extracted stays behind.
 */
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { sha256, type Digest } from '../base/digest.js';
import { EngineError, invalid, isKind } from '../base/errdefs.js';
import type { Host } from '../base/host.js';
import type { Logger } from '../base/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { withMounted } from '../snapshot/mounted.js';
import { applyLayer } from '../archive/apply.js';
import type { ImageStore, LayerRecord } from '../image/store.js';

export const chainIdOf = (parent: string, diffId: Digest): Digest =>
  parent === '' ? diffId : sha256(`${parent} ${diffId}`);

/** Chain IDs for each prefix of a diff ID list. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  let parent = '';
  for (const d of diffIds) {
    parent = chainIdOf(parent, d);
    out.push(parent as Digest);
  }
  return out;
}

export interface UnpackLimits {
  maxBytes?: number;
  maxEntries?: number;
}

export class Layers {
  /** In-flight unpacks by chain ID, so two loads of one layer share the work. */
  private readonly inflight = new Map<string, Promise<LayerRecord>>();

  constructor(
    private readonly sn: Snapshotter,
    private readonly host: Host,
    private readonly meta: ImageStore,
    private readonly log: Logger,
    private readonly limits: UnpackLimits = {},
  ) {}

  /** Chains an operation in flight is assembling an image from, with a count per holder. */
  private readonly holds = new Map<string, number>();

  /**
   * Keeps `chains` from being pruned until the returned function is called.
   * A pull, load or import holds its image's chains from before the first
   * unpack until the image is recorded: until then no image references them,
   * and a concurrent rmi's collection would otherwise remove them.
   */
  hold(chains: readonly string[]): () => void {
    for (const c of chains) this.holds.set(c, (this.holds.get(c) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const c of chains) {
        const n = (this.holds.get(c) ?? 1) - 1;
        if (n <= 0) this.holds.delete(c);
        else this.holds.set(c, n);
      }
    };
  }

  /** The storage driver the layers live on, as `docker info` and image inspect name it. */
  get driver(): string {
    return this.sn.driver;
  }

  /** The largest uncompressed layer accepted (decompression bombs stop here). */
  get maxBytes(): number {
    return this.limits.maxBytes ?? Number.MAX_SAFE_INTEGER;
  }

  has(chainId: string): boolean {
    return this.meta.layer(chainId) !== undefined;
  }
  get(chainId: string): LayerRecord | undefined {
    return this.meta.layer(chainId);
  }

  /**
   * Applies `tar` (uncompressed) on `parent`. With `expectedDiffId`, a layer
   * already present is not extracted again (the caller may pass a lazy stream).
   */
  async unpack(parent: string, open: () => Promise<Readable>, expectedDiffId?: Digest, signal?: AbortSignal): Promise<LayerRecord> {
    if (expectedDiffId) {
      const chainId = chainIdOf(parent, expectedDiffId);
      const have = this.meta.layer(chainId);
      if (have) return have;
      const running = this.inflight.get(chainId);
      if (running) return running;
      const p = this.doUnpack(parent, open, expectedDiffId, signal).finally(() => this.inflight.delete(chainId));
      this.inflight.set(chainId, p);
      return p;
    }
    return this.doUnpack(parent, open, undefined, signal);
  }

  private async doUnpack(parent: string, open: () => Promise<Readable>, expectedDiffId: Digest | undefined, signal?: AbortSignal): Promise<LayerRecord> {
    const key = `extract-${randomBytes(8).toString('hex')}`;
    const mounts = await this.sn.prepare(key, parent, { signal });
    let committed = false;
    try {
      const tar = await open();
      const { diffId, size } = await withMounted(this.host, mounts, (dir) =>
        applyLayer(dir, tar, { signal, limits: this.limits }),
      );
      if (expectedDiffId && diffId !== expectedDiffId)
        throw invalid(`layer content does not match the image: expected diff ID ${expectedDiffId}, got ${diffId}`);
      const chainId = chainIdOf(parent, diffId);
      const rec: LayerRecord = { chainId, diffId, parent, size };
      if (this.meta.layer(chainId)) return this.meta.layer(chainId)!;
      try {
        await this.sn.commit(chainId, key, { signal });
        committed = true;
      } catch (e) {
        // Another unpack of the same layer committed first: theirs is as good as ours.
        if (!isKind(e, 'conflict')) throw e;
      }
      this.meta.putLayer(rec);
      return rec;
    } finally {
      if (!committed) await this.sn.remove(key).catch((e: unknown) => this.log.warn({ key, err: e }, 'removing failed extraction'));
    }
  }

  /**
   * Removes layers no longer used by any image in `keep` (chain IDs still
   * needed) from the top down. A layer a container's rootfs sits on refuses
   * removal (the snapshotter reports a conflict) and is kept.
   */
  async prune(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    let progress = true;
    while (progress) {
      progress = false;
      const all = this.meta.layers();
      const parents = new Set(all.map((l) => l.parent));
      for (const l of all) {
        if (keep.has(l.chainId) || parents.has(l.chainId) || this.holds.has(l.chainId)) continue;
        try {
          await this.sn.remove(l.chainId);
        } catch (e) {
          if (e instanceof EngineError && e.kind === 'conflict') continue;
          if (!(e instanceof EngineError && e.kind === 'not-found')) throw e;
        }
        this.meta.deleteLayer(l.chainId);
        removed += l.size;
        progress = true;
      }
    }
    return removed;
  }
}
