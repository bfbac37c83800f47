/**
 * SwarmService: the backend of swarm mode's Engine API on one node —
 * /swarm, /nodes, /services, /tasks and the service and task logs.
 *
 * The swarm's state lives in the ClusterStore ('swarm' and 'node' objects
 * beside the controller's services and tasks), so a restarted daemon finds its
 * swarm active and starts the controller again. This node is the swarm's only
 * member: its manager and leader, and the node every task runs on. Joining
 * other machines waits for a store that several daemons share (etcd).
 *
 * Lifecycle: open → (init → … → leave)* → close. Until `init` (and after
 * `leave`) the services, tasks and nodes endpoints answer 503 like dockerd's.
 *
 *   const swarm = new SwarmService({ store, containers, networks, lb, events, log });
 *   await swarm.open();
 *   const nodeId = await swarm.init({ ListenAddr: '0.0.0.0:2377' });
 *   const { ID } = await swarm.createService(spec);
 */
import { isIP } from 'node:net';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { conflict, invalid, isKind, messageOf, notFound, notImplemented, unavailable } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { streamLog } from '../runtime/logfile.js';
import { rfc3339NanoFixed } from '../base/time.js';
import type { ClusterStore, Op, StoreEvent } from '../service/cluster-store.js';
import { Controller, newId, randomBase36 } from '../service/controller.js';
import { KeyedLock } from '../base/keyed-lock.js';
import { checkLabels, DEFAULT_STOP_GRACE, networksOf, taskSpecsDiffer, UPDATE_DEFAULTS } from '../service/spec.js';
import type { LoadBalancer } from '../service/lb/balancer.js';
import { isEnded, type NetworkAttachmentConfig, type Node, type Service, type ServiceSpec, type Swarm, type SwarmSpec, type Task, type UpdateConfig } from '../service/types.js';
import type { DistributionService } from '../distribution/service.js';
import type { ContainerService } from './containers/service.js';
import type { EventBus } from './events.js';
import { matchKVList, type Filters } from './filters.js';
import type { NetworkService } from './networks.js';
import { ContainerExecutor, TASK_LABELS } from './task-executor.js';
import { PIER_VERSION } from './system.js';

export const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
const LEAVE_MANAGER = 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.';
const NO_AUTOLOCK = 'autolock is not supported: Pier keeps the swarm\'s state in its own database and has no manager keys to lock';
const MANAGER_PORT = 2377;

/** POST /swarm/init. */
export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  DataPathPort?: number;
  ForceNewCluster?: boolean;
  Spec?: SwarmSpec;
  AutoLockManagers?: boolean;
  Availability?: Node['Spec']['Availability'];
  DefaultAddrPool?: string[] | null;
  SubnetSize?: number;
}

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  /** Each line starts with its context (node, service and task IDs), as `docker service logs` parses it. */
  details: boolean;
  /** ns since the epoch. */
  since?: bigint;
  /** Last n lines of each task. */
  tail?: number;
}

export interface SwarmServiceDeps {
  store: ClusterStore;
  containers: ContainerService;
  networks: NetworkService;
  lb: LoadBalancer;
  events: EventBus;
  log: Logger;
  /** Pulls a task's image that is not here; without it such a task fails. */
  distribution?: DistributionService;
  /** The daemon's --label list, shown as the node's engine labels. */
  engineLabels?: string[];
}

export class SwarmService {
  readonly exec: ContainerExecutor;
  private controller?: Controller;
  private swarm?: Swarm;
  private node?: Node;
  /** Last seen services and nodes, for the old/new attributes of update events. */
  private readonly seen = new Map<string, Service | Node>();
  private unwatch?: () => void;
  /** Swarm-wide changes (init, join, leave, update, node updates) one at a time. */
  private readonly ops = new KeyedLock();
  private closed = false;
  /** Why the controller of an existing swarm did not start (shown by /info). */
  private error = '';

  constructor(private readonly d: SwarmServiceDeps) {
    this.exec = new ContainerExecutor(d.containers, d.distribution, d.log.child({ component: 'executor' }));
  }

