import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { allCapabilities, capabilityMask, containerCapabilities, DEFAULT_CAPABILITIES } from './caps.js';
import type { HostConfig } from './container-config.js';
import { buildSpec, DEFAULT_MASKED_PATHS, execProcess, mergeTmpfsOptions, resolveDevices, specJson, type OciMount, type SpecInput } from './spec.js';

const input = (hc: HostConfig = {}, more: Partial<SpecInput> = {}): SpecInput => ({
  id: 'abcdef0123456789',
  config: { Image: 'busybox' },
  hostConfig: hc,
  args: ['sh', '-c', 'true'],
  env: ['PATH=/usr/bin:/bin'],
  cwd: '/',
  user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
  hostname: 'abcdef012345',
  rootfs: '/var/lib/pier/rootfs',
  cgroupsPath: '/pier/abcdef0123456789',
  files: { hosts: '/run/x/hosts', hostname: '/run/x/hostname', resolvConf: '/run/x/resolv.conf' },
  namespaces: { pid: { mode: 'private' }, ipc: { mode: 'private' }, uts: { mode: 'private' }, net: { mode: 'private' } },
  shm: { mode: 'tmpfs', size: 67108864 },
  ...more,
});

const mount = (ms: OciMount[], dest: string) => ms.find((m) => m.destination === dest);

describe('capabilities', () => {
  it('default set is Docker 14, mask a80425fb', () => {
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
    assert.equal(capabilityMask(DEFAULT_CAPABILITIES).toString(16), 'a80425fb');
  });
  it('CapAdd/CapDrop accept any case, with or without CAP_, and ALL', () => {
    const c = containerCapabilities(['sys_admin', 'CAP_NET_ADMIN'], ['chown', 'Cap_Kill'], false);
    assert.ok(c.includes('CAP_SYS_ADMIN') && c.includes('CAP_NET_ADMIN'));
    assert.ok(!c.includes('CAP_CHOWN') && !c.includes('CAP_KILL'));
    assert.equal(c.length, 14);
    assert.deepEqual(containerCapabilities(['NET_RAW'], ['ALL'], false), ['CAP_NET_RAW']);
    const all = containerCapabilities(['all'], ['MKNOD'], false);
    assert.ok(!all.includes('CAP_MKNOD') && all.includes('CAP_SYS_ADMIN'));
    assert.throws(() => containerCapabilities(['FOO'], [], false), /unknown capability: "CAP_FOO"/);
  });
});

