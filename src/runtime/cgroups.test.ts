import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import {
  ContainerCgroup, detectCgroupMode, parseBlkioV1, parseFlatKeyed, parseIoStatV2, parseProcStat,
} from './cgroups.js';
import { netStats, parseNetDev } from './netstats.js';

const CG = '/sys/fs/cgroup';
const isRoot = process.getuid?.() === 0;
const hostV1 = isRoot && detectCgroupMode(CG) === 'v1' && existsSync(join(CG, 'memory', 'cgroup.procs'));
const V2ROOT = detectCgroupMode(CG) === 'v2' ? CG : join(CG, 'unified');
const hostV2 = isRoot && existsSync(join(V2ROOT, 'cgroup.procs')) && detectCgroupMode(V2ROOT) === 'v2';
const V1 = ['cpu', 'cpuacct', 'cpuset', 'memory', 'freezer', 'pids', 'blkio'];

const kind = (k: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
  assert.equal(e.kind, k);
  assert.match(e.message, re);
  return true;
};
const read = (p: string) => readFileSync(p, 'utf8').trim();
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (await cond()) return;
  assert.fail(`timed out waiting for ${what}`);
}

/** A shell that waits for a line on stdin before running `script`, so it can be moved into a cgroup first. */
interface Held { child: ChildProcess; pid: number; go(): void; out(): string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }
function held(kids: Set<Held>, script: string): Held {
  const child = spawn('sh', ['-c', `read _; ${script}`], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const h: Held = { child, pid: child.pid!, go: () => child.stdin!.write('\n'), out: () => out, exited };
  kids.add(h);
  return h;
}

/**
 * Runs fn with a fresh cgroup at /pier-cgtest-<random> in each directory of `dirs` (made by mkdir there);
 * afterwards kills the processes fn spawned (by pid, waiting for their exit) and removes the cgroups, also on failure.
 */
async function withCgroup(dirsOf: (path: string) => string[], fn: (path: string, kids: Set<Held>, made: string[]) => Promise<void>) {
  const path = `/pier-cgtest-${randomBytes(4).toString('hex')}`;
  const made: string[] = [];
  const kids = new Set<Held>();
  try {
    for (const d of dirsOf(path)) {
      mkdirSync(d);
      made.push(d);
    }
    await fn(path, kids, made);
  } finally {
    for (const k of kids) {
      if (k.child.exitCode === null && k.child.signalCode === null) process.kill(k.pid, 'SIGKILL');
      await k.exited;
    }
    for (const d of made.reverse()) {
      for (let i = 0; ; i++) {
        try {
          if (existsSync(d)) rmdirSync(d);
          break;
        } catch (e) {
          if (i > 100) throw e; // a just-killed task can keep the cgroup busy for a moment
          await sleep(20);
        }
      }
    }
  }
}
const withV1 = (fn: (path: string, kids: Set<Held>, made: string[]) => Promise<void>) =>
  withCgroup((path) => V1.map((c) => join(CG, c, path)), async (path, kids, made) => {
    // A new cpuset has no cpus or mems and refuses tasks; give it the parent's.
    for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(CG, 'cpuset', path, f), read(join(CG, 'cpuset', f)));
    await fn(path, kids, made);
  });
const joinV1 = (path: string, pid: number) => V1.forEach((c) => writeFileSync(join(CG, c, path, 'cgroup.procs'), String(pid)));

describe('detectCgroupMode', () => {
  it('tells a cgroup2 mount from anything else', { skip: !existsSync(join(V2ROOT, 'cgroup.procs')) && 'no cgroup2 mount' }, () => {
    assert.equal(detectCgroupMode(V2ROOT), 'v2');
    assert.equal(detectCgroupMode(tmpdir()), 'v1');
    if (V2ROOT !== CG) assert.equal(detectCgroupMode(CG), 'v1'); // hybrid: tmpfs of v1 hierarchies plus /unified
  });
});

