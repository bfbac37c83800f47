/**
 * The real docker CLI (28.x) against pierd: `docker network
 * create/ls/inspect/rm/connect/disconnect/prune`, and `docker run` with
 * --network, --network-alias, --ip, -p, -P, --dns, --dns-search, --add-host,
 * `docker port` — outputs as the CLI prints them, checked against the
 * container and the host.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { busyboxImage, cli, containerSkip, endAll, runLogged, waitFor } from '../../harness/containers.js';
import { bodyAt, freePort, ip, linkExists, startNetDaemon, sub24, ulaSubnet, type NetDaemon } from './helpers.js';

const skip = containerSkip({ docker: true });
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('docker network and docker run network flags', { skip }, () => {
  let d: NetDaemon;
  const { dk, ok } = cli(() => d.host);
  const fmt = (f: string, ...refs: string[]) => ok('inspect', '-f', f, ...refs).trim();
  const lines = (s: string) => s.trim().split('\n').filter(Boolean).sort();

  before(async () => {
    d = await startNetDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('network create with every IPAM flag, labels, options, --attachable, --internal and --ipv6; ls, inspect and rm', () => {
    const s = sub24(d, 10);
    const id = ok('network', 'create', '--driver', 'bridge', '--subnet', s.subnet, '--gateway', s.ip(254), '--ip-range', `${s.prefix}.32/27`,
      '--aux-address', `printer=${s.ip(33)}`, '--label', 'env=cli', '--label', 'team', '-o', 'com.docker.network.driver.mtu=1400', '--attachable', 'cli-net').trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ula = ulaSubnet();
    ok('network', 'create', '--internal', '--ipv6', '--subnet', ula, 'cli-int');

    const table = ok('network', 'ls');
    assert.match(table, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/m);
    assert.match(table, new RegExp(`^${id.slice(0, 12)}\\s+cli-net\\s+bridge\\s+local$`, 'm'));
    assert.match(table, /^[0-9a-f]{12}\s+bridge\s+bridge\s+local$/m);
    assert.match(table, /^[0-9a-f]{12}\s+host\s+host\s+local$/m);
    assert.match(table, /^[0-9a-f]{12}\s+none\s+null\s+local$/m);
    assert.equal(ok('network', 'ls', '-q', '--filter', 'name=cli-net').trim(), id.slice(0, 12));
    assert.equal(ok('network', 'ls', '-q', '--no-trunc', '--filter', 'name=cli-net').trim(), id);
    assert.equal(ok('network', 'ls', '--filter', 'label=env=cli', '--format', '{{.Name}}').trim(), 'cli-net');
    assert.equal(ok('network', 'ls', '--filter', 'driver=null', '--format', '{{.Name}}').trim(), 'none');
    assert.deepEqual(lines(ok('network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}')), ['cli-int', 'cli-net']);
    assert.deepEqual(lines(ok('network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}')), ['bridge', 'host', 'none']);
    assert.equal(ok('network', 'ls', '--filter', 'name=cli-int', '--format', '{{.Name}} {{.IPv6}} {{.Internal}}').trim(), 'cli-int true true');
    assert.match(ok('network', 'ls', '--filter', 'name=cli-net', '--format', '{{.Labels}}'), /^(env=cli,team=|team=,env=cli)$/m);

    assert.equal(ok('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}} {{json .AuxiliaryAddresses}}{{end}}', 'cli-net').trim(),
      `${s.subnet} ${s.ip(254)} ${s.prefix}.32/27 {"printer":"${s.ip(33)}"}`);
    assert.equal(ok('network', 'inspect', '-f', '{{json .Labels}} {{index .Options "com.docker.network.driver.mtu"}} {{.Attachable}} {{.Internal}} {{.EnableIPv6}} {{.Driver}} {{.Scope}}', 'cli-net').trim(),
      '{"env":"cli","team":""} 1400 true false false bridge local');
    assert.equal(ok('network', 'inspect', '-f', '{{.Internal}} {{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{end}}', 'cli-int').trim().replace(/,$/, '').split(' ').slice(0, 2).join(' '), 'true true');
    assert.match(ok('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', 'cli-int'), new RegExp(esc(ula)));
    const both = JSON.parse(ok('network', 'inspect', 'cli-net', 'cli-int')) as { Name: string; Id: string }[];
    assert.deepEqual(both.map((n) => n.Name), ['cli-net', 'cli-int']);
    assert.equal(both[0]!.Id, id);
    assert.match(ip('addr', 'show', 'dev', `br-${id.slice(0, 12)}`), new RegExp(`inet ${esc(s.ip(254))}/24 `));

    const missing = dk('network', 'inspect', 'no-such-net');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-net/);
    const dup = dk('network', 'create', 'cli-net');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /network with name cli-net already exists/);
    const overlap = dk('network', 'create', '--subnet', `${s.prefix}.0/25`, 'cli-overlap');
    assert.equal(overlap.code, 1);
    assert.match(overlap.stderr, /overlaps/i);
    const badGw = dk('network', 'create', '--subnet', sub24(d, 11).subnet, '--gateway', s.ip(1), 'cli-badgw');
    assert.equal(badGw.code, 1);
    assert.match(badGw.stderr, /gateway/);
    assert.equal(dk('network', 'inspect', 'cli-overlap').code, 1, 'refused networks are not created');
    assert.equal(dk('network', 'inspect', 'cli-badgw').code, 1);

    const rm = dk('network', 'rm', 'bridge');
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /bridge is a pre-defined network and cannot be removed/);
    assert.equal(ok('network', 'rm', 'cli-int').trim(), 'cli-int');
    assert.equal(dk('network', 'inspect', 'cli-int').code, 1);
  });

  it('docker run --network --network-alias --ip -p -P --dns --dns-search --add-host; docker port; connect and disconnect', async () => {
    const s = sub24(d, 10); // cli-net from the test above
    const fixed = s.ip(40);
    const port = await freePort();
    ok('run', '-d', '--name', 'cli-web', '--network', 'cli-net', '--network-alias', 'api', '--ip', fixed, '-p', `127.0.0.1:${port}:80`, '-P', '--expose', '8080',
      '--dns', '127.0.0.1', '--dns-search', 'corp.test', '--add-host', 'db.test:10.1.2.3', 'busybox', 'sh', '-c',
      'mkdir -p /a /b && echo cli-80 > /a/index.html && echo cli-8080 > /b/index.html && httpd -p 8080 -h /b && exec httpd -f -p 80 -h /a');
    assert.equal(fmt('{{(index .NetworkSettings.Networks "cli-net").IPAddress}}', 'cli-web'), fixed);
    assert.match(fmt('{{json (index .NetworkSettings.Networks "cli-net").Aliases}}', 'cli-web'), /"api"/);
    assert.equal(fmt('{{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.ExtraHosts}}', 'cli-web'), '["127.0.0.1"] ["corp.test"] ["db.test:10.1.2.3"]');

    const ports = lines(ok('port', 'cli-web'));
    assert.equal(ports.length, 2, ports.join('\n'));
    assert.equal(ports[0], `80/tcp -> 127.0.0.1:${port}`);
    const m = ports[1]!.match(/^8080\/tcp -> 0\.0\.0\.0:(\d+)$/);
    assert.ok(m, ports[1]);
    const p8080 = Number(m[1]);
    assert.equal(ok('port', 'cli-web', '8080/tcp').trim(), `0.0.0.0:${p8080}`);
    assert.equal(await waitFor('-p port', () => bodyAt(port)), 'cli-80\n');
    assert.equal(await waitFor('-P port', () => bodyAt(p8080)), 'cli-8080\n');
    assert.match(ok('ps', '--filter', 'name=cli-web', '--format', '{{.Ports}}'), new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
    assert.equal(ok('ps', '--filter', 'network=cli-net', '--format', '{{.Names}}').trim(), 'cli-web');
    assert.equal(ok('network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}', 'cli-net').trim(), `cli-web ${fixed}/24`);

    const files = ok('exec', 'cli-web', 'cat', '/etc/hosts', '/etc/resolv.conf');
    assert.match(files, /^10\.1\.2\.3\s+db\.test$/m);
    assert.match(files, /^nameserver 127\.0\.0\.11$/m);
    assert.match(files, /^search corp\.test$/m);
    assert.match(ok('exec', 'cli-web', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'), new RegExp(`inet ${esc(fixed)}/24`));

    // Another container reaches it by alias.
    const client = runLogged(d.host, ['--network', 'cli-net', 'busybox', 'wget', '-qO-', 'http://api/']);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout, 'cli-80\n');

    // Connect to a second network with an alias and a static address; twice is refused; disconnect; again is refused.
    const s2 = sub24(d, 11);
    ok('network', 'create', '--subnet', s2.subnet, 'cli-net2');
    ok('network', 'connect', '--alias', 'side', '--ip', s2.ip(9), 'cli-net2', 'cli-web');
    assert.equal(fmt('{{(index .NetworkSettings.Networks "cli-net2").IPAddress}}', 'cli-web'), s2.ip(9));
    assert.match(ok('exec', 'cli-web', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth1'), new RegExp(`inet ${esc(s2.ip(9))}/24`));
    const viaSide = runLogged(d.host, ['--network', 'cli-net2', 'busybox', 'wget', '-qO-', 'http://side/']);
    assert.equal(viaSide.stdout, 'cli-80\n', viaSide.stderr);
    const twice = dk('network', 'connect', 'cli-net2', 'cli-web');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /already exists/);
    ok('network', 'disconnect', 'cli-net2', 'cli-web');
    assert.notEqual(dk('exec', 'cli-web', 'ip', 'link', 'show', 'eth1').code, 0);
    const notConnected = dk('network', 'disconnect', 'cli-net2', 'cli-web');
    assert.equal(notConnected.code, 1);
    assert.match(notConnected.stderr, /is not connected to network cli-net2/);

    const inUse = dk('network', 'rm', 'cli-net');
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /cli-net.*has active endpoints/);
    const badIp = dk('run', '-d', '--name', 'cli-badip', '--network', 'cli-net', '--ip', s2.ip(5), 'busybox', 'true');
    assert.equal(badIp.code, 125);
    assert.match(badIp.stderr, new RegExp(esc(s2.ip(5))));

    ok('rm', '-f', 'cli-web');
    const ids = ['cli-net', 'cli-net2'].map((n) => ok('network', 'inspect', '-f', '{{.Id}}', n).trim());
    assert.deepEqual(lines(ok('network', 'rm', 'cli-net', 'cli-net2')), ['cli-net', 'cli-net2']);
    for (const id of ids) assert.ok(!linkExists(`br-${id.slice(0, 12)}`), 'the bridges are gone');
  });

  it('docker run --network none, host and container:<name>', () => {
    const none = runLogged(d.host, ['--network', 'none', 'busybox', 'sh', '-c', 'ip -o link | cut -d: -f2']);
    assert.equal(none.stdout.trim(), 'lo', none.stderr);
    const host = runLogged(d.host, ['--network', 'host', 'busybox', 'ip', '-o', 'link']);
    assert.match(host.stdout, new RegExp(`: ${d.bridge}: `), 'the host\'s interfaces, this daemon\'s bridge among them');
    ok('run', '-d', '--name', 'ns-owner', 'busybox', 'sleep', '300');
    const ownerIp = fmt('{{.NetworkSettings.IPAddress}}', 'ns-owner');
    const shared = runLogged(d.host, ['--network', 'container:ns-owner', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(shared.stdout, new RegExp(`inet ${esc(ownerIp)}/24`), shared.stderr);
    ok('rm', '-f', 'ns-owner');
  });

  it('docker network prune -f removes the unused networks and lists them', () => {
    ok('network', 'create', 'prune-a');
    ok('network', 'create', '--label', 'keep=yes', 'prune-b');
    ok('network', 'create', 'prune-used');
    ok('run', '-d', '--name', 'prune-user', '--network', 'prune-used', 'busybox', 'sleep', '300');
    /** The names a prune printed, after checking the CLI's layout. */
    const pruned = (out: string) => {
      assert.match(out, /^Deleted Networks:\n(\S+\n)+\n$/, out);
      return lines(out.replace(/^Deleted Networks:\n/, ''));
    };
    const filtered = pruned(ok('network', 'prune', '-f', '--filter', 'label!=keep'));
    assert.ok(filtered.includes('prune-a') && !filtered.includes('prune-b') && !filtered.includes('prune-used'), filtered.join(','));
    const all = pruned(ok('network', 'prune', '-f'));
    assert.ok(all.includes('prune-b') && !all.includes('prune-used'), all.join(','));
    assert.deepEqual(lines(ok('network', 'ls', '--format', '{{.Name}}')), ['bridge', 'host', 'none', 'prune-used']);
    assert.equal(ok('network', 'prune', '-f'), '', 'nothing to prune: nothing printed');
    ok('rm', '-f', 'prune-user');
    assert.equal(ok('network', 'rm', 'prune-used').trim(), 'prune-used');
  });
});
