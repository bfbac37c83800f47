/**
 * ImageService: the image backend of the Engine API — list, inspect, history,
 * tag, remove, prune, import. Archives (load/save) are in engine/archives.ts.
 *
 * Names are resolved like Docker does: a reference (normalised, `busybox` is
 * docker.io/library/busybox:latest), a full image ID, `sha256:`+prefix, or a
 * hex prefix of an ID, which must be unambiguous.
 */
import { Readable } from 'node:stream';
import { hexOf, shortId, type Digest } from '../base/digest.js';
import { conflict, invalid, messageOf, notFound } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import type { ContentStore } from '../image/content.js';
import type { ImageRecord, ImageStore } from '../image/store.js';
import { familiar, familiarName, parseReference, toString as refString, withDefaultTag, type Reference } from '../image/reference.js';
import { MediaType, hostPlatform, type ImageConfig, type Manifest, type Descriptor, type ContainerConfig } from '../image/oci.js';
import { applyChanges } from '../image/changes.js';
import { decompress } from '../archive/compression.js';
import type { EventBus } from './events.js';
import { chainIds, type Layers } from '../layer/layers.js';
import { labelMatches, parseFilters, pruneLabelsMatch, type Filters } from './filters.js';

/** Who uses an image; the container service answers (none until it exists). */
export interface ImageUsers {
  usersOf(imageId: string): { id: string; running: boolean }[];
  /** Chain IDs that containers' rootfs sit on, never to be pruned. */
  chainsInUse(): Set<string>;
}
export const noUsers: ImageUsers = { usersOf: () => [], chainsInUse: () => new Set() };

export interface ImageView {
  rec: ImageRecord;
  config: ImageConfig;
  manifest: Manifest;
  tags: string[]; // normalised refs with tags
  digests: string[]; // normalised name@digest refs
}

