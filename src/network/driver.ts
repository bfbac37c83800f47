/**
 * NetworkDriver: how a network becomes real on the host and how a container
 * joins it. The engine (engine/networks.ts) owns the records, addresses and
 * names; a driver only does the plumbing.
 *
 * Lifecycle: create(net) when the network is made and again at every daemon
 * start (it must be idempotent) → join(net, ep) for each running container
 * endpoint, leave(net, ep) when it stops → destroy(net) when the network is
 * removed or, with nothing running, at daemon shutdown.
 *
 *   await driver.create({ name: 'web', bridge: 'br-1a2b', gateways: ['10.89.0.1/24'] });
 *   await driver.join(net, { containerId, netns: '/run/pier/netns/abc', ifname: 'eth0',
 *                            addresses: [{ cidr: '10.89.0.2/24', gateway: '10.89.0.1' }], defaultRoute: true });
 */
export interface DriverNetwork {
  name: string;
  bridge: string;
  /** Gateway addresses with the subnet's prefix ("10.89.0.1/24"), given to the bridge. */
  gateways: string[];
  internal: boolean;
  mtu?: number;
}

export interface JoinRequest {
  containerId: string;
  netns: string;
  ifname: string;
  mac?: string;
  addresses: { cidr: string; gateway: string }[];
  /** The container's default route goes through this network (its primary one). */
  defaultRoute: boolean;
}

export interface JoinResult {
  mac: string;
}

export interface NetworkDriver {
  create(net: DriverNetwork): Promise<void>;
  destroy(net: DriverNetwork): Promise<void>;
  join(net: DriverNetwork, ep: JoinRequest): Promise<JoinResult>;
  leave(net: DriverNetwork, ep: JoinRequest): Promise<void>;
}
