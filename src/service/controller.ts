/**
 * The service controller: swarm's orchestrator, allocator, scheduler and
 * agent in one, for a single node. It keeps every service's tasks matching
 * the service's desired state and records what happened to them as swarm
 * does, so `docker service ps` reads the same.
 *
 * Parts:
 *   - reconcile (per service, serialised): keeps Replicas slots filled with
 *     tasks (keptSlots), decides restarts by the restart policy, scales down
 *     by removing the least settled tasks (not running, then the newest),
 *     trims task history;
 *   - agent (per task, serialised): runs a task whose DesiredState is
 *     running through the TaskExecutor (new → pending → assigned → accepted →
 *     preparing → starting → running), notices its end (complete / failed /
 *     "task: container removed"), and stops one whose DesiredState is
 *     shutdown, after taking it out of the balancer (drain);
 *   - placement (placement.ts): a task is scheduled on the node only when
 *     the node is active and meets the task's constraints; until then it
 *     stays pending with swarm's "no suitable node (…)" error. A node that
 *     drains, or no longer meets a running task's constraints, has that
 *     task shut down, and its slot waits (pending) for the node;
 *   - updater (updater.ts): rolling updates and rollbacks;
 *   - balancer: after each change the balancer is told every service's
 *     backends (running, healthy or without healthcheck, accepting TCP on
 *     the service's target ports, not being stopped).
 *
 * State: everything that matters is in the ClusterStore; the maps here are
 * a cache fed by the store's watch, plus timers and restart counters that
 * swarm keeps in memory too. After a restart `start()` re-adopts the task
 * containers the executor still has and carries on.
 *
 *   const c = new Controller(store, executor, balancer, { nodeId, log });
 *   await c.start();
 *   const svc = await c.createService({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { Coalesced } from '../base/coalesce.js';
import { conflict, EngineError, invalid, isKind, messageOf, notFound } from '../base/errdefs.js';
import { KeyedLock } from '../base/keyed-lock.js';
import type { Logger } from '../base/log.js';
import type { ClusterStore, Kinds, Op, StoreEvent } from './cluster-store.js';
import type { Observation, TaskExecutor } from './executor.js';
import type { BalancedService, Backend, LoadBalancer } from './lb/balancer.js';
import { mustLeave, unschedulableReason } from './placement.js';
import {
  isGlobal, networksOf, normalizeSpec, replicasOf, restartPolicyOf, stopGraceOf, taskSpecsDiffer, validateSpec,
} from './spec.js';
import { OUT_OF_SEQUENCE } from './store-common.js';
import { isEnded, stateIndex, type Node, type PortConfig, type Service, type ServiceSpec, type Task, type TaskState } from './types.js';
import { holdsSlot, isLiveDesired, Updater, type UpdaterHost } from './updater.js';

export interface ControllerOptions {
  nodeId: string;
  log: Logger;
  /** swarm's TaskHistoryRetentionLimit (default 5): ended tasks kept per slot. */
  historyLimit?: number;
  /** The readiness gate's check that ip:port accepts a TCP connection (default: node:net connect, 250 ms timeout). */
  probe?: (ip: string, port: number) => Promise<boolean>;
  /** ms between full passes over every service and task, the safety net under the event-driven work (default 1000). */
  resyncMs?: number;
  /**
   * Connections a task still has on the given ports (TCP, not yet finished:
   * being set up, open, or closing with data unacknowledged); the drain waits
   * for them before SIGTERM. Default: its sockets (/proc/<pid>/net/tcp{,6},
   * in its namespace) and the daemon's connection tracking toward its
   * addresses (a SYN DNATed to it that has not reached it yet).
   */
  connections?: (pid: number, ports: number[], ips: string[]) => Promise<number>;
}

/** `bytes` random bytes in base 36, padded to `width` characters of [a-z0-9] (swarm's IDs and token parts). */
export const randomBase36 = (bytes: number, width: number): string => BigInt('0x' + randomBytes(bytes).toString('hex')).toString(36).padStart(width, '0');

/** Swarm's object IDs: 128 random bits in base 36, 25 characters. */
export const newId = (): string => randomBase36(16, 25);

const now = () => new Date().toISOString();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/** The address part of "10.0.0.5/24". */
const ipOf = (cidr: string) => cidr.split('/')[0]!;

/**
 * Restart delay when the spec sets none. Swarm's default is 5 s (the docker
 * CLI sends no delay unless --restart-delay is given); Pier restarts a task
 * that ends at once, and backs off (100 ms, doubling, at most 10 s) only
 * while the slot keeps failing within 10 s of starting, so a killed replica
 * is back in well under 2 s and a crash loop does not spin.
 */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const QUICK_FAILURE_MS = 10_000;

function restartDelay(quickFailures: number): number {
  if (quickFailures <= 0) return 0;
  return Math.min(BACKOFF_FIRST_MS * 2 ** (quickFailures - 1), BACKOFF_MAX_MS);
}

async function tcpProbe(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port, timeout: 250 });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}

/**
 * Drain: after a task leaves the balancer, connections that reached it just
 * before (a SYN already DNATed to it, a request being answered) get time to
 * finish before SIGTERM, which many servers answer by dropping everything.
 * DRAIN_SETTLE_MS covers a SYN in flight; then the controller waits while
 * the task has connections on the service's ports — its own sockets, and
 * for published ports the host's conntrack entries DNATed to it (a SYN still
 * on its way, which a busy host may hold longer than the settle time: sent
 * to a stopped container it would get no answer at all), at most DRAIN_MAX_MS
 * (less when the stop grace period is shorter): idle keep-alive connections
 * would otherwise hold a stop forever.
 */
const DRAIN_SETTLE_MS = 100;
const DRAIN_MAX_MS = 2_000;

/** The task's open connections: its sockets, and the host's tracked connections DNATed to it. */
async function liveConnections(pid: number, ports: number[], ips: string[]): Promise<number> {
  return (await procConnections(pid, ports)) + (await conntrackToward(ips, ports));
}

/**
 * Tracked TCP connections of this network namespace (the daemon's: where
 * published ports are DNATed) whose reply comes from one of `ips` on one of
 * `ports`, and that are being set up or established.
 */
async function conntrackToward(ips: string[], ports: number[]): Promise<number> {
  if (!ips.length) return 0;
  let text: string;
  try {
    text = await readFile('/proc/net/nf_conntrack', 'utf8');
  } catch {
    return 0; // no conntrack here
  }
  return countConntrack(text, ips, ports);
}

/** In /proc/net/nf_conntrack's text: TCP entries not yet finished (set up, open or closing) whose reply comes from ips:ports. */
export function countConntrack(text: string, ips: string[], ports: number[]): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!/ tcp /.test(line) || !/ (SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK) /.test(line)) continue;
    // The second src=/sport= pair is the reply direction: the backend's address and port.
    const src = [...line.matchAll(/ src=(\S+)/g)][1]?.[1];
    const sport = [...line.matchAll(/ sport=(\d+)/g)][1]?.[1];
    if (src && sport && ips.includes(src) && ports.includes(Number(sport))) n++;
  }
  return n;
}

/**
 * /proc/net/tcp states of a connection the task still owes something: being
 * set up (SYN_RECV 03), open (ESTABLISHED 01, CLOSE_WAIT 08), or closed by
 * the server with its last data or FIN not yet acknowledged (FIN_WAIT1 04,
 * CLOSING 0B, LAST_ACK 09). A task stopped then could take the answer with
 * it: packets still queued toward the bridge are dropped when its veth goes,
 * and the client would hear nothing at all. FIN_WAIT2 and TIME_WAIT are done.
 */
