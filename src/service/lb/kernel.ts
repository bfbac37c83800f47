/**
 * KernelBalancer: the LoadBalancer (balancer.ts) made of kernel NAT rules;
 * no proxy process is in any path, and nothing rewrites a client's source.
 *
 * - Ingress ports: host ports held by pierd's sockets (as published container
 *   ports are) and a round-robin DNAT cascade per port in the daemon's own
 *   DNAT chain (network/bridge/firewall.ts); no backend → refused at once.
 * - VIPs: an address per service and network from the network's IPAM (held
 *   so no container gets it; from the top of the range), balanced by a DNAT
 *   cascade in the `nat OUTPUT` of every container namespace on that network
 *   (rules.ts). A namespace gets its rules when its container joins, before
 *   the container's process starts; a change of backends is written to every
 *   namespace it concerns, at most LIMIT at once, and only where the rule
 *   text changed.
 * - DNS: `<name>` and `tasks.<name>` for the embedded DNS server.
 *
 * The balancer keeps no state a restart would lose beyond what the ClusterStore
 * has: the controller hands back a service's VIPs and automatic ports
 * (`previous`), and rules are rewritten from `apply`. Namespaces it has not
 * written since it started are looked at once (iptables-save) for our jumps.
 *
 * Round-robin, not least-connections: the nat table only sees a connection's
 * first packet and keeps no count of open connections per rule; the nth
 * cascade spreads new connections evenly at no cost per packet.
 *
 *   const lb = new KernelBalancer(host, networks, log);
 *   const ports = await lb.reservePorts(s.ID, spec.Ports);
 *   const vips = await lb.allocateVips(s.ID, networkIds);
 *   await lb.apply([{ id: s.ID, name, mode: 'vip', ports, vips, networks: networkIds, backends }]);
 */
import { existsSync } from 'node:fs';
import { conflict, EngineError, invalid, isKind, messageOf, notFound } from '../../base/errdefs.js';
import { Coalesced } from '../../base/coalesce.js';
import { KeyedLock } from '../../base/keyed-lock.js';
import type { Host } from '../../base/host.js';
import type { Logger } from '../../base/log.js';
import type { PortConfig } from '../types.js';
import type { BalancedService, BalancerNetworks, LoadBalancer, NetnsMember } from './balancer.js';
import { ingressPorts, NETNS_CHAIN, renderNetns, serviceNames, vipsFor } from './rules.js';

/** swarm's range for published ports left to it (PublishedPort 0). */
export const AUTO_PORTS: [number, number] = [30000, 32767];
/** Namespaces written at once. */
const LIMIT = 8;

interface HeldPort {
  proto: 'tcp' | 'udp';
  port: number;
  target: number;
  /** Chosen by the balancer (the spec's PublishedPort was 0). */
  auto: boolean;
}

interface Member {
  containerId: string;
  networks: string[];
  /** Whether our OUTPUT jumps are there; undefined = not known (look first). */
  jumps?: { nat: boolean; filter: boolean };
  /** The rule text last written (without jumps). */
  written?: string;
}

export class KernelBalancer implements LoadBalancer {
  private desired: BalancedService[] = [];
  /** service ID → its ingress host ports, by "proto/port". */
  private readonly ports = new Map<string, Map<string, HeldPort>>();
  /** service ID → network ID → VIP. */
  private readonly vips = new Map<string, Map<string, string>>();
  /** netns path → member. */
  private readonly members = new Map<string, Member>();
  private seeded = false;
  /** Per namespace path: writes one at a time, so that two never overlap. */
  private readonly locks = new KeyedLock();
  private readonly passes = new Coalesced(() => this.pass());
  private closed = false;
  private warnedNoIptables = false;

  constructor(
    private readonly host: Host,
    private readonly net: BalancerNetworks,
    private readonly log: Logger,
  ) {
    net.watchMembers((m) => this.member(m));
  }

  // ---- ports -----------------------------------------------------------------------------------

