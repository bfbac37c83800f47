/**
 * The builder's BuildBackend (build/backend.ts) on the engine's real services:
 * intermediate containers are ordinary containers (runc, the monitor, the
 * bridge network unless the build says otherwise), commits are the same
 * commits `docker commit` makes, and images resolve and pull like `docker run`'s.
 */
import type { Readable } from 'node:stream';
import { invalid, isKind, notFound } from '../base/errdefs.js';
import type { BuildBackend, BuildImage, ContainerFiles } from '../build/backend.js';
import type { ContainerConfig, HostConfig } from '../runtime/container-config.js';
import { hostPlatform, MediaType, type ImageConfig } from '../image/oci.js';
import { familiar, parseReference, withDefaultTag } from '../image/reference.js';
import type { DistributionService } from '../distribution/service.js';
import type { ContainerService } from './containers/service.js';
import { commit, withRootfs } from './containers/filesystem.js';
import { extractToRoot, statInRoot } from '../archive/copy.js';
import { resolveUser } from '../runtime/user.js';
import { findSources, receiveContext } from '../build/context.js';
import type { TarFS } from '../build/contextfs.js';
import { Builder, newBuildId, type BuildOptions, type Emit } from '../build/builder.js';
import { BuildCache } from '../build/cache.js';
import { planDockerfile } from '../build/plan.js';
import { DockerfileError } from '../build/dockerfile/error.js';
import { goClean, parseDockerignore, PatternMatcher } from '../build/dockerignore.js';
import type { Db } from '../base/db.js';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FrameReader } from '../runtime/monitor.js';
import { logs } from './containers/io.js';
import { Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { nowIso } from './containers/record.js';

export class EngineBuildBackend implements BuildBackend {
  constructor(
    private readonly containers: ContainerService,
    private readonly distribution: DistributionService,
  ) {}

  private get images() {
    return this.containers.images;
  }

  async image(ref: string, o: { pull: boolean; platform?: string; progress: (line: string) => void; signal?: AbortSignal }): Promise<BuildImage> {
    let have: string | undefined;
    try {
      have = this.images.resolve(ref).id;
    } catch (e) {
      if (!isKind(e, 'not-found')) throw e;
    }
    if (!have || (o.pull && !/^sha256:|^[a-f0-9]{12,64}$/.test(ref))) {
      const r = withDefaultTag(parseReference(ref));
      try {
        await this.distribution.pull(ref, undefined, {
          signal: o.signal,
          progress: (m) => {
            if (m.status && !m.progressDetail?.current) o.progress(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
          },
        });
      } catch (e) {
        if (!have) throw notFound(`pull access denied or repository does not exist for ${ref}: ${(e as Error).message}`);
      }
      have = this.images.resolve(familiar(r)).id;
    }
    return { id: have, config: await this.images.configOf(have) };
  }

  config(id: string): Promise<ImageConfig> {
    return this.images.configOf(id);
  }

  async create(image: string, config: ContainerConfig, host: HostConfig): Promise<string> {
    const r = await this.containers.create({ config: { ...config, Image: image }, hostConfig: host });
    return r.Id;
  }

  async run(container: string, output: (chunk: Buffer) => void, signal?: AbortSignal): Promise<number> {
    const c = this.containers.find(container);
    const exited = this.containers.wait(c, 'next-exit');
    await this.containers.start(container);
    const reader = new FrameReader((_s, _f, payload) => output(payload), () => undefined);
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        reader.push(chunk);
        cb();
      },
    });
    const onAbort = () => void this.containers.kill(container, 'SIGKILL').catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await logs(this.containers, c, { stdout: true, stderr: true, follow: true, timestamps: false }, sink);
      return await exited;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }


  async commit(container: string, config: ContainerConfig, createdBy: string): Promise<string> {
    // The committed config is the step's, not the container's (which has the RUN command as Cmd).
    return commit(this.containers, this.containers.find(container), { pause: false, changes: [], config: { ...config }, replaceConfig: true, createdBy });
  }

  async configOnly(parent: string, config: ContainerConfig, createdBy: string): Promise<string> {
    const base = await this.images.configOf(parent);
    const rec = this.images.meta.get(parent);
    if (!rec) throw notFound(`No such image: ${parent}`);
    const manifest = JSON.parse((await this.images.content.read(rec.manifest as never)).toString()) as { layers: never[]; mediaType: string };
    const now = nowIso();
    const next: ImageConfig = {
      ...base, created: now, config: config as never,
      history: [...(base.history ?? []), { created: now, created_by: createdBy, empty_layer: true }],
    };
    delete next.container;
    delete next.container_config;
    return this.images.commitImage(next, manifest.layers, manifest.mediaType ?? MediaType.DockerManifest, parent);
  }

  async remove(container: string): Promise<void> {
    await this.containers.remove(container, { force: true, volumes: true });
  }

  tag(image: string, ref: string): void {
    const r = withDefaultTag(parseReference(ref));
    if (r.digest) throw invalid(`invalid tag ${ref}: a build cannot be tagged with a digest`);
    this.images.setTagAnnounced(r, image as never);
  }

  withRootfs<T>(container: string, fn: (dir: string) => Promise<T>): Promise<T> {
    return withRootfs(this.containers, this.containers.find(container), fn);
  }

  files<T>(container: string, fn: (f: ContainerFiles) => Promise<T>): Promise<T> {
    const c = this.containers.find(container);
    return withRootfs(this.containers, c, (root) =>
      fn({
        ids: async (spec) => {
          const u = await resolveUser(root, spec).catch((e: unknown) => {
            throw invalid(`unable to convert uid/gid chown string to host mapping: ${(e as Error).message}`);
          });
          return { uid: u.uid, gid: u.gid };
        },
        dirs: async (paths) => {
          const out = new Set<string>();
          for (const p of paths) if ((await statInRoot(root, p).catch(() => undefined))?.mode! & 0x80000000) out.add(p);
          return out;
        },
        // As `docker cp` extracts, scoped to the root, but owners kept as the tar says (the builder sets them).
        put: (path, tar) => extractToRoot(root, path, tar, { noOverwriteDirNonDir: false, copyUIDGID: false, what: c.name }),
      }),
    );
  }

  async fromScratch(config: ContainerConfig, fn: (container: string) => Promise<string>): Promise<string> {
    // An image with no layers to make the container from (the same one every time: its ID is its config's digest).
    const { architecture, os } = hostPlatform();
    const empty = await this.images.commitImage({ architecture, os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, [], MediaType.DockerManifest);
    const id = await this.create(empty, { ...config, Cmd: ['true'] }, { NetworkMode: 'none' });
    try {
      return await fn(id);
    } finally {
      await this.remove(id).catch(() => undefined);
    }
  }
}

