/**
 * System facts for /info, /version and /system/df: real figures read from the
 * machine and the stores, never constants.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from './images.js';
import { hostPlatform } from '../image/oci.js';
import { chainIds } from '../layer/layers.js';
import { build } from '../base/build.js';

export const PIER_VERSION = build.version;
export const GIT_COMMIT = build.commit;

export interface SystemDeps {
  id: string;
  dataRoot: string;
  snapshotter: Snapshotter;
  images: ImageService;
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }>;
  defaultRuntime: string;
  debug: boolean;
  liveRestore: boolean;
  labels: string[];
  /** The Engine API versions the API layer speaks, reported by /version. */
  apiVersion: string;
  minApiVersion: string;
  /** `insecure-registries` (CIDRs and host[:port]s) and `registry-mirrors` from the daemon config. */
  insecureRegistries: string[];
  registryMirrors: string[];
  /** The default runtime's own version line (`runc --version`), read once at start. */
  runtimeVersion: string;
  /** Containers by state; the container service fills this in (all zero until then). */
  containerCounts?: () => { total: number; running: number; paused: number; stopped: number };
  /** Containers with sizes, for /system/df. */
  containerList?: () => Promise<unknown[]>;
  /** Local volumes with sizes and reference counts, for /system/df. */
  volumeList?: () => Promise<unknown[]>;
  /** Containers get a private cgroup namespace (cgroup v2). */
  cgroupns?: boolean;
  /** The daemon's default logging driver and options for new containers (Pier's rotation defaults included). */
  logging?: () => { driver: string; opts: Record<string, string> };
  /** Where /metrics is served ('' when off). */
  metricsAddr?: () => string;
  /** Build cache records in Docker's BuildCache shape, for /system/df. */
  buildCacheList?: () => Promise<unknown[]>;
  /** Swarm mode (engine/services.ts): /info's Swarm and the Swarm header of /_ping. */
  swarm?: { info(): object; pingStatus(): string };
}

export function cgroupVersion(): '1' | '2' {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

function osName(): string {
  try {
    const m = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)"?/m);
    if (m) return m[1]!;
  } catch {
    /* fall through */
  }
  return 'Linux';
}

export class SystemService {
  constructor(private readonly d: SystemDeps) {}

  version() {
    const p = hostPlatform();
    const { apiVersion: API_VERSION, minApiVersion: MIN_API_VERSION } = this.d;
    return {
      Platform: { Name: 'Pier Engine' },
      Components: [
        {
          Name: 'Engine',
          Version: PIER_VERSION,
          Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: GIT_COMMIT, GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: p.architecture, KernelVersion: os.release(), Experimental: 'false', BuildTime: build.built },
        },
      ],
      Version: PIER_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: GIT_COMMIT,
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: p.architecture,
      KernelVersion: os.release(),
      BuildTime: build.built,
    };
  }

  /** The Swarm header of /_ping: "inactive", or "active/manager" on a swarm manager. */
  swarmStatus(): string {
    return this.d.swarm?.pingStatus() ?? 'inactive';
  }

  async info() {
    const c = this.d.containerCounts?.() ?? { total: 0, running: 0, paused: 0, stopped: 0 };
    const images = this.d.images.meta.list().length;
    const driverStatus = await this.d.snapshotter.status();
    const cg = cgroupVersion();
    return {
      ID: this.d.id,
      Containers: c.total,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: images,
      Driver: this.d.snapshotter.driver,
      DriverStatus: driverStatus,
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: cg === '2' || existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: readFlag('/proc/sys/net/ipv4/ip_forward'),
      Debug: this.d.debug,
      NFd: countFds(),
      OomKillDisable: cg === '1',
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: this.d.logging?.().driver ?? 'json-file',
      // Pier's own: the log options new containers get unless they set theirs, and the metrics address.
      LoggingDriverOptions: this.d.logging?.().opts ?? {},
      MetricsAddress: this.d.metricsAddr?.() ?? '',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cg,
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: this.registryConfig(),
      NCPU: os.availableParallelism(),
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: this.d.dataRoot,
      HttpProxy: process.env.HTTP_PROXY ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? '',
      NoProxy: process.env.NO_PROXY ?? '',
      Name: os.hostname(),
      Labels: this.d.labels,
      ExperimentalBuild: false,
      ServerVersion: PIER_VERSION,
      Runtimes: this.d.runtimes,
      DefaultRuntime: this.d.defaultRuntime,
      Swarm: this.d.swarm?.info() ?? { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: this.d.liveRestore,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: this.d.runtimeVersion },
      InitCommit: { ID: '' },
      // Filled in when containers run (seccomp, cgroupns): nothing is claimed before Pier applies it.
      SecurityOptions: ['name=seccomp,profile=builtin', ...(this.d.cgroupns ? ['name=cgroupns'] : [])],
      CDISpecDirs: [],
      Warnings: null,
    };
  }

  /** Docker's RegistryConfig: loopback is always insecure; CIDRs and named registries from the config. */
  private registryConfig() {
    const isCidr = (s: string) => /^[0-9a-f:.]+\/\d+$/i.test(s);
    const cidrs = ['127.0.0.0/8', '::1/128', ...this.d.insecureRegistries.filter(isCidr)];
    const IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }> = {
      'docker.io': { Name: 'docker.io', Mirrors: this.d.registryMirrors, Secure: true, Official: true },
    };
    for (const h of this.d.insecureRegistries.filter((x) => !isCidr(x))) IndexConfigs[h] = { Name: h, Mirrors: [], Secure: false, Official: false };
    return { IndexConfigs, InsecureRegistryCIDRs: cidrs, Mirrors: this.d.registryMirrors };
  }

  /** /system/df: image figures now; containers, volumes and build cache when those services exist. */
  async df(types?: string[]) {
    const want = (t: string) => !types || types.length === 0 || types.includes(t);
    const imgs = want('image') ? await this.d.images.list({ all: true }) : [];
    // Shared size: bytes of layers an image shares with at least one other image.
    const layerUse = new Map<string, number>();
    const chainsOf = new Map<string, string[]>();
    for (const i of imgs) {
      const cfg = await this.d.images.configOf(i.Id);
      const chains = chainIds(cfg.rootfs.diff_ids);
      chainsOf.set(i.Id, chains);
      for (const c of chains) layerUse.set(c, (layerUse.get(c) ?? 0) + 1);
    }
    const images = imgs.map((i) => {
      const shared = (chainsOf.get(i.Id) ?? []).filter((c) => (layerUse.get(c) ?? 0) > 1).reduce((n, c) => n + (this.d.images.layers.get(c)?.size ?? 0), 0);
      const users = this.d.images.users.usersOf(i.Id).length;
      return { ...i, SharedSize: shared, Containers: users };
    });
    return {
      LayersSize: want('image') ? await this.d.images.usage() : 0,
      Images: want('image') ? images : null,
      Containers: want('container') ? ((await this.d.containerList?.()) ?? []) : null,
      Volumes: want('volume') ? ((await this.d.volumeList?.()) ?? []) : null,
      BuildCache: want('build-cache') ? ((await this.d.buildCacheList?.()) ?? []) : null,
    };
  }
}

function readFlag(p: string): boolean {
  try {
    return readFileSync(p, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

function countFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}
