/**
 * ContainerExecutor: the TaskExecutor (service/executor.ts) on this engine's
 * containers. Each task is one container, made from the task's spec the way
 * swarm's container executor makes it:
 *
 *   name    <service>.<slot>.<task id>   (<service>.<node id>.<task id> for global services)
 *   labels  com.docker.swarm.{node.id,service.id,service.name,task,task.id,task.name} + ContainerSpec.Labels
 *   restart never by itself: the controller replaces a task that ended
 *   network the task's networks (IDs), else the default bridge; the service's
 *           name is no alias of its containers (the balancer and DNS answer for it)
 *   ports   only `PublishMode: host` ones; ingress ports belong to the balancer
 *
 * What happens to the containers afterwards reaches the controller through
 * onChange (container events of task containers) and observe (the record).
 */
import { hostname as osHostname, machine } from 'node:os';
import { EngineError, isKind, messageOf, notFound } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { familiar, parseDockerRef } from '../image/reference.js';
import type { DistributionService } from '../distribution/service.js';
import type { ContainerConfig, HostConfig, MountPoint } from '../runtime/container-config.js';
import type { EndpointConfig } from '../network/types.js';
import type { Observation, TaskExecutor } from '../service/executor.js';
import type { Service, Task } from '../service/types.js';
import type { ContainerService } from './containers/service.js';
import type { ContainerRecord } from './containers/record.js';
import { noProgress } from './progress.js';
import { DEFAULT_STOP_GRACE } from '../service/spec.js';

export const TASK_LABELS = {
  nodeId: 'com.docker.swarm.node.id',
  serviceId: 'com.docker.swarm.service.id',
  serviceName: 'com.docker.swarm.service.name',
  task: 'com.docker.swarm.task',
  taskId: 'com.docker.swarm.task.id',
  taskName: 'com.docker.swarm.task.name',
} as const;

/** Container events that change what observe() reports. */
const CHANGES = new Set(['start', 'die', 'destroy', 'oom', 'pause', 'unpause']);

/** Swarm's task (and container) name: `web.1.<task id>`; a global service's tasks carry the node ID instead of a slot. */
export function taskName(serviceName: string, task: Pick<Task, 'ID' | 'Slot' | 'NodeID'>): string {
  return `${serviceName}.${task.Slot ? task.Slot : task.NodeID}.${task.ID}`;
}

export class ContainerExecutor implements TaskExecutor {
  constructor(
    private readonly containers: ContainerService,
    private readonly distribution: DistributionService | undefined,
    private readonly log: Logger,
  ) {}

  async run(task: Task, service: Service, signal?: AbortSignal): Promise<Observation> {
    const { name, config, hostConfig, endpoints } = containerFor(task, service);
    signal?.throwIfAborted();
    const { Id } = await this.containers.create({ name, config, hostConfig, endpoints });
    try {
      signal?.throwIfAborted();
      await this.containers.start(Id);
    } catch (e) {
      // The controller only learns a container ID from a successful run: a failed one goes now.
      await this.containers.remove(Id, { force: true, volumes: true }).catch((err: unknown) => this.log.warn({ id: Id, err }, 'removing the container of a task that failed to start'));
      throw e;
    }
    const o = this.observe(Id);
    if (!o) throw new EngineError('internal', `the container of task ${task.ID} was removed as it started`);
    return o;
  }

  async stop(containerId: string, graceNs: number): Promise<void> {
    const timeout = Math.max(0, Math.ceil(graceNs / 1e9));
    try {
      await this.containers.stop(containerId, { timeout });
    } catch (e) {
      if (isKind(e, 'not-found') || isKind(e, 'not-modified')) return;
      throw e;
    }
  }

  async remove(containerId: string): Promise<void> {
    try {
      await this.containers.remove(containerId, { force: true, volumes: true });
    } catch (e) {
      if (isKind(e, 'not-found')) return;
      throw e;
    }
  }

  observe(containerId: string): Observation | undefined {
    const c = this.containers.store.get(containerId);
    return c ? observation(c) : undefined;
  }

  onChange(fn: (containerId: string) => void): () => void {
    return this.containers.events.subscribe((e) => {
      if (e.Type !== 'container' || !e.Actor.Attributes[TASK_LABELS.taskId]) return;
      if (CHANGES.has(e.Action) || e.Action.startsWith('health_status')) fn(e.Actor.ID);
    });
  }

