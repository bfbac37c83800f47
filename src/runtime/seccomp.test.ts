import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CAPABILITIES } from './caps.js';
import { defaultSeccompProfile, seccompFromDocker, type LinuxSeccomp } from './seccomp.js';

const allowed = (p: LinuxSeccomp) => new Set(p.syscalls!.filter((c) => c.action === 'SCMP_ACT_ALLOW' && !c.args).flatMap((c) => c.names));
const rulesFor = (p: LinuxSeccomp, name: string) => p.syscalls!.filter((c) => c.names.includes(name));

describe('default seccomp profile', () => {
  const def = defaultSeccompProfile([...DEFAULT_CAPABILITIES]);

  it('denies with EPERM by default, for x86_64 and its 32-bit ABIs', () => {
    assert.equal(def.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(def.defaultErrnoRet, 1);
    if (process.arch === 'x64') assert.deepEqual(def.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('allows the common syscalls and not the dangerous ones', () => {
    const a = allowed(def);
    for (const n of ['read', 'write', 'execve', 'openat', 'clock_gettime', 'io_uring_setup', 'chroot']) assert.ok(a.has(n), n);
    for (const n of ['mount', 'unshare', 'setns', 'reboot', 'init_module', 'kexec_load', 'open_by_handle_at', 'bpf', 'keyctl']) assert.ok(!a.has(n), n);
    if (process.arch === 'x64') assert.ok(a.has('arch_prctl') && a.has('modify_ldt'));
    assert.ok(!a.has('s390_runtime_instr') && !a.has('set_tls'));
  });

  it('without CAP_SYS_ADMIN: clone only without namespace flags, clone3 → ENOSYS', () => {
    const clone = rulesFor(def, 'clone');
    assert.equal(clone.length, 1);
    assert.deepEqual(clone[0]!.args, [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]);
    assert.deepEqual(rulesFor(def, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    assert.deepEqual(rulesFor(def, 'personality').map((r) => r.args![0]!.value), [0, 8, 0x20000, 0x20008, 0xffffffff]);
    assert.deepEqual(rulesFor(def, 'socket')[0]!.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  });

  it('capabilities open their syscalls', () => {
    const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME']);
    const a = allowed(admin);
    for (const n of ['mount', 'unshare', 'setns', 'clone', 'clone3', 'kcmp', 'settimeofday']) assert.ok(a.has(n), n);
    assert.ok(!rulesFor(admin, 'clone').some((r) => r.args), 'no masked clone rule with CAP_SYS_ADMIN');
    assert.ok(!rulesFor(admin, 'clone3').some((r) => r.action === 'SCMP_ACT_ERRNO'));
    assert.ok(!allowed(defaultSeccompProfile([])).has('chroot'));
  });
});

describe('seccompFromDocker', () => {
  it('converts name and names, filters by arch and caps, keeps errnoRet and args', () => {
    const p = seccompFromDocker({
      defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['chmod', 'fchmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o777, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['only-s390'], action: 'SCMP_ACT_ERRNO', includes: { arches: ['s390x'] } },
        { names: ['not-amd64'], action: 'SCMP_ACT_ERRNO', excludes: { arches: ['amd64'] } },
        { names: ['needs-admin'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['no-kill'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_KILL'] } },
        { names: ['future'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '99.0' } },
        { names: ['old'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '2.6' } },
      ],
    }, ['CAP_KILL'], 'x64')!;
    assert.deepEqual(p, {
      defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['chmod', 'fchmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o777, op: 'SCMP_CMP_EQ' }] },
      ],
    });
  });

  it('archMap picks the native architecture and its sub-architectures', () => {
    const archMap = [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }];
    assert.deepEqual(seccompFromDocker({ defaultAction: 'SCMP_ACT_ALLOW', archMap }, [], 'arm64')!.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.deepEqual(seccompFromDocker({ defaultAction: 'SCMP_ACT_ALLOW', archMap }, [], 'x64')!.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  });

  it("Docker's errors, and an empty profile means no seccomp", () => {
    assert.throws(() => seccompFromDocker({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] }, []),
      /'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'/);
    assert.throws(() => seccompFromDocker({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }, []),
      /'architectures' and 'archMap' were specified/);
    assert.throws(() => seccompFromDocker('nope', []), /Decoding seccomp profile failed/);
    assert.equal(seccompFromDocker({}, []), undefined);
  });
});
