/**
 * Replicated services through the docker CLI: three replicas behind a
 * published port answer a client of the test's own (a network namespace
 * routed through the host) in turn, and each sees the client's real address;
 * a replica whose process is killed is replaced in its slot, and `service ps`
 * shows both tasks; `service scale` 3 → 5 → 1 is what `service ls` and
 * `docker ps` show.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../../harness/daemon.js';
import { containerSkip, docker, waitFor } from '../../harness/containers.js';
import {
  converged, createReplicas, freePort, hostnameOf, loggedClients, REPLICA_ARGS, replicasColumn, requests, servicePs, swarmSuite, taskContainers, uniqueName, V,
} from './helpers.js';

const skip = containerSkip({ docker: true });

describe('replicated services', { skip }, () => {
  const swarm = swarmSuite({ client: true });
  const { ok } = swarm;
  const fmt = (f: string, ref: string) => ok('inspect', '-f', f, ref).trim();
  /** The CLI for commands that wait for the service to converge (then 5 s more to see it stable). */
  const waiting = (...args: string[]) => docker(swarm.d.host, args, { timeoutMs: 120_000 });

  it('three replicas behind a published port: 30 requests from a client namespace reach all three, and each replica logs the client\'s own address', async () => {
    const web = uniqueName('web');
    const port = await freePort();
    // Without --detach the CLI waits until the service has converged, as a user would see it.
    const r = waiting('service', 'create', '--no-resolve-image', '--name', web, '--replicas', '3', '-p', `${port}:80`, 'busybox:latest', ...REPLICA_ARGS);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.split('\n')[0]!.trim();
    assert.match(id, /^[a-z0-9]{25}$/, `the first line is the service ID: ${r.stdout}`);
    const ids = await converged(swarm.d.host, web, 3);

    const svc = (await api(swarm.d.sock, 'GET', `${V}/services/${web}`)).json();
    assert.equal(svc.ID, id);
    assert.deepEqual(svc.Endpoint.Ports.map((p: any) => [p.Protocol, p.TargetPort, p.PublishedPort, p.PublishMode]), [['tcp', 80, port, 'ingress']]);

    const hostnames = new Map(ids.map((c) => [hostnameOf(swarm.d.host, c), c]));
    assert.equal(hostnames.size, 3, 'three task containers with three hostnames');
    const answers = await waitFor('the published port to answer the client', async () => ((await swarm.client.get(port)) !== undefined ? true : undefined), 15_000, 250)
      .then(() => requests(swarm.client, port, 30));
    assert.equal(answers.filter((a) => a === undefined).length, 0, `every request answered: ${JSON.stringify(answers)}`);
    const seen = new Map<string, number>();
    for (const a of answers) seen.set(a!.host, (seen.get(a!.host) ?? 0) + 1);
    assert.deepEqual([...seen.keys()].sort(), [...hostnames.keys()].sort(), `answers by replica: ${JSON.stringify([...seen])}`);

    // Each replica saw the namespace's own address: nothing rewrote the source on the way (no gateway, no host-side address).
    for (const [host, c] of hostnames) {
      const addrs = loggedClients(ok('logs', c));
      assert.ok(addrs.length >= seen.get(host)!, `${host} logged ${addrs.length} requests, answered ${seen.get(host)}`);
      assert.deepEqual([...new Set(addrs)], [swarm.client.clientIp], `${host} saw ${JSON.stringify([...new Set(addrs)])}, not ${swarm.client.clientIp}`);
    }
    // `docker service logs` has the same lines, all three replicas' together, each prefixed with its task.
    const all = ok('service', 'logs', '--no-trunc', web).split('\n').filter((l) => l.includes('client='));
    assert.ok(all.length >= 30, `service logs: ${all.length} request lines`);
    assert.deepEqual([...new Set(all.map((l) => l.replace(/^(\S+)\.(\d+)\.\S+@\S+\s+\|\s+client=.*$/, '$1.$2')))].sort(), [1, 2, 3].map((i) => `${web}.${i}`));
    assert.deepEqual([...new Set(loggedClients(all.map((l) => l.slice(l.indexOf('client='))).join('\n')))], [swarm.client.clientIp]);

    ok('service', 'rm', web);
    await waitFor('the task containers to go', () => taskContainers(swarm.d.host, web, true).length === 0, 30_000, 250);
  });

  it('a replica killed with SIGKILL is replaced in its slot; `service ps` shows the failed task and the running one', async () => {
    const web = uniqueName('web');
    const port = await freePort();
    createReplicas(swarm.d.host, web, port, 3);
    const ids = await converged(swarm.d.host, web, 3);
    const victim = ids[1]!;
    const pid = Number(fmt('{{.State.Pid}}', victim));
    const taskId = fmt('{{index .Config.Labels "com.docker.swarm.task.id"}}', victim);
    const before = servicePs(swarm.d.host, web).find((t) => t.id === taskId);
    assert.ok(before, `service ps lists the victim's task ${taskId}`);
    assert.equal(`${before.desired} ${before.current}`, 'Running Running');
    assert.ok(pid > 0);

    process.kill(pid, 'SIGKILL');
    const slot = await waitFor(`a new running task in slot ${before.slot}`, () => {
      const rows = servicePs(swarm.d.host, web).filter((t) => t.slot === before.slot);
      const old = rows.find((t) => t.id === taskId);
      const now = rows.find((t) => t.id !== taskId && t.desired === 'Running' && t.current === 'Running');
      return old && old.current === 'Failed' && now ? rows : undefined;
    }, 30_000, 250);
    const old = slot.find((t) => t.id === taskId)!;
    assert.equal(old.desired, 'Shutdown');
    assert.match(old.error, /non-zero exit \(137\)/);
    assert.equal(slot.filter((t) => t.desired === 'Running').length, 1, `one task of slot ${before.slot} is meant to run: ${JSON.stringify(slot)}`);
    assert.equal(old.name, `${web}.${before.slot}`);

    const now = await converged(swarm.d.host, web, 3);
    assert.ok(!now.includes(victim), 'the killed container is not one of the running ones');
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', victim), 'exited 137', 'the failed task\'s container stays, exited');
    assert.equal(servicePs(swarm.d.host, web, ['--filter', 'desired-state=running']).length, 3);
    const answers = await requests(swarm.client, port, 12);
    assert.equal(new Set(answers.map((a) => a?.host)).size, 3, `the replacement answers too: ${JSON.stringify(answers)}`);
    ok('service', 'rm', web);
  });

  it('`service scale` 3 → 5 → 1: `service ls` and the running task containers follow', async () => {
    const web = uniqueName('web');
    const port = await freePort();
    createReplicas(swarm.d.host, web, port, 3);
    await converged(swarm.d.host, web, 3);

    // Waits for convergence itself (no --detach).
    const up = waiting('service', 'scale', `${web}=5`);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`${web} scaled to 5`));
    const five = await converged(swarm.d.host, web, 5);
    assert.equal(replicasColumn(swarm.d.host, web), '5/5');
    assert.equal(servicePs(swarm.d.host, web, ['--filter', 'desired-state=running']).length, 5);
    const answers = await requests(swarm.client, port, 30);
    assert.deepEqual(new Set(answers.map((a) => a?.host)), new Set(five.map((c) => hostnameOf(swarm.d.host, c))), 'the two new replicas are balanced to as well');

    ok('service', 'scale', '--detach', `${web}=1`);
    const one = await converged(swarm.d.host, web, 1);
    assert.equal(replicasColumn(swarm.d.host, web), '1/1');
    assert.equal(servicePs(swarm.d.host, web, ['--filter', 'desired-state=running']).length, 1);
    assert.ok(five.includes(one[0]!), 'scaling down keeps one of the replicas that ran, rather than starting another');
    assert.equal(new Set((await requests(swarm.client, port, 6)).map((a) => a?.host)).size, 1);
    assert.equal(hostnameOf(swarm.d.host, one[0]!), (await requests(swarm.client, port, 1))[0]?.host);

    const svc = (await api(swarm.d.sock, 'GET', `${V}/services/${web}`)).json();
    assert.equal(svc.Spec.Mode.Replicated.Replicas, 1);
    ok('service', 'rm', web);
    await waitFor('the task containers to go', () => taskContainers(swarm.d.host, web, true).length === 0, 30_000, 250);
  });
});