  async reservePorts(serviceId: string, ports: PortConfig[], previous: PortConfig[] = []): Promise<PortConfig[]> {
    const seen = new Set<string>();
    for (const p of ports) {
      const proto = p.Protocol ?? 'tcp';
      if (proto !== 'tcp' && proto !== 'udp') throw invalid(`publishing ${proto} ports is not supported by Pier: use tcp or udp`);
      if (!Number.isInteger(p.TargetPort) || p.TargetPort < 1 || p.TargetPort > 65535) throw invalid(`invalid target port ${p.TargetPort}: use 1 to 65535`);
      const pub = p.PublishedPort ?? 0;
      if (!Number.isInteger(pub) || pub < 0 || pub > 65535) throw invalid(`invalid published port ${pub}: use 1 to 65535, or 0 for one of ${AUTO_PORTS.join('-')}`);
      if (pub && p.PublishMode !== 'host') {
        if (seen.has(`${proto}/${pub}`)) throw invalid(`duplicate published ports provided: ${pub}/${proto}`);
        seen.add(`${proto}/${pub}`);
      }
    }
    const held = this.ports.get(serviceId) ?? new Map<string, HeldPort>();
    const next = new Map<string, HeldPort>();
    const added: HeldPort[] = [];
    const out: PortConfig[] = ports.map((p) => ({ ...p }));
    const take = async (proto: 'tcp' | 'udp', range: [number, number], target: number, auto: boolean): Promise<HeldPort> => {
      let port: number;
      try {
        port = await this.net.bindHostPort(proto, range, `service ${this.nameOf(serviceId)}`);
      } catch (e) {
        if (!isKind(e, 'conflict')) throw e;
        throw range[0] === range[1]
          ? conflict(`port '${range[0]}' is already in use on this host (by a container or another program): choose another published port`, e)
          : conflict(`no free port in ${range[0]}-${range[1]} to publish ${proto}: release some, or choose published ports`, e);
      }
      const h = { proto, port, target, auto };
      added.push(h);
      return h;
    };
    try {
      // Chosen ports first, so that an automatic one never takes a port the spec names.
      for (const [i, p] of ports.entries()) {
        if (p.PublishMode === 'host' || !p.PublishedPort) continue;
        const proto = (p.Protocol ?? 'tcp') as 'tcp' | 'udp';
        const key = `${proto}/${p.PublishedPort}`;
        let h = held.get(key);
        if (!h) {
          const owner = this.holderOf(key, serviceId);
          if (owner) throw conflict(`port '${p.PublishedPort}' is already in use by service '${this.nameOf(owner)}' (${owner}) as an ingress port`);
          h = await take(proto, [p.PublishedPort, p.PublishedPort], p.TargetPort, false);
        }
        next.set(key, { ...h, target: p.TargetPort, auto: false });
        out[i] = { ...p, Protocol: proto, PublishMode: 'ingress' };
      }
      for (const [i, p] of ports.entries()) {
        if (p.PublishMode === 'host' || p.PublishedPort) continue;
        const proto = (p.Protocol ?? 'tcp') as 'tcp' | 'udp';
        // The port this target had: held now, or (after a restart) in the service's Endpoint.Ports.
        const free = (port: number) => !next.has(`${proto}/${port}`);
        // (A port taken again after a restart was named by the caller, so not `auto`: it is reused all the same.)
        let h = [...held.values()].find((x) => x.auto && x.proto === proto && x.target === p.TargetPort && free(x.port))
          ?? [...held.values()].find((x) => x.proto === proto && x.target === p.TargetPort && free(x.port));
        if (!h) {
          const prev = previous.find((q) => (q.Protocol ?? 'tcp') === proto && q.TargetPort === p.TargetPort && q.PublishedPort && free(q.PublishedPort));
          if (prev?.PublishedPort && !this.holderOf(`${proto}/${prev.PublishedPort}`, serviceId))
            h = await take(proto, [prev.PublishedPort, prev.PublishedPort], p.TargetPort, true).catch(() => undefined);
          h ??= await take(proto, AUTO_PORTS, p.TargetPort, true);
        }
        next.set(`${proto}/${h.port}`, h);
        out[i] = { ...p, Protocol: proto, PublishedPort: h.port, PublishMode: 'ingress' };
      }
    } catch (e) {
      for (const h of added) this.net.releaseHostPort(h.proto, h.port);
      throw e;
    }
    const dropped = [...held].filter(([key]) => !next.has(key)).map(([, h]) => h);
    if (next.size) this.ports.set(serviceId, next);
    else this.ports.delete(serviceId);
    if (dropped.length) {
      // Rules first, sockets after, as in releasePorts.
      await this.schedule().catch((e: unknown) => this.log.warn({ service: serviceId, err: e }, 'removing a service\'s port rules'));
      for (const h of dropped) this.net.releaseHostPort(h.proto, h.port);
    }
    return out;
  }

