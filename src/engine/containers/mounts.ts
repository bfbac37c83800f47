/**
 * A container's mounts, as Docker decides them (moby daemon/volumes.go,
 * volume/mounts/linux_parser.go):
 *
 *   at create   HostConfig.VolumesFrom  → the other container's mount points (ro when asked)
 *               HostConfig.Binds        "/host:/ctr[:mode]" binds, "name:/ctr[:mode]" named volumes (made on demand)
 *               HostConfig.Mounts       type bind | volume | tmpfs
 *               Config.Volumes          an anonymous volume each (the image's VOLUMEs too), unless something is mounted there
 *               → MountPoint[] on the container record
 *   at start    volumes mounted for the container (driver refs), a missing -v source directory made,
 *               the image's files copied into an empty volume once (copy-up), → OCI bind/tmpfs mounts
 *   at exit     the container's volume refs dropped (the last one unmounts a tmpfs or nfs volume)
 *   at rm -v    its anonymous volumes removed (named ones stay), as `--rm` does too
 *
 * Parsing is pure and throws `invalid` with Docker's messages; everything that
 * touches volumes goes through the VolumeService.
 */
import { closeSync, existsSync, promises as fs } from 'node:fs';
import { posix } from 'node:path';
import { EngineError, invalid, isKind, messageOf } from '../../base/errdefs.js';
import type { Host } from '../../base/host.js';
import type { Logger } from '../../base/log.js';
import { containerPath, RootDir, ScopeError } from '../../archive/resolve.js';
import type { ContainerConfig, HostConfig, MountPoint as MountSpec } from '../../runtime/container-config.js';
import { mergeTmpfsOptions, type OciMount } from '../../runtime/spec.js';
import { DEFAULT_DRIVER, type VolumeService } from '../volumes.js';
import type { ContainerRecord } from './record.js';

/** A mount point of a container, persisted on its record (moby's volume/mounts.MountPoint). */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** bind: the host path; volume: the volume's data directory; tmpfs: ''. */
  Source: string;
  Destination: string;
  RW: boolean;
  /** volume: its name ('' until an anonymous one is made) and driver. */
  Name?: string;
  Driver?: string;
  /** The mode as the user wrote it (-v's third field); 'z' for a local volume without one, like Docker. */
  Mode: string;
  /** bind: 'rprivate' unless asked otherwise; '' for volumes and tmpfs. */
  Propagation: string;
  /** Copy the image's files at Destination into the volume at the next start (once, and only into an empty volume). */
  CopyData?: boolean;
  /** What was asked for: a --mount as given, a -v as the equivalent mount. `Source: ''` marks an anonymous volume. */
  Spec: MountSpec;
  /** A --mount bind: its source must exist; no directory is made for it. */
  SkipMountpointCreation?: boolean;
}

// ---- parsing (volume/mounts/linux_parser.go) ------------------------------------------------

const RW_MODES = ['rw', 'ro'];
const LABEL_MODES = ['z', 'Z'];
const PROPAGATION_MODES = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'];
const CONSISTENCY_MODES = ['consistent', 'cached', 'delegated'];
const DEFAULT_PROPAGATION = 'rprivate';

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;
const mountConfigError = (type: string | undefined, why: string) => invalid(`invalid mount config for type ${JSON.stringify(type ?? '')}: ${why}`);

