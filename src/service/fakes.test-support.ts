/**
 * In-memory TaskExecutor and LoadBalancer for the controller's unit tests.
 * Both write what they are asked to do into one shared `Journal`, so a test
 * can check the order of things (drained from the balancer before stopped,
 * new task started before the old one stopped).
 *
 * A task's container "runs" its command symbolically: `['exit', 'N']` exits
 * with N at once; anything else runs until killed, stopped or removed.
 */
import { conflict, internal, notFound } from '../base/errdefs.js';
import type { Observation, TaskExecutor } from './executor.js';
import type { BalancedService, LoadBalancer } from './lb/balancer.js';
import type { PortConfig, Service, Task } from './types.js';

export class Journal {
  readonly entries: string[] = [];
  push(e: string): void {
    this.entries.push(e);
  }
  index(e: string): number {
    return this.entries.indexOf(e);
  }
}

interface FakeContainer {
  id: string;
  taskId: string;
  task: Task;
  service: string;
  image: string;
  running: boolean;
  exitCode?: number;
  pid: number;
  health: Observation['health'];
  addresses: Record<string, string>;
}

export class FakeExecutor implements TaskExecutor {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set(['busybox', 'busybox:v1', 'busybox:v2', 'nginx']);
  /** Images whose containers fail to start (like a runc error). */
  readonly brokenImages = new Set<string>(['broken']);
  /** The health a new container reports (a healthcheck makes it 'starting'). */
  initialHealth: Observation['health'] = 'none';
  private readonly listeners = new Set<(cid: string) => void>();
  private next = 1;

  constructor(readonly journal = new Journal()) {}

  async run(task: Task, service: Service, signal?: AbortSignal): Promise<Observation> {
    signal?.throwIfAborted();
    const image = task.Spec.ContainerSpec.Image;
    if (!this.images.has(image) && !this.brokenImages.has(image)) throw notFound(`No such image: ${image}`);
    if (this.brokenImages.has(image)) {
      this.journal.push(`runfail ${task.ID}`);
      throw internal('OCI runtime create failed: exec: "nope": executable file not found in $PATH');
    }
    const id = `c${String(this.next++).padStart(4, '0')}`;
    const cmd = task.Spec.ContainerSpec.Command ?? [];
    const c: FakeContainer = {
      id, taskId: task.ID, task, service: service.Spec.Name, image, running: true, pid: 1000 + this.next,
      health: this.initialHealth, addresses: { net1: `10.0.0.${this.next}/24` },
    };
    this.containers.set(id, c);
    this.journal.push(`run ${task.ID} slot=${task.Slot} image=${image}`);
    if (cmd[0] === 'exit') {
      c.running = false;
      c.exitCode = Number(cmd[1] ?? 0);
      this.emit(id);
    }
    return this.observe(id)!;
  }

  async stop(containerId: string, _graceNs: number): Promise<void> {
    const c = this.containers.get(containerId);
    this.journal.push(`stop ${c?.taskId ?? containerId}`);
    if (c?.running) {
      c.running = false;
      c.exitCode = 0;
      this.emit(containerId);
    }
  }

  async remove(containerId: string): Promise<void> {
    const c = this.containers.get(containerId);
    if (!c) return;
    this.journal.push(`remove ${c.taskId}`);
    this.containers.delete(containerId);
    this.emit(containerId);
  }

  observe(containerId: string): Observation | undefined {
    const c = this.containers.get(containerId);
    if (!c) return undefined;
    return {
      containerId: c.id, running: c.running, pid: c.running ? c.pid : 0, health: c.health, addresses: { ...c.addresses },
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
    };
  }

  onChange(fn: (containerId: string) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  async checkImage(ref: string): Promise<void> {
    if (!this.images.has(ref) && !this.brokenImages.has(ref)) {
      throw notFound(`No such image: ${ref}`);
    }
  }

  existing(): Map<string, string> {
    return new Map([...this.containers.values()].map((c) => [c.taskId, c.id]));
  }

  // --- what a test does behind the controller's back

  /** The process dies (docker kill). */
  kill(containerId: string, exitCode = 137): void {
    const c = this.containers.get(containerId)!;
    c.running = false;
    c.exitCode = exitCode;
    this.emit(containerId);
  }

  /** docker rm -f */
  forceRemove(containerId: string): void {
    this.containers.delete(containerId);
    this.emit(containerId);
  }

  setHealth(containerId: string, h: Observation['health']): void {
    this.containers.get(containerId)!.health = h;
    this.emit(containerId);
  }

  /** The container of a task, if any. */
  containerOf(taskId: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.taskId === taskId);
  }

  running(): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.running);
  }

  private emit(cid: string): void {
    // the engine reports container events asynchronously (and a crash loop must not starve timers)
    setImmediate(() => {
      for (const fn of this.listeners) fn(cid);
    });
  }
}

/** Host ports shared by every FakeBalancer made with the same map, as the host's are. */
export class FakeBalancer implements LoadBalancer {
  readonly applied: BalancedService[][] = [];
  readonly vips = new Map<string, Record<string, string>>();
  private nextPort = 30000;
  private nextVip = 2;
  /** ms an apply takes (rules written), so a test can see who waits for it. */
  applyDelayMs = 0;

  constructor(readonly journal = new Journal(), readonly ports = new Map<string, string>()) {}

  async reservePorts(serviceId: string, ports: PortConfig[]): Promise<PortConfig[]> {
    const out = ports.map((p) => ({ ...p }));
    for (const p of out) {
      const key = (n: number) => `${p.Protocol ?? 'tcp'}/${n}`;
      if (p.PublishedPort) {
        const owner = this.ports.get(key(p.PublishedPort));
        if (owner && owner !== serviceId) throw conflict(`port ${p.PublishedPort}/${p.Protocol ?? 'tcp'} is already in use`);
      } else {
        while (this.ports.has(key(this.nextPort))) this.nextPort++;
        p.PublishedPort = this.nextPort;
      }
    }
    for (const [k, owner] of [...this.ports]) if (owner === serviceId) this.ports.delete(k);
    for (const p of out) this.ports.set(`${p.Protocol ?? 'tcp'}/${p.PublishedPort}`, serviceId);
    return out;
  }

  async releasePorts(serviceId: string): Promise<void> {
    for (const [k, owner] of [...this.ports]) if (owner === serviceId) this.ports.delete(k);
  }

  async allocateVips(serviceId: string, networkIds: string[], previous?: Record<string, string>): Promise<Record<string, string>> {
    const have = this.vips.get(serviceId) ?? {};
    const out: Record<string, string> = {};
    for (const n of networkIds) out[n] = have[n] ?? previous?.[n] ?? `10.0.9.${this.nextVip++}/24`;
    this.vips.set(serviceId, out);
    return out;
  }

  async releaseVips(serviceId: string): Promise<void> {
    this.vips.delete(serviceId);
  }

  async apply(services: BalancedService[]): Promise<void> {
    services = structuredClone(services);
    if (this.applyDelayMs) await new Promise((r) => setTimeout(r, this.applyDelayMs));
    this.applied.push(services);
    const backends = services.flatMap((s) => s.backends.map((b) => b.taskId)).sort();
    this.journal.push(`apply ${backends.join(',')}`);
  }

  async close(): Promise<void> {}

  /** Backends (task IDs) of the service in the last apply. */
  backends(serviceName: string): string[] {
    const last = this.applied.at(-1) ?? [];
    return (last.find((s) => s.name === serviceName)?.backends ?? []).map((b) => b.taskId).sort();
  }

  last(): BalancedService[] {
    return this.applied.at(-1) ?? [];
  }
}
