/**
 * Pull: a reference becomes a local image, as `docker pull` does it.
 *
 *   tag ─▶ manifest (index → this platform's manifest) ─▶ config ─▶ layers ─▶ image record + tags
 *
 * Every byte is checked: a manifest fetched by digest must hash to it, and
 * each blob streams into the content store as an ingest with the digest and
 * size its descriptor promised, so a corrupt or truncated blob never becomes
 * visible. Up to `max-concurrent-downloads` layers download at once; each
 * layer is unpacked as soon as it and the layers below it are there, and is
 * checked against the config's diff ID while it is. The image is recorded
 * (with the registry's own manifest bytes, so its digest is the registry's)
 * and tagged only after every layer is in place; a pull that fails removes
 * the blobs it brought.
 *
 * TODO: unpack later layers while they download. Streaming only the layers whose
 * parents are already in place was tried and measured: only layer 0 qualifies
 * (three downloads start together), and on two cores it gained nothing. What
 * would help is a layer whose parent finishes mid-download starting to extract
 * from its partial ingest file and then following the live stream (docs/benchmarks.md).
 */
import type { Readable } from 'node:stream';
import { hexOf, sha256, type Digest } from '../base/digest.js';
import { EngineError, invalid, isKind, messageOf, notFound } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { decompress } from '../archive/compression.js';
import { MediaType, hostPlatform, isIndexType, type Descriptor, type ImageConfig, type Index, type Manifest, type Platform } from '../image/oci.js';
import { familiar, familiarName, name as refName, toString as refString, withTag, type Reference } from '../image/reference.js';
import { chainIds } from '../layer/layers.js';
import type { AuthConfig } from './auth.js';
import { registryError, type RegistryError, type Registries, type Repository } from './client.js';
import { dropUnused, type ImageSink } from './store.js';
import { allOrNothing, byteProgress, layerStatus, Semaphore, type Progress } from './transfer.js';
import { causeText, readBody } from './transport.js';

/** Docker's limit on a manifest's size. */
const MANIFEST_LIMIT = 4 << 20;
const CONFIG_LIMIT = 16 << 20;

/** What Docker asks a registry for: indexes and image manifests, OCI and Docker (schema 1 is gone). */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest].join(', ');

const LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.DockerLayer, MediaType.DockerLayerGzip, MediaType.DockerForeignLayerGzip, 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  MediaType.OciLayer, MediaType.OciLayerGzip, MediaType.OciLayerZstd,
  'application/vnd.oci.image.layer.nondistributable.v1.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export interface PullOptions {
  platform?: Platform;
  auth?: AuthConfig;
  signal?: AbortSignal;
  progress: Progress;
}

interface FetchedManifest {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
  json: Omit<Manifest, 'schemaVersion'> & Partial<Omit<Index, 'schemaVersion'>> & { schemaVersion?: number };
}

interface PullResult {
  id: Digest;
  updated: boolean;
}

export class Puller {
  constructor(
    private readonly images: ImageSink,
    private readonly registries: Registries,
    private readonly limits: { downloads: number },
    private readonly log: Logger,
  ) {}

  /** Pulls `ref` (a tag, a digest, or every tag when it names neither). */
  async pull(ref: Reference, o: PullOptions): Promise<void> {
    const eps = this.registries.endpoints(ref.domain);
    const results = await this.registries.withEndpoints(
      eps,
      async (ep) => {
        const repo = await this.registries.open(ep, ref.path, { actions: ['pull'], auth: o.auth, signal: o.signal });
        if (ref.tag !== undefined || ref.digest !== undefined) return [await this.pullOne(repo, ref, o)];
        const tags = await this.listTags(repo, ref, o.signal);
        const out: PullResult[] = [];
        for (const t of tags) out.push(await this.pullOne(repo, withTag(ref, t), o));
        return out;
      },
      o.signal,
    );
    const updated = results.some((r) => r.updated);
    o.progress({ status: `Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${familiar(ref)}` });
  }

