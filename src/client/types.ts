// Engine API JSON shapes the client and CLI use (API v1.50). Only the fields we read
// are typed; responses may carry more, and older daemons may omit some.

/** Filters as sent in `?filters=`: {"dangling":{"true":true}} (accepted by every API version). */
export type Filters = Record<string, Record<string, boolean>>;

export interface Ping {
  apiVersion: string;
  osType: string;
  experimental: boolean;
  builderVersion?: string;
}

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

export interface ServerVersion {
  Platform?: { Name: string };
  Components?: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

export interface Info {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][] | null;
  SystemStatus?: [string, string][] | null;
  Plugins: { Volume: string[] | null; Network: string[] | null; Authorization: string[] | null; Log: string[] | null };
  MemoryLimit?: boolean;
  SwapLimit?: boolean;
  Debug: boolean;
  NFd: number;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion?: string;
  NEventsListener: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion?: string;
  OSType: string;
  Architecture: string;
  IndexServerAddress?: string;
  RegistryConfig?: {
    InsecureRegistryCIDRs?: string[] | null;
    IndexConfigs?: Record<string, { Name: string; Mirrors?: string[]; Secure: boolean; Official?: boolean }> | null;
    Mirrors?: string[] | null;
  } | null;
  NCPU: number;
  MemTotal: number;
  DockerRootDir: string;
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  Name: string;
  Labels: string[] | null;
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes?: Record<string, { path?: string; runtimeArgs?: string[] }> | null;
  DefaultRuntime?: string;
  Swarm?: { LocalNodeState: string; NodeID?: string; NodeAddr?: string; Error?: string; ControlAvailable?: boolean };
  LiveRestoreEnabled: boolean;
  Isolation?: string;
  InitBinary?: string;
  ContainerdCommit?: { ID: string };
  RuncCommit?: { ID: string };
  InitCommit?: { ID: string };
  SecurityOptions?: string[] | null;
  ProductLicense?: string;
  DefaultAddressPools?: { Base: string; Size: number }[] | null;
  CDISpecDirs?: string[] | null;
  Warnings?: string[] | null;
}

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

/** GET /images/{name}/json; kept loose since `inspect` prints the raw document. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created?: string;
  Size?: number;
  Config?: Record<string, unknown> | null;
  [k: string]: unknown;
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagesPruneReport {
  ImagesDeleted: ImageDeleteItem[] | null;
  SpaceReclaimed: number;
}

export interface ContainerSummary {
  Id: string;
  Names: string[] | null;
  Image: string;
  ImageID?: string;
  Command: string;
  Created: number;
  SizeRw?: number;
  SizeRootFs?: number;
  State: string;
  Status: string;
  Mounts?: { Type?: string; Name?: string }[] | null;
  Labels?: Record<string, string> | null;
}

export interface VolumeSummary {
  CreatedAt?: string;
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels?: Record<string, string> | null;
  Options?: Record<string, string> | null;
  Scope?: string;
  UsageData?: { Size: number; RefCount: number } | null;
}

/** POST /volumes/create (Docker's volume.CreateOptions; empty fields are left out like Go's omitempty). */
export interface VolumeCreateRequest {
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
  Name?: string;
}

export interface VolumeListResponse {
  Volumes: VolumeSummary[] | null;
  Warnings: string[] | null;
}

export interface VolumesPruneReport {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[] | null;
  Type: string;
  Description?: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt?: string | null;
  UsageCount: number;
}

export interface DiskUsage {
  LayersSize: number;
  Images: ImageSummary[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: VolumeSummary[] | null;
  BuildCache: BuildCacheRecord[] | null;
  BuilderSize?: number;
}

export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
  /** Nanoseconds since the epoch. Beyond 2^53, so JSON numbers lose the low digits;
   *  the decoder keeps the exact decimal text in `timeNanoText`. */
  timeNano?: number;
  timeNanoText?: string;
}