  /** Reads the swarm from the store; a swarm that was active before a restart is active again. */
  async open(): Promise<void> {
    this.unwatch = this.d.store.watch((e) => {
      try {
        this.onStoreEvent(e);
      } catch (err) {
        this.d.log.warn({ err: messageOf(err) }, 'swarm event');
      }
    });
    const [swarm] = await this.d.store.list('swarm');
    if (!swarm) return;
    const nodes = await this.d.store.list('node');
    for (const n of nodes) this.seen.set(n.ID, n);
    let node = nodes.find((n) => n.ManagerStatus?.Leader) ?? nodes[0];
    if (!node) {
      this.d.log.warn({ swarm: swarm.ID }, 'the swarm has no node record: making this node again');
      node = await this.d.store.put('node', this.newNode(newId(), { host: '127.0.0.1', port: MANAGER_PORT }, 'active'), { expect: 0 });
    } else {
      // What this machine is may have changed since (memory, CPUs, Pier's version).
      node = await this.d.store.put('node', { ...node, Description: this.description(), Status: { ...node.Status, State: 'ready' } }, { expect: node.Version.Index });
    }
    this.swarm = swarm;
    this.node = node;
    for (const s of await this.d.store.list('service')) this.seen.set(s.ID, s);
    try {
      await this.startController();
    } catch (e) {
      // The daemon still starts: /info shows the error, the swarm's endpoints answer 503, `swarm leave --force` clears it.
      this.error = messageOf(e);
      this.d.log.error({ err: this.error }, 'the service controller could not start');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.serial(async () => {
      await this.controller?.close().catch((e: unknown) => this.d.log.warn({ err: messageOf(e) }, 'closing the service controller'));
      this.controller = undefined;
    });
    this.unwatch?.();
    await this.d.lb.close().catch((e: unknown) => this.d.log.warn({ err: messageOf(e) }, 'closing the load balancer'));
    await this.d.store.close().catch((e: unknown) => this.d.log.warn({ err: messageOf(e) }, 'closing the cluster store'));
  }

  // ---- /info and /_ping ----------------------------------------------------------------------

  /** The Swarm part of GET /info. */
  info(): object {
    const s = this.swarm;
    const n = this.node;
    if (!s || !n) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    return {
      NodeID: n.ID,
      NodeAddr: n.Status.Addr,
      LocalNodeState: this.controller ? 'active' : 'error',
      ControlAvailable: !!this.controller,
      Error: this.controller ? '' : this.error,
      RemoteManagers: [{ NodeID: n.ID, Addr: n.ManagerStatus?.Addr ?? `${n.Status.Addr}:${MANAGER_PORT}` }],
      Nodes: 1,
      Managers: 1,
      Cluster: {
        ID: s.ID, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Spec: s.Spec, TLSInfo: s.TLSInfo,
        RootRotationInProgress: s.RootRotationInProgress, DefaultAddrPool: s.DefaultAddrPool, SubnetSize: s.SubnetSize, DataPathPort: s.DataPathPort,
      },
    };
  }

  /** The Swarm header of /_ping: "inactive", or "active/manager". */
  pingStatus(): string {
    return !this.swarm ? 'inactive' : this.controller ? 'active/manager' : 'error';
  }

  // ---- /swarm --------------------------------------------------------------------------------

  init(req: InitRequest): Promise<string> {
    return this.serial(async () => {
      if (this.swarm) throw unavailable(ALREADY_IN_SWARM);
      for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr', 'Availability'] as const)
        if (req[k] !== undefined && req[k] !== null && typeof req[k] !== 'string') throw invalid(`${k} must be a string`);
      for (const k of ['DataPathPort', 'SubnetSize'] as const)
        if (req[k] !== undefined && req[k] !== null && typeof req[k] !== 'number') throw invalid(`${k} must be a number`);
      if (req.DefaultAddrPool !== undefined && req.DefaultAddrPool !== null && (!Array.isArray(req.DefaultAddrPool) || req.DefaultAddrPool.some((p) => typeof p !== 'string')))
        throw invalid('DefaultAddrPool must be a list of CIDRs');
      checkSwarmSpec(req.Spec);
      if (req.AutoLockManagers || req.Spec?.EncryptionConfig?.AutoLockManagers)
        throw notImplemented(NO_AUTOLOCK);
      const listen = parseAddr(req.ListenAddr || `0.0.0.0:${MANAGER_PORT}`, 'listen');
      const advertise = req.AdvertiseAddr ? parseAddr(req.AdvertiseAddr, 'advertise') : undefined;
      if (advertise && isUnspecified(advertise.host)) throw invalid('advertise address must be a non-zero IP address or network interface (with optional port number)');
      // Nothing is ever sent to this address: single-node swarms keep every packet on this machine.
      const addr = advertise ?? (isUnspecified(listen.host) ? { host: '127.0.0.1', port: listen.port } : listen);
      if (req.DataPathAddr) parseAddr(req.DataPathAddr, 'data path');
      const dataPathPort = req.DataPathPort || 4789;
      if (!Number.isInteger(dataPathPort) || dataPathPort < 1024 || dataPathPort > 49151) throw invalid(`data path port ${req.DataPathPort} is out of range: it must be within 1024-49151`);
      const pools = req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'];
      const subnetSize = req.SubnetSize || 24;
      for (const p of pools) {
        const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(p);
        if (!m || isIP(m[1]!) !== 4 || Number(m[2]) > 32) throw invalid(`invalid default address pool ${p}: expected an IPv4 CIDR such as 10.0.0.0/8`);
        if (subnetSize < Number(m[2])) throw invalid(`subnet size ${subnetSize} is larger than the default address pool ${p}`);
      }
      if (!Number.isInteger(subnetSize) || subnetSize > 29) throw invalid(`invalid subnet size ${subnetSize}: it must be between the pools' prefix length and 29`);
      const availability = req.Availability || 'active';
      if (!['active', 'pause', 'drain'].includes(availability)) throw invalid(`invalid availability "${availability}": use active, pause or drain`);
      const spec = swarmSpecWithDefaults(req.Spec ?? {});
      const now = new Date().toISOString();
      const fingerprint = randomBase36(32, 50);
      const swarm: Swarm = {
        ID: newId(), Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: spec,
        TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
        RootRotationInProgress: false, DefaultAddrPool: pools, SubnetSize: subnetSize, DataPathPort: dataPathPort,
        JoinTokens: { Worker: joinToken(fingerprint), Manager: joinToken(fingerprint) },
      };
      const node = this.newNode(newId(), addr, availability);
      // Anything left of an earlier swarm (a leave interrupted by a crash) goes with the new one's creation.
      await this.d.store.txn([...(await this.deleteAll()), { op: 'put', kind: 'swarm', obj: swarm, expect: 0 }, { op: 'put', kind: 'node', obj: node, expect: 0 }]);
      this.swarm = await this.d.store.get('swarm', swarm.ID);
      this.node = await this.d.store.get('node', node.ID);
      try {
        await this.startController();
      } catch (e) {
        await this.d.store.txn([{ op: 'delete', kind: 'node', id: node.ID }, { op: 'delete', kind: 'swarm', id: swarm.ID }]).catch(() => undefined);
        this.swarm = this.node = undefined;
        throw e;
      }
      this.d.log.info({ swarm: swarm.ID, node: node.ID, addr: node.Status.Addr }, 'swarm initialized');
      return node.ID;
    });
  }

  join(): Promise<never> {
    if (this.swarm) return Promise.reject(unavailable(ALREADY_IN_SWARM));
    return Promise.reject(notImplemented('joining a swarm is not supported: Pier runs single-node swarms (a store shared by several daemons is not there yet); use "docker swarm init" on this node'));
  }

  inspect(): Swarm {
    if (!this.swarm) throw unavailable(NOT_MANAGER);
    return this.swarm;
  }

  update(version: number | undefined, spec: SwarmSpec | undefined, o: { rotateWorkerToken?: boolean; rotateManagerToken?: boolean; rotateManagerUnlockKey?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      const cur = this.swarm;
      if (!cur) throw unavailable(NOT_MANAGER);
      if (version === undefined) throw invalid('invalid swarm version: the version query parameter is required');
      if (!spec || typeof spec !== 'object') throw invalid('the request body must be a swarm spec');
      checkSwarmSpec(spec);
      if (spec.EncryptionConfig?.AutoLockManagers) throw notImplemented(NO_AUTOLOCK);
      const fingerprint = cur.JoinTokens.Worker.split('-')[2] ?? randomBase36(32, 50);
      const next: Swarm = {
        ...cur,
        Spec: swarmSpecWithDefaults(spec),
        JoinTokens: {
          Worker: o.rotateWorkerToken ? joinToken(fingerprint) : cur.JoinTokens.Worker,
          Manager: o.rotateManagerToken ? joinToken(fingerprint) : cur.JoinTokens.Manager,
        },
      };
      this.swarm = await this.d.store.put('swarm', next, { expect: version });
      // The controller takes the history limit at construction: a changed one means a new controller,
      // which re-adopts every task as after a daemon restart (tasks and updates carry on).
      if (next.Spec.Orchestration?.TaskHistoryRetentionLimit !== cur.Spec.Orchestration?.TaskHistoryRetentionLimit && this.controller) {
        await this.controller.close(); // stays in place (reads work) until its successor has started
        await this.startController();
      }
    });
  }

