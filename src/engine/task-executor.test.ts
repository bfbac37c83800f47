import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostname, machine } from 'node:os';
import { EngineError, notFound } from '../base/errdefs.js';
import { Logger } from '../base/log.js';
import type { Service, Task } from '../service/types.js';
import type { ContainerService } from './containers/service.js';
import { initialState, type ContainerRecord } from './containers/record.js';
import { EventBus } from './events.js';
import { ContainerExecutor, containerFor, extraHosts, observation, taskName } from './task-executor.js';

const quiet = new Logger({ write: () => undefined }, 'fatal');

function service(spec: Partial<Service['Spec']> = {}): Service {
  return {
    ID: 'svc0000000000000000000001', Version: { Index: 3 }, CreatedAt: '', UpdatedAt: '',
    Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, ...spec },
    Endpoint: { Spec: {} },
  };
}

function task(s: Service, o: Partial<Task> = {}): Task {
  return {
    ID: 'task00000000000000000000a', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Labels: {},
    Spec: s.Spec.TaskTemplate, ServiceID: s.ID, Slot: 2, NodeID: 'node0000000000000000000001',
    Status: { Timestamp: '', State: 'new', Message: '' }, DesiredState: 'running', ...o,
  };
}

function record(o: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: 'c1', name: 'web.2.x', created: '', path: 'sh', args: [], config: {}, hostConfig: {}, image: 'sha256:x', imageName: 'busybox', parentChain: '',
    state: initialState(), restartCount: 0, manuallyStopped: false, hasBeenStarted: false, driver: 'vfs', logPath: '', hostsPath: '', hostnamePath: '', resolvConfPath: '',
    ...o,
  };
}

describe('containerFor', () => {
  it('names and labels the container as swarm does, and never restarts it itself', () => {
    const s = service({ TaskTemplate: { ContainerSpec: { Image: 'busybox', Labels: { mine: 'yes' }, Args: ['httpd', '-f'] } } });
    const { name, config, hostConfig } = containerFor(task(s), s);
    assert.equal(name, 'web.2.task00000000000000000000a');
    assert.deepEqual(config.Labels, {
      mine: 'yes',
      'com.docker.swarm.node.id': 'node0000000000000000000001',
      'com.docker.swarm.service.id': 'svc0000000000000000000001',
      'com.docker.swarm.service.name': 'web',
      'com.docker.swarm.task': '',
      'com.docker.swarm.task.id': 'task00000000000000000000a',
      'com.docker.swarm.task.name': 'web.2.task00000000000000000000a',
    });
    assert.deepEqual(config.Cmd, ['httpd', '-f']);
    assert.equal(config.Entrypoint, undefined);
    assert.deepEqual(hostConfig.RestartPolicy, { Name: 'no' });
    assert.equal(hostConfig.NetworkMode, 'bridge');
  });

  it('a global service\'s task is named after its node', () => {
    assert.equal(taskName('mon', { ID: 't1', Slot: 0, NodeID: 'n1' }), 'mon.n1.t1');
  });

  it('fills the node placeholders as the node\'s own description shows it', () => {
    const s = service({ TaskTemplate: { ContainerSpec: { Image: 'busybox', Env: ['ARCH={{.Node.Platform.Architecture}}', 'HOST={{ .Node.Hostname }}', 'OS={{.Node.Platform.OS}}'] } } });
    assert.deepEqual(containerFor(task(s), s).config.Env, [`ARCH=${machine()}`, `HOST=${hostname()}`, 'OS=linux']);
  });

  it('maps the container spec, resources and log driver', () => {
    const s = service({
      TaskTemplate: {
        ContainerSpec: {
          Image: 'busybox', Command: ['sh', '-c'], Args: ['echo hi'], Env: ['A=1', 'SLOT={{.Task.Slot}}'], Dir: '/w', User: 'nobody',
          Hostname: '{{.Service.Name}}-{{.Task.Slot}}', TTY: true, OpenStdin: true, ReadOnly: true, StopSignal: 'SIGINT', StopGracePeriod: 2_500_000_000,
          Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 }, Init: true, Hosts: ['10.0.0.1 db database', 'old:10.0.0.2'],
          DNSConfig: { Nameservers: ['1.1.1.1'], Search: ['example'], Options: ['ndots:1'] }, Sysctls: { 'net.ipv4.ip_forward': '1' },
          CapabilityAdd: ['NET_ADMIN'], CapabilityDrop: ['MKNOD'], Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }],
          Mounts: [{ Type: 'volume', Source: 'data-{{.Task.Slot}}', Target: '/data' }],
        },
        Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 << 20, Pids: 50 } },
        LogDriver: { Name: 'json-file', Options: { 'max-size': '1m' } },
        Runtime: 'container',
      },
    });
    const { config, hostConfig } = containerFor(task(s), s);
    assert.deepEqual(config.Entrypoint, ['sh', '-c']);
    assert.deepEqual(config.Cmd, ['echo hi']);
    assert.deepEqual(config.Env, ['A=1', 'SLOT=2']);
    assert.equal(config.WorkingDir, '/w');
    assert.equal(config.User, 'nobody');
    assert.equal(config.Hostname, 'web-2');
    assert.equal(config.Tty, true);
    assert.equal(config.OpenStdin, true);
    assert.equal(config.StopSignal, 'SIGINT');
    assert.equal(config.StopTimeout, 3); // 2.5 s, rounded up
    assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9 });
    assert.equal(hostConfig.ReadonlyRootfs, true);
    assert.equal(hostConfig.Init, true);
    assert.deepEqual(hostConfig.ExtraHosts, ['db:10.0.0.1', 'database:10.0.0.1', 'old:10.0.0.2']);
    assert.deepEqual(hostConfig.Dns, ['1.1.1.1']);
    assert.deepEqual(hostConfig.DnsSearch, ['example']);
    assert.deepEqual(hostConfig.DnsOptions, ['ndots:1']);
    assert.deepEqual(hostConfig.Sysctls, { 'net.ipv4.ip_forward': '1' });
    assert.deepEqual(hostConfig.CapAdd, ['NET_ADMIN']);
    assert.deepEqual(hostConfig.CapDrop, ['MKNOD']);
    assert.deepEqual(hostConfig.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
    assert.equal(hostConfig.NanoCpus, 5e8);
    assert.equal(hostConfig.Memory, 64 << 20);
    assert.equal(hostConfig.PidsLimit, 50);
    assert.deepEqual(hostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
    assert.deepEqual(hostConfig.Mounts, [{ Type: 'volume', Source: 'data-2', Target: '/data' }]);
    assert.equal(hostConfig.Runtime, undefined, 'swarm\'s "container" runtime is no OCI runtime');
  });

  it('publishes host-mode ports on the container and leaves ingress ones to the balancer', () => {
    const s = service({
      EndpointSpec: {
        Ports: [
          { TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress', Protocol: 'tcp' },
          { TargetPort: 53, PublishedPort: 5353, PublishMode: 'host', Protocol: 'udp' },
        ],
      },
    });
    const { config, hostConfig } = containerFor(task(s), s);
    assert.deepEqual(hostConfig.PortBindings, { '53/udp': [{ HostIp: '', HostPort: '5353' }] });
    assert.deepEqual(config.ExposedPorts, { '53/udp': {} });
  });

  it('joins the task\'s networks, with the user\'s aliases but not the service name', () => {
    const s = service({ TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'net1', Aliases: ['web', 'front'] }, { Target: 'net2' }] } });
    const { hostConfig, endpoints } = containerFor(task(s), s);
    assert.equal(hostConfig.NetworkMode, 'net1');
    assert.deepEqual(endpoints, { net1: { Aliases: ['front'] }, net2: { Aliases: [] } });
  });
});