export interface JSONProgress {
  current?: number;
  total?: number;
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

/** One message of a progress stream (pull, load, import, build). */
export interface JSONMessage {
  stream?: string;
  status?: string;
  progressDetail?: JSONProgress;
  progress?: string;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  timeNanoText?: string;
  errorDetail?: { code?: number; message?: string };
  error?: string;
  aux?: unknown;
}

// --- containers ----------------------------------------------------------------
// The wire shapes of POST /containers/create and friends (Docker's container.Config,
// HostConfig and NetworkingConfig). The CLI fills every field Docker's CLI sends,
// zero values included, so the daemon sees the same document from either client.

export interface HealthConfig {
  Test?: string[];
  /** Nanoseconds. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, Record<string, never>> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[];
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

export interface WeightDevice {
  Path: string;
  Weight: number;
}

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

/** api/types/mount.Mount, as --mount sends it. */
export interface MountSpec {
  Type: string;
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; Subpath?: string; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  ImageOptions?: { Subpath?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
}

/** container.Resources: the part of HostConfig that `update` can change too. */
export interface Resources {
  CpuShares: number;
  Memory: number;
  NanoCpus: number;
  CgroupParent: string;
  BlkioWeight: number;
  BlkioWeightDevice: WeightDevice[] | null;
  BlkioDeviceReadBps: ThrottleDevice[] | null;
  BlkioDeviceWriteBps: ThrottleDevice[] | null;
  BlkioDeviceReadIOps: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps: ThrottleDevice[] | null;
  CpuPeriod: number;
  CpuQuota: number;
  CpuRealtimePeriod: number;
  CpuRealtimeRuntime: number;
  CpusetCpus: string;
  CpusetMems: string;
  Devices: DeviceMapping[] | null;
  DeviceCgroupRules: string[] | null;
  DeviceRequests: unknown[] | null;
  MemoryReservation: number;
  MemorySwap: number;
  MemorySwappiness: number | null;
  OomKillDisable: boolean | null;
  PidsLimit: number | null;
  Ulimits: Ulimit[] | null;
  CpuCount: number;
  CpuPercent: number;
  IOMaximumIOps: number;
  IOMaximumBandwidth: number;
}

export interface HostConfig extends Resources {
  Binds: string[] | null;
  ContainerIDFile: string;
  LogConfig: { Type: string; Config: Record<string, string> | null };
  NetworkMode: string;
  PortBindings: Record<string, PortBinding[] | null> | null;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  VolumeDriver: string;
  VolumesFrom: string[] | null;
  ConsoleSize: [number, number];
  Annotations?: Record<string, string>;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  CgroupnsMode: string;
  Dns: string[] | null;
  DnsOptions: string[] | null;
  DnsSearch: string[] | null;
  ExtraHosts: string[] | null;
  GroupAdd: string[] | null;
  IpcMode: string;
  Cgroup: string;
  Links: string[] | null;
  OomScoreAdj: number;
  PidMode: string;
  Privileged: boolean;
  PublishAllPorts: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  StorageOpt?: Record<string, string>;
  Tmpfs?: Record<string, string>;
  UTSMode: string;
  UsernsMode: string;
  ShmSize: number;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  Isolation: string;
  Mounts?: MountSpec[];
  MaskedPaths: string[] | null;
  ReadonlyPaths: string[] | null;
  Init?: boolean;
}

export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
  GwPriority: number;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

export interface NetworkingConfig {
  EndpointsConfig: Record<string, EndpointSettings>;
}

/** The body of POST /containers/create. */
export interface ContainerCreateRequest extends ContainerConfig {
  HostConfig: HostConfig;
  NetworkingConfig: NetworkingConfig;
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[] | null;
}

export interface ContainerState {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string; FailingStreak?: number; Log?: unknown[] | null } | null;
}

/** GET /containers/{id}/json; loose, since `inspect` prints the daemon's document as is. */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  Name: string;
  RestartCount: number;
  Config: Partial<ContainerConfig> & { Tty: boolean; OpenStdin: boolean };
  HostConfig: Partial<HostConfig> & { AutoRemove?: boolean };
  NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null; Networks?: Record<string, unknown> | null; [k: string]: unknown } | null;
  Mounts?: unknown[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  [k: string]: unknown;
}

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface MountPoint {
  Type?: string;
  Name?: string;
  Source?: string;
  Destination?: string;
  Driver?: string;
  Mode?: string;
  RW?: boolean;
  Propagation?: string;
}

/** One entry of GET /containers/json. */
export interface ContainerListItem extends ContainerSummary {
  Ports?: PortSummary[] | null;
  Mounts?: MountPoint[] | null;
  HostConfig?: { NetworkMode?: string; Annotations?: Record<string, string> };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> | null } | null;
  ImageManifestDescriptor?: { platform?: { architecture: string; os: string; variant?: string } } | null;
}

