/**
 * A running container's cgroup, as the Engine API needs it: the numbers for
 * GET /containers/{id}/stats (Docker's JSON field names, so the API layer adds
 * only read/preread, precpu_stats, name, id and networks), OOM kills, the pids
 * for `top`, the freezer state, and live resource updates for
 * POST /containers/{id}/update.
 *
 * runc (cgroupfs driver) places a container at an absolute cgroupsPath such as
 * /pier/<id>: on v1 that is <root>/<controller mount>/pier/<id> in every
 * hierarchy, on v2 one directory <root>/pier/<id>. A hybrid host (v1
 * controllers, cgroup2 only at <root>/unified) is v1 for us, as for runc 1.1.
 *
 *   const cg = new ContainerCgroup(detectCgroupMode(), '/pier/abc');
 *   const s = await cg.stats();   // s.memory_stats.usage, s.cpu_stats.cpu_usage.total_usage, ...
 *
 * Files we cannot read count as zero (a controller may be absent), and zero
 * fields are left out where Docker's Go types say omitempty, so our JSON
 * matches Docker's. Values beyond 2^53 (only the "unlimited" sentinels such
 * as hierarchical_memory_limit) lose precision as JS numbers.
 */
import { constants, existsSync, readFileSync, statfsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { EngineError, internal, invalid, notFound } from '../base/errdefs.js';
import type { Resources } from './container-config.js';

export type CgroupMode = 'v1' | 'v2';

export interface BlkioStatEntry { major: number; minor: number; op: string; value: number }
export interface CgroupStats {
  cpu_stats: {
    cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
    system_cpu_usage?: number;
    online_cpus?: number;
    throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  pids_stats: { current?: number; limit?: number };
  /** null where Docker has a nil slice (v2 has only io_service_bytes_recursive). */
  blkio_stats: Record<(typeof BLKIO_KEYS)[number], BlkioStatEntry[] | null>;
  num_procs: 0;
}

const DEFAULT_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;
/** USER_HZ, fixed at 100 on Linux; Docker hard-codes it too. */
const CLK_TCK = 100;

/** v2 when the root itself is a cgroup2 mount; a tmpfs of v1 hierarchies (with or without /unified) is v1. */
export function detectCgroupMode(root = DEFAULT_ROOT): CgroupMode {
  return statfsSync(root).type === CGROUP2_SUPER_MAGIC ? 'v2' : 'v1';
}

// JSON keys of Docker's BlkioStats, in order; v1 file names for each (CFQ-era, absent on blk-mq kernels).
const BLKIO_KEYS = ['io_service_bytes_recursive', 'io_serviced_recursive', 'io_queue_recursive', 'io_service_time_recursive',
  'io_wait_time_recursive', 'io_merged_recursive', 'io_time_recursive', 'sectors_recursive'] as const;
const CFQ_FILES = ['io_service_bytes_recursive', 'io_serviced_recursive', 'io_queued_recursive', 'io_service_time_recursive',
  'io_wait_time_recursive', 'io_merged_recursive', 'time_recursive', 'sectors_recursive'];

// The memory.stat keys Docker copies into memory_stats.stats (missing ones read 0), per version.
const MEM_KEYS_V1 = ['cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault',
  'pgmajfault', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
  'hierarchical_memory_limit', 'hierarchical_memsw_limit', 'total_cache', 'total_rss', 'total_rss_huge',
  'total_mapped_file', 'total_dirty', 'total_writeback', 'total_pgpgin', 'total_pgpgout', 'total_pgfault',
  'total_pgmajfault', 'total_inactive_anon', 'total_active_anon', 'total_inactive_file', 'total_active_file',
  'total_unevictable'];
const MEM_KEYS_V2 = ['anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty',
  'file_writeback', 'anon_thp', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
  'slab_reclaimable', 'slab_unreclaimable', 'pgfault', 'pgmajfault', 'workingset_refault', 'workingset_activate',
  'workingset_nodereclaim', 'pgrefill', 'pgscan', 'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree',
  'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc'];

// ---- parsers of kernel files (exported for fixture tests) ----

/** "key value" lines: memory.stat, cpu.stat, cpuacct.stat, memory.events, memory.oom_control. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** A single-number file; "max" (and anything unreadable) is `max`. */
const num = (text: string, max = 0) => (/^-?\d+$/.test(text.trim()) ? Number(text.trim()) : max);

/** v1 blkio.*: "8:0 Read 4096" per line, "8:0 123" for op-less files; the closing "Total N" is skipped. */
export function parseBlkioV1(text: string): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[ :]+/);
    if (f.length < 3) continue;
    const [major, minor] = f;
    const [op, value] = f.length >= 4 ? [f[2]!, f[3]!] : ['', f[2]!];
    out.push({ major: Number(major), minor: Number(minor), op, value: Number(value) });
  }
  return out;
}

