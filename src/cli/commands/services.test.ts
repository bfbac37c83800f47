import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SwarmService, SwarmTask } from '../../client/types.js';
import { parseFlags, FlagError } from '../flags.js';
import { formatRows } from '../formatter.js';
import { compareWithDocker, FakeEngine, FakeSwarm, haveDocker, pier, type Recorded, requestBody, requestShapes } from './fake-engine.js';
import { IDResolver, LogLineFormatter, parseLogDetails, servicePorts, serviceHeaders, serviceListFormat, serviceRows, taskFormat, taskHeaders, taskRows } from './services.js';
import { applyUpdate, createFlags, createSpec, parsePortOpt, serviceEnv, shlexSplit, updateFlags, updatePorts } from './services-opts.js';
import type { Client } from '../../client/client.js';
import { serviceProgress, truncError } from './services-progress.js';

const shape = (rs: Recorded[]) => requestShapes(rs);
const bodyOf = requestBody;

const create = (argv: string[], env: Record<string, string> = {}) => {
  const f = parseFlags(argv, createFlags, { interspersed: false });
  return createSpec(f, f.args[0]!, f.args.slice(1), env);
};

describe('service create flags → spec', () => {
  it('parses --publish in both syntaxes', () => {
    assert.deepEqual(parsePortOpt('8080:80'), [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
    assert.deepEqual(parsePortOpt('53:53/udp'), [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' }]);
    assert.deepEqual(parsePortOpt('80'), [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'ingress' }]);
    assert.deepEqual(parsePortOpt('8080-8081:80-81').map((p) => `${p.PublishedPort}->${p.TargetPort}`), ['8080->80', '8081->81']);
    assert.deepEqual(parsePortOpt('published=8080,target=80,protocol=udp,mode=host'), [{ Protocol: 'udp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }]);
    assert.deepEqual(parsePortOpt('target=80'), [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'ingress' }]);
    assert.throws(() => parsePortOpt('published=8080'), { message: "missing mandatory field 'target'" });
    assert.throws(() => parsePortOpt('target=80,mode=x'), { message: "invalid publish mode value (x): must be either 'ingress' or 'host'" });
    assert.throws(() => parsePortOpt('target=80,protocol=icmp'), { message: "invalid protocol value 'icmp'" });
    assert.throws(() => parsePortOpt('127.0.0.1:80:80'), { message: 'hostip is not supported' });
    assert.throws(() => parsePortOpt('bad'), { message: 'invalid containerPort: bad' });
  });

  it('builds the spec docker sends for every flag', () => {
    // The body docker 28.2 sent for these flags (its network resolved to an ID; here it stays a name).
    const spec = create(['--name', 'web', '--mode', 'global', '-p', 'published=8080,target=80,protocol=udp,mode=host', '-e', 'A=1', '-l', 'x=y',
      '--container-label', 'c=d', '--mount', 'type=volume,source=v,target=/data', '--constraint', 'node.role==manager', '--limit-cpu', '0.5',
      '--limit-memory', '64m', '--limit-pids', '100', '--reserve-cpu', '0.25', '--reserve-memory', '32m', '--restart-condition', 'on-failure',
      '--restart-delay', '3s', '--restart-max-attempts', '4', '--restart-window', '1m', '--update-parallelism', '2', '--update-delay', '10s',
      '--update-order', 'start-first', '--rollback-parallelism', '3', '--endpoint-mode', 'dnsrr', '--stop-grace-period', '20s', '--stop-signal', 'SIGINT',
      '--health-cmd', 'true', '--health-interval', '2s', '-w', '/w', '-u', 'nobody', '--hostname', 'h', '--entrypoint', '/bin/sh -c', '--init', '-t',
      '--read-only', '--network', 'x', 'busybox:latest', 'echo', 'hi']);
    assert.equal(JSON.stringify(spec), JSON.stringify({
      Name: 'web', Labels: { x: 'y' },
      TaskTemplate: {
        ContainerSpec: {
          Image: 'busybox:latest', Labels: { c: 'd' }, Command: ['/bin/sh', '-c'], Args: ['echo', 'hi'], Hostname: 'h', Env: ['A=1'], Dir: '/w', User: 'nobody',
          Init: true, StopSignal: 'SIGINT', TTY: true, ReadOnly: true, Mounts: [{ Type: 'volume', Source: 'v', Target: '/data' }], StopGracePeriod: 20000000000,
          Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 2000000000 }, DNSConfig: {},
        },
        Resources: { Limits: { NanoCPUs: 500000000, MemoryBytes: 67108864, Pids: 100 }, Reservations: { NanoCPUs: 250000000, MemoryBytes: 33554432 } },
        RestartPolicy: { Condition: 'on-failure', Delay: 3000000000, MaxAttempts: 4, Window: 60000000000 },
        Placement: { Constraints: ['node.role==manager'] }, Networks: [{ Target: 'x' }], ForceUpdate: 0,
      },
      Mode: { Global: {} },
      UpdateConfig: { Parallelism: 2, Delay: 10000000000, FailureAction: 'pause', Monitor: 5000000000, MaxFailureRatio: 0, Order: 'start-first' },
      RollbackConfig: { Parallelism: 3, FailureAction: 'pause', Monitor: 5000000000, MaxFailureRatio: 0, Order: 'stop-first' },
      EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'udp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] },
    }));
  });

  it('fills in swarm defaults only for the policies whose flags are given', () => {
    const plain = create(['busybox']);
    assert.deepEqual(plain, {
      Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'busybox', Init: false, DNSConfig: {} }, Resources: { Limits: {}, Reservations: {} }, Placement: {}, ForceUpdate: 0 },
      Mode: { Replicated: {} }, EndpointSpec: { Mode: 'vip' },
    });
    const some = create(['--update-order', 'start-first', '--restart-condition', 'none', '--rollback-monitor', '1s', '--replicas', '3', 'busybox']);
    assert.deepEqual(some.TaskTemplate.RestartPolicy, { Condition: 'none', Delay: 5e9, MaxAttempts: 0 });
    assert.deepEqual(some.UpdateConfig, { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'start-first' });
    assert.deepEqual(some.RollbackConfig, { Parallelism: 1, FailureAction: 'pause', Monitor: 1e9, MaxFailureRatio: 0, Order: 'stop-first' });
    assert.deepEqual(some.Mode, { Replicated: { Replicas: 3 } });
    const health = create(['--health-retries', '3', '--health-timeout', '1s', '--health-start-period', '2s', '--update-max-failure-ratio', '0.5', 'busybox']);
    assert.deepEqual(health.TaskTemplate.ContainerSpec!.Healthcheck, { Timeout: 1e9, StartPeriod: 2e9, Retries: 3 });
    assert.equal(health.UpdateConfig!.MaxFailureRatio, 0.5);
    assert.deepEqual(create(['--no-healthcheck', 'busybox']).TaskTemplate.ContainerSpec!.Healthcheck, { Test: ['NONE'] });
    assert.throws(() => create(['--no-healthcheck', '--health-cmd', 'x', 'busybox']), { message: '--no-healthcheck conflicts with --health-* options' });
    assert.throws(() => create(['--mode', 'global', '--replicas', '2', 'busybox']), { message: 'replicas can only be used with replicated or replicated-job mode' });
    assert.throws(() => create(['--mode', 'bogus', 'busybox']), { message: 'Unknown mode: bogus, only replicated and global supported' });
  });

  it('reads mounts, env files and durations like docker', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pier-svc-'));
    try {
      const file = join(dir, 'env');
      writeFileSync(file, 'X=1\n# comment\nY=2\nFROMHOST\n');
      assert.deepEqual(serviceEnv([file], ['Y=3', 'Z=4'], (k) => (k === 'FROMHOST' ? 'h' : undefined)), ['X=1', 'FROMHOST=h', 'Y=3', 'Z=4']);
      const spec = create(['--env-file', file, '-e', 'X=9', '--mount', 'type=bind,src=/tmp,dst=/t,readonly', '--mount', 'type=tmpfs,dst=/x,tmpfs-size=1m', 'busybox']);
      assert.deepEqual(spec.TaskTemplate.ContainerSpec!.Env, ['Y=2', 'X=9']);
      assert.deepEqual(spec.TaskTemplate.ContainerSpec!.Mounts, [
        { Type: 'bind', Source: '/tmp', Target: '/t', ReadOnly: true },
        { Type: 'tmpfs', Target: '/x', TmpfsOptions: { SizeBytes: 1048576 } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => parseFlags(['--restart-delay', 'x', 'busybox'], createFlags), (e: Error) => e instanceof FlagError && e.message === 'invalid argument "x" for "--restart-delay" flag: time: invalid duration "x"');
    assert.throws(() => parseFlags(['--replicas', '-1', 'busybox'], createFlags), { message: 'invalid argument "-1" for "--replicas" flag: strconv.ParseUint: parsing "-1": invalid syntax' });
    assert.throws(() => parseFlags(['--health-interval', '-1s', 'busybox'], createFlags), { message: 'invalid argument "-1s" for "--health-interval" flag: duration cannot be negative' });
    assert.equal(create(['--stop-grace-period', '1m30s', 'busybox']).TaskTemplate.ContainerSpec!.StopGracePeriod, 90e9);
    assert.deepEqual(shlexSplit(`sh -c "echo 'a b'" c\\ d`), ['sh', '-c', "echo 'a b'", 'c d']);
  });
});

describe('service update flags → spec', () => {
  const base = () => JSON.parse(JSON.stringify({
    Name: 'web', Labels: { keep: '1', drop: '2' },
    TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Env: ['A=1', 'B=2'], Mounts: [{ Type: 'volume', Source: 'v', Target: '/data' }] }, ForceUpdate: 2, RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 } },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
  })) as SwarmService['Spec'];
  const update = (argv: string[]) => {
    const spec = base();
    applyUpdate(spec, parseFlags([...argv, 'web'], updateFlags), {});
    return spec;
  };

  it('adds and removes env, labels, ports and mounts', () => {
    const s = update(['--env-add', 'B=3', '--env-add', 'C=4', '--env-rm', 'A', '--label-add', 'new=x', '--label-rm', 'drop', '--publish-add', '9090:90/udp', '--publish-rm', '80',
      '--mount-add', 'type=tmpfs,dst=/data', '--mount-rm', '/nothing', '--image', 'busybox:1', '--args', 'echo bye', '--replicas', '3', '--force', '--restart-max-attempts', '4']);
    const cs = s.TaskTemplate.ContainerSpec!;
    assert.deepEqual(cs.Env, ['B=3', 'C=4']);
    assert.deepEqual(s.Labels, { keep: '1', new: 'x' });
    assert.deepEqual(s.EndpointSpec!.Ports, [{ Protocol: 'udp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'ingress' }]);
    assert.deepEqual(cs.Mounts, [{ Type: 'tmpfs', Target: '/data' }]);
    assert.equal(cs.Image, 'busybox:1');
    assert.deepEqual(cs.Args, ['echo', 'bye']);
    assert.equal(s.Mode!.Replicated!.Replicas, 3);
    assert.equal(s.TaskTemplate.ForceUpdate, 3);
    assert.deepEqual(s.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 4 });
  });

  it('leaves what no flag names alone, and keeps ports sorted', () => {
    const s = update(['--update-delay', '2s']);
    const b = base();
    assert.deepEqual({ ...s, UpdateConfig: undefined }, { ...b, UpdateConfig: undefined });
    assert.deepEqual(s.UpdateConfig, { Parallelism: 1, Delay: 2e9, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
    assert.deepEqual(updatePorts([{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }], parsePortOpt('7070:70'), []).map((p) => p.PublishedPort), [7070, 8080]);
    assert.throws(() => update(['--replicas', '2', '--mode-is-not-a-flag']), FlagError);
  });
});

describe('service tables', () => {
  const svc = (name: string, o: Partial<SwarmService> = {}, spec: Partial<SwarmService['Spec']> = {}): SwarmService => ({
    ID: `${name}`.padEnd(25, '0'), Version: { Index: 1 },
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox:1.36@sha256:' + 'b'.repeat(64) } }, Mode: { Replicated: { Replicas: 3 } }, ...spec },
    ServiceStatus: { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 }, ...o,
  });

  it('groups published port ranges as docker does', () => {
    const p = (pub: number, tgt: number, proto = 'tcp', mode = 'ingress') => ({ Protocol: proto, TargetPort: tgt, PublishedPort: pub, PublishMode: mode });
    assert.equal(servicePorts([p(8080, 80)]), '*:8080->80/tcp');
    assert.equal(servicePorts([p(8081, 81), p(8080, 80), p(53, 53, 'udp'), p(9000, 90, 'tcp', 'host')]), '*:8080-8081->80-81/tcp, *:53->53/udp');
    assert.equal(servicePorts([p(80, 80), p(81, 80)]), '*:80-81->80/tcp');
    assert.equal(servicePorts([p(80, 80), p(81, 81), p(82, 80)]), '*:80-81->80-81/tcp, *:82->80/tcp');
    assert.equal(servicePorts(undefined), '');
  });

  it('renders service ls like docker', () => {
    const list = [
      svc('web10', { Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] } }),
      svc('web9', {}, { Mode: { Global: {} } }),
      svc('api', {}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Placement: { MaxReplicas: 2 } } }),
    ];
    assert.equal(formatRows(serviceListFormat('table', false), serviceRows(list), serviceHeaders), [
      'ID             NAME      MODE         REPLICAS               IMAGE          PORTS',
      'api0000000000   api       replicated   2/3 (max 2 per node)   busybox        ',
      'web900000000   web9      global       2/3                    busybox:1.36   ',
      'web100000000   web10     replicated   2/3                    busybox:1.36   *:8080->80/tcp',
      '',
    ].join('\n').replace('api0000000000', 'api000000000'));
    assert.equal(formatRows(serviceListFormat('table', true), serviceRows(list), serviceHeaders), 'api000000000\nweb900000000\nweb100000000\n');
  });

  it('renders service ps with each slot\'s history under it', async () => {
    const now = Date.parse('2024-01-01T12:00:00Z');
    const t = (id: string, slot: number, state: string, desired: string, secondsAgo: number, err = ''): SwarmTask => ({
      ID: id.padEnd(25, 'x'), Version: { Index: 1 }, CreatedAt: new Date(now - secondsAgo * 1000).toISOString(), ServiceID: 'S1', Slot: slot, NodeID: 'N1',
      Spec: { ContainerSpec: { Image: 'busybox:1@sha256:' + 'c'.repeat(64) } }, DesiredState: desired,
      Status: { State: state, Timestamp: new Date(now - secondsAgo * 1000).toISOString(), ...(err ? { Err: err } : {}), ...(slot === 2 ? { PortStatus: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 30000 }] } } : {}) },
    });
    const tasks = [
      t('old10', 10, 'failed', 'shutdown', 7200, 'starting container failed: a very long reason indeed'), t('new2', 2, 'running', 'running', 30),
      t('new10', 10, 'running', 'running', 5), t('old1', 1, 'shutdown', 'shutdown', 600), t('new1', 1, 'preparing', 'running', 1),
    ];
    const fake = { serviceInspect: async () => ({ Spec: { Name: 'web' } }), nodeInspect: async () => ({ Spec: {}, Description: { Hostname: 'host1' } }) } as unknown as Client;
    const rows = await taskRows(tasks, new IDResolver(fake), { trunc: true, table: true, now });
    assert.equal(formatRows(taskFormat('table', false), rows, taskHeaders), [
      'ID             NAME         IMAGE       NODE      DESIRED STATE   CURRENT STATE             ERROR                              PORTS',
      'new1xxxxxxxx   web.1        busybox:1   host1     Running         Preparing 1 second ago                                       ',
      'old1xxxxxxxx    \\_ web.1    busybox:1   host1     Shutdown        Shutdown 10 minutes ago                                      ',
      'new2xxxxxxxx   web.2        busybox:1   host1     Running         Running 30 seconds ago                                       *:30000->80/tcp',
      'new10xxxxxxx   web.10       busybox:1   host1     Running         Running 5 seconds ago                                        ',
      'old10xxxxxxx    \\_ web.10   busybox:1   host1     Shutdown        Failed 2 hours ago        "starting container failed: a …"   ',
      '',
    ].join('\n'));
    const json = await taskRows(tasks.slice(3), new IDResolver(fake), { trunc: false, table: false, now });
    assert.deepEqual(json.map((r) => [r.Name, r.Image.length > 20]), [['web.1', true], ['web.1', true]]);
  });
});

