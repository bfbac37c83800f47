/**
 * Image archives: `docker load` and `docker save`.
 *
 * Load reads a docker-archive (manifest.json, legacy `<id>/layer.tar` or
 * Docker 25's `blobs/sha256/...`) or an OCI image layout (index.json), plain
 * or compressed. Every file of the archive streams once into the content
 * store (hashed on the way); names inside the archive are never used as paths
 * on disk, so `../` or absolute entries cannot escape. Then the manifest is
 * read, every layer is checked against the image config's diff IDs while it
 * is unpacked, and only then are the images recorded and tagged. Blobs the
 * archive brought that no image uses are removed again.
 *
 * Save writes Docker 25's combined layout: an OCI image layout (oci-layout,
 * index.json, blobs/sha256/*) plus manifest.json and repositories, which both
 * current Docker and older dockerd (20.10) load.
 */
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { posix } from 'node:path';
import { statfs } from 'node:fs/promises';
import tar from 'tar-stream';
import { hexOf, isDigest, type Digest } from '../base/digest.js';
import { invalid } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { decompress } from '../archive/compression.js';
import { familiar, familiarName, parseReference, toString as refString, withDefaultTag } from '../image/reference.js';
import { MediaType, hostPlatform, isIndexType, type Descriptor, type ImageConfig, type Index, type Manifest } from '../image/oci.js';
import type { ImageService } from './images.js';
import { throttled, type Progress } from './progress.js';
import { chainIdOf, chainIds } from '../layer/layers.js';

const SMALL_JSON_LIMIT = 16 << 20; // manifest.json, index.json, configs: never more than this
const DISK_RESERVE = 512 << 20; // stop ingesting when the data root's disk gets this close to full

interface Staged {
  /** Archive path → blob digest (content store). */
  files: Map<string, Digest>;
  /** Archive path → link target path (symlinks between layer files, as legacy `docker save` writes). */
  links: Map<string, string>;
  /** Every blob this load wrote; those no image uses are removed at the end. */
  added: Set<Digest>;
}

export class ImageArchives {
  constructor(
    private readonly images: ImageService,
    private readonly dataRoot: string,
    private readonly log: Logger,
  ) {}

  // ---- load ------------------------------------------------------------------------------

  /**
   * With `partial` (Pier's image copy, `?pier-partial=1`), manifest.json may name layer
   * files the archive leaves out: each must then be a layer this daemon already has
   * (its chain ID, and a blob of it in the content store), else the load fails.
   */
  async load(src: Readable, progress: Progress, o: { quiet?: boolean; signal?: AbortSignal; partial?: boolean } = {}): Promise<string[]> {
    const t0 = performance.now();
    const staged = await this.stage(await decompress(src), o.signal);
    this.log.debug({ ms: Math.round(performance.now() - t0), files: staged.files.size }, 'load: archive staged');
    try {
      const read = async (path: string): Promise<Buffer> => {
        const d = this.lookup(staged, path);
        if (!d) throw invalid(`invalid archive: ${path} is named by the manifest but missing from the archive`);
        const info = await this.images.content.info(d);
        if (info.size > SMALL_JSON_LIMIT) throw invalid(`invalid archive: ${path} is too large (${info.size} bytes)`);
        return this.images.content.read(d);
      };
      const json = async <T>(path: string): Promise<T> => {
        try {
          return JSON.parse((await read(path)).toString('utf8')) as T;
        } catch (e) {
          if (e instanceof SyntaxError) throw invalid(`invalid archive: ${path} is not valid JSON`);
          throw e;
        }
      };
      const messages: string[] = [];
      if (staged.files.has('manifest.json')) {
        const entries = await json<DockerArchiveEntry[]>('manifest.json');
        if (!Array.isArray(entries)) throw invalid('invalid archive: manifest.json must be a list of images');
        for (const e of entries) messages.push(...(await this.loadDockerEntry(e, staged, json, progress, o)));
      } else if (staged.files.has('index.json')) {
        messages.push(...(await this.loadOciLayout(staged, json, progress, o)));
      } else {
        throw invalid('invalid archive: no manifest.json or index.json found; is this a "docker save" or OCI image layout tarball?');
      }
      return messages;
    } finally {
      await this.images.collect([...staged.added]);
    }
  }

