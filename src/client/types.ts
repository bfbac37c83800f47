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
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels?: Record<string, string> | null;
  Scope?: string;
  UsageData?: { Size: number; RefCount: number } | null;
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
