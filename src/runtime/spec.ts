/**
 * Docker container configuration → OCI runtime spec (runtime-spec 1.0.2, the
 * config.json runc reads), with the defaults Docker's daemon applies
 * (moby oci/defaults.go and daemon/oci_linux.go): the 14 default
 * capabilities, the /proc /dev /sys mounts, masked and read-only /proc paths,
 * the device cgroup allowlist, the default seccomp profile.
 *
 * The engine decides everything that needs other subsystems (namespaces to
 * join, the rootfs, /etc/hosts and friends, volumes, the user from the image's
 * passwd via resolveUser, the mapped devices via resolveDevices) and passes
 * the results in; buildSpec only assembles. It reads a few host facts
 * synchronously (capabilities, sysctls present, swap accounting, block device
 * numbers for blkio limits).
 *
 *   const spec = buildSpec({ id, config, hostConfig, args, env, cwd, user, ... });
 *   await writeFile(join(bundle, 'config.json'), specJson(spec));
 */
import { existsSync, statSync } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { invalid } from '../base/errdefs.js';
import { containerCapabilities, allCapabilities } from './caps.js';
import type { ContainerConfig, DeviceMapping, HostConfig, ThrottleDevice } from './container-config.js';
import { defaultSeccompProfile, seccompFromDocker, type LinuxSeccomp } from './seccomp.js';
import type { ResolvedUser } from './user.js';
import { DEVICE_CGROUP_RULE } from './validate.js';

export type NsRef = { mode: 'private' } | { mode: 'host' } | { mode: 'join'; path: string };
export interface OciMount { destination: string; type?: string; source?: string; options?: string[] }

export interface OciCapabilities { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] }
/** Rlimit values of -1 mean RLIM_INFINITY; specJson writes them as the uint64 runc expects. */
export interface OciRlimit { type: string; hard: number; soft: number }
export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
}
export interface OciDevice { path: string; type: 'c' | 'b'; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }
export interface OciDeviceRule { allow: boolean; type?: 'a' | 'c' | 'b'; major?: number; minor?: number; access?: string }
interface MajorMinor { major: number; minor: number }
export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    weightDevice?: (MajorMinor & { weight: number })[];
    throttleReadBpsDevice?: (MajorMinor & { rate: number })[];
    throttleWriteBpsDevice?: (MajorMinor & { rate: number })[];
    throttleReadIOPSDevice?: (MajorMinor & { rate: number })[];
    throttleWriteIOPSDevice?: (MajorMinor & { rate: number })[];
  };
}
export type NsType = 'mount' | 'network' | 'uts' | 'pid' | 'ipc' | 'cgroup' | 'user';
export interface OciLinux {
  namespaces: { type: NsType; path?: string }[];
  devices?: OciDevice[];
  cgroupsPath?: string;
  resources?: OciResources;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
}
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: OciLinux;
  annotations?: Record<string, string>;
}

/** A device node to create in the container and allow in its device cgroup. */
export interface SpecDevice { path: string; type: 'c' | 'b'; major: number; minor: number; fileMode: number; uid: number; gid: number; permissions: string }

export interface SpecInput {
  id: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  hostname: string;
  rootfs: string;
  cgroupsPath: string;
  files: { hosts: string; hostname: string; resolvConf: string };
  namespaces: { pid: NsRef; ipc: NsRef; uts: NsRef; net: NsRef; cgroup?: NsRef };
  shm: { mode: 'tmpfs'; size: number } | { mode: 'bind'; source: string } | { mode: 'none' };
  /** Host path of tini: bind-mounted at /sbin/docker-init, which then runs args (private pid namespace only). */
  init?: string;
  seccomp?: 'default' | 'unconfined' | object;
  noNewPrivileges?: boolean;
  /** From `--security-opt writable-cgroups=true`. */
  writableCgroups?: boolean;
  /** Binds and volumes, after the defaults; one at a default's destination replaces it. */
  extraMounts?: OciMount[];
  /** The rootfs's propagation ("shared", "rslave"), which shared and slave binds need; runc's default otherwise. */
  rootfsPropagation?: string;
  devices?: SpecDevice[];
}

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const char = (major: number, minor: number): OciDeviceRule => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
/** Deny everything, then the devices every container has (runc adds the same defaults itself). */
const DEFAULT_DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  char(1, 5), char(1, 3), char(1, 9), char(1, 8), char(5, 0), char(5, 1), // zero null urandom random tty console
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // fuse
  char(1, 7), char(5, 2), { allow: true, type: 'c', major: 136, access: 'rwm' }, // full ptmx pts/*
];

