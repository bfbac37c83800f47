/**
 * Runtime: the seam between the engine and an OCI runtime (runc here; any
 * runc-compatible binary configured with --add-runtime / daemon.json
 * "runtimes" works the same).
 *
 * Lifecycle of a container process: `create` starts a monitor that runs the
 * runtime's create (namespaces and cgroup made, no user code yet), `start`
 * lets it run, the monitor records the exit, `delete` removes the runtime's
 * state and cgroup. `exec` runs one more process in a running container,
 * under a monitor of its own.
 */
import type { Duplex } from 'node:stream';
import type { AttachFlags, Monitor } from './monitor.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  /** Monitor state directory for this run. */
  dir: string;
  log?: string;
  /** Rotate the log at this many bytes, keeping logMaxFiles files in all. */
  logMaxSize?: number;
  logMaxFiles?: number;
  oomFile?: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

export interface ExecOptions {
  id: string;
  /** The process spec file (process.json). */
  process: string;
  dir: string;
  tty: boolean;
  stdin: boolean;
  /** Connected before the process runs. */
  attach?: AttachFlags;
}

export interface RuntimeState {
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
}

export interface Runtime {
  readonly name: string;
  create(o: CreateOptions): Promise<Monitor>;
  /** Lets a created container run (through its monitor). */
  start(id: string, monitor: Monitor): Promise<void>;
  exec(o: ExecOptions): Promise<{ monitor: Monitor; stream?: Duplex }>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Removes the runtime's record and cgroup; with force, kills what is left first. Missing is fine. */
  delete(id: string, force?: boolean): Promise<void>;
  state(id: string): Promise<RuntimeState | undefined>;
}