  leave(force: boolean): Promise<void> {
    return this.serial(async () => {
      if (!this.swarm) throw unavailable('This node is not part of a swarm');
      if (!force) throw unavailable(LEAVE_MANAGER);
      const swarmId = this.swarm.ID;
      const ctl = this.controller;
      const services = await this.d.store.list('service');
      if (ctl) {
        for (const s of services) {
          await ctl.removeService(s.ID).catch((e: unknown) => {
            if (!isKind(e, 'not-found')) this.d.log.warn({ service: s.ID, err: messageOf(e) }, 'removing a service on leave');
          });
        }
        await ctl.close().catch((e: unknown) => this.d.log.warn({ err: messageOf(e) }, 'closing the service controller'));
      }
      this.controller = undefined;
      this.error = '';
      // Whatever the controller had not removed yet: task containers, ports and virtual IPs.
      for (const [, id] of this.exec.existing()) await this.exec.remove(id).catch((e: unknown) => this.d.log.warn({ id, err: messageOf(e) }, 'removing a task container on leave'));
      for (const s of services) {
        await this.d.lb.releasePorts(s.ID).catch(() => undefined);
        await this.d.lb.releaseVips(s.ID).catch(() => undefined);
      }
      await this.d.lb.apply([]).catch((e: unknown) => this.d.log.warn({ err: messageOf(e) }, 'clearing the load balancer'));
      await this.d.store.txn(await this.deleteAll());
      this.d.log.info({ swarm: swarmId }, 'left the swarm');
      this.swarm = this.node = undefined;
    });
  }

  unlockKey(): { UnlockKey: string } {
    if (!this.swarm) throw unavailable(NOT_MANAGER);
    return { UnlockKey: '' };
  }

  unlock(): never {
    if (!this.swarm) throw unavailable('This node is not part of a swarm');
    throw invalid('swarm is not locked');
  }

  // ---- /nodes --------------------------------------------------------------------------------

  async listNodes(f: Filters): Promise<Node[]> {
    this.ctl();
    f.validate(['id', 'label', 'membership', 'name', 'node.label', 'role']);
    for (const r of f.get('role')) if (r !== 'manager' && r !== 'worker') throw invalid(`Invalid role '${r}', expected manager or worker`);
    for (const m of f.get('membership')) if (m !== 'accepted' && m !== 'pending') throw invalid(`Invalid membership '${m}', expected accepted or pending`);
    const nodes = await this.d.store.list('node');
    return nodes.filter((n) => {
      if (f.get('id').length && !f.get('id').some((p) => n.ID.startsWith(p))) return false;
      if (f.get('name').length && !f.get('name').some((p) => (n.Spec.Name || n.Description.Hostname).startsWith(p) || n.Description.Hostname.startsWith(p))) return false;
      if (f.get('role').length && !f.get('role').includes(n.Spec.Role)) return false;
      if (f.get('membership').length && !f.get('membership').includes('accepted')) return false;
      if (!matchKVList(f.get('node.label'), n.Spec.Labels)) return false;
      if (!matchKVList(f.get('label'), n.Description.Engine.Labels)) return false;
      return true;
    });
  }

