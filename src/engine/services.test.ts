import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notFound } from '../base/errdefs.js';
import { engineError } from '../base/errdefs.test-support.js';
import { Logger } from '../base/log.js';
import { MemoryClusterStore } from '../service/memory-store.js';
import type { LoadBalancer } from '../service/lb/balancer.js';
import type { Service, Task } from '../service/types.js';
import type { ContainerService } from './containers/service.js';
import { EventBus, type EngineEvent } from './events.js';
import { parseFilters } from './filters.js';
import type { NetworkService } from './networks.js';
import { isUpToDate, NOT_MANAGER, parseAddr, serviceSpecWithDefaults, SwarmService, swarmSpecWithDefaults } from './services.js';

const quiet = new Logger({ write: () => undefined }, 'fatal');
const f = (o: Record<string, string[]> = {}) => parseFilters(JSON.stringify(o));
const fails = engineError;

const lb: LoadBalancer = {
  reservePorts: async (_id, ports) => ports,
  releasePorts: async () => undefined,
  allocateVips: async () => ({}),
  releaseVips: async () => undefined,
  apply: async () => undefined,
  close: async () => undefined,
};

const NETS = [
  { id: 'a'.repeat(64), name: 'appnet', driver: 'bridge' },
  { id: 'b'.repeat(64), name: 'bridge', driver: 'bridge', predefined: true },
  { id: 'c'.repeat(64), name: 'host', driver: 'host', predefined: true },
];

function make(store = new MemoryClusterStore()) {
  const events = new EventBus();
  const seen: EngineEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const containers = { store: { all: () => [], get: () => undefined }, events, images: { resolve: () => ({ id: 'sha256:1' }) } } as unknown as ContainerService;
  const networks = {
    store: {
      find: (ref: string) => {
        const n = NETS.find((x) => x.id === ref || x.name === ref);
        if (!n) throw notFound(`network ${ref} not found`);
        return n;
      },
    },
  } as unknown as NetworkService;
  const svc = new SwarmService({ store, containers, networks, lb, events, log: quiet });
  return { svc, store, seen };
}

describe('SwarmService before init', () => {
  it('answers like a node outside any swarm', async () => {
    const { svc } = make();
    await svc.open();
    assert.throws(() => svc.inspect(), fails('unavailable', NOT_MANAGER));
    await assert.rejects(svc.listServices(f(), false), fails('unavailable', NOT_MANAGER));
    await assert.rejects(svc.listTasks(f()), fails('unavailable', NOT_MANAGER));
    await assert.rejects(svc.listNodes(f()), fails('unavailable', NOT_MANAGER));
    await assert.rejects(svc.leave(true), fails('unavailable', 'This node is not part of a swarm'));
    assert.equal(svc.pingStatus(), 'inactive');
    assert.deepEqual(svc.info(), { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null });
    await assert.rejects(svc.join(), fails('not-implemented', /single-node swarms/));
  });
});

