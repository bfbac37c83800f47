/**
 * What clients see of containers: `GET /containers/json` (ps, with Docker's
 * filters) and `GET /containers/{id}/json` (inspect), in Docker's shapes.
 */
import { invalid } from '../../base/errdefs.js';
import { chainIds } from '../../layer/layers.js';
import { labelMatches, type Filters } from '../filters.js';
import { statusText, type ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';
import { graphDriver, sizes } from './filesystem.js';
import { mountPointView } from './mounts.js';

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: unknown[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string>;
  State: string;
  Status: string;
  HostConfig: { NetworkMode: string; Annotations?: Record<string, string> };
  NetworkSettings: { Networks: Record<string, unknown> };
  Mounts: unknown[];
}

const LIST_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'health', 'volume', 'network', 'publish', 'expose', 'isolation', 'is-task'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** Docker's command column text: path and args joined, quoted as Go's %q would not. */
export function commandOf(c: ContainerRecord): string {
  return [c.path, ...c.args].join(' ');
}

/** A container label filter: `key`, `key=value`, or `key!=value`. */
export function labelMatch(labels: Record<string, string>, f: string): boolean {
  const i = f.indexOf('=');
  return i > 0 && f[i - 1] === '!' ? labels[f.slice(0, i - 1)] !== f.slice(i + 1) : labelMatches(labels, f);
}

export async function listContainers(
  svc: ContainerService,
  o: { all: boolean; limit?: number; size: boolean; filters: Filters },
): Promise<ContainerSummary[]> {
  const f = o.filters;
  f.validate(LIST_FILTERS);
  for (const s of f.get('status')) if (!STATUSES.includes(s)) throw invalid(`invalid filter 'status=${s}'`);
  for (const h of f.get('health')) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) throw invalid(`invalid filter 'health=${h}'`);
  const exited = f.get('exited').map((e) => {
    if (!/^-?\d+$/.test(e)) throw invalid(`invalid filter 'exited=${e}'`);
    return Number(e);
  });
  const names = f.get('name').map((n) => {
    try {
      return new RegExp(n.replace(/^\//, ''));
    } catch {
      throw invalid(`invalid filter 'name=${n}': not a regular expression`);
    }
  });
  const order = svc.store.order;
  const seq = (ref: string) => order.get(svc.find(ref).id)!;
  const before = f.get('before').map(seq);
  const since = f.get('since').map(seq);
  // ancestor: the image or any image built on it — whose layer chain contains the ancestor's top layer.
  let ancestors: Set<string> | undefined;
  const chainsOf = new Map<string, Set<string>>();
  const chains = async (imageId: string) => {
    let s = chainsOf.get(imageId);
    if (!s) {
      s = new Set(chainIds((await svc.images.configOf(imageId)).rootfs.diff_ids));
      chainsOf.set(imageId, s);
    }
    return s;
  };
  const descends = new Set<string>();
  if (f.get('ancestor').length) {
    ancestors = new Set();
    const tops: string[] = [];
    for (const a of f.get('ancestor')) {
      try {
        const id = svc.images.resolve(a).id;
        ancestors.add(id);
        const cs = [...(await chains(id))];
        if (cs.length) tops.push(cs[cs.length - 1]!);
      } catch {
        /* an unknown image matches nothing */
      }
    }
    for (const c of svc.store.all()) {
      if (ancestors.has(c.image)) continue;
      const cs = await chains(c.image).catch(() => new Set<string>());
      if (tops.some((t) => cs.has(t))) descends.add(c.image);
    }
  }
  // Newest first, like Docker.
  let list = svc.store.all().sort((a, b) => order.get(b.id)! - order.get(a.id)!);
  // Without -a, only running ones (unless a status/exited filter asks for more).
  const wantAll = o.all || f.get('status').length > 0 || exited.length > 0 || (o.limit ?? 0) > 0 || before.length > 0 || since.length > 0;
  list = list.filter((c) => {
    const s = c.state.Status;
    if (!wantAll && !c.state.Running) return false;
    if (f.get('id').length && !f.get('id').some((p) => c.id.startsWith(p))) return false;
    if (names.length && !names.some((re) => re.test(c.name))) return false;
    if (f.get('label').length && !f.get('label').every((l) => labelMatch(c.config.Labels ?? {}, l))) return false;
    if (f.get('status').length && !f.get('status').includes(s === 'paused' ? 'paused' : s)) return false;
    if (exited.length && (s !== 'exited' || !exited.includes(c.state.ExitCode))) return false;
    if (ancestors && !ancestors.has(c.image) && !descends.has(c.image)) return false;
    if (before.length && !(order.get(c.id)! < Math.min(...before))) return false;
    if (since.length && !(order.get(c.id)! > Math.max(...since))) return false;
    if (f.get('health').length && !f.get('health').includes(c.state.Health?.Status ?? 'none')) return false;
    if (f.get('volume').length && !f.get('volume').some((v) => (c.mounts ?? []).some((m) => m.Destination === v || (m.Name || m.Source) === v))) return false;
    if (f.get('network').length && !f.get('network').some((n) => n === c.hostConfig.NetworkMode || Object.entries(c.networks ?? {}).some(([name, cn]) => name === n || cn.networkId.startsWith(n)))) return false;
    if (f.get('isolation').length && !f.get('isolation').includes(c.hostConfig.Isolation || 'default')) return false;
    if (f.bool('is-task') === true) return false;
    return true;
  });
  if (o.limit && o.limit > 0) list = list.slice(0, o.limit);
  const out: ContainerSummary[] = [];
  for (const c of list) {
    const s: ContainerSummary = {
      Id: c.id, Names: [`/${c.name}`], Image: c.imageName, ImageID: c.image, Command: commandOf(c),
      Created: Math.floor(Date.parse(c.created) / 1000), Ports: svc.o.networks.portList(c), Labels: c.config.Labels ?? {},
      State: c.state.Status, Status: statusText(c.state),
      HostConfig: { NetworkMode: c.hostConfig.NetworkMode ?? 'bridge', ...(c.hostConfig.Annotations ? { Annotations: c.hostConfig.Annotations } : {}) },
      NetworkSettings: { Networks: svc.o.networks.networksView(c) }, Mounts: (c.mounts ?? []).map(mountPointView),
    };
    if (o.size) Object.assign(s, await sizes(svc, c));
    out.push(s);
  }
  return out;
}


export async function inspectContainer(svc: ContainerService, c: ContainerRecord, o: { size: boolean; execIds: string[] }): Promise<object> {
  const graph = await graphDriver(svc, c);
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: c.state,
    Image: c.image,
    ResolvConfPath: c.resolvConfPath,
    HostnamePath: c.hostnamePath,
    HostsPath: c.hostsPath,
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: c.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: o.execIds.length ? o.execIds : null,
    HostConfig: hostConfigView(c, svc.o.cgroupMode === 'v2' ? 'private' : 'host'),
    GraphDriver: graph,
    ...(o.size ? await sizes(svc, c) : {}),
    Mounts: (c.mounts ?? []).map(mountPointView),
    Config: configView(c),
    NetworkSettings: svc.o.networks.settings(c),
  };
}

function configView(c: ContainerRecord): object {
  const k = c.config;
  return {
    Hostname: k.Hostname ?? '', Domainname: k.Domainname ?? '', User: k.User ?? '',
    AttachStdin: !!k.AttachStdin, AttachStdout: !!k.AttachStdout, AttachStderr: !!k.AttachStderr,
    ...(k.ExposedPorts && Object.keys(k.ExposedPorts).length ? { ExposedPorts: k.ExposedPorts } : {}),
    Tty: !!k.Tty, OpenStdin: !!k.OpenStdin, StdinOnce: !!k.StdinOnce,
    Env: k.Env ?? null, Cmd: k.Cmd ?? null,
    ...(k.Healthcheck ? { Healthcheck: k.Healthcheck } : {}),
    ...(k.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: k.Image ?? '', Volumes: k.Volumes && Object.keys(k.Volumes).length ? k.Volumes : null,
    WorkingDir: k.WorkingDir ?? '', Entrypoint: k.Entrypoint ?? null, OnBuild: null, Labels: k.Labels ?? {},
    ...(k.StopSignal ? { StopSignal: k.StopSignal } : {}),
    ...(k.StopTimeout !== undefined && k.StopTimeout !== null ? { StopTimeout: k.StopTimeout } : {}),
    ...(k.Shell ? { Shell: k.Shell } : {}),
  };
}

/** HostConfig with Docker's defaults filled in, as inspect shows it. */
function hostConfigView(c: ContainerRecord, cgroupns: string): object {
  const h = c.hostConfig;
  return {
    Binds: h.Binds ?? null, ContainerIDFile: h.ContainerIDFile ?? '', LogConfig: h.LogConfig ?? { Type: 'json-file', Config: {} },
    NetworkMode: h.NetworkMode ?? 'bridge', PortBindings: h.PortBindings ?? {}, RestartPolicy: h.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: !!h.AutoRemove, VolumeDriver: h.VolumeDriver ?? '', VolumesFrom: h.VolumesFrom ?? null, ConsoleSize: h.ConsoleSize ?? [0, 0],
    ...(h.Annotations ? { Annotations: h.Annotations } : {}),
    CapAdd: h.CapAdd ?? null, CapDrop: h.CapDrop ?? null, CgroupnsMode: h.CgroupnsMode || cgroupns, Dns: h.Dns ?? [], DnsOptions: h.DnsOptions ?? [],
    DnsSearch: h.DnsSearch ?? [], ExtraHosts: h.ExtraHosts ?? null, GroupAdd: h.GroupAdd ?? null, IpcMode: h.IpcMode || 'private', Cgroup: h.Cgroup ?? '',
    Links: h.Links ?? null, OomScoreAdj: h.OomScoreAdj ?? 0, PidMode: h.PidMode ?? '', Privileged: !!h.Privileged, PublishAllPorts: !!h.PublishAllPorts,
    ReadonlyRootfs: !!h.ReadonlyRootfs, SecurityOpt: h.SecurityOpt ?? null, ...(h.Tmpfs ? { Tmpfs: h.Tmpfs } : {}), UTSMode: h.UTSMode ?? '', UsernsMode: h.UsernsMode ?? '',
    ShmSize: h.ShmSize || 67108864, ...(h.Sysctls ? { Sysctls: h.Sysctls } : {}), Runtime: h.Runtime || 'runc', Isolation: h.Isolation ?? '',
    CpuShares: h.CpuShares ?? 0, Memory: h.Memory ?? 0, NanoCpus: h.NanoCpus ?? 0, CgroupParent: h.CgroupParent ?? '', BlkioWeight: h.BlkioWeight ?? 0,
    BlkioWeightDevice: h.BlkioWeightDevice ?? [], BlkioDeviceReadBps: h.BlkioDeviceReadBps ?? [], BlkioDeviceWriteBps: h.BlkioDeviceWriteBps ?? [],
    BlkioDeviceReadIOps: h.BlkioDeviceReadIOps ?? [], BlkioDeviceWriteIOps: h.BlkioDeviceWriteIOps ?? [], CpuPeriod: h.CpuPeriod ?? 0, CpuQuota: h.CpuQuota ?? 0,
    CpuRealtimePeriod: h.CpuRealtimePeriod ?? 0, CpuRealtimeRuntime: h.CpuRealtimeRuntime ?? 0, CpusetCpus: h.CpusetCpus ?? '', CpusetMems: h.CpusetMems ?? '',
    Devices: h.Devices ?? [], DeviceCgroupRules: h.DeviceCgroupRules ?? null, DeviceRequests: h.DeviceRequests ?? null, MemoryReservation: h.MemoryReservation ?? 0,
    MemorySwap: h.MemorySwap ?? 0, MemorySwappiness: h.MemorySwappiness ?? null, OomKillDisable: h.OomKillDisable ?? null, PidsLimit: h.PidsLimit ?? null,
    Ulimits: h.Ulimits ?? [], CpuCount: h.CpuCount ?? 0, CpuPercent: h.CpuPercent ?? 0, IOMaximumIOps: h.IOMaximumIOps ?? 0, IOMaximumBandwidth: h.IOMaximumBandwidth ?? 0,
    ...(h.Mounts?.length ? { Mounts: h.Mounts } : {}),
    MaskedPaths: h.MaskedPaths ?? (h.Privileged ? null : DEFAULT_MASKED), ReadonlyPaths: h.ReadonlyPaths ?? (h.Privileged ? null : DEFAULT_READONLY),
    ...(h.Init ? { Init: true } : {}),
  };
}

const DEFAULT_MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
const DEFAULT_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
