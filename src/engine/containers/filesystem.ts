/**
 * A container's union file system from the outside: its writable layer's
 * changes (diff), sizes, the whole tree (export), files in and out (cp), and
 * a new image from it (commit). A running container's rootfs is already
 * mounted in its bundle; a stopped one is mounted for the length of the call.
 */
import type { Readable } from 'node:stream';
import { EngineError, invalid } from '../../base/errdefs.js';
import { mountPointsUnder, withMounted } from '../../snapshot/mounted.js';
import { changes as diffChanges, writeDiff, type DiffOpts } from '../../archive/diff.js';
import { archiveFromRoot, exportRoot, extractToRoot, statInRoot, type PathStat } from '../../archive/copy.js';
import { MediaType, type ImageConfig } from '../../image/oci.js';
import { parseReference, withDefaultTag, familiar } from '../../image/reference.js';
import { applyChanges } from '../../image/changes.js';
import type { ContainerConfig } from '../../runtime/container-config.js';
import { resolveUser } from '../../runtime/user.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';

/** Runs fn on the container's root directory: the live mount when running, else a temporary one. */
export async function withRootfs<T>(svc: ContainerService, c: ContainerRecord, fn: (dir: string) => Promise<T>): Promise<T> {
  const live = svc.rootfs(c.id);
  if (c.state.Running && (await mountPointsUnder(live)).includes(live)) return fn(live);
  return withMounted(svc.host, await svc.snapshotter.mounts(c.id), fn);
}

/** How the writable layer differs from the image: overlay reads its upper dir, the others compare trees. */
export async function withDiff<T>(svc: ContainerService, c: ContainerRecord, fn: (o: DiffOpts) => Promise<T>): Promise<T> {
  const mounts = await svc.snapshotter.mounts(c.id);
  const ov = mounts.length === 1 && mounts[0]!.type === 'overlay' ? mounts[0]! : undefined;
  if (ov) {
    const opt = (k: string) => ov.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    return fn({ mode: 'overlay', upper: opt('upperdir')!, lower: (opt('lowerdir') ?? '').split(':').filter(Boolean) });
  }
  if (mounts.length === 1 && mounts[0]!.type === 'bind' && !c.parentChain) return fn({ mode: 'overlay', upper: mounts[0]!.source, lower: [] });
  return withRootfs(svc, c, async (upper) => {
    if (!c.parentChain) return fn({ mode: 'compare', upper, lower: [] });
    const key = `diff-view-${c.id}-${Date.now()}`;
    try {
      const view = await svc.snapshotter.view(key, c.parentChain);
      return await withMounted(svc.host, view, (lower) => fn({ mode: 'compare', upper, lower: [lower] }));
    } finally {
      await svc.snapshotter.remove(key).catch(() => undefined);
    }
  });
}

/**
 * Mount points runc creates in the rootfs for what the engine mounts over it
 * (Docker keeps them in a hidden "-init" layer): not the container's changes.
 */
export const MOUNT_POINTS: ReadonlySet<string> = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'dev/shm', 'dev/pts', 'dev/mqueue', 'dev/console', 'proc', 'sys', 'sys/fs/cgroup', 'dev', 'sbin/docker-init']);

export async function changes(svc: ContainerService, c: ContainerRecord): Promise<{ Path: string; Kind: number }[]> {
  const list = await withDiff(svc, c, (o) => diffChanges({ ...o, skip: skipOf(c) }));
  // A directory that is "changed" only because a mount point was made in it is no change either.
  const kept = list.filter((x) => {
    if (x.kind !== 0) return true;
    const rel = x.path.slice(1);
    const causedByMount = [...skipOf(c)].some((m) => m.startsWith(rel + '/'));
    return !causedByMount || list.some((y) => y.path.startsWith(x.path + '/'));
  });
  return kept.map((x) => ({ Path: x.path, Kind: x.kind }));
}

/** The mount points of this container, plus its tmpfs and bind targets. */
export function skipOf(c: ContainerRecord): Set<string> {
  const s = new Set(MOUNT_POINTS);
  for (const t of Object.keys(c.hostConfig.Tmpfs ?? {})) s.add(t.replace(/^\/+/, ''));
  for (const m of c.mounts ?? []) s.add(m.Destination.replace(/^\/+/, '')); // volumes, binds, --mount tmpfs
  return s;
}

export async function sizes(svc: ContainerService, c: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
  const rw = await svc.snapshotter.usage(c.id).then((u) => u.size).catch(() => 0);
  const img = svc.images.meta.get(c.image)?.size ?? 0;
  return { SizeRw: rw, SizeRootFs: rw + img };
}

export async function graphDriver(svc: ContainerService, c: ContainerRecord): Promise<{ Name: string; Data: Record<string, string> | null }> {
  const mounts = await svc.snapshotter.mounts(c.id).catch(() => []);
  const m = mounts[0];
  if (!m) return { Name: c.driver, Data: null };
  if (m.type === 'overlay') {
    const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
    return { Name: c.driver, Data: { LowerDir: opt('lowerdir'), MergedDir: svc.rootfs(c.id), UpperDir: opt('upperdir'), WorkDir: opt('workdir') } };
  }
  return { Name: c.driver, Data: { MergedDir: m.source } };
}