  async getNode(ref: string): Promise<Node> {
    this.ctl();
    const nodes = await this.d.store.list('node');
    if (ref === 'self' && this.node) return nodes.find((n) => n.ID === this.node!.ID) ?? this.node;
    const hit = nodes.find((n) => n.ID === ref) ?? nodes.find((n) => n.Spec.Name === ref || n.Description.Hostname === ref);
    if (hit) return hit;
    const byPrefix = nodes.filter((n) => n.ID.startsWith(ref));
    if (ref && byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw invalid(`node ${ref} is ambiguous (${byPrefix.length} matches found)`);
    throw notFound(`node ${ref} not found`);
  }

  async removeNode(ref: string, _force: boolean): Promise<void> {
    const n = await this.getNode(ref);
    if (n.ID === this.node?.ID)
      throw conflict(`node ${n.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    await this.d.store.delete('node', n.ID);
  }

  updateNode(ref: string, version: number | undefined, spec: Partial<Node['Spec']> | undefined): Promise<void> {
    return this.serial(async () => {
      const n = await this.getNode(ref);
      if (version === undefined) throw invalid('invalid node version: the version query parameter is required');
      if (!spec || typeof spec !== 'object') throw invalid('the request body must be a node spec');
      checkLabels('node labels', spec.Labels);
      if (spec.Name !== undefined && typeof spec.Name !== 'string') throw invalid('node name must be a string');
      const role = spec.Role ?? n.Spec.Role;
      if (role !== 'manager' && role !== 'worker') throw invalid(`invalid role "${role}": use manager or worker`);
      if (role === 'worker' && n.ID === this.node?.ID) throw invalid('attempting to demote the last manager of the swarm');
      const availability = spec.Availability ?? n.Spec.Availability;
      if (!['active', 'pause', 'drain'].includes(availability)) throw invalid(`invalid availability "${availability}": use active, pause or drain`);
      const next: Node = { ...n, Spec: { ...(spec.Name ? { Name: spec.Name } : {}), Labels: spec.Labels ?? {}, Role: role, Availability: availability } };
      const stored = await this.d.store.put('node', next, { expect: version });
      if (stored.ID === this.node?.ID) this.node = stored;
    });
  }

  // ---- /services -----------------------------------------------------------------------------

  async listServices(f: Filters, withStatus: boolean): Promise<Service[]> {
    const ctl = this.ctl();
    f.validate(['id', 'label', 'mode', 'name']);
    for (const m of f.get('mode')) if (m !== 'replicated' && m !== 'global') throw invalid(`Invalid filter: 'mode'='${m}'`);
    const all = await ctl.listServices();
    const out = all.filter((s) => {
      if (f.get('id').length && !f.get('id').some((p) => s.ID.startsWith(p))) return false;
      if (f.get('name').length && !f.get('name').some((p) => s.Spec.Name.startsWith(p))) return false;
      if (!matchKVList(f.get('label'), s.Spec.Labels)) return false;
      if (f.get('mode').length && !f.get('mode').includes(s.Spec.Mode?.Global ? 'global' : 'replicated')) return false;
      return true;
    });
    if (!withStatus) return out;
    const counts = await ctl.statuses(out);
    return out.map((s) => ({ ...s, ServiceStatus: counts.get(s.ID)! }));
  }

  async createService(spec: ServiceSpec | undefined): Promise<{ ID: string; Warnings: string[] }> {
    const ctl = this.ctl();
    const s = await ctl.createService(this.prepare(spec));
    return { ID: s.ID, Warnings: [] };
  }

  async getService(ref: string, insertDefaults = false): Promise<Service> {
    const s = await this.ctl().getService(ref);
    return insertDefaults ? { ...s, Spec: serviceSpecWithDefaults(s.Spec), ...(s.PreviousSpec ? { PreviousSpec: serviceSpecWithDefaults(s.PreviousSpec) } : {}) } : s;
  }

  async updateService(ref: string, version: number | undefined, spec: ServiceSpec | undefined, o: { rollback?: string; registryAuthFrom?: string } = {}): Promise<{ Warnings: string[] }> {
    const ctl = this.ctl();
    if (version === undefined) throw invalid('invalid service version: the version query parameter is required');
    if (o.rollback && o.rollback !== 'previous') throw invalid(`unrecognized rollback option ${o.rollback}`);
    if (o.registryAuthFrom && !['spec', 'previous-spec'].includes(o.registryAuthFrom)) throw invalid(`unsupported registryAuthFrom value: ${o.registryAuthFrom}`);
    const rollback = o.rollback === 'previous';
    // A rollback goes back to the previous spec whatever the body says (the CLI sends the current one): the controller takes it.
    const r = await ctl.updateService(ref, version, rollback ? ({} as ServiceSpec) : this.prepare(spec), { rollback });
    return { Warnings: r.Warnings ?? [] };
  }

  async removeService(ref: string): Promise<void> {
    await this.ctl().removeService(ref);
  }

  // ---- /tasks --------------------------------------------------------------------------------

  async listTasks(f: Filters): Promise<Task[]> {
    const ctl = this.ctl();
    f.validate(['id', 'name', 'service', 'node', 'label', 'desired-state', '_up-to-date']);
    for (const s of f.get('desired-state')) if (!['running', 'shutdown', 'accepted'].includes(s)) throw invalid(`Invalid desired-state '${s}': use running, shutdown or accepted`);
    const [tasks, services] = await Promise.all([ctl.listTasks(), ctl.listServices()]);
    const byId = new Map(services.map((s) => [s.ID, s]));
    const serviceIds = f.get('service').length ? resolveRefs(f.get('service'), services.map((s) => ({ id: s.ID, names: [s.Spec.Name] }))) : undefined;
    const nodes = f.get('node').length ? await this.d.store.list('node') : [];
    const nodeIds = f.get('node').length ? resolveRefs(f.get('node'), nodes.map((n) => ({ id: n.ID, names: [n.Spec.Name ?? '', n.Description.Hostname].filter(Boolean) }))) : undefined;
    const upToDate = f.bool('_up-to-date');
    return tasks.filter((t) => {
      const svc = byId.get(t.ServiceID);
      if (f.get('id').length && !f.get('id').some((p) => t.ID.startsWith(p))) return false;
      if (serviceIds && !serviceIds.has(t.ServiceID)) return false;
      if (nodeIds && !nodeIds.has(t.NodeID)) return false;
      if (f.get('name').length) {
        const names = svc ? [`${svc.Spec.Name}.${t.Slot || t.NodeID}`, `${svc.Spec.Name}.${t.Slot || t.NodeID}.${t.ID}`] : [];
        if (t.Name) names.push(t.Name);
        if (!f.get('name').some((p) => names.some((n) => n.startsWith(p)))) return false;
      }
      if (!matchKVList(f.get('label'), t.Labels)) return false;
      if (f.get('desired-state').length && !f.get('desired-state').some((d) => desiredStateMatches(t, d))) return false;
      if (upToDate && (!svc || !isUpToDate(t, svc))) return false;
      return true;
    });
  }

  getTask(ref: string): Promise<Task> {
    return this.ctl().getTask(ref);
  }

  // ---- logs ----------------------------------------------------------------------------------

  /**
   * The logs of a service's tasks (or of one task), merged: each line one
   * frame, "<timestamp> <details> <message>" as dockerd writes them. Returns
   * whether the service has a TTY (then the lines go out raw, unframed).
   */
  async logs(kind: 'service' | 'task', ref: string, o: LogOptions): Promise<{ tty: boolean; write: (out: Writable, signal: AbortSignal) => Promise<void> }> {
    const ctl = this.ctl();
    if (!o.stdout && !o.stderr) throw invalid('Bad parameters: you must choose at least one stream');
    let service: Service;
    let only: string | undefined;
    let tty: boolean;
    if (kind === 'task') {
      const t = await ctl.getTask(ref);
      only = t.ID;
      tty = !!t.Spec.ContainerSpec.TTY;
      service = await ctl.getService(t.ServiceID);
    } else {
      service = await ctl.getService(ref);
      tty = !!service.Spec.TaskTemplate.ContainerSpec.TTY;
    }
    const taskContainers = async (): Promise<{ task: Task; containerId: string }[]> => {
      const existing = this.exec.existing();
      const tasks = (await ctl.listTasks()).filter((t) => t.ServiceID === service.ID && (!only || t.ID === only));
      const out: { task: Task; containerId: string }[] = [];
      for (const t of tasks) {
        const id = t.Status.ContainerStatus?.ContainerID || existing.get(t.ID);
        if (id && this.d.containers.store.get(id)) out.push({ task: t, containerId: id });
      }
      return out.sort((a, b) => a.task.Slot - b.task.Slot || a.task.CreatedAt.localeCompare(b.task.CreatedAt));
    };
    const write = async (out: Writable, signal: AbortSignal) => {
      const sink = new LineSink(out, { tty, timestamps: o.timestamps, details: o.details }, signal);
      const first = await taskContainers();
      if (!o.follow) {
        // Every task's lines, merged in time order.
        const lines: LogLine[] = [];
        for (const tc of first) {
          const ctx = contextOf(tc.task);
          await readLines(this.d.containers, tc.containerId, o, false, signal, (l) => lines.push({ ...l, ctx }));
        }
        lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
        for (const l of lines) {
          if (signal.aborted) return;
          await sink.write(l);
        }
        return;
      }
      // Follow: each task container as it writes, and the tasks that start later, until the client goes or the service does.
      const following = new Set<string>();
      const running: Promise<void>[] = [];
      const follow = (tc: { task: Task; containerId: string }, fromStart: boolean) => {
        following.add(tc.containerId);
        const ctx = contextOf(tc.task);
        running.push(
          readLines(this.d.containers, tc.containerId, fromStart ? { ...o, tail: undefined, since: undefined } : o, true, signal, (l) => sink.write({ ...l, ctx })).catch((e: unknown) => {
            if (!signal.aborted) this.d.log.debug({ id: tc.containerId, err: messageOf(e) }, 'following a task\'s log');
          }),
        );
      };
      for (const tc of first) follow(tc, false);
      while (!signal.aborted && !out.destroyed) {
        await sleep(500, signal);
        if (signal.aborted) break;
        if (!this.controller) break;
        let current: { task: Task; containerId: string }[];
        try {
          if (!only) await this.controller.getService(service.ID);
          current = await taskContainers();
        } catch (e) {
          if (isKind(e, 'not-found')) break; // the service (or task) is gone: so is its log
          throw e;
        }
        for (const tc of current) if (!following.has(tc.containerId)) follow(tc, true);
        if (only && following.size && !current.length) break;
      }
      await Promise.race([Promise.all(running), sleep(1000)]);
    };
    return { tty, write };
  }

  // ---- internals -----------------------------------------------------------------------------

  private ctl(): Controller {
    if (!this.controller) throw unavailable(NOT_MANAGER);
    return this.controller;
  }

  /** Deletes of every swarm object in the store: tasks, services, nodes and the swarm. */
  private async deleteAll(): Promise<Op[]> {
    const ops: Op[] = [];
    for (const k of ['task', 'service', 'node', 'swarm'] as const) for (const o of await this.d.store.list(k)) ops.push({ op: 'delete', kind: k, id: o.ID });
    return ops;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.ops.run('swarm', fn);
  }

  private async startController(): Promise<void> {
    const node = this.node!;
    const ctl = new Controller(this.d.store, this.exec, this.d.lb, {
      nodeId: node.ID,
      log: this.d.log.child({ component: 'controller' }),
      historyLimit: this.swarm?.Spec.Orchestration?.TaskHistoryRetentionLimit ?? 5,
    });
    await ctl.start();
    this.controller = ctl;
  }

  /**
   * A spec as the controller takes it: the deprecated top-level Networks moved
   * into the task template, and every network target resolved to its ID.
   */
  private prepare(spec: ServiceSpec | undefined): ServiceSpec {
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw invalid('the request body must be a service spec');
    if (!spec.TaskTemplate || typeof spec.TaskTemplate !== 'object') throw invalid('TaskTemplate: a service needs a task template with a ContainerSpec');
    if (spec.TaskTemplate.Runtime && spec.TaskTemplate.Runtime !== 'container')
      throw notImplemented(`service runtime "${spec.TaskTemplate.Runtime}" is not supported: Pier runs container tasks only`);
    for (const [what, v] of [['TaskTemplate.Networks', spec.TaskTemplate.Networks], ['Networks', spec.Networks]] as const)
      if (v !== undefined && v !== null && !Array.isArray(v)) throw invalid(`${what} must be a list of network attachments ({"Target": "<network>"})`);
    const out: ServiceSpec = { ...spec, TaskTemplate: { ...spec.TaskTemplate } };
    const nets = networksOf(spec);
    delete out.Networks;
    if (nets.length) out.TaskTemplate.Networks = this.resolveNetworks(nets);
    else delete out.TaskTemplate.Networks;
    return out;
  }

  private resolveNetworks(nets: NetworkAttachmentConfig[]): NetworkAttachmentConfig[] {
    const seen = new Set<string>();
    return nets.map((n) => {
      if (!n || typeof n.Target !== 'string' || !n.Target) throw invalid('a service network needs a Target: the name or ID of a network');
      const rec = this.d.networks.store.find(n.Target);
      if (rec.driver !== 'bridge' || rec.predefined)
        throw invalid(`The network ${rec.name} cannot be used with services. Only user-defined networks can be used, such as those created with "docker network create" (bridge driver).`);
      if (seen.has(rec.id)) throw invalid(`service cannot be attached to network ${rec.name} more than once`);
      seen.add(rec.id);
      return { ...n, Target: rec.id };
    });
  }

  private newNode(id: string, addr: { host: string; port: number }, availability: Node['Spec']['Availability']): Node {
    const now = new Date().toISOString();
    return {
      ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
      Spec: { Labels: {}, Role: 'manager', Availability: availability },
      Description: this.description(),
      Status: { State: 'ready', Addr: addr.host },
      ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}` },
    };
  }

