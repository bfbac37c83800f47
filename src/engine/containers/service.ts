/**
 * Containers: create, start, stop, kill, wait, remove, pause, rename, update,
 * restart policies and live restore — the state machine behind the Engine API.
 *
 *   created ──start──▶ running ──exit──▶ exited ──start──▶ running
 *                        │  ▲                │
 *                   pause│  │unpause         └─(policy)─▶ restarting ──▶ running
 *                        ▼  │
 *                       paused           any ──rm──▶ removing ──▶ (gone)
 *
 * A container's processes run under a pier-monitor (runtime/monitor.ts), which
 * outlives pierd: on start-up the daemon re-adopts every container whose
 * monitor still answers, records the exits it missed, and cleans up after
 * monitors that died (mounts, runtime state).
 *
 * Lifecycle operations on one container are serialised by a per-container
 * lock. Exit handling runs outside the lock (stop waits for it while holding
 * the lock), and anything it triggers that needs the lock (auto-remove, a
 * policy restart) is queued after it.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';
import { cpus, hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { conflict, EngineError, invalid, isKind, messageOf, notFound } from '../../base/errdefs.js';
import type { Host } from '../../base/host.js';
import type { Logger } from '../../base/log.js';
import type { Snapshotter } from '../../snapshot/snapshotter.js';
import { mountAll, mountPointsUnder, unmountAll } from '../../snapshot/mounted.js';
import { chainIds } from '../../layer/layers.js';
import type { ContainerConfig, HostConfig, Resources } from '../../runtime/container-config.js';
import type { Runtime } from '../../runtime/runtime.js';
import { Monitor, RuntimeError, type ExitStatus } from '../../runtime/monitor.js';
import { buildSpec, specJson, type NsRef, type SpecInput } from '../../runtime/spec.js';
import { resolveUser } from '../../runtime/user.js';
import { parseSecurityOpt, validateHostConfig } from '../../runtime/validate.js';
import { resolveDevices } from '../../runtime/spec.js';
import { ContainerCgroup, type CgroupMode } from '../../runtime/cgroups.js';
import type { EventBus } from '../events.js';
import type { ImageService } from '../images.js';
import type { ImageConfig } from '../../image/oci.js';
import { initialState, nowIso, type ContainerRecord } from './record.js';
import { goJsonTime } from '../../base/time.js';
import { ContainerStore } from './store.js';
import { generateName, validateName } from './names.js';
import { writeContainerFiles } from './files.js';
import { parseSignal, signalNumber } from './signals.js';
import { HEALTH_ON_FAILURE } from './health.js';
import type { NetworkService } from '../networks.js';
import type { EndpointConfig } from '../../network/types.js';
import type { VolumeService } from '../volumes.js';
import { ContainerMounts, rootfsPropagation } from './mounts.js';

export interface ContainerServiceOptions {
  dataRoot: string;
  execRoot: string;
  runtimes: Record<string, Runtime>;
  defaultRuntime: string;
  cgroupMode: CgroupMode;
  /** Parent of every container's cgroup ("pier" → /pier/<id>). */
  cgroupParent: string;
  /** The init binary for --init (a static tini). */
  initPath?: string;
  liveRestore: boolean;
  /** Networks: a container's namespace, addresses, published ports and DNS. */
  networks: NetworkService;
  /** Volumes for binds, -v and --mount. */
  volumes: VolumeService;
  /** The daemon's --log-driver/--log-opt, merged into each new container's LogConfig (read at create: a reload applies to new containers). */
  logDefaults?: () => { Type: string; Config: Record<string, string> };
}

/** What lives only while pierd runs. */
interface Live {
  monitor?: Monitor;
  /** Resolves when the current run's exit has been handled (state saved, rootfs unmounted). */
  exitHandled?: Promise<void>;
  /** Attach requests made before start: connected (and acknowledged) before the process runs. */
  pending: Set<(m: Monitor) => Promise<void>>;
  restartTimer?: NodeJS.Timeout;
  /** Next restart delay, ms (Docker: 100 ms doubling to 1 min, reset after 10 s of running). */
  backoff: number;
  lock: Promise<unknown>;
  stopHealth?: () => void;
}

/** The fields of `POST /containers/{id}/update` besides RestartPolicy (Docker's Resources). */
const UPDATABLE: ReadonlySet<string> = new Set(['CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests', 'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'OomKillDisable', 'PidsLimit', 'Ulimits', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth']);

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENV_KEY = (e: string) => e.split('=')[0]!;

/** A container held by an operation (see ContainerService.hold). */
export interface ContainerHold {
  /** What the operation is doing, as it reads after "it": "is being moved to tcp://…". */
  readonly why: string;
  release(): void;
}

export class ContainerService {
  readonly store: ContainerStore;
  private readonly live = new Map<string, Live>();
  /** 'exit:<id>' (code), 'removed:<id>' (code), 'started:<id>'. */
  readonly signals = new EventEmitter().setMaxListeners(0);
  /** Set by the exec service: runs health checks. */
  healthStarter?: (c: ContainerRecord) => (() => void) | undefined;
  private shuttingDown = false;
  /** Names of containers being created (held before the record exists). */
  private readonly reserved = new Set<string>();
  /** Containers an operation holds (a move): what it does not do itself is refused meanwhile. */
  private readonly holds = new Map<string, ContainerHold>();
  /** Binds, volumes and tmpfs mounts (mounts.ts); it also tells the volume service which containers use a volume. */
  readonly mounts: ContainerMounts;

  constructor(
    store: ContainerStore,
    readonly images: ImageService,
    readonly snapshotter: Snapshotter,
    readonly host: Host,
    readonly events: EventBus,
    readonly log: Logger,
    readonly o: ContainerServiceOptions,
  ) {
    this.store = store;
    images.users = {
      usersOf: (imageId) => this.store.all().filter((c) => c.image === imageId).map((c) => ({ id: c.id, running: c.state.Running })),
      chainsInUse: () => new Set(this.store.all().map((c) => c.parentChain).filter(Boolean)),
    };
    this.mounts = new ContainerMounts(o.volumes, () => this.store.all(), host, log.child({ component: 'mounts' }));
  }

