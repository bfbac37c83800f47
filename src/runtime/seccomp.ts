/**
 * Seccomp: Docker's default profile and the conversion from Docker's profile
 * format (what `--security-opt seccomp=<file>` carries: the CLI sends the
 * file's JSON) to the OCI `linux.seccomp` that runc loads.
 *
 * Docker's format adds to OCI's: `name` (one syscall) beside `names`, per-rule
 * `includes`/`excludes` filters on capabilities, architectures and kernel
 * version, and `archMap` (the native architecture → its sub-architectures).
 * A rule applies when every `includes` condition holds and no `excludes` one
 * does; capabilities are judged against the container's bounding set, so the
 * default profile allows mount(2) only to a container with CAP_SYS_ADMIN.
 */
import { release } from 'node:os';
import { invalid } from '../base/errdefs.js';

export interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }
export interface SeccompSyscall { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }
/** OCI runtime-spec LinuxSeccomp. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

interface Filter { caps?: string[] | null; arches?: string[] | null; minKernel?: string | null }
interface DockerRule {
  name?: string; names?: string[] | null; action: string; errnoRet?: number; args?: SeccompArg[] | null;
  comment?: string; includes?: Filter | null; excludes?: Filter | null;
}
interface DockerProfile {
  defaultAction?: string; defaultErrnoRet?: number; architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  syscalls?: DockerRule[] | null; listenerPath?: string; listenerMetadata?: string; flags?: string[] | null;
}

/** Node's process.arch → [libseccomp's native name as Docker's filters spell it, SCMP_ARCH_*]. */
const NATIVE: Record<string, [string, string]> = {
  x64: ['amd64', 'SCMP_ARCH_X86_64'], ia32: ['x86', 'SCMP_ARCH_X86'], arm64: ['arm64', 'SCMP_ARCH_AARCH64'],
  arm: ['arm', 'SCMP_ARCH_ARM'], ppc64: ['ppc64le', 'SCMP_ARCH_PPC64LE'], s390x: ['s390x', 'SCMP_ARCH_S390X'],
  riscv64: ['riscv64', 'SCMP_ARCH_RISCV64'], mips64el: ['mipsel64', 'SCMP_ARCH_MIPSEL64'],
};

const words = (s: string) => s.trim().split(/\s+/);
const ALLOW = 'SCMP_ACT_ALLOW';
const caps = (...c: string[]): Filter => ({ caps: c.map((x) => `CAP_${x}`) });
const arches = (...a: string[]): Filter => ({ arches: a });
const personality = (value: number): DockerRule => ({ names: ['personality'], action: ALLOW, args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] });
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may not create namespaces without CAP_SYS_ADMIN. */
const CLONE_NS_FLAGS = 0x7e020000;