  private description(): Node['Description'] {
    const labels: Record<string, string> = {};
    for (const l of this.d.engineLabels ?? []) {
      const i = l.indexOf('=');
      if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1);
    }
    return {
      Hostname: os.hostname(),
      Platform: { Architecture: os.machine(), OS: 'linux' },
      Resources: { NanoCPUs: os.availableParallelism() * 1e9, MemoryBytes: os.totalmem() },
      Engine: {
        EngineVersion: PIER_VERSION,
        ...(Object.keys(labels).length ? { Labels: labels } : {}),
        Plugins: [
          { Type: 'Log', Name: 'json-file' }, { Type: 'Log', Name: 'local' },
          { Type: 'Network', Name: 'bridge' }, { Type: 'Network', Name: 'host' }, { Type: 'Network', Name: 'null' },
          { Type: 'Volume', Name: 'local' },
        ],
      },
      TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    };
  }

  /** Service and node events, like dockerd's (scope swarm); the swarm and node kept current for /info. */
  private onStoreEvent(e: StoreEvent): void {
    if (e.kind === 'swarm') {
      if (e.action === 'delete') this.swarm = undefined;
      else if (this.swarm && (e.obj as Swarm).ID === this.swarm.ID) this.swarm = e.obj as Swarm;
      return;
    }
    if (e.kind !== 'service' && e.kind !== 'node') return;
    const action = e.action === 'delete' ? 'remove' : e.action;
    const id = e.obj.ID;
    const attrs: Record<string, string> = {};
    if (e.kind === 'service') {
      const s = e.obj as Service;
      attrs.name = s.Spec.Name;
      const old = this.seen.get(id) as Service | undefined;
      if (e.action === 'update' && old) {
        diff(attrs, 'image', old.Spec.TaskTemplate.ContainerSpec.Image, s.Spec.TaskTemplate.ContainerSpec.Image);
        diff(attrs, 'replicas', String(old.Spec.Mode?.Replicated?.Replicas ?? ''), String(s.Spec.Mode?.Replicated?.Replicas ?? ''));
        diff(attrs, 'updatestate', old.UpdateStatus?.State ?? '', s.UpdateStatus?.State ?? '');
      }
    } else {
      const n = e.obj as Node;
      attrs.name = n.Spec.Name || n.Description.Hostname;
      const old = this.seen.get(id) as Node | undefined;
      if (e.action === 'update' && old) {
        diff(attrs, 'availability', old.Spec.Availability, n.Spec.Availability);
        diff(attrs, 'role', old.Spec.Role, n.Spec.Role);
        diff(attrs, 'state', old.Status.State, n.Status.State);
      }
      if (this.node?.ID === id && e.action !== 'delete') this.node = n;
    }
    if (e.action === 'delete') this.seen.delete(id);
    else this.seen.set(id, e.obj as Service | Node);
    this.d.events.emit(e.kind, action, id, attrs, 'swarm');
  }
}