  // ---- paths -------------------------------------------------------------------------------

  dataDir(id: string): string {
    return join(this.o.dataRoot, 'containers', id);
  }
  bundleDir(id: string): string {
    return join(this.o.execRoot, 'containers', id);
  }
  rootfs(id: string): string {
    return join(this.bundleDir(id), 'rootfs');
  }
  /**
   * A monitor's state directory. Kept short: it holds unix sockets, whose
   * paths may not exceed 107 bytes.
   */
  runDir(id: string): string {
    return join(this.o.execRoot, 'm', id.slice(0, 24));
  }
  cgroupPath(id: string): string {
    return `/${this.o.cgroupParent}/${id}`;
  }
  /** The cgroup file whose oom_kill line counts OOM kills (read by the monitor at exit). */
  oomFile(id: string): string {
    return join(this.cgroup(id).dir('memory'), this.o.cgroupMode === 'v1' ? 'memory.oom_control' : 'memory.events');
  }
  cgroup(id: string): ContainerCgroup {
    return new ContainerCgroup(this.o.cgroupMode, this.cgroupPath(id));
  }
  runtimeOf(c: ContainerRecord): Runtime {
    const name = c.hostConfig.Runtime || this.o.defaultRuntime;
    const rt = this.o.runtimes[name];
    if (!rt) throw invalid(`unknown or invalid runtime name: ${name}`);
    return rt;
  }

  liveOf(id: string): Live {
    let l = this.live.get(id);
    if (!l) {
      l = { pending: new Set(), backoff: 100, lock: Promise.resolve() };
      this.live.set(id, l);
    }
    return l;
  }

  monitorOf(c: ContainerRecord): Monitor | undefined {
    return this.live.get(c.id)?.monitor;
  }

  /**
   * Hold a container for an operation that must not be raced (a move stops it,
   * sends it away, removes it): start, restart, remove, rename, pause, unpause
   * and update are refused until release(), except when given the hold itself.
   */
  hold(id: string, why: string): ContainerHold {
    const c = this.store.get(id);
    if (!c) throw notFound(`No such container: ${id}`);
    const other = this.holds.get(c.id);
    if (other) throw conflict(`container ${c.name} is busy: it ${other.why}`);
    const h: ContainerHold = { why, release: () => this.holds.get(c.id) === h && this.holds.delete(c.id) };
    this.holds.set(c.id, h);
    return h;
  }

  private checkHold(c: ContainerRecord, verb: string, mine?: ContainerHold): void {
    const h = this.holds.get(c.id);
    if (h && h !== mine) throw conflict(`cannot ${verb} container ${c.name}: it ${h.why}; wait for that to finish`);
  }