  async releasePorts(serviceId: string): Promise<void> {
    const held = this.ports.get(serviceId);
    if (!held) return;
    this.ports.delete(serviceId);
    // Rules first, sockets after: a port is never forwarded while nothing holds it.
    await this.schedule().catch((e: unknown) => this.log.warn({ service: serviceId, err: e }, 'removing a service\'s port rules'));
    for (const h of held.values()) this.net.releaseHostPort(h.proto, h.port);
  }

  private holderOf(key: string, except: string): string | undefined {
    for (const [id, m] of this.ports) if (id !== except && m.has(key)) return id;
    return undefined;
  }

  private nameOf(serviceId: string): string {
    return this.desired.find((s) => s.id === serviceId)?.name ?? serviceId;
  }

  // ---- VIPs ------------------------------------------------------------------------------------

  async allocateVips(serviceId: string, networkIds: string[], previous: Record<string, string> = {}): Promise<Record<string, string>> {
    const held = this.vips.get(serviceId) ?? new Map<string, string>();
    const next = new Map<string, string>();
    const added: string[] = [];
    try {
      for (const ref of networkIds) {
        const info = this.net.networkInfo(ref);
        if (!info) throw notFound(`network ${ref} not found`);
        if (next.has(info.id)) continue;
        const had = held.get(info.id);
        const addr = had ?? this.net.reserveAddress(info.id, serviceId, previous[info.id] ?? previous[ref]);
        if (!had) added.push(info.id);
        next.set(info.id, addr.split('/')[0]!);
      }
    } catch (e) {
      for (const n of added) this.net.releaseAddress(n, serviceId);
      throw e;
    }
    const dropped = [...held.keys()].filter((n) => !next.has(n));
    this.vips.set(serviceId, next);
    if (dropped.length) {
      await this.schedule().catch((e: unknown) => this.log.warn({ service: serviceId, err: e }, 'removing a service\'s VIP rules'));
      for (const n of dropped) this.net.releaseAddress(n, serviceId);
    }
    // As swarm shows them (Endpoint.VirtualIPs): with the network's prefix length.
    return Object.fromEntries([...next].map(([id, ip]) => [id, `${ip}/${this.net.networkInfo(id)?.prefix ?? 32}`]));
  }

  async releaseVips(serviceId: string): Promise<void> {
    const held = this.vips.get(serviceId);
    if (!held) return;
    this.vips.delete(serviceId);
    await this.schedule().catch((e: unknown) => this.log.warn({ service: serviceId, err: e }, 'removing a service\'s VIP rules'));
    for (const n of held.keys()) this.net.releaseAddress(n, serviceId);
  }

  // ---- apply -----------------------------------------------------------------------------------

  apply(services: BalancedService[]): Promise<void> {
    this.desired = services;
    return this.schedule();
  }

  /** Resolves once a pass that started after this call is done; calls meanwhile share the next pass. */
  private schedule(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.passes.request();
  }

  /**
   * The desired services as far as this balancer holds their resources:
   * only ports it holds for the service and VIPs it allocated count, so a
   * stale or early apply never forwards a port nobody holds.
   */
  private effective(): BalancedService[] {
    return this.desired.map((s) => {
      const ports = this.ports.get(s.id);
      const vips = this.vips.get(s.id);
      return {
        ...s,
        ports: s.ports.filter((p) => p.PublishMode !== 'host' && p.PublishedPort && ports?.has(`${p.Protocol ?? 'tcp'}/${p.PublishedPort}`)),
        vips: Object.fromEntries(Object.entries(s.vips).filter(([n, a]) => vips?.get(n) === a.split('/')[0]).map(([n, a]) => [n, a.split('/')[0]!])),
      };
    });
  }

