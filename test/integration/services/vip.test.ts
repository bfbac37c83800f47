/**
 * Inside a service's network: the service name resolves to its virtual IP
 * (endpoint mode vip) and `tasks.<name>` to every replica; connections to the
 * VIP are balanced over the replicas, which see the calling container's own
 * address; with `--endpoint-mode dnsrr` the name resolves to the replicas
 * themselves. A host-mode port belongs to the task's container, and `service
 * ps` shows it.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../../harness/daemon.js';
import { containerSkip, waitFor } from '../../harness/containers.js';
import { bodyAt } from '../networks/helpers.js';
import {
  converged, freePort, loggedClients, parseWho, REPLICA_ARGS, swarmSuite, taskContainers, uniqueName, V, WHO,
} from './helpers.js';

const skip = containerSkip({ docker: true });

/** The addresses busybox nslookup printed for the name (the server's own lines left out). */
function answers(out: string): string[] {
  const after = out.split(/Name:\s+/).slice(1).join('\n');
  return [...after.matchAll(/Address(?: \d+)?:\s+([0-9.]+)/g)].map((m) => m[1]!).sort();
}

describe('service names and VIPs inside the network', { skip }, () => {
  const swarm = swarmSuite();
  const { ok } = swarm;
  const net = uniqueName('svcnet');
  let caller: string;
  let callerIp: string;

  before(async () => {
    ok('network', 'create', net);
    caller = ok('run', '-d', '--network', net, 'busybox:latest', 'sleep', '600').trim();
    callerIp = ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, caller).trim();
  });

  const taskIps = (svc: string) =>
    taskContainers(swarm.d.host, svc).map((c) => ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c).trim()).sort();

  it('vip: the name is the VIP, tasks.<name> every replica; requests to the name reach all three, each seeing the caller\'s address', async () => {
    const web = uniqueName('web');
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', web, '--replicas', '3', '--stop-grace-period', '1s', '--network', net, 'busybox:latest', ...REPLICA_ARGS);
    const ids = await converged(swarm.d.host, web, 3);
    const svc = (await api(swarm.d.sock, 'GET', `${V}/services/${web}`)).json();
    assert.equal(svc.Endpoint.VirtualIPs.length, 1);
    const [vip, prefix] = String(svc.Endpoint.VirtualIPs[0].Addr).split('/');
    assert.match(prefix!, /^\d+$/, 'the VIP is shown with its prefix length, as swarm shows it');
    assert.ok(!taskIps(web).includes(vip!), 'no replica has the VIP');

    assert.deepEqual(answers(ok('exec', caller, 'nslookup', web, '127.0.0.11')), [vip]);
    assert.deepEqual(answers(ok('exec', caller, 'nslookup', `tasks.${web}`, '127.0.0.11')), taskIps(web));

    // The VIP answers as soon as the balancer has the replicas (readiness gate), then round-robin.
    await waitFor('the VIP to answer', () => ok('exec', caller, 'sh', '-c', `wget -qO- http://${web}${WHO} || true`).includes('host='), 15_000, 100);
    const out = ok('exec', caller, 'sh', '-c', `for i in $(seq 9); do wget -qO- http://${web}${WHO}; done`);
    const hosts = out.split('\n').filter(Boolean).map((l) => parseWho(l)?.host);
    assert.equal(hosts.length, 9);
    const replicaHosts = ids.map((c) => ok('inspect', '-f', '{{.Config.Hostname}}', c).trim()).sort();
    assert.deepEqual([...new Set(hosts)].sort(), replicaHosts, `answers: ${JSON.stringify(hosts)}`);
    // Nothing rewrote the source: every replica logged the calling container's own address.
    for (const c of ids) assert.deepEqual([...new Set(loggedClients(ok('logs', c)))], [callerIp]);
    ok('service', 'rm', web);
    await waitFor('the task containers to go', () => taskContainers(swarm.d.host, web, true).length === 0, 30_000, 250);
  });

  it('dnsrr: the name resolves to the replicas themselves, and there is no VIP', async () => {
    const rr = uniqueName('rr');
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', rr, '--replicas', '2', '--stop-grace-period', '1s', '--endpoint-mode', 'dnsrr', '--network', net, 'busybox:latest', ...REPLICA_ARGS);
    await converged(swarm.d.host, rr, 2);
    const svc = (await api(swarm.d.sock, 'GET', `${V}/services/${rr}`)).json();
    assert.equal(svc.Endpoint.VirtualIPs ?? undefined, undefined);
    const want = taskIps(rr);
    await waitFor('the name to resolve to both replicas', () => JSON.stringify(answers(ok('exec', caller, 'nslookup', rr, '127.0.0.11'))) === JSON.stringify(want), 15_000, 100);
    ok('service', 'rm', rr);
  });

  it('a host-mode port is the task container\'s own, and `service ps` shows it', async () => {
    const hp = uniqueName('hostport');
    const port = await freePort();
    ok('service', 'create', '--detach', '--no-resolve-image', '--name', hp, '--stop-grace-period', '1s', '--publish', `mode=host,target=80,published=${port}`, 'busybox:latest', ...REPLICA_ARGS);
    const [id] = await converged(swarm.d.host, hp, 1);
    assert.equal(ok('port', id!).trim(), `80/tcp -> 0.0.0.0:${port}`);
    const body = await waitFor('the host port to answer', () => bodyAt(port, WHO), 15_000, 100);
    assert.equal(parseWho(body)?.host, ok('inspect', '-f', '{{.Config.Hostname}}', id!).trim());
    await waitFor('service ps to show the port', () => ok('service', 'ps', '--format', '{{.Ports}}', hp).trim() === `*:${port}->80/tcp`, 10_000, 100);
    ok('service', 'rm', hp);
  });
});