describe('service logs formatting', () => {
  it('parses details and prefixes each line with task and node', async () => {
    assert.deepEqual([...parseLogDetails('a=1,b=x%20y')], [['a', '1'], ['b', 'x y']]);
    const calls: string[] = [];
    const client = {
      nodeInspect: async (id: string) => (calls.push(`node ${id}`), { Spec: {}, Description: { Hostname: 'host1' } }),
      serviceInspect: async (id: string) => (calls.push(`service ${id}`), { Spec: { Name: 'web' } }),
      taskInspect: async (id: string) => (calls.push(`task ${id}`), { ID: id, Slot: 3 }),
    } as unknown as Client;
    const line = (ts: string, msg: string) => Buffer.from(`${ts}com.docker.swarm.node.id=N1,com.docker.swarm.service.id=S1,com.docker.swarm.task.id=${'t'.repeat(25)},env=a%20b ${msg}`);
    const f = new LogLineFormatter(client, new IDResolver(client), { timestamps: false, details: false, noTaskIDs: false, noTrunc: false, padding: 2 });
    assert.equal((await f.format(line('', 'hello\n'))).toString(), `web.3.${'t'.repeat(12)}@host1     | hello\n`);
    assert.equal((await f.format(line('', 'again\n'))).toString(), `web.3.${'t'.repeat(12)}@host1     | again\n`);
    assert.deepEqual(calls, ['node N1', 'service S1', `task ${'t'.repeat(25)}`]); // cached after the first line
    const g = new LogLineFormatter(client, new IDResolver(client), { timestamps: true, details: true, noTaskIDs: true, noTrunc: false, padding: 1 });
    assert.equal((await g.format(line('2024-01-01T00:00:00Z ', 'x y\n'))).toString(), '2024-01-01T00:00:00Z web.3@host1    | env=a b x y\n');
    await assert.rejects(f.format(Buffer.from('nodetails')), { message: 'invalid context in log message: nodetails' });
    await assert.rejects(f.format(Buffer.from('a=b msg')), { message: 'missing node id in details: map[a:b]' });
  });
});