  /** Runs fn with the container's lifecycle lock held. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const l = this.liveOf(id);
    const run = l.lock.then(fn, fn);
    l.lock = run.catch(() => undefined);
    return run;
  }

  find(ref: string): ContainerRecord {
    return this.store.find(ref);
  }

  private emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.emit('container', action, c.id, { ...(c.config.Labels ?? {}), image: c.imageName, name: c.name, ...extra });
  }

  // ---- create ------------------------------------------------------------------------------

  async create(o: { name?: string; config: ContainerConfig; hostConfig: HostConfig; platform?: string; endpoints?: Record<string, EndpointConfig | null> }): Promise<{ Id: string; Warnings: string[] }> {
    const config = o.config ?? {};
    const hc: HostConfig = o.hostConfig ?? {};
    let name = o.name ? validateName(o.name) : undefined;
    if (name) {
      const other = this.store.nameInUse(name) ?? (this.reserved.has(name) ? 'being created' : undefined);
      if (other) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${other}". You have to remove (or rename) that container to be able to reuse that name.`);
      this.reserved.add(name);
    }
    // The name is held from here until the record exists, so concurrent creates never share one.
    const held = name;
    try {
      return await this.createNamed(name, config, hc, o.platform, o.endpoints);
    } finally {
      if (held) this.reserved.delete(held);
    }
  }

  private async createNamed(name: string | undefined, config: ContainerConfig, hc: HostConfig, platform: string | undefined, endpoints?: Record<string, EndpointConfig | null>): Promise<{ Id: string; Warnings: string[] }> {
    if (!config.Image) throw invalid('No image was specified');
    const img = this.images.resolve(config.Image);
    const imgCfg = await this.images.configOf(img.id);
    if (platform && !platform.includes(imgCfg.os)) throw notFound(`image with reference ${config.Image} was found but does not match the specified platform: wanted ${platform}`);
    const merged = mergeConfig(config, imgCfg);
    const args = [...(merged.Entrypoint ?? []), ...(merged.Cmd ?? [])];
    if (args.length === 0) throw invalid('no command specified');
    validateHostConfig(hc, merged, cpus().length);
    parseSecurityOpt(hc.SecurityOpt);
    this.runtimeOf({ hostConfig: hc } as ContainerRecord);
    if (this.o.logDefaults) hc = { ...hc, LogConfig: mergeLogConfig(hc.LogConfig, this.o.logDefaults()) };
    checkLogDriver(hc);
    for (const mode of [hc.PidMode, hc.IpcMode, hc.NetworkMode])
      if (mode?.startsWith('container:')) this.find(mode.slice(10)); // 404 for an unknown container, like Docker
    const networks = this.o.networks.networksFor(hc, endpoints ?? undefined, merged.ExposedPorts ?? undefined);
    const onFailure = hc.Annotations?.[HEALTH_ON_FAILURE];
    if (onFailure !== undefined && !['none', 'kill', 'restart', 'stop'].includes(onFailure))
      throw invalid(`invalid --health-on-failure "${onFailure}": use none, kill, restart or stop`);

    let id: string;
    do id = randomBytes(32).toString('hex');
    while (/^\d+$/.test(id.slice(0, 12)) || this.store.get(id));
    let generated: string | undefined;
    if (!name) {
      name = generated = generateName((n) => !!this.store.nameInUse(n) || this.reserved.has(n));
      this.reserved.add(name);
    }
    try {
      return await this.createRecord(id, name, config, hc, img.id, imgCfg, merged, args, networks);
    } finally {
      if (generated) this.reserved.delete(generated);
    }
  }

  private async createRecord(
    id: string, name: string, config: ContainerConfig, hc: HostConfig, imageId: string, imgCfg: ImageConfig, merged: ContainerConfig, args: string[],
    networks: ContainerRecord['networks'],
  ): Promise<{ Id: string; Warnings: string[] }> {
    const chains = chainIds(imgCfg.rootfs.diff_ids);
    const parentChain = chains[chains.length - 1] ?? '';
    // Binds, volumes (made on demand, reserved for this container) and tmpfs mounts: a bad spec fails here, before anything exists.
    const mounts = await this.mounts.resolve(id, merged, hc, (ref) => this.find(ref));
    const dir = this.dataDir(id);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o710 });
      await this.snapshotter.prepare(id, parentChain);
    } catch (e) {
      await fs.rm(dir, { recursive: true, force: true });
      await this.mounts.rollback(id);
      throw e;
    }
    const rec: ContainerRecord = {
      id, name, created: nowIso(), path: args[0]!, args: args.slice(1),
      config: { ...merged, Image: config.Image, Hostname: merged.Hostname || (hc.NetworkMode === 'host' ? hostHostname() : id.slice(0, 12)) },
      hostConfig: normalizeHostConfig(hc),
      image: imageId, imageName: config.Image!, parentChain,
      state: initialState(), restartCount: 0, manuallyStopped: false, hasBeenStarted: false,
      driver: this.snapshotter.driver,
      logPath: join(dir, `${id}-json.log`),
      hostsPath: join(dir, 'hosts'), hostnamePath: join(dir, 'hostname'), resolvConfPath: join(dir, 'resolv.conf'),
      ...(networks && Object.keys(networks).length ? { networks } : {}),
      ...(mounts.length ? { mounts } : {}),
    };
    try {
      this.store.add(rec);
    } catch (e) {
      await this.snapshotter.remove(id).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
      await this.mounts.rollback(id);
      throw e;
    }
    this.mounts.committed(id);
    this.emit(rec, 'create');
    return { Id: id, Warnings: [] };
  }

  // ---- start -------------------------------------------------------------------------------

  async start(ref: string, o: { hold?: ContainerHold } = {}): Promise<void> {
    const c = this.find(ref);
    this.checkHold(c, 'start', o.hold);
    await this.locked(c.id, async () => {
      if (c.state.Paused) throw conflict('cannot start a paused container, try unpause instead');
      if (c.state.Running) throw new EngineError('not-modified', 'container already started');
      if (c.state.Status === 'removing' || c.state.Dead) throw conflict(`container is marked for removal and cannot be started`);
      const l = this.liveOf(c.id);
      if (l.restartTimer) {
        clearTimeout(l.restartTimer);
        l.restartTimer = undefined;
      }
      c.manuallyStopped = false;
      try {
        await this.startLocked(c);
      } catch (e) {
        // Docker removes an auto-remove container whose start failed (`docker run --rm` waits for it).
        if (c.hostConfig.AutoRemove) void this.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
        throw e;
      }
    });
  }

  private async startLocked(c: ContainerRecord): Promise<void> {
    const l = this.liveOf(c.id);
    const rt = this.runtimeOf(c);
    const rootfs = this.rootfs(c.id);
    const run = this.runDir(c.id);
    let mounted = false;
    let created = false;
    let networked = false;
    try {
      await fs.mkdir(rootfs, { recursive: true });
      if (!(await mountPointsUnder(rootfs)).includes(rootfs)) {
        await mountAll(this.host, await this.snapshotter.mounts(c.id), rootfs);
        mounted = true;
      }
      networked = true;
      // Network and volumes do not depend on each other: both at once, and both settled before
      // any clean-up below runs (a failure of one must not tear down what the other is still making).
      const [netDone, volumesDone] = await Promise.allSettled([this.o.networks.setUp(c), this.mounts.setup(c, rootfs)]);
      if (netDone.status === 'rejected') throw netDone.reason;
      if (volumesDone.status === 'rejected') throw volumesDone.reason;
      const net = netDone.value;
      const volumes = volumesDone.value;
      const spec = buildSpec({ ...(await this.specInput(c, rootfs, net)), extraMounts: volumes, rootfsPropagation: rootfsPropagation(c.mounts ?? []) });
      await fs.writeFile(join(this.bundleDir(c.id), 'config.json'), specJson(spec));
      await fs.rm(run, { recursive: true, force: true });
      await fs.mkdir(run, { recursive: true });
      const logging = (c.hostConfig.LogConfig?.Type ?? 'json-file') !== 'none';
      const rotation = logRotation(c.hostConfig);
      const monitor = await rt.create({
        id: c.id, bundle: this.bundleDir(c.id), dir: run, log: logging ? c.logPath : undefined, ...rotation,
        oomFile: this.oomFile(c.id), tty: !!c.config.Tty, stdin: !!c.config.OpenStdin, stdinOnce: !!c.config.StdinOnce,
      });
      created = true;
      l.monitor = monitor;
      const pending = [...l.pending];
      l.pending.clear();
      await Promise.all(pending.map((p) => p(monitor).catch(() => undefined)));
      await rt.start(c.id, monitor);
    } catch (e) {
      l.monitor = undefined;
      if (created) await rt.delete(c.id, true).catch((err: unknown) => this.log.warn({ id: c.id, err }, 'runtime delete after a failed start'));
      if (mounted) await unmountAll(this.host, rootfs).catch(() => undefined);
      if (networked) await this.o.networks.tearDown(c).catch((err: unknown) => this.log.warn({ id: c.id, err }, 'network clean-up after a failed start'));
      await this.mounts.teardown(c);
      throw this.startFailed(c, e);
    }
    const m = l.monitor!;
    c.state = {
      ...c.state, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
      Pid: m.pid, ExitCode: 0, Error: '', StartedAt: nowIso(),
    };
    if (c.config.Healthcheck?.Test?.length && c.config.Healthcheck.Test[0] !== 'NONE') c.state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    else delete c.state.Health;
    c.pid = m.pid;
    c.hasBeenStarted = true;
    this.store.save(c);
    this.emit(c, 'start');
    this.signals.emit(`started:${c.id}`);
    this.watch(c, m);
    l.stopHealth = this.healthStarter?.(c);
  }

  /** Docker's translation of a runtime failure: exit code 127/126/128 recorded, 400 for a bad command. */
  private startFailed(c: ContainerRecord, e: unknown): EngineError {
    if (!(e instanceof RuntimeError)) {
      c.state.Error = messageOf(e);
      this.store.save(c);
      return e instanceof EngineError ? e : new EngineError('internal', messageOf(e), { cause: e });
    }
    const msg = `failed to create task for container: OCI runtime create failed: ${e.message}: unknown`;
    let code = 128;
    let kind: 'invalid' | 'internal' = 'internal';
    if (/executable file not found|no such file or directory|not a directory/.test(e.message)) {
      code = 127;
      kind = 'invalid';
    } else if (/permission denied/.test(e.message)) {
      code = 126;
      kind = 'invalid';
    }
    c.state = { ...c.state, ExitCode: code, Error: msg, Status: c.hasBeenStarted ? 'exited' : 'created', Running: false, Pid: 0 };
    this.store.save(c);
    return new EngineError(kind, msg);
  }