describe('kernel file parsers', () => {
  it('reads flat keyed files (memory.oom_control, cpu.stat)', () => {
    assert.deepEqual(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), { oom_kill_disable: 0, under_oom: 0, oom_kill: 3 });
    assert.deepEqual(parseFlatKeyed('nr_periods 12\nnr_throttled 4\nthrottled_time 99000\n\n'), { nr_periods: 12, nr_throttled: 4, throttled_time: 99000 });
  });

  it('reads v1 blkio files, skipping the Total line, with and without ops', () => {
    const text = '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n253:1 Read 1\nTotal 12289\n';
    assert.deepEqual(parseBlkioV1(text).slice(0, 2), [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 }]);
    assert.equal(parseBlkioV1(text).length, 7);
    assert.deepEqual(parseBlkioV1(text).at(-1), { major: 253, minor: 1, op: 'Read', value: 1 });
    assert.deepEqual(parseBlkioV1('8:16 123456\n'), [{ major: 8, minor: 16, op: '', value: 123456 }]);
    assert.deepEqual(parseBlkioV1(''), []);
  });

  it('reads v2 io.stat as Docker does: a read and a write entry per device', () => {
    const text = '8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n254:0 rbytes=7 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n';
    assert.deepEqual(parseIoStatV2(text), [
      { major: 8, minor: 16, op: 'read', value: 1459200 }, { major: 8, minor: 16, op: 'write', value: 314773504 },
      { major: 254, minor: 0, op: 'read', value: 7 }, { major: 254, minor: 0, op: 'write', value: 0 },
    ]);
  });

  it('sums the first seven /proc/stat cpu fields into ns and counts cpuN lines', () => {
    const text = 'cpu  100 5 50 1000 10 1 2 7 0 0\ncpu0 50 2 25 500 5 1 1 0 0 0\ncpu1 50 3 25 500 5 0 1 7 0 0\nintr 5 0\nctxt 9\n';
    assert.deepEqual(parseProcStat(text), { systemUsage: 1168 * 1e7, onlineCpus: 2 });
  });
});