/** Docker's default profile (moby profiles/seccomp/default.json), in Docker's own format. */
export const DEFAULT_PROFILE: DockerProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1, // EPERM
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_MIPS64', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32'] },
    { architecture: 'SCMP_ARCH_MIPS64N32', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64'] },
    { architecture: 'SCMP_ARCH_MIPSEL64', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'] },
    { architecture: 'SCMP_ARCH_MIPSEL64N32', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64'] },
    { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
  ],
  syscalls: [
    {
      action: ALLOW,
      names: words(`
        accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
        clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
        clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
        epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
        execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
        fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
        fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
        futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
        getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
        getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
        getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
        inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register
        io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
        lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
        madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
        mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
        mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
        name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal
        pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
        prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
        readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
        renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
        rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
        sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
        sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
        sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
        sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
        setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
        setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
        set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
        signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
        symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
        timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
        timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
        uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
        writev`),
    },
    { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], action: ALLOW, includes: { minKernel: '4.8' } },
    { names: ['socket'], action: ALLOW, args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }, // no AF_VSOCK
    personality(0), personality(8), personality(0x20000), personality(0x20008), personality(0xffffffff),
    { names: ['sync_file_range2', 'swapcontext'], action: ALLOW, includes: arches('ppc64le') },
    { names: words('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'), action: ALLOW, includes: arches('arm', 'arm64') },
    { names: ['arch_prctl'], action: ALLOW, includes: arches('amd64', 'x32') },
    { names: ['modify_ldt'], action: ALLOW, includes: arches('amd64', 'x32', 'x86') },
    { names: words('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'), action: ALLOW, includes: arches('s390', 's390x') },
    { names: ['riscv_flush_icache'], action: ALLOW, includes: arches('riscv64') },
    { names: ['open_by_handle_at'], action: ALLOW, includes: caps('DAC_READ_SEARCH') },
    {
      names: words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
        move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount
        umount2 unshare`),
      action: ALLOW, includes: caps('SYS_ADMIN'),
    },
    { names: ['clone'], action: ALLOW, args: [{ index: 0, value: CLONE_NS_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } },
    // s390 orders clone's arguments differently
    { names: ['clone'], action: ALLOW, args: [{ index: 1, value: CLONE_NS_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }], includes: arches('s390', 's390x'), excludes: caps('SYS_ADMIN') },
    // ENOSYS, not EPERM, so libc falls back to clone(2), whose flags can be checked
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: caps('SYS_ADMIN') },
    { names: ['reboot'], action: ALLOW, includes: caps('SYS_BOOT') },
    { names: ['chroot'], action: ALLOW, includes: caps('SYS_CHROOT') },
    { names: ['delete_module', 'init_module', 'finit_module'], action: ALLOW, includes: caps('SYS_MODULE') },
    { names: ['acct'], action: ALLOW, includes: caps('SYS_PACCT') },
    { names: words('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'), action: ALLOW, includes: caps('SYS_PTRACE') },
    { names: ['iopl', 'ioperm'], action: ALLOW, includes: caps('SYS_RAWIO') },
    { names: words('settimeofday stime clock_settime clock_settime64'), action: ALLOW, includes: caps('SYS_TIME') },
    { names: ['vhangup'], action: ALLOW, includes: caps('SYS_TTY_CONFIG') },
    { names: words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'), action: ALLOW, includes: caps('SYS_NICE') },
    { names: ['syslog'], action: ALLOW, includes: caps('SYSLOG') },
    { names: ['bpf'], action: ALLOW, includes: caps('BPF') },
    { names: ['perf_event_open'], action: ALLOW, includes: caps('PERFMON') },
  ],
};

/** Docker's default profile for a container whose bounding set is `caps`. */
export function defaultSeccompProfile(caps: readonly string[]): LinuxSeccomp {
  return seccompFromDocker(DEFAULT_PROFILE, caps)!;
}

const kernelAtLeast = (want: string, have = release()): boolean => {
  const parse = (v: string) => {
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
    if (!m) throw invalid(`seccomp: invalid kernel version "${v}"`);
    return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  };
  const [w, h] = [parse(want), parse(have)];
  for (let i = 0; i < 3; i++) if (h[i] !== w[i]) return h[i]! > w[i]!;
  return true;
};

/**
 * Docker-format profile → OCI LinuxSeccomp, filtered for this host and the
 * container's bounding set `caps`. Undefined when the profile names no default
 * action and no syscalls (Docker reads that as "seccomp disabled").
 */
export function seccompFromDocker(profile: unknown, caps: readonly string[], arch: string = process.arch): LinuxSeccomp | undefined {
  if (!profile || typeof profile !== 'object' || Array.isArray(profile)) throw invalid('Decoding seccomp profile failed: profile is not a JSON object');
  const p = profile as DockerProfile;
  if (!p.defaultAction && !p.syscalls?.length) return undefined;
  if (p.architectures?.length && p.archMap?.length)
    throw invalid("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  const [native, scmpArch] = NATIVE[arch] ?? [arch, ''];
  const out: LinuxSeccomp = { defaultAction: p.defaultAction ?? '' };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = p.defaultErrnoRet;
  let archs = p.architectures?.length ? [...p.architectures] : [];
  const mapped = p.archMap?.find((a) => a.architecture === scmpArch);
  if (mapped) archs = [mapped.architecture, ...(mapped.subArchitectures ?? [])];
  if (archs.length) out.architectures = archs;
  if (p.flags?.length) out.flags = [...p.flags];
  if (p.listenerPath) out.listenerPath = p.listenerPath;
  if (p.listenerMetadata) out.listenerMetadata = p.listenerMetadata;

  const has = (c: string) => caps.includes(c);
  out.syscalls = [];
  for (const r of p.syscalls ?? []) {
    const ex = r.excludes, inc = r.includes;
    if (ex?.arches?.includes(native) || ex?.caps?.some(has) || (ex?.minKernel && kernelAtLeast(ex.minKernel))) continue;
    if ((inc?.arches?.length && !inc.arches.includes(native)) || (inc?.caps?.length && !inc.caps.every(has))) continue;
    if (inc?.minKernel && !kernelAtLeast(inc.minKernel)) continue;
    if (r.name && r.names?.length) throw invalid("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
    const call: SeccompSyscall = { names: r.name ? [r.name] : [...(r.names ?? [])], action: r.action };
    if (r.errnoRet !== undefined) call.errnoRet = r.errnoRet;
    if (r.args?.length) call.args = r.args.map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo ? { valueTwo: a.valueTwo } : {}), op: a.op }));
    out.syscalls.push(call);
  }
  return out;
}
