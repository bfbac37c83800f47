/**
 * Services outlive pierd: after an orderly SIGTERM and after a SIGKILL, a new
 * pierd on the same data root is still a swarm manager, lists the service,
 * keeps the same running tasks (adopted, not duplicated, not restarted) and
 * balances the published port over them again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../../harness/daemon.js';
import { alive, containerSkip, sleep } from '../../harness/containers.js';
import { startNetDaemon } from '../networks/helpers.js';
import {
  converged, freePort, hostnameOf, REPLICA_ARGS, replicasColumn, requests, servicePs, swarmSuite, taskContainers, uniqueName, V,
} from './helpers.js';

const skip = containerSkip({ docker: true });

describe('services across a daemon restart', { skip }, () => {
  /** The current daemon: each restart replaces it on the same root. */
  const swarm = swarmSuite({ client: true });
  const { ok } = swarm;

  const restartCase = (signal: 'SIGTERM' | 'SIGKILL') => async () => {
    const web = uniqueName('web');
    const port = await freePort();
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', web, '--replicas', '3', '-p', `${port}:80`, 'busybox:latest', ...REPLICA_ARGS);
    const containers = (await converged(swarm.d.host, web, 3)).sort();
    const pids = containers.map((c) => Number(ok('inspect', '-f', '{{.State.Pid}}', c).trim()));
    const tasks = servicePs(swarm.d.host, web, ['--filter', 'desired-state=running']).map((t) => t.id).sort();
    assert.equal(tasks.length, 3);
    const id = ok('service', 'inspect', '-f', '{{.ID}}', web).trim();
    assert.equal(new Set((await requests(swarm.client, port, 9)).map((a) => a?.host)).size, 3);

    const code = await swarm.d.stop(signal);
    if (signal === 'SIGTERM') assert.equal(code, 0, `pierd exited with ${code}:\n${swarm.d.log()}`);
    assert.ok(pids.every(alive), 'the replicas outlived pierd');
    swarm.d = await startNetDaemon({ root: swarm.d.root, net: swarm.d.net });

    const info = (await api(swarm.d.sock, 'GET', `${V}/info`)).json();
    assert.equal(info.Swarm.LocalNodeState, 'active', 'still a swarm member');
    assert.equal(info.Swarm.ControlAvailable, true, 'still a manager');
    assert.equal(ok('service', 'inspect', '-f', '{{.ID}}', web).trim(), id, 'the same service');
    assert.equal((await converged(swarm.d.host, web, 3)).sort().join(), containers.join(), 'the same containers run the tasks');
    // A controller that lost track of its tasks would start more of them only after a moment: give it one.
    await sleep(3000);
    assert.deepEqual(taskContainers(swarm.d.host, web).sort(), containers, 'no task was added or restarted');
    assert.equal(replicasColumn(swarm.d.host, web), '3/3');
    assert.deepEqual(servicePs(swarm.d.host, web, ['--filter', 'desired-state=running']).map((t) => t.id).sort(), tasks, 'the same tasks, none duplicated');
    assert.equal(servicePs(swarm.d.host, web).length, 3, 'no other task was made');
    containers.forEach((c, i) => assert.equal(Number(ok('inspect', '-f', '{{.State.Pid}}', c).trim()), pids[i], `${c} was adopted, not restarted`));

    const answers = await requests(swarm.client, port, 30);
    assert.equal(answers.filter((a) => !a).length, 0, 'every request answered after the restart');
    assert.deepEqual(new Set(answers.map((a) => a!.host)), new Set(containers.map((c) => hostnameOf(swarm.d.host, c))), 'balanced over all three again');
    // The new pierd's balancer is live, not just the old one's rules left in the kernel: a fourth replica gets its share.
    ok('service', 'scale', '--detach', `${web}=4`);
    const four = await converged(swarm.d.host, web, 4);
    assert.deepEqual(new Set((await requests(swarm.client, port, 20)).map((a) => a?.host)), new Set(four.map((c) => hostnameOf(swarm.d.host, c))));
    ok('service', 'rm', web);
  };

  it('after SIGTERM of pierd: the service, its three tasks and the balancing are all still there', restartCase('SIGTERM'));
  it('after SIGKILL of pierd: the service, its three tasks and the balancing are all still there', restartCase('SIGKILL'));
});
