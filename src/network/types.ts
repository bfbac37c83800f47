/**
 * The vocabulary of networks: a network as the engine stores it, the
 * requests of the Engine API that make and join them, and an endpoint (one
 * container's interface on one network) with the addresses it was given.
 */

export type DriverName = 'bridge' | 'host' | 'null';

export interface IpamPool {
  /** "10.89.3.0/24" or "fd00:1::/64". */
  Subnet: string;
  /** Addresses are handed out from here (a CIDR inside Subnet); the whole subnet when absent. */
  IPRange?: string;
  Gateway?: string;
  /** Reserved addresses: name → address. */
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: DriverName;
  created: string;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  ipam: { Driver: string; Options: Record<string, string> | null; Config: IpamPool[] };
  options: Record<string, string>;
  labels: Record<string, string>;
  /** The bridge interface on the host (bridge driver only). */
  bridge?: string;
  /** bridge, host, none: made by the daemon, never removed. */
  predefined?: boolean;
}

/** POST /networks/create. */
export interface NetworkCreateRequest {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: IpamPool[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** EndpointSettings as containers/create (NetworkingConfig) and networks/connect send them. */
export interface EndpointConfig {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DNSNames?: string[] | null;
}

/** What a running container was given on one network (kept on the container record). */
export interface Endpoint {
  networkId: string;
  endpointId: string;
  ifname: string;
  mac: string;
  ipv4: string;
  prefixLen: number;
  gateway: string;
  ipv6: string;
  prefixLen6: number;
  gateway6: string;
}

/** One published port: container port/proto → host ip:port. */
export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

/** Docker's nat.PortMap: "80/tcp" → [{HostIp, HostPort}]. */
export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

/** A container's membership of one network (kept on its record, by network name). */
export interface ContainerNetwork {
  networkId: string;
  /** What the user asked for: aliases, static addresses, links, driver options. */
  config: EndpointConfig;
  /** What it was given; set while the container runs. */
  endpoint?: Endpoint;
}
