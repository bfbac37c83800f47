/**
 * What the kernel balancer writes, as pure functions of the desired state:
 * the host firewall's service ports (ingress), the rules in one container's
 * network namespace that balance the services' virtual IPs it can reach, and
 * the names the embedded DNS answers for services.
 *
 * In a namespace, one chain of ours in each of two tables, jumped to from
 * OUTPUT (the namespace is the client's, so only its own connections pass):
 *
 *   nat OUTPUT ─▶ PIER-SVC     per VIP: `-d <vip>` + the round-robin cascade of DNATs to its backends
 *   filter OUTPUT ─▶ PIER-SVC  per VIP without a backend: refused at once (tcp-reset / port unreachable)
 *
 * The DNAT happens in the client's own namespace before its packet leaves,
 * so the backend sees the client's address and replies straight to it;
 * conntrack in the client's namespace turns the reply's source back into the
 * VIP. A VIP balances every port and protocol, as swarm's does. Declaring a
 * chain in `iptables-restore --noflush` empties it, so one restore replaces
 * our rules and leaves anything the container added alone.
 */
import { roundRobin, type FirewallServicePort } from '../../network/bridge/firewall.js';
import type { BalancedService, ServiceNames } from './balancer.js';

export const NETNS_CHAIN = 'PIER-SVC';

/** A VIP as one namespace sees it: the backends' addresses on the VIP's network. */
export interface NetnsVip {
  vip: string;
  backends: string[];
}

/** The VIPs reachable from a namespace on `networks` (network IDs). */
export function vipsFor(networks: readonly string[], services: readonly BalancedService[]): NetnsVip[] {
  const out: NetnsVip[] = [];
  for (const s of services) {
    if (s.mode !== 'vip') continue;
    for (const net of networks) {
      const vip = s.vips[net]?.split('/')[0];
      if (!vip) continue;
      const backends = [...new Set(s.backends.map((b) => b.ips[net]).filter((ip): ip is string => !!ip))].sort(byAddress);
      out.push({ vip, backends });
    }
  }
  return out.sort((a, b) => byAddress(a.vip, b.vip));
}

/**
 * iptables-restore input for one namespace. `jumps` adds the OUTPUT jump of
 * a table (one that has none yet); without, the chains are only refilled.
 */
export function renderNetns(vips: readonly NetnsVip[], jumps: { nat: boolean; filter: boolean } = { nat: false, filter: false }): string {
  const nat = [`:${NETNS_CHAIN} - [0:0]`];
  const filter = [`:${NETNS_CHAIN} - [0:0]`];
  if (jumps.nat) nat.push(`-A OUTPUT -j ${NETNS_CHAIN}`);
  if (jumps.filter) filter.push(`-A OUTPUT -j ${NETNS_CHAIN}`);
  for (const v of vips) {
    const d = `-A ${NETNS_CHAIN} -d ${v.vip}/32`;
    if (!v.backends.length) filter.push(`${d} -p tcp -j REJECT --reject-with tcp-reset`, `${d} -j REJECT --reject-with icmp-port-unreachable`);
    nat.push(...roundRobin(d, v.backends));
  }
  return `*nat\n${nat.join('\n')}\nCOMMIT\n*filter\n${filter.join('\n')}\nCOMMIT\n`;
}

/**
 * The host firewall's entries: every ingress port of the services, to each
 * backend's address on the first of its networks the host may forward to
 * (`usable`: not internal), the service's own networks first.
 */
export function ingressPorts(services: readonly BalancedService[], usable: (networkId: string) => boolean): FirewallServicePort[] {
  const out: FirewallServicePort[] = [];
  for (const s of services) {
    const backends: string[] = [];
    for (const b of s.backends) {
      const order = [...s.networks, ...Object.keys(b.ips).filter((n) => !s.networks.includes(n))];
      const net = order.find((n) => b.ips[n] && usable(n));
      if (net && !backends.includes(b.ips[net]!)) backends.push(b.ips[net]!);
    }
    backends.sort(byAddress);
    for (const p of s.ports) {
      if (p.PublishMode === 'host' || !p.PublishedPort) continue;
      const proto = p.Protocol ?? 'tcp';
      if (proto === 'sctp') continue;
      out.push({ proto, hostPort: p.PublishedPort, targetPort: p.TargetPort, backends });
    }
  }
  return out.sort((a, b) => a.hostPort - b.hostPort || a.proto.localeCompare(b.proto));
}

/**
 * Names for the embedded DNS, per network the service is on: `<name>` → its
 * VIP there (vip mode; every backend when it has none there) or every
 * backend (dnsrr); `tasks.<name>` → every backend.
 */
export function serviceNames(services: readonly BalancedService[]): ServiceNames {
  const out: ServiceNames = new Map();
  for (const s of services) {
    for (const net of new Set([...s.networks, ...Object.keys(s.vips)])) {
      const tasks = [...new Set(s.backends.map((b) => b.ips[net]).filter((ip): ip is string => !!ip))].sort(byAddress);
      const vip = s.mode === 'vip' ? s.vips[net]?.split('/')[0] : undefined;
      const names = out.get(net) ?? new Map<string, string[]>();
      names.set(s.name.toLowerCase(), vip ? [vip] : tasks);
      names.set(`tasks.${s.name.toLowerCase()}`, tasks);
      out.set(net, names);
    }
  }
  return out;
}

/** IPv4 addresses in numeric order (stable rule text, so an unchanged set is not written again). */
export function byAddress(a: string, b: string): number {
  const n = (s: string) => s.split('.').reduce((x, y) => x * 256 + Number(y), 0);
  return n(a) - n(b);
}
