/**
 * The daemon-side checks Docker makes on a container's configuration at
 * create (and update) time, with Docker 28's messages, so a bad request fails
 * with 400 and the same words before anything touches the kernel. Also the
 * parsing of HostConfig.SecurityOpt.
 */
import { constants } from 'node:os';
import { posix } from 'node:path';
import { invalid, messageOf } from '../base/errdefs.js';
import { normalizeCapabilities } from './caps.js';
import type { ContainerConfig, HostConfig } from './container-config.js';

export interface SecurityOptions {
  /** 'default' is Docker's profile; an object is a Docker-format profile (see seccomp.ts). */
  seccomp: 'default' | 'unconfined' | object;
  noNewPrivileges: boolean;
  /** SELinux label options; recorded, not applied (no SELinux here). */
  labels: string[];
  /** `writable-cgroups=true` (Docker 28): /sys/fs/cgroup mounted read-write. */
  writableCgroups?: boolean;
}

const parseBool = (v: string): boolean | undefined =>
  ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v) ? true : ['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v) ? false : undefined;

/** Docker's parseSecurityOpt. "key:value" is the deprecated spelling of "key=value" and still accepted. */
export function parseSecurityOpt(opts: string[] | null | undefined): SecurityOptions {
  const r: SecurityOptions = { seccomp: 'default', noNewPrivileges: false, labels: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') { r.noNewPrivileges = true; continue; }
    if (opt === 'disable') { r.labels.push('disable'); continue; }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalid(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const [k, v] = [opt.slice(0, i), opt.slice(i + 1)];
    const bad2 = () => invalid(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    switch (k) {
      case 'label': r.labels.push(v); break;
      case 'apparmor': break; // no AppArmor on this engine: accepted and ignored
      case 'seccomp':
        if (v === 'unconfined') r.seccomp = 'unconfined';
        else if (v === '' || v === 'builtin') r.seccomp = 'default';
        else {
          let p: unknown;
          try {
            p = JSON.parse(v);
          } catch (e) {
            throw invalid(`Decoding seccomp profile failed: ${messageOf(e)}`);
          }
          if (!p || typeof p !== 'object' || Array.isArray(p)) throw invalid('Decoding seccomp profile failed: profile is not a JSON object');
          r.seccomp = p;
        }
        break;
      case 'no-new-privileges':
      case 'writable-cgroups': {
        const b = parseBool(v);
        if (b === undefined) throw bad2();
        if (k === 'no-new-privileges') r.noNewPrivileges = b;
        else r.writableCgroups = b;
        break;
      }
      default:
        throw bad2();
    }
  }
  return r;
}

const MIN_MEMORY = 6 * 1024 * 1024;
const ULIMITS = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];
/** Sysctls that live in the container's IPC namespace (Docker's allowlist). */
const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
export const DEVICE_CGROUP_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** "0-3,5" → the listed numbers; throws on bad syntax (parsers.ParseUintList). */
export function parseUintList(s: string): Set<number> {
  const out = new Set<number>();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid format: ${s}`);
    const [lo, hi] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (hi < lo) throw new Error(`invalid format: ${s}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

function validateRestartPolicy(hc: HostConfig): void {
  const { Name = '', MaximumRetryCount: n = 0 } = hc.RestartPolicy ?? {};
  switch (Name) {
    case 'always': case 'unless-stopped': case 'no':
      if (n !== 0) throw invalid(`invalid restart policy: maximum retry count can only be used with 'on-failure'${n < 0 ? ' and cannot be negative' : ''}`);
      return;
    case 'on-failure':
      if (n < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
      return;
    case '':
      return; // older clients send an empty name with any count
    default:
      throw invalid(`invalid restart policy: unknown policy '${Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
}

function validateConfig(cfg: ContainerConfig): void {
  if (cfg.WorkingDir && !cfg.WorkingDir.startsWith('/'))
    throw invalid(`the working directory '${cfg.WorkingDir}' is invalid, it needs to be an absolute path`);
  const hc = cfg.Healthcheck;
  if (hc) {
    const ms = 1e6;
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const)
      if (hc[k] && hc[k]! < ms) throw invalid(`${k} in Healthcheck cannot be less than 1ms`);
    if ((hc.Retries ?? 0) < 0) throw invalid('Retries in Healthcheck cannot be negative');
  }
  if (cfg.StopSignal) {
    const s = cfg.StopSignal;
    const name = `SIG${s.toUpperCase().replace(/^SIG/, '')}`;
    const ok = /^\d+$/.test(s) ? Number(s) > 0 : name in constants.signals || /^SIGRT(MIN|MAX)([+-]\d+)?$/.test(name);
    if (!ok) throw invalid(`Invalid signal: ${s}`);
  }
}

function validateResources(hc: HostConfig, ncpu: number): void {
  const mem = hc.Memory ?? 0, swap = hc.MemorySwap ?? 0, res = hc.MemoryReservation ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) throw invalid('Minimum memory limit allowed is 6MB');
  if (mem > 0 && swap > 0 && swap < mem) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  const sw = hc.MemorySwappiness;
  if (sw != null && sw !== -1 && (sw < 0 || sw > 100)) throw invalid(`Invalid value: ${sw}, valid memory swappiness range is 0-100`);
  if (res > 0 && res < MIN_MEMORY) throw invalid('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && res > 0 && mem < res) throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');

  const nano = hc.NanoCpus ?? 0;
  if (nano > 0 && (hc.CpuPeriod ?? 0) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (hc.CpuQuota ?? 0) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano !== 0 && (nano < 0 || nano > ncpu * 1e9)) throw invalid(`range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  const period = hc.CpuPeriod ?? 0, quota = hc.CpuQuota ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000)) throw invalid('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');

  let cpus: Set<number>;
  try {
    cpus = parseUintList(hc.CpusetCpus ?? '');
  } catch (e) {
    throw invalid(`Invalid value ${hc.CpusetCpus} for cpuset cpus: ${messageOf(e)}`);
  }
  if ([...cpus].some((c) => c >= ncpu))
    throw invalid(`Requested CPUs are not available - requested ${hc.CpusetCpus}, available: ${ncpu > 1 ? `0-${ncpu - 1}` : '0'}`);
  try {
    parseUintList(hc.CpusetMems ?? '');
  } catch (e) {
    throw invalid(`Invalid value ${hc.CpusetMems} for cpuset mems: ${messageOf(e)}`);
  }

  const w = hc.BlkioWeight ?? 0;
  if (w > 0 && (w < 10 || w > 1000)) throw invalid('Range of blkio weight is from 10 to 1000');
  if (hc.IOMaximumBandwidth || hc.IOMaximumIOps) throw invalid('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');

  for (const u of hc.Ulimits ?? []) {
    if (!ULIMITS.includes(u.Name)) throw invalid(`invalid ulimit type: ${u.Name}`);
    if (u.Soft !== -1 && u.Hard !== -1 && u.Soft > u.Hard) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
  for (const r of hc.DeviceCgroupRules ?? [])
    if (!DEVICE_CGROUP_RULE.test(r)) throw invalid(`invalid device cgroup rule format: '${r}'`);
  for (const d of hc.Devices ?? [])
    if (d.CgroupPermissions && !/^[rwm]{1,3}$/.test(d.CgroupPermissions)) throw invalid(`invalid device mode: ${d.CgroupPermissions}`);
}

const containerMode = (m: string) => m.startsWith('container:') && m.length > 'container:'.length;

/**
 * Docker's verifyContainerSettings: container config, host config, then the
 * platform checks. `ncpu` is the number of CPUs the daemon may use.
 */
export function validateHostConfig(hc: HostConfig, cfg: ContainerConfig, ncpu: number): void {
  validateConfig(cfg);
  const restart = hc.RestartPolicy?.Name ?? '';
  if (hc.AutoRemove && restart !== '' && restart !== 'no') throw invalid("can't create 'AutoRemove' container with restart policy");
  validateRestartPolicy(hc);
  for (const [field, list] of [['CapAdd', hc.CapAdd], ['CapDrop', hc.CapDrop]] as const) {
    try {
      normalizeCapabilities(list);
    } catch (e) {
      throw invalid(`invalid ${field}: ${messageOf(e)}`);
    }
  }
  if (hc.Isolation && hc.Isolation !== 'default') throw invalid(`invalid isolation '${hc.Isolation}' on linux`);
  if (hc.Annotations && '' in hc.Annotations) throw invalid('invalid Annotations: the empty string is not permitted as an annotation key');

  validateResources(hc, ncpu);

  const ipc = hc.IpcMode ?? '', pid = hc.PidMode ?? '', uts = hc.UTSMode ?? '';
  if (!['', 'none', 'private', 'shareable', 'host'].includes(ipc) && !containerMode(ipc)) throw invalid(`invalid IPC mode: ${ipc}`);
  if (!['', 'host'].includes(pid) && !containerMode(pid)) throw invalid(`invalid PID mode: ${pid}`);
  if ((hc.ShmSize ?? 0) < 0) throw invalid('SHM size can not be less than 0');
  if (!['', 'host'].includes(uts)) throw invalid(`invalid UTS mode: ${uts}`);
  if (uts === 'host' && cfg.Hostname) throw invalid('conflicting options: hostname and the UTS mode');
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) throw invalid(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  for (const dest of Object.keys(hc.Tmpfs ?? {})) {
    if (posix.normalize(dest) === '/') throw invalid("invalid specification: destination can't be '/'");
    if (!dest.startsWith('/')) throw invalid(`invalid mount path: '${dest}' mount path must be absolute`);
  }
  if (!['', 'private', 'host'].includes(hc.CgroupnsMode ?? '')) throw invalid(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);

  const hostNet = hc.NetworkMode === 'host';
  for (const k of Object.keys(hc.Sysctls ?? {})) {
    const ipcKey = IPC_SYSCTLS.includes(k) || k.startsWith('fs.mqueue.');
    if (!ipcKey && !k.startsWith('net.')) throw invalid(`sysctl '${k}' is not allowed`);
    if (ipcKey && ipc === 'host') throw invalid(`sysctl '${k}' is not allowed in the host's IPC namespace`);
    if (k.startsWith('net.') && hostNet) throw invalid(`sysctl '${k}' is not allowed in the host's network namespace`);
  }
  parseSecurityOpt(hc.SecurityOpt);
}