  /**
   * The layers this daemon can build an image on without being sent them: chain ID →
   * the descriptor of a blob of it some image here uses (present in the content store).
   * A chain a container sits on with no image left has no blob, so it does not count.
   */
  async localLayers(): Promise<Map<string, Descriptor>> {
    const out = new Map<string, Descriptor>();
    for (const r of this.images.meta.list()) {
      const [cfg, man] = await Promise.all([
        this.images.configOf(r.id).catch(() => undefined),
        this.images.readJson<Manifest>(r.manifest).catch(() => undefined),
      ]);
      if (!cfg || !man) continue;
      const chains = chainIds(cfg.rootfs.diff_ids);
      for (let i = 0; i < chains.length && i < man.layers.length; i++) {
        const c = chains[i]!;
        if (out.has(c) || !this.images.layers.has(c) || !(await this.images.content.has(man.layers[i]!.digest))) continue;
        out.set(c, man.layers[i]!);
      }
    }
    return out;
  }

  /** Pier extension (image copy): which of an image's layers, given by diff ID in order, this daemon lacks (their indexes). */
  async missingLayers(diffIds: readonly string[]): Promise<number[]> {
    for (const d of diffIds) if (!isDigest(d)) throw invalid(`invalid layer digest ${JSON.stringify(d)}`);
    const local = await this.localLayers();
    const chains = chainIds(diffIds as Digest[]);
    return chains.flatMap((c, i) => (local.has(c) ? [] : [i]));
  }

  private lookup(s: Staged, path: string): Digest | undefined {
    let p = cleanPath(path);
    for (let hops = 0; hops < 16; hops++) {
      const d = s.files.get(p);
      if (d) return d;
      const target = s.links.get(p);
      if (!target) return undefined;
      // A hard link's target (stored with a leading /) names a path from the archive's root.
      p = cleanPath(target.startsWith('/') ? target : posix.join(posix.dirname(p), target));
    }
    return undefined;
  }

