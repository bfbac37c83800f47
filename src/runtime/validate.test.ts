import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import type { ContainerConfig, HostConfig } from './container-config.js';
import { parseSecurityOpt, parseUintList, validateHostConfig } from './validate.js';

const invalidWith = (msg: string) => (e: unknown) => {
  assert.ok(e instanceof EngineError, String(e));
  assert.equal(e.kind, 'invalid');
  assert.equal(e.message, msg);
  return true;
};
const check = (hc: HostConfig, cfg: ContainerConfig = {}) => () => validateHostConfig(hc, cfg, 2);

describe('parseSecurityOpt', () => {
  it('defaults', () => {
    assert.deepEqual(parseSecurityOpt(null), { seccomp: 'default', noNewPrivileges: false, labels: [] });
  });
  it('no-new-privileges in every spelling', () => {
    for (const o of ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true', 'no-new-privileges=1'])
      assert.equal(parseSecurityOpt([o]).noNewPrivileges, true, o);
    assert.equal(parseSecurityOpt(['no-new-privileges', 'no-new-privileges=false']).noNewPrivileges, false);
    assert.throws(() => parseSecurityOpt(['no-new-privileges=maybe']), invalidWith('invalid --security-opt 2: "no-new-privileges=maybe"'));
  });
  it('seccomp: unconfined, builtin, JSON profile', () => {
    assert.equal(parseSecurityOpt(['seccomp=unconfined']).seccomp, 'unconfined');
    assert.equal(parseSecurityOpt(['seccomp:unconfined']).seccomp, 'unconfined');
    assert.equal(parseSecurityOpt(['seccomp=builtin']).seccomp, 'default');
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a=b:c'], action: 'SCMP_ACT_ERRNO' }] };
    assert.deepEqual(parseSecurityOpt([`seccomp=${JSON.stringify(profile)}`]).seccomp, profile);
    assert.throws(() => parseSecurityOpt(['seccomp=default']), (e: unknown) => e instanceof EngineError && /^Decoding seccomp profile failed: /.test(e.message));
  });
  it('apparmor and labels accepted; unknown options rejected with Docker words', () => {
    assert.deepEqual(parseSecurityOpt(['apparmor=unconfined', 'label=disable', 'label:type:svirt_t', 'disable']).labels, ['disable', 'type:svirt_t', 'disable']);
    assert.throws(() => parseSecurityOpt(['unknown']), invalidWith('invalid --security-opt 1: "unknown"'));
    assert.throws(() => parseSecurityOpt(['systempaths=unconfined']), invalidWith('invalid --security-opt 2: "systempaths=unconfined"'));
    assert.equal(parseSecurityOpt(['writable-cgroups=true']).writableCgroups, true);
  });
});

describe('validateHostConfig', () => {
  it('accepts an ordinary configuration', () => {
    validateHostConfig({
      Memory: 64 << 20, MemorySwap: 128 << 20, MemorySwappiness: -1, NanoCpus: 1.5e9, CpusetCpus: '0-1', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      CapAdd: ['net_admin'], CapDrop: ['ALL'], Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '10' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }], Tmpfs: { '/run': 'size=1m' }, IpcMode: 'container:abc', PidMode: 'host', OomScoreAdj: -1000,
      DeviceCgroupRules: ['c 1:3 rwm', 'a *:* r'], SecurityOpt: ['no-new-privileges'],
    }, { WorkingDir: '/srv', StopSignal: 'SIGUSR1', Healthcheck: { Interval: 1e9 } }, 2);
  });

  it('memory', () => {
    assert.throws(check({ Memory: 1 << 20 }), invalidWith('Minimum memory limit allowed is 6MB'));
    assert.throws(check({ Memory: 64 << 20, MemorySwap: 32 << 20 }), invalidWith('Minimum memoryswap limit should be larger than memory limit, see usage'));
    assert.throws(check({ MemorySwap: 32 << 20 }), invalidWith('You should always set the Memory limit when using Memoryswap limit, see usage'));
    assert.throws(check({ MemorySwappiness: 101 }), invalidWith('Invalid value: 101, valid memory swappiness range is 0-100'));
    assert.throws(check({ MemoryReservation: 1024 }), invalidWith('Minimum memory reservation allowed is 6MB'));
    assert.throws(check({ Memory: 8 << 20, MemoryReservation: 16 << 20 }), invalidWith('Minimum memory limit can not be less than memory reservation limit, see usage'));
  });

  it('cpu', () => {
    assert.throws(check({ NanoCpus: 1e9, CpuPeriod: 100000 }), invalidWith('Conflicting options: Nano CPUs and CPU Period cannot both be set'));
    assert.throws(check({ NanoCpus: 1e9, CpuQuota: 50000 }), invalidWith('Conflicting options: Nano CPUs and CPU Quota cannot both be set'));
    assert.throws(check({ NanoCpus: 3e9 }), invalidWith('range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'));
    assert.throws(check({ CpuPeriod: 10 }), invalidWith('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'));
    assert.throws(check({ CpuQuota: 10 }), invalidWith('CPU cfs quota can not be less than 1ms (i.e. 1000)'));
    assert.throws(check({ CpusetCpus: '0-x' }), invalidWith('Invalid value 0-x for cpuset cpus: invalid format: 0-x'));
    assert.throws(check({ CpusetCpus: '1,5' }), invalidWith('Requested CPUs are not available - requested 1,5, available: 0-1'));
    assert.throws(check({ CpusetMems: 'a' }), invalidWith('Invalid value a for cpuset mems: invalid format: a'));
    assert.deepEqual([...parseUintList('0-2,7')], [0, 1, 2, 7]);
    assert.throws(check({ BlkioWeight: 5 }), invalidWith('Range of blkio weight is from 10 to 1000'));
  });

  it('restart policy (Docker 28 wording)', () => {
    assert.throws(check({ RestartPolicy: { Name: 'sometimes' as never } }),
      invalidWith("invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"));
    assert.throws(check({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } }), invalidWith('invalid restart policy: maximum retry count cannot be negative'));
    assert.throws(check({ RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } }), invalidWith("invalid restart policy: maximum retry count can only be used with 'on-failure'"));
    assert.throws(check({ RestartPolicy: { Name: 'no', MaximumRetryCount: -2 } }),
      invalidWith("invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"));
    assert.throws(check({ AutoRemove: true, RestartPolicy: { Name: 'always' } }), invalidWith("can't create 'AutoRemove' container with restart policy"));
    validateHostConfig({ RestartPolicy: { Name: '', MaximumRetryCount: 5 }, AutoRemove: true }, {}, 2);
  });

  it('namespaces modes, shm, oom score, tmpfs, cgroupns', () => {
    assert.throws(check({ IpcMode: 'bogus' }), invalidWith('invalid IPC mode: bogus'));
    assert.throws(check({ IpcMode: 'container:' }), invalidWith('invalid IPC mode: container:'));
    assert.throws(check({ PidMode: 'private' }), invalidWith('invalid PID mode: private'));
    assert.throws(check({ UTSMode: 'container:x' }), invalidWith('invalid UTS mode: container:x'));
    assert.throws(check({ UTSMode: 'host' }, { Hostname: 'h' }), invalidWith('conflicting options: hostname and the UTS mode'));
    assert.throws(check({ ShmSize: -1 }), invalidWith('SHM size can not be less than 0'));
    assert.throws(check({ OomScoreAdj: -1001 }), invalidWith('Invalid value -1001, range for oom score adj is [-1000, 1000]'));
    assert.throws(check({ Tmpfs: { 'run': '' } }), invalidWith("invalid mount path: 'run' mount path must be absolute"));
    assert.throws(check({ Tmpfs: { '/': '' } }), invalidWith("invalid specification: destination can't be '/'"));
    assert.throws(check({ CgroupnsMode: 'shared' as never }), invalidWith('invalid cgroup namespace mode: shared'));
  });

  it('capabilities, sysctls, ulimits, devices, security options', () => {
    assert.throws(check({ CapAdd: ['FOO'] }), invalidWith('invalid CapAdd: unknown capability: "CAP_FOO"'));
    assert.throws(check({ CapDrop: ['cap_bar'] }), invalidWith('invalid CapDrop: unknown capability: "CAP_BAR"'));
    assert.throws(check({ Sysctls: { 'kernel.hostname': 'x' } }), invalidWith("sysctl 'kernel.hostname' is not allowed"));
    assert.throws(check({ Sysctls: { 'vm.swappiness': '1' } }), invalidWith("sysctl 'vm.swappiness' is not allowed"));
    assert.throws(check({ NetworkMode: 'host', Sysctls: { 'net.core.somaxconn': '1' } }), invalidWith("sysctl 'net.core.somaxconn' is not allowed in the host's network namespace"));
    assert.throws(check({ IpcMode: 'host', Sysctls: { 'kernel.shmmax': '1' } }), invalidWith("sysctl 'kernel.shmmax' is not allowed in the host's IPC namespace"));
    assert.throws(check({ Ulimits: [{ Name: 'nofiles', Soft: 1, Hard: 1 }] }), invalidWith('invalid ulimit type: nofiles'));
    assert.throws(check({ Ulimits: [{ Name: 'nofile', Soft: 2, Hard: 1 }] }), invalidWith('ulimit soft limit must be less than or equal to hard limit: 2 > 1'));
    assert.throws(check({ DeviceCgroupRules: ['c 1:3'] }), invalidWith("invalid device cgroup rule format: 'c 1:3'"));
    assert.throws(check({ Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rx' }] }), invalidWith('invalid device mode: rx'));
    assert.throws(check({ SecurityOpt: ['foo=bar'] }), invalidWith('invalid --security-opt 2: "foo=bar"'));
    assert.throws(check({ Isolation: 'hyperv' }), invalidWith("invalid isolation 'hyperv' on linux"));
  });

  it('container config: working dir, healthcheck, stop signal', () => {
    assert.throws(check({}, { WorkingDir: 'srv' }), invalidWith("the working directory 'srv' is invalid, it needs to be an absolute path"));
    assert.throws(check({}, { Healthcheck: { Interval: 1000 } }), invalidWith('Interval in Healthcheck cannot be less than 1ms'));
    assert.throws(check({}, { Healthcheck: { Retries: -1 } }), invalidWith('Retries in Healthcheck cannot be negative'));
    assert.throws(check({}, { StopSignal: 'SIGFOO' }), invalidWith('Invalid signal: SIGFOO'));
    validateHostConfig({}, { StopSignal: 'term' }, 1);
    validateHostConfig({}, { StopSignal: '9' }, 1);
  });
});
