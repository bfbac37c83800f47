/**
 * IP address management: subnets as numbers (IPv4 and IPv6 alike, as bigint),
 * the default address pools a new network's subnet is carved from, checks that
 * a subnet collides neither with another network nor with a route of the host,
 * and the choice of the next free address in a network.
 *
 * Address text is parsed and printed by ipaddr.js (a small, well-kept library
 * for exactly this); the arithmetic on top is ours.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { invalid } from '../base/errdefs.js';
import type { IpamPool } from './types.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

const bits = (f: Family) => (f === 4 ? 32 : 128);

export function parseIp(s: string): { family: Family; value: bigint } | undefined {
  try {
    const a = ipaddr.parse(s);
    const bytes = a.toByteArray();
    let v = 0n;
    for (const b of bytes) v = (v << 8n) | BigInt(b);
    return { family: a.kind() === 'ipv4' ? 4 : 6, value: v };
  } catch {
    return undefined;
  }
}

export function formatIp(family: Family, v: bigint): string {
  const n = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** "10.1.0.0/16" → Cidr, host bits cleared (Docker accepts them and clears them); undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  const prefix = Number(m[2]);
  if (!ip || prefix > bits(ip.family)) return undefined;
  return { family: ip.family, base: ip.value & mask(ip.family, prefix), prefix };
}

export function mask(f: Family, prefix: number): bigint {
  const all = (1n << BigInt(bits(f))) - 1n;
  return all ^ ((1n << BigInt(bits(f) - prefix)) - 1n);
}

export const cidrText = (c: Cidr) => `${formatIp(c.family, c.base)}/${c.prefix}`;
export const size = (c: Cidr) => 1n << BigInt(bits(c.family) - c.prefix);
export const last = (c: Cidr) => c.base + size(c) - 1n;
export const contains = (c: Cidr, v: bigint) => v >= c.base && v <= last(c);
export const overlaps = (a: Cidr, b: Cidr) => a.family === b.family && a.base <= last(b) && b.base <= last(a);

export interface AddressPool {
  base: string;
  size: number;
}

/**
 * Pier's pools stay clear of Docker's (172.17.0.0/16 and up): Pier runs beside
 * a dockerd and never takes docker0's subnet. Like Podman, the default bridge
 * takes 10.88.0.0/16 and user networks /24s from 10.89.0.0/16 on.
 */
export const DEFAULT_BRIDGE_CIDR = '10.88.0.1/16';
export const DEFAULT_POOLS: AddressPool[] = [{ base: '10.89.0.0/16', size: 24 }, { base: '10.90.0.0/15', size: 24 }];

/** Every subnet routed by the host: directly connected ones and gateway routes (the default route excluded). */
export function hostRoutes(): (Cidr & { dev: string })[] {
  const out: (Cidr & { dev: string })[] = [];
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) continue;
      const le = (h: string) => BigInt(Buffer.from(h, 'hex').readUInt32LE(0));
      const dest = le(f[1]!);
      const m = le(f[7]!);
      const prefix = m.toString(2).replace(/0/g, '').length;
      if (prefix === 0) continue;
      out.push({ family: 4, base: dest & mask(4, prefix), prefix, dev: f[0]! });
    }
  } catch {
    /* no /proc: nothing known */
  }
  try {
    for (const line of readFileSync('/proc/net/ipv6_route', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const prefix = parseInt(f[1]!, 16);
      if (prefix === 0 || f[9] === 'lo') continue;
      const base = BigInt('0x' + f[0]!);
      if (base >> 118n === 0x3fan) continue; // fe80::/10 link-local lives on every interface
      out.push({ family: 6, base: base & mask(6, prefix), prefix, dev: f[9]! });
    }
  } catch {
    /* no IPv6 */
  }
  return out;
}