// ---- specs ---------------------------------------------------------------------------------------

/** Docker's defaults for a swarm spec's unset fields (swarmkit's, as `docker swarm init` gets them). */
export function swarmSpecWithDefaults(spec: SwarmSpec): SwarmSpec {
  if (spec.Name && spec.Name !== 'default') throw invalid('swarm spec must be named "default"');
  return {
    ...spec,
    Name: 'default',
    Labels: spec.Labels ?? {},
    Orchestration: { TaskHistoryRetentionLimit: 5, ...defined(spec.Orchestration) },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1, ...nonZero(spec.Raft) },
    Dispatcher: { HeartbeatPeriod: 5e9, ...nonZero(spec.Dispatcher) },
    CAConfig: { NodeCertExpiry: 7776000000000000, ...nonZero(spec.CAConfig) },
    TaskDefaults: spec.TaskDefaults ?? {},
    EncryptionConfig: { AutoLockManagers: !!spec.EncryptionConfig?.AutoLockManagers },
  };
}

/** GET /services/{id}?insertDefaults=true: the spec with swarmkit's defaults in its unset fields. */
export function serviceSpecWithDefaults(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  const t = (s.TaskTemplate ??= { ContainerSpec: { Image: '' } });
  const cs = (t.ContainerSpec ??= { Image: '' });
  cs.StopGracePeriod ??= DEFAULT_STOP_GRACE;
  cs.DNSConfig ??= {};
  t.Resources ??= {};
  t.Resources.Limits ??= {};
  t.Resources.Reservations ??= {};
  t.RestartPolicy = { Condition: 'any', Delay: 5e9, MaxAttempts: 0, ...defined(t.RestartPolicy) };
  t.Placement ??= {};
  // swarm's defaults, but Delay (0) is left out when unset, as swarmkit shows it
  const { Delay: _zero, ...shown } = UPDATE_DEFAULTS;
  const upd = (u: UpdateConfig | undefined): UpdateConfig => ({ ...shown, ...defined(u) });
  s.UpdateConfig = upd(s.UpdateConfig);
  s.RollbackConfig = upd(s.RollbackConfig);
  s.EndpointSpec = { Mode: 'vip', ...defined(s.EndpointSpec) };
  return s;
}