/** v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 ..." → a read and a write entry per device, as Docker reports it. */
export function parseIoStatV2(text: string): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const f = Object.fromEntries(kv.map((p) => p.split('=') as [string, string]));
    const major = Number(m[1]), minor = Number(m[2]);
    out.push({ major, minor, op: 'read', value: Number(f.rbytes ?? 0) }, { major, minor, op: 'write', value: Number(f.wbytes ?? 0) });
  }
  return out;
}

/** /proc/stat → host CPU time in ns (user..softirq jiffies, like Docker) and the number of cpuN lines. */
export function parseProcStat(text: string): { systemUsage: number; onlineCpus: number } {
  let systemUsage = 0, onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) break;
    if (line[3] === ' ') systemUsage = line.trim().split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v), 0) * (1e9 / CLK_TCK);
    else if (/\d/.test(line[3] ?? '')) onlineCpus++;
  }
  return { systemUsage, onlineCpus };
}

/** Drops zero/undefined fields: Docker's omitempty. */
function omitZero<T extends object>(o: T): T {
  for (const [k, v] of Object.entries(o)) if (v === 0 || v === undefined) delete (o as Record<string, unknown>)[k];
  return o;
}

const pick = (all: Record<string, number>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, all[k] ?? 0]));

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** v1 controller → the directory name runc joins under the root (the mount's base name, e.g. "cpu,cpuacct"). */
const v1Mounts = new Map<string, Map<string, string>>();
function v1MountName(root: string, controller: string): string {
  let m = v1Mounts.get(root);
  if (!m) {
    m = new Map();
    let info = '';
    try {
      info = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch { /* no procfs: fall back to <root>/<controller> */ }
    for (const line of info.split('\n')) {
      const [pre, post] = line.split(' - ');
      const [fstype, , opts] = (post ?? '').split(' ');
      const mnt = (pre ?? '').split(' ')[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      if (fstype !== 'cgroup' || !mnt || dirname(mnt) !== resolve(root)) continue;
      for (const c of (opts ?? '').split(',')) m.set(c, basename(mnt));
    }
    v1Mounts.set(root, m);
  }
  return m.get(controller) ?? controller;
}

const REASONS: Record<string, string> = {
  EINVAL: 'invalid argument', EBUSY: 'device or resource busy', ERANGE: 'numerical result out of range',
  ENOSPC: 'no space left on device', EOPNOTSUPP: 'operation not supported', EPERM: 'operation not permitted',
  EACCES: 'permission denied', ENOENT: 'no such file or directory',
};
/** Errors the kernel gives for a value it refuses: the caller asked for something impossible. */
const REFUSALS = new Set(['EINVAL', 'EBUSY', 'ERANGE', 'ENOSPC', 'EOPNOTSUPP']);
const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? '';

export class ContainerCgroup {
  constructor(readonly mode: CgroupMode, readonly path: string, readonly root = DEFAULT_ROOT) {}

  /** The cgroup's directory: v2 has one, v1 one per controller. */
  dir(controller = ''): string {
    return this.mode === 'v2' ? join(this.root, this.path) : join(this.root, v1MountName(this.root, controller), this.path);
  }

  /** The directory that lists member processes; not-found when the cgroup is gone (container stopped). */
  private procsDir(): string {
    const dirs = this.mode === 'v2' ? [this.dir()] : ['pids', 'memory', 'freezer', 'cpu'].map((c) => this.dir(c));
    const found = dirs.find((d) => existsSync(d));
    if (!found) throw notFound(`cgroup ${this.path}: not found`);
    return found;
  }

  async stats(): Promise<CgroupStats> {
    this.procsDir();
    const [host, s] = await Promise.all([readText('/proc/stat').then(parseProcStat), this.mode === 'v2' ? this.statsV2() : this.statsV1()]);
    s.cpu_stats.system_cpu_usage = host.systemUsage;
    s.cpu_stats.online_cpus = host.onlineCpus;
    omitZero(s.cpu_stats);
    return s;
  }

  private async statsV1(): Promise<CgroupStats> {
    const rd = (c: string, f: string) => readText(join(this.dir(c), f));
    const [usage, percpu, acct, cpuStat, memStat, memUsage, memMax, memFail, memLimit, pidsCur, pidsMax] = await Promise.all([
      rd('cpuacct', 'cpuacct.usage'), rd('cpuacct', 'cpuacct.usage_percpu'), rd('cpuacct', 'cpuacct.stat'), rd('cpu', 'cpu.stat'),
      rd('memory', 'memory.stat'), rd('memory', 'memory.usage_in_bytes'), rd('memory', 'memory.max_usage_in_bytes'),
      rd('memory', 'memory.failcnt'), rd('memory', 'memory.limit_in_bytes'), rd('pids', 'pids.current'), rd('pids', 'pids.max'),
    ]);
    const ticks = parseFlatKeyed(acct), thr = parseFlatKeyed(cpuStat);
    const percpuUsage = percpu.trim().split(/\s+/).filter(Boolean).map(Number);
    const cpu_usage = {
      total_usage: num(usage), ...(percpuUsage.length ? { percpu_usage: percpuUsage } : {}),
      usage_in_kernelmode: (ticks.system ?? 0) * (1e9 / CLK_TCK), usage_in_usermode: (ticks.user ?? 0) * (1e9 / CLK_TCK),
    };
    // Docker prefers the CFQ files and falls back to blk-throttle's, which count every IO on blk-mq kernels.
    const blk = this.dir('blkio');
    const cfq = await Promise.all(CFQ_FILES.map((f) => readText(join(blk, `blkio.${f}`)).then(parseBlkioV1)));
    const blkio = Object.fromEntries(BLKIO_KEYS.map((k) => [k, [] as BlkioStatEntry[]])) as CgroupStats['blkio_stats'];
    if (cfq.some((e) => e.length)) BLKIO_KEYS.forEach((k, i) => (blkio[k] = cfq[i]!));
    else {
      blkio.io_service_bytes_recursive = parseBlkioV1(await readText(join(blk, 'blkio.throttle.io_service_bytes_recursive')));
      blkio.io_serviced_recursive = parseBlkioV1(await readText(join(blk, 'blkio.throttle.io_serviced_recursive')));
    }
    return {
      cpu_stats: {
        cpu_usage,
        throttling_data: { periods: thr.nr_periods ?? 0, throttled_periods: thr.nr_throttled ?? 0, throttled_time: thr.throttled_time ?? 0 },
      },
      memory_stats: omitZero({
        usage: num(memUsage), max_usage: num(memMax), stats: memStat ? pick(parseFlatKeyed(memStat), MEM_KEYS_V1) : undefined,
        failcnt: num(memFail), limit: memLimit ? hostClamp(num(memLimit)) : 0,
      }),
      pids_stats: omitZero({ current: num(pidsCur), limit: num(pidsMax) }),
      blkio_stats: blkio,
      num_procs: 0,
    };
  }

  private async statsV2(): Promise<CgroupStats> {
    const rd = (f: string) => readText(join(this.dir(), f));
    const [cpuStat, memCur, memMax, memStat, memEvents, pidsCur, pidsMax, io] = await Promise.all(
      ['cpu.stat', 'memory.current', 'memory.max', 'memory.stat', 'memory.events', 'pids.current', 'pids.max', 'io.stat'].map(rd));
    const c = parseFlatKeyed(cpuStat!);
    const ioEntries = parseIoStatV2(io!);
    return {
      cpu_stats: {
        cpu_usage: {
          total_usage: (c.usage_usec ?? 0) * 1000, usage_in_kernelmode: (c.system_usec ?? 0) * 1000, usage_in_usermode: (c.user_usec ?? 0) * 1000,
        },
        throttling_data: { periods: c.nr_periods ?? 0, throttled_periods: c.nr_throttled ?? 0, throttled_time: (c.throttled_usec ?? 0) * 1000 },
      },
      memory_stats: omitZero({
        usage: num(memCur!), stats: memStat ? pick(parseFlatKeyed(memStat), MEM_KEYS_V2) : undefined,
        // v2 has no failcnt: Docker reports memory.events "oom" (times the limit was hit) there.
        failcnt: parseFlatKeyed(memEvents!).oom ?? 0, limit: memMax ? hostClamp(num(memMax, Infinity)) : 0,
      }),
      pids_stats: omitZero({ current: num(pidsCur!), limit: num(pidsMax!) }),
      blkio_stats: { ...(Object.fromEntries(BLKIO_KEYS.map((k) => [k, null])) as CgroupStats['blkio_stats']), io_service_bytes_recursive: ioEntries.length ? ioEntries : null },
      num_procs: 0,
    };
  }

  /** OOM kills so far (v1 needs kernel ≥ 4.13 for the oom_kill line); 0 when unreadable. */
  oomKills(): number {
    const [dir, file] = this.mode === 'v2' ? [this.dir(), 'memory.events'] : [this.dir('memory'), 'memory.oom_control'];
    try {
      return parseFlatKeyed(readFileSync(join(dir, file), 'utf8')).oom_kill ?? 0;
    } catch {
      return 0;
    }
  }

  /** Every process in the cgroup and its descendants (a container may nest cgroups, e.g. systemd inside). */
  async pids(): Promise<number[]> {
    const walk = async (dir: string): Promise<number[]> => {
      const own = (await readText(join(dir, 'cgroup.procs'))).split('\n').filter(Boolean).map(Number);
      const subs = await readdir(dir, { withFileTypes: true }).catch(() => []);
      const nested = await Promise.all(subs.filter((d) => d.isDirectory()).map((d) => walk(join(dir, d.name))));
      return own.concat(...nested);
    };
    return walk(this.procsDir());
  }

  /** Frozen means done freezing: v1 FREEZING and a v2 freeze still in progress count as not frozen. */
  async frozen(): Promise<boolean> {
    if (this.mode === 'v1') return (await readText(join(this.dir('freezer'), 'freezer.state'))).trim() === 'FROZEN';
    const events = await readText(join(this.dir(), 'cgroup.events'));
    if (events) return parseFlatKeyed(events).frozen === 1;
    return (await readText(join(this.dir(), 'cgroup.freeze'))).trim() === '1';
  }

  /**
   * Applies Docker's update fields to the running container; a zero, empty or
   * absent field leaves that limit alone, -1 lifts it (PidsLimit: 0 or -1).
   * Supported like `docker update`: Memory, MemoryReservation, MemorySwap,
   * CpuShares, NanoCpus, CpuQuota, CpuPeriod, CpuRealtime* (v1), CpusetCpus,
   * CpusetMems, PidsLimit, BlkioWeight. Validation against the container's
   * config (e.g. swap below memory) is the engine's; the kernel's refusals
   * (EINVAL, EBUSY) come back as invalid with its reason.
   *
   * Why write the files rather than run `runc update`: the API has to answer
   * with the kernel's reason for a refusal, which runc turns into its own
   * text; one exec per update is avoided; and the write orders runc needs are
   * few (memory vs memsw, cfs period vs quota) and kept here. The cost: runc's
   * state.json keeps the limits from create, so nothing else may call
   * `runc update` on a Pier container (it would re-apply those).
   */
  async update(r: Resources): Promise<void> {
    this.procsDir();
    if (this.mode === 'v1') await this.updateV1(r);
    else await this.updateV2(r);
  }

  private async write(dir: string, file: string, value: number | string): Promise<void> {
    const path = join(dir, file);
    try {
      // No O_CREAT: a missing control file is an answer, not something to create.
      await writeFile(path, String(value), { flag: constants.O_WRONLY | constants.O_TRUNC });
    } catch (e) {
      const code = codeOf(e);
      const msg = `failed to write ${JSON.stringify(String(value))} to ${path}: ${REASONS[code] ?? code}`;
      if (code === 'ENOENT') {
        if (!existsSync(dir)) throw notFound(`cgroup ${this.path}: not found`, e);
        throw invalid(`${file} is not available on this host (controller or kernel feature missing)`, e);
      }
      throw REFUSALS.has(code) ? invalid(msg, e) : internal(msg, e);
    }
  }

  /** Memory writes refused with EBUSY mean the new limit is below what the cgroup uses now: say so with the numbers. */
  private async writeMemory(dir: string, file: string, value: number, what: string, usageFile: string, maxFile: string): Promise<void> {
    try {
      await this.write(dir, file, value);
    } catch (e) {
      if (!(e instanceof EngineError) || codeOf(e.cause) !== 'EBUSY') throw e;
      const [u, p] = await Promise.all([readText(join(dir, usageFile)), readText(join(dir, maxFile))]);
      throw invalid(`unable to set ${what} limit to ${value} (current usage: ${num(u)}, peak usage: ${num(p)})`, e.cause);
    }
  }

  private async updateV1(r: Resources): Promise<void> {
    if (r.CpusetCpus) await this.write(this.dir('cpuset'), 'cpuset.cpus', r.CpusetCpus);
    if (r.CpusetMems) await this.write(this.dir('cpuset'), 'cpuset.mems', r.CpusetMems);

    const mem = this.dir('memory');
    const limit = r.Memory ?? 0;
    let swap = r.MemorySwap ?? 0;
    const hasSwap = existsSync(join(mem, 'memory.memsw.limit_in_bytes'));
    if (limit === -1 && swap === 0 && hasSwap) swap = -1; // unlimited memory means unlimited memory+swap too
    if (swap === -1 && !hasSwap) swap = 0;
    const setLimit = () => (limit ? this.writeMemory(mem, 'memory.limit_in_bytes', limit, 'memory', 'memory.usage_in_bytes', 'memory.max_usage_in_bytes') : undefined);
    const setSwap = () => (swap ? this.writeMemory(mem, 'memory.memsw.limit_in_bytes', swap, 'swap', 'memory.memsw.usage_in_bytes', 'memory.memsw.max_usage_in_bytes') : undefined);
    // The kernel keeps limit ≤ memsw at every step, so a raise writes memsw first and a cut writes limit first.
    if (limit && swap && (swap === -1 || num(await readText(join(mem, 'memory.limit_in_bytes'))) < swap)) {
      await setSwap();
      await setLimit();
    } else {
      await setLimit();
      await setSwap();
    }
    if (r.MemoryReservation) await this.write(mem, 'memory.soft_limit_in_bytes', r.MemoryReservation);

    const cpu = this.dir('cpu');
    if (r.CpuShares) {
      await this.write(cpu, 'cpu.shares', r.CpuShares);
      // The kernel clamps shares to 2..262144 silently; read back to tell the caller.
      const got = num(await readText(join(cpu, 'cpu.shares')));
      if (got < r.CpuShares) throw invalid(`the maximum allowed cpu-shares is ${got}`);
      if (got > r.CpuShares) throw invalid(`the minimum allowed cpu-shares is ${got}`);
    }
    const { quota, period } = cfs(r);
    let periodPending = false;
    if (period) {
      try {
        await this.write(cpu, 'cpu.cfs_period_us', period);
      } catch (e) {
        // A shorter period can be refused while the old quota stands (old quota/new period over the parent's); retry after the quota.
        if (!quota || !(e instanceof EngineError) || codeOf(e.cause) !== 'EINVAL') throw e;
        periodPending = true;
      }
    }
    if (quota) await this.write(cpu, 'cpu.cfs_quota_us', quota);
    if (periodPending) await this.write(cpu, 'cpu.cfs_period_us', period);
    if (r.CpuRealtimePeriod) await this.write(cpu, 'cpu.rt_period_us', r.CpuRealtimePeriod);
    if (r.CpuRealtimeRuntime) await this.write(cpu, 'cpu.rt_runtime_us', r.CpuRealtimeRuntime);

    if (r.PidsLimit != null) await this.write(this.dir('pids'), 'pids.max', r.PidsLimit > 0 ? r.PidsLimit : 'max');
    if (r.BlkioWeight) {
      const blk = this.dir('blkio');
      // CFQ's blkio.weight is gone with blk-mq; BFQ takes the same 10..1000 range.
      await this.write(blk, existsSync(join(blk, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight', r.BlkioWeight);
    }
  }

  private async updateV2(r: Resources): Promise<void> {
    const dir = this.dir();
    if (r.CpusetCpus) await this.write(dir, 'cpuset.cpus', r.CpusetCpus);
    if (r.CpusetMems) await this.write(dir, 'cpuset.mems', r.CpusetMems);

    // memory.swap.max holds swap alone; Docker's MemorySwap is memory+swap.
    const limit = r.Memory ?? 0;
    const swapTotal = r.MemorySwap ?? 0;
    let swap: number | 'max' | undefined;
    if (swapTotal === -1 || (limit === -1 && swapTotal === 0)) swap = 'max';
    else if (swapTotal > 0) {
      const mem = limit || num(await readText(join(dir, 'memory.max')), -1);
      if (mem <= 0) throw invalid('unable to set swap limit without memory limit');
      if (swapTotal < mem) throw invalid('memory+swap limit should be >= memory limit');
      swap = swapTotal - mem;
    }
    if (swap !== undefined) {
      try {
        await this.write(dir, 'memory.swap.max', swap);
      } catch (e) {
        // No swap accounting on this host: "unlimited" or "none" are then already true.
        if (!(codeOf((e as Error).cause) === 'ENOENT' && (swap === 'max' || swap === 0))) throw e;
      }
    }
    // Below current usage the kernel reclaims and, failing that, OOM-kills: v2 has no EBUSY here.
    if (limit) await this.write(dir, 'memory.max', limit === -1 ? 'max' : limit);
    if (r.MemoryReservation) await this.write(dir, 'memory.low', r.MemoryReservation === -1 ? 'max' : r.MemoryReservation);

    if (r.CpuShares) await this.write(dir, 'cpu.weight', sharesToWeight(r.CpuShares));
    const { quota, period } = cfs(r);
    if (quota || period) {
      // cpu.max holds both numbers; keep the one not being changed.
      const [curQuota = 'max', curPeriod = '100000'] = (await readText(join(dir, 'cpu.max'))).trim().split(/\s+/);
      const q = quota ? (quota < 0 ? 'max' : String(quota)) : curQuota;
      await this.write(dir, 'cpu.max', `${q} ${period || curPeriod}`);
    }
    if (r.CpuRealtimePeriod || r.CpuRealtimeRuntime) throw invalid('cgroup v2 does not support realtime CPU scheduling limits');

    if (r.PidsLimit != null) await this.write(dir, 'pids.max', r.PidsLimit > 0 ? r.PidsLimit : 'max');
    if (r.BlkioWeight) {
      const bfq = existsSync(join(dir, 'io.bfq.weight'));
      await this.write(dir, bfq ? 'io.bfq.weight' : 'io.weight', bfq ? r.BlkioWeight : blkioToIoWeight(r.BlkioWeight));
    }
  }
}

/** Docker's CFS numbers: NanoCpus wins as quota over a 100ms period; otherwise CpuQuota/CpuPeriod as given. */
function cfs(r: Resources): { quota: number; period: number } {
  if (r.NanoCpus) return { quota: Math.trunc((r.NanoCpus * 100_000) / 1e9), period: 100_000 };
  return { quota: r.CpuQuota ?? 0, period: r.CpuPeriod ?? 0 };
}

/** runc 1.1's mapping of cpu.shares 2..262144 onto cpu.weight 1..10000. */
export const sharesToWeight = (shares: number) => 1 + Math.trunc(((shares - 2) * 9999) / 262142);
/** runc's mapping of blkio weight 10..1000 onto io.weight 1..10000. */
export const blkioToIoWeight = (w: number) => 1 + Math.trunc(((w - 10) * 9999) / 990);

/** An unlimited (or above-RAM) memory limit reads as the host's memory, like Docker's. */
function hostClamp(limit: number): number {
  const host = totalmem();
  return limit > host && host > 0 ? host : limit;
}
