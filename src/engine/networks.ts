/**
 * Networks: the `/networks` API backend, and what a container's start and
 * exit do to its network.
 *
 * A network is a record (store.ts) made real by a driver (network/bridge/):
 * the predefined `bridge` (Pier's docker0: pier0 by default), `host` and
 * `none`, and user-defined bridge networks, each with its own subnet and
 * bridge interface. A container on bridge networks gets a network namespace
 * of its own before runc starts it (network/netns.ts), one interface per
 * network with addresses chosen here (network/ipam.ts), its published ports
 * (network/ports.ts + the firewall's DNAT rules), and, on user-defined
 * networks, the embedded DNS server at 127.0.0.11 (network/dns/) that resolves
 * the other containers by name, alias and short ID.
 *
 * What a container was given lives on its record (`networks[name].endpoint`,
 * `ports`, `netns`), so a restarted daemon knows every address in use, re-takes
 * the ports of containers that kept running, and cleans up after those that
 * did not (reconcile at start).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { hostResolvConf } from '../base/resolv-conf.js';
import { join } from 'node:path';
import { conflict, EngineError, invalid, notFound, notImplemented } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import type { EventBus } from './events.js';
import { parseTimestamp } from './images.js';
import { matchKVList, pruneLabelsMatch, type Filters } from './filters.js';
import type { ContainerStore } from './containers/store.js';
import type { ContainerRecord } from './containers/record.js';
import type { HostConfig } from '../runtime/container-config.js';
import type { NetworkStore } from '../network/store.js';
import type { NetworkDriver, DriverNetwork } from '../network/driver.js';
import type { Firewall, FirewallNetwork, FirewallPort, FirewallServicePort } from '../network/bridge/firewall.js';
import { PortReservations, portMapView, portRequests } from '../network/ports.js';
import { createNetns, removeNetns } from '../network/netns.js';
import {
  checkStatic, cidrText, DEFAULT_BRIDGE_CIDR, formatIp, highestFree, hostRoutes, macFromIp, nextFree, overlaps, parseCidr, parseIp, pickSubnet, planPool,
  type AddressPool, type Cidr, type SubnetPlan,
} from '../network/ipam.js';
import type { ContainerNetwork, Endpoint, EndpointConfig, IpamPool, NetworkCreateRequest, NetworkRecord, PortMap } from '../network/types.js';
import type { DnsScope } from '../network/dns/server.js';
import type { BalancerNetworks, NetnsMember, ServiceNames } from '../service/lb/balancer.js';

/** The part of the embedded DNS server the engine uses. */
export interface Dns {
  attach(containerId: string, netnsPath: string, scope: DnsScope): Promise<void>;
  detach(containerId: string): void;
  close(): void;
}

export interface NetworkServiceOptions {
  execRoot: string;
  /** The default bridge's interface name (dockerd's --bridge); it also names this daemon's iptables chains. */
  defaultBridge: string;
  /** The default bridge's address and prefix (dockerd's --bip), e.g. 10.88.0.1/16; chosen from the free space when unset. */
  bip?: string;
  pools: AddressPool[];
  /** Daemon-wide DNS servers for containers (dockerd's --dns). */
  dns: string[];
}