/** The first subnet of the pools that overlaps nothing taken. */
export function pickSubnet(pools: AddressPool[], taken: Cidr[]): Cidr {
  for (const p of pools) {
    const base = parseCidr(p.base);
    if (!base || base.family !== 4 || p.size < base.prefix || p.size > 30) throw invalid(`invalid address pool ${p.base} (size ${p.size})`);
    const step = 1n << BigInt(32 - p.size);
    for (let s = base.base; s + step - 1n <= last(base); s += step) {
      const c: Cidr = { family: 4, base: s, prefix: p.size };
      if (!taken.some((t) => overlaps(t, c))) return c;
    }
  }
  throw invalid('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

/** A network's subnet with the parts that allocation needs. */
export interface SubnetPlan {
  subnet: Cidr;
  range: Cidr;
  gateway: bigint;
  reserved: Set<bigint>;
}

/**
 * Checks one IPAM pool of a create request the way Docker does and fills in
 * the gateway (the first address) when none was given.
 */
export function planPool(pool: IpamPool): { plan: SubnetPlan; pool: IpamPool } {
  const subnet = parseCidr(pool.Subnet);
  if (!subnet) throw invalid(`invalid subnet ${pool.Subnet}: expected an address and a prefix length such as 10.10.0.0/24`);
  const fixed: IpamPool = { ...pool, Subnet: cidrText(subnet) }; // host bits cleared, as Docker does
  if (subnet.family === 4 && subnet.prefix > 30) throw invalid(`invalid subnet ${pool.Subnet}: too small for a network (the prefix must be /30 or shorter)`);
  let range = subnet;
  if (pool.IPRange) {
    const r = parseCidr(pool.IPRange);
    if (!r || r.family !== subnet.family) throw invalid(`invalid ip-range ${pool.IPRange}`);
    if (!contains(subnet, r.base) || !contains(subnet, last(r))) throw invalid(`ip-range ${pool.IPRange} is not within subnet ${fixed.Subnet}`);
    range = r;
  }
  let gateway: bigint;
  if (pool.Gateway) {
    const g = parseIp(pool.Gateway);
    if (!g || g.family !== subnet.family) throw invalid(`invalid gateway address ${pool.Gateway}`);
    if (!contains(subnet, g.value)) throw invalid(`gateway ${pool.Gateway} is not within subnet ${fixed.Subnet}`);
    gateway = g.value;
  } else {
    gateway = subnet.base + 1n;
    fixed.Gateway = formatIp(subnet.family, gateway);
  }
  const reserved = new Set<bigint>([gateway]);
  for (const [name, a] of Object.entries(pool.AuxiliaryAddresses ?? {})) {
    const v = parseIp(a);
    if (!v || v.family !== subnet.family || !contains(subnet, v.value)) throw invalid(`auxiliary address ${name}=${a} is not within subnet ${fixed.Subnet}`);
    reserved.add(v.value);
  }
  return { plan: { subnet, range, gateway, reserved }, pool: fixed };
}

/** The first and last address a range may give out: never the subnet's network address, nor its IPv4 broadcast. */
function bounds({ subnet, range }: SubnetPlan): { first: bigint; end: bigint } {
  const first = range.base === subnet.base ? range.base + 1n : range.base;
  const end = subnet.family === 4 && last(range) === last(subnet) ? last(range) - 1n : last(range);
  return { first, end };
}

const exhausted = (subnet: Cidr) => invalid(`no available IPv${subnet.family} addresses on this network's address pools: ${cidrText(subnet)}`);

/**
 * The next free address of a subnet, searched from `after` onwards and
 * wrapping (Docker hands addresses out in order, so a released one is not
 * reused at once). The network and broadcast addresses are never given out.
 */
export function nextFree(plan: SubnetPlan, used: Set<bigint>, after?: bigint): bigint {
  const { subnet } = plan;
  const { first, end } = bounds(plan);
  const total = end - first + 1n;
  if (total <= 0n) throw exhausted(subnet);
  const start = after !== undefined && after >= first && after < end ? after + 1n : first;
  // Bounded search: a /16 has 65k addresses; a /64 is never exhausted in practice.
  const limit = total < 1_000_000n ? total : 1_000_000n;
  for (let i = 0n; i < limit; i++) {
    const v = first + ((start - first + i) % total);
    if (!used.has(v) && !plan.reserved.has(v)) return v;
  }
  throw exhausted(subnet);
}

/**
 * The highest free address of a subnet's range: where service VIPs are taken
 * from, far from the low addresses containers get first, so that a container
 * started while a daemon restarts (before the services reclaim their VIPs)
 * is unlikely to take one.
 */
export function highestFree(plan: SubnetPlan, used: Set<bigint>): bigint {
  const { subnet } = plan;
  const { first, end } = bounds(plan);
  for (let v = end, i = 0; v >= first && i < 1_000_000; v--, i++) if (!used.has(v) && !plan.reserved.has(v)) return v;
  throw exhausted(subnet);
}

/** Checks a requested static address: inside the subnet (and the range, when one is set), not reserved. */
export function checkStatic(plan: SubnetPlan, address: string): bigint {
  const v = parseIp(address);
  if (!v || v.family !== plan.subnet.family) throw invalid(`invalid IPv${plan.subnet.family} address: ${address}`);
  if (!contains(plan.subnet, v.value)) throw invalid(`no configured subnet or ip-range contain the IP address ${address}`);
  if (v.value === plan.subnet.base || (plan.subnet.family === 4 && v.value === last(plan.subnet)))
    throw invalid(`invalid address ${address}: the network and broadcast addresses of ${cidrText(plan.subnet)} cannot be given to a container`);
  if (plan.reserved.has(v.value)) throw invalid(`Address already in use: ${address} is reserved (the gateway or an auxiliary address)`);
  return v.value;
}

/** Docker's MAC from an IPv4 address: 02:42 and the address's four bytes. */
export function macFromIp(v4: bigint): string {
  const b = [0x02, 0x42, Number((v4 >> 24n) & 0xffn), Number((v4 >> 16n) & 0xffn), Number((v4 >> 8n) & 0xffn), Number(v4 & 0xffn)];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
