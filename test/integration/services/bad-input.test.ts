/**
 * Services and bad input: an image that does not exist, negative replica
 * counts (refused by the docker CLI itself, and by the API), a published port
 * another program or another service holds, an update naming a stale version,
 * a service removed in the middle of its update, names that are not DNS
 * labels. Each gets a clear error, leaves no service or task container behind,
 * and the daemon keeps answering.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { api } from '../../harness/daemon.js';
import { containerSkip, sleep, waitFor } from '../../harness/containers.js';
import {
  converged, freePort, holdPort, IDLE, REPLICA_ARGS, replicasColumn, servicePs, swarmSuite, taskContainers, uniqueName, V,
} from './helpers.js';

const skip = containerSkip({ docker: true });

describe('services: bad input', { skip }, () => {
  const swarm = swarmSuite();
  const { dk, ok } = swarm;
  const spec = (name: string, o: { replicas?: number; port?: number } = {}) => ({
    Name: name,
    TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Args: IDLE } },
    Mode: { Replicated: { Replicas: o.replicas ?? 1 } },
    ...(o.port ? { EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: o.port }] } } : {}),
  });
  const serviceNames = async () => (await api(swarm.d.sock, 'GET', `${V}/services`)).json<{ Spec: { Name: string } }[]>().map((s) => s.Spec.Name);
  const message = (r: { text(): string }) => JSON.parse(r.text()).message as string;
  /** The daemon still answers, and lists exactly these services. */
  const healthy = async (names: string[]) => {
    assert.equal((await api(swarm.d.sock, 'GET', '/_ping')).status, 200);
    assert.deepEqual((await serviceNames()).sort(), names.sort());
  };

  it('an image that does not exist: a clear error naming it, and no task container left running', async () => {
    // A registry on 127.0.0.1 where nothing listens: a pull fails at once and never leaves the host.
    const image = `127.0.0.1:${await freePort()}/pier-test/nope:1`;
    const name = uniqueName('noimg');
    const r = dk('service', 'create', '--detach', '--no-resolve-image', '--name', name, image);
    if (r.code !== 0) {
      // Refused up front.
      assert.match(r.stderr, /nope/, r.stderr);
      assert.match(r.stderr, /No such image|not found|pull|connection refused|manifest unknown/i, r.stderr);
      await healthy([]);
    } else {
      // Accepted, as swarm does: the tasks are rejected with the reason.
      const rows = await waitFor('a rejected task', () => servicePs(swarm.d.host, name).find((t) => (t.current === 'Rejected' || t.current === 'Failed') && /nope/.test(t.error)), 30_000, 250);
      assert.match(rows.error, /No such image|not found|pull|connection refused|manifest unknown/i, rows.error);
      assert.equal(replicasColumn(swarm.d.host, name), '0/1');
      // Checked before the removal, which would take any task container with it.
      assert.deepEqual(taskContainers(swarm.d.host, name, true), [], 'no task container was made for a task whose image is missing');
      ok('service', 'rm', name);
    }
    assert.deepEqual(taskContainers(swarm.d.host, name), [], 'no task container runs');
  });

  it('replicas < 0: the docker CLI refuses -1 itself; the API answers 400 to create and update', async () => {
    const name = uniqueName('neg');
    const r = dk('service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', '-1', 'busybox:latest');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid argument "-1" for "--replicas" flag/);

    const c = await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(name, { replicas: -1 }));
    assert.equal(c.status, 400, c.text());
    assert.match(message(c), /replicas|invalid|cannot unmarshal/i);
    await healthy([]);

    // An existing service keeps its count when an update asks for -1.
    const created = await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(name, { replicas: 1 }));
    assert.equal(created.status, 201, created.text());
    const svc = (await api(swarm.d.sock, 'GET', `${V}/services/${name}`)).json();
    const u = await api(swarm.d.sock, 'POST', `${V}/services/${svc.ID}/update?version=${svc.Version.Index}`, spec(name, { replicas: -1 }));
    assert.equal(u.status, 400, u.text());
    const s = dk('service', 'scale', `${name}=-1`);
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /invalid replicas value -1/);
    const after = (await api(swarm.d.sock, 'GET', `${V}/services/${name}`)).json();
    assert.equal(after.Spec.Mode.Replicated.Replicas, 1);
    assert.equal(after.Version.Index, svc.Version.Index, 'nothing was written');
    ok('service', 'rm', name);
    await healthy([]);
  });

  it('a published port another program listens on, or another service publishes: a clear conflict, nothing left behind', async () => {
    const port = await freePort();
    const held = await holdPort(port, '0.0.0.0');
    const name = uniqueName('taken');
    try {
      const r = dk('service', 'create', '--detach', '--no-resolve-image', '--name', name, '-p', `${port}:80`, 'busybox:latest', ...REPLICA_ARGS);
      assert.notEqual(r.code, 0, `created on a taken port: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${port}`), r.stderr);
      assert.match(r.stderr, /in use|already|allocated|taken|bind/i, r.stderr);
      await healthy([]);
      assert.deepEqual(taskContainers(swarm.d.host, name, true), [], 'no task container was made');
      const a = await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(name, { port }));
      assert.equal(a.status, 409, a.text());
    } finally {
      await new Promise((res) => held.close(res));
    }
    // Released by the program: the same service is created, so the failed attempts reserved nothing.
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', name, '-p', `${port}:80`, 'busybox:latest', ...REPLICA_ARGS);
    await converged(swarm.d.host, name, 1);
    // Another service on the same port: swarm's conflict.
    const other = uniqueName('taken2');
    const r2 = dk('service', 'create', '--detach', '--no-resolve-image', '--name', other, '-p', `${port}:80`, 'busybox:latest', ...REPLICA_ARGS);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, new RegExp(`port '?${port}'? is already in use by service`), r2.stderr);
    await healthy([name]);
    assert.deepEqual(taskContainers(swarm.d.host, other, true), []);
    ok('service', 'rm', name);
    await healthy([]);
  });

  it('an update naming a stale version: 409 "update out of sequence", the newer update kept; no version: 400', async () => {
    const name = uniqueName('stale');
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', name, 'busybox:latest', ...IDLE);
    const first = (await api(swarm.d.sock, 'GET', `${V}/services/${name}`)).json();
    ok('service', 'update', '--detach', '--label-add', 'fresh=1', name);
    const stale = { ...first.Spec, Labels: { stale: '1' } };
    const r = await api(swarm.d.sock, 'POST', `${V}/services/${first.ID}/update?version=${first.Version.Index}`, stale);
    assert.equal(r.status, 409, r.text());
    assert.match(message(r), /update out of sequence/);
    const noVersion = await api(swarm.d.sock, 'POST', `${V}/services/${first.ID}/update`, stale);
    assert.equal(noVersion.status, 400, noVersion.text());
    const now = (await api(swarm.d.sock, 'GET', `${V}/services/${name}`)).json();
    assert.deepEqual(now.Spec.Labels, { fresh: '1' });
    assert.ok(now.Version.Index > first.Version.Index);
    // The current version works.
    const good = await api(swarm.d.sock, 'POST', `${V}/services/${first.ID}/update?version=${now.Version.Index}`, { ...now.Spec, Labels: { fresh: '2' } });
    assert.equal(good.status, 200, good.text());
    assert.deepEqual((await api(swarm.d.sock, 'GET', `${V}/services/${name}`)).json().Spec.Labels, { fresh: '2' });
    ok('service', 'rm', name);
  });

  it('a service removed in the middle of a rolling update leaves no task container, and runc none either', async () => {
    const name = uniqueName('midupd');
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', '3', 'busybox:latest', ...IDLE);
    await converged(swarm.d.host, name, 3);
    ok('service', 'update', '--detach', '--no-resolve-image', '--env-add', 'X=1', '--update-parallelism', '1', '--update-delay', '2s', '--update-order', 'start-first', name);
    await waitFor('the update to start', async () => (await api(swarm.d.sock, 'GET', `${V}/services/${name}`)).json().UpdateStatus?.State === 'updating', 10_000, 50);
    await sleep(300);
    ok('service', 'rm', name);
    await healthy([]);
    await waitFor('every task container to go', () => taskContainers(swarm.d.host, name, true).length === 0, 30_000, 250);
    // An update step in flight must not make a container after the removal.
    await sleep(3000);
    assert.deepEqual(taskContainers(swarm.d.host, name, true), []);
    const all = (await api(swarm.d.sock, 'GET', '/containers/json?all=1')).json<{ Id: string }[]>().map((c) => c.Id);
    const runc = spawnSync('runc', ['--root', join(swarm.d.root, 'exec', 'runtime', 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.deepEqual(runc.filter((id) => !all.includes(id)), [], 'no container the daemon does not know of');
    const tasks = (await api(swarm.d.sock, 'GET', `${V}/tasks`)).json<{ ServiceID: string; Labels?: Record<string, string> }[]>();
    assert.deepEqual(tasks, [], 'the tasks are gone with the service');
  });

  it('names that are not DNS labels (swarm\'s rule: letters and digits, "-" or "_" only between them, at most 63): 400, nothing created', async () => {
    const answers: string[] = [];
    for (const bad of ['bad name', 'web!', '-web', 'web-', 'web_', 'a'.repeat(64), 'web.1']) {
      const r = await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(bad));
      answers.push(`${JSON.stringify(bad)}: ${r.status}${r.status === 400 ? '' : ` ${r.text().trim()}`}`);
      if (r.status === 400) assert.match(message(r), /name/i);
      else if (r.status === 201) await api(swarm.d.sock, 'DELETE', `${V}/services/${r.json().ID}`);
    }
    assert.deepEqual(answers.filter((a) => !a.endsWith(': 400')), [], 'every bad name is refused');
    const c = dk('service', 'create', '--detach', '--no-resolve-image', '--name', 'bad name', 'busybox:latest');
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /Error response from daemon: .*name/i);
    await healthy([]);
    // Names swarm accepts.
    for (const good of ['a', 'web_1', 'Web-2', 'x'.repeat(63)]) {
      const r = await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(good));
      assert.equal(r.status, 201, `${good}: ${r.text()}`);
      assert.equal((await api(swarm.d.sock, 'DELETE', `${V}/services/${r.json().ID}`)).status, 200);
    }
    await healthy([]);
  });

  it('a duplicate name, a spec without an image, a body that is not JSON: 409 or 400, nothing created', async () => {

    const noImage = await api(swarm.d.sock, 'POST', `${V}/services/create`, { Name: uniqueName('noimage'), TaskTemplate: { ContainerSpec: {} } });
    assert.equal(noImage.status, 400, noImage.text());
    const notJson = await api(swarm.d.sock, 'POST', `${V}/services/create`, Buffer.from('{"Name": '), { 'Content-Type': 'application/json' });
    assert.equal(notJson.status, 400, notJson.text());
    await healthy([]);

    const name = uniqueName('dup');
    assert.equal((await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(name))).status, 201);
    const dup = await api(swarm.d.sock, 'POST', `${V}/services/create`, spec(name));
    assert.equal(dup.status, 409, dup.text());
    assert.match(message(dup), /name conflicts with an existing object|already exists/);
    await healthy([name]);
    await converged(swarm.d.host, name, 1);
    ok('service', 'rm', name);
    await healthy([]);
  });
});