describe('ContainerCgroup v2 on a fixture tree', () => {
  // Files as a v2 kernel (6.x) writes them, for a container with memory, cpu, io and pids controllers.
  const FILES: Record<string, string> = {
    'cpu.stat': 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\ncore_sched.force_idle_usec 0\nnr_periods 10\nnr_throttled 2\nthrottled_usec 3000\nnr_bursts 0\nburst_usec 0\n',
    'memory.current': '10485760\n',
    'memory.max': 'max\n',
    'memory.stat': 'anon 4194304\nfile 6291456\nkernel 442368\nkernel_stack 32768\npagetables 81920\nsock 0\nshmem 4096\nfile_mapped 2097152\nfile_dirty 8192\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\ninactive_anon 4186112\nactive_anon 8192\ninactive_file 4194304\nactive_file 2097152\nunevictable 0\nslab_reclaimable 200000\nslab_unreclaimable 100000\nslab 300000\nworkingset_refault_anon 0\nworkingset_refault_file 3\nworkingset_nodereclaim 0\npgscan 0\npgsteal 0\npgfault 1234\npgmajfault 5\npgrefill 0\npgactivate 0\npgdeactivate 0\npglazyfree 0\npglazyfreed 0\nthp_fault_alloc 0\nthp_collapse_alloc 0\n',
    'memory.events': 'low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\noom_group_kill 0\n',
    'memory.swap.max': 'max\n', 'memory.low': '0\n',
    'pids.current': '4\n', 'pids.max': 'max\n',
    'io.stat': '8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n',
    'io.weight': 'default 100\n',
    'cgroup.events': 'populated 1\nfrozen 0\n', 'cgroup.freeze': '0\n', 'cgroup.procs': '100\n101\n',
    'cpu.max': 'max 100000\n', 'cpu.weight': '100\n', 'cpuset.cpus': '\n', 'cpuset.mems': '\n',
  };
  const fixture = () => {
    const root = mkdtempSync(join(tmpdir(), 'pier-cgv2-'));
    const dir = join(root, 'pier', 'abc');
    mkdirSync(join(dir, 'inner'), { recursive: true });
    for (const [f, v] of Object.entries(FILES)) writeFileSync(join(dir, f), v);
    writeFileSync(join(dir, 'inner', 'cgroup.procs'), '102\n');
    return { root, dir, cg: new ContainerCgroup('v2', '/pier/abc', root), done: () => rmSync(root, { recursive: true, force: true }) };
  };

  it('builds Docker stats from the v2 files', async () => {
    const { cg, dir, done } = fixture();
    try {
      const s = await cg.stats();
      assert.ok(s.cpu_stats.system_cpu_usage! > 0 && s.cpu_stats.online_cpus! >= 1);
      delete s.cpu_stats.system_cpu_usage;
      delete s.cpu_stats.online_cpus;
      assert.deepEqual(s.cpu_stats, {
        cpu_usage: { total_usage: 1.5e9, usage_in_kernelmode: 5e8, usage_in_usermode: 1e9 },
        throttling_data: { periods: 10, throttled_periods: 2, throttled_time: 3e6 },
      });
      assert.equal(s.memory_stats.usage, 10485760);
      assert.equal(s.memory_stats.limit, totalmem(), 'unlimited reads as host memory');
      assert.equal(s.memory_stats.failcnt, 3, 'memory.events oom');
      assert.equal(s.memory_stats.max_usage, undefined);
      assert.equal(Object.keys(s.memory_stats.stats!).length, 31);
      assert.deepEqual([s.memory_stats.stats!.anon, s.memory_stats.stats!.file_dirty, s.memory_stats.stats!.pgfault, s.memory_stats.stats!.workingset_refault],
        [4194304, 8192, 1234, 0]);
      assert.deepEqual(s.pids_stats, { current: 4 });
      assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [
        { major: 8, minor: 16, op: 'read', value: 1459200 }, { major: 8, minor: 16, op: 'write', value: 314773504 }]);
      assert.equal(s.blkio_stats.io_serviced_recursive, null);
      assert.equal(s.num_procs, 0);

      writeFileSync(join(dir, 'memory.max'), '536870912\n');
      writeFileSync(join(dir, 'pids.max'), '50\n');
      writeFileSync(join(dir, 'io.stat'), '');
      const t = await cg.stats();
      assert.equal(t.memory_stats.limit, 536870912);
      assert.deepEqual(t.pids_stats, { current: 4, limit: 50 });
      assert.equal(t.blkio_stats.io_service_bytes_recursive, null);
    } finally {
      done();
    }
  });

  it('leaves out what the kernel does not provide, as Docker does', async () => {
    const { cg, dir, done } = fixture();
    try {
      for (const f of ['memory.current', 'memory.max', 'memory.stat', 'memory.events', 'pids.current', 'pids.max']) unlinkSync(join(dir, f));
      const s = await cg.stats();
      assert.deepEqual(s.memory_stats, {});
      assert.deepEqual(s.pids_stats, {});
      assert.equal(cg.oomKills(), 0);
    } finally {
      done();
    }
  });

  it('reads oom kills, freezer state and pids of nested cgroups', async () => {
    const { cg, dir, done } = fixture();
    try {
      assert.equal(cg.oomKills(), 2);
      assert.equal(await cg.frozen(), false);
      writeFileSync(join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
      assert.equal(await cg.frozen(), true);
      unlinkSync(join(dir, 'cgroup.events')); // without it, cgroup.freeze is asked
      writeFileSync(join(dir, 'cgroup.freeze'), '1\n');
      assert.equal(await cg.frozen(), true);
      assert.deepEqual((await cg.pids()).sort(), [100, 101, 102]);
    } finally {
      done();
    }
  });

  it('writes updates in v2 terms (swap alone, cpu.max pair, cpu.weight, io.weight)', async () => {
    const { cg, dir, done } = fixture();
    const f = (n: string) => read(join(dir, n));
    try {
      await cg.update({ Memory: 256 << 20, MemorySwap: 512 << 20, MemoryReservation: 128 << 20 });
      assert.deepEqual([f('memory.max'), f('memory.swap.max'), f('memory.low')], [String(256 << 20), String(256 << 20), String(128 << 20)]);
      await cg.update({ MemorySwap: 1 << 30 }); // memory from memory.max
      assert.equal(f('memory.swap.max'), String((1 << 30) - (256 << 20)));
      await assert.rejects(cg.update({ MemorySwap: 100 << 20 }), kind('invalid', /memory\+swap limit should be >= memory limit/));
      await cg.update({ Memory: -1 });
      assert.deepEqual([f('memory.max'), f('memory.swap.max')], ['max', 'max']);
      await assert.rejects(cg.update({ MemorySwap: 1 << 30 }), kind('invalid', /without memory limit/));

      await cg.update({ CpuQuota: 50000 });
      assert.equal(f('cpu.max'), '50000 100000');
      await cg.update({ CpuPeriod: 200000 });
      assert.equal(f('cpu.max'), '50000 200000', 'the quota stays');
      await cg.update({ NanoCpus: 1.5e9 });
      assert.equal(f('cpu.max'), '150000 100000');
      await cg.update({ CpuQuota: -1 });
      assert.equal(f('cpu.max'), 'max 100000');
      await cg.update({ CpuShares: 1024, CpusetCpus: '0-1', CpusetMems: '0', PidsLimit: 10, BlkioWeight: 500 });
      assert.deepEqual([f('cpu.weight'), f('cpuset.cpus'), f('cpuset.mems'), f('pids.max'), f('io.weight')], ['39', '0-1', '0', '10', '4950']);
      await cg.update({ PidsLimit: 0 });
      assert.equal(f('pids.max'), 'max');
      await cg.update({}); // nothing asked, nothing written
      assert.equal(f('pids.max'), 'max');
      await assert.rejects(cg.update({ CpuRealtimeRuntime: 1000 }), kind('invalid', /realtime/));

      unlinkSync(join(dir, 'memory.swap.max')); // no swap accounting
      await cg.update({ Memory: 64 << 20, MemorySwap: -1 });
      assert.equal(f('memory.max'), String(64 << 20));
      await assert.rejects(cg.update({ Memory: 64 << 20, MemorySwap: 128 << 20 }), kind('invalid', /memory\.swap\.max is not available/));
    } finally {
      done();
    }
  });

  it('answers not-found once the cgroup is gone', async () => {
    const { root, done } = fixture();
    try {
      const gone = new ContainerCgroup('v2', '/pier/nope', root);
      await assert.rejects(gone.stats(), kind('not-found', /cgroup \/pier\/nope/));
      await assert.rejects(gone.pids(), kind('not-found', /not found/));
      await assert.rejects(gone.update({ Memory: 1 << 30 }), kind('not-found', /not found/));
      assert.equal(gone.oomKills(), 0);
    } finally {
      done();
    }
  });
});

