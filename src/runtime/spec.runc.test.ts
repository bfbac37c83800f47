/**
 * buildSpec end to end: real containers under runc over a busybox rootfs, each
 * asserting on what the process inside sees. Needs root, runc and Debian's
 * static busybox; no network (a private, empty network namespace).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allCapabilities, capabilityMask } from './caps.js';
import type { ContainerConfig, HostConfig } from './container-config.js';
import { buildSpec, resolveDevices, specJson, type SpecInput } from './spec.js';
import { resolveUser } from './user.js';
import { parseSecurityOpt } from './validate.js';

const BUSYBOX = '/bin/busybox';
const TINI = '/usr/bin/tini-static';
const skip = process.getuid?.() !== 0 ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static' : !existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') ? 'needs runc' : false;
const CG_PARENT = 'pier-spec-test';
const cgroupV1Memory = existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes');

let base = '';
const rootfs = () => join(base, 'rootfs');

/** Every cgroup directory a container's cgroupsPath maps to (one per v1 hierarchy, or the v2 one). */
const cgroupDirs = (rel: string) => {
  const top = '/sys/fs/cgroup';
  if (existsSync(join(top, 'cgroup.controllers'))) return [join(top, rel)];
  return readdirSync(top, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(top, e.name, rel));
};

function exec(cmd: string, args: string[], timeoutMs = 30000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

interface Run { hc?: HostConfig; config?: ContainerConfig; more?: Partial<SpecInput>; user?: string }

/** Runs `sh -c script` in a fresh container; always deletes it and its cgroups. */
async function run(script: string, o: Run = {}): Promise<{ code: number; out: string; err: string }> {
  const id = `pier-spec-${randomBytes(6).toString('hex')}`;
  const bundle = join(base, id);
  const cg = `${CG_PARENT}/${id}`;
  await mkdir(bundle);
  const hc = o.hc ?? {};
  const sec = parseSecurityOpt(hc.SecurityOpt);
  const spec = buildSpec({
    id,
    config: o.config ?? {},
    hostConfig: hc,
    args: ['sh', '-c', script],
    env: ['PATH=/bin'],
    cwd: '/',
    user: await resolveUser(rootfs(), o.user ?? o.config?.User, hc.GroupAdd),
    hostname: o.config?.Hostname || id.slice(0, 12),
    rootfs: rootfs(),
    cgroupsPath: `/${cg}`,
    files: { hosts: join(base, 'hosts'), hostname: join(base, 'hostname'), resolvConf: join(base, 'resolv.conf') },
    namespaces: { pid: { mode: 'private' }, ipc: { mode: 'private' }, uts: { mode: 'private' }, net: { mode: 'private' } },
    shm: { mode: 'tmpfs', size: hc.ShmSize || 64 << 20 },
    seccomp: sec.seccomp,
    noNewPrivileges: sec.noNewPrivileges,
    devices: await resolveDevices(hc.Devices, !!hc.Privileged),
    ...o.more,
  });
  await writeFile(join(bundle, 'config.json'), specJson(spec));
  const runcRoot = join(base, 'runc');
  try {
    return await exec('runc', ['--root', runcRoot, 'run', '-b', bundle, id]);
  } finally {
    await exec('runc', ['--root', runcRoot, 'delete', '-f', id]);
    for (const d of cgroupDirs(cg)) assert.ok(!existsSync(d), `runc left ${d}`);
  }
}

describe('buildSpec under runc', { skip }, () => {
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'pier-spec-runc-'));
    await mkdir(join(rootfs(), 'bin'), { recursive: true });
    await mkdir(join(rootfs(), 'etc'));
    await copyFile(BUSYBOX, join(rootfs(), 'bin/busybox'));
    for (const a of 'sh id cat grep hostname touch mkdir echo unshare stat tr true sleep ls'.split(' ')) await symlink('busybox', join(rootfs(), 'bin', a));
    await writeFile(join(rootfs(), 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n');
    await writeFile(join(rootfs(), 'etc/group'), 'root:x:0:\nwheel:x:10:alice\nalice:x:1000:\n');
    await writeFile(join(base, 'hosts'), '127.0.0.1\tlocalhost\n');
    await writeFile(join(base, 'hostname'), 'spec-test\n');
    await writeFile(join(base, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  });
  after(async () => {
    for (const d of cgroupDirs(CG_PARENT)) try { rmdirSync(d); } catch { /* absent, or another run's children still there */ }
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('default container: user, default capabilities, hostname, files, masked paths', async () => {
    const r = await run('id; grep CapBnd /proc/self/status; hostname; cat /etc/hostname; stat -c %t,%T /proc/timer_list', { user: '1000:1000', config: { Hostname: 'box1' } });
    assert.equal(r.code, 0, r.err);
    const [id, capBnd, hostname, file, timerList] = r.out.trim().split('\n');
    assert.match(id!, /^uid=1000\(alice\) gid=1000\(alice\)/);
    assert.equal(capBnd, 'CapBnd:\t00000000a80425fb');
    assert.equal(capabilityMask(['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE']), 0xa80425fbn);
    assert.equal(hostname, 'box1');
    assert.equal(file, 'spec-test');
    if (existsSync('/proc/timer_list')) assert.equal(timerList, '1,3'); // masked: /dev/null over it
  });

  it('a user by name gets its groups, GroupAdd adds more', async () => {
    const r = await run('id', { user: 'alice', hc: { GroupAdd: ['4242'] } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /uid=1000\(alice\) gid=1000\(alice\) groups=.*10\(wheel\)/);
    assert.match(r.out, /4242/);
  });

  it('readonly rootfs: / refuses writes, /dev/shm and Tmpfs accept them', async () => {
    const r = await run('touch /x; echo root=$?; touch /dev/shm/x; echo shm=$?; touch /scratch/x; echo tmpfs=$?; echo 1 >> /etc/hosts; echo hosts=$?', { hc: { ReadonlyRootfs: true, Tmpfs: { '/scratch': 'size=1m' } } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /root=1\nshm=0\ntmpfs=0\nhosts=1/);
    assert.match(r.err, /Read-only file system/);
  });

  it('cgroup limits: memory and pids', async () => {
    const files = cgroupV1Memory ? '/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max' : '/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max';
    const r = await run(`cat ${files}`, { hc: { Memory: 64 << 20, PidsLimit: 50 }, more: { namespaces: { pid: { mode: 'private' }, ipc: { mode: 'private' }, uts: { mode: 'private' }, net: { mode: 'private' }, cgroup: { mode: 'private' } } } });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), [String(64 << 20), '50']);
  });

  it('seccomp: the default profile blocks unshare, unconfined does not, a Docker-format profile applies', async () => {
    const script = 'unshare -U true; echo unshare=$?';
    assert.match((await run(script)).out, /unshare=1/);
    assert.match((await run(script, { hc: { SecurityOpt: ['seccomp=unconfined'] } })).out, /unshare=0/);
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
    const r = await run('mkdir /made; echo mkdir=$?', { hc: { SecurityOpt: [`seccomp=${JSON.stringify(profile)}`] } });
    assert.match(r.out, /mkdir=1/);
    assert.match(r.err, /Permission denied/); // errno 13, not the default EPERM
  });

  it('capabilities: CapDrop takes effect, no-new-privileges is set', async () => {
    const r = await run('grep -E "CapBnd|NoNewPrivs" /proc/self/status', { hc: { CapDrop: ['ALL'], CapAdd: ['chown'], SecurityOpt: ['no-new-privileges'] } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /CapBnd:\t0000000000000001/);
    assert.match(r.out, /NoNewPrivs:\t1/);
  });

  it('privileged: every capability we hold, nothing masked', async () => {
    const r = await run('grep CapBnd /proc/self/status; stat -c %F /proc/timer_list', { hc: { Privileged: true } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`CapBnd:\\t${capabilityMask(allCapabilities()).toString(16).padStart(16, '0')}`));
    if (existsSync('/proc/timer_list')) assert.match(r.out, /regular/);
  });

  it('ulimits and the default sysctls of a private network namespace', async () => {
    const r = await run('ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_unprivileged_port_start', { hc: { Ulimits: [{ Name: 'nofile', Soft: 1000, Hard: 2000 }] } });
    assert.equal(r.code, 0, r.err);
    const port = existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start') ? '0\n' : '';
    assert.equal(r.out, `1000\n2000\n${port}`);
  });

  it('a mapped device gets its node and exactly its cgroup permissions', { skip: !existsSync('/dev/loop-control') && 'needs /dev/loop-control' }, async () => {
    // loop-control has no write operation: an allowed write fails with EINVAL, a write the cgroup denies fails at open with EPERM.
    const script = 'stat -c %t,%T /dev/lc; echo x > /dev/lc; echo write=$?';
    const map = (perm: string): Run => ({ hc: { Devices: [{ PathOnHost: '/dev/loop-control', PathInContainer: '/dev/lc', CgroupPermissions: perm }] } });
    const ro = await run(script, map('r'));
    assert.equal(ro.out, 'a,ed\nwrite=1\n'); // 10:237
    assert.match(ro.err, /Operation not permitted/);
    const rw = await run(script, map('rw'));
    assert.equal(rw.out, 'a,ed\nwrite=1\n');
    assert.match(rw.err, /Invalid argument/);
    assert.doesNotMatch(rw.err, /Operation not permitted/);
  });

  it('init: tini runs as pid 1 and the command under it', { skip: !existsSync(TINI) && 'needs tini-static' }, async () => {
    const r = await run('cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$', { more: { init: TINI } });
    assert.equal(r.code, 0, r.err);
    const [cmdline, pid] = r.out.trim().split('\n');
    assert.match(cmdline!, /^\/sbin\/docker-init -- sh -c/);
    assert.notEqual(pid, '1');
  });
});
