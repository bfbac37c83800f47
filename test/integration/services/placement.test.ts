/**
 * Placement on the one node, with the real docker CLI: `node update
 * --availability drain` shuts the tasks down and leaves their slots pending
 * with swarm's "no suitable node" error until the node is active again;
 * `--constraint` holds tasks pending until the node's labels meet it, and a
 * node that stops meeting it loses the tasks; a malformed constraint is
 * refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerSkip, waitFor } from '../../harness/containers.js';
import { converged, IDLE, servicePs, type SwarmSuite, swarmSuite, taskContainers, uniqueName } from './helpers.js';

const skip = containerSkip({ docker: true });

describe('services: node availability and placement constraints', { skip }, () => {
  const swarm = swarmSuite({ teardown: ({ ok }: SwarmSuite) => ok('node', 'update', '--availability', 'active', 'self') });
  const { dk, ok } = swarm;
  /** The wanted tasks of a service once all of them are pending with this error. */
  const allPending = async (svc: string, n: number, err: string) => {
    let rows: ReturnType<typeof servicePs> = [];
    try {
      return await waitFor(`${n} pending tasks of ${svc} (${err})`, () => {
        rows = servicePs(swarm.d.host, svc, ['--filter', 'desired-state=running']);
        return rows.length === n && rows.every((r) => r.current === 'Pending' && r.error === JSON.stringify(err)) && rows; // the CLI quotes the error
      }, 30_000, 200);
    } catch (e) {
      throw new Error(`${(e as Error).message}; service ps: ${JSON.stringify(rows)}`);
    }
  };

  it('drain stops the tasks and holds their slots pending; active runs them again', async () => {
    const web = uniqueName('drain');
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', web, '--replicas', '2', 'busybox:latest', ...IDLE);
    await converged(swarm.d.host, web, 2);
    ok('node', 'update', '--availability', 'drain', 'self');
    assert.equal(ok('node', 'ls', '--format', '{{.Availability}}'), 'Drain\n');
    await allPending(web, 2, 'no suitable node (1 node not available for new tasks)');
    await waitFor('no task container running', () => taskContainers(swarm.d.host, web).length === 0, 30_000, 200);
    const shut = servicePs(swarm.d.host, web, ['--filter', 'desired-state=shutdown']);
    assert.equal(shut.filter((r) => r.current === 'Shutdown').length, 2, JSON.stringify(shut));
    assert.match(ok('service', 'ls', '--format', '{{.Name}} {{.Replicas}}', '--filter', `name=${web}`), / 0\/2\n$/);

    ok('node', 'update', '--availability', 'active', 'self');
    assert.equal((await converged(swarm.d.host, web, 2)).length, 2);
    const rows = servicePs(swarm.d.host, web, ['--filter', 'desired-state=running']);
    assert.deepEqual(rows.map((r) => [r.current, r.error]), [['Running', ''], ['Running', '']]);
    ok('service', 'rm', web);
  });

  it('a constraint holds tasks pending until the node meets it; a node that stops meeting it loses them', async () => {
    const zoned = uniqueName('zoned');
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', zoned, '--replicas', '2', '--constraint', 'node.labels.zone==a', 'busybox:latest', ...IDLE);
    await allPending(zoned, 2, 'no suitable node (scheduling constraints not satisfied on 1 node)');
    assert.deepEqual(taskContainers(swarm.d.host, zoned, true), [], 'no container for a task not scheduled');

    ok('node', 'update', '--label-add', 'zone=a', 'self');
    await converged(swarm.d.host, zoned, 2);
    ok('node', 'update', '--label-rm', 'zone', 'self');
    await allPending(zoned, 2, 'no suitable node (scheduling constraints not satisfied on 1 node)');
    await waitFor('no task container running', () => taskContainers(swarm.d.host, zoned).length === 0, 30_000, 200);
    ok('service', 'update', '--detach', '--constraint-rm', 'node.labels.zone==a', zoned);
    await converged(swarm.d.host, zoned, 2);
    ok('service', 'rm', zoned);
  });

  it('a malformed constraint is refused with the reason, and nothing is made', () => {
    const bad = uniqueName('bad');
    const r = dk('service', 'create', '--detach', '--no-resolve-image', '--name', bad, '--constraint', 'node.labels.zone>a', 'busybox:latest');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /constraint expected one operator from ==, !=/);
    assert.doesNotMatch(ok('service', 'ls', '--format', '{{.Name}}'), new RegExp(bad));
  });
});