/** What POST /build asks for: the builder's options, with the context still to be received. */
export type BuildRequest = Omit<BuildOptions, 'context'> & { body: Readable; dockerfile: string };

/**
 * POST /build: the context unpacked into a directory of its own, the
 * Dockerfile parsed and planned, the builder run, the result tagged; the
 * context and every intermediate container are gone afterwards, also when
 * the build failed or the client went away.
 */
export class BuildService {
  readonly cache: BuildCache;
  private readonly backend: EngineBuildBackend;

  constructor(
    private readonly containers: ContainerService,
    distribution: DistributionService,
    db: Db,
    private readonly dataRoot: string,
  ) {
    this.cache = new BuildCache(db);
    this.backend = new EngineBuildBackend(containers, distribution);
  }

  async build(req: BuildRequest, emit: Emit): Promise<string> {
    const dir = join(this.dataRoot, 'builds', newBuildId());
    try {
      const context = await receiveContext(req.body, join(dir, 'context.tar'), req.signal);
      for (const t of req.tags) parseReference(t); // a bad tag fails before any step runs
      const name = req.dockerfile || 'Dockerfile';
      let text: string;
      try {
        text = await readFileInContext(context, name);
      } catch (e) {
        if (isKind(e, 'invalid') && /outside/.test((e as Error).message)) throw e;
        throw invalid(`Cannot locate specified Dockerfile: ${name}`);
      }
      await hideIgnored(context, name);
      let id: string;
      try {
        const { stages, metaArgs, warnings } = planDockerfile(text, name);
        for (const w of warnings) if (!req.quiet) emit({ stream: `[WARNING]: ${w}\n` });
        const images = this.containers.images;
        const builder = new Builder(this.backend, this.cache, (i) => !!images.meta.get(i), emit, { ...req, context });
        id = await builder.build(stages, metaArgs);
      } catch (e) {
        // Where in the Dockerfile, and the text there (Docker's message itself says only the line).
        if (e instanceof DockerfileError) {
          const lines = e.source.split('\n').map((l, i) => `${String(e.line + i).padStart(4)} | >>> ${l}`);
          emit({ stream: `${e.where}\n--------------------\n${lines.join('\n')}\n--------------------\n` });
        }
        throw e;
      }
      emit({ aux: { ID: id } });
      // Quiet: the ID is the only output, as a stream line (what the docker CLI prints and --iidfile reads).
      if (req.quiet) emit({ stream: `${id}\n` });
      if (!req.quiet) emit({ stream: `Successfully built ${id.replace(/^sha256:/, '').slice(0, 12)}\n` });
      for (const t of req.tags) {
        this.backend.tag(id, t);
        if (!req.quiet) emit({ stream: `Successfully tagged ${familiar(withDefaultTag(parseReference(t)))}\n` });
      }
      return id;
    } finally {
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /**
   * POST /build/prune: forgets cached steps — those whose image nothing is
   * tagged to (the intermediate images of earlier builds), or with `all`
   * every one. The images stay until `image prune` takes the unused ones.
   */
  prune(all: boolean): { CachesDeleted: string[]; SpaceReclaimed: number } {
    const tagged = new Set(this.containers.images.meta.list().filter((r) => this.containers.images.meta.tagsOf(r.id as never).length).map((r) => r.id));
    return { CachesDeleted: this.cache.prune(all, (id) => tagged.has(id as never)), SpaceReclaimed: 0 };
  }
}

/**
 * Docker's removeDockerfile: when .dockerignore names the Dockerfile or
 * itself, the daemon reads them, then takes them out of the context, so that
 * `COPY . .` does not copy them.
 */
async function hideIgnored(context: TarFS, dockerfile: string): Promise<void> {
  const info = await context.lstat('.dockerignore');
  if (!info || info.type !== 'file') return;
  const text = await buffer(context.open('.dockerignore'));
  let matcher: PatternMatcher;
  try {
    matcher = new PatternMatcher(parseDockerignore(text));
  } catch {
    return; // a bad pattern: Docker ignores the error here and removes nothing (the CLI reports it)
  }
  for (const file of ['.dockerignore', goClean(dockerfile)]) if (matcher.matchesOrParentMatches(file)) context.hide(file);
}

/** The Dockerfile, read from the context (a symlink in it is followed only within the context). */
async function readFileInContext(context: TarFS, name: string): Promise<string> {
  const [src] = await findSources(context, [name]);
  if (!src || src.info.type !== 'file') throw notFound(name);
  return (await buffer(context.open(src.rel))).toString('utf8');
}
