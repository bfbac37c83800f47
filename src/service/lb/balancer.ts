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
  /** network ID → the service's virtual IP there (vip mode). */
  vips: Record<string, string>;
  /** Aliases the service's name answers to on its networks (name, and swarm's `tasks.<name>` for all backends). */
  networks: string[];
  backends: Backend[];
}

export interface LoadBalancer {
  /** Reserves the host ports of a service's ingress ports (conflict error when taken); ports already held by the service are kept. */
  reservePorts(serviceId: string, ports: PortConfig[]): Promise<PortConfig[]>;
  releasePorts(serviceId: string): Promise<void>;
  /** A virtual IP on each network (network ID → address), kept for the service's life. */
  allocateVips(serviceId: string, networkIds: string[]): Promise<Record<string, string>>;
  releaseVips(serviceId: string): Promise<void>;
  /** The complete desired state of every service; idempotent, and calls close together are coalesced. */
  apply(services: BalancedService[]): Promise<void>;
  close(): Promise<void>;
}