const OWING = new Set([0x01, 0x03, 0x04, 0x08, 0x09, 0x0b]);

/** TCP sockets on the local ports that still owe their client something (OWING), from the namespace of `pid`. */
async function procConnections(pid: number, ports: number[]): Promise<number> {
  let n = 0;
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue; // the process is gone, or no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const port = parseInt(cols[1]!.split(':').pop()!, 16);
      const st = parseInt(cols[3]!, 16);
      if (OWING.has(st) && ports.includes(port)) n++;
    }
  }
  return n;
}

/**
 * The slots a replicated service keeps, n at most. A slot is taken while a
 * task holds it or while its task is being replaced (desired shutdown, still
 * live). With more taken slots than replicas (a scale-down), the ones given up
 * are those whose task is least settled — not running first (pending,
 * starting, unhealthy), then the newest — as Kubernetes and swarm prefer; with
 * fewer, a slot whose task is being replaced is refilled first, then the
 * lowest free numbers are taken (a slot being removed is not free until its
 * task has ended).
 */
export function keptSlots(tasks: readonly Task[], n: number): Set<number> {
  const live = (t: Task) => !isEnded(t.Status.State);
  const bySlot = new Map<number, Task[]>();
  for (const t of tasks) bySlot.set(t.Slot, [...(bySlot.get(t.Slot) ?? []), t]);
  const taken: { slot: number; running: boolean; created: string }[] = [];
  const refill: number[] = [];
  const busy = new Set<number>();
  for (const [slot, ts] of bySlot) {
    const holders = ts.filter(holdsSlot);
    const replaced = ts.filter((t) => t.DesiredState === 'shutdown');
    if (holders.length || replaced.some(live)) {
      const newest = [...(holders.length ? holders : replaced)].sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt))[0]!;
      taken.push({ slot, running: holders.some((t) => t.Status.State === 'running'), created: newest.CreatedAt });
    } else if (ts.some(live)) busy.add(slot); // being removed
    else if (replaced.length && !ts.some((t) => t.DesiredState === 'remove')) refill.push(slot);
  }
  // Keep the running ones, then the oldest, then the lowest slot numbers.
  taken.sort((a, b) => Number(b.running) - Number(a.running) || a.created.localeCompare(b.created) || a.slot - b.slot);
  const keep = new Set(taken.slice(0, n).map((x) => x.slot));
  for (const slot of refill.sort((a, b) => a - b)) if (keep.size < n) keep.add(slot);
  for (let slot = 1; keep.size < n; slot++) if (!keep.has(slot) && !busy.has(slot) && !bySlot.get(slot)?.some((t) => t.DesiredState === 'remove' && live(t))) keep.add(slot);
  return keep;
}

interface SlotHistory {
  /** Quick failures in a row (ran < 10 s), for the backoff when no delay is set. */
  quick: number;
  /** When the slot's task was restarted (ms), for MaxAttempts within Window. */
  restarts: number[];
  /** The template those restarts were of: a new spec starts the count again, as in swarm. */
  spec: string;
}

interface RunningUpdate {
  abort: AbortController;
  done: Promise<void>;
}

export class Controller {
  private readonly log: Logger;
  private readonly historyLimit: number;
  private readonly probe: (ip: string, port: number) => Promise<boolean>;
  private readonly services = new Map<string, Service>();
  private readonly tasks = new Map<string, Task>();
  private readonly serviceLock = new KeyedLock();
  private readonly taskLock = new KeyedLock();
  private readonly createLock = new KeyedLock();
  private readonly reconcileQueued = new Set<string>();
  private readonly syncQueued = new Set<string>();
  private readonly updates = new Map<string, RunningUpdate>();
  private readonly removing = new Set<string>();
  private readonly slotHistory = new Map<string, SlotHistory>();
  private readonly runningSince_ = new Map<string, number>();
  private readonly delayTimers = new Map<string, NodeJS.Timeout>();
  private readonly ready = new Set<string>();
  private readonly probing = new Set<string>();
  private readonly runs = new Map<string, AbortController>();
  private readonly waiters = new Set<() => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private resync?: NodeJS.Timeout;
  private started = false;
  private closed = false;
  /** Balancer passes: one at a time, requests made during one share the next. */
  private readonly lbPasses = new Coalesced(() => this.lbPass());
  /** The state last given to the balancer, so an unchanged one is not given again. */
  private lbLast = '';
  /** This node as stored (availability, labels, role), kept current by the store's watch. */
  private node?: Node;

  constructor(
    private readonly store: ClusterStore,
    private readonly exec: TaskExecutor,
    private readonly lb: LoadBalancer,
    private readonly o: ControllerOptions,
  ) {
    this.log = o.log.child({ component: 'service-controller' });
    this.historyLimit = o.historyLimit ?? 5;
    this.probe = o.probe ?? tcpProbe;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Re-adopts existing task containers (exec.existing()), then reconciles every service, and keeps doing so. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(this.store.watch((e) => this.onStoreEvent(e)));
    this.unsubscribe.push(this.exec.onChange((cid) => this.onContainer(cid)));
    for (const s of await this.store.list('service')) this.cache('service', s);
    for (const t of await this.store.list('task')) this.cache('task', t);
    this.node = await this.store.get('node', this.o.nodeId);

    // Re-adopt: the executor knows which containers carry which task.
    const existing = this.exec.existing();
    for (const t of [...this.tasks.values()]) {
      const cid = existing.get(t.ID) ?? t.Status.ContainerStatus?.ContainerID;
      if (isEnded(t.Status.State) || !this.services.has(t.ServiceID)) continue;
      if (cid && !t.Status.ContainerStatus?.ContainerID) {
        // Died between creating the container and recording it: record it now.
        await this.mutateTask(t.ID, (x) => ({ ...x, Status: { ...x.Status, ContainerStatus: { ContainerID: cid, PID: 0, ExitCode: 0 } } }));
      } else if (!cid && stateIndex(t.Status.State) >= stateIndex('starting')) {
        await this.endTask(t.ID, 'failed', { err: 'task: container removed' });
      }
      const obs = cid ? this.exec.observe(cid) : undefined;
      if (obs?.running) this.runningSince_.set(t.ID, Date.now());
    }
    for (const [taskId, cid] of existing) {
      const t = this.tasks.get(taskId);
      if (!t || !this.services.has(t.ServiceID)) {
        this.log.info({ task: taskId, container: cid }, 'removing the container of a task that no longer exists');
        await this.exec.remove(cid).catch((e) => this.log.warn({ container: cid, err: e }, 'could not remove orphaned task container'));
      }
    }
    // The balancer starts empty: take the services' ports and VIPs again.
    for (const s of [...this.services.values()]) {
      const ingress = (s.Endpoint.Ports ?? []).filter(isIngress);
      if (ingress.length) {
        await this.lb.reservePorts(s.ID, ingress).catch((e) => this.log.error({ service: s.Spec.Name, err: e }, 'could not take the service ports again'));
      }
      const nets = networksOf(s.Spec).map((n) => n.Target);
      if ((s.Spec.EndpointSpec?.Mode ?? 'vip') === 'vip' && nets.length) {
        try {
          const list = vipList(await this.lb.allocateVips(s.ID, nets, vipMap(s.Endpoint.VirtualIPs)));
          if (JSON.stringify(list) !== JSON.stringify(s.Endpoint.VirtualIPs ?? [])) {
            await this.mutateService(s.ID, (x) => ({ ...x, Endpoint: { ...x.Endpoint, VirtualIPs: list } }));
          }
        } catch (e) {
          this.log.error({ service: s.Spec.Name, err: e }, 'could not take the service VIPs again');
        }
      }
    }
    for (const s of this.services.values()) {
      const st = s.UpdateStatus?.State;
      if (st === 'updating' || st === 'rollback_started') this.startUpdate(s.ID);
    }
    this.resyncAll();
    this.resync = setInterval(() => this.resyncAll(), this.o.resyncMs ?? 1000);
    this.resync.unref?.();
    this.log.info({ services: this.services.size, tasks: this.tasks.size }, 'service controller started');
  }