  private async specInput(c: ContainerRecord, rootfs: string, n: { netns?: string; ip?: string; embeddedDns: boolean }): Promise<SpecInput> {
    const hc = c.hostConfig;
    const cfg = c.config;
    const user = await resolveUser(rootfs, cfg.User, hc.GroupAdd);
    const env = buildEnv(cfg, user.home);
    const net = hc.NetworkMode ?? '';
    const hostNetwork = net === 'host';
    const hostname = cfg.Hostname || c.id.slice(0, 12);
    const fqdn = cfg.Domainname ? `${hostname}.${cfg.Domainname}` : hostname;
    await writeContainerFiles({ hosts: c.hostsPath, hostname: c.hostnamePath, resolvConf: c.resolvConfPath }, hc, hostname, fqdn, hostNetwork, {
      ip: n.ip, embeddedDns: n.embeddedDns, hostGateway: this.o.networks.hostGateway(), defaultDns: this.o.networks.o.dns,
    });
    const sec = parseSecurityOpt(hc.SecurityOpt);
    const ipc = hc.IpcMode ?? '';
    let shm: SpecInput['shm'] = { mode: 'tmpfs', size: hc.ShmSize || 64 << 20 };
    if (ipc === 'host') shm = { mode: 'bind', source: '/dev/shm' };
    else if (ipc === 'none') shm = { mode: 'none' };
    else if (ipc === 'shareable') shm = { mode: 'bind', source: await this.hostShm(c) };
    else if (ipc.startsWith('container:')) {
      const donor = this.find(ipc.slice(10));
      this.pidOfRunning(donor.id, 'IPC');
      if (donor.hostConfig.IpcMode !== 'shareable')
        throw conflict(`cannot join IPC of container ${ipc.slice(10)}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
      shm = { mode: 'bind', source: this.shmDir(donor.id) };
    }
    return {
      id: c.id, config: cfg, hostConfig: hc,
      args: [c.path, ...c.args], env, cwd: cfg.WorkingDir || '/', user, hostname, rootfs,
      cgroupsPath: this.cgroupPath(c.id),
      files: { hosts: c.hostsPath, hostname: c.hostnamePath, resolvConf: c.resolvConfPath },
      namespaces: {
        pid: this.nsRef(hc.PidMode, 'pid', 'PID'),
        ipc: ipc === 'host' ? { mode: 'host' } : this.nsRef(ipc.startsWith('container:') ? ipc : '', 'ipc', 'IPC'),
        uts: hc.UTSMode === 'host' ? { mode: 'host' } : { mode: 'private' },
        net: hostNetwork ? { mode: 'host' } : net.startsWith('container:') ? this.nsRef(net, 'net', 'network') : n.netns ? { mode: 'join', path: n.netns } : { mode: 'private' },
        ...(this.o.cgroupMode === 'v2' && hc.CgroupnsMode !== 'host' ? { cgroup: { mode: 'private' } as NsRef } : {}),
      },
      shm,
      init: hc.Init ? this.o.initPath : undefined,
      seccomp: sec.seccomp,
      noNewPrivileges: sec.noNewPrivileges,
      devices: await resolveDevices(hc.Devices ?? [], !!hc.Privileged),
    };
  }

  /** A shareable container's /dev/shm lives on the host, so others can bind the same one. */
  shmDir(id: string): string {
    return join(this.dataDir(id), 'shm');
  }

  private async hostShm(c: ContainerRecord): Promise<string> {
    const dir = this.shmDir(c.id);
    await fs.mkdir(dir, { recursive: true });
    if (!(await mountPointsUnder(dir)).includes(dir))
      await this.host.mount({ type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', `size=${c.hostConfig.ShmSize || 64 << 20}`] }, dir);
    return dir;
  }

  private nsRef(mode: string | undefined, ns: string, what: string): NsRef {
    if (!mode) return { mode: 'private' };
    if (mode === 'host') return { mode: 'host' };
    if (mode.startsWith('container:')) return { mode: 'join', path: `/proc/${this.pidOfRunning(mode.slice(10), what)}/ns/${ns}` };
    return { mode: 'private' };
  }

  private pidOfRunning(ref: string, what: string): number {
    const other = this.find(ref);
    if (!other.state.Running || !other.state.Pid) throw conflict(`cannot join ${what} of a non running container: ${ref}`);
    return other.state.Pid;
  }

  // ---- exit --------------------------------------------------------------------------------

  private watch(c: ContainerRecord, m: Monitor): void {
    const l = this.liveOf(c.id);
    l.exitHandled = m.wait().then((exit) => this.onExit(c.id, m, exit)).catch((e: unknown) => this.log.error({ id: c.id, err: e }, 'handling a container exit failed'));
  }

  private async onExit(id: string, m: Monitor, exit: ExitStatus): Promise<void> {
    const c = this.store.get(id);
    const l = this.liveOf(id);
    if (l.monitor === m) l.monitor = undefined;
    l.stopHealth?.();
    l.stopHealth = undefined;
    if (!c) {
      // Removed while its process outlived SIGKILL: what it left behind still goes.
      await this.o.runtimes[this.o.defaultRuntime]?.delete(id, true).catch(() => undefined);
      await this.unmountEverything(id).catch(() => undefined);
      return;
    }
    const oom = exit.oomKills > 0;
    const ranMs = Date.now() - Date.parse(c.state.StartedAt);
    c.state = {
      ...c.state, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0,
      ExitCode: exit.code, OOMKilled: oom, FinishedAt: goJsonTime(exit.finishedAt),
    };
    if (c.state.Health) c.state.Health.Status = 'unhealthy';
    delete c.pid;
    await Promise.all([
      this.runtimeOf(c).delete(id, true).catch((e: unknown) => this.log.warn({ id, err: e }, 'runtime delete after exit')),
      this.o.networks.tearDown(c).catch((e: unknown) => this.log.warn({ id, err: e }, 'network clean-up after exit')),
    ]);
    await unmountAll(this.host, this.rootfs(id)).catch(() => undefined);
    if (c.hostConfig.IpcMode === 'shareable') await unmountAll(this.host, this.shmDir(id)).catch(() => undefined);
    await this.mounts.teardown(c);
    if (oom) this.emit(c, 'oom');
    this.emit(c, 'die', { exitCode: String(exit.code), execDuration: String(Math.max(0, Math.round(ranMs / 1000))) });
    const restart = !this.shuttingDown && this.shouldRestart(c);
    if (restart) {
      if (ranMs >= 10_000) l.backoff = 100;
      c.state.Restarting = true;
      c.state.Status = 'restarting';
      c.restartCount++;
      const delay = l.backoff;
      l.backoff = Math.min(l.backoff * 2, 60_000);
      l.restartTimer = setTimeout(() => {
        l.restartTimer = undefined;
        void this.locked(id, async () => {
          if (!this.store.get(id) || !c.state.Restarting) return;
          await this.startLocked(c);
        }).catch((e: unknown) => {
          c.state.Restarting = false;
          c.state.Status = 'exited';
          this.store.save(c);
          this.log.warn({ id, err: e }, 'restart failed');
        });
      }, delay);
    }
    this.store.save(c);
    this.signals.emit(`exit:${id}`, exit.code);
    if (c.hostConfig.AutoRemove && !restart && !this.shuttingDown)
      void this.remove(id, { force: true, volumes: true }).catch((e: unknown) => {
        this.log.warn({ id, err: e }, 'auto-remove failed');
        this.signals.emit(`removed:${id}`, c.state.ExitCode); // `docker run --rm` waits for this; it must not wait for ever
      });
  }

  private shouldRestart(c: ContainerRecord): boolean {
    const p = c.hostConfig.RestartPolicy;
    if (c.manuallyStopped) return false;
    switch (p?.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure':
        return c.state.ExitCode !== 0 && (!p.MaximumRetryCount || c.restartCount < p.MaximumRetryCount);
      default:
        return false;
    }
  }

  // ---- stop / kill / restart ---------------------------------------------------------------

  async stop(ref: string, o: { signal?: string; timeout?: number } = {}): Promise<void> {
    const c = this.find(ref);
    await this.locked(c.id, async () => {
      const l = this.liveOf(c.id);
      if (c.state.Restarting && l.restartTimer) {
        clearTimeout(l.restartTimer);
        l.restartTimer = undefined;
        c.state = { ...c.state, Restarting: false, Status: 'exited' };
        c.manuallyStopped = true;
        this.store.save(c);
        this.emit(c, 'stop');
        return;
      }
      if (!c.state.Running) throw new EngineError('not-modified', 'container already stopped');
      c.manuallyStopped = true;
      this.store.save(c);
      await this.stopLocked(c, o);
      this.emit(c, 'stop');
    });
  }

  /** Sends the stop signal, waits up to the timeout, then SIGKILL. */
  private async stopLocked(c: ContainerRecord, o: { signal?: string; timeout?: number }): Promise<void> {
    const l = this.liveOf(c.id);
    const sig = parseSignal(o.signal || c.config.StopSignal || 'SIGTERM');
    const timeout = o.timeout ?? c.config.StopTimeout ?? 10;
    if (c.state.Paused) await this.resumeForStop(c);
    const exited = l.exitHandled ?? Promise.resolve();
    if (sig !== 9) {
      this.signalProcess(c, sig);
      if (timeout < 0) return void (await exited);
      const done = await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
      if (done) return;
    }
    this.signalProcess(c, 9);
    const done = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!done) throw new EngineError('internal', `container ${c.id} did not exit within 30 seconds of SIGKILL`);
  }

  private async resumeForStop(c: ContainerRecord): Promise<void> {
    await this.runtimeOf(c).resume(c.id).catch(() => undefined);
    c.state = { ...c.state, Paused: false, Status: 'running' };
    this.store.save(c);
  }

  private signalProcess(c: ContainerRecord, sig: number): void {
    this.emit(c, 'kill', { signal: String(sig) });
    const pid = c.state.Pid;
    if (!pid) return;
    try {
      process.kill(pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const c = this.find(ref);
    const sig = parseSignal(signal || 'SIGKILL');
    if (!c.state.Running) throw conflict(`Cannot kill container: ${ref}: Container ${c.id} is not running`);
    if (c.state.Paused && sig !== 9) throw conflict(`Cannot kill container: ${ref}: Container ${c.id} is paused. Unpause the container before stopping or killing`);
    // A frozen process cannot die: thaw it so SIGKILL lands.
    if (c.state.Paused) await this.resumeForStop(c);
    if (sig === 9 || sig === signalNumber(c.config.StopSignal || 'SIGTERM')) {
      c.manuallyStopped = true;
      this.store.save(c);
    }
    this.signalProcess(c, sig);
    if (sig === 9) await Promise.race([this.liveOf(c.id).exitHandled ?? Promise.resolve(), sleep(30_000)]);
  }

  async restart(ref: string, o: { signal?: string; timeout?: number } = {}): Promise<void> {
    const c = this.find(ref);
    this.checkHold(c, 'restart');
    await this.locked(c.id, async () => {
      if (!this.store.get(c.id) || c.state.Status === 'removing' || c.state.Dead) throw conflict(`container ${c.id} is marked for removal and cannot be restarted`);
      const l = this.liveOf(c.id);
      if (l.restartTimer) {
        clearTimeout(l.restartTimer);
        l.restartTimer = undefined;
      }
      if (c.state.Running) {
        c.manuallyStopped = true;
        await this.stopLocked(c, o);
        this.emit(c, 'stop');
      }
      c.manuallyStopped = false;
      await this.startLocked(c);
    });
    this.emit(c, 'restart');
  }

  // ---- wait --------------------------------------------------------------------------------

  /** Resolves with the exit code once the condition holds. */
  wait(c: ContainerRecord, condition: string, signal?: AbortSignal): Promise<number> {
    if (!['', 'not-running', 'next-exit', 'removed'].includes(condition)) throw invalid(`invalid condition: "${condition}"`);
    if ((condition === '' || condition === 'not-running') && !c.state.Running && !c.state.Restarting) return Promise.resolve(c.state.ExitCode);
    const ev = condition === 'removed' ? `removed:${c.id}` : `exit:${c.id}`;
    return new Promise((resolve, reject) => {
      const on = (code: number) => {
        signal?.removeEventListener('abort', abort);
        resolve(code);
      };
      const abort = () => {
        this.signals.off(ev, on);
        reject(new EngineError('unavailable', 'client disconnected'));
      };
      this.signals.once(ev, on);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  // ---- remove ------------------------------------------------------------------------------

  async remove(ref: string, o: { force?: boolean; volumes?: boolean; hold?: ContainerHold } = {}): Promise<void> {
    const c = this.find(ref);
    this.checkHold(c, 'remove', o.hold);
    await this.locked(c.id, async () => {
      if (!this.store.get(c.id)) return; // removed while we waited
      const l = this.liveOf(c.id);
      if (c.state.Running || c.state.Restarting) {
        if (!o.force) {
          const what = c.state.Paused ? 'container is paused and must be unpaused first' : c.state.Restarting ? 'container is restarting: stop the container before removing or force remove' : 'container is running: stop the container before removing or force remove';
          throw conflict(`cannot remove container "/${c.name}": ${what}`);
        }
        if (l.restartTimer) {
          clearTimeout(l.restartTimer);
          l.restartTimer = undefined;
        }
        c.manuallyStopped = true;
        if (c.state.Running) {
          if (c.state.Paused) await this.resumeForStop(c);
          this.signalProcess(c, 9);
          await Promise.race([l.exitHandled ?? Promise.resolve(), sleep(30_000)]);
        }
      }
      if (c.state.Status === 'removing' && !o.force) throw conflict(`removal of container ${c.id} is already in progress`);
      c.state.Status = 'removing';
      this.store.save(c);
      try {
        // The exit handler already deleted the runtime's record; only a dead container may still have one.
        if (c.state.Dead) await this.runtimeOf(c).delete(c.id, true).catch(() => undefined);
        await this.unmountEverything(c.id);
        await this.mounts.teardown(c); // its volume refs, should its exit not have been handled
        await this.snapshotter.remove(c.id).catch((e: unknown) => {
          if (!isKind(e, 'not-found')) throw e;
        });
        await fs.rm(this.bundleDir(c.id), { recursive: true, force: true });
        await fs.rm(this.runDir(c.id), { recursive: true, force: true });
        await fs.rm(this.dataDir(c.id), { recursive: true, force: true });
      } catch (e) {
        c.state.Status = 'dead';
        c.state.Dead = true;
        this.store.save(c);
        throw new EngineError('internal', `unable to remove filesystem for ${c.id}: ${messageOf(e)}`, { cause: e });
      }
      this.store.remove(c.id);
      this.live.delete(c.id);
      if (o.volumes) await this.mounts.removeAnonymous(c); // rm -v: its anonymous volumes; named ones stay
      this.emit(c, 'destroy');
      this.signals.emit(`removed:${c.id}`, c.state.ExitCode);
    });
  }

  private async unmountEverything(id: string): Promise<void> {
    for (const dir of [this.bundleDir(id), this.dataDir(id)]) {
      if (!existsSync(dir)) continue;
      for (const m of (await mountPointsUnder(dir)).sort((a, b) => b.length - a.length)) await unmountAll(this.host, m).catch(() => undefined);
    }
  }

  // ---- pause / rename / update / resize ----------------------------------------------------

  async pause(ref: string): Promise<void> {
    const c = this.find(ref);
    this.checkHold(c, 'pause');
    await this.locked(c.id, async () => {
      if (!c.state.Running) throw conflict(`Container ${c.id} is not running`);
      if (c.state.Paused) throw conflict(`Container ${c.id} is already paused`);
      if (c.state.Restarting) throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
      await this.runtimeOf(c).pause(c.id);
      c.state = { ...c.state, Paused: true, Status: 'paused' };
      this.store.save(c);
      this.emit(c, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.find(ref);
    this.checkHold(c, 'unpause');
    await this.locked(c.id, async () => {
      if (!c.state.Paused) throw conflict(`Container ${c.id} is not paused`);
      await this.runtimeOf(c).resume(c.id);
      c.state = { ...c.state, Paused: false, Status: 'running' };
      this.store.save(c);
      this.emit(c, 'unpause');
    });
  }

  rename(ref: string, newName: string): void {
    const c = this.find(ref);
    this.checkHold(c, 'rename');
    if (!newName) throw invalid('Neither old nor new names may be empty');
    const name = validateName(newName);
    if (name === c.name) throw conflict(`Renaming a container with the same name as its current name`);
    const old = c.name;
    this.store.rename(c, name);
    this.emit(c, 'rename', { oldName: `/${old}` });
  }

  async update(ref: string, u: Resources & { RestartPolicy?: HostConfig['RestartPolicy'] }): Promise<{ Warnings: string[] | null }> {
    const c = this.find(ref);
    this.checkHold(c, 'update');
    return this.locked(c.id, async () => {
      const hc: HostConfig = { ...c.hostConfig };
      // Only Docker's UpdateConfig: the resources and the restart policy, nothing else of HostConfig.
      for (const [k, v] of Object.entries(u)) {
        if (k === 'RestartPolicy') continue;
        if (!UPDATABLE.has(k)) continue; // like Docker, whose UpdateConfig has no other fields to decode into
        if (v !== undefined && v !== null && !(typeof v === 'number' && v === 0 && k !== 'MemorySwappiness')) (hc as Record<string, unknown>)[k] = v;
      }
      if (u.RestartPolicy?.Name !== undefined && u.RestartPolicy.Name !== '') {
        if (c.hostConfig.AutoRemove && u.RestartPolicy.Name !== 'no') throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container');
        hc.RestartPolicy = u.RestartPolicy;
      }
      if (u.Memory && !u.MemorySwap && c.hostConfig.MemorySwap && c.hostConfig.MemorySwap > 0 && u.Memory > c.hostConfig.MemorySwap)
        throw invalid('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      validateHostConfig(hc, c.config, cpus().length);
      if (c.state.Running) await this.cgroup(c.id).update(u);
      c.hostConfig = hc;
      this.store.save(c);
      this.emit(c, 'update');
      return { Warnings: null };
    });
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    const c = this.find(ref);
    const m = this.monitorOf(c);
    if (!c.state.Running || !m) throw conflict(`Container ${c.id} is not running`);
    await m.resize(h, w);
  }

  /** Queue an attach until the next start (docker attaches before it starts). */
  onNextStart(c: ContainerRecord, fn: (m: Monitor) => Promise<void>): () => void {
    const l = this.liveOf(c.id);
    l.pending.add(fn);
    return () => l.pending.delete(fn);
  }

  // ---- daemon start / stop -------------------------------------------------------------------

  /**
   * Live restore: containers whose monitor still answers are adopted; exits
   * that happened while pierd was away are recorded; leftovers of a crash
   * (mounts, runtime state of dead monitors) are cleaned up. Then restart
   * policies apply as at boot.
   */
  async restore(): Promise<void> {
    // Containers recorded as running hold their volumes until their exit is handled, whoever's exit comes first.
    for (const c of this.store.all()) if (c.state.Running) await this.mounts.adopt(c);
    for (const c of this.store.all()) {
      try {
        await this.restoreOne(c);
      } catch (e) {
        this.log.warn({ id: c.id, err: e }, 'restoring a container failed');
      }
    }
  }

  private async restoreOne(c: ContainerRecord): Promise<void> {
    if (c.state.Status === 'removing') {
      await this.remove(c.id, { force: true });
      return;
    }
    const wasRunning = c.state.Running || c.state.Status === 'restarting';
    if (c.state.Running && c.state.Pid) {
      const m = Monitor.adopt(this.runDir(c.id), c.state.Pid);
      if (m.alive() || m.recordedExit()) {
        this.liveOf(c.id).monitor = m.alive() ? m : undefined;
        this.watch(c, m); // a recorded exit is handled at once
        // ...and before the daemon answers: its network, mounts and state are settled by then.
        if (!m.alive()) await this.liveOf(c.id).exitHandled;
        if (m.alive()) {
          this.log.info({ id: c.id, pid: c.state.Pid }, 'adopted a running container');
          await this.o.networks.restore(c);
          this.liveOf(c.id).stopHealth = this.healthStarter?.(c);
        }
        return;
      }
      // The monitor died with the container's exit unrecorded: nothing can report it now.
      this.log.warn({ id: c.id }, 'the container monitor is gone; marking the container exited');
      await this.onExit(c.id, m, { code: 255, oomKills: 0, finishedAt: Date.now() * 1e6 });
      c.state.Error = 'the container monitor died';
      this.store.save(c);
      return;
    }
    // Not running: no runtime state, mounts or network may be left.
    await this.runtimeOf(c).delete(c.id, true).catch(() => undefined);
    if (c.netns || Object.values(c.networks ?? {}).some((n) => n.endpoint)) await this.o.networks.tearDown(c).catch(() => undefined);
    await this.unmountEverything(c.id);
    if (c.hostConfig.AutoRemove && c.hasBeenStarted) {
      await this.remove(c.id, { force: true, volumes: true }); // it ended while pierd was away: --rm still applies
      return;
    }
    if (c.state.Status === 'restarting' || (wasRunning && !c.state.Running)) {
      c.state = { ...c.state, Restarting: false, Status: 'exited' };
      this.store.save(c);
    }
    const p = c.hostConfig.RestartPolicy?.Name;
    if ((p === 'always' || (p === 'unless-stopped' && !c.manuallyStopped)) && c.hasBeenStarted)
      await this.locked(c.id, () => this.startLocked(c)).catch((e: unknown) => this.log.warn({ id: c.id, err: e }, 'restart at boot failed'));
  }

  /** Daemon shutdown: with live restore containers go on; without, they are stopped. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const l of this.live.values()) {
      if (l.restartTimer) clearTimeout(l.restartTimer);
      l.stopHealth?.();
    }
    if (this.o.liveRestore) return;
    await Promise.all(this.store.all().filter((c) => c.state.Running).map((c) => this.locked(c.id, () => this.stopLocked(c, {})).catch(() => undefined)));
  }
}

// ---- configuration ---------------------------------------------------------------------------

/** Docker's merge of the create request with the image's config. */
export function mergeConfig(user: ContainerConfig, image: ImageConfig): ContainerConfig {
  const img = image.config ?? {};
  const c: ContainerConfig = { ...user };
  if (!c.User) c.User = img.User ?? '';
  if (!c.ExposedPorts || Object.keys(c.ExposedPorts).length === 0) c.ExposedPorts = img.ExposedPorts ?? c.ExposedPorts;
  else if (img.ExposedPorts) c.ExposedPorts = { ...img.ExposedPorts, ...c.ExposedPorts };
  const env = [...(img.Env ?? [])];
  for (const e of c.Env ?? []) {
    const i = env.findIndex((x) => ENV_KEY(x) === ENV_KEY(e));
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  c.Env = env;
  c.Labels = { ...(img.Labels ?? {}), ...(c.Labels ?? {}) };
  if (!c.Entrypoint || c.Entrypoint.length === 0) {
    if (!c.Cmd || c.Cmd.length === 0) c.Cmd = img.Cmd ?? null;
    if (c.Entrypoint === undefined || c.Entrypoint === null) c.Entrypoint = img.Entrypoint ?? null;
  }
  // `--entrypoint ""` arrives as [""]: no entrypoint at all.
  if (c.Entrypoint && c.Entrypoint.length === 1 && c.Entrypoint[0] === '') c.Entrypoint = null;
  if (!c.Healthcheck) c.Healthcheck = img.Healthcheck ?? null;
  else if (img.Healthcheck) {
    const h = { ...c.Healthcheck };
    if (!h.Test || h.Test.length === 0) h.Test = img.Healthcheck.Test;
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (!h[k]) h[k] = img.Healthcheck[k];
    c.Healthcheck = h;
  }
  if (!c.WorkingDir) c.WorkingDir = img.WorkingDir ?? '';
  if (img.Volumes) c.Volumes = { ...img.Volumes, ...(c.Volumes ?? {}) };
  if (!c.StopSignal) c.StopSignal = img.StopSignal;
  if (!c.Shell && img.Shell) c.Shell = img.Shell;
  c.OnBuild = null;
  return c;
}

/** The process environment: PATH when missing, HOSTNAME, TERM for a tty, HOME from passwd, then the config's. */
export function buildEnv(cfg: ContainerConfig, home: string): string[] {
  const env = cfg.Env ?? [];
  const has = (k: string) => env.some((e) => ENV_KEY(e) === k);
  const out: string[] = [];
  if (!has('PATH')) out.push(`PATH=${DEFAULT_PATH}`);
  out.push(`HOSTNAME=${cfg.Hostname ?? ''}`);
  if (cfg.Tty && !has('TERM')) out.push('TERM=xterm');
  if (!has('HOME')) out.push(`HOME=${home || '/'}`);
  return [...out, ...env];
}

function normalizeHostConfig(hc: HostConfig): HostConfig {
  const out: HostConfig = { ...hc };
  if (!out.NetworkMode || out.NetworkMode === 'default') out.NetworkMode = 'bridge';
  out.LogConfig = { Type: out.LogConfig?.Type || 'json-file', Config: out.LogConfig?.Config ?? {} };
  out.RestartPolicy = { Name: out.RestartPolicy?.Name || 'no', MaximumRetryCount: out.RestartPolicy?.MaximumRetryCount ?? 0 };
  return out;
}

function checkLogDriver(hc: HostConfig): void {
  const t = hc.LogConfig?.Type;
  if (t && !['json-file', 'local', 'none'].includes(t)) throw invalid(`logging driver "${t}" is not supported by Pier: use json-file, local or none`);
  for (const k of Object.keys(hc.LogConfig?.Config ?? {}))
    if (!LOG_OPTS.includes(k)) throw invalid(`unknown log opt '${k}' for ${t || 'json-file'} log driver`);
  logRotation(hc);
}

/**
 * dockerd's mergeAndVerifyLogConfig: a container that names no driver gets
 * the daemon's; when the drivers are the same, each daemon option the
 * container does not set is added (so `inspect` shows what the container got).
 * A container's max-size of -1 (no rotation) takes no max-file from the daemon.
 */
export function mergeLogConfig(own: HostConfig['LogConfig'], daemon: { Type: string; Config: Record<string, string> }): { Type: string; Config: Record<string, string> } {
  const Type = own?.Type || daemon.Type;
  const Config: Record<string, string> = { ...(own?.Config ?? {}) };
  if (Type === daemon.Type) {
    const noRotation = Config['max-size'] === '-1' || Config['max-size'] === '';
    for (const [k, v] of Object.entries(daemon.Config)) if (!(k in Config) && !(noRotation && k === 'max-file')) Config[k] = v;
  }
  return { Type, Config };
}

const LOG_OPTS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];

/** --log-opt max-size (bytes, k/m/g binary like Docker's) and max-file (default 1). */
export function logRotation(hc: HostConfig): { logMaxSize?: number; logMaxFiles?: number } {
  const opts = hc.LogConfig?.Config ?? {};
  const size = opts['max-size'];
  const files = opts['max-file'];
  if (size === undefined || size === '' || size === '-1') {
    if (files !== undefined && files !== '1') throw invalid('max-file cannot be set without max-size');
    return {};
  }
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(size);
  if (!m) throw invalid(`invalid max-size "${size}": use a size such as 10m`);
  const bytes = Math.round(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
  if (bytes < 1) throw invalid(`invalid max-size "${size}": must be positive`);
  const n = files === undefined ? 1 : Number(files);
  if (!Number.isInteger(n) || n < 1) throw invalid(`invalid max-file "${files}": must be 1 or more`);
  return { logMaxSize: bytes, logMaxFiles: n };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
