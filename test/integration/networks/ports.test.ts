/**
 * Published ports, reached from the host at 127.0.0.1: -p with and without a
 * host address, -P for EXPOSEd ports, UDP, ranges; from containers through
 * the host's address (same network, the container itself, another network);
 * a host port another program holds, or another container publishes,
 * refuses the start and leaves nothing behind; stop, rm -f and --rm take the
 * port and its DNAT rule away.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../../harness/daemon.js';
import { busyboxImage, cli, containerSkip, create, endAll, inspect, waitFor } from '../../harness/containers.js';
import {
  bodyAt, bridgePorts, dnatRules, fetchText, freePort, freePortRange, freeUdpPort, holdPort, netnsEntries, startNetDaemon, udpEchoIn, udpExchange, type NetDaemon,
} from './helpers.js';

const skip = containerSkip({ docker: true });

/** A shell line serving `body` over HTTP on each port (the last one in the foreground). */
const httpd = (ports: Record<number, string>) => {
  const list = Object.entries(ports);
  return list
    .map(([p, body], i) => `mkdir -p /w${p} && echo ${body} > /w${p}/index.html && ${i === list.length - 1 ? 'exec httpd -f' : 'httpd'} -p ${p} -h /w${p}`)
    .join(' && ');
};

describe('published ports', { skip }, () => {
  let d: NetDaemon;
  const { dk, ok } = cli(() => d.host);
  const ipOf = (name: string) => ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', name).trim();
  const refused = async (port: number) => {
    const r = await fetchText(port);
    return 'error' in r ? r.error : `answered ${r.status}: ${r.body}`;
  };

  before(async () => {
    d = await startNetDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('-p 127.0.0.1:<port>:80 answers from the host; inspect, docker port and the DNAT rule agree; stop and rm -f take it away', async () => {
    const port = await freePort();
    ok('run', '-d', '--name', 'web1', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', httpd({ 80: 'hello-web1' }));
    assert.equal(await waitFor(`127.0.0.1:${port}`, () => bodyAt(port)), 'hello-web1\n');
    const c = await inspect(d, 'web1');
    assert.deepEqual(c.NetworkSettings.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.deepEqual(c.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.equal(ok('port', 'web1').trim(), `80/tcp -> 127.0.0.1:${port}`);
    assert.equal(ok('port', 'web1', '80').trim(), `127.0.0.1:${port}`);
    assert.match(ok('ps', '--filter', 'name=web1', '--format', '{{.Ports}}'), new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
    const rules = dnatRules(d, port);
    assert.equal(rules.length, 1, rules.join('\n'));
    assert.match(rules[0]!, new RegExp(`-d 127\\.0\\.0\\.1/32 .*--dport ${port} -j DNAT --to-destination ${ipOf('web1').replace(/\./g, '\\.')}:80$`));

    ok('stop', '-t', '1', 'web1');
    assert.equal(await refused(port), 'ECONNREFUSED', 'stopped: nothing answers');
    assert.deepEqual(dnatRules(d, port), [], 'stopped: no DNAT rule');
    assert.deepEqual(ok('inspect', '-f', '{{json .NetworkSettings.Ports}}', 'web1').trim(), '{}');
    (await holdPort(port, '127.0.0.1')).close(); // the daemon let the port go

    ok('start', 'web1');
    assert.equal(await waitFor('the port again after start', () => bodyAt(port)), 'hello-web1\n');
    assert.equal(dnatRules(d, port).length, 1);
    ok('rm', '-f', 'web1');
    assert.equal(await refused(port), 'ECONNREFUSED', 'removed: nothing answers');
    assert.deepEqual(dnatRules(d, port), [], 'removed: no DNAT rule');
    (await holdPort(port, '127.0.0.1')).close();
  });

  it('--rm: the port of a container that ended is released', async () => {
    const port = await freePort();
    const r = dk('run', '--rm', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', 'echo ran');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n');
    assert.deepEqual(dnatRules(d, port), []);
    (await holdPort(port, '127.0.0.1')).close();
    assert.equal(ok('ps', '-aq', '--filter', `publish=${port}`), '');
  });

  it('-p <port>:80 (every address) answers at 127.0.0.1 too', async () => {
    const port = await freePort();
    ok('run', '-d', '--name', 'web2', '-p', `${port}:80`, 'busybox', 'sh', '-c', httpd({ 80: 'hello-web2' }));
    assert.equal(await waitFor(`127.0.0.1:${port}`, () => bodyAt(port)), 'hello-web2\n');
    assert.match(ok('port', 'web2', '80/tcp'), new RegExp(`^0\\.0\\.0\\.0:${port}$`, 'm'));
    const rules = dnatRules(d, port);
    assert.equal(rules.length, 1, rules.join('\n'));
    assert.doesNotMatch(rules[0]!, / -d /, 'no destination address: every local address');
    await assert.rejects(holdPort(port, '0.0.0.0'), /EADDRINUSE/, 'pierd holds the host port');
    ok('rm', '-f', 'web2');
    assert.deepEqual(dnatRules(d, port), []);
  });

  it('-P publishes each EXPOSEd port on a free host port that answers', async () => {
    const id = await create(d, {
      Image: 'busybox', Cmd: ['sh', '-c', httpd({ 80: 'exposed-80', 8081: 'exposed-8081' })],
      ExposedPorts: { '80/tcp': {}, '8081/tcp': {} }, HostConfig: { PublishAllPorts: true },
    }, 'pub-all');
    const s = await api(d.sock, 'POST', `/containers/${id}/start`);
    assert.equal(s.status, 204, s.text());
    const ports = (await inspect(d, id)).NetworkSettings.Ports as Record<string, { HostIp: string; HostPort: string }[]>;
    assert.deepEqual(Object.keys(ports).sort(), ['80/tcp', '8081/tcp']);
    const p80 = Number(ports['80/tcp']![0]!.HostPort);
    const p8081 = Number(ports['8081/tcp']![0]!.HostPort);
    assert.ok(p80 > 0 && p8081 > 0 && p80 !== p8081, JSON.stringify(ports));
    const listed = ok('port', 'pub-all').trim().split('\n').sort();
    assert.deepEqual(listed, [`80/tcp -> 0.0.0.0:${p80}`, `8081/tcp -> 0.0.0.0:${p8081}`].sort());
    assert.equal(await waitFor('the -P port of 80', () => bodyAt(p80)), 'exposed-80\n');
    assert.equal(await waitFor('the -P port of 8081', () => bodyAt(p8081)), 'exposed-8081\n');
    const list = (await api(d.sock, 'GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ name: ['pub-all'] }))}`)).json<{ Ports: object[] }[]>();
    assert.deepEqual(list[0]!.Ports.map((p) => JSON.stringify(p)).sort(), [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: p80, Type: 'tcp' }, { IP: '0.0.0.0', PrivatePort: 8081, PublicPort: p8081, Type: 'tcp' },
    ].map((p) => JSON.stringify(p)).sort());
    ok('rm', '-f', 'pub-all');
    assert.deepEqual([...dnatRules(d, p80), ...dnatRules(d, p8081)], []);
  });

  it('a UDP port: a datagram to 127.0.0.1 reaches the container and the reply comes back', async () => {
    const port = await freeUdpPort();
    ok('run', '-d', '--name', 'udp', '-p', `127.0.0.1:${port}:9999/udp`, 'busybox', 'sleep', '300');
    assert.equal(ok('port', 'udp').trim(), `9999/udp -> 127.0.0.1:${port}`);
    assert.equal(dnatRules(d, port, 'udp').length, 1, 'a udp DNAT rule');
    const echo = udpEchoIn(ok('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'udp').trim(), 9999);
    await waitFor('the echo server in the container\'s namespace', () => echo.stdout().includes('listening'));
    assert.equal(await waitFor('a UDP reply', () => udpExchange(port, 'ping-udp')), 'echo:ping-udp');
    echo.kill('SIGKILL');
    await echo.done;
    ok('rm', '-f', 'udp');
    assert.deepEqual(dnatRules(d, port, 'udp'), []);
  });

  it('a port range -p <a>-<a+2>:8000-8002 maps port to port', async () => {
    const base = await freePortRange(3);
    ok('run', '-d', '--name', 'ranged', '-p', `127.0.0.1:${base}-${base + 2}:8000-8002`, 'busybox', 'sh', '-c', httpd({ 8000: 'r8000', 8001: 'r8001', 8002: 'r8002' }));
    for (let i = 0; i < 3; i++) assert.equal(await waitFor(`port ${base + i}`, () => bodyAt(base + i)), `r800${i}\n`);
    assert.deepEqual(ok('port', 'ranged').trim().split('\n').sort(), [0, 1, 2].map((i) => `800${i}/tcp -> 127.0.0.1:${base + i}`).sort());
    ok('rm', '-f', 'ranged');
    for (let i = 0; i < 3; i++) assert.deepEqual(dnatRules(d, base + i), []);
  });

  it('containers reach a published port through the host: from the same network (also the container itself) via its gateway and host-gateway', async () => {
    const port = await freePort();
    ok('run', '-d', '--name', 'hp-web', '-p', `${port}:80`, 'busybox', 'sh', '-c', httpd({ 80: 'hairpin' }));
    await waitFor('hp-web', () => bodyAt(port));
    const gw = ok('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge').trim();
    ok('run', '-d', '--name', 'hp-client', '--add-host', 'host.docker.internal:host-gateway', 'busybox', 'sleep', '300');
    const get = (c: string, url: string) => dk('exec', c, 'timeout', '3', 'wget', '-qO-', url);
    for (const [c, url] of [['hp-client', `http://${gw}:${port}/`], ['hp-client', `http://host.docker.internal:${port}/`], ['hp-web', `http://${gw}:${port}/`]] as const) {
      const r = get(c, url);
      assert.equal(r.stdout, 'hairpin\n', `${c} → ${url}: exit ${r.code} ${r.stderr}`);
    }
    ok('rm', '-f', 'hp-web', 'hp-client');
  });

  it('a container on another network reaches a published port through the host (as with Docker\'s default userland proxy)', async () => {
    const port = await freePort();
    ok('run', '-d', '--name', 'xn-web', '-p', `${port}:80`, 'busybox', 'sh', '-c', httpd({ 80: 'across' }));
    await waitFor('xn-web', () => bodyAt(port));
    ok('network', 'create', 'xn-other');
    const otherGw = ok('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'xn-other').trim();
    ok('run', '-d', '--name', 'xn-client', '--network', 'xn-other', '--add-host', 'host.docker.internal:host-gateway', 'busybox', 'sleep', '300');
    try {
      for (const url of [`http://${otherGw}:${port}/`, `http://host.docker.internal:${port}/`]) {
        const r = dk('exec', 'xn-client', 'timeout', '3', 'wget', '-qO-', url);
        assert.equal(r.stdout, 'across\n', `xn-client (network xn-other) → ${url}: exit ${r.code} ${r.stderr}`);
      }
    } finally {
      ok('rm', '-f', 'xn-web', 'xn-client');
      ok('network', 'rm', 'xn-other');
    }
  });

  it('a host port another program holds: the start fails with a clear error, nothing is left running and no rule remains', async () => {
    const port = await freePort();
    const held = await holdPort(port, '127.0.0.1');
    const vethsBefore = bridgePorts(d.bridge).length;
    try {
      const id = await create(d, { Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } } }, 'clash');
      const r = await api(d.sock, 'POST', `/containers/${id}/start`);
      assert.ok(r.status === 409 || r.status === 500, `start: ${r.status} ${r.text()}`);
      assert.match(r.json<{ message: string }>().message, /address already in use|port is already allocated/);
      assert.match(r.json<{ message: string }>().message, new RegExp(`127\\.0\\.0\\.1:${port}`), 'the message names the port');
      const c = await inspect(d, id);
      assert.equal(c.State.Running, false);
      assert.equal(c.State.Pid, 0);
      assert.equal(c.NetworkSettings.SandboxKey, '');
      assert.deepEqual(dnatRules(d, port), [], 'no DNAT rule for the refused port');
      assert.deepEqual(netnsEntries(d).filter((f) => id.startsWith(f)), [], 'no network namespace left for it');
      assert.equal(bridgePorts(d.bridge).length, vethsBefore, 'no veth left on the bridge');
      // The docker CLI shows the error and exits 125 (run) / 1 (start).
      const cliRun = dk('run', '-d', '--name', 'clash2', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300');
      assert.equal(cliRun.code, 125, cliRun.stderr);
      assert.match(cliRun.stderr, /address already in use|port is already allocated/);
      assert.equal(ok('inspect', '-f', '{{.State.Running}}', 'clash2').trim(), 'false');
    } finally {
      held.close();
    }
    // Released by the other program: the same container starts.
    ok('start', 'clash');
    assert.equal(dnatRules(d, port).length, 1);
    ok('rm', '-f', 'clash', 'clash2');
  });

  it('a host port another container publishes: "port is already allocated"; the first keeps answering', async () => {
    const port = await freePort();
    ok('run', '-d', '--name', 'owner', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', httpd({ 80: 'owner' }));
    await waitFor('owner', () => bodyAt(port));
    const r = dk('run', '-d', '--name', 'thief', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300');
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /port is already allocated/);
    assert.equal(ok('inspect', '-f', '{{.State.Running}}', 'thief').trim(), 'false');
    const rules = dnatRules(d, port);
    assert.equal(rules.length, 1, rules.join('\n'));
    assert.match(rules[0]!, new RegExp(`--to-destination ${ipOf('owner').replace(/\./g, '\\.')}:80$`), 'the rule still points at the owner');
    assert.equal(await bodyAt(port), 'owner\n');
    ok('rm', '-f', 'owner', 'thief');
  });
});