/** linuxValidMountMode: comma-separated modes, at most one of each kind. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const kind = [RW_MODES, LABEL_MODES, PROPAGATION_MODES, ['nocopy'], CONSISTENCY_MODES].findIndex((k) => k.includes(o));
    if (kind < 0) return false;
    counts[kind]!++;
  }
  return counts.every((c) => c <= 1);
}

const readWrite = (mode: string) => validMountMode(mode) && !mode.split(',').includes('ro');
const propagationOf = (mode: string) => mode.split(',').find((o) => PROPAGATION_MODES.includes(o));

/** ParseMountSpec: a HostConfig.Mounts entry checked and turned into a mount point (volumes not made yet). */
export function parseMountSpec(cfg: MountSpec, o: { checkBindSource?: boolean; randomName?: boolean } = {}): MountPoint {
  const type = cfg.Type;
  const target = cfg.Target ?? '';
  if (!target) throw mountConfigError(type, 'field Target must not be empty');
  if (cleanPath(target) === '/') throw mountConfigError(type, "invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) throw mountConfigError(type, `invalid mount path: '${target}' mount path must be absolute`);
  const source = cfg.Source ?? '';
  switch (type) {
    case 'bind': {
      if (!source) throw mountConfigError(type, 'field Source must not be empty');
      const p = cfg.BindOptions?.Propagation;
      if (p && !PROPAGATION_MODES.includes(p)) throw mountConfigError(type, `invalid propagation mode: ${p}`);
      if (cfg.VolumeOptions) throw mountConfigError(type, 'field VolumeOptions must not be specified');
      if (!source.startsWith('/')) throw mountConfigError(type, `invalid mount path: '${source}' mount path must be absolute`);
      if (o.checkBindSource && !existsSync(source)) throw mountConfigError(type, `bind source path does not exist: ${source}`);
      break;
    }
    case 'volume': {
      if (cfg.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (!source && cfg.ReadOnly) throw mountConfigError(type, 'must not set ReadOnly mode when using anonymous volumes');
      const sub = cfg.VolumeOptions?.Subpath;
      if (sub && (sub.startsWith('/') || cleanPath(sub).split('/')[0] === '..'))
        throw mountConfigError(type, 'subpath must be a relative path within the volume');
      break;
    }
    case 'tmpfs':
      if (cfg.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (source) throw mountConfigError(type, 'field Source must not be specified');
      break;
    default:
      throw mountConfigError(type, 'mount type unknown');
  }
  const mp: MountPoint = { Type: type, Source: '', Destination: cleanPath(target), RW: !cfg.ReadOnly, Mode: '', Propagation: '', Spec: cfg };
  if (type === 'volume') {
    mp.Name = source;
    mp.Driver = cfg.VolumeOptions?.DriverConfig?.Name ?? '';
    // A subpath is a view into a volume that already has its content.
    mp.CopyData = !cfg.VolumeOptions?.NoCopy && !cfg.VolumeOptions?.Subpath;
  } else if (type === 'bind') {
    mp.Source = cleanPath(source);
    mp.Propagation = cfg.BindOptions?.Propagation || DEFAULT_PROPAGATION;
  }
  return mp;
}

/** ParseMountRaw: one HostConfig.Binds entry, `[source:]destination[:mode]`. */
export function parseBind(raw: string, volumeDriver = ''): MountPoint {
  const arr = splitN(raw, ':', 4);
  if (arr[0] === '') throw invalid(invalidSpec(raw));
  const spec: MountSpec = {};
  let mode = '';
  switch (arr.length) {
    case 1:
      spec.Target = arr[0];
      break;
    case 2:
      if (validMountMode(arr[1]!)) throw invalid(invalidSpec(raw)); // "/foo:rw": a destination and a mode is no volume
      [spec.Source, spec.Target] = arr;
      break;
    case 3:
      [spec.Source, spec.Target, mode] = arr as [string, string, string];
      break;
    default:
      throw invalid(invalidSpec(raw));
  }
  if (!validMountMode(mode)) throw invalid(`invalid mode: ${mode}`);
  spec.Type = spec.Source?.startsWith('/') ? 'bind' : 'volume';
  spec.ReadOnly = !readWrite(mode);
  if (volumeDriver && spec.Type === 'volume') spec.VolumeOptions = { DriverConfig: { Name: volumeDriver } };
  if (mode.split(',').includes('nocopy')) {
    spec.VolumeOptions ??= {};
    spec.VolumeOptions.NoCopy = true;
  }
  const prop = propagationOf(mode);
  if (prop) spec.BindOptions = { Propagation: prop };
  let mp: MountPoint;
  try {
    mp = parseMountSpec(spec);
  } catch (e) {
    throw invalid(`${invalidSpec(raw)}: ${messageOf(e)}`);
  }
  mp.Mode = mode;
  return mp;
}

/** ParseVolumesFrom: `container[:mode]`, where mode is ro or rw (default rw). */
export function parseVolumesFrom(spec: string): { id: string; mode: string } {
  if (spec === '') throw invalid('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  const id = i < 0 ? spec : spec.slice(0, i);
  const mode = i < 0 ? '' : spec.slice(i + 1);
  if (mode === '') return { id, mode: 'rw' };
  if (!validMountMode(mode) || propagationOf(mode) || mode.split(',').includes('nocopy')) throw invalid(`invalid mode: ${mode}`);
  return { id, mode };
}

/** Go's strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

export const duplicateMountPoint = (dest: string) => invalid(`Duplicate mount point: ${dest}`);

/** ConvertTmpfsOptions: a tmpfs mount's spec as mount data ("ro,mode=1770,size=64m"). */
export function tmpfsData(spec: MountSpec): string {
  const out: string[] = [];
  if (spec.ReadOnly) out.push('ro');
  const t = spec.TmpfsOptions;
  if (t?.Mode) out.push(`mode=${t.Mode.toString(8)}`);
  if (t?.SizeBytes) {
    let size = t.SizeBytes;
    let suffix = '';
    for (const [s, d] of [['g', 1 << 30], ['m', 1 << 20], ['k', 1 << 10]] as const) {
      if (size % d === 0) {
        size /= d;
        suffix = s;
        break;
      }
    }
    out.push(`size=${size}${suffix}`);
  }
  return out.join(',');
}

/** The mount point as inspect and ps show it (types.MountPoint; Name and Driver omitted when empty). */
export function mountPointView(m: MountPoint): object {
  return {
    Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}), Mode: m.Mode, RW: m.RW, Propagation: m.Propagation,
  };
}

/** The OCI mount for a mount point whose data is at source (Docker's WithMounts). */
export function ociMount(m: MountPoint, source: string): OciMount {
  if (m.Type === 'tmpfs') {
    const data = tmpfsData(m.Spec);
    return { destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', DEFAULT_PROPAGATION, ...(data ? data.split(',') : [])]) };
  }
  const options = [m.Spec.BindOptions?.NonRecursive ? 'bind' : 'rbind'];
  if (!m.RW) options.push('ro');
  if (m.Propagation) options.push(m.Propagation);
  return { destination: m.Destination, type: 'bind', source, options };
}

/** Docker sets the rootfs propagation so that shared and slave binds propagate at all. */
export function rootfsPropagation(mounts: readonly MountPoint[]): string | undefined {
  const props = new Set(mounts.map((m) => m.Propagation));
  if (props.has('shared') || props.has('rshared')) return 'shared';
  if (props.has('slave') || props.has('rslave')) return 'rslave';
  return undefined;
}

// ---- the engine side -------------------------------------------------------------------------

/**
 * Copy-up: the image's files at dest (resolved inside the rootfs, symlinks
 * and all) into an empty volume, with modes, owners, symlinks, hard links
 * and xattrs (`cp -a`); the volume's root takes the directory's owner and
 * mode. Nothing when the image has no directory there.
 */
export async function copyImageContent(host: Host, rootfs: string, dest: string, volume: string): Promise<boolean> {
  if ((await fs.readdir(volume)).length > 0) return false;
  const root = RootDir.open(rootfs);
  try {
    let fd: number;
    try {
      fd = root.dir(containerPath(dest)).fd;
    } catch (e) {
      if (e instanceof ScopeError) return false;
      throw e;
    }
    try {
      // The directory is open here; cp reaches it through this process's fd, never through a path the image could redirect.
      await host.run('cp', ['-a', '--', `/proc/${process.pid}/fd/${fd}/.`, volume]);
    } finally {
      closeSync(fd);
    }
    return true;
  } finally {
    root.close();
  }
}

interface Pending {
  /** Anonymous volumes this create made: removed again if it fails. */
  made: string[];
}

/** The container service's door to volumes: resolve at create, mount at start, release at exit, clean up at rm. */
export class ContainerMounts {
  private readonly pending = new Map<string, Pending>();

  constructor(
    readonly volumes: VolumeService,
    private readonly records: () => ContainerRecord[],
    private readonly host: Host,
    private readonly log: Logger,
  ) {
    volumes.users = { usersOf: (name) => this.usersOf(name) };
  }

  /** IDs of the containers whose mount points name the volume. */
  usersOf(name: string): string[] {
    return this.records().filter((c) => c.mounts?.some((m) => m.Type === 'volume' && m.Name === name)).map((c) => c.id);
  }

  /**
   * registerMountPoints + the anonymous volumes of Config.Volumes. Every spec
   * is parsed and every destination checked first, so a bad spec creates
   * nothing (a volume name the driver refuses fails at its turn, as in
   * Docker). The volumes made or found are reserved for id until
   * committed() or rollback().
   */
  async resolve(id: string, config: ContainerConfig, hc: HostConfig, find: (ref: string) => ContainerRecord): Promise<MountPoint[]> {
    const from = (hc.VolumesFrom ?? []).map((spec) => {
      const { id: ref, mode } = parseVolumesFrom(spec);
      let donor: ContainerRecord;
      try {
        donor = find(ref);
      } catch (e) {
        throw invalid(messageOf(e), e);
      }
      return { donor, rw: readWrite(mode) };
    });
    const binds = (hc.Binds ?? []).map((b) => parseBind(b, hc.VolumeDriver ?? ''));
    const specs = (hc.Mounts ?? []).map((m) => parseMountSpec(m, { checkBindSource: true }));
    const anonymous = Object.keys(config.Volumes ?? {}).map((spec) => {
      if (!spec.startsWith('/')) throw mountConfigError('volume', `invalid mount path: '${spec}' mount path must be absolute`);
      return cleanPath(spec);
    });
    const tmpfs = new Set(Object.keys(hc.Tmpfs ?? {}).map(cleanPath));

    // A later bind or mount may not take an earlier one's place, nor a --tmpfs's.
    const taken = new Set<string>();
    const claim = (m: MountPoint, shown: string) => {
      if (taken.has(m.Destination) || tmpfs.has(m.Destination)) throw duplicateMountPoint(shown);
      taken.add(m.Destination);
    };
    for (const b of binds) claim(b, b.Destination);
    for (const m of specs) claim(m, m.Spec.Target ?? m.Destination); // Docker names a --mount's target as written

    const p: Pending = { made: [] };
    this.pending.set(id, p);
    const points = new Map<string, MountPoint>();
    try {
      // 1. Volumes from other containers.
      for (const { donor, rw } of from) {
        for (const m of donor.mounts ?? []) {
          const cp: MountPoint = { ...m, RW: m.RW && rw, CopyData: false };
          if (m.Type === 'volume') await this.volumes.inspect(m.Name!); // still there (404 otherwise)
          points.set(cp.Destination, cp);
        }
      }
      // 2. Binds, then 3. Mounts, over what came from other containers.
      for (const b of binds) {
        if (b.Type === 'volume') await this.attach(id, b, p);
        points.set(b.Destination, b);
      }
      for (const m of specs) {
        if (m.Type === 'volume') await this.attach(id, m, p);
        if (m.Type === 'bind' && !m.Spec.BindOptions?.CreateMountpoint) m.SkipMountpointCreation = true;
        points.set(m.Destination, m);
      }
      // 4. Config.Volumes (the image's included): an anonymous volume where nothing is mounted yet.
      for (const dest of anonymous) {
        if (points.has(dest) || tmpfs.has(dest)) continue;
        const mp: MountPoint = { Type: 'volume', Source: '', Destination: dest, RW: true, Name: '', Driver: hc.VolumeDriver ?? '', Mode: '', Propagation: '', CopyData: true, Spec: {} };
        await this.attach(id, mp, p);
        mp.Mode = ''; // Docker's AddMountPointWithVolume leaves it empty
        points.set(dest, mp);
      }
    } catch (e) {
      await this.rollback(id);
      throw e;
    }
    return [...points.values()];
  }

  /** Creates (or finds) the volume of a mount point, reserved for the container. */
  private async attach(id: string, mp: MountPoint, p: Pending): Promise<void> {
    const spec = mp.Spec;
    const v = await this.volumes.create(
      { Name: mp.Name ?? '', Driver: mp.Driver ?? '', DriverOpts: spec.VolumeOptions?.DriverConfig?.Options ?? null, Labels: spec.VolumeOptions?.Labels ?? null },
      { reference: id },
    );
    if (!mp.Name) p.made.push(v.Name);
    mp.Name = v.Name;
    mp.Driver = v.Driver;
    mp.Source = v.Mountpoint;
    if (v.Driver === DEFAULT_DRIVER && !mp.Mode) mp.Mode = 'z'; // setBindModeIfNull
  }

  /** The container record exists: its references now keep its volumes, not the reservation. */
  committed(id: string): void {
    this.pending.delete(id);
    this.volumes.release(id);
  }

  /** The create failed: the anonymous volumes it made go again. */
  async rollback(id: string): Promise<void> {
    const p = this.pending.get(id);
    this.pending.delete(id);
    this.volumes.release(id);
    for (const name of p?.made ?? []) await this.volumes.remove(name, { force: true }).catch((e: unknown) => this.log.warn({ volume: name, err: messageOf(e) }, 'removing a volume of a failed create'));
  }

  /**
   * At start: mounts the container's volumes (a ref each), makes a missing
   * -v source directory, copies the image's content into new volumes once,
   * and returns the OCI mounts. On failure, what it mounted is released.
   */
  async setup(c: ContainerRecord, rootfs: string): Promise<OciMount[]> {
    const out: OciMount[] = [];
    try {
      for (const m of c.mounts ?? []) {
        if (m.Type === 'tmpfs') {
          out.push(ociMount(m, 'tmpfs'));
          continue;
        }
        if (m.Type === 'bind') {
          if (!existsSync(m.Source)) {
            if (m.SkipMountpointCreation) throw mountConfigError('bind', `bind source path does not exist: ${m.Source}`);
            await fs.mkdir(m.Source, { recursive: true, mode: 0o755 }).catch((e: unknown) => {
              throw new EngineError('internal', `error while creating mount source path '${m.Source}': ${messageOf(e)}`, { cause: e });
            });
          }
          out.push(ociMount(m, m.Source));
          continue;
        }
        const path = await this.volumes.mount(m.Name!, c.id, { container: c.id, destination: m.Destination, 'read/write': String(m.RW), propagation: m.Propagation });
        m.Source = path;
        if (m.CopyData) {
          await copyImageContent(this.host, rootfs, m.Destination, path).catch((e: unknown) => {
            throw new EngineError('internal', `failed to copy image content into volume ${m.Name}: ${messageOf(e)}`, { cause: e });
          });
          m.CopyData = false; // once: the record is saved with the start
        }
        let source = path;
        const sub = m.Spec.VolumeOptions?.Subpath;
        if (sub) {
          source = posix.join(path, cleanPath(sub));
          if (!existsSync(source)) throw invalid(`cannot access path ${source}: no such file or directory`);
        }
        out.push(ociMount(m, source));
      }
    } catch (e) {
      await this.teardown(c);
      throw e;
    }
    return out;
  }

  /** The container stopped (or did not start): its volume refs go, and the last user unmounts. */
  async teardown(c: ContainerRecord): Promise<void> {
    const done = new Set<string>();
    for (const m of c.mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name || done.has(m.Name)) continue;
      done.add(m.Name);
      await this.volumes.unmount(m.Name, c.id, { container: c.id }).catch((e: unknown) => this.log.warn({ id: c.id, volume: m.Name, err: messageOf(e) }, 'releasing a volume failed'));
    }
  }

  /** Live restore: a container that kept running still holds its volumes. */
  async adopt(c: ContainerRecord): Promise<void> {
    for (const m of c.mounts ?? []) if (m.Type === 'volume' && m.Name) await this.volumes.restore(m.Name, c.id);
  }

  /** `rm -v` (and --rm): the container's anonymous volumes go; named ones, and ones still used elsewhere, stay. */
  async removeAnonymous(c: ContainerRecord): Promise<void> {
    for (const m of c.mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name || m.Spec.Source) continue;
      try {
        await this.volumes.remove(m.Name, { force: true });
      } catch (e) {
        if (!isKind(e, 'conflict')) this.log.warn({ id: c.id, volume: m.Name, err: messageOf(e) }, 'removing an anonymous volume failed');
      }
    }
  }
}