describe('buildSpec', () => {
  it('default container: process, caps, namespaces, mounts, paths, seccomp', () => {
    const s = buildSpec(input());
    assert.equal(s.ociVersion, '1.0.2');
    assert.equal(s.hostname, 'abcdef012345');
    assert.deepEqual(s.root, { path: '/var/lib/pier/rootfs', readonly: false });
    assert.equal(s.process.terminal, false);
    assert.equal(s.process.consoleSize, undefined);
    assert.deepEqual(s.process.user, { uid: 0, gid: 0 });
    assert.deepEqual(s.process.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(s.process.capabilities!.effective, [...DEFAULT_CAPABILITIES]);
    assert.equal(s.process.capabilities!.inheritable, undefined);
    assert.equal(s.process.capabilities!.ambient, undefined);
    assert.equal(s.process.rlimits, undefined);
    assert.equal(s.process.oomScoreAdj, 0);
    assert.equal(s.process.noNewPrivileges, undefined);
    assert.deepEqual(s.linux.namespaces, [{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }]);
    assert.equal(s.linux.cgroupsPath, '/pier/abcdef0123456789');
    assert.deepEqual(s.mounts.map((m) => m.destination), [
      '/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts',
    ]);
    assert.deepEqual(mount(s.mounts, '/dev/shm'), { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] });
    assert.deepEqual(mount(s.mounts, '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/run/x/hosts', options: ['rbind', 'rprivate'] });
    assert.ok(mount(s.mounts, '/sys')!.options!.includes('ro'));
    assert.deepEqual(s.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    assert.ok(s.linux.readonlyPaths!.includes('/proc/sys'));
    assert.equal(s.linux.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
    const rules = s.linux.resources!.devices!;
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    assert.ok(rules.some((r) => r.allow && r.type === 'c' && r.major === 1 && r.minor === 3)); // /dev/null
    assert.equal(s.linux.devices, undefined);
    if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) assert.equal(s.linux.sysctl!['net.ipv4.ip_unprivileged_port_start'], '0');
  });

  it('privileged: all caps, rw /sys and cgroup, no masks, no seccomp, every device allowed', () => {
    const s = buildSpec(input({ Privileged: true }));
    assert.deepEqual(s.process.capabilities!.bounding, allCapabilities());
    assert.ok(s.process.capabilities!.bounding!.includes('CAP_SYS_ADMIN'));
    assert.ok(!mount(s.mounts, '/sys')!.options!.includes('ro'));
    assert.ok(!mount(s.mounts, '/sys/fs/cgroup')!.options!.includes('ro'));
    assert.deepEqual(s.linux.maskedPaths, []);
    assert.deepEqual(s.linux.readonlyPaths, []);
    assert.equal(s.linux.seccomp, undefined);
    assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  });

  it('host and joined namespaces; hostname and domainname only with a private UTS namespace', () => {
    const s = buildSpec(input({}, {
      config: { Domainname: 'example.org' },
      namespaces: { pid: { mode: 'join', path: '/proc/42/ns/pid' }, ipc: { mode: 'host' }, uts: { mode: 'host' }, net: { mode: 'host' }, cgroup: { mode: 'private' } },
    }));
    assert.deepEqual(s.linux.namespaces, [{ type: 'mount' }, { type: 'pid', path: '/proc/42/ns/pid' }, { type: 'cgroup' }]);
    assert.equal(s.hostname, undefined);
    assert.equal(s.linux.sysctl?.['kernel.domainname'], undefined);
    assert.equal(s.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], undefined);
    const own = buildSpec(input({ Sysctls: { 'net.ipv4.ip_forward': '1' } }, { config: { Domainname: 'example.org' } }));
    assert.equal(own.linux.sysctl!['kernel.domainname'], 'example.org');
    assert.equal(own.linux.sysctl!['net.ipv4.ip_forward'], '1');
  });

  it('tty, console size, user, ulimits, oom score, no-new-privileges', () => {
    const s = buildSpec(input(
      { ConsoleSize: [40, 120], Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }, { Name: 'memlock', Soft: -1, Hard: -1 }], OomScoreAdj: 500 },
      { config: { Tty: true }, noNewPrivileges: true, user: { uid: 1000, gid: 100, additionalGids: [10, 20], home: '/home/u' } },
    ));
    assert.equal(s.process.terminal, true);
    assert.deepEqual(s.process.consoleSize, { height: 40, width: 120 });
    assert.deepEqual(s.process.user, { uid: 1000, gid: 100, additionalGids: [10, 20] });
    assert.deepEqual(s.process.rlimits![0], { type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 });
    assert.equal(s.process.oomScoreAdj, 500);
    assert.equal(s.process.noNewPrivileges, true);
    const json = specJson(s);
    assert.match(json, /"type":"RLIMIT_MEMLOCK","hard":18446744073709551615,"soft":18446744073709551615/);
    assert.equal(JSON.parse(json).process.oomScoreAdj, 500);
  });

  it('resources: memory, swap, cpus, pids, cpuset, blkio weight', () => {
    const r = buildSpec(input({
      Memory: 64 << 20, MemoryReservation: 32 << 20, MemorySwappiness: 10, OomKillDisable: true, NanoCpus: 1.5e9,
      CpuShares: 512, CpusetCpus: '0', PidsLimit: 100, BlkioWeight: 300,
    })).linux.resources!;
    assert.equal(r.memory!.limit, 64 << 20);
    assert.equal(r.memory!.reservation, 32 << 20);
    if (existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes')) assert.equal(r.memory!.swap, 128 << 20); // Docker's default: twice Memory
    assert.equal(r.memory!.swappiness, 10);
    assert.equal(r.memory!.disableOOMKiller, true);
    assert.deepEqual(r.cpu, { shares: 512, quota: 150000, period: 100000, cpus: '0' });
    assert.deepEqual(r.pids, { limit: 100 });
    assert.deepEqual(r.blockIO, { weight: 300 });
    const r2 = buildSpec(input({ Memory: 64 << 20, MemorySwap: -1, PidsLimit: 0, CpuQuota: 50000, CpuPeriod: 200000 })).linux.resources!;
    assert.equal(r2.memory!.swap, undefined);
    assert.deepEqual(r2.pids, { limit: -1 });
    assert.deepEqual(r2.cpu, { quota: 50000, period: 200000 });
    assert.throws(() => buildSpec(input({ BlkioDeviceReadBps: [{ Path: '/dev/nope-nope', Rate: 1 }] })), /stat \/dev\/nope-nope: no such file/);
    const nul = buildSpec(input({ BlkioDeviceWriteIOps: [{ Path: '/dev/null', Rate: 7 }] })).linux.resources!.blockIO!;
    assert.deepEqual(nul.throttleWriteIOPSDevice, [{ major: 1, minor: 3, rate: 7 }]);
  });

  it('readonly rootfs: root and the network files read-only, /dev bits writable', () => {
    const s = buildSpec(input({ ReadonlyRootfs: true }));
    assert.equal(s.root.readonly, true);
    assert.deepEqual(mount(s.mounts, '/etc/resolv.conf')!.options, ['rbind', 'ro', 'rprivate']);
    for (const d of ['/dev', '/dev/shm', '/dev/mqueue', '/dev/pts', '/proc']) assert.ok(!mount(s.mounts, d)!.options!.includes('ro'), d);
  });

  it('tmpfs with Docker defaults merged; binds override defaults and sort parents first', () => {
    const s = buildSpec(input({ Tmpfs: { '/run': '', '/tmp': 'exec,size=1m,mode=1777' } }, {
      extraMounts: [
        { destination: '/data/sub', type: 'bind', source: '/h/sub', options: ['rbind'] },
        { destination: '/data', type: 'bind', source: '/h/data', options: ['rbind'] },
        { destination: '/dev/shm', type: 'bind', source: '/h/shm', options: ['rbind'] },
        { destination: '/etc/hosts', type: 'bind', source: '/h/hosts', options: ['rbind', 'ro'] },
      ],
    }));
    assert.deepEqual(mount(s.mounts, '/run')!.options, ['noexec', 'nosuid', 'nodev', 'rprivate']);
    assert.deepEqual(mount(s.mounts, '/tmp')!.options, ['nosuid', 'nodev', 'rprivate', 'exec', 'size=1m', 'mode=1777']);
    assert.equal(s.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
    assert.equal(mount(s.mounts, '/dev/shm')!.source, '/h/shm');
    assert.equal(s.mounts.filter((m) => m.destination === '/etc/hosts').length, 1);
    assert.equal(mount(s.mounts, '/etc/hosts')!.source, '/h/hosts');
    const dests = s.mounts.map((m) => m.destination);
    assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
    assert.deepEqual(mergeTmpfsOptions(['noexec', 'size=1', 'rw', 'exec', 'defaults', 'size=2', 'ro']), ['exec', 'size=2', 'ro']);
    assert.throws(() => buildSpec(input({ Tmpfs: { '/t': 'tmpcopyup' } })), /invalid tmpfs option \["tmpcopyup"\]/);
    assert.throws(() => mergeTmpfsOptions(['colour=red']), /invalid tmpfs option \["colour" "red"\]/);
  });

  it('shm none and bind; init wraps args', () => {
    assert.equal(mount(buildSpec(input({}, { shm: { mode: 'none' } })).mounts, '/dev/shm'), undefined);
    assert.deepEqual(mount(buildSpec(input({}, { shm: { mode: 'bind', source: '/h/c/shm' } })).mounts, '/dev/shm'),
      { destination: '/dev/shm', type: 'bind', source: '/h/c/shm', options: ['rbind', 'rprivate'] });
    const s = buildSpec(input({}, { init: '/usr/bin/tini-static' }));
    assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sh', '-c', 'true']);
    assert.deepEqual(mount(s.mounts, '/sbin/docker-init'), { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] });
  });

  it('seccomp: unconfined, custom Docker profile, caps-dependent rules', () => {
    assert.equal(buildSpec(input({}, { seccomp: 'unconfined' })).linux.seccomp, undefined);
    const custom = buildSpec(input({}, { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO' }] } })).linux.seccomp!;
    assert.deepEqual(custom, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
    const names = (hc: HostConfig) => buildSpec(input(hc)).linux.seccomp!.syscalls!.flatMap((c) => c.names);
    assert.ok(!names({}).includes('mount'));
    assert.ok(names({ CapAdd: ['SYS_ADMIN'] }).includes('mount'));
  });

  it('masked and readonly paths from HostConfig win, even privileged', () => {
    const s = buildSpec(input({ MaskedPaths: ['/proc/kcore'], ReadonlyPaths: [], Privileged: true }));
    assert.deepEqual(s.linux.maskedPaths, ['/proc/kcore']);
    assert.deepEqual(s.linux.readonlyPaths, []);
  });

  it('devices and device cgroup rules', () => {
    const s = buildSpec(input({ DeviceCgroupRules: ['c 42:* rmw', 'b *:* r'] }, {
      devices: [{ path: '/dev/xnull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0, permissions: 'r' }],
    }));
    assert.deepEqual(s.linux.devices, [{ path: '/dev/xnull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }]);
    const rules = s.linux.resources!.devices!;
    assert.deepEqual(rules.slice(-3), [
      { allow: true, type: 'c', major: 1, minor: 3, access: 'r' },
      { allow: true, type: 'c', major: 42, access: 'rmw' },
      { allow: true, type: 'b', access: 'r' },
    ]);
    assert.throws(() => buildSpec(input({ DeviceCgroupRules: ['x 1:2 r'] })), /invalid device cgroup rule format: 'x 1:2 r'/);
  });

  it('plain JSON: survives a round trip unchanged', () => {
    const s = buildSpec(input({ Memory: 10 << 20, CapAdd: ['NET_ADMIN'] }));
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });
});

describe('execProcess', () => {
  it('uses the container caps, or all when privileged', () => {
    const p = execProcess({ args: ['id'], env: [], cwd: '', user: { uid: 1, gid: 2, additionalGids: [], home: '/' }, tty: true, consoleSize: [24, 80], privileged: false, containerCaps: ['CAP_KILL'], noNewPrivileges: true });
    assert.deepEqual(p, {
      terminal: true, consoleSize: { height: 24, width: 80 }, user: { uid: 1, gid: 2 }, args: ['id'], env: [], cwd: '/',
      capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] }, noNewPrivileges: true,
    });
    const q = execProcess({ args: ['id'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [], home: '/' }, tty: false, privileged: true, containerCaps: ['CAP_KILL'] });
    assert.deepEqual(q.capabilities!.bounding, allCapabilities());
    assert.equal(q.consoleSize, undefined);
  });
});

describe('resolveDevices', () => {
  it('stats a mapped device with its path in the container and permissions', async () => {
    const [d, ...rest] = await resolveDevices([{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }], false);
    assert.equal(rest.length, 0);
    assert.deepEqual({ ...d, fileMode: undefined, uid: undefined, gid: undefined }, { path: '/dev/mynull', type: 'c', major: 1, minor: 3, permissions: 'rw', fileMode: undefined, uid: undefined, gid: undefined });
    assert.equal(d!.fileMode & 0o777, 0o666);
  });
  it('rejects what is not a device, and bad modes', async () => {
    await assert.rejects(resolveDevices([{ PathOnHost: '/etc/passwd', PathInContainer: '/x', CgroupPermissions: 'rwm' }], false),
      (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && /adding custom device "\/etc\/passwd": not a device node/.test(e.message));
    await assert.rejects(resolveDevices([{ PathOnHost: '/dev/nope-nope', PathInContainer: '/x', CgroupPermissions: 'rwm' }], false), /no such file or directory/);
    await assert.rejects(resolveDevices([{ PathOnHost: '/dev/null', PathInContainer: '/x', CgroupPermissions: 'rwx' }], false), /invalid device mode: rwx/);
  });
  it('privileged: the host /dev without pts, shm or console', async () => {
    const all = await resolveDevices([], true);
    assert.ok(all.some((d) => d.path === '/dev/null' && d.major === 1 && d.minor === 3));
    assert.ok(!all.some((d) => d.path.startsWith('/dev/pts/') || d.path === '/dev/console'));
  });
});
