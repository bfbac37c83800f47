/**
 * What a daemon's networks leave on the host: after a clean stop nothing (no
 * bridge, no veth, no iptables chain or rule of its prefix, no pinned network
 * namespace), with containers stopped by the daemon (--live-restore=false)
 * or removed first; after a kill -9 the restarted daemon adopts a running
 * published container (the port answers, is held and resolves again) and
 * cleans up after a container that died while it was away.
 */
import { describe, it, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { sweepNetwork, type TestNet } from '../../harness/daemon.js';
import { alive, busyboxImage, cli, containerSkip, endAll, waitFor } from '../../harness/containers.js';
import {
  bodyAt, bridgePorts, chainPrefix, freeTestNet, dnatRules, fetchText, freePort, holdPort, iptablesSave, leftovers, linkExists, netnsEntries, startNetDaemon, sub24,
  type NetDaemon,
} from './helpers.js';

const skip = containerSkip({ docker: true });

/** A web server that ends on TERM (pid 1 ignores signals it has no handler for; httpd forks into the background). */
const WEB = (body: string) => `trap "exit 0" TERM; mkdir -p /www && echo ${body} > /www/index.html && httpd -p 80 -h /www; while true; do sleep 0.1; done`;
const IDLE = 'trap "exit 0" TERM; while true; do sleep 0.1; done';

/** A daemon slot that each test fills, and that is cleaned up (with every link it was seen to have) whatever happens. */
function daemonSlot() {
  const slot = { d: undefined as NetDaemon | undefined, links: new Set<string>() };
  const cleanup = async () => {
    const d = slot.d;
    slot.d = undefined;
    if (!d) return;
    await d.cleanup();
    // What a failed test left: the links it saw and the chains of its prefix.
    sweepNetwork(d.bridge, [...slot.links].filter(linkExists));
    slot.links.clear();
  };
  return { slot, cleanup };
}

describe('network clean-up on daemon stop and crash', { skip }, () => {
  const { slot, cleanup } = daemonSlot();
  const d = () => slot.d!;
  const { dk, ok } = cli(() => d().host);
  const fmt = (f: string, name: string) => ok('inspect', '-f', f, name).trim();
  const bridgeOf = (net: string) => `br-${fmt('{{.Id}}', net).slice(0, 12)}`;
  const ipOn = (name: string, net: string) => fmt(`{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name);
  /** Notes every bridge and veth the daemon has now, so that leftovers() and the sweep know them. */
  const noteLinks = (bridges: string[]) => {
    for (const b of bridges) {
      slot.links.add(b);
      for (const v of bridgePorts(b)) slot.links.add(v);
    }
    return [...slot.links];
  };

  // Each test's daemon, even one whose test failed half-way.
  afterEach(async () => {
    await endAll();
    await cleanup();
  });
  after(cleanup);

  /** Networks, containers on them (one on two networks) and published ports: returns the host ports. */
  const populate = async () => {
    ok('network', 'create', 'c-auto');
    ok('network', 'create', '--subnet', sub24(d(), 8).subnet, 'c-fixed');
    const p1 = await freePort();
    const p2 = await freePort();
    ok('run', '-d', '--name', 'def-web', '-p', `127.0.0.1:${p1}:80`, 'busybox', 'sh', '-c', WEB('def'));
    ok('run', '-d', '--name', 'auto-web', '--network', 'c-auto', '-p', `${p2}:80`, 'busybox', 'sh', '-c', WEB('auto'));
    ok('create', '--name', 'two-nets', '--network', 'c-auto', 'busybox', 'sh', '-c', IDLE);
    ok('network', 'connect', 'c-fixed', 'two-nets');
    ok('start', 'two-nets');
    assert.equal(await waitFor('the default-bridge port', () => bodyAt(p1)), 'def\n');
    assert.equal(await waitFor('the user-network port', () => bodyAt(p2)), 'auto\n');
    const bridges = [d().bridge, bridgeOf('c-auto'), bridgeOf('c-fixed')];
    const links = noteLinks(bridges);
    // What is there before the stop, so the test can tell "removed" from "never made".
    assert.equal(links.filter((l) => !bridges.includes(l)).length, 4, `4 veths (one per endpoint): ${links.join(' ')}`);
    assert.ok(links.every(linkExists));
    assert.match(iptablesSave('filter'), new RegExp(`^:${chainPrefix(d())}-FWD `, 'm'));
    assert.match(iptablesSave('nat'), new RegExp(`^:${chainPrefix(d())}-DNAT `, 'm'));
    assert.equal(dnatRules(d(), p1).length + dnatRules(d(), p2).length, 2);
    assert.equal(netnsEntries(d()).length, 3);
    const before = leftovers(d(), links);
    for (const l of links) assert.ok(before.includes(`link ${l}`), `leftovers() sees ${l}`);
    assert.ok(before.some((l) => l.startsWith(`iptables: -A ${chainPrefix(d())}-DNAT `)) && before.filter((l) => l.startsWith('netns ')).length === 3, before.join('\n'));
    const pids = ['def-web', 'auto-web', 'two-nets'].map((n) => Number(fmt('{{.State.Pid}}', n)));
    return { ports: [p1, p2], pids };
  };

  it('SIGTERM with --live-restore=false: containers stop and nothing of the networks is left', async () => {
    slot.d = await startNetDaemon({ args: ['--live-restore=false'] });
    busyboxImage(d());
    const { ports, pids } = await populate();
    assert.equal(await d().stop('SIGTERM'), 0, d().log());
    for (const pid of pids) assert.ok(!alive(pid), `container process ${pid} was stopped`);
    assert.deepEqual(leftovers(d(), slot.links), []);
    for (const p of ports) {
      assert.equal(((await fetchText(p)) as { error?: string }).error, 'ECONNREFUSED', `port ${p} no longer answers`);
      (await holdPort(p, '0.0.0.0')).close();
    }
  });

  it('SIGTERM after the containers were removed (live restore on): nothing is left', async () => {
    slot.d = await startNetDaemon();
    busyboxImage(d());
    const { ports } = await populate();
    ok('rm', '-f', 'def-web', 'auto-web', 'two-nets');
    for (const p of ports) assert.deepEqual(dnatRules(d(), p), []);
    assert.deepEqual(netnsEntries(d()), [], 'removed containers leave no namespace');
    assert.equal(await d().stop('SIGTERM'), 0, d().log());
    assert.deepEqual(leftovers(d(), slot.links), []);
  });

  it('kill -9 with a running published container: a new daemon adopts it (the port answers and is held, DNS works); then removal and a stop leave nothing', async () => {
    const net: TestNet = freeTestNet();
    slot.d = await startNetDaemon({ net });
    busyboxImage(d());
    const port = await freePort();
    ok('network', 'create', 'lr');
    ok('run', '-d', '--name', 'lr-web', '--network', 'lr', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', WEB('live'));
    ok('run', '-d', '--name', 'lr-peer', '--network', 'lr', 'busybox', 'sh', '-c', IDLE);
    assert.equal(await waitFor('the port', () => bodyAt(port)), 'live\n');
    const webIp = ipOn('lr-web', 'lr');
    const peerIp = ipOn('lr-peer', 'lr');
    const pid = Number(fmt('{{.State.Pid}}', 'lr-web'));
    noteLinks([d().bridge, bridgeOf('lr')]);

    await d().stop('SIGKILL');
    assert.ok(alive(pid), 'the container outlived the daemon');
    assert.equal(await bodyAt(port), 'live\n', 'the kernel forwards the port while no daemon runs');

    slot.d = await startNetDaemon({ root: d().root, net });
    assert.equal(fmt('{{.State.Status}} {{.State.Pid}}', 'lr-web'), `running ${pid}`, 'adopted');
    assert.equal(await waitFor('the port after the restart', () => bodyAt(port)), 'live\n');
    assert.equal(dnatRules(d(), port).length, 1, 'one rule, not two');
    await assert.rejects(holdPort(port, '127.0.0.1'), /EADDRINUSE/, 'the new daemon holds the port again');
    assert.equal(ok('port', 'lr-web').trim(), `80/tcp -> 127.0.0.1:${port}`);
    assert.match(ok('exec', 'lr-peer', 'nslookup', 'lr-web'), new RegExp(`Address: ${webIp.replace(/\./g, '\\.')}`), 'the embedded DNS answers again');
    assert.equal(ok('exec', 'lr-peer', 'wget', '-qO-', 'http://lr-web/'), 'live\n');
    // Addresses in use are known after the restart: a new container gets another one.
    ok('run', '-d', '--name', 'lr-new', '--network', 'lr', 'busybox', 'sh', '-c', IDLE);
    const newIp = ipOn('lr-new', 'lr');
    assert.ok(newIp !== webIp && newIp !== peerIp, `new ${newIp} vs ${webIp}, ${peerIp}`);
    noteLinks([d().bridge, bridgeOf('lr')]);

    ok('rm', '-f', 'lr-web', 'lr-peer', 'lr-new');
    assert.equal(((await fetchText(port)) as { error?: string }).error, 'ECONNREFUSED');
    assert.equal(await d().stop('SIGTERM'), 0, d().log());
    assert.deepEqual(leftovers(d(), slot.links), []);
  });

  it('a container killed while the daemon was down: after the restart its port rule, veth and namespace are gone', async () => {
    const net: TestNet = freeTestNet();
    slot.d = await startNetDaemon({ net });
    busyboxImage(d());
    const port = await freePort();
    ok('network', 'create', 'away');
    ok('run', '-d', '--name', 'away-web', '--network', 'away', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', WEB('away'));
    assert.equal(await waitFor('the port', () => bodyAt(port)), 'away\n');
    const pid = Number(fmt('{{.State.Pid}}', 'away-web'));
    const sandbox = fmt('{{.NetworkSettings.SandboxKey}}', 'away-web');
    const br = bridgeOf('away');
    const veths = bridgePorts(br);
    assert.equal(veths.length, 1, veths.join(' '));
    noteLinks([d().bridge, br]);

    await d().stop('SIGKILL');
    process.kill(pid, 'SIGKILL');
    await waitFor('the container to die', () => !alive(pid));

    slot.d = await startNetDaemon({ root: d().root, net });
    // The first answer of the restarted daemon, before anything else happens: Docker finishes restoring
    // (recording the missed exit and releasing its network) before it serves the API.
    const first = {
      state: fmt('{{.State.Status}} {{.State.Running}} {{.NetworkSettings.SandboxKey}}', 'away-web'),
      namespace: existsSync(sandbox), rules: dnatRules(d(), port).length, veth: linkExists(veths[0]!),
    };
    // What the restart must end in (waited for, so that an eventual clean-up is told apart from none).
    await waitFor('the namespace to go', () => !existsSync(sandbox), 5000).catch(() => undefined);
    assert.equal(fmt('{{.State.Status}} {{.State.Running}}', 'away-web'), 'exited false');
    assert.deepEqual(dnatRules(d(), port), [], 'no DNAT rule for the dead container');
    assert.ok(!linkExists(veths[0]!), `veth ${veths[0]} is gone`);
    assert.deepEqual(bridgePorts(br), []);
    assert.ok(!existsSync(sandbox), `${sandbox} is gone`);
    assert.deepEqual(netnsEntries(d()), []);
    assert.equal(fmt('{{.NetworkSettings.SandboxKey}}', 'away-web'), '');
    assert.equal(((await fetchText(port)) as { error?: string }).error, 'ECONNREFUSED');
    (await holdPort(port, '127.0.0.1')).close(); // nobody holds the port
    assert.deepEqual(first, { state: 'exited false', namespace: false, rules: 0, veth: false },
      'as soon as the restarted daemon answers, the missed exit is handled: no namespace, rule or veth left, no SandboxKey');

    // The container starts again with its port.
    ok('start', 'away-web');
    assert.equal(await waitFor('the port after start', () => bodyAt(port)), 'away\n');
    noteLinks([d().bridge, br]);
    ok('rm', '-f', 'away-web');
    assert.equal(dk('network', 'rm', 'away').code, 0);
    assert.ok(!linkExists(br));
    assert.equal(await d().stop('SIGTERM'), 0, d().log());
    assert.deepEqual(leftovers(d(), slot.links), []);
  });
});
