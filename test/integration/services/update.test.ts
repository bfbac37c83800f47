/**
 * Rolling updates and rollbacks through the docker CLI: a start-first update
 * while a client keeps requesting loses no request and ends with every task
 * on the new spec; an update to an image whose tasks fail rolls back by
 * itself with --update-failure-action rollback; `docker service rollback`
 * returns a successful update to the previous spec.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../../harness/daemon.js';
import { containerSkip, waitFor } from '../../harness/containers.js';
import { dockerAsync } from '../networks/helpers.js';
import { converged, createReplicas, freePort, requestLoop, requests, servicePs, swarmSuite, uniqueName, V } from './helpers.js';

const skip = containerSkip({ docker: true });

describe('service updates', { skip }, () => {
  const swarm = swarmSuite({ client: true });
  const { ok } = swarm;
  const envOf = (c: string) => JSON.parse(ok('inspect', '-f', '{{json .Config.Env}}', c)) as string[];
  const inspectSvc = async (name: string) => {
    const r = await api(swarm.d.sock, 'GET', `${V}/services/${name}`);
    assert.equal(r.status, 200, r.text());
    return r.json();
  };
  /** The versions the replicas answer with, over n requests. */
  const versions = async (port: number, n: number) => (await requests(swarm.client, port, n)).map((a) => a?.version ?? 'no answer');

  it('a start-first rolling update under a steady stream of requests fails none of them; every task then runs the new spec', async () => {
    const web = uniqueName('web');
    const port = await freePort();
    createReplicas(swarm.d.host, web, port, 3);
    const old = await converged(swarm.d.host, web, 3);
    await waitFor('the published port', async () => (await swarm.client.get(port)) !== undefined, 15_000, 250);

    const loop = requestLoop(swarm.client, port);
    await new Promise((r) => setTimeout(r, 1000));
    // Without --detach: the CLI returns once the update has completed and the service converged.
    const r = await dockerAsync(swarm.d.host, ['service', 'update', '--no-resolve-image', '--env-add', 'VERSION=2', '--update-order', 'start-first', '--update-parallelism', '1', '--update-delay', '1s', web], 180_000);
    await new Promise((res) => setTimeout(res, 1000));
    const outcomes = await loop.stop();
    assert.equal(r.code, 0, r.stderr);

    const failed = outcomes.filter((o) => !o.startsWith('ok '));
    assert.deepEqual(failed, [], `${failed.length} of ${outcomes.length} requests failed during the update`);
    assert.ok(outcomes.length >= 30, `the client kept requesting (${outcomes.length} requests)`);
    const during = new Set(outcomes.map((o) => o.replace(/^ok host=\S+ /, '')));
    assert.deepEqual([...during].sort(), ['version=1', 'version=2'], 'the requests spanned the update');

    const svc = await inspectSvc(web);
    assert.equal(svc.UpdateStatus?.State, 'completed');
    assert.equal(svc.Spec.UpdateConfig.Order, 'start-first');
    assert.ok(svc.Spec.TaskTemplate.ContainerSpec.Env.includes('VERSION=2'));
    const now = await converged(swarm.d.host, web, 3);
    assert.equal(now.filter((c) => old.includes(c)).length, 0, 'every task was replaced');
    for (const c of now) assert.ok(envOf(c).includes('VERSION=2'), `${c} runs the new spec`);
    assert.deepEqual(new Set(await versions(port, 30)), new Set(['2']));
    // The slots are the same three, each with its old task shut down.
    const rows = servicePs(swarm.d.host, web);
    assert.deepEqual([...new Set(rows.map((t) => t.slot))].sort(), [1, 2, 3]);
    assert.equal(rows.filter((t) => t.desired === 'Running').length, 3);
    assert.equal(rows.filter((t) => t.desired === 'Shutdown' && t.current === 'Shutdown').length, 3, JSON.stringify(rows));
    ok('service', 'rm', web);
  });

  it('an update to an image whose tasks fail rolls back by itself (--update-failure-action rollback)', async () => {
    // An image whose entrypoint exits 1 whatever the service's arguments.
    ok('create', '--name', 'bad-src', 'busybox:latest', 'true');
    ok('commit', '--change', 'ENTRYPOINT ["/bin/false"]', 'bad-src', 'svc-bad:1');
    ok('rm', 'bad-src');
    const web = uniqueName('web');
    const port = await freePort();
    createReplicas(swarm.d.host, web, port, 2);
    await converged(swarm.d.host, web, 2);
    const before = (await inspectSvc(web)).Spec;

    const r = await dockerAsync(swarm.d.host, [
      'service', 'update', '--no-resolve-image', '--image', 'svc-bad:1', '--update-failure-action', 'rollback', '--update-monitor', '3s', '--update-parallelism', '1', web,
    ], 180_000);
    // The CLI waits, sees the rollback and says so; like dockerd's, it then exits 0 once the rolled-back service has converged.
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rollback: update rolled back due to failure/, r.stdout);

    const svc = await waitFor('rollback_completed', async () => {
      const s = await inspectSvc(web);
      return s.UpdateStatus?.State === 'rollback_completed' ? s : undefined;
    }, 60_000, 250);
    assert.equal(svc.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:latest');
    assert.deepEqual(svc.Spec.TaskTemplate.ContainerSpec, before.TaskTemplate.ContainerSpec, 'the container spec is the one before the update');
    assert.equal(svc.PreviousSpec?.TaskTemplate.ContainerSpec.Image, 'svc-bad:1', 'the failed spec is the previous one now');
    const now = await converged(swarm.d.host, web, 2);
    for (const c of now) assert.equal(ok('inspect', '-f', '{{.Config.Image}}', c).trim(), 'busybox:latest');
    // The bad image's tasks are in the history, failed.
    const rows = servicePs(swarm.d.host, web);
    assert.ok(rows.some((t) => t.current === 'Failed' || t.current === 'Rejected'), `a task of the bad image failed: ${JSON.stringify(rows)}`);
    assert.equal(rows.filter((t) => t.desired === 'Running').length, 2);
    assert.deepEqual(new Set(await versions(port, 6)), new Set(['1']), 'the rolled-back replicas answer');
    ok('service', 'rm', web);
    ok('rmi', 'svc-bad:1');
  });

  it('`docker service rollback` after a successful update returns to the previous spec', async () => {
    const web = uniqueName('web');
    const port = await freePort();
    createReplicas(swarm.d.host, web, port, 2);
    await converged(swarm.d.host, web, 2);
    const first = (await inspectSvc(web)).Spec;

    const u = await dockerAsync(swarm.d.host, ['service', 'update', '--no-resolve-image', '--env-add', 'VERSION=3', web], 180_000);
    assert.equal(u.code, 0, u.stderr);
    await converged(swarm.d.host, web, 2);
    assert.deepEqual(new Set(await versions(port, 6)), new Set(['3']));
    const updated = await inspectSvc(web);
    assert.deepEqual(updated.PreviousSpec.TaskTemplate.ContainerSpec.Env ?? [], first.TaskTemplate.ContainerSpec.Env ?? []);

    const r = await dockerAsync(swarm.d.host, ['service', 'rollback', web], 180_000);
    assert.equal(r.code, 0, r.stderr);
    const svc = await inspectSvc(web);
    assert.equal(svc.UpdateStatus?.State, 'rollback_completed');
    assert.deepEqual(svc.Spec.TaskTemplate.ContainerSpec.Env ?? [], first.TaskTemplate.ContainerSpec.Env ?? [], 'VERSION=3 is gone');
    assert.ok(svc.Version.Index > updated.Version.Index);
    const now = await converged(swarm.d.host, web, 2);
    for (const c of now) assert.ok(!envOf(c).includes('VERSION=3'), `${c} runs the previous spec`);
    assert.deepEqual(new Set(await versions(port, 6)), new Set(['1']));
    // A second rollback goes back to the update (swarm swaps Spec and PreviousSpec).
    const again = await dockerAsync(swarm.d.host, ['service', 'rollback', web], 180_000);
    assert.equal(again.code, 0, again.stderr);
    await converged(swarm.d.host, web, 2);
    assert.deepEqual(new Set(await versions(port, 6)), new Set(['3']));
    ok('service', 'rm', web);
  });
});