  private async pullOne(repo: Repository, ref: Reference, o: PullOptions): Promise<PullResult> {
    const t0 = performance.now();
    const tagOrDigest = ref.digest ?? ref.tag!;
    if (ref.digest && !ref.digest.startsWith('sha256:')) throw invalid(`${familiar(ref)}: only sha256 digests are supported`);
    const top = await this.fetchManifest(repo, ref, tagOrDigest, ref.digest as Digest | undefined, o.signal);
    let target = top;
    let viaIndex = false;
    if (top.json.manifests !== undefined || isIndexType(top.mediaType)) {
      const desc = choosePlatform(top.json as Index, o.platform);
      target = await this.fetchManifest(repo, ref, desc.digest, desc.digest, o.signal);
      viaIndex = true;
      if (target.json.manifests !== undefined) throw invalid(`${familiar(ref)}: an index inside an index is not an image Pier can pull`);
    }
    const manifest = target.json as Manifest;
    checkManifest(manifest, ref);
    // Docker names the repository by its path on the registry: "Pulling from library/busybox".
    o.progress({ status: `Pulling from ${ref.path}`, id: tagOrDigest });

    const id = manifest.config.digest;
    // Until the image is recorded and tagged, nothing references its layers: hold them
    // so that a concurrent rmi or prune does not collect them (Layers.hold).
    let release = () => {};
    try {
      if (!(await this.complete(id))) {
        const added = new Set<Digest>();
        try {
          const configBytes = await this.fetchSmallBlob(repo, manifest.config, CONFIG_LIMIT, 'image config', o.signal);
          const config = parseConfig(configBytes, manifest, ref);
          release = this.images.layers.hold(chainIds(config.rootfs.diff_ids));
          if (o.platform && !viaIndex && (config.os !== o.platform.os || config.architecture !== o.platform.architecture)) {
            throw notFound(`image with reference ${familiar(ref)} was found but its platform (${config.os}/${config.architecture}) does not match the specified platform (${platformString(o.platform)})`);
          }
          await this.fetchLayers(repo, manifest.layers, config.rootfs.diff_ids, o, added);
          // Config and manifest go in last: an image record only ever names complete content.
          await this.images.content.put(configBytes, { expected: id });
          await this.images.content.put(target.bytes, { expected: target.digest });
          const size = chainIds(config.rootfs.diff_ids).reduce((n, c) => n + (this.images.layers.get(c)?.size ?? 0), 0);
          this.images.meta.put({ id, manifest: target.digest, created: config.created ?? '', size, parent: '', addedAt: Date.now() });
        } catch (e) {
          await dropUnused(this.images, added).catch((err: unknown) => this.log.warn({ err }, 'removing the blobs of a failed pull'));
          throw e;
        }
      }

      // Tags and RepoDigests. A pull by tag through an index records the index digest, as Docker does.
      let updated = false;
      if (ref.tag !== undefined && ref.digest === undefined) {
        const key = refString(ref);
        updated = this.images.meta.resolveTag(key) !== id;
        this.images.meta.setTag(key, id);
      }
      const digestRef = `${refName(ref)}@${top.digest}`;
      if (ref.digest !== undefined) updated = this.images.meta.resolveTag(digestRef) !== id;
      this.images.meta.setTag(digestRef, id);
      o.progress({ status: `Digest: ${top.digest}` });
      this.images.events.emit('image', 'pull', familiar(ref), { name: familiar(ref) });
      this.log.debug({ ref: familiar(ref), id, ms: Math.round(performance.now() - t0) }, 'pulled');
      return { id, updated };
    } finally {
      release();
    }
  }

  /** True when the image is recorded and all its layers are there: nothing to download (Docker skips layers then too). */
  private async complete(id: Digest): Promise<boolean> {
    if (!this.images.meta.get(id)) return false;
    try {
      const cfg = JSON.parse((await this.images.content.read(id)).toString('utf8')) as ImageConfig;
      return chainIds(cfg.rootfs.diff_ids).every((c) => this.images.layers.has(c));
    } catch {
      return false;
    }
  }

  private async fetchManifest(repo: Repository, ref: Reference, reference: string, expected: Digest | undefined, signal?: AbortSignal): Promise<FetchedManifest> {
    const path = `manifests/${reference}`;
    const res = await repo.request('GET', path, { headers: { Accept: MANIFEST_ACCEPT }, signal });
    if (res.statusCode !== 200) {
      const e = await registryError(res, 'GET', repo.url(path).href);
      throw pullError(e, ref);
    }
    const bytes = await readBody(res, MANIFEST_LIMIT, `manifest ${reference}`);
    const digest = sha256(bytes);
    if (expected && digest !== expected) throw new EngineError('unavailable', `manifest verification failed for digest ${expected}: the registry sent content with digest ${digest}`);
    let json: FetchedManifest['json'];
    try {
      json = JSON.parse(bytes.toString('utf8')) as FetchedManifest['json'];
    } catch {
      throw invalid(`the manifest of ${familiar(ref)} is not valid JSON`);
    }
    if (!json || typeof json !== 'object') throw invalid(`the manifest of ${familiar(ref)} is not a JSON object`);
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim() || json.mediaType || '';
    if (json.schemaVersion === 1 || mediaType.startsWith('application/vnd.docker.distribution.manifest.v1')) {
      throw invalid(`[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of ${familiar(ref)} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`);
    }
    return { bytes, digest, mediaType: json.mediaType ?? mediaType, json };
  }