const DEFAULT_BRIDGE_OPTS = (bridge: string) => ({
  'com.docker.network.bridge.default_bridge': 'true',
  'com.docker.network.bridge.enable_icc': 'true',
  'com.docker.network.bridge.enable_ip_masquerade': 'true',
  'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
  'com.docker.network.bridge.name': bridge,
  'com.docker.network.driver.mtu': '1500',
});
const BRIDGE_NAME_OPT = 'com.docker.network.bridge.name';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class NetworkService implements BalancerNetworks {
  readonly ports = new PortReservations();
  /** Last address handed out per network: allocation goes on from there. */
  private readonly cursor = new Map<string, bigint>();
  /** Addresses held for services' VIPs: network ID → owner → address (the ClusterStore keeps them across restarts). */
  private readonly reserved = new Map<string, Map<string, string>>();
  private servicePorts: FirewallServicePort[] = [];
  private serviceNames: ServiceNames = new Map();
  private memberWatch?: (m: NetnsMember) => Promise<void>;

  constructor(
    readonly store: NetworkStore,
    private readonly containers: ContainerStore,
    private readonly driver: NetworkDriver,
    readonly firewall: Firewall,
    private readonly dns: Dns,
    private readonly events: EventBus,
    private readonly log: Logger,
    readonly o: NetworkServiceOptions,
  ) {}

  // ---- daemon start / stop -------------------------------------------------------------------

  /** The predefined networks, every bridge, and the firewall, as the records say; leftovers swept. */
  async init(): Promise<void> {
    this.ensurePredefined();
    for (const n of this.store.all()) {
      if (n.driver !== 'bridge') continue;
      try {
        await this.driver.create(this.driverNet(n));
      } catch (e) {
        this.log.error({ network: n.name, err: e }, 'could not set up a network\'s bridge');
      }
    }
    await this.firewall.sync();
  }

  private ensurePredefined(): void {
    const bridge = this.store.byName('bridge');
    const want = this.o.bip ? parseCidr(this.o.bip) : undefined;
    if (this.o.bip && !want) throw invalid(`invalid --bip ${this.o.bip}: expected an address with a prefix length, such as 10.88.0.1/16`);
    if (!bridge || bridge.bridge !== this.o.defaultBridge || (this.o.bip && bridge.ipam.Config[0]?.Gateway !== this.o.bip.split('/')[0])) {
      let pool: IpamPool;
      if (this.o.bip) {
        pool = { Subnet: cidrText(want!), Gateway: this.o.bip.split('/')[0]! };
        const clash = this.takenSubnets(bridge?.id).find((t) => overlaps(t, want!));
        if (clash) this.log.warn({ bip: this.o.bip, overlaps: cidrText(clash) }, 'the default bridge\'s --bip overlaps a route of this host or another network: traffic to it may go elsewhere');
      } else {
        const taken = this.takenSubnets(bridge?.id);
        const preferred = parseCidr(DEFAULT_BRIDGE_CIDR)!;
        const c = taken.some((t) => overlaps(t, preferred)) ? pickSubnet(this.o.pools, taken) : preferred;
        pool = { Subnet: cidrText(c), Gateway: formatIp(4, c.base + 1n) };
      }
      this.store.save({
        id: bridge?.id ?? newId(), name: 'bridge', driver: 'bridge', created: bridge?.created ?? new Date().toISOString(),
        internal: false, attachable: false, enableIPv6: false, predefined: true,
        ipam: { Driver: 'default', Options: null, Config: [pool] },
        options: DEFAULT_BRIDGE_OPTS(this.o.defaultBridge), labels: {}, bridge: this.o.defaultBridge,
      });
    }
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const)
      if (!this.store.byName(name))
        this.store.save({
          id: newId(), name, driver, created: new Date().toISOString(), internal: false, attachable: false, enableIPv6: false, predefined: true,
          ipam: { Driver: 'default', Options: null, Config: [] }, options: {}, labels: {},
        });
  }

  /** Removes network namespaces that no running container owns (a daemon killed mid-start). */
  async sweep(): Promise<void> {
    const dir = join(this.o.execRoot, 'netns');
    const owned = new Set(this.containers.all().map((c) => c.netns).filter(Boolean));
    for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
      const p = join(dir, f);
      if (!owned.has(p)) await removeNetns(p).catch(() => undefined);
    }
  }

  /**
   * Daemon shutdown. With containers still running (live restore) their
   * networks stay as they are; otherwise every bridge and rule of this daemon
   * goes, to be made again at the next start.
   */
  async shutdown(): Promise<void> {
    this.dns.close();
    this.ports.closeAll();
    if (this.containers.all().some((c) => c.netns)) return;
    for (const n of this.store.all()) if (n.driver === 'bridge') await this.driver.destroy(this.driverNet(n)).catch(() => undefined);
    await this.firewall.teardown().catch((e: unknown) => this.log.warn({ err: e }, 'removing firewall rules'));
  }

  // ---- the API -------------------------------------------------------------------------------

  list(f: Filters): object[] {
    f.validate(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    const dangling = f.bool('dangling');
    const out = this.store.all().filter((n) => {
      if (f.get('driver').length && !f.get('driver').includes(n.driver)) return false;
      if (f.get('id').length && !f.get('id').some((p) => n.id.startsWith(p))) return false;
      if (f.get('name').length && !f.get('name').some((p) => n.name.includes(p))) return false;
      if (f.get('scope').length && !f.get('scope').includes('local')) return false;
      if (f.get('type').length && !f.get('type').includes(n.predefined ? 'builtin' : 'custom')) return false;
      if (!matchKVList(f.get('label'), n.labels)) return false;
      if (dangling !== undefined && dangling !== (!n.predefined && this.endpointsOf(n).length === 0)) return false;
      return true;
    });
    for (const t of f.get('type')) if (t !== 'builtin' && t !== 'custom') throw invalid(`invalid filter: 'type'='${t}'`);
    return out.map((n) => this.view(n, false));
  }

  inspect(ref: string): object {
    return this.view(this.store.find(ref), true);
  }

  private view(n: NetworkRecord, withContainers: boolean): object {
    const containers: Record<string, object> = {};
    if (withContainers)
      for (const { c, ep } of this.endpointsOf(n))
        containers[c.id] = {
          Name: c.name, EndpointID: ep.endpointId, MacAddress: ep.mac,
          IPv4Address: ep.ipv4 ? `${ep.ipv4}/${ep.prefixLen}` : '', IPv6Address: ep.ipv6 ? `${ep.ipv6}/${ep.prefixLen6}` : '',
        };
    return {
      Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: n.driver, EnableIPv4: n.driver === 'bridge', EnableIPv6: n.enableIPv6,
      IPAM: n.ipam, Internal: n.internal, Attachable: n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
      Containers: containers, Options: n.options, Labels: n.labels,
    };
  }

  async create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (!name) throw invalid('network name cannot be empty');
    if (!NAME_RE.test(name)) throw invalid(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (this.store.byName(name)) throw conflict(`network with name ${name} already exists`);
    const driver = req.Driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new EngineError('forbidden', `only one instance of "${driver}" network is allowed`);
    if (driver === 'macvlan' || driver === 'ipvlan' || driver === 'overlay') throw notImplemented(`the ${driver} network driver is not supported by Pier yet: use bridge`);
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    if (req.Scope && req.Scope !== 'local') throw invalid(`scope ${req.Scope} is not supported: Pier's networks are local`);
    if (req.Ingress) throw invalid('ingress networks exist only in swarm mode');
    if (req.ConfigOnly || req.ConfigFrom?.Network) throw notImplemented('config-only networks are not supported by Pier yet');
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw notFound(`plugin "${req.IPAM.Driver}" not found`);
    if (req.EnableIPv4 === false) throw invalid('IPv4 cannot be disabled on a bridge network in Pier');
    const options = { ...(req.Options ?? {}) };
    const id = newId();
    const bridge = options[BRIDGE_NAME_OPT] || `br-${id.slice(0, 12)}`;
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw invalid(`invalid bridge name "${bridge}": at most 15 letters, digits, '_', '.' or '-'`);
    if (this.store.all().some((n) => n.bridge === bridge) || (options[BRIDGE_NAME_OPT] && existsSync(`/sys/class/net/${bridge}`)))
      throw conflict(`bridge name ${bridge} is already in use on this host: choose another com.docker.network.bridge.name`);
    const mtu = options['com.docker.network.driver.mtu'];
    if (mtu !== undefined && !(Number.isInteger(Number(mtu)) && Number(mtu) >= 68 && Number(mtu) <= 65535)) throw invalid(`invalid MTU ${mtu}: use 68 to 65535`);
    const pools = this.planPools(req.IPAM?.Config ?? [], !!req.EnableIPv6);
    const n: NetworkRecord = {
      id, name, driver: 'bridge', created: new Date().toISOString(), internal: !!req.Internal, attachable: !!req.Attachable,
      enableIPv6: !!req.EnableIPv6 || pools.some((p) => p.Subnet.includes(':')),
      ipam: { Driver: 'default', Options: req.IPAM?.Options ?? {}, Config: pools }, options, labels: req.Labels ?? {}, bridge,
    };
    try {
      await this.driver.create(this.driverNet(n));
      this.store.save(n);
      await this.firewall.sync();
    } catch (e) {
      this.store.remove(n.id);
      await this.driver.destroy(this.driverNet(n)).catch(() => undefined);
      await this.firewall.sync().catch(() => undefined);
      throw e;
    }
    this.events.emit('network', 'create', n.id, { name: n.name, type: n.driver });
    return { Id: id, Warning: '' };
  }

  /** The request's pools checked, gateways filled in, and an IPv4 subnet chosen when none was given. */
  private planPools(config: IpamPool[], ipv6: boolean): IpamPool[] {
    const out: IpamPool[] = [];
    const taken = this.takenSubnets();
    for (const p of config) {
      if (!p.Subnet) {
        if (p.Gateway || p.IPRange) throw invalid('an ip-range or a gateway needs a subnet: use --subnet with it');
        continue;
      }
      const { plan, pool } = planPool(p);
      if (out.some((o) => parseCidr(o.Subnet)!.family === plan.subnet.family))
        throw invalid(`a bridge network has at most one IPv${plan.subnet.family} subnet: ${p.Subnet} is one too many`);
      const clash = taken.find((t) => overlaps(t, plan.subnet));
      if (clash) throw new EngineError('forbidden', `Pool overlaps with other one on this address space: ${pool.Subnet} overlaps ${cidrText(clash)} (another network or a route of this host); choose another --subnet`);
      out.push(pool);
    }
    if (!out.some((p) => !p.Subnet.includes(':'))) {
      const c = pickSubnet(this.o.pools, taken);
      out.unshift({ Subnet: cidrText(c), Gateway: formatIp(4, c.base + 1n) });
    }
    if (ipv6 && !out.some((p) => p.Subnet.includes(':'))) {
      // A unique local /64 of its own (RFC 4193: fd00::/8 with 40 random bits).
      const r = randomBytes(7).toString('hex');
      const subnet = `fd${r.slice(0, 2)}:${r.slice(2, 6)}:${r.slice(6, 10)}:${r.slice(10, 14)}::/64`;
      out.push(planPool({ Subnet: subnet }).pool);
    }
    return out;
  }

  /** Subnets in use: every network's, and the host's routes that are not on our own bridges. */
  private takenSubnets(except?: string): Cidr[] {
    const ours = new Set(this.store.all().map((n) => n.bridge).filter(Boolean));
    const taken: Cidr[] = hostRoutes().filter((r) => !ours.has(r.dev));
    for (const n of this.store.all()) {
      if (n.id === except) continue;
      for (const p of n.ipam.Config) {
        const c = parseCidr(p.Subnet);
        if (c) taken.push(c);
      }
    }
    return taken;
  }

  async remove(ref: string): Promise<void> {
    const n = this.store.find(ref);
    if (n.predefined) throw new EngineError('forbidden', `${n.name} is a pre-defined network and cannot be removed`);
    const active = this.endpointsOf(n);
    if (active.length) throw conflict(`error while removing network: network ${n.name} id ${n.id} has active endpoints (${active.map((a) => a.c.name).join(', ')}): stop or disconnect them first`);
    const users = [...(this.reserved.get(n.id)?.keys() ?? [])];
    if (users.length) throw conflict(`network ${n.name} is in use by service ${users.join(', ')}: remove the service or its attachment first`);
    this.store.remove(n.id);
    this.cursor.delete(n.id);
    await this.driver.destroy(this.driverNet(n));
    await this.firewall.sync();
    this.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  async prune(f: Filters): Promise<{ NetworksDeleted: string[] }> {
    f.validate(['label', 'label!', 'until']);
    const until = f.get('until').map(untilTime);
    const deleted: string[] = [];
    for (const n of this.store.all()) {
      if (n.predefined || this.endpointsOf(n).length) continue;
      if (until.length && !until.every((t) => Date.parse(n.created) < t)) continue;
      if (!pruneLabelsMatch(f, n.labels)) continue;
      await this.remove(n.id);
      deleted.push(n.name);
    }
    return { NetworksDeleted: deleted };
  }

  async connect(ref: string, req: { Container?: string; EndpointConfig?: EndpointConfig | null }): Promise<void> {
    const n = this.store.find(ref);
    const c = this.containers.find(req.Container ?? '');
    const mode = c.hostConfig.NetworkMode ?? 'bridge';
    if (n.driver !== 'bridge') throw new EngineError('forbidden', `container cannot be disconnected from host network or connected to host network`);
    if (mode === 'host' || mode.startsWith('container:')) throw new EngineError('forbidden', 'container sharing network namespace with another container or host cannot be connected to any other network');
    if (mode === 'none') throw new EngineError('forbidden', 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
    c.networks ??= {};
    if (Object.values(c.networks).some((x) => x.networkId === n.id)) throw new EngineError('forbidden', `endpoint with name ${c.name} already exists in network ${n.name}`);
    const cfg = req.EndpointConfig ?? {};
    this.checkEndpointConfig(n, cfg);
    c.networks[n.name] = { networkId: n.id, config: userPart(cfg) };
    try {
      if (c.netns) await this.join(c, n.name, c.networks[n.name]!, Object.keys(c.networks).length - 1);
    } catch (e) {
      delete c.networks[n.name];
      this.containers.save(c);
      throw e;
    }
    this.containers.save(c);
    if (c.netns) await this.tellMembers(c, false).catch((e: unknown) => this.log.warn({ id: c.id, err: e }, 'service addresses in a connected container'));
    this.events.emit('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
  }

  async disconnect(ref: string, req: { Container?: string; Force?: boolean }): Promise<void> {
    const n = this.store.find(ref);
    const c = this.containers.find(req.Container ?? '');
    const entry = Object.entries(c.networks ?? {}).find(([, x]) => x.networkId === n.id);
    if (!entry) throw new EngineError('forbidden', `container ${c.id} is not connected to network ${n.name}`);
    if (n.driver !== 'bridge') throw new EngineError('forbidden', 'container cannot be disconnected from host network or connected to host network');
    const [name, cn] = entry;
    if (cn.endpoint) await this.leave(c, n, cn, !!req.Force);
    delete c.networks![name];
    this.containers.save(c);
    if (c.netns) await this.tellMembers(c, false).catch((e: unknown) => this.log.warn({ id: c.id, err: e }, 'service addresses in a disconnected container'));
    this.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
  }

  // ---- containers ----------------------------------------------------------------------------

  /**
   * At container create: the networks it will join (NetworkMode and, for API
   * 1.44+, every entry of NetworkingConfig), checked like Docker checks them.
   */
  networksFor(hc: HostConfig, endpoints: Record<string, EndpointConfig | null> | undefined, exposed: Record<string, unknown> | undefined): Record<string, ContainerNetwork> {
    const mode = !hc.NetworkMode || hc.NetworkMode === 'default' ? 'bridge' : hc.NetworkMode;
    portRequests(hc.PortBindings as PortMap | undefined, exposed, !!hc.PublishAllPorts); // refuses bad specifications now, not at start
    if (mode.startsWith('container:')) return {};
    const primary = this.store.find(mode);
    const out: Record<string, ContainerNetwork> = {};
    const add = (n: NetworkRecord, cfg: EndpointConfig | null | undefined) => {
      const c = cfg ?? {};
      this.checkEndpointConfig(n, c);
      out[n.name] = { networkId: n.id, config: userPart(c) };
    };
    const eps = endpoints ?? {};
    const isPrimary = (key: string) => key === mode || key === hc.NetworkMode || key === primary.name || key === primary.id;
    add(primary, Object.entries(eps).find(([k]) => isPrimary(k))?.[1]);
    for (const [key, cfg] of Object.entries(eps)) {
      if (isPrimary(key)) continue;
      const n = this.store.find(key);
      if (n.driver !== 'bridge' || primary.driver !== 'bridge')
        throw invalid(`Container cannot be connected to network endpoints: ${Object.keys(eps).join(', ')}: host and none networks cannot be combined with others`);
      add(n, cfg);
    }
    return out;
  }

  private checkEndpointConfig(n: NetworkRecord, cfg: EndpointConfig): void {
    const user = !n.predefined;
    if (cfg.Aliases?.length && !user) throw invalid('network-scoped alias is supported only for containers in user defined networks');
    const v4 = cfg.IPAMConfig?.IPv4Address;
    const v6 = cfg.IPAMConfig?.IPv6Address;
    if ((v4 || v6) && !user) throw invalid('user specified IP address is supported on user defined networks only');
    if (v4) checkStatic(this.plan(n, 4)!, v4);
    if (v6) {
      const p = this.plan(n, 6);
      if (!p) throw invalid(`network ${n.name} has no IPv6 subnet for ${v6}: create it with --ipv6`);
      checkStatic(p, v6);
    }
    if (cfg.MacAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(cfg.MacAddress)) throw invalid(`invalid MAC address: ${cfg.MacAddress}`);
  }

  private plan(n: NetworkRecord, family: 4 | 6): SubnetPlan | undefined {
    const pool = n.ipam.Config.find((p) => (family === 6) === p.Subnet.includes(':'));
    return pool ? planPool(pool).plan : undefined;
  }

  /** The container's network namespace path while it runs (bridge networks only). */
  netnsPath(c: ContainerRecord): string {
    return join(this.o.execRoot, 'netns', c.id.slice(0, 24));
  }

  /**
   * Before the container's process starts: its namespace, one interface per
   * network, its published ports and, on user-defined networks, the DNS
   * server. Undone completely when any part fails.
   */
  async setUp(c: ContainerRecord): Promise<{ netns?: string; ip?: string; gateway?: string; embeddedDns: boolean }> {
    const mode = c.hostConfig.NetworkMode ?? 'bridge';
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return { embeddedDns: false };
    const entries = this.ordered(c);
    if (!entries.length) return { embeddedDns: false };
    const netns = this.netnsPath(c);
    await createNetns(netns);
    c.netns = netns;
    try {
      // Each join takes its addresses before its first await, so the interfaces (a CNI exec each, made concurrently
      // as go-cni does) and the published ports (they need only the primary address) go at once; all settle before an undo.
      const primary = entries[0]![1];
      const settled = await Promise.allSettled([...entries.map(([name, cn], i) => this.join(c, name, cn, i)), this.publish(c, primary)]);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const embeddedDns = entries.some(([, cn]) => !this.store.find(cn.networkId).predefined);
      if (embeddedDns) await this.dns.attach(c.id, netns, this.scopeFor(c.id));
      // Services' virtual IPs work from the process's first instruction.
      await this.tellMembers(c, true);
      this.containers.save(c);
      return { netns, ip: primary.endpoint!.ipv4, gateway: primary.endpoint!.gateway, embeddedDns };
    } catch (e) {
      await this.tearDown(c).catch((err: unknown) => this.log.warn({ id: c.id, err }, 'undoing a failed network set-up'));
      throw e;
    }
  }

  /** The container's published ports, bound on the host and DNATed to its primary address (none on an internal network). */
  private async publish(c: ContainerRecord, primary: ContainerNetwork): Promise<void> {
    const n = this.store.get(primary.networkId);
    const requests = portRequests(c.hostConfig.PortBindings as PortMap | undefined, c.config.ExposedPorts, !!c.hostConfig.PublishAllPorts);
    if (!n || !primary.endpoint || !requests.length || n.internal) return; // no endpoint: its join failed, and says why
    c.ports = [];
    for (const r of requests) c.ports.push(await this.ports.reserve(r, bindingIp(n), `${c.name} (${primary.endpoint.endpointId})`));
    await this.firewall.sync();
  }

  /** After the container's exit (or a failed start): everything setUp made, gone; addresses and ports released. */
  async tearDown(c: ContainerRecord): Promise<void> {
    this.dns.detach(c.id);
    if (c.netns) void this.memberWatch?.({ containerId: c.id, netns: c.netns, networks: [] }).catch(() => undefined);
    const unpublished = c.ports?.length ? this.unpublish(c) : undefined;
    await Promise.all([
      unpublished,
      ...Object.values(c.networks ?? {}).map(async (cn) => {
        if (!cn.endpoint) return;
        const n = this.store.get(cn.networkId);
        if (n && c.netns) await this.driver.leave(this.driverNet(n), this.joinRequest(c, cn.endpoint, [], false)).catch((e: unknown) => this.log.warn({ id: c.id, err: e }, 'leaving a network'));
        delete cn.endpoint;
      }),
    ]);
    if (c.netns) await removeNetns(c.netns).catch(() => undefined);
    delete c.netns;
    this.containers.save(c);
  }

  /** Releases the container's host ports and drops their DNAT rules (while its interfaces go). */
  private async unpublish(c: ContainerRecord): Promise<void> {
    for (const m of c.ports ?? []) this.ports.release(m);
    delete c.ports;
    await this.firewall.sync().catch((e: unknown) => this.log.warn({ id: c.id, err: e }, 'updating firewall rules'));
  }

  /** A running container adopted after a daemon restart: its DNS and its host ports again. */
  async restore(c: ContainerRecord): Promise<void> {
    if (!c.netns || !existsSync(c.netns)) return;
    for (const m of c.ports ?? []) {
      if (!(await this.ports.readopt(m))) this.log.warn({ id: c.id, port: m }, 'a published port of a running container is now held by another program');
    }
    if (Object.values(c.networks ?? {}).some((cn) => cn.endpoint && !this.store.get(cn.networkId)?.predefined))
      await this.dns.attach(c.id, c.netns, this.scopeFor(c.id)).catch((e: unknown) => this.log.warn({ id: c.id, err: e }, 'DNS for a restored container'));
  }

  /** Networks in order: the NetworkMode one first (its gateway is the default route). */
  private ordered(c: ContainerRecord): [string, ContainerNetwork][] {
    const mode = c.hostConfig.NetworkMode ?? 'bridge';
    const all = Object.entries(c.networks ?? {});
    return [...all.filter(([name, cn]) => name === mode || cn.networkId === mode), ...all.filter(([name, cn]) => !(name === mode || cn.networkId === mode))];
  }

  private async join(c: ContainerRecord, name: string, cn: ContainerNetwork, index: number): Promise<void> {
    let n: NetworkRecord;
    try {
      n = this.store.find(cn.networkId);
    } catch {
      throw notFound(`network ${name} not found: it was removed; disconnect the container from it (docker network disconnect) or create it again`);
    }
    const ep = this.allocate(c, n, cn, index);
    cn.endpoint = ep; // visible to the next allocation before the first await
    const addrs = [{ cidr: `${ep.ipv4}/${ep.prefixLen}`, gateway: ep.gateway }];
    if (ep.ipv6) addrs.push({ cidr: `${ep.ipv6}/${ep.prefixLen6}`, gateway: ep.gateway6 });
    try {
      const r = await this.driver.join(this.driverNet(n), this.joinRequest(c, ep, addrs, index === 0));
      if (r.mac) ep.mac = r.mac;
    } catch (e) {
      delete cn.endpoint;
      throw e;
    }
  }

  private async leave(c: ContainerRecord, n: NetworkRecord, cn: ContainerNetwork, force: boolean): Promise<void> {
    try {
      await this.driver.leave(this.driverNet(n), this.joinRequest(c, cn.endpoint!, [], false));
    } catch (e) {
      if (!force) throw e;
    }
    delete cn.endpoint;
  }

  private joinRequest(c: ContainerRecord, ep: Endpoint, addresses: { cidr: string; gateway: string }[], defaultRoute: boolean) {
    return { containerId: c.id, netns: c.netns ?? '', ifname: ep.ifname, mac: ep.mac, addresses, defaultRoute };
  }

  /** The addresses for one endpoint: the static ones asked for, else the next free. */
  private allocate(c: ContainerRecord, n: NetworkRecord, cn: ContainerNetwork, index: number): Endpoint {
    const used4 = new Set<bigint>();
    const used6 = new Set<bigint>();
    for (const o of this.containers.all()) {
      for (const x of Object.values(o.networks ?? {})) {
        // Static addresses stay reserved while their container is stopped (Docker would hand them out).
        if (x.networkId !== n.id || o.id === c.id) continue;
        for (const a of [x.endpoint?.ipv4, x.config.IPAMConfig?.IPv4Address]) if (a) used4.add(parseIp(a)!.value);
        for (const a of [x.endpoint?.ipv6, x.config.IPAMConfig?.IPv6Address]) if (a) used6.add(parseIp(a)!.value);
      }
    }
    for (const a of this.reserved.get(n.id)?.values() ?? []) used4.add(parseIp(a)!.value);
    const p4 = this.plan(n, 4)!;
    let v4: bigint;
    const want4 = cn.config.IPAMConfig?.IPv4Address;
    if (want4) {
      v4 = checkStatic(p4, want4);
      if (used4.has(v4)) throw conflict(`Address already in use: ${want4} is taken on network ${n.name}${[...(this.reserved.get(n.id)?.values() ?? [])].includes(formatIp(4, v4)) ? ' (a service\'s virtual IP)' : ''}`);
    } else {
      v4 = nextFree(p4, used4, this.cursor.get(n.id));
      this.cursor.set(n.id, v4);
    }
    let ipv6 = '';
    let prefixLen6 = 0;
    let gateway6 = '';
    const p6 = n.enableIPv6 ? this.plan(n, 6) : undefined;
    if (p6) {
      const want6 = cn.config.IPAMConfig?.IPv6Address;
      const v6 = want6 ? checkStatic(p6, want6) : nextFree(p6, used6);
      if (want6 && used6.has(v6)) throw conflict(`Address already in use: ${want6} is taken on network ${n.name}`);
      ipv6 = formatIp(6, v6);
      prefixLen6 = p6.subnet.prefix;
      gateway6 = formatIp(6, p6.gateway);
    }
    return {
      networkId: n.id, endpointId: newId(), ifname: `eth${index}`, mac: cn.config.MacAddress || macFromIp(v4),
      ipv4: formatIp(4, v4), prefixLen: p4.subnet.prefix, gateway: formatIp(4, p4.gateway), ipv6, prefixLen6, gateway6,
    };
  }

  /** What a container on user-defined networks may resolve: the containers that share one with it. */
  private scopeFor(id: string): DnsScope {
    const peers = function* (this: NetworkService) {
      const c = this.containers.get(id);
      if (!c) return;
      for (const [netName, cn] of Object.entries(c.networks ?? {})) {
        if (!cn.endpoint) continue;
        const n = this.store.get(cn.networkId);
        if (!n || n.predefined) continue;
        for (const o of this.containers.all()) {
          const on = Object.values(o.networks ?? {}).find((x) => x.networkId === n.id);
          if (on?.endpoint) yield { netName, o, on };
        }
      }
    }.bind(this);
    return {
      lookup: (q) => {
        const name = q.toLowerCase().replace(/\.$/, '');
        const ipv4: string[] = [];
        const ipv6: string[] = [];
        for (const { netName, o, on } of peers()) {
          const names = [o.name, o.id.slice(0, 12), ...(on.config.Aliases ?? [])].map((x) => x.toLowerCase());
          if (!names.includes(name) && !names.some((x) => `${x}.${netName.toLowerCase()}` === name)) continue;
          if (on.endpoint!.ipv4 && !ipv4.includes(on.endpoint!.ipv4)) ipv4.push(on.endpoint!.ipv4);
          if (on.endpoint!.ipv6 && !ipv6.includes(on.endpoint!.ipv6)) ipv6.push(on.endpoint!.ipv6);
        }
        // Services on the asker's user networks: a known name with no backend yet is still ours (an empty answer, never a forward).
        let service = false;
        for (const cn of Object.values(this.containers.get(id)?.networks ?? {})) {
          const ips = cn.endpoint && !this.store.get(cn.networkId)?.predefined ? this.serviceNames.get(cn.networkId)?.get(name) : undefined;
          if (!ips) continue;
          service = true;
          for (const a of ips) if (!ipv4.includes(a)) ipv4.push(a);
        }
        return ipv4.length || ipv6.length || service ? { ipv4, ipv6 } : undefined;
      },
      reverse: (ip) => {
        const want = parseIp(ip)?.value;
        const same = (a: string) => !!a && parseIp(a)?.value === want;
        for (const { netName, o, on } of peers()) if (same(on.endpoint!.ipv4) || same(on.endpoint!.ipv6)) return `${o.name}.${netName}`;
        return undefined;
      },
      upstreams: () => {
        const c = this.containers.get(id);
        if (c?.hostConfig.Dns?.length) return c.hostConfig.Dns;
        if (this.o.dns.length) return this.o.dns;
        return hostResolvConf().nameservers;
      },
    };
  }

  /** Running containers' endpoints on a network. */
  endpointsOf(n: NetworkRecord): { c: ContainerRecord; ep: Endpoint }[] {
    const out: { c: ContainerRecord; ep: Endpoint }[] = [];
    for (const c of this.containers.all())
      for (const cn of Object.values(c.networks ?? {})) if (cn.networkId === n.id && cn.endpoint) out.push({ c, ep: cn.endpoint });
    return out;
  }

  /** The firewall's view: every bridge network, every published port of a running container, and the services' ports. */
  firewallState(): { nets: FirewallNetwork[]; ports: FirewallPort[]; services: FirewallServicePort[] } {
    const nets: FirewallNetwork[] = this.store.all().filter((n) => n.driver === 'bridge').map((n) => ({
      bridge: n.bridge!, subnet: n.ipam.Config.find((p) => !p.Subnet.includes(':'))!.Subnet, internal: n.internal,
      icc: n.options['com.docker.network.bridge.enable_icc'] !== 'false', masquerade: n.options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
    }));
    const ports: FirewallPort[] = [];
    for (const c of this.containers.all()) {
      if (!c.ports?.length) continue;
      const ip = this.ordered(c)[0]?.[1].endpoint?.ipv4;
      if (ip) for (const m of c.ports) ports.push({ ...m, containerIp: ip });
    }
    return { nets, ports, services: this.servicePorts };
  }

  // ---- the load balancer's part (service/lb/balancer.ts) -------------------------------------

  get iptables(): boolean {
    return this.firewall.enabled;
  }

  networkInfo(ref: string): { id: string; name: string; internal: boolean; prefix?: number } | undefined {
    let n: NetworkRecord;
    try {
      n = this.store.find(ref);
    } catch {
      return undefined;
    }
    const v4 = n.ipam.Config.find((c) => c.Subnet && !c.Subnet.includes(':'));
    return { id: n.id, name: n.name, internal: n.internal, prefix: v4 ? Number(v4.Subnet!.split('/')[1]) : undefined };
  }

  async bindHostPort(proto: 'tcp' | 'udp', range: [number, number], owner: string): Promise<number> {
    const m = await this.ports.reserve({ proto, containerPort: 0, hostIp: '', hostPorts: range }, '', owner);
    return m.hostPort;
  }

  releaseHostPort(proto: 'tcp' | 'udp', port: number): void {
    this.ports.release({ proto, containerPort: 0, hostIp: '', hostPort: port });
  }

  reserveAddress(networkId: string, owner: string, preferred?: string): string {
    const n = this.store.find(networkId);
    const p4 = n.driver === 'bridge' ? this.plan(n, 4) : undefined;
    if (!p4) throw invalid(`network ${n.name} has no IPv4 subnet for a service's virtual IP: attach the service to a bridge network`);
    const mine = this.reserved.get(n.id) ?? new Map<string, string>();
    const had = mine.get(owner);
    if (had) return had;
    const used = new Set<bigint>();
    for (const o of this.containers.all())
      for (const x of Object.values(o.networks ?? {}))
        if (x.networkId === n.id) for (const a of [x.endpoint?.ipv4, x.config.IPAMConfig?.IPv4Address]) if (a) used.add(parseIp(a)!.value);
    for (const a of mine.values()) used.add(parseIp(a)!.value);
    let v: bigint | undefined;
    if (preferred) {
      try {
        const want = checkStatic(p4, preferred.split('/')[0]!);
        if (!used.has(want)) v = want;
      } catch {
        /* not on this network any more: a new one */
      }
      if (v === undefined) this.log.warn({ network: n.name, owner, preferred }, 'a service\'s virtual IP was taken meanwhile: it gets a new one');
    }
    v ??= highestFree(p4, used);
    const addr = formatIp(4, v);
    mine.set(owner, addr);
    this.reserved.set(n.id, mine);
    return addr;
  }

  releaseAddress(networkId: string, owner: string): void {
    const mine = this.reserved.get(networkId);
    mine?.delete(owner);
    if (mine && !mine.size) this.reserved.delete(networkId);
  }

  members(): NetnsMember[] {
    const out: NetnsMember[] = [];
    for (const c of this.containers.all()) {
      const networks = Object.values(c.networks ?? {}).filter((cn) => cn.endpoint).map((cn) => cn.networkId);
      if (c.netns && networks.length) out.push({ containerId: c.id, netns: c.netns, networks });
    }
    return out;
  }

  watchMembers(fn: (m: NetnsMember) => Promise<void>): void {
    this.memberWatch = fn;
  }

  private async tellMembers(c: ContainerRecord, fresh: boolean): Promise<void> {
    if (!this.memberWatch || !c.netns) return;
    const networks = Object.values(c.networks ?? {}).filter((cn) => cn.endpoint).map((cn) => cn.networkId);
    await this.memberWatch({ containerId: c.id, netns: c.netns, networks, ...(fresh ? { fresh } : {}) });
  }

  async publishServicePorts(ports: FirewallServicePort[]): Promise<void> {
    if (JSON.stringify(ports) === JSON.stringify(this.servicePorts)) return;
    this.servicePorts = ports;
    await this.firewall.sync();
  }

  setServiceNames(names: ServiceNames): void {
    this.serviceNames = names;
  }

  private driverNet(n: NetworkRecord): DriverNetwork {
    const gateways = n.ipam.Config.map((p) => `${p.Gateway}/${p.Subnet.split('/')[1]}`);
    const mtu = Number(n.options['com.docker.network.driver.mtu'] ?? 0);
    return { name: n.name, bridge: n.bridge!, gateways, internal: n.internal, ...(mtu && mtu !== 1500 ? { mtu } : {}) };
  }

  // ---- views ---------------------------------------------------------------------------------

  /** NetworkSettings of container inspect, filled as Docker fills it. */
  settings(c: ContainerRecord): object {
    const nets = this.networksView(c);
    const bridge = c.networks?.['bridge']?.endpoint;
    return {
      Bridge: '', SandboxID: c.netns ? sandboxId(c.id) : '', SandboxKey: c.netns ?? '',
      Ports: c.state.Running ? portMapView(c.config.ExposedPorts, c.hostConfig.PortBindings as PortMap | undefined, c.ports) : {},
      HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
      EndpointID: bridge?.endpointId ?? '', Gateway: bridge?.gateway ?? '', GlobalIPv6Address: bridge?.ipv6 ?? '', GlobalIPv6PrefixLen: bridge?.prefixLen6 ?? 0,
      IPAddress: bridge?.ipv4 ?? '', IPPrefixLen: bridge?.prefixLen ?? 0, IPv6Gateway: bridge?.gateway6 ?? '', MacAddress: bridge?.mac ?? '',
      Networks: nets,
    };
  }

  /** NetworkSettings.Networks (inspect and the container list). */
  networksView(c: ContainerRecord): Record<string, object> {
    const mode = c.hostConfig.NetworkMode ?? 'bridge';
    const out: Record<string, object> = {};
    const entries: [string, ContainerNetwork][] = Object.keys(c.networks ?? {}).length ? this.ordered(c) : mode.startsWith('container:') ? [] : [[mode, { networkId: this.store.byName(mode)?.id ?? '', config: {} }]];
    for (const [name, cn] of entries) {
      const ep = cn.endpoint;
      const n = this.store.get(cn.networkId);
      out[name] = {
        IPAMConfig: cn.config.IPAMConfig ?? null, Links: cn.config.Links ?? null, Aliases: cn.config.Aliases ?? null, MacAddress: ep?.mac ?? '',
        DriverOpts: cn.config.DriverOpts ?? null, GwPriority: cn.config.GwPriority ?? 0, NetworkID: cn.networkId, EndpointID: ep?.endpointId ?? '',
        Gateway: ep?.gateway ?? '', IPAddress: ep?.ipv4 ?? '', IPPrefixLen: ep?.prefixLen ?? 0, IPv6Gateway: ep?.gateway6 ?? '',
        GlobalIPv6Address: ep?.ipv6 ?? '', GlobalIPv6PrefixLen: ep?.prefixLen6 ?? 0,
        DNSNames: ep && n && !n.predefined ? [c.name, c.id.slice(0, 12), ...(cn.config.Aliases ?? [])] : null,
      };
    }
    return out;
  }

  /** The Ports column of the container list: Docker's []Port. */
  portList(c: ContainerRecord): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
    if (!c.state.Running) return [];
    const view = portMapView(c.config.ExposedPorts, c.hostConfig.PortBindings as PortMap | undefined, c.ports);
    const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
    for (const [k, list] of Object.entries(view)) {
      const [port, proto] = k.split('/');
      if (!list) out.push({ PrivatePort: Number(port), Type: proto! });
      else for (const b of list) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: proto! });
    }
    return out;
  }

  /** The gateway address for --add-host host-gateway: the default bridge's. */
  hostGateway(): string {
    return this.store.byName('bridge')?.ipam.Config[0]?.Gateway ?? '';
  }
}