const INIT_PATH = '/sbin/docker-init';
/** Mounts that stay writable with ReadonlyRootfs, as in Docker. */
const WRITABLE_ON_RO_ROOT = ['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'];

/** Mount flags that exclude each other (one per group survives), as moby/sys/mount groups them by flag bit. */
const TMPFS_FLAG_GROUPS = [['ro', 'rw'], ['exec', 'noexec'], ['suid', 'nosuid'], ['dev', 'nodev'], ['atime', 'noatime'], ['diratime', 'nodiratime'],
  ['relatime', 'norelatime'], ['strictatime', 'nostrictatime'], ['sync', 'async'], ['dirsync'], ['mand', 'nomand'], ['remount'], ['bind', 'rbind'],
  ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']];
const TMPFS_DATA = ['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol'];

/** Docker's MergeTmpfsOptions: later options win over earlier ones of the same kind; unknown ones are refused. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const o of [...options].reverse()) {
    if (o === 'defaults') continue;
    let key = TMPFS_FLAG_GROUPS.find((g) => g.includes(o))?.join('|');
    if (!key) {
      const eq = o.indexOf('=');
      if (eq < 0 || !TMPFS_DATA.includes(o.slice(0, eq))) {
        const parts = eq < 0 ? [o] : [o.slice(0, eq), o.slice(eq + 1)];
        throw invalid(`invalid tmpfs option [${parts.map((x) => JSON.stringify(x)).join(' ')}]`); // Go's %q of the split option
      }
      key = o.slice(0, eq);
    }
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(o);
  }
  return out;
}

const majorMinor = (rdev: bigint): MajorMinor => ({
  major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
  minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
});

function blockDevice(path: string): MajorMinor {
  try {
    return majorMinor(statSync(path, { bigint: true }).rdev);
  } catch (e) {
    throw invalid(`stat ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, e);
  }
}

const throttle = (list: ThrottleDevice[] | null | undefined) =>
  list?.length ? list.map((d) => ({ ...blockDevice(d.Path), rate: d.Rate })) : undefined;

const sysctlExists = (k: string) => existsSync(`/proc/sys/${k.replaceAll('.', '/')}`);
const cgroupV2 = () => existsSync('/sys/fs/cgroup/cgroup.controllers');
/** Swap limits need swap accounting (memory.memsw.* on cgroup v1); without it Docker drops the swap limit. */
const swapAccounting = () => cgroupV2() || existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');

/** Removes undefined fields so the JSON is what runc would expect to read. */
function compact<T extends object>(o: T): T | undefined {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined);
  return entries.length ? (Object.fromEntries(entries) as T) : undefined;
}

