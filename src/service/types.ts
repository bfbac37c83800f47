/**
 * Swarm-mode objects as the Engine API shows them (/services, /tasks, /nodes,
 * /swarm), used as they are inside Pier too: a service's desired state is its
 * `ServiceSpec`, the controller turns it into `Task`s (one container each), and
 * the ClusterStore keeps all of them. Durations are nanoseconds, as in the API.
 */

export interface Meta {
  ID: string;
  /** Bumped on every write; an update must name the index it read ("update out of sequence" otherwise). */
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
}

export interface Mount {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  /** ns; the time a task has to drain and exit after SIGTERM (default 10 s). */
  StopGracePeriod?: number;
  Healthcheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Init?: boolean | null;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  Isolation?: string;
}

export interface Resources {
  Limits?: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number };
  Reservations?: { NanoCPUs?: number; MemoryBytes?: number };
}

export type RestartCondition = 'none' | 'on-failure' | 'any';
export interface RestartPolicy {
  Condition?: RestartCondition;
  /** ns between a task's end and its replacement's start. */
  Delay?: number;
  /** 0 = unbounded. */
  MaxAttempts?: number;
  /** ns; the window over which restarts are counted against MaxAttempts (0 = unbounded). */
  Window?: number;
}

export interface NetworkAttachmentConfig {
  /** A network's name or ID. */
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface TaskSpec {
  ContainerSpec: ContainerSpec;
  Resources?: Resources;
  RestartPolicy?: RestartPolicy;
  Placement?: { Constraints?: string[]; Preferences?: unknown[]; MaxReplicas?: number; Platforms?: unknown[] };
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: { Name: string; Options?: Record<string, string> };
  /** Bumped by `service update --force`: a changed counter alone makes a rolling update. */
  ForceUpdate?: number;
  Runtime?: string;
}

export type FailureAction = 'pause' | 'continue' | 'rollback';
export interface UpdateConfig {
  /** Tasks replaced at once (0 = all at once). */
  Parallelism?: number;
  /** ns between batches. */
  Delay?: number;
  FailureAction?: FailureAction;
  /** ns a new task is watched after it starts; failing within it counts as a failed update. */
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort: number;
  PublishedPort?: number;
  /** ingress: the host port balances over every replica; host: each task publishes on the host itself. */
  PublishMode?: 'ingress' | 'host';
}

export interface EndpointSpec {
  /** vip: the service name resolves to one balanced address; dnsrr: to every task's address. */
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export interface ServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: TaskSpec;
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  /** Deprecated place for TaskTemplate.Networks; still sent by old clients. */
  Networks?: NetworkAttachmentConfig[];
  EndpointSpec?: EndpointSpec;
}

export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface Service extends Meta {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint: {
    Spec: EndpointSpec;
    Ports?: PortConfig[];
    VirtualIPs?: { NetworkID: string; Addr: string }[];
  };
  UpdateStatus?: { State: UpdateState; StartedAt?: string; CompletedAt?: string; Message: string };
  /** Only in list replies with ?status=true. */
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number };
}

/** Swarm's task states, in order; a task only moves forward. */
export const TASK_STATES = [
  'new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running',
  'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** A state's place in TASK_STATES: tasks only move forward. */
export const stateIndex = (s: TaskState): number => TASK_STATES.indexOf(s);
/** Past running: complete, shutdown, failed, rejected, remove, orphaned. */
export const isEnded = (s: TaskState): boolean => stateIndex(s) > stateIndex('running');

export interface TaskStatus {
  Timestamp: string;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: { ContainerID: string; PID: number; ExitCode: number };
  PortStatus?: { Ports?: PortConfig[] };
}

export interface Task extends Meta {
  Name?: string;
  Labels: Record<string, string>;
  Spec: TaskSpec;
  ServiceID: string;
  /** Replicated services: 1..N; a replacement keeps its slot. */
  Slot: number;
  NodeID: string;
  Status: TaskStatus;
  DesiredState: TaskState;
  NetworksAttachments?: { Network: { ID: string; Spec?: { Name: string } }; Addresses: string[] }[];
  /** Which spec version made it: the service's Version.Index at the time (Pier's; swarm keeps the spec itself). */
  ServiceVersion?: number;
}

export interface Node extends Meta {
  Spec: { Name?: string; Labels: Record<string, string>; Role: 'manager' | 'worker'; Availability: 'active' | 'pause' | 'drain' };
  Description: {
    Hostname: string;
    Platform: { Architecture: string; OS: string };
    Resources: { NanoCPUs: number; MemoryBytes: number };
    Engine: { EngineVersion: string; Labels?: Record<string, string>; Plugins: { Type: string; Name: string }[] };
    TLSInfo?: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  };
  Status: { State: 'unknown' | 'down' | 'ready' | 'disconnected'; Message?: string; Addr: string };
  ManagerStatus?: { Leader: boolean; Reachability: 'unknown' | 'unreachable' | 'reachable'; Addr: string };
}

export interface SwarmSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: { SnapshotInterval?: number; KeepOldSnapshots?: number; LogEntriesForSlowFollowers?: number; ElectionTick?: number; HeartbeatTick?: number };
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: { NodeCertExpiry?: number; ExternalCAs?: unknown[] };
  TaskDefaults?: { LogDriver?: { Name: string; Options?: Record<string, string> } };
  EncryptionConfig?: { AutoLockManagers: boolean };
}

export interface Swarm extends Meta {
  Spec: SwarmSpec;
  TLSInfo: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  RootRotationInProgress: boolean;
  DefaultAddrPool: string[];
  SubnetSize: number;
  DataPathPort: number;
  JoinTokens: { Worker: string; Manager: string };
}