  async checkImage(ref: string, signal?: AbortSignal): Promise<void> {
    try {
      this.containers.images.resolve(ref);
      return;
    } catch (e) {
      if (!isKind(e, 'not-found') || !this.distribution) throw e;
    }
    // Not here: pulled like `docker run` would (a bare name means :latest, not every tag).
    let shown = ref;
    try {
      const r = parseDockerRef(ref);
      shown = familiar(r);
      const named = familiar({ domain: r.domain, path: r.path });
      await this.distribution.pull(named, r.digest ?? r.tag, { signal, progress: noProgress });
      this.containers.images.resolve(ref);
    } catch (e) {
      if (signal?.aborted) throw e;
      this.log.debug({ image: ref, err: messageOf(e) }, 'pulling a service image failed');
      throw notFound(`No such image: ${shown}`, e);
    }
  }

  existing(): Map<string, string> {
    const out = new Map<string, string>();
    for (const c of this.containers.store.all()) {
      const t = c.config.Labels?.[TASK_LABELS.taskId];
      if (t) out.set(t, c.id);
    }
    return out;
  }
}

/** What observe() reports for a container record. */
export function observation(c: ContainerRecord): Observation {
  const addresses: Record<string, string> = {};
  for (const cn of Object.values(c.networks ?? {})) if (cn.endpoint?.ipv4) addresses[cn.networkId] = `${cn.endpoint.ipv4}/${cn.endpoint.prefixLen}`;
  const running = c.state.Running || c.state.Restarting;
  const ended = !running && c.hasBeenStarted && (c.state.Status === 'exited' || c.state.Status === 'dead');
  const o: Observation = {
    containerId: c.id,
    running,
    pid: c.state.Pid,
    health: c.state.Health?.Status ?? 'none',
    addresses,
  };
  if (ended) o.exitCode = c.state.ExitCode;
  const error = c.state.OOMKilled ? 'OOM killed' : c.state.Error;
  if (error) o.error = error;
  // A task container publishes only its host-mode ports (ingress ones are the balancer's).
  if (running && c.ports?.length)
    o.ports = c.ports.map((m) => ({ Protocol: m.proto, TargetPort: m.containerPort, PublishedPort: m.hostPort, PublishMode: 'host' }));
  return o;
}