function resources(hc: HostConfig, devices: SpecDevice[], privileged: boolean): OciResources {
  const mem = hc.Memory ?? 0;
  // Docker turns MemorySwap 0 into twice Memory at create; -1 is unlimited swap.
  let swap = hc.MemorySwap ?? 0;
  if (mem > 0 && swap === 0) swap = mem * 2;
  if (!swapAccounting()) swap = -1;
  const memory = compact({
    limit: mem > 0 ? mem : undefined,
    reservation: (hc.MemoryReservation ?? 0) > 0 ? hc.MemoryReservation : undefined,
    swap: swap > 0 ? swap : undefined,
    swappiness: hc.MemorySwappiness != null && hc.MemorySwappiness !== -1 ? hc.MemorySwappiness : undefined,
    disableOOMKiller: hc.OomKillDisable ?? undefined,
  });

  let period = hc.CpuPeriod || undefined, quota = hc.CpuQuota || undefined;
  if ((hc.NanoCpus ?? 0) > 0) {
    period ??= 100000;
    quota ??= Math.floor((hc.NanoCpus! * 100000) / 1e9);
  }
  const shares = hc.CpuShares ?? 0;
  const cpu = compact({
    shares: shares > 0 ? Math.min(Math.max(shares, 2), 262144) : undefined, // Docker clamps to the kernel's range
    quota, period,
    realtimeRuntime: hc.CpuRealtimeRuntime || undefined,
    realtimePeriod: hc.CpuRealtimePeriod || undefined,
    cpus: hc.CpusetCpus || undefined,
    mems: hc.CpusetMems || undefined,
  });

  const blockIO = compact({
    weight: (hc.BlkioWeight ?? 0) > 0 ? hc.BlkioWeight : undefined,
    weightDevice: hc.BlkioWeightDevice?.length ? hc.BlkioWeightDevice.map((d) => ({ ...blockDevice(d.Path), weight: d.Weight })) : undefined,
    throttleReadBpsDevice: throttle(hc.BlkioDeviceReadBps),
    throttleWriteBpsDevice: throttle(hc.BlkioDeviceWriteBps),
    throttleReadIOPSDevice: throttle(hc.BlkioDeviceReadIOps),
    throttleWriteIOPSDevice: throttle(hc.BlkioDeviceWriteIOps),
  });

  let rules: OciDeviceRule[];
  if (privileged) rules = [{ allow: true, access: 'rwm' }];
  else {
    rules = [...DEFAULT_DEVICE_RULES, ...devices.map((d): OciDeviceRule => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions }))];
    for (const r of hc.DeviceCgroupRules ?? []) {
      const m = DEVICE_CGROUP_RULE.exec(r);
      if (!m) throw invalid(`invalid device cgroup rule format: '${r}'`);
      rules.push(compact({ allow: true, type: m[1] as 'a' | 'c' | 'b', major: m[2] === '*' ? undefined : Number(m[2]), minor: m[3] === '*' ? undefined : Number(m[3]), access: m[4] })!);
    }
  }

  const pidsLimit = hc.PidsLimit;
  return compact({
    devices: rules,
    memory, cpu, blockIO,
    pids: pidsLimit == null ? undefined : { limit: pidsLimit > 0 ? pidsLimit : -1 },
  })!;
}

const depth = (p: string) => posix.normalize(p).split('/').length;