  /** A small blob (the config) into memory, checked against its descriptor. */
  private async fetchSmallBlob(repo: Repository, desc: Descriptor, limit: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    if (desc.size > limit) throw invalid(`${what} ${desc.digest} is too large (${desc.size} bytes)`);
    const path = `blobs/${desc.digest}`;
    const res = await repo.check(await repo.request('GET', path, { signal }), 'GET', path, [200]);
    const bytes = await readBody(res, limit, `${what} ${desc.digest}`);
    const got = sha256(bytes);
    if (got !== desc.digest) throw new EngineError('unavailable', `${what} verification failed for digest ${desc.digest}: the registry sent content with digest ${got}`);
    if (bytes.length !== desc.size) throw new EngineError('unavailable', `${what} ${desc.digest}: expected ${desc.size} bytes, the registry sent ${bytes.length}`);
    return bytes;
  }

  /**
   * Downloads what is missing, `limits.downloads` at a time, and unpacks in
   * order: layer i starts unpacking once it is downloaded and layer i-1 is unpacked.
   */
  private async fetchLayers(repo: Repository, layers: Descriptor[], diffIds: Digest[], o: PullOptions, added: Set<Digest>): Promise<void> {
    const { content } = this.images;
    const chains = chainIds(diffIds);
    const plan = await Promise.all(
      layers.map(async (l, i) => ({ desc: l, id: hexOf(l.digest).slice(0, 12), haveBlob: await content.has(l.digest), haveChain: this.images.layers.has(chains[i]!) })),
    );
    for (const p of plan) layerStatus(o.progress, p.id, p.haveBlob && p.haveChain ? 'Already exists' : 'Pulling fs layer');
    const sem = new Semaphore(this.limits.downloads);
    const fetching = new Map<string, Promise<void>>(); // one download per blob, even if an image lists it twice
    let queued = 0;
    await allOrNothing<unknown>(o.signal, (signal) => {
      const downloads = plan.map((p) => {
        if (p.haveBlob) return Promise.resolve();
        let d = fetching.get(p.desc.digest);
        if (!d) {
          if (queued++ >= this.limits.downloads) layerStatus(o.progress, p.id, 'Waiting');
          d = sem.run(() => this.download(repo, p.desc, p.id, o.progress, signal, added));
          fetching.set(p.desc.digest, d);
        }
        return d;
      });
      let below: Promise<string> = Promise.resolve('');
      const unpacks = plan.map((p, i) => {
        const parentDone = below;
        below = (async () => {
          const parent = await parentDone;
          await downloads[i];
          if (p.haveChain) {
            if (!p.haveBlob) layerStatus(o.progress, p.id, 'Pull complete');
            return chains[i]!;
          }
          const t0 = performance.now();
          const report = byteProgress(o.progress, 'Extracting', p.id, p.desc.size);
          const rec = await this.images.layers.unpack(
            parent,
            async () => {
              const raw = await content.reader(p.desc.digest);
              let n = 0;
              raw.on('data', (c: Buffer) => report((n += c.length)));
              return decompress(raw as Readable);
            },
            diffIds[i]!,
            signal,
          );
          layerStatus(o.progress, p.id, 'Pull complete');
          this.log.debug({ layer: p.id, size: p.desc.size, ms: Math.round(performance.now() - t0) }, 'pull: layer unpacked');
          return rec.chainId;
        })();
        return below;
      });
      return [...downloads, ...unpacks];
    });
  }