/**
 * `_up-to-date` (the CLI's progress display): a task made from the service's
 * current task template. Fields left empty count as unset on either side.
 */
export function isUpToDate(t: Task, s: Service): boolean {
  return !taskSpecsDiffer(t.Spec, s.Spec.TaskTemplate);
}

function defined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined && v !== null) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Go's zero values are "unset" in a swarm spec (the CLI sends 0 for a flag it was not given). */
function nonZero<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined && v !== null && v !== 0) (out as Record<string, unknown>)[k] = v;
  return out;
}

function desiredStateMatches(t: Task, want: string): boolean {
  if (want === 'running') return !isEnded(t.DesiredState);
  if (want === 'shutdown') return isEnded(t.DesiredState);
  return t.DesiredState === want;
}

/** IDs of the objects that refs name: full ID, exact name, or ID prefix. */
function resolveRefs(refs: string[], objs: { id: string; names: string[] }[]): Set<string> {
  const out = new Set<string>();
  for (const r of refs) {
    const exact = objs.filter((o) => o.id === r || o.names.includes(r));
    for (const o of exact.length ? exact : objs.filter((x) => x.id.startsWith(r))) out.add(o.id);
  }
  return out;
}

/** A swarm spec's shape: objects where objects go, numbers where numbers go. */
function checkSwarmSpec(spec: unknown): void {
  if (spec === undefined || spec === null) return;
  if (typeof spec !== 'object' || Array.isArray(spec)) throw invalid('Spec must be a JSON object (a swarm spec)');
  const s = spec as Record<string, unknown>;
  if (s.Name !== undefined && s.Name !== null && s.Name !== '' && s.Name !== 'default') throw invalid('swarm spec must be named "default"');
  checkLabels('swarm labels', s.Labels);
  for (const k of ['Orchestration', 'Raft', 'Dispatcher', 'CAConfig', 'TaskDefaults', 'EncryptionConfig']) {
    const v = s[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`Spec.${k} must be a JSON object`);
    for (const [f, x] of Object.entries(v))
      if (!['ExternalCAs', 'LogDriver', 'AutoLockManagers', 'SigningCACert', 'SigningCAKey', 'ForceRotate'].includes(f) && x !== null && typeof x !== 'number')
        throw invalid(`Spec.${k}.${f} must be a number`);
  }
}

function diff(attrs: Record<string, string>, key: string, before: string, after: string): void {
  if (before === after) return;
  attrs[`${key}.old`] = before;
  attrs[`${key}.new`] = after;
}

// ---- identities and addresses ----------------------------------------------------------------

/** SWMTKN-1-<the swarm's fingerprint>-<secret>, the form `docker swarm join --token` takes. */
const joinToken = (fingerprint: string): string => `SWMTKN-1-${fingerprint}-${newId()}`;