export interface DeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export class ImageService {
  users: ImageUsers = noUsers;
  constructor(
    readonly content: ContentStore,
    readonly meta: ImageStore,
    readonly layers: Layers,
    readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  // ---- resolution -------------------------------------------------------------------------

  /** Finds the image a name means, or throws not-found / invalid / ambiguous. */
  resolve(name: string): ImageRecord {
    if (!name) throw invalid('image name cannot be empty');
    const idLike = name.startsWith('sha256:') ? name.slice(7) : /^[a-f0-9]{1,64}$/.test(name) ? name : undefined;
    if (idLike !== undefined && /^[a-f0-9]+$/.test(idLike)) {
      const direct = this.meta.get(`sha256:${idLike}`);
      if (direct) return direct;
      // A short hex string may also be a repository name ("abc" is both); Docker tries the name first.
      if (!name.startsWith('sha256:')) {
        const byName = this.tryByName(name);
        if (byName) return byName;
      }
      const found = this.meta.byPrefix(idLike);
      if (found.length > 1) throw invalid(`image ID prefix "${idLike}" is ambiguous: give more characters`);
      if (found.length === 1) return found[0]!;
      throw notFound(`No such image: ${name}`);
    }
    const byName = this.tryByName(name);
    if (byName) return byName;
    throw notFound(`No such image: ${familiarOrRaw(name)}`);
  }

  private tryByName(name: string): ImageRecord | undefined {
    let ref: Reference;
    try {
      ref = parseReference(name);
    } catch (e) {
      if (/^[a-f0-9]+$/.test(name)) return undefined;
      throw e;
    }
    const id = this.meta.resolveTag(refString(withDefaultTag(ref)));
    if (id) return this.meta.get(id);
    if (ref.digest) {
      // name@digest also matches when the digest is the image's manifest digest.
      const want = ref.digest;
      return this.meta.list().find((r) => r.manifest === want && this.meta.tagsOf(r.id).some((t) => sameRepo(t, ref)));
    }
    return undefined;
  }

  async view(rec: ImageRecord): Promise<ImageView> {
    const [config, manifest] = await Promise.all([this.configOf(rec.id), this.readJson<Manifest>(rec.manifest)]);
    const refs = this.meta.tagsOf(rec.id);
    return { rec, config, manifest, tags: refs.filter((r) => !r.includes('@')), digests: refs.filter((r) => r.includes('@')) };
  }

  /** Image configs are immutable (named by their digest), so they are cached. */
  private readonly configs = new Map<string, ImageConfig>();
  async configOf(id: string): Promise<ImageConfig> {
    let c = this.configs.get(id);
    if (!c) {
      c = await this.readJson<ImageConfig>(id as Digest);
      if (this.configs.size > 4096) this.configs.clear();
      this.configs.set(id, c);
    }
    return c;
  }

  async readJson<T>(d: Digest): Promise<T> {
    return JSON.parse((await this.content.read(d)).toString('utf8')) as T;
  }

  async config(name: string): Promise<ImageConfig> {
    return this.readJson<ImageConfig>(this.resolve(name).id);
  }

  // ---- list / inspect / history ------------------------------------------------------------

  async list(o: { all?: boolean; filters?: Filters; digests?: boolean } = {}): Promise<ImageSummary[]> {
    const f = o.filters ?? parseFilters('');
    f.validate(['dangling', 'label', 'before', 'since', 'reference', 'until']);
    const tagsById = this.meta.allTags();
    let records = this.meta.list();
    const parents = new Set(records.map((r) => r.parent).filter(Boolean));
    const before = f.get('before')[0];
    const since = f.get('since')[0];
    const beforeRec = before ? this.resolve(before) : undefined;
    const sinceRec = since ? this.resolve(since) : undefined;
    const until = f.get('until')[0];
    const untilMs = until ? parseTimestamp(until) * 1000 : undefined;
    const dangling = f.bool('dangling');
    const refPatterns = f.get('reference');
    const labels = f.get('label');

    const out: ImageSummary[] = [];
    for (const rec of records) {
      const refs = tagsById.get(rec.id) ?? [];
      const tags = refs.filter((r) => !r.includes('@'));
      const digests = refs.filter((r) => r.includes('@'));
      const isDangling = tags.length === 0;
      // Without -a, intermediate images (untagged parents of other images) are hidden, like Docker.
      if (!o.all && isDangling && parents.has(rec.id) && dangling === undefined) continue;
      if (dangling === true && !isDangling) continue;
      if (dangling === false && isDangling) continue;
      const created = Date.parse(rec.created) || rec.addedAt;
      if (beforeRec && !(created < (Date.parse(beforeRec.created) || beforeRec.addedAt))) continue;
      if (sinceRec && !(created > (Date.parse(sinceRec.created) || sinceRec.addedAt))) continue;
      if (untilMs !== undefined && !(created < untilMs)) continue;
      let shownTags = tags;
      if (refPatterns.length) {
        shownTags = tags.filter((t) => refPatterns.some((p) => matchReference(p, t)));
        if (shownTags.length === 0) continue;
      }
      const imgLabels = (await this.configOf(rec.id)).config?.Labels ?? {};
      if (labels.length && !labels.every((l) => labelMatches(imgLabels, l))) continue;
      out.push({
        Id: rec.id,
        ParentId: rec.parent,
        RepoTags: shownTags.map(familiarOrRaw),
        RepoDigests: digests.map(familiarOrRaw),
        Created: Math.floor(created / 1000),
        Size: rec.size,
        SharedSize: -1,
        Labels: imgLabels,
        Containers: -1,
      });
    }
    return out;
  }

  async inspect(name: string): Promise<ImageInspect> {
    const rec = this.resolve(name);
    const v = await this.view(rec);
    const c = v.config;
    return {
      Id: rec.id,
      RepoTags: v.tags.map(familiarOrRaw),
      RepoDigests: v.digests.map(familiarOrRaw),
      Parent: rec.parent,
      Comment: c.comment ?? '',
      Created: c.created ?? '',
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: c.config ?? {},
      Architecture: c.architecture,
      ...(c.variant ? { Variant: c.variant } : {}),
      Os: c.os,
      Size: rec.size,
      GraphDriver: { Name: this.layers.driver, Data: null },
      RootFS: { Type: 'layers', Layers: c.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: rec.lastTagTime || '0001-01-01T00:00:00Z' },
      Descriptor: { mediaType: v.manifest.mediaType ?? MediaType.OciManifest, digest: rec.manifest, size: (await this.content.info(rec.manifest)).size },
    };
  }

  async history(name: string): Promise<HistoryItem[]> {
    const rec = this.resolve(name);
    const v = await this.view(rec);
    const hist = v.config.history ?? [];
    const diffIds = v.config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    let layerIdx = 0;
    const items: HistoryItem[] = hist.map((h) => {
      let size = 0;
      if (!h.empty_layer) {
        const chain = chains[layerIdx++];
        size = chain ? (this.layers.get(chain)?.size ?? 0) : 0;
      }
      return {
        Id: '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    if (items.length === 0) items.push({ Id: '<missing>', Created: Math.floor((Date.parse(v.config.created ?? '') || 0) / 1000), CreatedBy: '', Tags: null, Size: rec.size, Comment: '' });
    items.reverse();
    items[0]!.Id = rec.id;
    items[0]!.Tags = v.tags.map(familiarOrRaw);
    return items;
  }

  // ---- tag / remove / prune ---------------------------------------------------------------

  tag(source: string, repo: string, tag?: string): void {
    const rec = this.resolve(source);
    if (!repo) throw invalid('repository name must have at least one component');
    const target = parseReference(tag ? `${repo}:${tag}` : repo);
    if (target.digest) throw invalid('refusing to create a tag with a digest reference');
    const full = withDefaultTag(target);
    this.meta.setTag(refString(full), rec.id);
    this.events.emit('image', 'tag', rec.id, { name: familiar(full) });
  }

  async remove(name: string, o: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteResponseItem[]> {
    const rec = this.resolve(name);
    const refs = this.meta.tagsOf(rec.id);
    const byId = isIdLike(name, rec.id);
    const out: DeleteResponseItem[] = [];
    const users = this.users.usersOf(rec.id);

    let remaining = refs;
    if (!byId) {
      const ref = refString(withDefaultTag(parseReference(name)));
      const named = refs.includes(ref) ? ref : refs.find((r) => r.includes('@') && sameRepoRef(r, ref));
      if (named) {
        if (refs.length <= 1 && users.length > 0 && !o.force)
          throw conflict(`conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(rec.id)}`);
        // Untag first, as Docker does. When that removed the repository's last tag, the
        // repository's digest references (RepoDigests from a pull or push) go with it.
        const gone = [named];
        const repo = repoOf(named);
        if (!named.includes('@') && !refs.some((r) => r !== named && !r.includes('@') && repoOf(r) === repo))
          gone.push(...refs.filter((r) => r.includes('@') && repoOf(r) === repo));
        for (const r of gone) {
          this.meta.deleteTag(r);
          out.push({ Untagged: familiarOrRaw(r) });
          this.events.emit('image', 'untag', rec.id, { name: familiarOrRaw(r) });
        }
        remaining = refs.filter((r) => !gone.includes(r));
        // Other names remain, or a container still holds the image: the untag was the whole job.
        if (remaining.length > 0 || users.length > 0) return out;
      }
    } else if (!isSingleReference(refs) && refs.length > 1 && !o.force) {
      throw conflict(`conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`);
    }
    const running = users.find((u) => u.running);
    if (running) throw conflict(`conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
    if (users.length && !o.force) throw conflict(`conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`);
    if (this.meta.children(rec.id).length) throw conflict(`conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image has dependent child images`);

    for (const r of remaining) {
      this.meta.deleteTag(r);
      out.push({ Untagged: familiarOrRaw(r) });
      this.events.emit('image', 'untag', rec.id, { name: familiarOrRaw(r) });
    }
    if (users.length) return out; // forced with a stopped container: untag only, like Docker
    out.push(...(await this.deleteImage(rec, !o.noprune)));
    return out;
  }

  /** Deletes the image record, its unused layers and blobs; with prune, also untagged parents. */
  private async deleteImage(rec: ImageRecord, pruneParents: boolean): Promise<DeleteResponseItem[]> {
    const out: DeleteResponseItem[] = [];
    const manifest = await this.readJson<Manifest>(rec.manifest).catch(() => undefined);
    this.meta.delete(rec.id);
    this.log.debug({ id: rec.id }, 'image deleted');
    out.push({ Deleted: rec.id });
    this.events.emit('image', 'delete', rec.id, { name: rec.id });
    await this.collect(manifest ? [rec.id, rec.manifest, ...manifest.layers.map((l) => l.digest)] : [rec.id, rec.manifest]);
    if (pruneParents && rec.parent) {
      const parent = this.meta.get(rec.parent);
      if (parent && this.meta.tagsOf(parent.id).length === 0 && this.meta.children(parent.id).length === 0 && this.users.usersOf(parent.id).length === 0)
        out.push(...(await this.deleteImage(parent, true)));
    }
    return out;
  }

  /** Removes layers and blobs no remaining image needs. `candidates` are blobs that may have become garbage. */
  async collect(candidates: Digest[] = []): Promise<number> {
    const keepChains = this.users.chainsInUse();
    const keepBlobs = new Set<string>();
    for (const r of this.meta.list()) {
      keepBlobs.add(r.id).add(r.manifest);
      const [cfg, man] = await Promise.all([this.readJson<ImageConfig>(r.id).catch(() => undefined), this.readJson<Manifest>(r.manifest).catch(() => undefined)]);
      for (const c of chainIds(cfg?.rootfs.diff_ids ?? [])) keepChains.add(c);
      for (const l of man?.layers ?? []) keepBlobs.add(l.digest);
    }
    let reclaimed = 0;
    for (const d of candidates) {
      if (keepBlobs.has(d)) continue;
      const info = await this.content.info(d).catch(() => undefined);
      if (!info) continue;
      await this.content.delete(d);
      reclaimed += info.size;
    }
    return reclaimed + (await this.layers.prune(keepChains));
  }

  async prune(filters: Filters): Promise<{ ImagesDeleted: DeleteResponseItem[] | null; SpaceReclaimed: number }> {
    filters.validate(['dangling', 'until', 'label', 'label!']);
    const danglingOnly = filters.bool('dangling') !== false;
    const until = filters.get('until')[0];
    const untilMs = until ? parseTimestamp(until) * 1000 : undefined;
    const deleted: DeleteResponseItem[] = [];
    let space = 0;
    for (const rec of this.meta.list()) {
      if (!this.meta.get(rec.id)) continue; // removed as a parent already
      const refs = this.meta.tagsOf(rec.id);
      if (danglingOnly && refs.some((r) => !r.includes('@'))) continue;
      if (this.users.usersOf(rec.id).length) continue;
      if (this.meta.children(rec.id).length) continue;
      if (untilMs !== undefined && !((Date.parse(rec.created) || rec.addedAt) < untilMs)) continue;
      const cfg = await this.configOf(rec.id);
      const labels = cfg.config?.Labels ?? {};
      if (!pruneLabelsMatch(filters, labels)) continue;
      for (const r of refs) {
        this.meta.deleteTag(r);
        deleted.push({ Untagged: familiarOrRaw(r) });
      }
      const before = await this.usage();
      deleted.push(...(await this.deleteImage(rec, true)));
      space += Math.max(0, before - (await this.usage()));
    }
    this.events.emit('image', 'prune', '', { reclaimed: String(space) });
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
  }

  /** Bytes of all layers (what `system df` calls the images' size). */
  async usage(): Promise<number> {
    return this.meta.layers().reduce((n, l) => n + l.size, 0);
  }

  // ---- import ------------------------------------------------------------------------------

  /**
   * `docker import`: a (possibly compressed) rootfs tarball becomes a one-layer image.
   * The layer blob is the tar exactly as given (decompressed), so its digest is the diff ID, as in Docker.
   */
  async import(src: Readable, o: { repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string; source?: string; signal?: AbortSignal }): Promise<Digest> {
    const target = o.repo ? withDefaultTag(parseReference(o.tag ? `${o.repo}:${o.tag}` : o.repo)) : undefined;
    if (target?.digest) throw invalid('cannot import to a digest reference');
    const platform = o.platform ? parsePlatform(o.platform) : hostPlatform();
    const baseCfg = applyChanges({}, o.changes ?? []);
    const tar = await decompress(src);
    const blob = await this.content.ingest(tar, { signal: o.signal, limit: this.layers.maxBytes }).catch((e: unknown) => {
      throw invalid(`importing failed: ${messageOf(e)}`, e);
    });
    const release = this.layers.hold([blob.digest]); // a one-layer image: its chain ID is its diff ID
    try {
      const layer = await this.layers.unpack('', () => this.content.reader(blob.digest), blob.digest, o.signal);
      const now = new Date().toISOString();
      const config: ImageConfig = {
        architecture: platform.architecture,
        ...(platform.variant ? { variant: platform.variant } : {}),
        os: platform.os,
        created: now,
        comment: o.message ?? '',
        config: { ...baseCfg, Env: baseCfg.Env ?? null, Cmd: baseCfg.Cmd ?? null },
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created: now, created_by: '', comment: o.message || `Imported from ${o.source ?? '-'}` }],
      };
      const id = await this.commitImage(config, [{ mediaType: MediaType.DockerLayer, digest: blob.digest, size: blob.size }], MediaType.DockerManifest);
      if (target) this.setTagAnnounced(target, id);
      this.events.emit('image', 'import', id, target ? { name: familiar(target) } : {});
      return id;
    } catch (e) {
      await this.collect([blob.digest]);
      throw e;
    } finally {
      release();
    }
  }

  /** Stores config and manifest blobs and the image record; returns the image ID. Layers must already be unpacked. */
  async commitImage(config: ImageConfig, layers: Descriptor[], manifestType: string, parent = ''): Promise<Digest> {
    const docker = manifestType === MediaType.DockerManifest;
    const cfgBlob = await this.content.put(JSON.stringify(config));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig, digest: cfgBlob.digest, size: cfgBlob.size },
      layers,
    };
    const manBlob = await this.content.put(JSON.stringify(manifest));
    const chains = chainIds(config.rootfs.diff_ids);
    const size = chains.reduce((n, c) => n + (this.layers.get(c)?.size ?? 0), 0);
    const existing = this.meta.get(cfgBlob.digest);
    this.meta.put({ id: cfgBlob.digest, manifest: existing?.manifest ?? manBlob.digest, created: config.created ?? '', size, parent, addedAt: existing?.addedAt ?? Date.now() });
    return cfgBlob.digest;
  }

  /** Points a tag at an image; returns the ID the tag pointed to before, if another image. */
  setTagAnnounced(ref: Reference, id: Digest): string | undefined {
    const before = this.meta.setTag(refString(ref), id);
    this.events.emit('image', 'tag', id, { name: familiar(ref) });
    return before;
  }

  hexIds(): string[] {
    return this.meta.list().map((r) => hexOf(r.id));
  }
}

// ---- API shapes ----------------------------------------------------------------------------

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  Descriptor?: Descriptor;
  [k: string]: unknown;
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

// ---- helpers -------------------------------------------------------------------------------

export function familiarOrRaw(s: string): string {
  try {
    return familiar(parseReference(s));
  } catch {
    return s;
  }
}

function sameRepo(fullRef: string, r: Reference): boolean {
  try {
    return familiarName(parseReference(fullRef)) === familiarName(r);
  } catch {
    return false;
  }
}
/** The repository of a normalised reference: docker.io/library/busybox for ...:latest and ...@sha256:... */
function repoOf(fullRef: string): string {
  try {
    const r = parseReference(fullRef);
    return `${r.domain}/${r.path}`;
  } catch {
    return fullRef;
  }
}

function sameRepoRef(a: string, b: string): boolean {
  try {
    return sameRepo(a, parseReference(b)) && parseReference(a).digest === parseReference(b).digest;
  } catch {
    return false;
  }
}

/**
 * Docker's isSingleReference: at most one tag, and every digest reference in that tag's
 * repository (a pulled or pushed image: `busybox:latest` + `busybox@sha256:…`).
 */
function isSingleReference(refs: string[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => !r.includes('@'));
  if (tags.length > 1) return false;
  const digestRepos = new Set(refs.filter((r) => r.includes('@')).map(repoOf));
  return digestRepos.size === 1 && digestRepos.has(repoOf(tags[0] ?? refs[0]!));
}

/** Docker's isImageIDPrefix: the name was an ID (or a prefix of it), not a reference. */
function isIdLike(name: string, id: string): boolean {
  const hex = name.startsWith('sha256:') ? name.slice(7) : name;
  return /^[a-f0-9]+$/.test(hex) && hexOf(id).startsWith(hex);
}

export function parsePlatform(s: string): { os: string; architecture: string; variant?: string } {
  const parts = s.toLowerCase().split('/');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p)))
    throw invalid(`invalid platform "${s}": expected os[/arch[/variant]]`);
  const arch = parts[1] ?? hostPlatform().architecture;
  return { os: parts[0]!, architecture: arch === 'x86_64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch, ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** Docker's filter timestamps: RFC 3339, unix seconds (with fraction), or a Go duration ago ("10m", "2h30m"). */
export function parseTimestamp(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const dur = s.match(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  if (dur) {
    const mult: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
    let secs = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) secs += Number(m[1]) * mult[m[2]!]!;
    return Date.now() / 1000 - secs;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalid(`invalid timestamp "${s}": use RFC 3339, unix seconds or a duration like 10m`);
  return t / 1000;
}

/** Docker's reference filter: a path-style glob on the familiar name, with or without tag. */
function matchReference(pattern: string, fullRef: string): boolean {
  let fam: string;
  let famName: string;
  try {
    const r = parseReference(fullRef);
    fam = familiar(r);
    famName = familiarName(r);
  } catch {
    return false;
  }
  const re = globToRegExp(pattern);
  return re.test(fam) || re.test(famName) || re.test(fullRef);
}

function globToRegExp(p: string): RegExp {
  let s = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') s += '[^/]*';
    else if (c === '?') s += '[^/]';
    else if (c === '[') {
      const j = p.indexOf(']', i);
      if (j < 0) s += '\\[';
      else {
        s += '[' + p.slice(i + 1, j).replace(/^!/, '^') + ']';
        i = j;
      }
    } else s += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  try {
    return new RegExp(`^${s}$`);
  } catch {
    throw invalid(`invalid reference filter "${p}": not a valid pattern`);
  }
}