describe('ContainerCgroup v1 on the kernel', { skip: !hostV1 && 'needs root on a cgroup v1 host' }, () => {
  it('lists pids, including nested cgroups', () =>
    withV1(async (path, kids, made) => {
      const a = held(kids, 'exec sleep 30');
      const b = held(kids, 'exec sleep 30');
      joinV1(path, a.pid);
      const sub = join(CG, 'pids', path, 'inner');
      mkdirSync(sub);
      made.push(sub);
      writeFileSync(join(sub, 'cgroup.procs'), String(b.pid));
      const pids = await new ContainerCgroup('v1', path).pids();
      assert.deepEqual(pids.sort(), [a.pid, b.pid].sort());
    }));

  it('reports cpu, memory, pids and blkio stats in Docker form', () =>
    withV1(async (path, kids) => {
      // Long enough for cpuacct.stat, counted in 10 ms ticks, to see user or system time.
      const p = held(kids, 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo ready; exec sleep 30');
      joinV1(path, p.pid);
      p.go();
      await until('the busy loop', () => p.out().includes('ready'));
      const cg = new ContainerCgroup('v1', path);
      const s = await cg.stats();
      const u = s.cpu_stats.cpu_usage;
      assert.ok(u.total_usage > 0, `total_usage ${u.total_usage}`);
      assert.ok(u.usage_in_usermode + u.usage_in_kernelmode > 0);
      assert.equal(u.percpu_usage!.length, read(join(CG, 'cpuacct', 'cpuacct.usage_percpu')).split(/\s+/).length);
      assert.equal(s.cpu_stats.online_cpus, readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length);
      assert.ok(s.cpu_stats.system_cpu_usage! > 1e9);
      assert.deepEqual(s.cpu_stats.throttling_data, { periods: 0, throttled_periods: 0, throttled_time: 0 });
      assert.ok(s.memory_stats.usage! > 0, `memory usage ${s.memory_stats.usage}`);
      assert.ok(s.memory_stats.max_usage! >= s.memory_stats.usage!);
      assert.equal(s.memory_stats.limit, totalmem(), 'unlimited reads as host memory');
      assert.equal(Object.keys(s.memory_stats.stats!).length, 32);
      assert.ok(s.memory_stats.stats!.total_rss! + s.memory_stats.stats!.total_cache! > 0);
      assert.ok(s.pids_stats.current! >= 1);
      assert.equal(s.pids_stats.limit, undefined, 'pids.max "max" is left out');
      assert.ok(Array.isArray(s.blkio_stats.io_service_bytes_recursive) && Array.isArray(s.blkio_stats.sectors_recursive));
      assert.equal(s.num_procs, 0);
    }));

  it('applies updates to the files and sees them in stats', () =>
    withV1(async (path, kids) => {
      const p = held(kids, 'exec sleep 30');
      joinV1(path, p.pid);
      const cg = new ContainerCgroup('v1', path);
      const f = (c: string, n: string) => read(join(CG, c, path, n));
      await cg.update({ Memory: 64 << 20 });
      assert.equal(f('memory', 'memory.limit_in_bytes'), String(64 << 20));
      assert.equal((await cg.stats()).memory_stats.limit, 64 << 20);
      await cg.update({ PidsLimit: 5 });
      assert.equal(f('pids', 'pids.max'), '5');
      assert.equal((await cg.stats()).pids_stats.limit, 5);
      await cg.update({ PidsLimit: -1 });
      assert.equal(f('pids', 'pids.max'), 'max');
      await cg.update({ CpuShares: 512, NanoCpus: 5e8, CpusetCpus: '0', MemoryReservation: 32 << 20 });
      assert.deepEqual([f('cpu', 'cpu.shares'), f('cpu', 'cpu.cfs_quota_us'), f('cpu', 'cpu.cfs_period_us'), f('cpuset', 'cpuset.cpus'), f('memory', 'memory.soft_limit_in_bytes')],
        ['512', '50000', '100000', '0', String(32 << 20)]);
      await cg.update({ CpuQuota: -1 });
      assert.equal(f('cpu', 'cpu.cfs_quota_us'), '-1');
      await assert.rejects(cg.update({ CpuShares: 1 }), kind('invalid', /minimum allowed cpu-shares is 2/));
      await assert.rejects(cg.update({ CpusetCpus: '4095' }), kind('invalid', /^failed to write "4095" to \/.*\/cpuset\.cpus: (invalid argument|numerical result out of range)$/));
      if (existsSync(join(CG, 'blkio', path, 'blkio.bfq.weight')) || existsSync(join(CG, 'blkio', path, 'blkio.weight'))) {
        await cg.update({ BlkioWeight: 300 });
        const w = existsSync(join(CG, 'blkio', path, 'blkio.weight')) ? f('blkio', 'blkio.weight') : f('blkio', 'blkio.bfq.weight');
        assert.match(w, /\b300$/);
      }
      if (existsSync(join(CG, 'memory', path, 'memory.memsw.limit_in_bytes'))) {
        // The kernel keeps memory ≤ memory+swap at every step: raising must write memsw first, cutting must write memory first.
        await cg.update({ Memory: 32 << 20, MemorySwap: 64 << 20 });
        await cg.update({ Memory: 128 << 20, MemorySwap: 256 << 20 });
        assert.deepEqual([f('memory', 'memory.limit_in_bytes'), f('memory', 'memory.memsw.limit_in_bytes')], [String(128 << 20), String(256 << 20)]);
        await cg.update({ Memory: 16 << 20, MemorySwap: 24 << 20 });
        assert.deepEqual([f('memory', 'memory.limit_in_bytes'), f('memory', 'memory.memsw.limit_in_bytes')], [String(16 << 20), String(24 << 20)]);
        await cg.update({ Memory: -1 });
        assert.equal(Number(f('memory', 'memory.memsw.limit_in_bytes')) > 1e18, true, 'unlimited memory lifts memsw too');
      }
    }));

  it('refuses a memory limit below current usage with the numbers', () =>
    withV1(async (path, kids) => {
      const p = held(kids, 'x=$(head -c 30m /dev/zero | tr "\\0" x); echo ready; read _');
      joinV1(path, p.pid);
      p.go();
      await until('the 30 MB string', () => p.out().includes('ready'), 20000);
      const cg = new ContainerCgroup('v1', path);
      await assert.rejects(cg.update({ Memory: 8 << 20 }), kind('invalid', /^unable to set memory limit to 8388608 \(current usage: \d+, peak usage: \d+\)$/));
      assert.ok(Number(read(join(CG, 'memory', path, 'memory.limit_in_bytes'))) > 8 << 20, 'limit unchanged');
    }));

  it('counts an OOM kill under a 20 MB limit', () =>
    withV1(async (path, kids) => {
      const p = held(kids, 'x=$(head -c 200m /dev/zero | tr "\\0" x); echo survived');
      joinV1(path, p.pid);
      const cg = new ContainerCgroup('v1', path);
      await cg.update({ Memory: 20 << 20 });
      assert.equal(cg.oomKills(), 0);
      p.go();
      const exit = await p.exited;
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(!p.out().includes('survived'));
      assert.ok(cg.oomKills() >= 1, `oom kills ${cg.oomKills()}`);
      assert.ok((await cg.stats()).memory_stats.failcnt! > 0);
    }));

  it('reads the freezer state', () =>
    withV1(async (path, kids) => {
      const p = held(kids, 'exec sleep 30');
      joinV1(path, p.pid);
      const cg = new ContainerCgroup('v1', path);
      const state = join(CG, 'freezer', path, 'freezer.state');
      assert.equal(await cg.frozen(), false);
      writeFileSync(state, 'FROZEN');
      await until('FROZEN', () => read(state) === 'FROZEN');
      assert.equal(await cg.frozen(), true);
      writeFileSync(state, 'THAWED');
      assert.equal(await cg.frozen(), false);
    }));
});

describe('ContainerCgroup v2 on the kernel', { skip: !hostV2 && 'needs root and a cgroup2 mount' }, () => {
  it('lists pids, reads cpu.stat and the freezer, and says which files are missing', () =>
    withCgroup((path) => [join(V2ROOT, path)], async (path, kids) => {
      // Long enough for cpuacct.stat, counted in 10 ms ticks, to see user or system time.
      const p = held(kids, 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo ready; exec sleep 30');
      writeFileSync(join(V2ROOT, path, 'cgroup.procs'), String(p.pid));
      p.go();
      await until('the busy loop', () => p.out().includes('ready'));
      const cg = new ContainerCgroup('v2', path, V2ROOT);
      assert.deepEqual(await cg.pids(), [p.pid]);
      const s = await cg.stats();
      assert.ok(s.cpu_stats.cpu_usage.total_usage > 0, `total_usage ${s.cpu_stats.cpu_usage.total_usage}`);
      assert.equal(s.cpu_stats.cpu_usage.percpu_usage, undefined);
      assert.equal(cg.oomKills(), 0);
      assert.equal(await cg.frozen(), false);
      writeFileSync(join(V2ROOT, path, 'cgroup.freeze'), '1');
      await until('frozen', () => cg.frozen());
      assert.equal(parseFlatKeyed(readFileSync(join(V2ROOT, path, 'cgroup.events'), 'utf8')).frozen, 1);
      writeFileSync(join(V2ROOT, path, 'cgroup.freeze'), '0');
      await until('thawed', async () => !(await cg.frozen()));
      if (!existsSync(join(V2ROOT, path, 'pids.max')))
        await assert.rejects(cg.update({ PidsLimit: 5 }), kind('invalid', /pids\.max is not available/));
      else {
        await cg.update({ PidsLimit: 5 });
        assert.equal(read(join(V2ROOT, path, 'pids.max')), '5');
      }
    }));
});

describe('netStats', () => {
  it('parses /proc/net/dev, skipping lo', () => {
    const text = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  eth0: 2345678    1234    1    2    0     0          0         0   345678     567    3    4    0     0       0          0\n';
    assert.deepEqual(parseNetDev(text), {
      eth0: { rx_bytes: 2345678, rx_packets: 1234, rx_errors: 1, rx_dropped: 2, tx_bytes: 345678, tx_packets: 567, tx_errors: 3, tx_dropped: 4 },
    });
  });

  const tools = isRoot && spawnSync('unshare', ['--version']).status === 0 && spawnSync('ip', ['-V']).status === 0;
  it('reads the counters of the process\'s own network namespace', { skip: !tools && 'needs root, unshare and ip' }, async () => {
    const child = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    try {
      await until('the new namespace', () => existsSync(`/proc/${child.pid}/ns/net`) && readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep');
      assert.deepEqual(await netStats(child.pid!), {}, 'a fresh namespace has only lo');
      const ns = ['-t', String(child.pid), '-n'];
      assert.equal(spawnSync('nsenter', [...ns, 'ip', 'link', 'add', 'pier0', 'type', 'veth', 'peer', 'name', 'pier1']).status, 0);
      const got = await netStats(child.pid!);
      assert.deepEqual(Object.keys(got).sort(), ['pier0', 'pier1']);
      assert.deepEqual(got.pier0, { rx_bytes: 0, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await assert.rejects(netStats(child.pid!), kind('not-found', /not found/));
  });
});