/** The network's default host address for published ports ('' for all; the bridge option host_binding_ipv4). */
function bindingIp(n: NetworkRecord): string {
  const ip = n.options['com.docker.network.bridge.host_binding_ipv4'] ?? '';
  return ip === '0.0.0.0' ? '' : ip;
}

function userPart(cfg: EndpointConfig): EndpointConfig {
  const out: EndpointConfig = {};
  if (cfg.IPAMConfig && (cfg.IPAMConfig.IPv4Address || cfg.IPAMConfig.IPv6Address || cfg.IPAMConfig.LinkLocalIPs?.length)) out.IPAMConfig = cfg.IPAMConfig;
  if (cfg.Links?.length) out.Links = cfg.Links;
  if (cfg.Aliases?.length) out.Aliases = cfg.Aliases;
  if (cfg.MacAddress) out.MacAddress = cfg.MacAddress;
  if (cfg.DriverOpts && Object.keys(cfg.DriverOpts).length) out.DriverOpts = cfg.DriverOpts;
  if (cfg.GwPriority) out.GwPriority = cfg.GwPriority;
  return out;
}

const newId = () => randomBytes(32).toString('hex');
const sandboxId = (id: string) => createHash('sha256').update(`sandbox:${id}`).digest('hex');

/** The `until` filter in ms since the epoch: a timestamp, or a duration before now (images' and containers' parser). */
function untilTime(v: string): number {
  try {
    return parseTimestamp(v) * 1000;
  } catch {
    throw invalid(`invalid filter 'until=${v}': use a timestamp or a duration such as 24h`);
  }
}
