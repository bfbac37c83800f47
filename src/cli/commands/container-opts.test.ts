import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalIP, csvFields, parseCPUs, parseDevice, parseKeyValueFile, parseMount, parsePortSpec, parseRestartPolicy,
  parseUlimit, parseVolumeSpec, ramInBytes, validateExtraHost,
} from './container-opts.js';
import { docker, dockerize, FakeEngine, haveDocker, pier, type Recorded } from './fake-engine.js';

const ID = 'f'.repeat(64);

describe('container option parsers', () => {
  it('parses sizes like go-units', () => {
    assert.equal(ramInBytes('1g'), 1024 ** 3);
    assert.equal(ramInBytes('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(ramInBytes('512m'), 512 * 1024 ** 2);
    assert.equal(ramInBytes('100'), 100);
    assert.equal(ramInBytes('10 kb'), 10240);
    assert.throws(() => ramInBytes('1x'), /^Error: invalid suffix: 'x'$/);
    assert.throws(() => ramInBytes('abc'), /^Error: invalid size: 'abc'$/);
    assert.throws(() => ramInBytes('1.2.3'), /invalid syntax/);
  });
  it('parses CPUs as a rational number', () => {
    assert.equal(parseCPUs('1.5'), 1_500_000_000);
    assert.equal(parseCPUs('0.001'), 1_000_000);
    assert.equal(parseCPUs('3/2'), 1_500_000_000);
    assert.throws(() => parseCPUs('0.0000000001'), /value is too precise/);
    assert.throws(() => parseCPUs('abc'), /failed to parse abc as a rational number/);
  });
  it('canonicalises IP addresses as Go prints them', () => {
    assert.equal(canonicalIP('1.2.3.4'), '1.2.3.4');
    assert.equal(canonicalIP('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIP('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(canonicalIP('::ffff:1.2.3.4'), '1.2.3.4');
    assert.equal(canonicalIP('fe80::1'), 'fe80::1');
    assert.equal(canonicalIP('1.2.3'), undefined);
    assert.equal(canonicalIP('01.2.3.4'), undefined);
    assert.equal(canonicalIP('1::2::3'), undefined);
  });
  it('parses port specs like go-connections/nat', () => {
    assert.deepEqual(parsePortSpec('8080:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
    assert.deepEqual(parsePortSpec('127.0.0.1::53/udp'), [{ port: '53/udp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
    assert.deepEqual(parsePortSpec('[::1]:8080:80').map((p) => p.binding.HostIp), ['::1']);
    assert.deepEqual(parsePortSpec('9000-9001:9000-9001').map((p) => [p.port, p.binding.HostPort]), [['9000/tcp', '9000'], ['9001/tcp', '9001']]);
    assert.deepEqual(parsePortSpec('8000-8010:80').map((p) => p.binding.HostPort), ['8000-8010']);
    assert.throws(() => parsePortSpec('1-2:3-5'), /invalid ranges specified for container and host Ports: 3-5 and 1-2/);
    assert.throws(() => parsePortSpec('80/xyz'), /invalid proto: xyz/);
    assert.throws(() => parsePortSpec('a:80'), /invalid hostPort: a/);
  });
  it('parses --mount values', () => {
    assert.deepEqual(parseMount('type=bind,src=/tmp,dst=/x,ro'), { Type: 'bind', Source: '/tmp', Target: '/x', ReadOnly: true });
    assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1770 } });
    assert.deepEqual(parseMount('dst=/v,volume-label=a=b'), { Type: 'volume', Target: '/v', VolumeOptions: { Labels: { a: 'b' }, DriverConfig: {} } });
    assert.deepEqual(parseMount('type=bind,src=.,dst=/s', '/work'), { Type: 'bind', Source: '/work', Target: '/s' });
    assert.throws(() => parseMount('type=bind'), /target is required/);
    assert.throws(() => parseMount('type=bind,dst=/x,volume-nocopy'), /cannot mix 'volume-\*' options with mount type 'bind'/);
    assert.throws(() => parseMount('dst=/x,foo=bar'), /unexpected key 'foo' in 'foo=bar'/);
    assert.throws(() => parseMount('dst=/x,bogus'), /invalid field 'bogus' must be a key=value pair/);
    assert.deepEqual(csvFields('"a=b,c",d'), ['a=b,c', 'd']);
    assert.throws(() => csvFields('a="b"'), /bare " in non-quoted-field/);
  });
  it('parses devices, ulimits, restart policies, extra hosts and volume specs', () => {
    assert.deepEqual(parseDevice('/dev/sda:/dev/xvda:r'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' });
    assert.deepEqual(parseDevice('/dev/null'), { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwm' });
    assert.deepEqual(parseDevice('/dev/null:rw'), { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rw' });
    assert.throws(() => parseDevice('/dev/a:b'), /b is not an absolute path/);
    assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Hard: 2048, Soft: 1024 });
    assert.throws(() => parseUlimit('nofile=2:1'), /ulimit soft limit must be less than or equal to hard limit: 2 > 1/);
    assert.throws(() => parseUlimit('bogus=1'), /invalid ulimit type: bogus/);
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.throws(() => parseRestartPolicy(':3'), /no policy provided before colon/);
    assert.equal(validateExtraHost('h=1.2.3.4'), 'h:1.2.3.4');
    assert.equal(validateExtraHost('h:[::1]'), 'h:::1');
    assert.equal(validateExtraHost('gw:host-gateway'), 'gw:host-gateway');
    assert.throws(() => validateExtraHost('h:bad'), /invalid IP address in add-host: "bad"/);
    assert.deepEqual(parseVolumeSpec('/tmp:/data:ro'), { source: '/tmp', target: '/data', type: 'bind' });
    assert.deepEqual(parseVolumeSpec('vol:/data'), { source: 'vol', target: '/data', type: 'volume' });
    assert.deepEqual(parseVolumeSpec('/anon'), { source: '', target: '/anon', type: 'volume' });
    assert.deepEqual(parseVolumeSpec('a::b'), { source: 'a', target: '', type: 'volume', error: 'invalid spec: a::b: empty section between colons' });
  });
  it('reads env files like docker', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pier-envfile-'));
    try {
      const f = join(dir, 'env');
      writeFileSync(f, '\ufeff# comment\n  A=1\nB= spaced \nUNSET_X\nHOME_Y\n\n');
      assert.deepEqual(parseKeyValueFile(f, (n) => (n === 'HOME_Y' ? '/h' : undefined)), ['A=1', 'B= spaced ', 'HOME_Y=/h']);
      writeFileSync(f, Buffer.from([0x41, 0x3d, 0xff, 0x0a]));
      assert.throws(() => parseKeyValueFile(f), /contains invalid utf8 bytes at line 1: \[65 61 255\]/);
      writeFileSync(f, 'BAD KEY=1\n');
      assert.throws(() => parseKeyValueFile(f), /poorly formatted environment: variable 'BAD KEY' contains whitespaces/);
      assert.throws(() => parseKeyValueFile(join(dir, 'nope')), /open .*nope: no such file or directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The order of these comes from Go map iteration in docker; compare them as sets. */
function normalizeBody(b: Record<string, unknown>): Record<string, unknown> {
  const c = structuredClone(b) as Record<string, any>;
  for (const k of ['Env']) if (Array.isArray(c[k])) c[k].sort();
  const h = c['HostConfig'] as Record<string, any>;
  for (const k of ['Binds', 'Ulimits', 'Mounts', 'Tmpfs']) if (Array.isArray(h?.[k])) h[k].sort((x: unknown, y: unknown) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
  return c;
}

describe('pier extensions', () => {
  it('--health-on-failure goes to the io.pier.health-on-failure annotation', async () => {
    const engine = await new FakeEngine((r) => (r.path === '/containers/create' ? { status: 201, json: { Id: ID, Warnings: [] } } : undefined)).start();
    try {
      const p = await pier(engine.host, ['create', '--health-on-failure', 'restart', '--annotation', 'a=b', 'busybox']);
      assert.equal(p.code, 0, p.err);
      const body = JSON.parse(engine.requests.find((r) => r.path === '/containers/create')!.body.toString());
      assert.deepEqual(body.HostConfig.Annotations, { a: 'b', 'io.pier.health-on-failure': 'restart' });
      const bad = await pier(engine.host, ['create', '--health-on-failure', 'explode', 'busybox']);
      assert.equal(bad.code, 125);
      assert.match(bad.err, /^invalid argument "explode" for "--health-on-failure" flag: invalid on-failure action "explode" for health check: supported actions are: none,kill,restart,stop\n/);
    } finally {
      await engine.stop();
    }
  });
});

describe('run/create send the body docker sends', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pier-create-'));
    writeFileSync(join(dir, 'env'), 'FROM_FILE=1\n# c\nPASSED\n');
    writeFileSync(join(dir, 'labels'), 'l1=a\nl2\n');
    engine = await new FakeEngine((r) => {
      if (r.path === '/containers/create') return { status: 201, json: { Id: ID, Warnings: [] } };
      return undefined;
    }).start();
  });
  after(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const created = (reqs: Recorded[]) => reqs.filter((r) => r.path === '/containers/create');

  const cases: [string, string[]][] = [
    ['no flags', ['busybox']],
    ['common flags', ['-it', '--name', 'x', '-e', 'A=1', '-m', '1g', '--cpus', '1.5', '-p', '8080:80', '-v', '/tmp:/data', '--rm', '--init', '--health-cmd', 'true', '--health-interval', '5s', '--stop-timeout', '3', 'busybox', 'sh', '-c', 'echo hi']],
    ['network, mounts, devices, limits', [
      '--network', 'foo', '--mount', 'type=bind,src=/tmp,dst=/x,ro', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', '--mount', 'dst=/v,volume-label=a=b',
      '--device', '/dev/null:/dev/n:r', '--ulimit', 'nofile=1024:2048', '--sysctl', 'net.ipv4.ip_forward=1', '--add-host', 'h=1.2.3.4', '--dns', '8.8.8.8',
      '--tmpfs', '/run:rw', '--expose', '7000-7001', '-p', '127.0.0.1:80:8080/udp', '-P', '--entrypoint=', '-e', 'UNSET_IN_BOTH', '-l', 'x',
      '--log-opt', 'max-size=1m', '--security-opt', 'no-new-privileges', '--security-opt', 'systempaths=unconfined', '--stop-signal', 'TERM',
      '--annotation', 'k=v', '--cpus', '0.001', '--memory-swap', '-1', '--pids-limit', '10', '--oom-kill-disable', 'busybox']],
    ['user, workdir, entrypoint, labels, env files', ['-w', '/w', '-u', '1:2', '--entrypoint', '/bin/sh', '-l', 'a=b', '-l', 'c', '--label-file', 'LABELS', '--env-file', 'ENVFILE', '-e', 'PASSED', 'busybox', '-c', 'true']],
    ['resources and security', [
      '--memory-swap', '2g', '--memory-reservation', '512m', '-c', '512', '--cpu-period', '100000', '--cpu-quota', '50000', '--cpuset-cpus', '0-1', '--cpuset-mems', '0',
      '--pids-limit', '-1', '--read-only', '--tmpfs', '/run', '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL', '--privileged', '--security-opt', 'seccomp=unconfined',
      '--restart', 'on-failure:3', '--domainname', 'example.com', '-h', 'host', '--add-host', 'a:1.2.3.4', '--add-host', 'b=::1', '--shm-size', '64m',
      '--blkio-weight', '300', '--blkio-weight-device', '/dev/sda:200', '--device-read-bps', '/dev/sda:1mb', '--device-write-iops', '/dev/sda:100',
      '--memory-swappiness', '10', '--oom-score-adj', '100', '--group-add', 'audio', '--cgroup-parent', 'p', '--cgroupns', 'private', '--ipc', 'host', 'busybox']],
    ['health, namespaces, logging, attach', [
      '--health-cmd', 'curl x', '--health-timeout', '1s', '--health-retries', '3', '--health-start-period', '2s', '--health-start-interval', '500ms', '--stop-signal', 'SIGKILL',
      '--ulimit', 'nofile=1:2', '--ulimit', 'nproc=3', '--sysctl', 'net.core.somaxconn=1', '--device', '/dev/null', '-a', 'stdout', '-a', 'STDERR',
      '--pid', 'host', '--uts', 'host', '--userns', 'host', '--network', 'none', '--group-add', 'audio', '--dns', '0:0::1', '--dns-search', 'example.com',
      '--dns-option', 'ndots:2', '--log-driver', 'json-file', '--log-opt', 'max-size=1m', '--runtime', 'runc', '--device-cgroup-rule', 'c 1:3 mr',
      '--volume-driver', 'local', '--volumes-from', 'other:ro', '--storage-opt', 'size=1G', '--isolation', 'default', 'busybox']],
    ['no healthcheck, stdin', ['--no-healthcheck', '-i', '-a', 'stdin', '--init=false', 'busybox']],
    ['ports', ['-p', '80', '-p', '127.0.0.1::53/udp', '-p', '[::1]:8080:80', '-p', '9000-9001:9000-9001', '-p', '7000-7002', '-p', '8000-8010:81', '--expose', '5000', '--expose', '6000/udp', '-P', 'busybox']],
    ['long publish syntax', ['-p', 'target=80,published=8080,protocol=udp', 'busybox']],
    ['malformed volumes', ['-v', 'a::b', '-v', 'x:y:z:w', 'busybox']],
    ['capabilities', ['--cap-add', 'net_admin', '--cap-add', 'CAP_SYS_TIME', '--cap-drop', 'net_admin', '--cap-drop', 'mknod', 'busybox']],
    ['all capabilities', ['--cap-add', 'ALL', '--cap-add', 'chown', '--cap-drop', 'RESET', 'busybox']],
    ['volumes', ['-v', 'named:/data', '-v', '/anon', '-v', './rel:/x:ro', '-v', '/a:/b:rw,z', '-v', '../up:/up', 'busybox']],
    ['user-defined network', ['--network', 'mynet', '--network-alias', 'alias1', '--ip', '10.0.0.2', '--ip6', '2001:db8::2', '--link', 'c1:alias', '--mac-address', '92:d0:c6:0a:29:33', 'busybox']],
    ['advanced network syntax', ['--network', 'name=n1,alias=a1,driver-opt=k=v', '--network', 'n2', 'busybox']],
    ['volume and bind mounts', ['--mount', 'type=volume,src=vol,dst=/v,volume-driver=local,volume-opt=type=nfs,volume-nocopy', '--mount', 'type=bind,source=.,target=/src,bind-propagation=rslave', 'busybox']],
    ['gpus', ['--gpus', 'all', 'busybox']],
    ['platform and pull', ['--platform', 'linux/amd64', '--pull', 'never', 'busybox:1.36']],
    ['localhost dns warning', ['--dns', '127.0.0.1', 'busybox']],
  ];

  for (const [name, args] of cases) {
    it(name, async () => {
      const argv = args.map((a) => a.replace('LABELS', join(dir, 'labels')).replace('ENVFILE', join(dir, 'env')));
      const env = { PASSED: 'from-env' };
      let n = engine.requests.length;
      const d = await docker(engine.host, ['create', ...argv], { env, cwd: dir });
      const dreq = created(engine.since(n));
      n = engine.requests.length;
      const cwd = process.cwd();
      process.chdir(dir);
      let p;
      try {
        p = await pier(engine.host, ['create', ...argv], { env });
      } finally {
        process.chdir(cwd);
      }
      const preq = created(engine.since(n));
      assert.equal(p.code, d.code, `exit code; docker said ${d.err}, pier said ${p.err}`);
      assert.equal(p.out, d.out);
      assert.equal(dockerize(p.err), d.err);
      assert.equal(preq.length, dreq.length);
      assert.equal(preq.length, 1);
      assert.deepEqual(Object.fromEntries(preq[0]!.query), Object.fromEntries(dreq[0]!.query));
      assert.deepEqual(normalizeBody(JSON.parse(preq[0]!.body.toString())), normalizeBody(JSON.parse(dreq[0]!.body.toString())));
    });
  }

  // Errors found while parsing: same message, same status, no request.
  const errorCases: [string, string[]][] = [
    ['bad pull option', ['--pull', 'bogus', 'busybox']],
    ['restart with rm', ['--restart', 'always', '--rm', 'busybox']],
    ['swappiness out of range', ['--memory-swappiness', '200', 'busybox']],
    ['bad pid mode', ['--pid', 'bogus', 'busybox']],
    ['bad uts mode', ['--uts', 'bogus', 'busybox']],
    ['healthcheck conflict', ['--no-healthcheck', '--health-cmd', 'x', 'busybox']],
    ['log opts with none', ['--log-driver', 'none', '--log-opt', 'a=b', 'busybox']],
    ['bad security opt', ['--security-opt', 'bogus', 'busybox']],
    ['missing seccomp profile', ['--security-opt', 'seccomp=/nonexistent.json', 'busybox']],
    ['bad storage opt', ['--storage-opt', 'bogus', 'busybox']],
    ['bad expose', ['--expose', '1:2', 'busybox']],
    ['bad publish', ['-p', '80/xyz', 'busybox']],
    ['bad publish range', ['-p', '1-2:3-5', 'busybox']],
    ['bad device', ['--device', '/dev/a:b', 'busybox']],
    ['aliases on the default network', ['--network-alias', 'x', 'busybox']],
    ['missing env file', ['--env-file', '/nonexistent/env', 'busybox']],
    ['bad restart count', ['--restart', 'on-failure:x', 'busybox']],
    ['bad mac', ['--mac-address', 'zz', 'busybox']],
    ['mixed networks', ['--network', 'host', '--network', 'mynet', 'busybox']],
  ];
  for (const [name, args] of errorCases) {
    it(`rejects: ${name}`, async () => {
      let n = engine.requests.length;
      const d = await docker(engine.host, ['create', ...args]);
      const dreq = created(engine.since(n));
      n = engine.requests.length;
      const p = await pier(engine.host, ['create', ...args]);
      assert.equal(p.code, d.code);
      assert.equal(dockerize(p.err), d.err);
      assert.equal(p.out, d.out);
      assert.equal(created(engine.since(n)).length, dreq.length);
    });
  }

  // Values checked as flags are set: docker 28 adds its usage after the message, pier its "See --help" line.
  const flagErrors: string[][] = [
    ['-m', '1x'], ['--cpus', 'abc'], ['--ulimit', 'bad'], ['--dns', 'bad'], ['--add-host', 'bad'], ['--sysctl', 'kernel.x=1'], ['-a', 'bogus'],
    ['--health-interval', 'x'], ['--mount', 'type=bind'], ['--blkio-weight', 'x'], ['--blkio-weight-device', '/dev/sda:5'], ['--link', 'a:b:c'],
    ['--device-read-bps', 'x'], ['--label', ' =x'], ['--memory-swap', 'q'], ['--network', 'name=n,bogus=x'],
  ];
  for (const args of flagErrors) {
    it(`rejects flag value ${args.join(' ')}`, async () => {
      const d = await docker(engine.host, ['create', ...args, 'busybox']);
      const p = await pier(engine.host, ['create', ...args, 'busybox']);
      assert.equal(p.code, 125);
      assert.equal(d.code, 125);
      assert.equal(dockerize(p.err).split('\n')[0], d.err.split('\n')[0]);
    });
  }
});