  /** Streams every regular file of the archive into the content store. */
  private async stage(src: Readable, signal?: AbortSignal): Promise<Staged> {
    const staged: Staged = { files: new Map(), links: new Map(), added: new Set() };
    const extract = tar.extract();
    const free = await freeBytes(this.dataRoot);
    let budget = Math.max(0, free - DISK_RESERVE);
    const done = pipeline(src, extract, { signal }).catch((e: unknown) => {
      throw invalid(`invalid archive: ${(e as Error).message}`);
    });
    try {
      for await (const entry of extract) {
        const name = cleanPath(entry.header.name);
        if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') {
          const known = name.startsWith('blobs/sha256/') && isDigest(`sha256:${name.slice(13)}`) ? (`sha256:${name.slice(13)}` as Digest) : undefined;
          const existed = known ? await this.images.content.has(known) : false;
          if (existed && known) {
            entry.resume();
            staged.files.set(name, known);
            continue;
          }
          const size = entry.header.size ?? 0;
          if (size > budget) throw invalid(`invalid archive: ${name} (${size} bytes) does not fit in the free space of ${this.dataRoot}`);
          if (size > this.images.layers.maxBytes) throw invalid(`invalid archive: ${name} (${size} bytes) exceeds the limit of ${this.images.layers.maxBytes} bytes (max-layer-size)`);
          const blob = await this.images.content.ingest(entry as unknown as Readable, { limit: Math.min(budget, this.images.layers.maxBytes), signal }).catch((e: unknown) => {
            throw invalid(`invalid archive: ${name}: ${(e as Error).message}`);
          });
          budget -= blob.size;
          // A blob named by its digest must have that digest: refuse a tampered archive early.
          // (collect() at the end removes whatever no image uses, this blob included.)
          staged.added.add(blob.digest);
          if (known && blob.digest !== known)
            throw invalid(`invalid archive: ${name} has digest ${blob.digest}, not the one its name claims`);
          staged.files.set(name, blob.digest);
        } else {
          if (entry.header.type === 'symlink' && entry.header.linkname) staged.links.set(name, entry.header.linkname);
          if (entry.header.type === 'link' && entry.header.linkname) staged.links.set(name, '/' + cleanPath(entry.header.linkname));
          entry.resume();
        }
      }
      await done;
    } catch (e) {
      extract.destroy();
      await done.catch(() => {});
      await this.images.collect([...staged.added]);
      throw e;
    }
    return staged;
  }

  private async loadDockerEntry(
    e: DockerArchiveEntry,
    staged: Staged,
    json: <T>(p: string) => Promise<T>,
    progress: Progress,
    o: { quiet?: boolean; signal?: AbortSignal; partial?: boolean },
  ): Promise<string[]> {
    if (!e || typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw invalid('invalid archive: manifest.json entry needs Config and Layers');
    // Partial (image copy): the layers here, looked up once, and only when the archive leaves one out.
    let local: Map<string, Descriptor> | undefined;
    const config = await json<ImageConfig>(e.Config);
    validateConfig(config);
    if (config.rootfs.diff_ids.length !== e.Layers.length)
      throw invalid(`invalid archive: image config lists ${config.rootfs.diff_ids.length} layers but manifest.json lists ${e.Layers.length}`);
    const layers: Descriptor[] = [];
    let parent = '';
    let id: Digest;
    const release = this.images.layers.hold(chainIds(config.rootfs.diff_ids));
    try {
      for (let i = 0; i < e.Layers.length; i++) {
        const path = e.Layers[i]!;
        const blob = this.lookup(staged, path);
        const diffId = config.rootfs.diff_ids[i]!;
        if (!blob && o.partial) {
          // A partial archive leaves out the layers the sender was told we have: take ours.
          local ??= await this.localLayers();
          const have = local.get(chainIdOf(parent, diffId));
          if (!have) throw invalid(`incomplete image: layer ${hexOf(diffId).slice(0, 12)} (${path}) is neither in the archive nor on this daemon; copy the image again (it may have been removed here meanwhile)`);
          if (!o.quiet) progress({ status: 'Already exists', id: hexOf(diffId).slice(0, 12) });
          parent = chainIdOf(parent, diffId);
          layers.push(have);
          continue;
        }
        if (!blob) throw invalid(`invalid archive: layer ${path} is named by manifest.json but missing from the archive`);
        const info = await this.images.content.info(blob);
        const rec = await this.unpackReporting(parent, blob, diffId, info.size, progress, o);
        parent = rec.chainId;
        layers.push({ mediaType: blob === diffId ? MediaType.DockerLayer : MediaType.DockerLayerGzip, digest: blob, size: info.size });
      }
      id = await this.images.commitImage(config, layers, MediaType.DockerManifest);
    } finally {
      release();
    }
    this.images.events.emit('image', 'load', id, {});
    const out: string[] = [];
    const tags = (e.RepoTags ?? []).filter((t) => typeof t === 'string');
    for (const t of tags) {
      const ref = withDefaultTag(parseReference(t));
      if (ref.digest) continue;
      const before = this.images.setTagAnnounced(ref, id);
      if (before && before !== id) {
        const m = `The image ${familiar(ref)} already exists, renaming the old one with ID ${before} to empty string`;
        progress({ stream: m + '\n' });
      }
      out.push(`Loaded image: ${familiar(ref)}`);
    }
    if (tags.length === 0) out.push(`Loaded image ID: ${id}`);
    for (const m of out) progress({ stream: m + '\n' });
    return out;
  }

  private async loadOciLayout(staged: Staged, json: <T>(p: string) => Promise<T>, progress: Progress, o: { quiet?: boolean; signal?: AbortSignal }): Promise<string[]> {
    const layout = staged.files.has('oci-layout') ? await json<{ imageLayoutVersion?: string }>('oci-layout') : undefined;
    if (layout && layout.imageLayoutVersion !== '1.0.0') throw invalid(`invalid archive: unsupported OCI layout version ${layout.imageLayoutVersion}`);
    const index = await json<Index>('index.json');
    if (!Array.isArray(index.manifests)) throw invalid('invalid archive: index.json has no manifests list');
    const out: string[] = [];
    for (const desc of index.manifests) {
      const manifestDesc = await this.pickManifest(desc, staged, json);
      if (!manifestDesc) continue;
      const manifest = await json<Manifest>(blobPath(manifestDesc.digest));
      if (!manifest.config || !Array.isArray(manifest.layers)) throw invalid(`invalid archive: ${manifestDesc.digest} is not an image manifest`);
      const config = await json<ImageConfig>(blobPath(manifest.config.digest));
      validateConfig(config);
      if (config.rootfs.diff_ids.length !== manifest.layers.length) throw invalid('invalid archive: manifest and config disagree on the number of layers');
      let parent = '';
      const release = this.images.layers.hold(chainIds(config.rootfs.diff_ids));
      let id: Digest;
      try {
        for (let i = 0; i < manifest.layers.length; i++) {
          const l = manifest.layers[i]!;
          const blob = this.lookup(staged, blobPath(l.digest));
          if (!blob) throw invalid(`invalid archive: layer ${l.digest} is named by the manifest but missing from the archive`);
          const rec = await this.unpackReporting(parent, blob, config.rootfs.diff_ids[i]!, l.size, progress, o);
          parent = rec.chainId;
        }
        // Keep the layout's own manifest bytes: its digest is what a registry would know the image by.
        id = await this.images.commitImage(config, manifest.layers, manifest.mediaType ?? MediaType.OciManifest);
      } finally {
        release();
      }
      this.images.events.emit('image', 'load', id, {});
      // ref.name is mostly a bare tag ("latest", "1.0") that names no repository, yet parses as one
      // (`latest` → docker.io/library/latest): only a name with a repository part or a tag tags the image.
      const refName = desc.annotations?.['org.opencontainers.image.ref.name'];
      const name = desc.annotations?.['io.containerd.image.name'] ?? (refName && /[/:]/.test(refName) ? refName : undefined);
      let tagged = false;
      if (name) {
        try {
          const ref = withDefaultTag(parseReference(name));
          if (!ref.digest) {
            this.images.setTagAnnounced(ref, id);
            out.push(`Loaded image: ${familiar(ref)}`);
            tagged = true;
          }
        } catch {
          // ref.name may be a bare tag ("latest") with no repository: the image loads untagged.
        }
      }
      if (!tagged) out.push(`Loaded image ID: ${id}`);
    }
    if (out.length === 0) throw invalid(`invalid archive: index.json lists no image for ${hostPlatform().os}/${hostPlatform().architecture}`);
    for (const m of out) progress({ stream: m + '\n' });
    return out;
  }

  /** Follows nested indexes down to the manifest for this machine's platform. */
  private async pickManifest(desc: Descriptor, staged: Staged, json: <T>(p: string) => Promise<T>, depth = 0): Promise<Descriptor | undefined> {
    if (depth > 4) throw invalid('invalid archive: indexes nested too deeply');
    if (!isIndexType(desc.mediaType)) return desc;
    const idx = await json<Index>(blobPath(desc.digest));
    const host = hostPlatform();
    const candidates = (idx.manifests ?? []).filter((m) => !m.platform || (m.platform.os === host.os && m.platform.architecture === host.architecture));
    for (const c of candidates) {
      if (c.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
      if (!this.lookup(staged, blobPath(c.digest))) continue;
      return this.pickManifest({ ...c, annotations: { ...desc.annotations, ...c.annotations } }, staged, json, depth + 1);
    }
    return undefined;
  }

  private async unpackReporting(parent: string, blob: Digest, diffId: Digest, size: number, progress: Progress, o: { quiet?: boolean; signal?: AbortSignal }) {
    const id = hexOf(diffId).slice(0, 12);
    const report = o.quiet ? () => {} : throttled(progress, 'Loading layer', id, size);
    if (this.images.layers.has(chainIdOf(parent, diffId))) {
      report(size);
      return this.images.layers.get(chainIdOf(parent, diffId))!;
    }
    const t0 = performance.now();
    const rec = await this.images.layers.unpack(
      parent,
      async () => {
        const raw = await this.images.content.reader(blob);
        let n = 0;
        raw.on('data', (c: Buffer) => report((n += c.length)));
        return decompress(raw);
      },
      diffId,
      o.signal,
    );
    this.log.debug({ ms: Math.round(performance.now() - t0), layer: id, size }, 'load: layer unpacked');
    return rec;
  }

  // ---- save ------------------------------------------------------------------------------

  /** Streams a tar of the named images (docker-archive + OCI layout in one). */
  async save(names: string[], o: { omit?: ReadonlySet<string> } = {}): Promise<Readable> {
    if (names.length === 0) throw invalid('no images given: name at least one image to save');
    const images = names.map((n) => ({ name: n, rec: this.images.resolve(n) }));
    const blobs = new Map<Digest, number>();
    const manifestJson: DockerArchiveEntry[] = [];
    const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    const repositories: Record<string, Record<string, string>> = {};
    const seen = new Set<string>();
    for (const { name, rec } of images) {
      const v = await this.images.view(rec);
      // Docker saves the tags that were asked for; an ID saves all of its tags' names.
      let tags = v.tags;
      try {
        const asked = withDefaultTag(parseReference(name));
        if (!/^(sha256:)?[a-f0-9]+$/.test(name) && !asked.digest) tags = [refString(asked)];
      } catch {
        /* an ID */
      }
      const manInfo = await this.images.content.info(rec.manifest);
      blobs.set(rec.manifest, manInfo.size);
      blobs.set(rec.id, (await this.images.content.info(rec.id)).size);
      // `omit` (image copy): layer blobs the receiver already has stay out of the archive.
      for (const l of v.manifest.layers) if (!o.omit?.has(l.digest)) blobs.set(l.digest, l.size);
      const key = `${rec.id}|${tags.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      manifestJson.push({ Config: blobPath(rec.id), RepoTags: tags.length ? tags.map((t) => familiar(parseReference(t))) : null, Layers: v.manifest.layers.map((l) => blobPath(l.digest)) });
      const desc = { mediaType: v.manifest.mediaType ?? MediaType.OciManifest, digest: rec.manifest, size: manInfo.size };
      if (tags.length === 0) index.manifests.push(desc);
      for (const t of tags) {
        const r = parseReference(t);
        index.manifests.push({ ...desc, annotations: { 'io.containerd.image.name': refString(r), 'org.opencontainers.image.ref.name': r.tag ?? 'latest' } });
        (repositories[familiarName(r)] ??= {})[r.tag ?? 'latest'] = hexOf(rec.id);
      }
    }
    const pack = tar.pack();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const mtime = new Date(0);
    // When the reader goes away, pack closes; the blob copy in flight must stop with it and close
    // its file (tar-stream does not destroy an entry's writer when its pack is destroyed).
    const stop = new AbortController();
    // Seen on `out` first: pack (a streamx stream) may emit its close only later, the blob held open meanwhile.
    for (const s of [pack, out]) s.once('close', () => stop.abort(new Error('the reader went away')));
    const addFile = (name: string, body: string) => new Promise<void>((res, rej) => pack.entry({ name, mtime, mode: 0o644 }, body, (e) => (e ? rej(e) : res())));
    const write = async () => {
      await new Promise<void>((res, rej) => pack.entry({ name: 'blobs/', type: 'directory', mtime, mode: 0o755 }, (e) => (e ? rej(e) : res())));
      await new Promise<void>((res, rej) => pack.entry({ name: 'blobs/sha256/', type: 'directory', mtime, mode: 0o755 }, (e) => (e ? rej(e) : res())));
      for (const [d] of blobs) {
        const size = (await this.images.content.info(d)).size;
        // The blob is opened before its entry exists: pack may be destroyed (the reader went away)
        // while it opens, and an entry destroyed before pipeline listens would throw its error.
        const reader = await this.images.content.reader(d);
        let entry: ReturnType<typeof pack.entry>;
        try {
          stop.signal.throwIfAborted();
          entry = pack.entry({ name: blobPath(d), size, mtime, mode: 0o644 });
        } catch (e) {
          reader.destroy();
          throw e;
        }
        await pipeline(reader, entry, { signal: stop.signal });
      }
      await addFile('index.json', JSON.stringify(index));
      await addFile('manifest.json', JSON.stringify(manifestJson));
      await addFile('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      if (Object.keys(repositories).length) await addFile('repositories', JSON.stringify(repositories));
      pack.finalize();
    };
    write().catch((e: unknown) => {
      if (out.destroyed) return this.log.debug({ err: e }, 'save stopped: the reader went away');
      this.log.error({ err: e }, 'save failed');
      pack.destroy(e as Error);
      out.destroy(e as Error);
    });
    // pipeline, not pipe: a reader that goes away (the client disconnected) destroys pack, which
    // stops write() — it would otherwise wait forever on a full buffer with a blob open.
    pipeline(pack, out).catch(() => {});
    for (const { rec } of images) this.images.events.emit('image', 'save', rec.id, {});
    return out;
  }
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

const blobPath = (d: string) => `blobs/sha256/${hexOf(d)}`;

/** Archive names are keys, never disk paths: normalise `./a`, `a//b`, `/a` and refuse `..`. */
function cleanPath(p: string): string {
  const n = posix.normalize('/' + p).slice(1).replace(/\/$/, '');
  return n;
}

function validateConfig(c: ImageConfig): void {
  if (!c || typeof c !== 'object' || !c.rootfs || !Array.isArray(c.rootfs.diff_ids)) throw invalid('invalid archive: image config has no rootfs.diff_ids');
  for (const d of c.rootfs.diff_ids) if (!isDigest(d)) throw invalid(`invalid archive: image config names an invalid layer digest ${d}`);
}

async function freeBytes(path: string): Promise<number> {
  try {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

