/**
 * Only ready replicas get connections: a replica whose healthcheck has not
 * passed yet ("starting") gets none of the requests through the published
 * port, and it joins the rotation once it turns healthy.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerSkip, waitFor } from '../../harness/containers.js';
import { freePort, hostnameOf, REPLICA_ARGS, requests, swarmSuite, taskContainers, uniqueName } from './helpers.js';

const skip = containerSkip({ docker: true });

describe('service health and the balancer', { skip }, () => {
  const swarm = swarmSuite({ client: true });
  const { ok } = swarm;
  const health = (id: string) => ok('inspect', '-f', '{{.State.Health.Status}}', id).trim();

  it('a replica still starting (healthcheck not passed) gets no requests; once healthy it gets its share', async () => {
    const web = uniqueName('ready');
    const port = await freePort();
    // Slot 1 is ready at once; slot 2 only when the test says so. The long start period keeps
    // slot 2 "starting" (failed checks do not count yet) rather than unhealthy and replaced.
    const script = `[ "$SLOT" = 1 ] && touch /tmp/ready; ${REPLICA_ARGS[2]}`;
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', web, '--replicas', '2', '--stop-grace-period', '1s',
      '-e', 'SLOT={{.Task.Slot}}', '--health-cmd', 'test -f /tmp/ready', '--health-interval', '200ms', '--health-retries', '3', '--health-start-period', '5m',
      '-p', `${port}:80`, 'busybox:latest', 'sh', '-c', script);
    const ids = await waitFor('two task containers', () => {
      const l = taskContainers(swarm.d.host, web);
      return l.length === 2 ? l : undefined;
    }, 60_000, 250);
    const bySlot = new Map(ids.map((id) => [ok('inspect', '-f', '{{index .Config.Labels "com.docker.swarm.task.name"}}', id).trim().split('.')[1], id]));
    const ready = bySlot.get('1')!;
    const later = bySlot.get('2')!;
    await waitFor('slot 1 healthy', () => health(ready) === 'healthy', 30_000, 100);
    assert.equal(health(later), 'starting');

    await waitFor('the published port to answer', async () => ((await swarm.client.get(port)) !== undefined ? true : undefined), 15_000, 250);
    const before = await requests(swarm.client, port, 12);
    assert.equal(before.filter((a) => a === undefined).length, 0, `every request answered: ${JSON.stringify(before)}`);
    assert.deepEqual([...new Set(before.map((a) => a!.host))], [hostnameOf(swarm.d.host, ready)], 'only the healthy replica answered');

    ok('exec', later, 'touch', '/tmp/ready');
    await waitFor('slot 2 healthy', () => health(later) === 'healthy', 30_000, 100);
    const hosts = await waitFor('both replicas to answer', async () => {
      const seen = new Set((await requests(swarm.client, port, 6)).map((a) => a?.host));
      return seen.size === 2 && !seen.has(undefined) ? seen : undefined;
    }, 30_000, 100);
    assert.deepEqual([...hosts].sort(), [hostnameOf(swarm.d.host, ready), hostnameOf(swarm.d.host, later)].sort());

    ok('service', 'rm', web);
    await waitFor('the task containers to go', () => taskContainers(swarm.d.host, web, true).length === 0, 30_000, 250);
  });
});