const isUnspecified = (h: string) => h === '0.0.0.0' || h === '::' || h === '';

/** "host[:port]", "[v6]:port" or "eth0[:port]" (an interface: its first IPv4 address). */
export function parseAddr(s: string, what: string): { host: string; port: number } {
  let host = s;
  let port = MANAGER_PORT;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if (isIP(s) !== 6) {
    const i = s.lastIndexOf(':');
    if (i >= 0) {
      host = s.slice(0, i);
      if (!/^\d+$/.test(s.slice(i + 1))) throw invalid(`invalid ${what} address ${s}: the port must be a number`);
      port = Number(s.slice(i + 1));
    }
  }
  if (port < 1 || port > 65535) throw invalid(`invalid ${what} address ${s}: port ${port} is out of range`);
  if (host && !isIP(host)) {
    const ifc = os.networkInterfaces()[host];
    const v4 = ifc?.find((a) => a.family === 'IPv4');
    if (!v4) throw invalid(`${what} address must be a non-zero IP address or network interface (with optional port number): ${s}`);
    host = v4.address;
  }
  return { host: host || '0.0.0.0', port };
}

// ---- log lines -------------------------------------------------------------------------------------

interface LogLine {
  stream: 1 | 2;
  /** RFC 3339 with 9 fractional digits: sorts as text. */
  ts: string;
  text: Buffer;
  ctx?: string;
}

/** dockerd's log details for a task: sorted key=value pairs, query-escaped. */
function contextOf(t: Task): string {
  const q = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return [
    [TASK_LABELS.nodeId, t.NodeID],
    [TASK_LABELS.serviceId, t.ServiceID],
    [TASK_LABELS.taskId, t.ID],
  ].map(([k, v]) => `${q(k!)}=${q(v!)}`).join(',');
}

/**
 * A container's log as lines (stream, timestamp, text without the newline).
 * streamLog frames them the Docker way with a timestamp before each line;
 * here they are taken apart again, each stream's partial line kept until its end.
 */
async function readLines(containers: ContainerService, id: string, o: LogOptions, follow: boolean, signal: AbortSignal, onLine: (l: LogLine) => unknown): Promise<void> {
  const c = containers.store.get(id);
  if (!c) return;
  if (c.hostConfig.LogConfig?.Type === 'none') return;
  const carry: (Buffer | undefined)[] = [undefined, undefined, undefined];
  let pending: Promise<unknown> = Promise.resolve();
  let waiting = false;
  const line = (stream: 1 | 2, raw: Buffer) => {
    const sp = raw.indexOf(0x20);
    const ts = sp > 0 ? raw.subarray(0, sp).toString() : rfc3339NanoFixed(BigInt(Date.now()) * 1000000n);
    const r = onLine({ stream, ts, text: sp > 0 ? raw.subarray(sp + 1) : raw });
    if (r instanceof Promise) {
      pending = pending.then(() => r);
      waiting = true;
    }
  };
  let onExit: (() => void) | undefined;
  const stopped = follow && c.state.Running ? new Promise<void>((r) => containers.signals.once(`exit:${id}`, (onExit = () => setTimeout(r, 0)))) : undefined;
  try {
    await streamLog(
      c.logPath,
      { stdout: o.stdout, stderr: o.stderr, since: o.since, tail: o.tail, timestamps: true, multiplexed: true, follow: follow && !!stopped, signal },
      (b) => {
        let off = 0;
        while (off + 8 <= b.length) {
          const stream = b[off] as 1 | 2;
          const len = b.readUInt32BE(off + 4);
          let data = b.subarray(off + 8, off + 8 + len);
          off += 8 + len;
          const prev = carry[stream];
          if (prev) data = Buffer.concat([prev, data]);
          let start = 0;
          for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
            line(stream, data.subarray(start, nl));
            start = nl + 1;
          }
          carry[stream] = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
        }
        // Lines still being written to a slow client: streamLog waits for them before reading on.
        return !waiting;
      },
      async () => {
        await pending;
        waiting = false;
      },
      stopped,
    );
    for (const s of [1, 2] as const) if (carry[s]) line(s, carry[s]!);
    await pending;
  } finally {
    if (onExit) containers.signals.off(`exit:${id}`, onExit);
  }
}

/** Writes lines out, one stdcopy frame each (the CLI's service log parser needs a line per frame), or raw for a TTY. */
class LineSink {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly out: Writable,
    private readonly o: { tty: boolean; timestamps: boolean; details: boolean },
    private readonly signal: AbortSignal,
  ) {}

  write(l: LogLine): Promise<void> {
    this.chain = this.chain.then(() => this.put(l));
    return this.chain;
  }

  private async put(l: LogLine): Promise<void> {
    if (this.signal.aborted || this.out.destroyed || this.out.writableEnded) return;
    const parts: Buffer[] = [];
    if (this.o.timestamps) parts.push(Buffer.from(l.ts + ' '));
    if (this.o.details) parts.push(Buffer.from((l.ctx ?? '') + ' '));
    parts.push(l.text, Buffer.from('\n'));
    const payload = Buffer.concat(parts);
    let frame = payload;
    if (!this.o.tty) {
      const h = Buffer.alloc(8);
      h[0] = l.stream;
      h.writeUInt32BE(payload.length, 4);
      frame = Buffer.concat([h, payload]);
    }
    if (!this.out.write(frame)) {
      await new Promise<void>((r) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('close', done);
          this.signal.removeEventListener('abort', done);
          r();
        };
        this.out.once('drain', done);
        this.out.once('close', done);
        this.signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

