/**
 * `docker run` (the real docker CLI, 28.x) against pierd on runc: each flag of
 * the "Containers on runc" issue, observed from inside the container (/proc,
 * /sys/fs/cgroup, files) or from the host (namespaces, cgroup files).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, cgroupDir, cli, containerSkip, endAll, readText, runLogged, waitFor } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });
const DEFAULT_CAPS = '00000000a80425fb'; // Docker's 14 default capabilities

describe('docker run flags on runc', { skip }, () => {
  let d: TestDaemon;
  const { dk, ok } = cli(() => d.host);
  /** Runs detached and returns the exit code and the logged output. */
  const run = (...args: string[]) => runLogged(d.host, args);
  const out = (...args: string[]) => {
    const r = run(...args);
    assert.equal(r.code, 0, `docker run ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const statusField = (text: string, field: string) => text.match(new RegExp(`^${field}:\\s+(\\S+)`, 'm'))?.[1];

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('--rm passes the exit code on and removes the container', () => {
    const r = dk('run', '--rm', '--name', 'rm-me', 'busybox', 'sh', '-c', 'exit 3');
    assert.equal(r.code, 3, r.stderr);
    assert.equal(ok('ps', '-aq', '--filter', 'name=^rm-me$'), '');
  });

  it('-d prints the full id and leaves the container running', () => {
    const id = ok('run', '-d', '--name', 'detached', 'busybox', 'sleep', '30').trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(ok('inspect', '-f', '{{.State.Status}} {{.State.Running}} {{.Id}}', 'detached').trim(), `running true ${id}`);
    ok('rm', '-f', 'detached');
  });

  it('-e and --env-file set the environment, HOME and HOSTNAME are filled in', () => {
    const file = join(d.root, 'env.list');
    writeFileSync(file, '# a comment\nFROM_FILE=file value\nOVERRIDDEN=file\n');
    const env = out('-e', 'FROM_FLAG=flag', '--env-file', file, '-e', 'OVERRIDDEN=flag', '-h', 'envhost', 'busybox', 'env');
    assert.match(env, /^FROM_FLAG=flag$/m);
    assert.match(env, /^FROM_FILE=file value$/m);
    assert.match(env, /^OVERRIDDEN=flag$/m);
    assert.doesNotMatch(env, /a comment/);
    assert.match(env, /^HOME=\/root$/m);
    assert.match(env, /^HOSTNAME=envhost$/m);
    assert.match(env, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
  });

  it('-w sets (and creates) the working directory', () => {
    assert.equal(out('-w', '/made/by/pier', 'busybox', 'pwd'), '/made/by/pier\n');
  });

  it('-u 1000:1000 runs as that uid and gid', () => {
    assert.equal(out('-u', '1000:1000', 'busybox', 'id'), 'uid=1000 gid=1000\n');
    const st = out('-u', '1000:1000', 'busybox', 'cat', '/proc/self/status');
    assert.match(st, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
  });

  it('-u with a user name from the image\'s /etc/passwd (put there with docker cp and commit)', () => {
    const passwd = join(d.root, 'passwd');
    const group = join(d.root, 'group');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app user:/home/app:/bin/sh\n');
    writeFileSync(group, 'root:x:0:\napp:x:1001:\nextra:x:2000:app\n');
    ok('create', '--name', 'users-src', 'busybox');
    ok('cp', passwd, 'users-src:/etc/passwd');
    ok('cp', group, 'users-src:/etc/group');
    ok('commit', 'users-src', 'pier-test/users:1');
    ok('rm', 'users-src');
    const r = out('-u', 'app', 'pier-test/users:1', 'sh', '-c', 'id; echo home=$HOME');
    // As libcontainer resolves it: supplementary groups are those listing the user as a member.
    assert.match(r, /^uid=1000\(app\) gid=1001\(app\) groups=2000\(extra\)$/m);
    assert.match(r, /^home=\/home\/app$/m);
    const bad = run('-u', 'nosuchuser', 'pier-test/users:1', 'true');
    assert.notEqual(bad.code, 0, 'an unknown user name must not run');
    assert.match(bad.stderr, /unable to find user nosuchuser: no matching entries in passwd file/);
  });

  it('--entrypoint replaces the image\'s and the command becomes its arguments', () => {
    const r = run('--entrypoint', '/bin/echo', 'busybox', 'one', 'two');
    assert.equal(r.stdout, 'one two\n');
    ok('create', '--name', 'ep', '--entrypoint', '/bin/echo', 'busybox', 'x');
    assert.equal(ok('inspect', '-f', '{{.Path}} {{json .Args}} {{json .Config.Entrypoint}}', 'ep').trim(), '/bin/echo ["x"] ["/bin/echo"]');
    ok('rm', 'ep');
  });

  it('-l, -h and --add-host: labels, hostname and /etc/hosts', () => {
    ok('create', '--name', 'lbl', '-l', 'tier=test', '-l', 'empty', 'busybox', 'true');
    assert.equal(ok('inspect', '-f', '{{json .Config.Labels}}', 'lbl').trim(), '{"empty":"","tier":"test"}');
    ok('rm', 'lbl');
    const r = out('-h', 'box.one', '--add-host', 'db.test:10.9.8.7', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname; cat /etc/hosts');
    assert.match(r, /^box\.one\nbox\.one\n/);
    assert.match(r, /^10\.9\.8\.7\s+db\.test$/m);
    assert.match(r, /^127\.0\.0\.1\s+localhost/m);
  });

  it('--read-only makes / read-only while --tmpfs gives a writable tmpfs', () => {
    const ro = run('--read-only', 'busybox', 'touch', '/x');
    assert.equal(ro.code, 1);
    assert.match(ro.stderr, /Read-only file system/);
    const r = out('--read-only', '--tmpfs', '/scratch:rw,size=1m,mode=700', 'busybox', 'sh', '-c', 'echo hi > /scratch/f && cat /scratch/f && grep " /scratch " /proc/mounts && grep " / " /proc/mounts');
    assert.match(r, /^hi$/m);
    assert.match(r, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,.*size=1024k.*mode=700/m);
    assert.match(r, /^\S+ \/ \S+ ro[, ]/m);
  });

  it('--cap-drop and --cap-add show in CapBnd', () => {
    assert.equal(statusField(out('busybox', 'cat', '/proc/self/status'), 'CapBnd'), DEFAULT_CAPS);
    assert.equal(statusField(out('--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', 'busybox', 'cat', '/proc/self/status'), 'CapBnd'), '0000000000001000');
    assert.equal(statusField(out('--cap-drop', 'CHOWN', 'busybox', 'cat', '/proc/self/status'), 'CapBnd'), '00000000a80425fa');
    assert.equal(statusField(out('--cap-add', 'SYS_ADMIN', 'busybox', 'cat', '/proc/self/status'), 'CapBnd'), '00000000a82425fb');
    // Dropped really means dropped: chown needs CAP_CHOWN.
    const r = run('--cap-drop', 'CHOWN', 'busybox', 'chown', '1:1', '/tmp');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it('--privileged gets the host\'s bounding set, every device and a writable /sys', () => {
    const hostCaps = statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
    const r = out('--privileged', 'busybox', 'sh', '-c', 'cat /proc/self/status; ls /dev; grep " /sys " /proc/mounts');
    assert.equal(statusField(r, 'CapBnd'), hostCaps);
    if (existsSync('/dev/loop-control')) assert.match(r, /^loop-control$/m, 'host devices are visible');
    assert.match(r, /^sysfs \/sys sysfs rw[, ]/m);
    assert.match(out('busybox', 'grep', ' /sys ', '/proc/mounts'), /^sysfs \/sys sysfs ro[, ]/m);
  });

  it('--security-opt no-new-privileges sets NoNewPrivs', () => {
    assert.equal(statusField(out('busybox', 'cat', '/proc/self/status'), 'NoNewPrivs'), '0');
    assert.equal(statusField(out('--security-opt', 'no-new-privileges', 'busybox', 'cat', '/proc/self/status'), 'NoNewPrivs'), '1');
  });

  it('--init makes docker-init (tini) pid 1', () => {
    const r = out('--init', 'busybox', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; echo mypid=$$');
    assert.match(r, /^\/sbin\/docker-init -- sh -c /m);
    assert.doesNotMatch(r, /^mypid=1$/m);
    assert.match(out('busybox', 'sh', '-c', 'echo mypid=$$'), /^mypid=1$/m);
  });

  it('--ulimit nofile=1024:2048 sets soft and hard limits', () => {
    const r = out('--ulimit', 'nofile=1024:2048', 'busybox', 'cat', '/proc/self/limits');
    assert.match(r, /^Max open files\s+1024\s+2048\s+files/m);
  });

  it('--sysctl sets namespaced sysctls in the container\'s own network namespace only', () => {
    const hostTtl = readText('/proc/sys/net/ipv4/ip_default_ttl');
    const hostNs = readlinkSync('/proc/self/ns/net');
    const r = out('--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'net.ipv4.ip_default_ttl=77', 'busybox', 'sh', '-c',
      'cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_default_ttl; readlink /proc/self/ns/net');
    const [forward, ttl, ns] = r.trim().split('\n');
    assert.equal(forward, '1');
    assert.equal(ttl, '77');
    assert.notEqual(ns, hostNs);
    assert.equal(readText('/proc/sys/net/ipv4/ip_default_ttl'), hostTtl, 'the host\'s value is untouched');
    assert.equal(out('busybox', 'cat', '/proc/sys/net/ipv4/ip_default_ttl'), '64\n', 'a fresh namespace has the default');
  });

  it('--shm-size sizes /dev/shm (64 MiB by default)', () => {
    assert.match(out('--shm-size', '32m', 'busybox', 'df', '-k', '/dev/shm'), /^shm\s+32768\s/m);
    assert.match(out('busybox', 'df', '-k', '/dev/shm'), /^shm\s+65536\s/m);
  });

  it('--pid host sees the host\'s processes; the default pid namespace does not', () => {
    assert.match(out('--pid', 'host', 'busybox', 'sh', '-c', `test -d /proc/${process.pid} && echo seen`), /^seen$/m);
    assert.equal(run('busybox', 'test', '-d', `/proc/${process.pid}`).code, 1);
  });

  it('--ipc host|private picks the IPC namespace', () => {
    const hostIpc = readlinkSync('/proc/self/ns/ipc');
    assert.equal(out('--ipc', 'host', 'busybox', 'readlink', '/proc/self/ns/ipc').trim(), hostIpc);
    assert.notEqual(out('--ipc', 'private', 'busybox', 'readlink', '/proc/self/ns/ipc').trim(), hostIpc);
  });

  it('--ipc container:X joins X\'s IPC namespace and /dev/shm', () => {
    ok('run', '-d', '--name', 'ipc-owner', '--ipc', 'shareable', 'busybox', 'sh', '-c', 'echo shared > /dev/shm/token; sleep 30');
    try {
      const pid = ok('inspect', '-f', '{{.State.Pid}}', 'ipc-owner').trim();
      const r = out('--ipc', 'container:ipc-owner', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/ipc; cat /dev/shm/token');
      assert.equal(r, `${readlinkSync(`/proc/${pid}/ns/ipc`)}\nshared\n`);
    } finally {
      dk('rm', '-f', 'ipc-owner');
    }
  });

  it('--uts host shares the host name; the default does not', () => {
    assert.equal(out('--uts', 'host', 'busybox', 'hostname').trim(), hostname());
    assert.equal(out('--uts', 'host', 'busybox', 'readlink', '/proc/self/ns/uts').trim(), readlinkSync('/proc/self/ns/uts'));
    assert.notEqual(out('busybox', 'readlink', '/proc/self/ns/uts').trim(), readlinkSync('/proc/self/ns/uts'));
  });

  it('--network none has only lo; host shares the host\'s; container:X joins X\'s', () => {
    assert.equal(out('--network', 'none', 'busybox', 'ls', '/sys/class/net'), 'lo\n');
    assert.equal(out('--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net').trim(), readlinkSync('/proc/self/ns/net'));
    ok('run', '-d', '--name', 'net-owner', '--network', 'none', 'busybox', 'sleep', '30');
    const pid = ok('inspect', '-f', '{{.State.Pid}}', 'net-owner').trim();
    assert.equal(out('--network', 'container:net-owner', 'busybox', 'readlink', '/proc/self/ns/net').trim(), readlinkSync(`/proc/${pid}/ns/net`));
    ok('rm', '-f', 'net-owner');
  });

  it('-m, --cpus, --cpuset-cpus and --pids-limit are written to the container\'s cgroup', () => {
    const id = ok('run', '-d', '--name', 'limits', '-m', '48m', '--cpus', '0.5', '--cpuset-cpus', '0', '--pids-limit', '42', 'busybox', 'sleep', '30').trim();
    const v2 = cgroupDir('memory', id) === cgroupDir('pids', id);
    if (v2) {
      assert.equal(readText(join(cgroupDir('memory', id), 'memory.max')).trim(), String(48 << 20));
      assert.equal(readText(join(cgroupDir('cpu', id), 'cpu.max')).trim(), '50000 100000');
    } else {
      assert.equal(readText(join(cgroupDir('memory', id), 'memory.limit_in_bytes')).trim(), String(48 << 20));
      assert.equal(readText(join(cgroupDir('cpu', id), 'cpu.cfs_quota_us')).trim(), '50000');
      assert.equal(readText(join(cgroupDir('cpu', id), 'cpu.cfs_period_us')).trim(), '100000');
    }
    assert.equal(readText(join(cgroupDir('cpuset', id), 'cpuset.cpus')).trim(), '0');
    assert.equal(readText(join(cgroupDir('pids', id), 'pids.max')).trim(), '42');
    // The container's processes are in that cgroup.
    const pid = ok('inspect', '-f', '{{.State.Pid}}', 'limits').trim();
    assert.ok(readText(join(cgroupDir('pids', id), 'cgroup.procs')).split('\n').includes(pid));
    assert.equal(ok('inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}}', 'limits').trim(), `${48 << 20} 500000000 0 42`);
    ok('rm', '-f', 'limits');
  });

  it('--oom-score-adj and --group-add', () => {
    assert.equal(out('--oom-score-adj', '123', 'busybox', 'cat', '/proc/self/oom_score_adj'), '123\n');
    const st = out('-u', '1000', '--group-add', '1234', '--group-add', '2345', 'busybox', 'cat', '/proc/self/status');
    assert.match(st, /^Groups:\s+1234 2345\s*$/m);
  });

  it('--stop-signal is what docker stop sends', async () => {
    ok('run', '-d', '--name', 'stopsig', '--stop-signal', 'SIGUSR1', 'busybox', 'sh', '-c', 'trap "echo got usr1; exit 5" USR1; echo ready; while true; do sleep 0.1; done');
    await waitFor('the trap to be set', () => ok('logs', 'stopsig').includes('ready'));
    assert.equal(ok('inspect', '-f', '{{.Config.StopSignal}}', 'stopsig').trim(), 'SIGUSR1');
    ok('stop', '-t', '5', 'stopsig');
    assert.equal(ok('inspect', '-f', '{{.State.ExitCode}}', 'stopsig').trim(), '5');
    assert.match(ok('logs', 'stopsig'), /got usr1/);
    ok('rm', 'stopsig');
  });

  it('--stop-timeout is how long docker stop waits before SIGKILL', () => {
    // sh as pid 1 ignores SIGTERM: only the SIGKILL after the timeout ends it.
    ok('run', '-d', '--name', 'stoptime', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'while true; do sleep 0.1; done');
    const t0 = Date.now();
    ok('stop', 'stoptime');
    const ms = Date.now() - t0;
    assert.ok(ms >= 900 && ms < 6000, `stop took ${ms} ms`);
    assert.equal(ok('inspect', '-f', '{{.State.ExitCode}} {{.Config.StopTimeout}}', 'stoptime').trim(), '137 1');
    ok('rm', 'stoptime');
  });
});
