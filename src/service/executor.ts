/**
 * TaskExecutor: how the controller makes a task real. The engine implements
 * it with containers (engine/services.ts); the controller never touches a
 * container otherwise, so its logic runs against a fake in unit tests.
 *
 * A task's container is named `<service>.<slot>.<taskid>` and labelled
 * com.docker.swarm.{service.id,service.name,task.id,task.name,node.id}, as
 * swarm does, so `docker ps` shows them as swarm's do.
 */
import type { PortConfig, Service, Task } from './types.js';

export interface Observation {
  containerId: string;
  running: boolean;
  /** Set once the container has exited. */
  exitCode?: number;
  pid: number;
  /** 'none' when the image or spec has no healthcheck. */
  health: 'none' | 'starting' | 'healthy' | 'unhealthy';
  /** Address on each network the task is attached to: network ID → "10.89.0.5/24". */
  addresses: Record<string, string>;
  /** What went wrong (runc's message, OOM), when it ended badly. */
  error?: string;
  /** Host-mode published ports the container got (`service ps` shows them as the task's PortStatus). */
  ports?: PortConfig[];
}

export interface TaskExecutor {
  /** Creates and starts the task's container; the task fails with the thrown error's message. */
  run(task: Task, service: Service, signal?: AbortSignal): Promise<Observation>;
  /** SIGTERM (the spec's StopSignal), then SIGKILL after `graceNs`; the container stays. */
  stop(containerId: string, graceNs: number): Promise<void>;
  /** Removes the container (and its anonymous volumes); a missing one is not an error. */
  remove(containerId: string): Promise<void>;
  /** The container's state now; undefined when it is gone. */
  observe(containerId: string): Observation | undefined;
  /** Called whenever a task container starts, dies, changes health or is removed. */
  onChange(fn: (containerId: string) => void): () => void;
  /** Checks an image reference can be run (present, or pullable); throws not-found with Docker's message otherwise. */
  checkImage(ref: string, signal?: AbortSignal): Promise<void>;
  /** Every container that carries a task label, for the controller to re-adopt after a restart: task ID → container ID. */
  existing(): Map<string, string>;
}