describe('extraHosts', () => {
  it('turns /etc/hosts lines into host:ip entries', () => {
    assert.deepEqual(extraHosts(['192.168.0.1  a b', 'c:1.2.3.4', '']), ['a:192.168.0.1', 'b:192.168.0.1', 'c:1.2.3.4']);
  });
});

describe('observation', () => {
  it('reports a running container with its addresses and health', () => {
    const c = record({
      state: { ...initialState(), Status: 'running', Running: true, Pid: 42, Health: { Status: 'healthy', FailingStreak: 0, Log: [] } },
      hasBeenStarted: true,
      networks: { n: { networkId: 'netid', config: {}, endpoint: { networkId: 'netid', endpointId: 'e', ifname: 'eth0', mac: '', ipv4: '10.1.0.5', prefixLen: 24, gateway: '', ipv6: '', prefixLen6: 0, gateway6: '' } } },
    });
    assert.deepEqual(observation(c), { containerId: 'c1', running: true, pid: 42, health: 'healthy', addresses: { netid: '10.1.0.5/24' } });
  });

  it('reports the host-mode ports a running task container published', () => {
    const c = record({
      state: { ...initialState(), Status: 'running', Running: true, Pid: 7 },
      hasBeenStarted: true,
      ports: [{ proto: 'udp', containerPort: 53, hostIp: '', hostPort: 5353 }],
    });
    assert.deepEqual(observation(c).ports, [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' }]);
  });

  it('reports an exit code and the error once the container ended', () => {
    const c = record({ hasBeenStarted: true, state: { ...initialState(), Status: 'exited', ExitCode: 137, OOMKilled: true } });
    const o = observation(c);
    assert.equal(o.running, false);
    assert.equal(o.exitCode, 137);
    assert.equal(o.error, 'OOM killed');
    assert.equal(observation(record()).exitCode, undefined, 'a container never started has no exit code');
  });
});

/** Just enough of a ContainerService for the executor. */
function fakeContainers(o: { startFails?: boolean; images?: Set<string> } = {}) {
  const recs = new Map<string, ContainerRecord>();
  const calls: string[] = [];
  const events = new EventBus();
  const svc = {
    events,
    store: { get: (id: string) => recs.get(id), all: () => [...recs.values()] },
    images: {
      resolve: (ref: string) => {
        if (!o.images?.has(ref)) throw notFound(`No such image: ${ref}`);
        return { id: 'sha256:1' };
      },
    },
    async create(req: { name: string; config: { Labels?: Record<string, string> } }) {
      calls.push(`create ${req.name}`);
      recs.set('c1', record({ name: req.name, config: req.config }));
      return { Id: 'c1', Warnings: [] };
    },
    async start(id: string) {
      calls.push(`start ${id}`);
      if (o.startFails) throw new EngineError('internal', 'runc: exec failed');
      const c = recs.get(id)!;
      c.state = { ...c.state, Status: 'running', Running: true, Pid: 7 };
      c.hasBeenStarted = true;
    },
    async stop(id: string, so: { timeout?: number }) {
      calls.push(`stop ${id} ${so.timeout}`);
      if (!recs.get(id)?.state.Running) throw new EngineError('not-modified', 'container already stopped');
    },
    async remove(id: string, ro: { force?: boolean; volumes?: boolean }) {
      calls.push(`remove ${id} force=${ro.force} volumes=${ro.volumes}`);
      if (!recs.delete(id)) throw notFound(`No such container: ${id}`);
    },
  };
  return { svc: svc as unknown as ContainerService, calls, recs, events };
}

describe('ContainerExecutor', () => {
  it('creates and starts the task container and observes it', async () => {
    const f = fakeContainers();
    const ex = new ContainerExecutor(f.svc, undefined, quiet);
    const s = service();
    const o = await ex.run(task(s), s);
    assert.deepEqual(f.calls, ['create web.2.task00000000000000000000a', 'start c1']);
    assert.equal(o.running, true);
    assert.equal(o.pid, 7);
    assert.deepEqual([...ex.existing()], [['task00000000000000000000a', 'c1']]);
  });

  it('removes the container of a task that failed to start, and throws the start\'s error', async () => {
    const f = fakeContainers({ startFails: true });
    const ex = new ContainerExecutor(f.svc, undefined, quiet);
    const s = service();
    await assert.rejects(ex.run(task(s), s), /runc: exec failed/);
    assert.deepEqual(f.calls, ['create web.2.task00000000000000000000a', 'start c1', 'remove c1 force=true volumes=true']);
    assert.equal(f.recs.size, 0);
  });

  it('stops with the grace period in whole seconds, and a stopped or missing container is no error', async () => {
    const f = fakeContainers();
    const ex = new ContainerExecutor(f.svc, undefined, quiet);
    const s = service();
    await ex.run(task(s), s);
    await ex.stop('c1', 1_200_000_000);
    f.recs.get('c1')!.state.Running = false;
    await ex.stop('c1', 0);
    await ex.remove('c1');
    await ex.remove('c1');
    assert.deepEqual(f.calls.slice(2), ['stop c1 2', 'stop c1 0', 'remove c1 force=true volumes=true', 'remove c1 force=true volumes=true']);
    assert.equal(ex.observe('c1'), undefined);
  });

  it('reports the changes of task containers only', () => {
    const f = fakeContainers();
    const ex = new ContainerExecutor(f.svc, undefined, quiet);
    const seen: string[] = [];
    const off = ex.onChange((id) => seen.push(id));
    f.events.emit('container', 'start', 'plain', { name: 'x' });
    f.events.emit('container', 'die', 'task1', { 'com.docker.swarm.task.id': 't1' });
    f.events.emit('container', 'health_status: unhealthy', 'task1', { 'com.docker.swarm.task.id': 't1' });
    f.events.emit('container', 'exec_start: sh', 'task1', { 'com.docker.swarm.task.id': 't1' });
    f.events.emit('network', 'connect', 'task1', { 'com.docker.swarm.task.id': 't1' });
    off();
    f.events.emit('container', 'destroy', 'task1', { 'com.docker.swarm.task.id': 't1' });
    assert.deepEqual(seen, ['task1', 'task1']);
  });

  it('checkImage: a local image is fine; a missing one is pulled, and a failed pull is Docker\'s "No such image"', async () => {
    const images = new Set(['busybox']);
    const f = fakeContainers({ images });
    const pulls: string[] = [];
    const dist = {
      async pull(name: string, tag: string | undefined) {
        pulls.push(`${name}:${tag}`);
        if (name === 'alpine') images.add('alpine');
        else throw new Error('connection refused');
      },
    };
    const ex = new ContainerExecutor(f.svc, dist as never, quiet);
    await ex.checkImage('busybox');
    await ex.checkImage('alpine');
    await assert.rejects(ex.checkImage('nosuch/img:1'), (e: unknown) => e instanceof EngineError && e.kind === 'not-found' && e.message === 'No such image: nosuch/img:1');
    assert.deepEqual(pulls, ['alpine:latest', 'nosuch/img:1']);
    await assert.rejects(new ContainerExecutor(f.svc, undefined, quiet).checkImage('other'), /No such image: other/);
  });
});
