/**
 * A container as the engine keeps it: Docker's configuration (merged with the
 * image's), its state machine, and the paths of its files. Persisted as JSON in
 * SQLite (store.ts); what only lives while pierd runs (monitors, waiters,
 * timers) is in service.ts.
 */
import type { ContainerConfig, HostConfig } from '../../runtime/container-config.js';
import type { MountPoint } from './mounts.js';
import { nowNs } from '../../base/clock.js';
import { goJsonTime } from '../../base/time.js';
import type { ContainerNetwork, PortMapping } from '../../network/types.js';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface Health {
  Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface State {
  Status: Status;
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
  Health?: Health;
}

export interface ContainerRecord {
  id: string;
  /** Without the leading slash. */
  name: string;
  created: string;
  path: string;
  args: string[];
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Image ID (sha256:...). */
  image: string;
  /** The image as the user named it ("busybox"), shown by ps. */
  imageName: string;
  /** Chain ID the rootfs sits on ('' for none). */
  parentChain: string;
  state: State;
  restartCount: number;
  /** Stopped by the user (stop/kill): restart policies leave it alone. */
  manuallyStopped: boolean;
  hasBeenStarted: boolean;
  driver: string;
  logPath: string;
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
  /** pid of the container's init when running (survives restarts of pierd). */
  pid?: number;
  /** The networks it joins, by name (engine/networks.ts); their endpoints are set while it runs. */
  networks?: Record<string, ContainerNetwork>;
  /** Its network namespace's path while it runs on bridge networks. */
  netns?: string;
  /** Host ports published for it while it runs. */
  ports?: PortMapping[];
  /** Binds, volumes and tmpfs mounts, resolved at create (mounts.ts); absent on records made before volumes. */
  mounts?: MountPoint[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): State {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}

/** Docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** The STATUS column of `docker ps`. */
export function statusText(s: State, now = Date.now()): string {
  const since = (t: string) => humanDuration(now - Date.parse(t));
  switch (s.Status) {
    case 'running':
    case 'paused': {
      let t = `Up ${since(s.StartedAt)}`;
      if (s.Paused) t += ' (Paused)';
      if (s.Health && s.Health.Status !== 'none') t += s.Health.Status === 'starting' ? ' (health: starting)' : ` (${s.Health.Status})`;
      return t;
    }
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return s.FinishedAt === ZERO_TIME ? 'Created' : `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    default:
      return 'Created';
  }
}

export const nowIso = (): string => goJsonTime(nowNs());