/** The container a task runs as: swarm's container executor's mapping of a TaskSpec. */
export function containerFor(task: Task, service: Service): { name: string; config: ContainerConfig; hostConfig: HostConfig; endpoints?: Record<string, EndpointConfig> } {
  const spec = task.Spec;
  const cs = spec.ContainerSpec;
  const svcName = service.Spec.Name;
  const name = taskName(svcName, task);
  const expand = templater(task, service, name);
  const labels: Record<string, string> = {
    ...(cs.Labels ?? {}),
    [TASK_LABELS.nodeId]: task.NodeID,
    [TASK_LABELS.serviceId]: service.ID,
    [TASK_LABELS.serviceName]: svcName,
    [TASK_LABELS.task]: '',
    [TASK_LABELS.taskId]: task.ID,
    [TASK_LABELS.taskName]: name,
  };
  const config: ContainerConfig = {
    Image: cs.Image,
    Labels: labels,
    Tty: !!cs.TTY,
    OpenStdin: !!cs.OpenStdin,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
  };
  if (cs.Command?.length) config.Entrypoint = cs.Command;
  if (cs.Args?.length) config.Cmd = cs.Args;
  else if (cs.Command?.length) config.Cmd = []; // swarm: a Command without Args runs without the image's CMD
  if (cs.Env?.length) config.Env = cs.Env.map(expand);
  if (cs.Dir) config.WorkingDir = cs.Dir;
  if (cs.User) config.User = cs.User;
  if (cs.Hostname) config.Hostname = expand(cs.Hostname);
  if (cs.StopSignal) config.StopSignal = cs.StopSignal;
  config.StopTimeout = Math.ceil((cs.StopGracePeriod ?? DEFAULT_STOP_GRACE) / 1e9);
  if (cs.Healthcheck) config.Healthcheck = { ...cs.Healthcheck };

  const hc: HostConfig = { RestartPolicy: { Name: 'no' } };
  if (cs.ReadOnly) hc.ReadonlyRootfs = true;
  if (cs.Init !== undefined && cs.Init !== null) hc.Init = cs.Init;
  if (cs.Mounts?.length) hc.Mounts = cs.Mounts.map((m) => ({ ...m, Source: m.Source === undefined ? undefined : expand(m.Source) }) as MountPoint);
  if (cs.Hosts?.length) hc.ExtraHosts = extraHosts(cs.Hosts);
  if (cs.DNSConfig?.Nameservers?.length) hc.Dns = cs.DNSConfig.Nameservers;
  if (cs.DNSConfig?.Search?.length) hc.DnsSearch = cs.DNSConfig.Search;
  if (cs.DNSConfig?.Options?.length) hc.DnsOptions = cs.DNSConfig.Options;
  if (cs.Sysctls && Object.keys(cs.Sysctls).length) hc.Sysctls = cs.Sysctls;
  if (cs.CapabilityAdd?.length) hc.CapAdd = cs.CapabilityAdd;
  if (cs.CapabilityDrop?.length) hc.CapDrop = cs.CapabilityDrop;
  if (cs.Ulimits?.length) hc.Ulimits = cs.Ulimits;
  if (cs.Groups?.length) hc.GroupAdd = cs.Groups;
  const lim = spec.Resources?.Limits;
  if (lim?.NanoCPUs) hc.NanoCpus = lim.NanoCPUs;
  if (lim?.MemoryBytes) hc.Memory = lim.MemoryBytes;
  if (lim?.Pids) hc.PidsLimit = lim.Pids;
  const res = spec.Resources?.Reservations;
  if (res?.MemoryBytes) hc.MemoryReservation = res.MemoryBytes;
  if (spec.LogDriver?.Name) hc.LogConfig = { Type: spec.LogDriver.Name, Config: spec.LogDriver.Options ?? {} };
  // TaskSpec.Runtime is swarm's kind of task ("container", "plugin"), not an OCI runtime: the daemon's default runs it.

  // Host-mode published ports are the container's own; ingress ones the balancer's.
  const hostPorts = (service.Endpoint?.Ports ?? service.Spec.EndpointSpec?.Ports ?? []).filter((p) => p.PublishMode === 'host');
  if (hostPorts.length) {
    hc.PortBindings = {};
    config.ExposedPorts = {};
    for (const p of hostPorts) {
      const key = `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
      config.ExposedPorts[key] = {};
      (hc.PortBindings[key] ??= []).push({ HostIp: '', HostPort: p.PublishedPort ? String(p.PublishedPort) : '' });
    }
  }

  const nets = spec.Networks ?? [];
  let endpoints: Record<string, EndpointConfig> | undefined;
  if (nets.length) {
    hc.NetworkMode = nets[0]!.Target;
    endpoints = {};
    for (const n of nets) endpoints[n.Target] = { Aliases: (n.Aliases ?? []).filter((a) => a !== svcName), ...(n.DriverOpts ? { DriverOpts: n.DriverOpts } : {}) };
  } else hc.NetworkMode = 'bridge';
  return { name, config, hostConfig: hc, ...(endpoints ? { endpoints } : {}) };
}

/**
 * ContainerSpec.Hosts is "IP host [alias...]" (/etc/hosts order); a container's
 * ExtraHosts is "host:IP". Docker's older "host:IP" form is taken as it is.
 */
export function extraHosts(hosts: string[]): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const parts = h.trim().split(/\s+/);
    if (parts.length >= 2) for (const name of parts.slice(1)) out.push(`${name}:${parts[0]}`);
    else if (parts[0]) out.push(parts[0]);
  }
  return out;
}

/**
 * Swarm's placeholders in Hostname, Env and mount sources: {{.Service.Name}},
 * {{.Task.Slot}}, {{.Node.Hostname}}, ... (the common fields of its Go templates).
 */
function templater(task: Task, service: Service, name: string): (s: string) => string {
  const values: Record<string, string> = {
    'Service.ID': service.ID,
    'Service.Name': service.Spec.Name,
    'Node.ID': task.NodeID,
    'Node.Hostname': osHostname(),
    'Node.Platform.OS': 'linux',
    'Node.Platform.Architecture': machine(), // as the node's Description.Platform shows it (x86_64, aarch64)
    'Task.ID': task.ID,
    'Task.Name': name,
    'Task.Slot': String(task.Slot ? task.Slot : task.NodeID),
  };
  return (s) => (s.includes('{{') ? s.replace(/\{\{\s*\.([A-Za-z.]+)\s*\}\}/g, (m, k: string) => values[k] ?? m) : s);
}
