/**
 * LoadBalancer: spreads a service's connections over its tasks, so that the
 * service looks like one instance.
 *
 * - A published port (ingress mode) on the host: kernel DNAT rules choose a
 *   backend per new connection, round-robin. Nothing rewrites the source, so
 *   each replica sees the client's real address.
 * - Inside each of the service's networks, a virtual IP (endpoint mode `vip`)
 *   balanced the same way by DNAT rules in the network namespace of every
 *   container on that network; with `dnsrr` the name resolves to every
 *   backend's address instead.
 *
 * The balancer is told the whole desired state each time (`apply`): which
 * backends may take new connections (running, healthy or without a
 * healthcheck, not being stopped). A backend left out stops getting new
 * connections at once, while the connections it has go on (conntrack keeps
 * them), which is how a stopping task drains.
 */
import type { FirewallServicePort } from '../../network/bridge/firewall.js';
import type { PortConfig } from '../types.js';

export interface Backend {
  taskId: string;
  containerId: string;
  /** network ID → the task's IPv4 address on it (no prefix). */
  ips: Record<string, string>;
}

export interface BalancedService {
  id: string;
  name: string;
  mode: 'vip' | 'dnsrr';
  /** Ingress-mode published ports. */
  ports: PortConfig[];
  /** network ID → the service's virtual IP there (vip mode), with or without its prefix length (as allocateVips gives it). */
  vips: Record<string, string>;
  /** IDs of the networks the service is on: its name (and swarm's `tasks.<name>`, every backend) resolves on each. */
  networks: string[];
  backends: Backend[];
}

export interface LoadBalancer {
  /**
   * Reserves the host ports of a service's ingress ports (conflict error when taken); ports already held by the service are kept.
   * PublishedPort 0/unset → a free port of 30000–32767, as swarm picks; `previous` (the service's Endpoint.Ports) gives such a
   * port back the one it had, when still free: how an automatic port survives a daemon restart. Returns the ports with
   * PublishedPort filled in; host-mode ports come back as they are.
   */
  reservePorts(serviceId: string, ports: PortConfig[], previous?: PortConfig[]): Promise<PortConfig[]>;
  releasePorts(serviceId: string): Promise<void>;
  /**
   * A virtual IP on each network (network ID → "address/prefix", as Endpoint.VirtualIPs shows it), kept for the service's life; networks no
   * longer listed give theirs back. `previous` (the service's Endpoint.VirtualIPs: network ID →
   * address, with or without a prefix) is taken again when still free: how a VIP survives a
   * daemon restart.
   */
  allocateVips(serviceId: string, networkIds: string[], previous?: Record<string, string>): Promise<Record<string, string>>;
  releaseVips(serviceId: string): Promise<void>;
  /** The complete desired state of every service; idempotent, and calls close together are coalesced. */
  apply(services: BalancedService[]): Promise<void>;
  close(): Promise<void>;
}

/** One running container's network namespace and the networks (IDs) it has an endpoint on. */
export interface NetnsMember {
  containerId: string;
  netns: string;
  networks: string[];
  /** Made just now, so nothing of the balancer's is in it yet (saves looking). */
  fresh?: boolean;
}

/** Service names for the embedded DNS: network ID → lowercased name → IPv4 addresses. */
export type ServiceNames = Map<string, Map<string, string[]>>;

/**
 * The part of the engine's networks (engine/networks.ts) the kernel balancer
 * needs: host ports held like published container ports, addresses no
 * container gets, the namespaces of the containers on each network, and the
 * host firewall's and the DNS server's share of the services.
 */
export interface BalancerNetworks {
  /** false with dockerd's --iptables=false: no rules are written, only names resolve. */
  readonly iptables: boolean;
  /** A network by ID or name; undefined when there is none. */
  networkInfo(ref: string): { id: string; name: string; internal: boolean; /** of its IPv4 subnet */ prefix?: number } | undefined;
  /** Holds a host port (any address) like a published container port: the first free one of [lo, hi]; conflict error when none is. */
  bindHostPort(proto: 'tcp' | 'udp', range: [number, number], owner: string): Promise<number>;
  releaseHostPort(proto: 'tcp' | 'udp', port: number): void;
  /** An IPv4 address on the network that no container gets until released; `preferred` when free; the same owner gets the same address again. */
  reserveAddress(networkId: string, owner: string, preferred?: string): string;
  releaseAddress(networkId: string, owner: string): void;
  /** Namespaces of the running containers on bridge networks. */
  members(): NetnsMember[];
  /** fn is awaited when a container's namespace joins networks (before its process starts), and told when it leaves them (networks: []). */
  watchMembers(fn: (m: NetnsMember) => Promise<void>): void;
  /** The host firewall's service ports, replacing the previous set; resolves once the rules are in. */
  publishServicePorts(ports: FirewallServicePort[]): Promise<void>;
  /** The service names the embedded DNS answers, replacing the previous set. */
  setServiceNames(names: ServiceNames): void;
}