/**
 * A stream made from the container's root, with the root kept mounted until
 * the stream is done (ended, closed or failed).
 */
function streamFromRootfs<T extends { stream: Readable }>(svc: ContainerService, c: ContainerRecord, open: (dir: string) => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    withRootfs(svc, c, async (dir) => {
      const r = await open(dir);
      resolve(r);
      await new Promise<void>((done) => {
        r.stream.once('close', () => done());
        r.stream.once('end', () => done());
        r.stream.once('error', () => done());
      });
    }).catch(reject);
  });
}

/** A tar of the container's whole file system. */
export async function exportContainer(svc: ContainerService, c: ContainerRecord): Promise<Readable> {
  return (await streamFromRootfs(svc, c, async (dir) => ({ stream: exportRoot(dir) }))).stream;
}

export async function statPath(svc: ContainerService, c: ContainerRecord, path: string): Promise<PathStat> {
  checkPath(path);
  return withRootfs(svc, c, (dir) => statInRoot(dir, path, c.name));
}

export async function getArchive(svc: ContainerService, c: ContainerRecord, path: string, signal?: AbortSignal): Promise<{ stat: PathStat; stream: Readable }> {
  checkPath(path);
  return streamFromRootfs(svc, c, (dir) => archiveFromRoot(dir, path, { signal, what: c.name }));
}

export async function putArchive(
  svc: ContainerService, c: ContainerRecord, path: string, tar: Readable,
  o: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean; signal?: AbortSignal },
): Promise<void> {
  checkPath(path);
  if (c.hostConfig.ReadonlyRootfs) throw new EngineError('forbidden', 'container rootfs is marked read-only');
  await withRootfs(svc, c, async (dir) => {
    // `cp -a` gives the files to the container's user, looked up in the container's own passwd.
    const user = o.copyUIDGID && c.config.User ? await resolveUser(dir, c.config.User).then((u) => ({ uid: u.uid, gid: u.gid })) : undefined;
    await extractToRoot(dir, path, tar, { ...o, user, what: c.name });
  });
}

function checkPath(path: string): void {
  if (!path) throw invalid('path cannot be empty');
}

/**
 * `docker commit`: the writable layer becomes a new layer on the image's, with
 * the container's config (and --change instructions) as the image config.
 */
export async function commit(
  svc: ContainerService, c: ContainerRecord,
  o: {
    repo?: string; tag?: string; comment?: string; author?: string; pause: boolean; changes: string[]; config?: ContainerConfig;
    /** The builder: `config` is the whole new config (not merged over the container's), and the history line says what the step did. */
    replaceConfig?: boolean; createdBy?: string;
  },
): Promise<string> {
  const target = o.repo ? withDefaultTag(parseReference(o.tag ? `${o.repo}:${o.tag}` : o.repo)) : undefined;
  if (target?.digest) throw invalid('cannot commit to a digest reference');
  const pause = o.pause && c.state.Running && !c.state.Paused;
  if (pause) await svc.runtimeOf(c).pause(c.id);
  const images = svc.images;
  let blob;
  try {
    blob = await withDiff(svc, c, (d) => images.content.ingest(writeDiff({ ...d, skip: skipOf(c) }), {}));
  } finally {
    if (pause) await svc.runtimeOf(c).resume(c.id).catch(() => undefined);
  }
  const release = images.layers.hold([blob.digest]);
  try {
    const layer = await images.layers.unpack(c.parentChain, () => images.content.reader(blob.digest), undefined);
    const parent = await images.configOf(c.image);
    const manifest = JSON.parse((await images.content.read((images.meta.get(c.image)!).manifest as never)).toString()) as { layers: { mediaType: string; digest: string; size: number }[]; mediaType?: string };
    const base: ContainerConfig = o.replaceConfig ? { ...(o.config ?? {}) } : { ...c.config, ...(o.config ?? {}) };
    delete base.Hostname;
    delete base.Domainname;
    delete base.AttachStdin;
    delete base.AttachStdout;
    delete base.AttachStderr;
    const cfg = applyChanges(base as never, o.changes) as ContainerConfig;
    const now = new Date().toISOString();
    const config: ImageConfig = {
      architecture: parent.architecture, os: parent.os, ...(parent.variant ? { variant: parent.variant } : {}),
      created: now, author: o.author ?? '', comment: o.comment ?? '',
      container: c.id,
      config: { ...cfg, Image: c.image } as never,
      rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, layer.diffId] },
      history: [...(parent.history ?? []), { created: now, author: o.author, created_by: o.createdBy ?? [c.path, ...c.args].join(' '), comment: o.comment }],
    };
    const layers = [...manifest.layers, { mediaType: MediaType.DockerLayer, digest: blob.digest, size: blob.size }];
    const id = await images.commitImage(config, layers as never, MediaType.DockerManifest, c.image);
    if (target) images.setTagAnnounced(target, id);
    svc.events.emit('container', 'commit', c.id, { comment: o.comment ?? '', imageID: id, imageRef: target ? familiar(target) : '', name: c.name, image: c.imageName });
    return id;
  } finally {
    release();
  }
}