function mounts(i: SpecInput, privileged: boolean, readonlyRoot: boolean): OciMount[] {
  const hc = i.hostConfig;
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if (i.shm.mode === 'tmpfs')
    defaults.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${i.shm.size}`] });
  if (i.init && i.namespaces.pid.mode === 'private')
    defaults.push({ destination: INIT_PATH, type: 'bind', source: i.init, options: ['bind', 'ro'] });

  // The "user" mounts, Docker's name for everything the container config asks for.
  const bind = (source: string, destination: string, ro: boolean): OciMount =>
    ({ destination, type: 'bind', source, options: ['rbind', ...(ro ? ['ro'] : []), 'rprivate'] });
  const user: OciMount[] = [
    bind(i.files.resolvConf, '/etc/resolv.conf', readonlyRoot),
    bind(i.files.hostname, '/etc/hostname', readonlyRoot),
    bind(i.files.hosts, '/etc/hosts', readonlyRoot),
  ];
  if (i.shm.mode === 'bind') user.push(bind(i.shm.source, '/dev/shm', false));
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {}))
    user.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(data ? data.split(',') : [])]) });
  // Binds and volumes win over our own mounts at the same place.
  const extra = i.extraMounts ?? [];
  const taken = new Set(extra.map((m) => posix.normalize(m.destination)));
  const userMounts = [...user.filter((m) => !taken.has(m.destination)), ...extra]
    .map((m, n) => ({ m, n }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.n - b.n) // parents first, else in order
    .map(({ m }) => m);
  const userDest = new Set(userMounts.map((m) => posix.normalize(m.destination)));

  const kept = defaults.filter((m) => !userDest.has(m.destination) && !(userDest.has('/dev') && m.destination.startsWith('/dev/')));
  for (const m of kept) {
    let o = m.options ?? [];
    if (readonlyRoot && !WRITABLE_ON_RO_ROOT.includes(m.destination) && !o.includes('ro')) o = [...o, 'ro'];
    if ((privileged && (m.destination === '/sys' || m.type === 'cgroup')) || (i.writableCgroups && m.type === 'cgroup')) o = o.filter((x) => x !== 'ro');
    m.options = o;
  }
  return [...kept, ...userMounts];
}

function namespaces(i: SpecInput): OciLinux['namespaces'] {
  const out: OciLinux['namespaces'] = [{ type: 'mount' }];
  const add = (type: NsType, ref: NsRef | undefined) => {
    if (!ref || ref.mode === 'host') return;
    out.push(ref.mode === 'join' ? { type, path: ref.path } : { type });
  };
  const n = i.namespaces;
  add('network', n.net); add('uts', n.uts); add('pid', n.pid); add('ipc', n.ipc); add('cgroup', n.cgroup);
  return out;
}

function seccompFor(i: SpecInput, caps: string[], privileged: boolean): LinuxSeccomp | undefined {
  const s = i.seccomp ?? 'default';
  if (privileged || s === 'unconfined') return undefined;
  return s === 'default' ? defaultSeccompProfile(caps) : seccompFromDocker(s, caps);
}

const capabilitySet = (caps: string[]): OciCapabilities => ({ bounding: [...caps], effective: [...caps], permitted: [...caps] });
const userOf = (u: ResolvedUser): OciProcess['user'] =>
  ({ uid: u.uid, gid: u.gid, ...(u.additionalGids.length ? { additionalGids: [...u.additionalGids] } : {}) });
const consoleSize = (tty: boolean, size: [number, number] | null | undefined) =>
  tty && size && (size[0] > 0 || size[1] > 0) ? { height: size[0], width: size[1] } : undefined;

export function buildSpec(i: SpecInput): OciSpec {
  const hc = i.hostConfig, cfg = i.config;
  const privileged = !!hc.Privileged;
  const readonlyRoot = !!hc.ReadonlyRootfs;
  const caps = containerCapabilities(hc.CapAdd, hc.CapDrop, privileged);
  const ownUts = i.namespaces.uts.mode === 'private';

  let args = i.args;
  if (i.init && i.namespaces.pid.mode === 'private') args = [INIT_PATH, '--', ...args];

  const process = compact<OciProcess>({
    terminal: !!cfg.Tty,
    consoleSize: consoleSize(!!cfg.Tty, hc.ConsoleSize),
    user: userOf(i.user),
    args: [...args],
    env: [...i.env],
    cwd: i.cwd || '/',
    // No inheritable or ambient set, like Docker 23+: exec'd programs keep only what file caps grant.
    capabilities: capabilitySet(caps),
    rlimits: hc.Ulimits?.length ? hc.Ulimits.map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, hard: u.Hard, soft: u.Soft })) : undefined,
    noNewPrivileges: i.noNewPrivileges ? true : undefined,
    oomScoreAdj: hc.OomScoreAdj ?? 0,
  })!;

  const sysctl: Record<string, string> = {};
  if (i.namespaces.net.mode === 'private') {
    // Docker's defaults for a new network namespace: ping and low ports without capabilities.
    if (sysctlExists('net.ipv4.ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  // runtime-spec 1.0.2 has no domainname; the sysctl does what setdomainname(2) would.
  if (cfg.Domainname && ownUts) sysctl['kernel.domainname'] = cfg.Domainname;
  Object.assign(sysctl, hc.Sysctls ?? {});

  const devices = i.devices ?? [];
  const linux = compact<OciLinux>({
    namespaces: namespaces(i),
    devices: devices.length ? devices.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid })) : undefined,
    cgroupsPath: i.cgroupsPath,
    resources: resources(hc, devices, privileged),
    sysctl: Object.keys(sysctl).length ? sysctl : undefined,
    seccomp: seccompFor(i, caps, privileged),
    maskedPaths: [...(hc.MaskedPaths ?? (privileged ? [] : DEFAULT_MASKED_PATHS))],
    readonlyPaths: [...(hc.ReadonlyPaths ?? (privileged ? [] : DEFAULT_READONLY_PATHS))],
    rootfsPropagation: i.rootfsPropagation,
  })!;

  return compact<OciSpec>({
    ociVersion: '1.0.2',
    process,
    root: { path: i.rootfs, readonly: readonlyRoot },
    hostname: ownUts ? i.hostname : undefined,
    mounts: mounts(i, privileged, readonlyRoot),
    linux,
    annotations: hc.Annotations && Object.keys(hc.Annotations).length ? { ...hc.Annotations } : undefined,
  })!;
}

const RLIM_INFINITY = '\u0000RLIM_INFINITY';
/** The spec as config.json: like JSON.stringify, but an rlimit of -1 becomes RLIM_INFINITY (2^64-1), which JSON numbers in JS cannot spell. */
export function specJson(spec: OciSpec | OciProcess): string {
  return JSON.stringify(spec, function (this: unknown, k, v) {
    return (k === 'soft' || k === 'hard') && v === -1 && this && typeof this === 'object' && 'type' in this ? RLIM_INFINITY : v;
  }).replaceAll(JSON.stringify(RLIM_INFINITY), '18446744073709551615');
}

export interface ExecInput {
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  tty: boolean;
  privileged: boolean;
  consoleSize?: [number, number];
  noNewPrivileges?: boolean;
  /** The container's own bounding set (spec.process.capabilities.bounding). */
  containerCaps: string[];
  /** Carried over from the container's process, as Docker's exec does. */
  rlimits?: OciRlimit[];
  oomScoreAdj?: number;
}

/** The process.json for `runc exec --process`; a privileged exec gets every capability. */
export function execProcess(i: ExecInput): OciProcess {
  return compact<OciProcess>({
    terminal: i.tty,
    consoleSize: consoleSize(i.tty, i.consoleSize),
    user: userOf(i.user),
    args: [...i.args],
    env: [...i.env],
    cwd: i.cwd || '/',
    capabilities: capabilitySet(i.privileged ? allCapabilities() : i.containerCaps),
    rlimits: i.rlimits?.length ? i.rlimits.map((r) => ({ ...r })) : undefined,
    noNewPrivileges: i.noNewPrivileges ? true : undefined,
    oomScoreAdj: i.oomScoreAdj,
  })!;
}

/** One node → SpecDevice, or undefined when it is not a character or block device. */
async function deviceAt(hostPath: string, containerPath: string, permissions: string): Promise<SpecDevice | undefined> {
  const st = await lstat(hostPath, { bigint: true });
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return { path: containerPath, type, ...majorMinor(st.rdev), fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), permissions };
}

/** Directories and nodes of the host's /dev a privileged container does not get (it has its own). */
const HOST_DEV_SKIP = ['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev', 'console'];

/** Every device under `dir` (recursively), at the same place below `containerDir`; symlinks are not followed. */
async function devicesUnder(dir: string, containerDir: string, permissions: string, skip: readonly string[] = []): Promise<SpecDevice[]> {
  const out: SpecDevice[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (skip.includes(e.name)) continue;
    const [host, ctr] = [posix.join(dir, e.name), posix.join(containerDir, e.name)];
    if (e.isDirectory()) out.push(...(await devicesUnder(host, ctr, permissions, skip)));
    else {
      const d = await deviceAt(host, ctr, permissions).catch(() => undefined);
      if (d) out.push(d);
    }
  }
  return out;
}

/** Docker's DevicesFromPath: a device node, or a directory holding devices; a symlinked path is followed. */
async function devicesFromPath(m: DeviceMapping, permissions: string): Promise<SpecDevice[]> {
  const inContainer = m.PathInContainer || m.PathOnHost;
  let host = m.PathOnHost;
  let cause = 'not a device node';
  try {
    if ((await lstat(host)).isSymbolicLink()) host = await realpath(host);
    const d = await deviceAt(host, inContainer, permissions);
    if (d) return [d];
    if ((await stat(host)).isDirectory()) {
      const all = await devicesUnder(host, inContainer, permissions);
      if (all.length) return all;
    }
  } catch (e) {
    cause = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
  }
  throw invalid(`error gathering device information while adding custom device "${m.PathOnHost}": ${cause}`);
}

/**
 * Stats the host devices a container gets: the mapped ones (HostConfig.Devices),
 * and for a privileged container every device under /dev like Docker (but not
 * /dev/pts, shm, mqueue, fd or console, which the container has its own of).
 */
export async function resolveDevices(devices: DeviceMapping[] | null | undefined, privileged: boolean): Promise<SpecDevice[]> {
  const out: SpecDevice[] = [];
  if (privileged) out.push(...(await devicesUnder('/dev', '/dev', 'rwm', HOST_DEV_SKIP)));
  for (const m of devices ?? []) {
    const perms = m.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms)) throw invalid(`invalid device mode: ${perms}`);
    // privileged: the node is already there at its own path, and the cgroup allows everything
    if (privileged && (m.PathInContainer || m.PathOnHost) === m.PathOnHost) continue;
    out.push(...(await devicesFromPath(m, privileged ? 'rwm' : perms)));
  }
  return out;
}