  /** Stops the loop and timers; leaves containers running (the daemon may restart and re-adopt them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.resync) clearInterval(this.resync);
    for (const t of this.delayTimers.values()) clearTimeout(t);
    this.delayTimers.clear();
    for (const u of this.unsubscribe.splice(0)) u();
    for (const u of this.updates.values()) u.abort.abort();
    for (const r of this.runs.values()) r.abort();
    await Promise.all([...this.updates.values()].map((u) => u.done.catch(() => undefined)));
    this.notify();
    await Promise.all([this.serviceLock.idle(), this.taskLock.idle()]);
    await this.lbPasses.settled();
  }

  // ---------------------------------------------------------------- API

  /** Validates, checks name, image, ports and VIPs, stores the service and starts its tasks. */
  async createService(input: ServiceSpec): Promise<Service> {
    const named = input && typeof input === 'object' && !input.Name ? { ...input, Name: `service_${newId().slice(0, 10)}` } : input;
    validateSpec(named);
    const spec = normalizeSpec(named);
    return this.createLock.run('create', async () => {
      for (const s of await this.store.list('service')) {
        if (s.Spec.Name === spec.Name) throw conflict(`service ${spec.Name} already exists`);
      }
      await this.exec.checkImage(spec.TaskTemplate.ContainerSpec.Image);
      const id = newId();
      const { ingress, host } = splitPorts(spec.EndpointSpec?.Ports ?? []);
      const reserved = ingress.length ? await this.lb.reservePorts(id, ingress) : [];
      let vips: Record<string, string> = {};
      try {
        const nets = networksOf(spec).map((n) => n.Target);
        if (spec.EndpointSpec?.Mode !== 'dnsrr' && nets.length) vips = await this.lb.allocateVips(id, nets);
        const ports = [...reserved, ...host];
        const svc: Service = {
          ID: id,
          Version: { Index: 0 },
          CreatedAt: now(),
          UpdatedAt: now(),
          Spec: spec,
          Endpoint: {
            Spec: spec.EndpointSpec ?? { Mode: 'vip' },
            ...(ports.length ? { Ports: ports } : {}),
            ...(Object.keys(vips).length ? { VirtualIPs: vipList(vips) } : {}),
          },
        };
        const stored = await this.store.put('service', svc, { expect: 0 });
        this.cache('service', stored);
        this.log.info({ service: spec.Name, id, replicas: replicasOf(spec) }, 'service created');
        this.scheduleReconcile(id);
        return stored;
      } catch (e) {
        await this.lb.releasePorts(id).catch(() => undefined);
        await this.lb.releaseVips(id).catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * `ref` is an ID, name or ID prefix; `version` is the Version.Index the client read (stale: conflict "update
   * out of sequence"). With rollback the previous spec comes back (and the
   * current one becomes the previous). A change of replicas alone scales;
   * a change to the task template starts a rolling update.
   */
  async updateService(ref: string, version: number, input: ServiceSpec, o: { rollback?: boolean } = {}): Promise<{ Warnings: string[] }> {
    const svc = await this.getService(ref);
    if (this.removing.has(svc.ID)) throw conflict(`service ${svc.Spec.Name} is being removed`);
    if (svc.Version.Index !== version) throw conflict(OUT_OF_SEQUENCE);
    let spec: ServiceSpec;
    if (o.rollback) {
      if (!svc.PreviousSpec) throw invalid(`service ${svc.ID} does not have a previous spec`);
      spec = svc.PreviousSpec;
    } else {
      validateSpec(input);
      spec = normalizeSpec(input);
    }
    if (spec.Name !== svc.Spec.Name) throw invalid(`renaming services is not supported (service ${svc.Spec.Name}, new name ${spec.Name})`);
    if (isGlobal(spec) !== isGlobal(svc.Spec)) throw invalid('service mode change is not allowed: remove the service and create it again');
    if (spec.TaskTemplate.ContainerSpec.Image !== svc.Spec.TaskTemplate.ContainerSpec.Image) {
      await this.exec.checkImage(spec.TaskTemplate.ContainerSpec.Image);
    }

    // Ports: keep the ones a PublishedPort 0 was given, so an update does not move them.
    const { ingress, host } = splitPorts(spec.EndpointSpec?.Ports ?? []);
    const held = svc.Endpoint.Ports ?? [];
    for (const p of ingress) {
      if (p.PublishedPort) continue;
      const same = held.find((h) => h.TargetPort === p.TargetPort && (h.Protocol ?? 'tcp') === (p.Protocol ?? 'tcp') && isIngress(h));
      if (same?.PublishedPort) p.PublishedPort = same.PublishedPort;
    }
    const oldIngress = held.filter(isIngress);
    const portsChanged = portKeys(oldIngress) !== portKeys(ingress);
    let ports = held;
    if (portsChanged) ports = [...(ingress.length ? await this.lb.reservePorts(svc.ID, ingress) : []), ...host];
    else ports = [...oldIngress, ...host];
    const undoPorts = async () => {
      if (portsChanged) await this.lb.reservePorts(svc.ID, oldIngress).catch(() => undefined);
    };
    try {
      let vips = svc.Endpoint.VirtualIPs ?? [];
      const nets = networksOf(spec).map((n) => n.Target);
      const oldNets = networksOf(svc.Spec).map((n) => n.Target);
      const vipMode = spec.EndpointSpec?.Mode !== 'dnsrr';
      if (JSON.stringify(nets) !== JSON.stringify(oldNets) || vipMode !== (svc.Spec.EndpointSpec?.Mode !== 'dnsrr')) {
        if (vipMode && nets.length) {
          vips = vipList(await this.lb.allocateVips(svc.ID, nets, vipMap(vips)));
        } else {
          await this.lb.releaseVips(svc.ID);
          vips = [];
        }
      }
      // Any live task that does not match the new template (also left over from a paused update) makes it a rolling update.
      const dirty =
        taskSpecsDiffer(svc.Spec.TaskTemplate, spec.TaskTemplate) ||
        this.tasksOf(svc.ID).some((t) => holdsSlot(t) && taskSpecsDiffer(t.Spec, spec.TaskTemplate));
      const next: Service = {
        ...svc,
        Spec: spec,
        PreviousSpec: svc.Spec,
        Endpoint: {
          Spec: spec.EndpointSpec ?? { Mode: 'vip' },
          ...(ports.length ? { Ports: ports } : {}),
          ...(vips.length ? { VirtualIPs: vips } : {}),
        },
      };
      delete next.UpdateStatus;
      delete next.ServiceStatus;
      if (dirty) {
        next.UpdateStatus = o.rollback
          ? { State: 'rollback_started', StartedAt: now(), Message: 'manually requested rollback' }
          : { State: 'updating', StartedAt: now(), Message: 'update in progress' };
      }
      const stored = await this.store.put('service', next, { expect: version });
      this.cache('service', stored);
      this.log.info({ service: spec.Name, rollback: !!o.rollback, rolling: dirty, replicas: replicasOf(spec) }, 'service updated');
      if (dirty) this.startUpdate(svc.ID);
      else void this.stopUpdate(svc.ID);
      this.scheduleReconcile(svc.ID);
      this.requestLb();
      return { Warnings: [] };
    } catch (e) {
      await undoPorts();
      throw e;
    }
  }

  /** Stops (draining) and removes all its task containers, releases ports and VIPs, deletes service and tasks; cancels an update in progress. */
  async removeService(ref: string): Promise<void> {
    const svc = await this.getService(ref);
    const id = svc.ID;
    if (this.removing.has(id)) throw conflict(`service ${svc.Spec.Name} is already being removed`);
    this.removing.add(id);
    const log = this.log.child({ service: svc.Spec.Name });
    try {
      await this.stopUpdate(id);
      // The service goes first: from here no reconcile makes tasks for it, and a daemon that dies
      // now finds tasks without a service on restart and cleans them up.
      await this.serviceLock.run(id, async () => {
        for (let attempt = 0; ; attempt++) {
          const current = await this.store.get('service', id);
          const tasks = (await this.store.list('task')).filter((t) => t.ServiceID === id);
          const ops: Op[] = [];
          if (current) ops.push({ op: 'delete', kind: 'service', id, expect: current.Version.Index });
          for (const t of tasks) {
            if (holdsSlot(t)) {
              ops.push({ op: 'put', kind: 'task', obj: { ...t, DesiredState: 'shutdown' }, expect: t.Version.Index });
            }
          }
          try {
            await this.store.txn(ops);
            this.services.delete(id);
            break;
          } catch (e) {
            if (!isKind(e, 'conflict') || attempt > 20) throw e;
          }
        }
      });
      await this.applyLb();
      await this.removeTasks(this.tasksOf(id), log);
      // Anything the executor still has of this service (a run that was in flight).
      const ids = new Set(this.tasksOf(id).map((t) => t.ID));
      for (const [taskId, cid] of this.exec.existing()) {
        if (ids.has(taskId)) await this.exec.remove(cid).catch(() => undefined);
      }
      await this.lb.releasePorts(id);
      await this.lb.releaseVips(id);
      log.info('service removed');
    } finally {
      this.removing.delete(id);
    }
  }

  /** By full ID, name, or unique ID prefix (docker's order); "service REF not found". */
  async getService(ref: string): Promise<Service> {
    if (!ref) throw invalid('service name or ID cannot be empty');
    const all = await this.store.list('service');
    const hit = all.find((s) => s.ID === ref) ?? all.find((s) => s.Spec.Name === ref);
    if (hit) return hit;
    const prefixed = all.filter((s) => s.ID.startsWith(ref));
    if (prefixed.length > 1) throw invalid(`service ${ref} is ambiguous (${prefixed.length} matches found)`);
    if (prefixed.length === 1) return prefixed[0]!;
    throw notFound(`service ${ref} not found`);
  }

  async listServices(): Promise<Service[]> {
    return this.store.list('service');
  }

  async listTasks(): Promise<Task[]> {
    return this.store.list('task');
  }

  /** Full ID or unique prefix; "task REF not found". */
  async getTask(ref: string): Promise<Task> {
    if (!ref) throw invalid('task ID cannot be empty');
    const direct = await this.store.get('task', ref);
    if (direct) return direct;
    const hits = (await this.store.list('task')).filter((t) => t.ID.startsWith(ref));
    if (hits.length > 1) throw invalid(`task ${ref} is ambiguous (${hits.length} matches found)`);
    if (hits.length === 1) return hits[0]!;
    throw notFound(`task ${ref} not found`);
  }

  /** One service's running, desired and completed tasks. */
  async status(serviceId: string): Promise<{ RunningTasks: number; DesiredTasks: number; CompletedTasks: number }> {
    const svc = await this.store.get('service', serviceId);
    if (!svc) throw notFound(`service ${serviceId} not found`);
    return (await this.statuses([svc])).get(svc.ID)!;
  }

  /** For `service ls`: each service's running, desired and completed tasks, from one read of the tasks. */
  async statuses(services: readonly Service[]): Promise<Map<string, { RunningTasks: number; DesiredTasks: number; CompletedTasks: number }>> {
    const out = new Map(services.map((s) => [s.ID, { RunningTasks: 0, DesiredTasks: replicasOf(s.Spec), CompletedTasks: 0 }]));
    for (const t of await this.store.list('task')) {
      const c = out.get(t.ServiceID);
      if (!c) continue;
      if (t.Status.State === 'running' && t.DesiredState === 'running') c.RunningTasks++;
      if (t.DesiredState === 'complete' && t.Status.State === 'complete') c.CompletedTasks++;
    }
    return out;
  }

  // ---------------------------------------------------------------- cache and events

  private cache(kind: 'service' | 'task', obj: Service | Task): void {
    const map = (kind === 'service' ? this.services : this.tasks) as Map<string, Service | Task>;
    const have = map.get(obj.ID);
    if (have && have.Version.Index > obj.Version.Index) return;
    map.set(obj.ID, obj);
  }

  private onStoreEvent(e: StoreEvent): void {
    if (this.closed) return;
    if (e.kind === 'node' && e.obj.ID === this.o.nodeId) {
      // Availability, labels or role changed: every task may now go, or may now be scheduled.
      this.node = e.action === 'delete' ? undefined : (e.obj as Node);
      this.resyncAll();
      return;
    }
    if (e.kind === 'service') {
      if (e.action === 'delete') this.services.delete(e.obj.ID);
      else this.cache('service', e.obj as Service);
      this.scheduleReconcile(e.obj.ID);
    } else if (e.kind === 'task') {
      const t = e.obj as Task;
      if (e.action === 'delete') {
        this.tasks.delete(t.ID);
        this.forgetTask(t);
      } else {
        this.cache('task', t);
        this.scheduleSync(t.ID);
      }
      this.scheduleReconcile(t.ServiceID);
    }
    this.requestLb();
    this.notify();
  }

  private onContainer(cid: string): void {
    if (this.closed) return;
    // A container not on its task yet is the one runTask is recording: it observes the container itself after.
    for (const t of this.tasks.values()) if (t.Status.ContainerStatus?.ContainerID === cid) this.scheduleSync(t.ID);
    this.requestLb();
    this.notify();
  }

  private forgetTask(t: Task): void {
    this.ready.delete(t.ID);
    this.runningSince_.delete(t.ID);
    const timer = this.delayTimers.get(t.ID);
    if (timer) clearTimeout(timer);
    this.delayTimers.delete(t.ID);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** This node; a controller without one in the store (unit tests) sees a ready, active node without labels. */
  private nodeView(): Node {
    return (
      this.node ?? {
        ID: this.o.nodeId, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
        Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
        Description: { Hostname: '', Platform: { Architecture: '', OS: 'linux' }, Resources: { NanoCPUs: 0, MemoryBytes: 0 }, Engine: { EngineVersion: '', Plugins: [] } },
        Status: { State: 'ready', Addr: '' },
      }
    );
  }

  private tasksOf(serviceId: string): Task[] {
    return [...this.tasks.values()].filter((t) => t.ServiceID === serviceId);
  }

  private resyncAll(): void {
    if (this.closed) return;
    for (const id of this.services.keys()) this.scheduleReconcile(id);
    for (const t of this.tasks.values()) {
      if (!isEnded(t.Status.State)) this.scheduleSync(t.ID);
      // tasks left by a removal the daemon did not live to finish
      if (!this.services.has(t.ServiceID) && !this.removing.has(t.ServiceID)) this.scheduleReconcile(t.ServiceID);
    }
    this.requestLb();
  }

  // ---------------------------------------------------------------- store writes

  /**
   * Read-modify-write with compare-and-swap, retried on conflict; fn returning undefined writes nothing.
   * `written` is false then (and when the object is gone, or the retries ran out); `obj` is the object last read or stored.
   */
  private async mutate<K extends 'service' | 'task'>(kind: K, id: string, fn: (x: Kinds[K]) => Kinds[K] | undefined): Promise<{ obj?: Kinds[K]; written: boolean }> {
    const cached = (kind === 'service' ? this.services : this.tasks) as Map<string, Kinds[K]>;
    let cur = cached.get(id) ?? (await this.store.get(kind, id));
    for (let attempt = 0; attempt < 50 && cur; attempt++) {
      const next = fn(structuredClone(cur));
      if (!next) return { obj: cur, written: false };
      try {
        const stored = await this.store.put(kind, next, { expect: cur.Version.Index });
        this.cache(kind, stored);
        return { obj: stored, written: true };
      } catch (e) {
        if (!isKind(e, 'conflict')) throw e;
        cur = await this.store.get(kind, id);
      }
    }
    return { obj: cur, written: false };
  }

  /** The task as stored after fn (or as it is, when fn declines); undefined when it is gone. */
  private async mutateTask(id: string, fn: (t: Task) => Task | undefined): Promise<Task | undefined> {
    return (await this.mutate('task', id, fn)).obj;
  }

  /** The service as stored after fn; undefined when nothing was written. */
  private async mutateService(id: string, fn: (s: Service) => Service | undefined): Promise<Service | undefined> {
    const r = await this.mutate('service', id, fn);
    return r.written ? r.obj : undefined;
  }

  /** Moves the task's observed state forward (never back), with message and extras. */
  private async advance(id: string, state: TaskState, message: string, extra: Partial<Task['Status']> = {}, more: Partial<Task> = {}): Promise<Task | undefined> {
    return this.mutateTask(id, (t) => {
      if (stateIndex(state) <= stateIndex(t.Status.State)) return undefined;
      return { ...t, ...more, Status: { ...t.Status, ...extra, State: state, Message: message, Timestamp: now() } };
    });
  }

  /** Ends the task: complete, failed, rejected or shutdown. Keeps the last message, as swarm does for failures. */
  private async endTask(id: string, state: 'complete' | 'failed' | 'rejected' | 'shutdown', o: { err?: string; /** undefined: the container's ExitCode stays */ exitCode?: number } = {}): Promise<void> {
    await this.mutateTask(id, (t) => {
      if (isEnded(t.Status.State)) return undefined;
      const message = state === 'complete' ? 'finished' : state === 'shutdown' ? 'shutdown' : t.Status.Message;
      const cs = t.Status.ContainerStatus;
      return {
        ...t,
        Status: {
          ...t.Status,
          State: state,
          Message: message,
          Timestamp: now(),
          ...(o.err ? { Err: o.err } : {}),
          ...(cs ? { ContainerStatus: { ...cs, ...(o.exitCode !== undefined ? { ExitCode: o.exitCode } : {}) } } : {}),
        },
      };
    });
  }

  private newTask(svc: Service, slot: number, desired: TaskState): Task {
    return {
      ID: newId(),
      Version: { Index: 0 },
      CreatedAt: now(),
      UpdatedAt: now(),
      Labels: {},
      Spec: structuredClone(svc.Spec.TaskTemplate),
      ServiceID: svc.ID,
      Slot: slot,
      // A replicated task gets its node when it is assigned (pending ones have none, as in swarm).
      NodeID: slot === 0 ? this.o.nodeId : '',
      Status: { Timestamp: now(), State: 'new', Message: 'created' },
      DesiredState: desired,
      ServiceVersion: svc.Version.Index,
    };
  }

  // ---------------------------------------------------------------- reconcile

  private scheduleReconcile(serviceId: string): void {
    if (this.closed || this.reconcileQueued.has(serviceId)) return;
    this.reconcileQueued.add(serviceId);
    void this.serviceLock
      .run(serviceId, async () => {
        this.reconcileQueued.delete(serviceId);
        if (this.closed) return;
        await this.reconcile(serviceId);
      })
      .catch((e) => {
        if (isKind(e, 'conflict')) {
          setTimeout(() => this.scheduleReconcile(serviceId), 10).unref?.();
          return;
        }
        this.log.error({ service: serviceId, err: e }, 'reconcile failed');
      });
  }

  private async reconcile(serviceId: string): Promise<void> {
    const svc = this.services.get(serviceId);
    if (!svc) {
      if (!this.removing.has(serviceId)) await this.cleanupOrphans(serviceId);
      return;
    }
    if (this.removing.has(serviceId)) return;
    const global = isGlobal(svc.Spec);
    const n = replicasOf(svc.Spec);
    const node = this.nodeView();
    // A global service has a task on each node that meets its constraints and does not drain.
    const globalHere = global && !mustLeave(svc.Spec.TaskTemplate, node);
    const tasks = this.tasksOf(serviceId).map((t) => structuredClone(t));
    const kept = global ? new Set(globalHere ? [0] : []) : keptSlots(tasks, n);
    const inRange = (slot: number) => kept.has(slot);
    const bySlot = new Map<number, Task[]>();
    for (const t of tasks) bySlot.set(t.Slot, [...(bySlot.get(t.Slot) ?? []), t]);
    const slots = new Set<number>([...bySlot.keys(), ...kept]);
    // A replicated task given up by a scale-down is to be removed (swarm's desired state "remove"):
    // it drains and stops, and then goes with its container.
    const gone: TaskState = global ? 'shutdown' : 'remove';

    const ops: Op[] = [];
    const changed = new Set<Task>();
    const after: (() => void)[] = [];
    const delays: [string, number][] = [];
    const updating = this.updates.has(serviceId);
    const nowMs = Date.now();

    for (const slot of [...slots].sort((a, b) => a - b)) {
      const ts = bySlot.get(slot) ?? [];
      const live = (t: Task) => !isEnded(t.Status.State);
      // 1. tasks that ended while wanted: restart them, or not, by the restart policy
      for (const t of ts) {
        if (!isEnded(t.Status.State) || !isLiveDesired(t.DesiredState)) continue;
        const other = ts.some((x) => x !== t && live(x) && x.DesiredState === 'running');
        if (!inRange(slot) || other) {
          t.DesiredState = other ? 'shutdown' : gone;
          changed.add(t);
          continue;
        }
        const d = this.restartDecision(t, nowMs);
        if (!d) {
          t.DesiredState = 'complete';
          changed.add(t);
          continue;
        }
        t.DesiredState = 'shutdown';
        changed.add(t);
        const fresh = this.newTask(svc, slot, d.delayMs > 0 ? 'ready' : 'running');
        ts.push(fresh);
        ops.push({ op: 'put', kind: 'task', obj: fresh, expect: 0 });
        after.push(d.commit);
        if (d.delayMs > 0) delays.push([fresh.ID, d.delayMs]);
        this.log.info({ service: svc.Spec.Name, slot, task: fresh.ID, replaces: t.ID, delayMs: d.delayMs, state: t.Status.State }, 'restarting task');
      }
      // 2. scale down: the slot is given up; its task drains and stops (agentSync)
      if (!inRange(slot)) {
        for (const t of ts) {
          if (holdsSlot(t) || (t.DesiredState === 'shutdown' && !isEnded(t.Status.State) && !global)) {
            t.DesiredState = gone;
            changed.add(t);
          }
        }
      } else {
        // 3. a task the node no longer takes (drain, constraints no longer met) leaves it;
        //    its replacement waits, pending, until the node takes it
        for (const t of ts) {
          if (t.DesiredState === 'running' && live(t) && stateIndex(t.Status.State) >= stateIndex('assigned') && mustLeave(t.Spec, node)) {
            t.DesiredState = 'shutdown';
            changed.add(t);
            this.log.info({ service: svc.Spec.Name, slot, task: t.ID, availability: node.Spec.Availability }, 'the node no longer takes this task: shutting it down');
          }
        }
        // 4. fill an empty slot (once a task being stopped there is gone: stop-first); a global
        //    service only on a node that takes new tasks
        const occupied = ts.some((t) => holdsSlot(t) || live(t));
        if (!occupied && !(global && unschedulableReason(svc.Spec.TaskTemplate, node))) {
          const fresh = this.newTask(svc, slot, 'running');
          ts.push(fresh);
          ops.push({ op: 'put', kind: 'task', obj: fresh, expect: 0 });
        }
        // 5. more than one wanted task in a slot outside an update (a start-first update cut short):
        //    keep the one matching the spec that runs, else the newest
        if (!updating) {
          const wanted = ts.filter((t) => isLiveDesired(t.DesiredState));
          if (wanted.length > 1) {
            const score = (t: Task) =>
              (taskSpecsDiffer(t.Spec, svc.Spec.TaskTemplate) ? 0 : 2) + (t.Status.State === 'running' ? 1 : 0);
            const keep = [...wanted].sort((a, b) => score(b) - score(a) || b.CreatedAt.localeCompare(a.CreatedAt))[0]!;
            for (const t of wanted) {
              if (t !== keep) {
                t.DesiredState = 'shutdown';
                changed.add(t);
              }
            }
          }
        }
        // 6. a restart delay whose timer a restart of the daemon lost: due now
        for (const t of ts) {
          if (t.DesiredState === 'ready' && t.Version.Index > 0 && !this.delayTimers.has(t.ID)) {
            t.DesiredState = 'running';
            changed.add(t);
          }
        }
      }
    }
    for (const t of changed) if (t.Version.Index > 0) ops.push({ op: 'put', kind: 'task', obj: t, expect: t.Version.Index });
    if (ops.length) {
      await this.store.txn(ops);
      for (const f of after) f();
      for (const [id, ms] of delays) this.armDelay(id, ms);
    }
    await this.trimHistory(svc);
    this.requestLb();
  }

  /** Whether (and after how long) a task that ended in its slot gets a replacement; commit() records the restart. */
  private restartDecision(t: Task, nowMs: number): { delayMs: number; commit: () => void } | undefined {
    const p = restartPolicyOf(t.Spec);
    const failed = t.Status.State !== 'complete';
    if (p.Condition === 'none') return undefined;
    if (p.Condition === 'on-failure' && !failed) return undefined;
    const key = `${t.ServiceID}/${t.Slot}`;
    const spec = JSON.stringify(t.Spec);
    const prev = this.slotHistory.get(key);
    const h: SlotHistory = prev && prev.spec === spec ? { ...prev, restarts: [...prev.restarts] } : { quick: 0, restarts: [], spec };
    if (p.MaxAttempts > 0) {
      const since = p.Window > 0 ? nowMs - p.Window / 1e6 : -Infinity;
      if (h.restarts.filter((r) => r >= since).length >= p.MaxAttempts) return undefined;
    }
    const started = this.runningSince_.get(t.ID) ?? Date.parse(t.CreatedAt);
    const ended = Date.parse(t.Status.Timestamp) || nowMs;
    if (ended - started >= QUICK_FAILURE_MS) h.quick = 0;
    const delayMs = p.Delay !== undefined ? p.Delay / 1e6 : restartDelay(h.quick);
    h.quick++;
    h.restarts.push(nowMs);
    return { delayMs, commit: () => this.slotHistory.set(key, h) };
  }

  private armDelay(taskId: string, ms: number): void {
    const timer = setTimeout(() => {
      this.delayTimers.delete(taskId);
      void this.mutateTask(taskId, (t) => (t.DesiredState === 'ready' ? { ...t, DesiredState: 'running' } : undefined)).catch((e) =>
        this.log.warn({ task: taskId, err: e }, 'could not start a delayed task'),
      );
    }, ms);
    timer.unref?.();
    this.delayTimers.set(taskId, timer);
  }

  /**
   * Keeps at most historyLimit ended tasks per slot; older ones go with their
   * containers, and so do the tasks a scale-down removed once they have
   * stopped (swarm's task reaper).
   */
  private async trimHistory(svc: Service): Promise<void> {
    const bySlot = new Map<number, Task[]>();
    const old: Task[] = [];
    for (const t of this.tasksOf(svc.ID)) {
      if (!isEnded(t.Status.State) || holdsSlot(t)) continue;
      if (t.DesiredState === 'remove') old.push(t);
      else bySlot.set(t.Slot, [...(bySlot.get(t.Slot) ?? []), t]);
    }
    for (const ts of bySlot.values()) {
      if (ts.length <= this.historyLimit) continue;
      ts.sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.Version.Index - b.Version.Index);
      old.push(...ts.slice(0, ts.length - this.historyLimit));
    }
    if (old.length) await this.removeTasks(old, this.log.child({ service: svc.Spec.Name }));
  }

  /** Stops (if still running) and removes the tasks' containers, then deletes the tasks. */
  private async removeTasks(tasks: Task[], log: Logger): Promise<void> {
    // a container whose start failed is on no task record, only in the executor's labels
    const existing = this.exec.existing();
    await Promise.all(
      tasks.map((t) =>
        this.taskLock.run(t.ID, async () => {
          const cur = this.tasks.get(t.ID) ?? t;
          const cid = cur.Status.ContainerStatus?.ContainerID ?? existing.get(t.ID);
          if (cid) {
            try {
              if (this.exec.observe(cid)?.running) await this.exec.stop(cid, stopGraceOf(cur.Spec));
              await this.exec.remove(cid);
            } catch (e) {
              log.warn({ task: t.ID, container: cid, err: e }, 'could not remove task container');
            }
          }
          await this.store.delete('task', t.ID);
          this.tasks.delete(t.ID);
          this.forgetTask(cur);
        }),
      ),
    );
  }

  /** Tasks whose service is gone (a removal cut short by a daemon restart). */
  private async cleanupOrphans(serviceId: string): Promise<void> {
    const orphans = this.tasksOf(serviceId);
    if (!orphans.length) return;
    this.log.info({ service: serviceId, tasks: orphans.length }, 'removing tasks of a removed service');
    for (const t of orphans) {
      if (isLiveDesired(t.DesiredState)) await this.mutateTask(t.ID, (x) => ({ ...x, DesiredState: 'shutdown' }));
    }
    await this.applyLb();
    await this.removeTasks(orphans, this.log);
  }

  // ---------------------------------------------------------------- agent

  private scheduleSync(taskId: string): void {
    if (this.closed || this.syncQueued.has(taskId)) return;
    this.syncQueued.add(taskId);
    void this.taskLock
      .run(taskId, async () => {
        this.syncQueued.delete(taskId);
        if (this.closed) return;
        await this.syncTask(taskId);
      })
      .catch((e) => this.log.error({ task: taskId, err: e }, 'task sync failed'));
  }

  /** Brings one task's container in line with its DesiredState, and its Status with its container. */
  private async syncTask(id: string): Promise<void> {
    const t = this.tasks.get(id);
    if (!t || isEnded(t.Status.State)) return;
    const cid = t.Status.ContainerStatus?.ContainerID;
    if (!isLiveDesired(t.DesiredState)) {
      // Drain: out of the balancer first, then SIGTERM with the grace period.
      let exitCode: number | undefined;
      if (cid) {
        const obs = this.exec.observe(cid);
        if (obs?.running) {
          await this.applyLb();
          await this.drain(t, obs);
          await this.exec.stop(cid, stopGraceOf(t.Spec));
        }
        exitCode = this.exec.observe(cid)?.exitCode;
      }
      await this.endTask(id, 'shutdown', { exitCode });
      return;
    }
    if (t.DesiredState === 'ready') return; // waiting out its restart delay
    if (!cid) {
      await this.runTask(t);
      return;
    }
    const obs = this.exec.observe(cid);
    if (!obs) {
      await this.endTask(id, 'failed', { err: 'task: container removed' });
      return;
    }
    await this.observed(t, obs);
  }

  /** Waits for the connections a task out of the balancer still serves (see DRAIN_MAX_MS). */
  private async drain(t: Task, obs: Observation): Promise<void> {
    const svc = this.services.get(t.ServiceID);
    const ports = svc ? this.needsGate(svc) : [];
    if (!ports.length || !obs.pid || !this.ready.has(t.ID)) return; // never took connections
    const until = Date.now() + Math.min(DRAIN_MAX_MS, stopGraceOf(t.Spec) / 1e6);
    await sleep(Math.min(DRAIN_SETTLE_MS, Math.max(0, until - Date.now())));
    const count = this.o.connections ?? liveConnections;
    const ips = Object.values(obs.addresses).map(ipOf);
    while (!this.closed && Date.now() < until) {
      const n = await count(obs.pid, ports, ips).catch(() => 0);
      if (n === 0) return;
      await sleep(50);
    }
    if (!this.closed) this.log.debug({ task: t.ID }, 'stopping a task that still has connections after the drain');
  }

  private async observed(t: Task, obs: Observation): Promise<void> {
    if (!obs.running) {
      const code = obs.exitCode ?? -1;
      this.runningSince_.has(t.ID) || this.runningSince_.set(t.ID, Date.parse(t.Status.Timestamp));
      if (code === 0) await this.endTask(t.ID, 'complete', { exitCode: 0 });
      else await this.endTask(t.ID, 'failed', { exitCode: code, err: `task: non-zero exit (${code})${obs.error ? `: ${obs.error}` : ''}` });
      return;
    }
    if (!this.runningSince_.has(t.ID)) this.runningSince_.set(t.ID, Date.now());
    // As swarm's agent does, a task with a healthcheck stays "starting" until it is healthy.
    if (t.Status.State !== 'running' && obs.health !== 'starting' && obs.health !== 'unhealthy') {
      await this.advance(t.ID, 'running', 'started', {
        ContainerStatus: { ContainerID: obs.containerId, PID: obs.pid, ExitCode: 0 },
        ...(obs.ports?.length ? { PortStatus: { Ports: obs.ports } } : {}),
      }, attachmentsOf(obs));
    }
    if (obs.health === 'unhealthy') {
      // Swarm replaces an unhealthy task rather than keep it out of the balancer for good.
      this.log.warn({ task: t.ID }, 'task unhealthy: replacing it');
      await this.applyLb();
      await this.exec.stop(obs.containerId, stopGraceOf(t.Spec));
      await this.endTask(t.ID, 'failed', { err: 'task: unhealthy container', exitCode: this.exec.observe(obs.containerId)?.exitCode });
      return;
    }
    this.startProbe(t.ID);
  }

  private async runTask(t: Task): Promise<void> {
    const svc = this.services.get(t.ServiceID);
    if (!svc) return;
    const log = this.log.child({ service: svc.Spec.Name, task: t.ID, slot: t.Slot });
    for (const [state, msg] of [
      ['pending', 'pending task scheduling'],
      ['assigned', 'scheduler assigned task to node'],
      ['accepted', 'accepted'],
      ['preparing', 'preparing'],
      ['starting', 'starting'],
    ] as const) {
      const r = await this.advance(t.ID, state, msg, {}, state === 'assigned' ? { NodeID: this.o.nodeId } : {});
      if (!r || !isLiveDesired(r.DesiredState) || isEnded(r.Status.State)) return this.syncAgain(t.ID);
      if (state === 'pending' && !(await this.schedule(r))) return; // tried again on the next node change or resync
    }
    const ac = new AbortController();
    this.runs.set(t.ID, ac);
    let obs: Observation;
    try {
      const fresh = this.tasks.get(t.ID) ?? t;
      obs = await this.exec.run(fresh, svc, ac.signal);
    } catch (e) {
      if (this.closed) return;
      const msg = messageOf(e);
      // Could not even be made (no such image, bad spec): rejected, as swarm says; anything later: failed.
      const rejected = e instanceof EngineError && (e.kind === 'not-found' || e.kind === 'invalid');
      log.warn({ err: msg }, rejected ? 'task rejected' : 'task failed to start');
      const left = this.exec.existing().get(t.ID);
      if (left) {
        await this.mutateTask(t.ID, (x) => ({ ...x, Status: { ...x.Status, ContainerStatus: { ContainerID: left, PID: 0, ExitCode: 0 } } }));
      }
      await this.endTask(t.ID, rejected ? 'rejected' : 'failed', { err: msg });
      return;
    } finally {
      this.runs.delete(t.ID);
    }
    const withContainer = await this.mutateTask(t.ID, (x) => ({
      ...x,
      Status: { ...x.Status, ContainerStatus: { ContainerID: obs.containerId, PID: obs.pid, ExitCode: 0 } },
    }));
    if (!withContainer) return;
    if (obs.running) this.runningSince_.set(t.ID, Date.now());
    log.debug({ container: obs.containerId }, 'task container started');
    // The container may have ended, or the task been shut down, while it started: sync sees to both.
    const now_ = this.exec.observe(obs.containerId) ?? obs;
    if (!isLiveDesired(withContainer.DesiredState)) return this.syncAgain(t.ID);
    await this.observed(withContainer, now_);
  }

  /**
   * The scheduler's decision for a pending task: true when the node takes it.
   * When it does not, the task keeps waiting with swarm's error, e.g.
   * "no suitable node (1 node not available for new tasks)".
   */
  private async schedule(t: Task): Promise<boolean> {
    const why = unschedulableReason(t.Spec, this.nodeView());
    const err = why ? `no suitable node (${why})` : undefined;
    if (err !== t.Status.Err && (err || t.Status.Err?.startsWith('no suitable node'))) {
      if (err) this.log.info({ task: t.ID, slot: t.Slot, reason: why }, 'task pending: no suitable node');
      await this.mutateTask(t.ID, (x) => {
        if (x.Status.State !== 'pending') return undefined;
        const { Err: _old, ...status } = x.Status;
        return { ...x, Status: { ...status, ...(err ? { Err: err } : {}), Timestamp: now() } };
      });
    }
    return !why;
  }

  private syncAgain(id: string): void {
    // after the current sync has released the task's lock
    setImmediate(() => this.scheduleSync(id));
  }

  // ---------------------------------------------------------------- balancer

  private needsGate(svc: Service): number[] {
    return (svc.Spec.EndpointSpec?.Ports ?? []).filter((p) => (p.Protocol ?? 'tcp') === 'tcp').map((p) => p.TargetPort);
  }

  /**
   * Readiness gate: a task of a service with TCP ports joins the balancer
   * once its target ports accept connections, so a just-started replica
   * gets no connection before its server listens.
   */
  private startProbe(taskId: string): void {
    if (this.ready.has(taskId) || this.probing.has(taskId)) return;
    const t = this.tasks.get(taskId);
    const svc = t && this.services.get(t.ServiceID);
    if (!t || !svc) return;
    const ports = this.needsGate(svc);
    const cid = t.Status.ContainerStatus?.ContainerID;
    const ip = cid ? Object.values(this.exec.observe(cid)?.addresses ?? {})[0] : undefined;
    if (!ports.length || !ip) {
      this.ready.add(taskId);
      this.requestLb();
      this.notify();
      return;
    }
    this.probing.add(taskId);
    void (async () => {
      try {
        while (!this.closed) {
          const cur = this.tasks.get(taskId);
          if (!cur || cur.DesiredState !== 'running' || isEnded(cur.Status.State)) return;
          const oks = await Promise.all(ports.map((p) => this.probe(ipOf(ip), p)));
          if (oks.every(Boolean)) {
            this.ready.add(taskId);
            this.requestLb();
            this.notify();
            return;
          }
          await sleep(50);
        }
      } finally {
        this.probing.delete(taskId);
      }
    })();
  }

  private isBackend(t: Task): boolean {
    if (t.DesiredState !== 'running' || t.Status.State !== 'running') return false;
    const cid = t.Status.ContainerStatus?.ContainerID;
    const obs = cid ? this.exec.observe(cid) : undefined;
    if (!obs?.running || (obs.health !== 'none' && obs.health !== 'healthy')) return false;
    return this.ready.has(t.ID);
  }

  private balanced(): BalancedService[] {
    const out: BalancedService[] = [];
    const backendTasks = new Map<string, Task[]>();
    for (const t of this.tasks.values()) {
      if (!this.isBackend(t)) continue;
      const list = backendTasks.get(t.ServiceID);
      if (list) list.push(t);
      else backendTasks.set(t.ServiceID, [t]);
    }
    for (const s of this.services.values()) {
      if (this.removing.has(s.ID)) continue;
      const backends: Backend[] = [];
      for (const t of backendTasks.get(s.ID) ?? []) {
        const cid = t.Status.ContainerStatus!.ContainerID;
        const addrs = this.exec.observe(cid)?.addresses ?? {};
        backends.push({ taskId: t.ID, containerId: cid, ips: Object.fromEntries(Object.entries(addrs).map(([n, a]) => [n, ipOf(a)])) });
      }
      backends.sort((a, b) => a.taskId.localeCompare(b.taskId));
      out.push({
        id: s.ID,
        name: s.Spec.Name,
        mode: s.Spec.EndpointSpec?.Mode === 'dnsrr' ? 'dnsrr' : 'vip',
        ports: (s.Endpoint.Ports ?? []).filter((p) => isIngress(p) && p.PublishedPort),
        vips: vipMap(s.Endpoint.VirtualIPs),
        networks: networksOf(s.Spec).map((n) => n.Target),
        backends,
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  private requestLb(): void {
    void this.applyLb();
  }

  /** Resolves once the balancer has been given a state computed after this call. */
  private applyLb(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.lbPasses.request();
  }

  private async lbPass(): Promise<void> {
    if (this.closed) return;
    try {
      const state = this.balanced();
      const sig = JSON.stringify(state);
      if (sig === this.lbLast) return;
      await this.lb.apply(state);
      this.lbLast = sig;
    } catch (e) {
      this.log.error({ err: e }, 'could not apply the load balancer state');
    }
  }

  // ---------------------------------------------------------------- updates

  private updaterHost(): UpdaterHost {
    return {
      log: this.log,
      service: (id) => this.services.get(id),
      tasksOf: (id) => this.tasksOf(id),
      task: (id) => this.tasks.get(id),
      isBackend: (t) => this.isBackend(t),
      runningSince: (id) => this.runningSince_.get(id),
      locked: (id, fn) => this.serviceLock.run(id, fn),
      setDesired: async (id, desired) => {
        await this.mutateTask(id, (t) => (t.DesiredState === desired ? undefined : { ...t, DesiredState: desired }));
      },
      createTask: async (svc, slot) => {
        const t = await this.store.put('task', this.newTask(svc, slot, 'running'), { expect: 0 });
        this.cache('task', t);
        return t;
      },
      mutateService: (id, fn) => this.mutateService(id, fn),
      waitFor: (pred, signal, timeoutMs) => this.waitFor(pred, signal, timeoutMs),
    };
  }

  private waitFor<T>(pred: () => T | undefined, signal: AbortSignal, timeoutMs?: number): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        this.waiters.delete(check);
        signal.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
        fn();
      };
      const check = () => {
        if (this.closed) return finish(() => reject(new Error('service controller closed')));
        let v: T | undefined;
        try {
          v = pred();
        } catch (e) {
          return finish(() => reject(e));
        }
        if (v !== undefined) finish(() => resolve(v));
      };
      const onAbort = () => finish(() => reject(signal.reason));
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', onAbort);
      if (timeoutMs !== undefined) timer = setTimeout(() => finish(() => resolve(undefined)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** (Re)starts the service's updater toward its current spec; a running one is cancelled first. */
  private startUpdate(serviceId: string): void {
    const prev = this.updates.get(serviceId);
    prev?.abort.abort();
    const abort = new AbortController();
    const entry: RunningUpdate = { abort, done: Promise.resolve() };
    entry.done = (async () => {
      await prev?.done.catch(() => undefined);
      if (abort.signal.aborted || this.closed) return;
      try {
        const outcome = await new Updater(this.updaterHost(), serviceId).run(abort.signal);
        if (outcome === 'rollback' && !abort.signal.aborted && !this.closed) {
          // the rollback spec is stored: run it as the next update
          queueMicrotask(() => this.startUpdate(serviceId));
        }
      } catch (e) {
        if (!abort.signal.aborted) this.log.error({ service: serviceId, err: e }, 'update failed');
      } finally {
        if (this.updates.get(serviceId) === entry) this.updates.delete(serviceId);
        this.scheduleReconcile(serviceId);
      }
    })();
    this.updates.set(serviceId, entry);
  }

  /** Cancels the service's update, if any, and waits until it has let go. */
  private async stopUpdate(serviceId: string): Promise<void> {
    const u = this.updates.get(serviceId);
    if (!u) return;
    u.abort.abort();
    await u.done.catch(() => undefined);
  }
}

const isIngress = (p: PortConfig) => (p.PublishMode ?? 'ingress') === 'ingress';

/** Endpoint.VirtualIPs ↔ the balancer's network ID → address. */
const vipList = (vips: Record<string, string>) => Object.entries(vips).map(([NetworkID, Addr]) => ({ NetworkID, Addr }));
const vipMap = (list: { NetworkID: string; Addr: string }[] = []): Record<string, string> => Object.fromEntries(list.map((v) => [v.NetworkID, v.Addr]));

function splitPorts(ports: PortConfig[]): { ingress: PortConfig[]; host: PortConfig[] } {
  const all = ports.map((p) => ({ ...p, Protocol: p.Protocol ?? 'tcp', PublishMode: p.PublishMode ?? 'ingress' }));
  return { ingress: all.filter((p) => p.PublishMode === 'ingress'), host: all.filter((p) => p.PublishMode === 'host') };
}

/** A port list as a comparable string: order and extra fields do not matter. */
function portKeys(ports: PortConfig[]): string {
  return ports.map((p) => `${p.Protocol ?? 'tcp'}/${p.TargetPort}/${p.PublishedPort ?? 0}/${p.PublishMode ?? 'ingress'}`).sort().join(',');
}

function attachmentsOf(obs: Observation): Partial<Task> {
  const entries = Object.entries(obs.addresses ?? {});
  if (!entries.length) return {};
  return { NetworksAttachments: entries.map(([id, addr]) => ({ Network: { ID: id }, Addresses: [addr] })) };
}
