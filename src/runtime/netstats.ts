/**
 * The "networks" part of GET /containers/{id}/stats: per-interface counters of
 * the container's network namespace, read from /proc/<pid>/net/dev (procfs
 * shows the namespace of that pid, so no setns is needed). Loopback is left
 * out, as Docker lists only the interfaces it attached.
 *
 * /proc/net/dev folds a few netlink counters together (its "drop" adds
 * rx_missed_errors to rx_dropped), which Docker reads one by one over netlink;
 * on a veth these extra counters stay 0, so the numbers agree.
 */
import { readFile } from 'node:fs/promises';
import { internal, notFound } from '../base/errdefs.js';

export interface NetStat {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

/** Parses /proc/net/dev: two header lines, then "  eth0: rx bytes packets errs drop fifo frame compressed multicast tx bytes packets errs drop ...". */
export function parseNetDev(text: string): Record<string, NetStat> {
  const out: Record<string, NetStat> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    out[m[1]!] = {
      rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!,
      tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]!,
    };
  }
  return out;
}

/** Counters of every non-loopback interface in pid's network namespace; {} when it has none. */
export async function netStats(pid: number): Promise<Record<string, NetStat>> {
  try {
    return parseNetDev(await readFile(`/proc/${pid}/net/dev`, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw notFound(`process ${pid}: not found`, e);
    throw internal(`reading network stats of process ${pid}: ${(e as Error).message}`, e);
  }
}