describe('service convergence progress', () => {
  const task = (slot: number, state: string, err = '', node = 'N1'): SwarmTask => ({
    ID: `t${slot}`, Version: { Index: 1 }, Spec: {}, ServiceID: 'S1', Slot: slot, NodeID: node, DesiredState: 'running', Status: { State: state, ...(err ? { Err: err } : {}) },
  });
  const service = (o: Partial<SwarmService> = {}): SwarmService => ({
    ID: 'S1', Version: { Index: 1 }, Spec: { Name: 'web', TaskTemplate: {}, Mode: { Replicated: { Replicas: 2 } }, UpdateConfig: { Monitor: 1e6 } }, ...o,
  });
  /** A client whose service and tasks move through `steps`, one step per poll. */
  const scripted = (steps: { service?: SwarmService; tasks: SwarmTask[] }[]) => {
    let i = 0;
    return {
      serviceInspect: async () => steps[Math.min(i, steps.length - 1)]!.service ?? service(),
      taskList: async () => steps[Math.min(i++, steps.length - 1)]!.tasks,
      nodeList: async () => [{ ID: 'N1', Status: { State: 'ready' } }, { ID: 'N2', Status: { State: 'down' } }],
    } as unknown as Client;
  };
  const lines = async (client: Client) => {
    const out: string[] = [];
    await serviceProgress(client, 'web', (m) => out.push(`${m.id ?? ''}: ${m.status}${m.progressDetail?.current ? ` [${m.progressDetail.current}/${m.progressDetail.total}]` : ''}`), { pollMs: 5 });
    return out;
  };

  it('draws one line per slot until every task runs, then verifies', async () => {
    const out = await lines(scripted([
      { tasks: [task(1, 'preparing'), task(2, 'pending', 'no suitable node (scheduling constraints not satisfied on 1 node)'), task(3, 'running', '', 'N2')] },
      { tasks: [task(1, 'running'), task(2, 'running')] },
    ]));
    assert.deepEqual(out, [
      'overall progress: 0 out of 2 tasks', '1/2:  ', '2/2:  ',
      '1/2: preparing [6/9]', '2/2: no suitable node (scheduling constraints not satisfied on 1 node)', 'overall progress: 0 out of 2 tasks',
      '1/2: running   [9/9]', '2/2: running   [9/9]', 'overall progress: 2 out of 2 tasks',
      'verify: Waiting 1 seconds to verify that tasks are stable...', 'verify: Service web converged',
    ]);
  });

  it('counts, of a slot\'s tasks, the one with the lowest desired then observed state', async () => {
    const old = { ...task(1, 'running'), ID: 'old1', DesiredState: 'shutdown' };
    const failed = { ...task(2, 'failed'), ID: 'failed2' };
    const out = await lines(scripted([
      { tasks: [old, task(1, 'preparing'), task(2, 'running'), failed] },
      { tasks: [old, task(1, 'running'), task(2, 'running')] },
    ]));
    assert.deepEqual(out.slice(3, 6), ['1/2: preparing [6/9]', '2/2: running   [9/9]', 'overall progress: 1 out of 2 tasks']);
  });

  it('stops with the daemon\'s message when the update pauses', async () => {
    const paused = service({ UpdateStatus: { State: 'paused', Message: 'update paused due to failure or early termination of task t1' } });
    await assert.rejects(lines(scripted([{ service: paused, tasks: [] }])), { message: 'service update paused: update paused due to failure or early termination of task t1' });
    const done = service({ UpdateStatus: { State: 'completed' } });
    assert.deepEqual(await lines(scripted([{ service: done, tasks: [] }])), []);
  });

  it('counts nodes for a global service', async () => {
    const global = service({ Spec: { Name: 'g', TaskTemplate: {}, Mode: { Global: {} }, UpdateConfig: { Monitor: 1e6 } } });
    const out = await lines(scripted([{ service: global, tasks: [] }, { service: global, tasks: [task(0, 'running')] }]));
    assert.deepEqual(out.slice(0, 4), ['overall progress: waiting for new tasks', 'overall progress: 0 out of 1 tasks', 'N1: running   [9/9]', 'overall progress: 1 out of 1 tasks']);
    assert.equal(truncError('x\n'.repeat(40)), 'x '.repeat(37) + '…');
  });
});