  private async pass(): Promise<void> {
    const started = process.hrtime.bigint();
    const eff = this.effective();
    this.net.setServiceNames(serviceNames(eff));
    if (!this.net.iptables) {
      if (!this.warnedNoIptables && eff.some((s) => s.ports.length || Object.keys(s.vips).length)) {
        this.log.warn('iptables is disabled (--iptables=false): services\' published ports and virtual IPs do not balance; their names resolve');
        this.warnedNoIptables = true;
      }
      return;
    }
    if (!this.seeded) {
      // Containers that kept running through a restart: their namespaces may hold our rules already.
      for (const m of this.net.members()) if (!this.members.has(m.netns)) this.members.set(m.netns, { containerId: m.containerId, networks: m.networks });
      this.seeded = true;
    }
    const errors: unknown[] = [];
    await this.net.publishServicePorts(ingressPorts(eff, (n) => this.net.networkInfo(n)?.internal === false)).catch((e: unknown) => errors.push(e));
    const paths = [...this.members.keys()];
    let written = 0;
    await eachLimited(paths, LIMIT, async (p) => {
      try {
        if (await this.writeNetns(p)) written++;
      } catch (e) {
        errors.push(e);
      }
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    this.log.debug({ namespaces: paths.length, written, ms: Math.round(ms * 10) / 10 }, 'balancer rules applied');
    if (errors.length) throw new EngineError('internal', `load balancer rules: ${errors.map(messageOf).join('; ')}`, { cause: errors[0] });
  }

  /** A container's namespace joined or left networks (NetworkService.setUp, connect, disconnect, tearDown). */
  private async member(m: NetnsMember): Promise<void> {
    if (!m.networks.length) {
      this.members.delete(m.netns);
      return;
    }
    const old = this.members.get(m.netns);
    this.members.set(m.netns, m.fresh
      ? { containerId: m.containerId, networks: m.networks, jumps: { nat: false, filter: false } }
      : { ...old, containerId: m.containerId, networks: m.networks });
    if (this.net.iptables && !this.closed) await this.writeNetns(m.netns);
  }

  /** Brings one namespace's rules to the current state; true when it wrote. */
  private writeNetns(path: string): Promise<boolean> {
    return this.locks.run(path, async () => {
      const m = this.members.get(path);
      if (!m) return false;
      const vips = vipsFor(m.networks, this.effective());
      const text = renderNetns(vips);
      if (m.written === text) return false;
      // Not known (a namespace from before this daemon started): look once, so stale rules go too.
      if (!m.jumps) {
        m.jumps = await this.jumpsIn(path);
        if (!m.jumps) return false;
      }
      if (!vips.length && !m.jumps.nat && !m.jumps.filter) return false;
      const input = renderNetns(vips, { nat: !m.jumps.nat, filter: !m.jumps.filter });
      try {
        await this.host.run('nsenter', [`--net=${path}`, 'iptables-restore', '-w', '--noflush'], { input });
      } catch (e) {
        if (!existsSync(path) || this.members.get(path) !== m) return false; // the container went meanwhile
        throw new EngineError('internal', `writing the service rules of container ${m.containerId.slice(0, 12)}: ${messageOf(e)}`, { cause: e });
      }
      m.jumps = { nat: true, filter: true };
      m.written = text;
      return true;
    });
  }

  /** Which of our OUTPUT jumps a namespace has; undefined when it is gone. */
  private async jumpsIn(path: string): Promise<{ nat: boolean; filter: boolean } | undefined> {
    const r = await this.host.run('nsenter', [`--net=${path}`, 'iptables-save'], { allowFail: true });
    if (r.code !== 0) {
      if (!existsSync(path)) return undefined;
      throw new EngineError('internal', `reading the rules of namespace ${path}: ${r.stderr.trim()}`);
    }
    let table = '';
    const has = { nat: false, filter: false };
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1).trim();
      else if (line === `-A OUTPUT -j ${NETNS_CHAIN}` && (table === 'nat' || table === 'filter')) has[table] = true;
    }
    return has;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.passes.settled();
    await this.locks.idle();
  }
}

async function eachLimited<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
