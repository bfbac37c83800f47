/**
 * Swarm mode's API on a real daemon: the success path of every /swarm,
 * /nodes, /services and /tasks endpoint (and the 503s of a node outside a
 * swarm), then the real docker CLI: `swarm init`, `node ls`, `service
 * create/ls/ps/inspect/scale/update/rollback/logs/rm`, `swarm leave --force`,
 * outputs as the CLI prints them, checked against the containers and the
 * published port.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import { api } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, demux, docker, endAll, pastEvents, waitFor } from '../../harness/containers.js';
import { fetchText, freePort, startNetDaemon, type NetDaemon } from '../networks/helpers.js';

const skip = containerSkip({ docker: true });
const V = '/v1.47';
const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

interface Task { ID: string; Slot: number; NodeID: string; ServiceID: string; DesiredState: string; Status: { State: string; ContainerStatus?: { ContainerID: string } } }
interface Service { ID: string; Version: { Index: number }; Spec: { Name: string; Labels?: Record<string, string>; Mode: { Replicated?: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Image: string; Env?: string[]; StopGracePeriod?: number } } }; ServiceStatus?: { RunningTasks: number; DesiredTasks: number } }

describe('swarm mode API and docker CLI', { skip }, () => {
  let d: NetDaemon;
  let port: number;
  let nodeId = '';
  const dk = (...args: string[]) => docker(d.host, args, { timeoutMs: 120_000 });
  const ok = (...args: string[]) => {
    const r = dk(...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const get = async <T>(path: string): Promise<T> => {
    const r = await api(d.sock, 'GET', V + path);
    assert.equal(r.status, 200, `GET ${path}: ${r.status} ${r.text()}`);
    return r.json<T>();
  };
  const q = (o: object) => encodeURIComponent(JSON.stringify(o));
  const tasksOf = (name: string) => get<Task[]>(`/tasks?filters=${q({ service: [name] })}`);
  const runningTasks = async (name: string) => (await tasksOf(name)).filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
  const containerEnv = (id: string) => JSON.parse(ok('inspect', '-f', '{{json .Config.Env}}', id)) as string[];

  before(async () => {
    d = await startNetDaemon();
    busyboxImage(d);
    port = await freePort();
  });
  after(async () => {
    await endAll();
    if (d) {
      // A failed test may leave the swarm: its services' containers go with it.
      await api(d.sock, 'POST', `${V}/swarm/leave?force=1`).catch(() => undefined);
      await d.cleanup();
    }
  });

  it('outside a swarm: 503 with dockerd\'s message, an inactive ping and info', async () => {
    for (const p of ['/swarm', '/services', '/tasks', '/nodes', '/services/x', '/swarm/unlockkey']) {
      const r = await api(d.sock, 'GET', V + p);
      assert.equal(r.status, 503, p);
      assert.equal(r.json<{ message: string }>().message, NOT_MANAGER, p);
    }
    const ping = await api(d.sock, 'GET', '/_ping');
    assert.equal(ping.headers.swarm, 'inactive');
    const info = await get<{ Swarm: { LocalNodeState: string; NodeID: string } }>('/info');
    assert.deepEqual([info.Swarm.LocalNodeState, info.Swarm.NodeID], ['inactive', '']);
    const leave = dk('swarm', 'leave');
    assert.notEqual(leave.code, 0);
    assert.match(leave.stderr, /This node is not part of a swarm/);
  });

  it('docker swarm init prints the node and the join command; a second init is refused', async () => {
    const out = ok('swarm', 'init', '--advertise-addr', '127.0.0.1');
    const m = /Swarm initialized: current node \(([0-9a-z]{25})\) is now a manager\./.exec(out);
    assert.ok(m, out);
    nodeId = m[1]!;
    assert.match(out, /docker swarm join --token SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25} 127\.0\.0\.1:2377/);
    const again = dk('swarm', 'init');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /This node is already part of a swarm\. Use "docker swarm leave" to leave this swarm and join another one\./);
    const ping = await api(d.sock, 'GET', '/_ping');
    assert.equal(ping.headers.swarm, 'active/manager');
    const info = await get<{ Swarm: { LocalNodeState: string; NodeID: string; ControlAvailable: boolean; Nodes: number; Managers: number; Cluster: { ID: string; Spec: { Name: string } }; RemoteManagers: { NodeID: string; Addr: string }[] } }>('/info');
    assert.equal(info.Swarm.LocalNodeState, 'active');
    assert.equal(info.Swarm.NodeID, nodeId);
    assert.equal(info.Swarm.ControlAvailable, true);
    assert.deepEqual([info.Swarm.Nodes, info.Swarm.Managers], [1, 1]);
    assert.deepEqual(info.Swarm.RemoteManagers, [{ NodeID: nodeId, Addr: '127.0.0.1:2377' }]);
    assert.equal(info.Swarm.Cluster.Spec.Name, 'default');
    const text = ok('info');
    assert.match(text, /Swarm: active/);
    assert.match(text, new RegExp(`NodeID: ${nodeId}`));
    assert.match(text, /Is Manager: true/);
    const token = ok('swarm', 'join-token', '-q', 'worker').trim();
    assert.match(token, /^SWMTKN-1-/);
  });

  it('/swarm: inspect, update (with the version it read), unlockkey; join is refused clearly', async () => {
    const s = await get<{ ID: string; Version: { Index: number }; Spec: { Labels: Record<string, string>; Orchestration: { TaskHistoryRetentionLimit: number } }; JoinTokens: { Worker: string; Manager: string } }>('/swarm');
    assert.equal(s.Spec.Orchestration.TaskHistoryRetentionLimit, 5);
    const upd = await api(d.sock, 'POST', `${V}/swarm/update?version=${s.Version.Index}&rotateWorkerToken=true`, { ...s.Spec, Labels: { team: 'a' } });
    assert.equal(upd.status, 200, upd.text());
    const s2 = await get<typeof s>('/swarm');
    assert.deepEqual(s2.Spec.Labels, { team: 'a' });
    assert.notEqual(s2.JoinTokens.Worker, s.JoinTokens.Worker);
    assert.equal(s2.JoinTokens.Manager, s.JoinTokens.Manager);
    const stale = await api(d.sock, 'POST', `${V}/swarm/update?version=${s.Version.Index}`, s.Spec);
    assert.equal(stale.status, 409);
    assert.match(stale.json<{ message: string }>().message, /update out of sequence/);
    assert.deepEqual(await get('/swarm/unlockkey'), { UnlockKey: '' });
    const join = await api(d.sock, 'POST', `${V}/swarm/join`, { RemoteAddrs: ['127.0.0.1:2377'], JoinToken: s.JoinTokens.Worker });
    assert.equal(join.status, 503);
    assert.match(join.json<{ message: string }>().message, /already part of a swarm/);
    // No autolock: the CLI says so, as it does against dockerd.
    const key = dk('swarm', 'unlock-key', '-q');
    assert.equal(key.code, 1);
    assert.match(key.stderr, /no unlock key is set/);
  });

  it('nodes: docker node ls and inspect; GET by ID, prefix, hostname and self; update; this node cannot be removed', async () => {
    const table = ok('node', 'ls');
    assert.match(table, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION$/m);
    assert.match(table, new RegExp(`^${nodeId} \\*\\s+${hostname()}\\s+Ready\\s+Active\\s+Leader\\s+\\S+$`, 'm'));
    assert.equal(ok('node', 'inspect', 'self', '-f', '{{.ID}} {{.Spec.Role}} {{.Status.Addr}} {{.ManagerStatus.Addr}}').trim(), `${nodeId} manager 127.0.0.1 127.0.0.1:2377`);
    const nodes = await get<{ ID: string }[]>(`/nodes?filters=${q({ role: ['manager'] })}`);
    assert.deepEqual(nodes.map((n) => n.ID), [nodeId]);
    assert.deepEqual(await get(`/nodes?filters=${q({ role: ['worker'] })}`), []);
    for (const ref of [nodeId, nodeId.slice(0, 6), hostname(), 'self']) assert.equal((await get<{ ID: string }>(`/nodes/${ref}`)).ID, nodeId, ref);
    const n = await get<{ Version: { Index: number }; Spec: { Role: string; Availability: string } }>(`/nodes/${nodeId}`);
    const upd = await api(d.sock, 'POST', `${V}/nodes/${nodeId}/update?version=${n.Version.Index}`, { ...n.Spec, Labels: { zone: 'z1' } });
    assert.equal(upd.status, 200, upd.text());
    ok('node', 'update', '--label-add', 'disk=ssd', 'self');
    assert.equal(ok('node', 'inspect', 'self', '-f', '{{json .Spec.Labels}}').trim(), '{"disk":"ssd","zone":"z1"}');
    const rm = await api(d.sock, 'DELETE', `${V}/nodes/${nodeId}`);
    assert.equal(rm.status, 409);
    assert.match(rm.json<{ message: string }>().message, /must be demoted to worker before removal/);
    const miss = await api(d.sock, 'GET', `${V}/nodes/nosuchnode`);
    assert.equal(miss.status, 404);
  });

  it('docker service create converges; service ls, ps and inspect show it; the published port answers', async () => {
    // httpd as pid 1 ignores SIGTERM: a 1 s grace period (not 10) keeps each replaced task from costing 10 s.
    const out = ok('service', 'create', '--name', 'web', '--replicas', '3', '-p', `${port}:80`, '--stop-grace-period', '1s', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/');
    const id = out.trim().split('\n')[0]!.trim();
    assert.match(id, /^[0-9a-z]{25}$/, out);
    assert.match(out, /verify: Service \S+ converged/);
    assert.equal((await runningTasks('web')).length, 3);

    const ls = ok('service', 'ls');
    assert.match(ls, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS$/m);
    assert.match(ls, new RegExp(`^${id.slice(0, 12)}\\s+web\\s+replicated\\s+3/3\\s+busybox:latest\\s+\\*:${port}->80/tcp$`, 'm'));
    const ps = ok('service', 'ps', 'web', '--format', '{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}}');
    const rows = ps.trim().split('\n').sort();
    assert.equal(rows.length, 3, ps);
    rows.forEach((r, i) => assert.match(r, new RegExp(`^web\\.${i + 1} ${hostname()} Running Running `)));
    assert.equal(ok('service', 'inspect', 'web', '-f', '{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{.Spec.TaskTemplate.ContainerSpec.Image}}').trim(), 'web 3 busybox:latest');
    assert.match(ok('service', 'inspect', '--pretty', 'web'), /Name:\s+web[\s\S]*Replicas:\s+3/);

    // The task containers: swarm's names and labels, running.
    const names = ok('ps', '--filter', 'label=com.docker.swarm.service.name=web', '--format', '{{.Names}} {{.Label "com.docker.swarm.task.name"}}').trim().split('\n').sort();
    assert.equal(names.length, 3);
    for (const l of names) {
      const [n, label] = l.split(' ');
      assert.match(n!, /^web\.[123]\.[0-9a-z]{25}$/);
      assert.equal(label, n);
      assert.equal(ok('inspect', '-f', '{{.Config.StopTimeout}} {{.HostConfig.RestartPolicy.Name}}', n!).trim(), '1 no');
    }
    const r = await waitFor('the published port to answer', async () => {
      const x = await fetchText(port, '/');
      return 'status' in x ? x : undefined;
    }, 15_000, 200);
    assert.ok(r.status >= 200 && r.status < 500, `HTTP ${r.status}`);
  });

  it('/services and /tasks: list with filters and status, inspect with defaults, task by ID', async () => {
    const list = await get<Service[]>(`/services?status=true&filters=${q({ name: ['we'] })}`);
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.ServiceStatus, { RunningTasks: 3, DesiredTasks: 3, CompletedTasks: 0 });
    assert.deepEqual(await get(`/services?filters=${q({ mode: ['global'] })}`), []);
    assert.equal((await get<Service[]>(`/services?filters=${q({ id: [list[0]!.ID.slice(0, 5)] })}`)).length, 1);
    const bad = await api(d.sock, 'GET', `${V}/services?filters=${q({ nosuch: ['x'] })}`);
    assert.equal(bad.status, 400);
    const plain = await get<Service>('/services/web');
    const withDefaults = await get<Service>('/services/web?insertDefaults=true');
    assert.equal(withDefaults.ID, plain.ID);
    const full = withDefaults.Spec as unknown as { TaskTemplate: { ContainerSpec: { StopGracePeriod: number }; RestartPolicy: { Condition: string; Delay: number } }; UpdateConfig: { Order: string; Monitor: number }; RollbackConfig: { Order: string } };
    assert.equal(full.TaskTemplate.ContainerSpec.StopGracePeriod, 1e9, 'what the spec sets stays');
    assert.equal(full.TaskTemplate.RestartPolicy.Condition, 'any');
    assert.equal(typeof full.TaskTemplate.RestartPolicy.Delay, 'number');
    assert.deepEqual([full.UpdateConfig.Order, full.RollbackConfig.Order], ['stop-first', 'stop-first']);
    const tasks = await get<Task[]>(`/tasks?filters=${q({ service: ['web'], 'desired-state': ['running'] })}`);
    assert.equal(tasks.length, 3);
    assert.deepEqual(tasks.map((t) => t.Slot).sort(), [1, 2, 3]);
    assert.ok(tasks.every((t) => t.NodeID === nodeId && t.ServiceID === plain.ID));
    const one = await get<Task>(`/tasks/${tasks[0]!.ID}`);
    assert.equal(one.ID, tasks[0]!.ID);
    assert.equal((await get<Task[]>(`/tasks?filters=${q({ node: [nodeId], name: ['web.2'] })}`)).filter((t) => t.DesiredState === 'running').length, 1);
    assert.equal((await get<Task[]>(`/tasks?filters=${q({ service: [plain.ID], '_up-to-date': ['true'] })}`)).length, 3);
  });

  it('docker service scale, update --env-add and rollback converge', async () => {
    ok('service', 'scale', 'web=5');
    assert.match(ok('service', 'ls', '--filter', 'name=web', '--format', '{{.Replicas}}'), /^5\/5$/m);
    assert.equal((await runningTasks('web')).length, 5);

    ok('service', 'update', '--env-add', 'A=1', 'web');
    let running = await runningTasks('web');
    assert.equal(running.length, 5);
    for (const t of running) assert.ok(containerEnv(t.Status.ContainerStatus!.ContainerID).includes('A=1'));
    assert.deepEqual((await get<Service>('/services/web')).Spec.TaskTemplate.ContainerSpec.Env, ['A=1']);

    ok('service', 'rollback', 'web');
    running = await runningTasks('web');
    assert.equal(running.length, 5);
    for (const t of running) assert.ok(!containerEnv(t.Status.ContainerStatus!.ContainerID).includes('A=1'));
    assert.equal((await get<Service>('/services/web')).Spec.TaskTemplate.ContainerSpec.Env, undefined);

    // The API's own update: labels, with the version read; a stale one is refused.
    const s = await get<Service>('/services/web');
    const upd = await api(d.sock, 'POST', `${V}/services/web/update?version=${s.Version.Index}`, { ...s.Spec, Labels: { tier: 'front' } }, { 'X-Registry-Auth': 'e30=' });
    assert.equal(upd.status, 200, upd.text());
    assert.ok(Array.isArray(upd.json<{ Warnings: string[] }>().Warnings));
    const stale = await api(d.sock, 'POST', `${V}/services/web/update?version=${s.Version.Index}`, s.Spec);
    assert.equal(stale.status, 409);
    assert.match(stale.json<{ message: string }>().message, /update out of sequence/);
  });

  it('service logs: every task\'s lines as `docker service logs` prints them, and the framing the CLI parses', async () => {
    const create = await api(d.sock, 'POST', `${V}/services/create`, {
      Name: 'talk', Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sh', '-c', 'echo "hello from $(hostname)"; echo oops >&2; exec sleep 1000'], StopGracePeriod: 1e9 } },
    }, { 'X-Registry-Auth': 'e30=' });
    assert.equal(create.status, 201, create.text());
    const { ID } = create.json<{ ID: string; Warnings: string[] }>();
    await waitFor('2 talk tasks running', async () => (await runningTasks('talk')).length === 2, 30_000, 200);
    const text = await waitFor('the talk logs', () => {
      const r = dk('service', 'logs', 'talk');
      return r.code === 0 && r.stdout.split('\n').filter((l) => l.includes('hello')).length === 2 ? r : undefined;
    }, 15_000, 300);
    const lines = text.stdout.trim().split('\n').sort();
    for (const l of lines) assert.match(l, new RegExp(`^talk\\.[12]\\.[0-9a-z]{12}@${hostname()}\\s+\\| hello from \\S+$`), l);
    assert.match(text.stderr, /talk\.[12]\.[0-9a-z]{12}@\S+\s+\| oops/);
    assert.equal(dk('service', 'logs', 'web').code, 0);

    const r = await api(d.sock, 'GET', `${V}/services/${ID}/logs?stdout=1&stderr=1&details=1&timestamps=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    const frames = demux(r.body);
    assert.equal(frames.length, 4, JSON.stringify(frames));
    for (const f of frames) {
      // One line a frame: "<RFC3339Nano> com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,com.docker.swarm.task.id=.. <message>\n"
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) com\.docker\.swarm\.node\.id=([0-9a-z]+),com\.docker\.swarm\.service\.id=([0-9a-z]+),com\.docker\.swarm\.task\.id=([0-9a-z]+) (.*)\n$/.exec(f.data);
      assert.ok(m, f.data);
      assert.equal(m[2], nodeId);
      assert.equal(m[3], ID);
      if (f.stream === 1) assert.match(m[5]!, /^hello from [0-9a-f]{12}$/);
      else assert.equal(m[5], 'oops');
    }
    const stamps = frames.map((f) => f.data.slice(0, 30));
    assert.deepEqual(stamps, [...stamps].sort(), 'merged in time order');
    const plain = demux((await api(d.sock, 'GET', `${V}/services/talk/logs?stdout=1`)).body);
    assert.deepEqual(plain.map((f) => f.data.replace(/[0-9a-f]{12}\n$/, 'H\n')).sort(), ['hello from H\n', 'hello from H\n']);
    const task = (await runningTasks('talk'))[0]!;
    const one = demux((await api(d.sock, 'GET', `${V}/tasks/${task.ID}/logs?stdout=1&stderr=1&details=1`)).body);
    assert.equal(one.length, 2);
    assert.ok(one.every((f) => f.data.startsWith(`com.docker.swarm.node.id=${nodeId},com.docker.swarm.service.id=${ID},com.docker.swarm.task.id=${task.ID} `)));
    // follow: the lines there are, then it stays open (until the client goes).
    const followed = await new Promise<string[]>((resolve, reject) => {
      const req = httpRequest({ socketPath: d.sock, path: `${V}/services/talk/logs?stdout=1&follow=1`, method: 'GET' }, (res) => {
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => {
          req.destroy();
          reject(new Error(`follow: got only ${buf.length} bytes`));
        }, 10_000);
        res.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          let frames: { stream: number; data: string }[];
          try {
            frames = demux(buf);
          } catch {
            return; // a frame cut in two: the rest comes with the next chunk
          }
          if (frames.length >= 2) {
            clearTimeout(timer);
            req.destroy();
            resolve(frames.map((f) => f.data));
          }
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    assert.equal(followed.filter((l) => l.startsWith('hello from ')).length, 2);
    const none = await api(d.sock, 'GET', `${V}/services/talk/logs`);
    assert.equal(none.status, 400);
  });

  it('a service on a user-defined network: joined by network ID, the service name left to the balancer; host and unknown networks refused', async () => {
    const netId = ok('network', 'create', 'svcnet').trim();
    ok('service', 'create', '--detach', '--name', 'api', '--replicas', '2', '--network', 'svcnet', '--stop-grace-period', '1s', 'busybox', 'sleep', '1000');
    await waitFor('2 api tasks running', async () => (await runningTasks('api')).length === 2, 30_000, 200);
    assert.equal(ok('service', 'inspect', 'api', '-f', '{{range .Spec.TaskTemplate.Networks}}{{.Target}}{{end}}').trim(), netId);
    for (const t of await runningTasks('api')) {
      const nets = JSON.parse(ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', t.Status.ContainerStatus!.ContainerID)) as Record<string, { NetworkID: string; DNSNames: string[] }>;
      assert.deepEqual(Object.keys(nets), ['svcnet']);
      assert.equal(nets.svcnet!.NetworkID, netId);
      assert.ok(!nets.svcnet!.DNSNames.includes('api'), JSON.stringify(nets.svcnet!.DNSNames));
    }
    const host = dk('service', 'create', '--detach', '--name', 'bad', '--network', 'host', 'busybox', 'sleep', '10');
    assert.equal(host.code, 1);
    assert.match(host.stderr, /The network host cannot be used with services/);
    const unknown = dk('service', 'create', '--detach', '--name', 'bad', '--network', 'nosuchnet', 'busybox', 'sleep', '10');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /network nosuchnet not found/);
    ok('service', 'rm', 'api');
  });

  it('service events; docker service rm removes the services and their containers', async () => {
    const events = await pastEvents(d, { type: ['service'] });
    const web = (await get<Service>('/services/web')).ID;
    const actions = events.filter((e) => e.Actor.ID === web).map((e) => e.Action);
    assert.equal(actions[0], 'create');
    assert.ok(actions.includes('update'));
    assert.ok(events.every((e) => (e as unknown as { scope: string }).scope === 'swarm'));

    assert.deepEqual(ok('service', 'rm', 'web').trim(), 'web');
    const del = await api(d.sock, 'DELETE', `${V}/services/talk`);
    assert.equal(del.status, 200);
    assert.equal((await api(d.sock, 'GET', `${V}/services/web`)).status, 404);
    await waitFor('the task containers to go', () => ok('ps', '-a', '-q', '--filter', 'label=com.docker.swarm.task.id').trim() === '', 30_000, 200);
    assert.deepEqual(await get('/services'), []);
    const removed = (await pastEvents(d, { type: ['service'], event: ['remove'] })).map((e) => e.Actor.ID);
    assert.ok(removed.includes(web));
  });

  it('docker swarm leave needs --force on a manager; with it the swarm and its services are gone', async () => {
    ok('service', 'create', '--detach', '--name', 'left', '--replicas', '2', '--stop-grace-period', '1s', 'busybox', 'sleep', '1000');
    await waitFor('2 left tasks running', async () => (await runningTasks('left')).length === 2, 30_000, 200);
    const refused = dk('swarm', 'leave');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /You are attempting to leave the swarm on a node that is participating as a manager\. Removing the last manager erases all current state of the swarm\. Use `--force` to ignore this message\./);
    assert.match(ok('swarm', 'leave', '--force'), /Node left the swarm\./);
    assert.equal(ok('ps', '-a', '-q', '--filter', 'label=com.docker.swarm.task.id').trim(), '');
    const info = await get<{ Swarm: { LocalNodeState: string } }>('/info');
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
    const r = await api(d.sock, 'GET', `${V}/services`);
    assert.equal(r.status, 503);
    assert.equal(r.json<{ message: string }>().message, NOT_MANAGER);
  });
});
