/**
 * Linux capabilities by Docker's names ("CAP_CHOWN"), and Docker's rules for
 * turning Privileged, CapAdd and CapDrop into a container's capability set.
 *
 * Names are accepted with or without the CAP_ prefix, in any case; "ALL" in
 * CapAdd means every capability, in CapDrop it means start from nothing.
 */
import { readFileSync } from 'node:fs';
import { invalid } from '../base/errdefs.js';

/** Index = capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40). */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default set (oci/defaults.go), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

let hostCaps: string[] | undefined;

/**
 * Every capability the host kernel knows (/proc/sys/kernel/cap_last_cap) that
 * this process still holds in its bounding set: a privileged container cannot
 * be given a capability we were never given ourselves (capset would fail).
 */
export function allCapabilities(): string[] {
  if (hostCaps) return [...hostCaps];
  let last = CAPABILITIES.length - 1;
  let bounding = (1n << 64n) - 1n;
  try {
    last = Math.min(last, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
  } catch { /* not Linux, or /proc hidden: assume the table */ }
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch { /* keep all */ }
  hostCaps = CAPABILITIES.filter((_, i) => i <= last && (bounding >> BigInt(i)) & 1n);
  return [...hostCaps];
}

/** Upper-cases, adds CAP_, keeps "ALL"; unknown names → invalid `unknown capability: "CAP_X"`. */
export function normalizeCapabilities(caps: readonly string[] | null | undefined): string[] {
  const out: string[] = [];
  for (const raw of caps ?? []) {
    let c = raw.toUpperCase();
    if (c !== 'ALL') {
      if (!c.startsWith('CAP_')) c = `CAP_${c}`;
      if (!(CAPABILITIES as readonly string[]).includes(c)) throw invalid(`unknown capability: "${c}"`);
    }
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** Docker's TweakCapabilities: the container's bounding/effective/permitted set. */
export function containerCapabilities(add: readonly string[] | null | undefined, drop: readonly string[] | null | undefined, privileged: boolean): string[] {
  if (privileged) return allCapabilities();
  const adds = normalizeCapabilities(add);
  const drops = normalizeCapabilities(drop);
  let caps: string[];
  if (adds.includes('ALL')) caps = allCapabilities().filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = adds;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  return [...new Set(caps)];
}

/** The kernel's bit mask of a set, as /proc/<pid>/status prints it (CapBnd). */
export function capabilityMask(caps: readonly string[]): bigint {
  let mask = 0n;
  for (const c of caps) {
    const i = (CAPABILITIES as readonly string[]).indexOf(c);
    if (i >= 0) mask |= 1n << BigInt(i);
  }
  return mask;
}