export interface ContainerWaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

export interface ContainerTopResponse {
  Titles: string[] | null;
  Processes: string[][] | null;
}

export interface FilesystemChange {
  /** 0: modified, 1: added, 2: deleted. */
  Kind: number;
  Path: string;
}

export interface ContainersPruneReport {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** POST /containers/{id}/update: Resources plus RestartPolicy. */
export type ContainerUpdateRequest = Partial<Resources> & { RestartPolicy?: RestartPolicy };

export interface ExecCreateRequest {
  User: string;
  Privileged: boolean;
  Tty: boolean;
  ConsoleSize?: [number, number];
  AttachStdin: boolean;
  AttachStderr: boolean;
  AttachStdout: boolean;
  Detach: boolean;
  DetachKeys: string;
  Env: string[] | null;
  WorkingDir: string;
  Cmd: string[];
}

export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid?: number;
  ContainerID?: string;
  [k: string]: unknown;
}

/** Decoded X-Docker-Container-Path-Stat header of /containers/{id}/archive. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits (ModeDir = 1 << 31, ModeSymlink = 1 << 27, …). */
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface CPUStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[] | null; usage_in_kernelmode?: number; usage_in_usermode?: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data?: unknown;
}

/** One sample of GET /containers/{id}/stats. */
export interface StatsResponse {
  name?: string;
  id?: string;
  read?: string;
  preread?: string;
  pids_stats?: { current?: number; limit?: number };
  blkio_stats?: { io_service_bytes_recursive?: { major?: number; minor?: number; op: string; value: number }[] | null };
  num_procs?: number;
  cpu_stats?: CPUStats;
  precpu_stats?: CPUStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number>; privateworkingset?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  storage_stats?: { read_size_bytes?: number; write_size_bytes?: number };
}

// --- networks ---------------------------------------------------------------------

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IPAM {
  Driver: string;
  Options: Record<string, string> | null;
  Config: IPAMConfig[] | null;
}

/** The body of POST /networks/create, in docker's field order (network.CreateRequest). */
export interface NetworkCreateRequest {
  Driver: string;
  Scope: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM: IPAM | null;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigOnly: boolean;
  ConfigFrom: { Network: string } | null;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
  Name: string;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning?: string;
}

/** An item of GET /networks (and, with more fields, GET /networks/{id}). */
export interface NetworkSummary {
  Name: string;
  Id: string;
  Created?: string;
  Scope?: string;
  Driver?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: IPAM;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  Labels?: Record<string, string> | null;
  [k: string]: unknown;
}

/** The body of POST /networks/{id}/connect. */
export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig: EndpointSettings | null;
}

export interface NetworksPruneReport {
  NetworksDeleted: string[] | null;
}

// --- swarm ------------------------------------------------------------------------
// Swarm-mode objects as the Engine API shows them (/swarm, /nodes, /services, /tasks),
// for the CLI. Durations are nanoseconds. Objects the CLI reads and writes back
// (a service's spec on update, a node's spec) are kept whole, fields it does not
// know included, so an update sends back what the daemon gave.

export interface SwarmMeta {
  ID: string;
  Version: { Index: number };
  CreatedAt?: string;
  UpdatedAt?: string;
}

export interface SwarmContainerSpec {
  Image: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  Init?: boolean | null;
  StopSignal?: string;
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  /** mount.Mount and container.HealthConfig, as in a container's create request. */
  Mounts?: MountSpec[];
  StopGracePeriod?: number;
  Healthcheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Isolation?: string;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: Ulimit[];
  OomScoreAdj?: number;
  [k: string]: unknown;
}

export interface SwarmResources {
  Limits?: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number };
  Reservations?: { NanoCPUs?: number; MemoryBytes?: number };
}

export interface SwarmRestartPolicy {
  Condition?: string;
  Delay?: number;
  MaxAttempts?: number;
  Window?: number;
}