describe('service commands against a fake swarm', () => {
  let engine: FakeEngine;
  let swarm: FakeSwarm;
  before(async () => {
    engine = await new FakeEngine(() => undefined, undefined, '1.48').start();
  });
  after(async () => {
    await engine.stop();
  });

  async function run(args: string[], o: { fresh?: boolean } = {}) {
    if (o.fresh !== false) {
      swarm = new FakeSwarm();
      engine.handler = swarm.handler;
    }
    const n = engine.requests.length;
    const r = await pier(engine.host, args);
    return { ...r, reqs: engine.since(n) };
  }

  it('create prints the ID, then the convergence as docker does off a terminal', async () => {
    const r = await run(['service', 'create', '--name', 'api', '--replicas', '2', '-p', '8080:80', '--network', 'net1', 'busybox', 'sleep', '1000']);
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    const id = 'svc1'.padEnd(25, 'x');
    assert.equal(r.out, `${id}\noverall progress: 0 out of 2 tasks\n1/2:  \n2/2:  \noverall progress: 2 out of 2 tasks\nverify: Waiting 1 seconds to verify that tasks are stable...\nverify: Service ${id} converged\n`);
    assert.deepEqual(shape(r.reqs).slice(0, 3), ['GET /networks/net1?scope=swarm', 'POST /services/create', 'GET /services/' + id + '?insertDefaults=false']);
    const body = bodyOf(r.reqs[1]!);
    assert.equal(body.TaskTemplate.ContainerSpec.Image, 'busybox:latest');
    assert.deepEqual(body.TaskTemplate.Networks, [{ Target: 'net1'.padEnd(64, '0') }]);
    assert.deepEqual(body.EndpointSpec, { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] });
    const d = await run(['service', 'create', '-d', '-q', 'busybox']);
    assert.deepEqual([d.code, d.out, shape(d.reqs)], [0, `${id}\n`, ['POST /services/create']]);
    const quiet = await run(['service', 'create', '-q', 'busybox']);
    assert.equal(quiet.out, `${id}\n`);
    const bad = await run(['service', 'create', '--network', 'nonet', 'busybox']);
    assert.deepEqual([bad.code, bad.err], [1, 'Error response from daemon: network nonet not found\n']);
  });

  it('ls and ps print docker\'s tables', async () => {
    const ls = await run(['service', 'ls']);
    assert.equal(ls.out, 'ID             NAME      MODE         REPLICAS   IMAGE            PORTS\nsvc1bbbbbbbb   web       replicated   2/2        busybox:latest   *:8080->80/tcp\n');
    assert.deepEqual(shape(ls.reqs), ['GET /services?status=true']);
    const ps = await run(['service', 'ps', 'web']);
    const lines = ps.out.split('\n');
    assert.match(lines[0]!, /^ID {13}NAME {8}IMAGE {12}NODE {6}DESIRED STATE {3}CURRENT STATE {16}ERROR {23}PORTS$/);
    assert.match(lines[1]!, /^task1ccccccc {3}web\.1 {7}busybox:latest {3}host1 {5}Running {9}Running 20 minutes ago/);
    assert.match(lines[2]!, /^task3eeeeeee {4}\\_ web\.1 {3}busybox:latest {3}host1 {5}Shutdown {8}Failed 3 hours ago {11}"task: non-zero exit \(1\)"/);
    assert.match(lines[3]!, /^task2ddddddd {3}web\.2 /);
    assert.deepEqual(shape(ps.reqs), [
      'GET /services?filters={"id":{"web":true}}', 'GET /services?filters={"name":{"web":true}}', `GET /tasks?filters={"service":{"${FakeSwarm.SERVICE}":true}}`,
      `GET /services/${FakeSwarm.SERVICE}?insertDefaults=false`, `GET /nodes/${FakeSwarm.NODE}`,
    ]);
    const q = await run(['service', 'ps', '-q', '-f', 'desired-state=running', 'web']);
    assert.equal(q.out, 'task1ccccccccccccccccccccc\ntask2ddddddddddddddddddddd\n');
    const missing = await run(['service', 'ps', 'nope']);
    assert.deepEqual([missing.code, missing.out, missing.err], [1, '', 'no such service: nope\n']);
  });

  it('scale and update send the version they read', async () => {
    const s = await run(['service', 'scale', 'web=5']);
    assert.equal(s.code, 0);
    assert.match(s.out, /^web scaled to 5\noverall progress: /);
    const post = s.reqs.find((r) => r.method === 'POST')!;
    assert.equal(post.query.get('version'), '11');
    assert.equal(bodyOf(post).Mode.Replicated.Replicas, 5);
    // The next read sees the bumped version, and the update sends that.
    const u = await run(['service', 'update', '-d', '--env-add', 'X=1', '--publish-rm', '80', '--force', 'web'], { fresh: false });
    assert.deepEqual([u.code, u.out], [0, 'web\n']);
    assert.deepEqual(shape(u.reqs), ['GET /services/web?insertDefaults=false', `POST /services/${FakeSwarm.SERVICE}/update?registryAuthFrom=spec&version=12`]);
    const spec = bodyOf(u.reqs[1]!);
    assert.deepEqual([spec.TaskTemplate.ContainerSpec.Env, spec.TaskTemplate.ForceUpdate, spec.EndpointSpec.Ports, spec.Mode.Replicated.Replicas], [['X=1'], 1, [], 5]);
    const rb = await run(['service', 'rollback', '-d', 'web'], { fresh: false });
    assert.deepEqual(shape(rb.reqs), ['GET /services/web?insertDefaults=false', `POST /services/${FakeSwarm.SERVICE}/update?rollback=previous&version=13`]);
    const conflict = await run(['service', 'update', '--rollback', '--replicas', '2', 'web']);
    assert.deepEqual([conflict.code, conflict.err], [1, 'other flags may not be combined with --rollback\n']);
    const bad = await run(['service', 'scale', '-d', 'web=2', 'nope=1', 'web=x']);
    assert.deepEqual([bad.code, bad.out], [1, 'web scaled to 2\n']);
    assert.equal(bad.err, 'nope: Error response from daemon: service nope not found\nweb: invalid replicas value x: strconv.ParseUint: parsing "x": invalid syntax\n');
    const spec2 = await run(['service', 'scale', 'web']);
    assert.equal(spec2.code, 1);
    assert.match(spec2.err, /^invalid scale specifier 'web'\.\nSee 'pier service scale --help'\./);
  });

  it('logs prefix each line with its task and node', async () => {
    const r = await run(['service', 'logs', 'web']);
    assert.deepEqual([r.code, r.out, r.err], [0, 'web.1.task1ccccccc@host1    | hello\nweb.1.task1ccccccc@host1    | again\n', 'web.2.task2ddddddd@host1    | oops\n']);
    assert.equal(shape(r.reqs)[1], `GET /services/web/logs?details=1&stderr=1&stdout=1&tail=all`);
    const raw = await run(['service', 'logs', '--raw', '-t', '--tail', '2', 'web']);
    assert.equal(raw.out, '2024-01-01T00:00:00.000000001Z hello\n2024-01-01T00:00:00.000000001Z again\n');
    const none = await run(['service', 'logs', 'nope']);
    assert.deepEqual([none.code, none.err], [1, 'no such task or service: nope\n']);
  });

  it('inspect and rm', async () => {
    const i = await run(['service', 'inspect', 'web', 'nope']);
    assert.equal(i.code, 1);
    assert.equal(JSON.parse(i.out)[0].Spec.Name, 'web');
    assert.equal(i.err, 'Error: no such service: nope\n');
    assert.equal(shape(i.reqs)[0], 'GET /services/web?insertDefaults=true');
    const p = await run(['service', 'inspect', '--pretty', 'web']);
    assert.match(p.out, /^\nID:\t\tsvc1b+\nName:\t\tweb\nService Mode:\tReplicated\n Replicas:\t2\nPlacement:\nUpdateConfig:\n Parallelism:\t1\n On failure:\tpause\n Monitoring Period: 1ms\n/);
    assert.match(p.out, /\nPorts:\n PublishedPort = 8080\n  Protocol = tcp\n  TargetPort = 80\n  PublishMode = ingress \n\n$/);
    const rm = await run(['service', 'rm', 'web', 'nope']);
    assert.deepEqual([rm.code, rm.out, rm.err], [1, 'web\n', 'Error response from daemon: service nope not found\n']);
  });
});

