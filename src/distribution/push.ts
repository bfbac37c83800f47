/**
 * Push: local tags of a repository go to its registry, as `docker push` does.
 *
 * Per layer (up to `max-concurrent-uploads` at once): a blob the registry
 * has already is skipped (HEAD), one that another repository of the same
 * registry has is mounted from there (the image's other names say which),
 * and anything else is uploaded (POST, PATCH with the bytes, PUT with the
 * digest). Uncompressed layers go up gzipped: compressed once while being
 * uploaded, kept in the content store and remembered (compressed.ts), so the
 * manifest then names the gzip blob while the config's diff IDs stay as they
 * are. Then the config blob, then the manifest: the local manifest bytes as
 * they are when no layer changed (a pulled image keeps its digest), else a
 * new one of the same type (Docker schema 2 or OCI).
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { hexOf, sha256, type Digest } from '../base/digest.js';
import { EngineError, internal, invalid, notFound } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { compressGzip } from '../archive/compression.js';
import { MediaType, type Descriptor, type ImageConfig, type Manifest } from '../image/oci.js';
import { familiar, familiarName, name as refName, parseReference, toString as refString, type Reference } from '../image/reference.js';
import { repositoryScope, type AuthConfig } from './auth.js';
import type { Registries, Repository } from './client.js';
import type { CompressedBlobs } from './compressed.js';
import type { ImageSink } from './store.js';
import { allOrNothing, byteProgress, counting, layerStatus, Semaphore, type Progress } from './transfer.js';
import { drain } from './transport.js';

export interface PushOptions {
  auth?: AuthConfig;
  signal?: AbortSignal;
  progress: Progress;
}

const UNCOMPRESSED: ReadonlySet<string> = new Set([MediaType.DockerLayer, MediaType.OciLayer]);
const FOREIGN = /foreign|nondistributable/;
const COMPLETE_TIMEOUT_MS = 10 * 60_000;

interface Target {
  ref: Reference; // with its tag
  id: Digest;
}

export class Pusher {
  constructor(
    private readonly images: ImageSink,
    private readonly registries: Registries,
    private readonly compressed: CompressedBlobs,
    private readonly limits: { uploads: number },
    private readonly log: Logger,
  ) {}

  /** Pushes `name:tag`, or every local tag of `name` when no tag is given. */
  async push(ref: Reference, o: PushOptions): Promise<void> {
    if (ref.digest) throw invalid('cannot push a digest reference');
    o.progress({ status: `The push refers to repository [${refName(ref)}]` });
    const targets = this.targets(ref);
    await this.compressed.sweep().catch((err: unknown) => this.log.warn({ err }, 'sweeping compressed layer copies'));
    // Repositories of the same registry that already hold these images: their blobs can be mounted.
    const sources = new Set<string>();
    for (const t of targets) {
      for (const r of this.images.meta.tagsOf(t.id)) {
        try {
          const other = parseReference(r);
          if (other.domain === ref.domain && other.path !== ref.path) sources.add(other.path);
        } catch {
          /* not a name */
        }
      }
    }
    const eps = this.registries.endpoints(ref.domain, { push: true });
    await this.registries.withEndpoints(
      eps,
      async (ep) => {
        const repo = await this.registries.open(ep, ref.path, {
          actions: ['pull', 'push'],
          auth: o.auth,
          extraScopes: [...sources].map((s) => repositoryScope(s, ['pull'])),
          signal: o.signal,
        });
        for (const t of targets) await this.pushImage(repo, t, [...sources], o);
      },
      o.signal,
    );
  }

  private targets(ref: Reference): Target[] {
    const out: Target[] = [];
    if (ref.tag !== undefined) {
      const id = this.images.meta.resolveTag(refString(ref));
      if (id) out.push({ ref, id: id as Digest });
    } else {
      const want = refName(ref);
      for (const [id, refs] of this.images.meta.allTags()) {
        for (const r of refs) {
          if (r.includes('@')) continue;
          const p = parseReference(r);
          if (refName(p) === want) out.push({ ref: p, id: id as Digest });
        }
      }
      out.sort((a, b) => (a.ref.tag ?? '').localeCompare(b.ref.tag ?? ''));
    }
    if (out.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
    return out;
  }

  private async pushImage(repo: Repository, t: Target, sources: string[], o: PushOptions): Promise<void> {
    const { content, meta } = this.images;
    const rec = meta.get(t.id);
    if (!rec) throw notFound(`An image does not exist locally with the tag: ${familiar(t.ref)}`);
    const manifestBytes = await content.read(rec.manifest);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    const configBytes = await content.read(t.id);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIds = config.rootfs.diff_ids;
    if (manifest.layers.length !== diffIds.length) throw internal(`image ${t.id}: its manifest lists ${manifest.layers.length} layers but its config ${diffIds.length}`);
    const oci = manifest.mediaType !== MediaType.DockerManifest;

    // One upload per distinct layer, announced top layer first like Docker.
    const sem = new Semaphore(this.limits.uploads);
    const order = [...new Map(manifest.layers.map((l, i) => [diffIds[i]!, l] as const)).entries()].reverse();
    for (const [diffId] of order) layerStatus(o.progress, hexOf(diffId).slice(0, 12), 'Preparing');
    for (const [diffId] of order.slice(this.limits.uploads)) layerStatus(o.progress, hexOf(diffId).slice(0, 12), 'Waiting');
    const pushed = new Map<string, Descriptor>();
    await allOrNothing(o.signal, (signal) =>
      order.map(([diffId, local]) =>
        sem.run(async () => pushed.set(diffId, await this.pushLayer(repo, local, diffId, oci, sources, { ...o, signal }))),
      ),
    );
    const layers = manifest.layers.map((l, i) => pushed.get(diffIds[i]!) ?? l);

    await this.ensureBlob(repo, { mediaType: manifest.config.mediaType, digest: t.id, size: configBytes.length }, configBytes, o.signal);

    let body = manifestBytes;
    const mediaType = manifest.mediaType ?? MediaType.OciManifest;
    if (layers.some((l, i) => l.digest !== manifest.layers[i]!.digest)) {
      const m: Manifest = { schemaVersion: 2, mediaType, config: manifest.config, layers, ...(manifest.annotations ? { annotations: manifest.annotations } : {}) };
      // Docker writes schema 2 manifests indented by three spaces; OCI ones compact, as containerd does.
      body = Buffer.from(oci ? JSON.stringify(m) : JSON.stringify(m, null, 3));
    }
    const tag = t.ref.tag!;
    const path = `manifests/${tag}`;
    await repo.check(await repo.request('PUT', path, { headers: { 'Content-Type': mediaType }, body, signal: o.signal }), 'PUT', path, [200, 201, 202]).then(drain);
    const digest = sha256(body);
    o.progress({ status: `${tag}: digest: ${digest} size: ${body.length}` });
    o.progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: body.length } });
    meta.setTag(`${refName(t.ref)}@${digest}`, t.id);
    this.images.events.emit('image', 'push', familiar(t.ref), { name: familiar(t.ref) });
  }

  /** One layer: already there, mounted, or uploaded. Returns the descriptor the pushed manifest lists. */
  private async pushLayer(repo: Repository, local: Descriptor, diffId: Digest, oci: boolean, sources: string[], o: PushOptions & { signal: AbortSignal }): Promise<Descriptor> {
    const id = hexOf(diffId).slice(0, 12);
    if (FOREIGN.test(local.mediaType)) {
      layerStatus(o.progress, id, 'Skipped foreign layer');
      return local;
    }
    const gzipType = oci ? MediaType.OciLayerGzip : MediaType.DockerLayerGzip;
    const uncompressed = UNCOMPRESSED.has(local.mediaType) || local.digest === diffId;
    let blob: Descriptor | undefined = local;
    if (uncompressed) {
      const copy = await this.compressed.get(diffId);
      blob = copy && { mediaType: gzipType, digest: copy.digest, size: copy.size };
    }
    if (!blob) {
      // Never compressed before: compress while uploading, keeping the result.
      const done = await this.uploadCompressing(repo, local, diffId, id, o);
      layerStatus(o.progress, id, 'Pushed');
      return { mediaType: gzipType, digest: done.digest, size: done.size };
    }
    if (await this.exists(repo, blob.digest, o.signal)) {
      layerStatus(o.progress, id, 'Layer already exists');
      return blob;
    }
    let location: string | undefined;
    for (const from of sources) {
      const r = await this.mount(repo, blob.digest, from, o.signal);
      if (r === true) {
        layerStatus(o.progress, id, `Mounted from ${from}`);
        return blob;
      }
      if (r) {
        location = r;
        break;
      }
    }
    const src = counting(await this.images.content.reader(blob.digest), byteProgress(o.progress, 'Pushing', id, blob.size));
    await this.upload(repo, location, src, blob.size, blob.digest, o.signal);
    layerStatus(o.progress, id, 'Pushed');
    return blob;
  }

  private async exists(repo: Repository, digest: Digest, signal?: AbortSignal): Promise<boolean> {
    const path = `blobs/${digest}`;
    const res = await repo.request('HEAD', path, { signal });
    if (res.statusCode === 404) return drain(res), false;
    await repo.check(res, 'HEAD', path, [200]);
    drain(res);
    return true;
  }

  /** Cross-repository mount: true when mounted, an upload location when the registry offers one instead. */
  private async mount(repo: Repository, digest: Digest, from: string, signal?: AbortSignal): Promise<true | string | undefined> {
    const res = await repo.request('POST', `blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, { signal });
    drain(res);
    if (res.statusCode === 201) return true;
    if (res.statusCode === 202 && res.headers.location) return res.headers.location;
    return undefined;
  }

  private async startUpload(repo: Repository, signal?: AbortSignal): Promise<string> {
    const path = 'blobs/uploads/';
    const res = await repo.check(await repo.request('POST', path, { signal }), 'POST', path, [202]);
    drain(res);
    const loc = res.headers.location;
    if (!loc) throw new EngineError('unavailable', `the registry started an upload for ${repo.name} without saying where to send it (no Location)`);
    return loc;
  }

  /** PATCH the bytes to an upload session, then PUT ?digest= to finish it. */
  private async upload(repo: Repository, location: string | undefined, body: Readable, size: number | undefined, digest: Digest | (() => Promise<Digest>), signal?: AbortSignal): Promise<void> {
    const loc = location ?? (await this.startUpload(repo, signal));
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = String(size);
    const patched = await repo.check(await repo.request('PATCH', loc, { headers, body, signal }), 'PATCH', loc, [202, 204]);
    drain(patched);
    const finish = repo.url(patched.headers.location ?? loc);
    finish.searchParams.set('digest', typeof digest === 'function' ? await digest() : digest);
    // Completing an upload can take a registry a while (it may hash or move the whole blob first).
    const res = await repo.check(await repo.request('PUT', finish.href, { headers: { 'Content-Type': 'application/octet-stream' }, signal, idleTimeoutMs: COMPLETE_TIMEOUT_MS }), 'PUT', finish.href, [201, 204]);
    drain(res);
  }

  /** Small blobs (the config): HEAD, else a monolithic POST + PUT. */
  private async ensureBlob(repo: Repository, desc: Descriptor, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    if (await this.exists(repo, desc.digest, signal)) return;
    const loc = repo.url(await this.startUpload(repo, signal));
    loc.searchParams.set('digest', desc.digest);
    const res = await repo.check(await repo.request('PUT', loc.href, { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes, signal }), 'PUT', loc.href, [201, 204]);
    drain(res);
  }

  /** Gzips an uncompressed layer into the content store and up to the registry in one pass. */
  private async uploadCompressing(repo: Repository, local: Descriptor, diffId: Digest, id: string, o: PushOptions & { signal: AbortSignal }): Promise<{ digest: Digest; size: number }> {
    const ac = new AbortController();
    const signal = AbortSignal.any([o.signal, ac.signal]);
    const src = counting(await this.images.content.reader(local.digest), byteProgress(o.progress, 'Pushing', id, local.size));
    const toStore = new PassThrough({ highWaterMark: 1 << 20 });
    const toRegistry = new PassThrough({ highWaterMark: 1 << 20 });
    tee(compressGzip(src, { adaptive: true }), toStore, toRegistry);
    const stored = this.images.content.ingest(toStore, { signal });
    try {
      const [blob] = await Promise.all([stored, this.upload(repo, undefined, toRegistry, undefined, async () => (await stored).digest, signal)]);
      return blob;
    } catch (e) {
      ac.abort(e);
      toStore.destroy();
      toRegistry.destroy();
      await stored.catch(() => undefined);
      throw e;
    } finally {
      const blob = await stored.catch(() => undefined);
      if (blob) await this.compressed.put(diffId, blob).catch((err: unknown) => this.log.warn({ err }, 'recording a compressed layer'));
    }
  }
}

/** Copies src into both a and b, at the pace of the slower one. */
function tee(src: Readable, a: Writable, b: Writable): void {
  src.on('data', (c: Buffer) => {
    const okA = a.write(c);
    const okB = b.write(c);
    if (okA && okB) return;
    src.pause();
    let waiting = (okA ? 0 : 1) + (okB ? 0 : 1);
    const resume = () => {
      if (--waiting === 0) src.resume();
    };
    if (!okA) a.once('drain', resume);
    if (!okB) b.once('drain', resume);
  });
  src.on('end', () => {
    a.end();
    b.end();
  });
  src.on('error', (e) => {
    a.destroy(e);
    b.destroy(e);
  });
  for (const w of [a, b]) w.on('close', () => {
    if (!(w as PassThrough).writableFinished) src.destroy();
  });
}