export interface SwarmNetworkAttachment {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface SwarmTaskSpec {
  ContainerSpec?: SwarmContainerSpec;
  Resources?: SwarmResources;
  RestartPolicy?: SwarmRestartPolicy;
  Placement?: { Constraints?: string[]; Preferences?: { Spread?: { SpreadDescriptor: string } }[]; MaxReplicas?: number; [k: string]: unknown };
  Networks?: SwarmNetworkAttachment[];
  LogDriver?: { Name: string; Options?: Record<string, string> };
  ForceUpdate?: number;
  Runtime?: string;
  [k: string]: unknown;
}

export interface SwarmUpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: string;
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: string;
}

export interface SwarmPortConfig {
  Name?: string;
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: string;
}

export interface SwarmEndpointSpec {
  Mode?: string;
  Ports?: SwarmPortConfig[];
}

export interface ServiceSpec {
  Name?: string;
  Labels?: Record<string, string> | null;
  TaskTemplate: SwarmTaskSpec;
  Mode?: {
    Replicated?: { Replicas?: number };
    Global?: Record<string, never>;
    ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
    GlobalJob?: Record<string, never>;
  };
  UpdateConfig?: SwarmUpdateConfig;
  RollbackConfig?: SwarmUpdateConfig;
  Networks?: SwarmNetworkAttachment[];
  EndpointSpec?: SwarmEndpointSpec;
  [k: string]: unknown;
}

export interface SwarmService extends SwarmMeta {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: { Spec?: SwarmEndpointSpec; Ports?: SwarmPortConfig[]; VirtualIPs?: { NetworkID: string; Addr: string }[] };
  UpdateStatus?: { State?: string; StartedAt?: string; CompletedAt?: string; Message?: string };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number };
  JobStatus?: unknown;
  [k: string]: unknown;
}

export interface ServiceCreateResponse {
  ID: string;
  Warnings?: string[] | null;
}

export interface ServiceUpdateResponse {
  Warnings?: string[] | null;
}

export interface SwarmTask extends SwarmMeta {
  Name?: string;
  Labels?: Record<string, string>;
  Spec: SwarmTaskSpec;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  Status: {
    Timestamp?: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
    PortStatus?: { Ports?: SwarmPortConfig[] };
  };
  DesiredState: string;
  [k: string]: unknown;
}

export interface NodeSpec {
  Name?: string;
  Labels?: Record<string, string> | null;
  Role?: string;
  Availability?: string;
  [k: string]: unknown;
}

export interface SwarmNode extends SwarmMeta {
  Spec: NodeSpec;
  Description?: {
    Hostname?: string;
    Platform?: { Architecture?: string; OS?: string };
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
    Engine?: { EngineVersion?: string; Labels?: Record<string, string>; Plugins?: { Type: string; Name: string }[] };
    TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string };
  };
  Status?: { State?: string; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
  [k: string]: unknown;
}

export interface SwarmSpec {
  Name?: string;
  Labels?: Record<string, string> | null;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: { SnapshotInterval?: number; KeepOldSnapshots?: number; LogEntriesForSlowFollowers?: number; ElectionTick?: number; HeartbeatTick?: number };
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: { NodeCertExpiry?: number; ExternalCAs?: unknown[]; [k: string]: unknown };
  TaskDefaults?: { LogDriver?: { Name: string; Options?: Record<string, string> } };
  EncryptionConfig?: { AutoLockManagers?: boolean };
  [k: string]: unknown;
}

/** GET /swarm. */
export interface SwarmInfo extends SwarmMeta {
  Spec: SwarmSpec;
  JoinTokens: { Worker: string; Manager: string };
  [k: string]: unknown;
}

/** The body of POST /swarm/init. */
export interface SwarmInitRequest {
  ListenAddr: string;
  AdvertiseAddr: string;
  DataPathAddr: string;
  DataPathPort: number;
  ForceNewCluster: boolean;
  Spec: SwarmSpec;
  AutoLockManagers: boolean;
  Availability: string;
  DefaultAddrPool: string[];
  SubnetSize: number;
}

/** The target of a container move or image copy (Pier's extensions), as the API carries it: the CLI resolves a context to this. */
export interface RemoteTarget {
  /** tcp://IP:PORT (or unix:///path, for a daemon on this machine). */
  Host: string;
  /** PEM text; absent for a plain connection. */
  TLS?: { CA?: string; Cert?: string; Key?: string; SkipVerify?: boolean } | null;
}