describe('service commands against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await new FakeEngine(() => undefined, undefined, '1.48').start();
  });
  after(async () => {
    await engine.stop();
  });

  async function compare(args: string[]) {
    // (a time whose milliseconds end in no 0: docker re-encodes times the way Go trims them, pier prints the daemon's text)
    const now = Math.floor(Date.now() / 1000) * 1000 - 877;
    await compareWithDocker(engine, args, { fresh: () => new FakeSwarm(now).handler, dockerizeOut: true, normalize });
  }

  // docker expands a port range through a Go map: its order varies, so compare ports sorted.
  const normalize = (b: unknown) => {
    (b as { EndpointSpec?: { Ports?: { PublishedPort?: number }[] } } | undefined)?.EndpointSpec?.Ports?.sort((x, y) => (x.PublishedPort ?? 0) - (y.PublishedPort ?? 0));
    return b;
  };

  for (const args of [
    ['service', 'create', '--no-resolve-image', '--name', 'api', '--replicas', '3', '-p', '8080:80', '-p', 'published=53,target=53,protocol=udp', 'busybox', 'sleep', '1000'],
    ['service', 'create', '--no-resolve-image', '-d', '--mode', 'global', '--network', 'net1', '-e', 'A=1', '--env', 'B', '-l', 'x=y', '--mount', 'type=volume,src=v,dst=/d',
      '--limit-cpu', '1.5', '--limit-memory', '1g', '--reserve-memory', '10m', '--restart-condition', 'on-failure', '--update-failure-action', 'rollback',
      '--rollback-order', 'start-first', '--endpoint-mode', 'dnsrr', '--health-cmd', 'true', '--health-retries', '2', '--entrypoint', 'sh -c', 'busybox', 'true'],
    ['service', 'create', '--no-resolve-image', '-d', '--no-healthcheck', '--init', '--read-only', '-t', '-w', '/w', '-u', '1:2', '--hostname', 'h', '--stop-signal', 'TERM',
      '--stop-grace-period', '3s', '--constraint', 'node.role==manager', '--replicas-max-per-node', '1', '-p', '8000-8001:80-81', 'busybox:1'],
    ['service', 'create', '--no-resolve-image', '-d', '--network', 'name=net2,alias=a,alias=b,driver-opt=k=v', '--network', 'net1', 'busybox'],
    ['service', 'update', '-d', '--network-add', 'name=net3,alias=x', '--network-rm', 'none', 'web'],
    ['service', 'create', '--mode', 'global', '--replicas', '1', 'busybox'], ['service', 'create', '--mode', 'x', 'busybox'],
    ['service', 'ls'], ['service', 'ls', '-q'], ['service', 'list', '--format', '{{json .}}'], ['service', 'ls', '--format', 'table {{.Name}}\t{{.Replicas}}'],
    ['service', 'ps', 'web'], ['service', 'ps', '--no-trunc', 'web'], ['service', 'ps', '-q', 'web'], ['service', 'ps', '-f', 'desired-state=running', 'svc1'],
    ['service', 'ps', '--format', '{{json .}}', 'web'], ['service', 'ps', '-f', 'node=self', 'web'], ['service', 'ps', '-f', 'node=host1', '--format', 'raw', 'web'],
    ['service', 'ls', '--format', 'raw'], ['service', 'inspect', '-f', 'json', 'web'], ['service', 'inspect', '--format', 'json', 'web', 'nope'], ['service', 'inspect', '--pretty', '-f', '{{.ID}}', 'web'], ['service', 'ps', '--no-resolve', 'web'], ['service', 'ps', 'nope'], ['service', 'ps', 'web', 'nope'],
    ['service', 'inspect', 'web'], ['service', 'inspect', '--pretty', 'web'], ['service', 'inspect', '-f', '{{.Spec.Name}} {{.Version.Index}}', 'web'], ['service', 'inspect', 'nope', 'web'], ['service', 'inspect', '--pretty', 'nope'],
    ['service', 'scale', 'web=3'], ['service', 'scale', '-d', 'web=3', 'nope=2'], ['service', 'scale', 'web'],
    ['service', 'update', 'web'], ['service', 'update', '-d', '--env-add', 'X=1', '--label-add', 'l=1', '--label-rm', 'none', '--replicas', '4', '--publish-add', '9090:90',
      '--publish-rm', '80', '--force', '--args', 'echo "a b"', '--update-delay', '1s', '--restart-delay', '2s', '--limit-memory', '5m', 'web'],
    ['service', 'update', '-d', '--rollback', 'web'], ['service', 'update', '--rollback', '--force', 'web'], ['service', 'update', '--replicas', '1', 'nope'],
    ['service', 'rollback', 'web'], ['service', 'rollback', '-d', 'web'],
    ['service', 'logs', 'web'], ['service', 'logs', '-t', '--details', '--no-trunc', 'web'], ['service', 'logs', '--raw', '--since', '2024-01-01T00:00:00Z', '-f', 'web'],
    ['service', 'logs', '--no-task-ids', '--no-resolve', 'web'], ['service', 'logs', 'task1ccccccccccccccccccccc'], ['service', 'logs', 'nope'],
    ['service', 'rm', 'web', 'nope'], ['service', 'remove', 'web'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args);
    });
  }
});