describe('SwarmService', () => {
  it('init makes the swarm and this node its manager; a second init is refused', async () => {
    const { svc, seen } = make();
    await svc.open();
    const id = await svc.init({ ListenAddr: '0.0.0.0:2377' });
    assert.match(id, /^[0-9a-z]{25}$/);
    const s = svc.inspect();
    assert.match(s.ID, /^[0-9a-z]{25}$/);
    assert.deepEqual(s.Spec.Raft, { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 });
    assert.equal(s.Spec.Orchestration?.TaskHistoryRetentionLimit, 5);
    assert.match(s.JoinTokens.Worker, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    assert.notEqual(s.JoinTokens.Worker, s.JoinTokens.Manager);
    assert.equal(s.JoinTokens.Worker.split('-')[2], s.JoinTokens.Manager.split('-')[2], 'both tokens carry the swarm\'s fingerprint');
    assert.deepEqual([s.DefaultAddrPool, s.SubnetSize, s.DataPathPort], [['10.0.0.0/8'], 24, 4789]);
    const info = svc.info() as { NodeID: string; LocalNodeState: string; ControlAvailable: boolean; NodeAddr: string; RemoteManagers: { Addr: string }[]; Cluster: { ID: string } };
    assert.equal(info.NodeID, id);
    assert.equal(info.LocalNodeState, 'active');
    assert.equal(info.ControlAvailable, true);
    assert.equal(info.NodeAddr, '127.0.0.1', 'an unspecified listen address is advertised as loopback');
    assert.deepEqual(info.RemoteManagers, [{ NodeID: id, Addr: '127.0.0.1:2377' }]);
    assert.equal(info.Cluster.ID, s.ID);
    assert.equal(svc.pingStatus(), 'active/manager');
    await assert.rejects(svc.init({}), fails('unavailable', 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.'));
    const nodeEvents = seen.filter((e) => e.Type === 'node');
    assert.deepEqual(nodeEvents.map((e) => [e.Action, e.Actor.ID, e.scope]), [['create', id, 'swarm']]);
    await svc.close();
  });

  it('init checks its addresses and options', async () => {
    const { svc } = make();
    await svc.open();
    await assert.rejects(svc.init({ AdvertiseAddr: '0.0.0.0' }), fails('invalid', /advertise address must be a non-zero IP address/));
    await assert.rejects(svc.init({ ListenAddr: 'nosuchif0:2377' }), fails('invalid', /listen address must be a non-zero IP address or network interface/));
    await assert.rejects(svc.init({ DataPathPort: 80 }), fails('invalid', /1024-49151/));
    await assert.rejects(svc.init({ DefaultAddrPool: ['10.0.0.0/33'] }), fails('invalid', /invalid default address pool/));
    await assert.rejects(svc.init({ AutoLockManagers: true }), fails('not-implemented', /autolock/));
    await assert.rejects(svc.init({ Spec: { Name: 'other' } }), fails('invalid', 'swarm spec must be named "default"'));
    await assert.rejects(svc.init({ Spec: 'str' as never }), fails('invalid', /Spec must be a JSON object/));
    await assert.rejects(svc.init({ Spec: { Raft: { ElectionTick: 'x' as never } } }), fails('invalid', 'Spec.Raft.ElectionTick must be a number'));
    await assert.rejects(svc.init({ ListenAddr: 12 as never }), fails('invalid', 'ListenAddr must be a string'));
    await assert.rejects(svc.init({ DefaultAddrPool: 'x' as never }), fails('invalid', /DefaultAddrPool must be a list/));
    assert.equal(svc.pingStatus(), 'inactive', 'nothing was made by the refused inits');
    const id = await svc.init({ AdvertiseAddr: '10.1.2.3:4000', Spec: { Orchestration: { TaskHistoryRetentionLimit: 2 } } });
    const n = await svc.getNode(id);
    assert.equal(n.Status.Addr, '10.1.2.3');
    assert.deepEqual(n.ManagerStatus, { Leader: true, Reachability: 'reachable', Addr: '10.1.2.3:4000' });
    assert.equal(svc.inspect().Spec.Orchestration?.TaskHistoryRetentionLimit, 2);
    await svc.close();
  });

  it('update needs the current version and rotates the tokens asked for', async () => {
    const { svc } = make();
    await svc.open();
    await svc.init({});
    const s = svc.inspect();
    await assert.rejects(svc.update(s.Version.Index - 1, s.Spec), fails('conflict', 'update out of sequence'));
    await svc.update(s.Version.Index, { ...s.Spec, Labels: { a: 'b' } }, { rotateWorkerToken: true });
    const t = svc.inspect();
    assert.deepEqual(t.Spec.Labels, { a: 'b' });
    assert.notEqual(t.JoinTokens.Worker, s.JoinTokens.Worker);
    assert.equal(t.JoinTokens.Manager, s.JoinTokens.Manager);
    assert.ok(t.Version.Index > s.Version.Index);
    await assert.rejects(svc.update(undefined, s.Spec), fails('invalid', /version/));
    // A new history limit: the controller is made again, and the swarm stays active.
    await svc.update(t.Version.Index, { ...t.Spec, Orchestration: { TaskHistoryRetentionLimit: 1 } });
    assert.equal(svc.inspect().Spec.Orchestration?.TaskHistoryRetentionLimit, 1);
    assert.deepEqual(await svc.listServices(f(), true), []);
    await svc.close();
  });

  it('nodes: found by ID, prefix, hostname or self; this node is never removed or demoted', async () => {
    const { svc, seen } = make();
    await svc.open();
    const id = await svc.init({});
    const self = await svc.getNode('self');
    assert.equal(self.ID, id);
    assert.equal((await svc.getNode(id.slice(0, 5))).ID, id);
    assert.equal((await svc.getNode(self.Description.Hostname)).ID, id);
    await assert.rejects(svc.getNode('zzzz-nosuch'), fails('not-found', 'node zzzz-nosuch not found'));
    assert.equal((await svc.listNodes(f({ role: ['manager'] }))).length, 1);
    assert.equal((await svc.listNodes(f({ role: ['worker'] }))).length, 0);
    await assert.rejects(svc.listNodes(f({ role: ['boss'] })), fails('invalid', /Invalid role 'boss'/));
    await assert.rejects(svc.listNodes(f({ color: ['red'] })), fails('invalid', "invalid filter 'color'"));
    await assert.rejects(svc.removeNode('self', true), fails('conflict', /must be demoted to worker before removal/));
    await assert.rejects(svc.updateNode('self', self.Version.Index, { ...self.Spec, Role: 'worker' }), fails('invalid', 'attempting to demote the last manager of the swarm'));
    await assert.rejects(svc.updateNode('self', self.Version.Index + 10, self.Spec), fails('conflict', 'update out of sequence'));
    await svc.updateNode('self', self.Version.Index, { ...self.Spec, Labels: { zone: 'a' }, Availability: 'active' });
    assert.deepEqual((await svc.getNode('self')).Spec.Labels, { zone: 'a' });
    assert.equal((await svc.listNodes(f({ 'node.label': ['zone=a'] }))).length, 1);
    const upd = seen.find((e) => e.Type === 'node' && e.Action === 'update');
    assert.equal(upd?.Actor.ID, id);
    await svc.close();
  });

  it('leave needs force on a manager, then forgets the swarm', async () => {
    const { svc, store } = make();
    await svc.open();
    await svc.init({});
    await assert.rejects(
      svc.leave(false),
      fails('unavailable', 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.'),
    );
    await svc.leave(true);
    assert.equal(svc.pingStatus(), 'inactive');
    assert.deepEqual([await store.list('swarm'), await store.list('node')], [[], []]);
    assert.throws(() => svc.inspect(), fails('unavailable', NOT_MANAGER));
    await svc.init({}); // a new swarm can be made again
    await svc.close();
  });

  it('a swarm is still active after a restart (a new SwarmService on the same store)', async () => {
    const store = new MemoryClusterStore();
    // The store outlives the first service (as the database outlives a daemon): its close() is not passed on.
    const shared = {
      get: (k: 'swarm', id: string) => store.get(k, id), list: (k: 'swarm') => store.list(k), put: (k: 'swarm', o: never, p?: object) => store.put(k, o, p),
      delete: (k: 'swarm', id: string, p?: object) => store.delete(k, id, p), txn: (ops: never[]) => store.txn(ops), watch: (fn: never) => store.watch(fn),
      close: async () => undefined,
    } as unknown as MemoryClusterStore;
    const a = make(shared);
    await a.svc.open();
    const id = await a.svc.init({});
    const swarmId = a.svc.inspect().ID;
    await a.svc.close();
    const b = make(store);
    await b.svc.open();
    assert.equal(b.svc.pingStatus(), 'active/manager');
    assert.equal(b.svc.inspect().ID, swarmId);
    assert.equal((await b.svc.getNode('self')).ID, id);
    await b.svc.close();
  });

  it('resolves service networks to IDs and refuses unknown and predefined ones', async () => {
    const { svc } = make();
    await svc.open();
    await svc.init({});
    const spec = (nets: { Target: string }[]) => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: nets } });
    await assert.rejects(svc.createService(spec([{ Target: 'nosuch' }])), fails('not-found', 'network nosuch not found'));
    await assert.rejects(svc.createService(spec([{ Target: 'host' }])), fails('invalid', /The network host cannot be used with services/));
    await assert.rejects(svc.createService(spec([{ Target: 'bridge' }])), fails('invalid', /The network bridge cannot be used with services/));
    await assert.rejects(svc.createService(spec([{ Target: 'appnet' }, { Target: 'a'.repeat(64) }])), fails('invalid', /more than once/));
    await assert.rejects(svc.createService({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Runtime: 'plugin' } }), fails('not-implemented', /runtime "plugin"/));
    await assert.rejects(svc.createService(undefined), fails('invalid', /service spec/));
    await assert.rejects(svc.createService({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox', Env: 'A=1' as never } } }), fails('invalid', 'ContainerSpec.Env must be a list of strings'));
    await assert.rejects(svc.createService({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox', Labels: { a: 1 as never } } } }), fails('invalid', /ContainerSpec.Labels must be an object of string values/));
    await svc.close();
  });
});

describe('specs', () => {
  it('swarm spec defaults fill Go zero values', () => {
    const s = swarmSpecWithDefaults({ Raft: { ElectionTick: 0, SnapshotInterval: 500 }, Dispatcher: { HeartbeatPeriod: 0 } });
    assert.equal(s.Name, 'default');
    assert.deepEqual(s.Raft, { SnapshotInterval: 500, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 });
    assert.deepEqual(s.Dispatcher, { HeartbeatPeriod: 5e9 });
    assert.deepEqual(s.CAConfig, { NodeCertExpiry: 7776000000000000 });
    assert.deepEqual(s.EncryptionConfig, { AutoLockManagers: false });
  });

  it('insertDefaults fills swarmkit\'s service defaults and keeps what is set', () => {
    const s = serviceSpecWithDefaults({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox', StopGracePeriod: 1e9 } }, UpdateConfig: { Parallelism: 0 } });
    assert.equal(s.TaskTemplate.ContainerSpec.StopGracePeriod, 1e9);
    assert.deepEqual(s.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
    assert.deepEqual(s.UpdateConfig, { Parallelism: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
    assert.deepEqual(s.RollbackConfig, { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
    assert.deepEqual(s.EndpointSpec, { Mode: 'vip' });
  });

  it('a task is up to date while its spec is the service\'s template', () => {
    const svc = { Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox', Env: ['A=1'] }, ForceUpdate: 0 } } } as Service;
    const t = (spec: Task['Spec']) => ({ Spec: spec }) as Task;
    assert.equal(isUpToDate(t({ ContainerSpec: { Image: 'busybox', Env: ['A=1'] } }), svc), true);
    assert.equal(isUpToDate(t({ ContainerSpec: { Image: 'busybox' } }), svc), false);
  });

  it('addresses: IPs, ports, IPv6 and interfaces', () => {
    assert.deepEqual(parseAddr('10.0.0.1', 'listen'), { host: '10.0.0.1', port: 2377 });
    assert.deepEqual(parseAddr('10.0.0.1:4567', 'listen'), { host: '10.0.0.1', port: 4567 });
    assert.deepEqual(parseAddr('[::1]:4567', 'listen'), { host: '::1', port: 4567 });
    assert.deepEqual(parseAddr('lo', 'listen'), { host: '127.0.0.1', port: 2377 });
    assert.throws(() => parseAddr('10.0.0.1:x', 'listen'), fails('invalid', /port must be a number/));
    assert.throws(() => parseAddr('10.0.0.1:70000', 'listen'), fails('invalid', /out of range/));
  });
});