  private async download(repo: Repository, desc: Descriptor, id: string, progress: Progress, signal: AbortSignal, added: Set<Digest>): Promise<void> {
    if (desc.size > this.images.layers.maxBytes) throw invalid(`layer ${desc.digest} is ${desc.size} bytes, more than the limit of ${this.images.layers.maxBytes} (max-layer-size)`);
    const t0 = performance.now();
    const path = `blobs/${desc.digest}`;
    const res = await repo.check(await repo.request('GET', path, { signal }), 'GET', path, [200]);
    const report = byteProgress(progress, 'Downloading', id, desc.size);
    let n = 0;
    async function* counted(src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        n += c.length;
        report(n);
        yield c;
      }
    }
    try {
      await this.images.content.ingest(counted(res), { expected: desc.digest, size: desc.size, limit: desc.size, signal });
    } catch (e) {
      res.destroy();
      if (isKind(e, 'invalid') && /digest mismatch|size mismatch|exceeds the limit/.test(messageOf(e))) {
        const got = /got (sha256:[a-f0-9]{64})/.exec(messageOf(e))?.[1];
        throw new EngineError('unavailable', `filesystem layer verification failed for digest ${desc.digest}: ${got ? `the registry sent content with digest ${got}` : `the registry sent ${n} bytes where ${desc.size} were expected`}`, { cause: e });
      }
      if (e instanceof EngineError) throw e;
      // The connection broke mid-blob: nothing of it was kept (ingests are atomic), so a retry starts clean.
      throw new EngineError('unavailable', `downloading layer ${desc.digest} failed after ${n} of ${desc.size} bytes: ${causeText(e, repo.url(path), 'idle')}`, { cause: e });
    }
    added.add(desc.digest);
    this.log.debug({ layer: id, size: desc.size, ms: Math.round(performance.now() - t0) }, 'pull: layer downloaded');
    layerStatus(progress, id, 'Verifying Checksum');
    layerStatus(progress, id, 'Download complete');
  }

  /** Every tag of a repository (`pull -a`), following `Link` pagination. */
  private async listTags(repo: Repository, ref: Reference, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let path = 'tags/list';
    for (let page = 0; page < 1000; page++) {
      const res = await repo.request('GET', path, { signal });
      if (res.statusCode !== 200) throw pullError(await registryError(res, 'GET', repo.url(path).href), ref);
      let j: { tags?: string[] | null };
      try {
        j = JSON.parse((await readBody(res, 16 << 20, 'tag list')).toString('utf8')) as typeof j;
      } catch (e) {
        if (e instanceof SyntaxError) throw invalid(`the tag list of ${familiarName(ref)} is not valid JSON`);
        throw e;
      }
      tags.push(...(j.tags ?? []));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1];
      if (!next) break;
      path = next;
    }
    if (tags.length === 0) throw notFound(`${familiarName(ref)}: the repository has no tags`);
    return [...new Set(tags)].sort();
  }
}

/** Docker's wording for a manifest the registry would not give. */
function pullError(e: RegistryError, ref: Reference): EngineError {
  if (e.status === 404) return notFound(`manifest for ${familiar(ref)} not found: ${e.message}`);
  if (e.status === 401 || e.status === 403 || e.codes.includes('DENIED') || e.codes.includes('UNAUTHORIZED')) {
    return new EngineError('unauthorized', `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.message}`);
  }
  return e;
}

/** The index entry for this machine (or the asked platform); attestations never match. */
export function choosePlatform(index: Index, want?: Platform): Descriptor {
  const host = hostPlatform();
  const w = want ?? host;
  const candidates = (index.manifests ?? []).filter(
    (m) => m.platform && m.platform.os === w.os && m.platform.architecture === w.architecture && m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
  );
  const variant = w.variant ?? (w.architecture === 'arm64' ? 'v8' : undefined);
  const exact = candidates.find((m) => (m.platform!.variant ?? (m.platform!.architecture === 'arm64' ? 'v8' : undefined)) === variant);
  const pick = exact ?? (w.variant ? undefined : candidates[0]);
  if (!pick) throw notFound(`no matching manifest for ${platformString(w)} in the manifest list entries`);
  if (!/^sha256:[a-f0-9]{64}$/.test(pick.digest)) throw invalid(`the index entry for ${platformString(w)} names ${JSON.stringify(pick.digest)}: only sha256 digests are supported`);
  return pick;
}

const platformString = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

function checkManifest(m: Manifest, ref: Reference): void {
  if (!m.config || typeof m.config.digest !== 'string' || !Array.isArray(m.layers)) throw invalid(`the manifest of ${familiar(ref)} is not an image manifest`);
  for (const d of [m.config, ...m.layers]) {
    if (!d || typeof d.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d.digest)) throw invalid(`the manifest of ${familiar(ref)} names ${JSON.stringify(d?.digest)}: only sha256 digests are supported`);
  }
  const ct = m.config.mediaType;
  if (ct !== MediaType.DockerConfig && ct !== MediaType.OciConfig) {
    throw invalid(`${familiar(ref)} is not a container image: its config has media type ${ct} (an artifact, not something Pier can run)`);
  }
  for (const l of m.layers) {
    if (!l || typeof l.digest !== 'string' || typeof l.size !== 'number' || l.size < 0) throw invalid(`the manifest of ${familiar(ref)} has an invalid layer descriptor`);
    if (!LAYER_TYPES.has(l.mediaType)) throw invalid(`${familiar(ref)}: unsupported layer media type ${l.mediaType}`);
  }
}

function parseConfig(bytes: Buffer, m: Manifest, ref: Reference): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw invalid(`the image config of ${familiar(ref)} is not valid JSON`);
  }
  if (!c?.rootfs || !Array.isArray(c.rootfs.diff_ids)) throw invalid(`the image config of ${familiar(ref)} has no rootfs.diff_ids`);
  if (c.rootfs.diff_ids.length !== m.layers.length) {
    throw invalid(`${familiar(ref)}: the manifest lists ${m.layers.length} layers but the image config ${c.rootfs.diff_ids.length} diff IDs`);
  }
  return c;
}
