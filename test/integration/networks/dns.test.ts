/**
 * Container DNS: on a user network the embedded server at 127.0.0.11 answers
 * for container names, --network-alias, short IDs and name.network, keeps
 * network-internal names to itself and forwards the rest to the --dns server
 * (here a fake one of the test's own on 127.0.0.1:53 — never the host's real
 * resolvers); the default bridge has no name resolution; resolv.conf and
 * /etc/hosts carry --dns-search, --dns-option and --add-host; two user
 * networks are isolated from each other, and enable_icc=false isolates the
 * containers of one; a shared alias answers every address, reverse lookups
 * and renames follow the containers.
 *
 * The fake upstream lives in this process, so docker runs here never block
 * the event loop (dockerAsync).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { busyboxImage, containerSkip, endAll, waitFor } from '../../harness/containers.js';
import { bodyAt, dockerAsync, startNetDaemon, type NetDaemon } from './helpers.js';

const skip = containerSkip({ docker: true });

const EXT_NAME = 'ext.pier.test';
const EXT_ADDR = '192.0.2.7'; // TEST-NET-1: only ever an answer, never a destination

/** A DNS server on 127.0.0.1:53 answering EXT_NAME and NXDOMAIN for the rest; undefined when the port is taken. */
async function fakeUpstream(): Promise<{ sock: Socket; seen: string[] } | undefined> {
  const sock = createSocket('udp4');
  const seen: string[] = [];
  const bound = await new Promise<boolean>((res) => {
    sock.once('error', () => res(false));
    sock.bind({ port: 53, address: '127.0.0.1', exclusive: true }, () => res(true));
  });
  if (!bound) {
    sock.close();
    return undefined;
  }
  sock.on('message', (msg, rinfo) => {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    seen.push(`${question.type} ${question.name}`);
    const known = question.name.toLowerCase() === EXT_NAME;
    const answers = known && question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 30, data: EXT_ADDR }] : [];
    // The rcode is the low four bits of the flags: 3 = NXDOMAIN.
    const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3);
    sock.send(dnsPacket.encode({ type: 'response', id: q.id, flags, questions: q.questions, answers }), rinfo.port, rinfo.address);
  });
  return { sock, seen };
}

describe('container DNS and network isolation', { skip }, () => {
  let d: NetDaemon;
  let upstream: { sock: Socket; seen: string[] } | undefined;
  let webId = '';
  let webIp = '';
  let farIp = '';
  let gateway = '';
  let n = 0;

  const dk = (...args: string[]) => dockerAsync(d.host, args);
  const ok = async (...args: string[]) => {
    const r = await dk(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** `docker run -d` a shell script, wait, and return its exit code and logged output. */
  const sh = async (runArgs: string[], script: string) => {
    const name = `dns-run-${++n}`;
    await ok('run', '-d', '--name', name, ...runArgs, 'busybox', 'sh', '-c', script);
    const code = Number((await ok('wait', name)).trim());
    const logs = await dk('logs', name);
    await dk('rm', '-f', name);
    return { code, out: logs.stdout + logs.stderr };
  };
  const ipOf = async (name: string, net: string) => (await ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name)).trim();
  const httpd = (body: string) => `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`;
  const esc = (s: string) => s.replace(/\./g, '\\.');

  before(async () => {
    upstream = await fakeUpstream();
    d = await startNetDaemon();
    busyboxImage(d);
    await ok('network', 'create', 'dnet');
    await ok('network', 'create', 'other');
    webId = (await ok('run', '-d', '--name', 'web', '--network', 'dnet', '--network-alias', 'www.alias', 'busybox', 'sh', '-c', httpd('hello-from-web'))).trim();
    await ok('run', '-d', '--name', 'far', '--network', 'other', 'busybox', 'sh', '-c', httpd('hello-from-far'));
    webIp = await ipOf('web', 'dnet');
    farIp = await ipOf('far', 'other');
    // The host is on every bridge: wait until both servers answer.
    await waitFor('web to serve', () => bodyAt(80, '/', webIp));
    await waitFor('far to serve', () => bodyAt(80, '/', farIp));
    gateway = (await ok('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge')).trim();
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
    upstream?.sock.close();
  });

  it('containers on a user network reach each other by name, alias, short ID and name.network (nslookup, wget, nc)', async () => {
    const id12 = webId.slice(0, 12);
    const r = await sh(['--network', 'dnet'], [
      'set -e',
      ...['web', 'www.alias', id12, 'web.dnet', 'WEB'].map((x) => `echo "== ${x}"; nslookup ${x}`),
      'echo "== wget"; wget -qO- http://web/; wget -qO- http://www.alias/index.html; wget -qO- http://' + id12 + '/',
      'echo "== nc"; printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 web 80',
    ].join('\n'));
    assert.equal(r.code, 0, r.out);
    for (const x of ['web', 'www.alias', id12, 'web.dnet', 'WEB'])
      assert.match(r.out, new RegExp(`== ${esc(x)}\\n[^=]*Name:\\s+${esc(x)}\\nAddress: ${esc(webIp)}\\n`, 'i'), `nslookup ${x} → ${webIp}`);
    assert.match(r.out, /== wget\nhello-from-web\nhello-from-web\nhello-from-web\n/);
    assert.match(r.out, /== nc\nHTTP\/1\.[01] 200 OK\r\n[\s\S]*hello-from-web/);
    if (upstream) assert.ok(!upstream.seen.some((s) => /web|alias|dnet/i.test(s)), `network names never reach the upstream: ${upstream.seen.join(', ')}`);
  });

  it('resolv.conf names 127.0.0.11; --dns-search, --dns-option and --add-host (an address and host-gateway) are in the files', async () => {
    const r = await sh(
      ['--network', 'dnet', '--hostname', 'files', '--dns-search', 'example.test', '--dns-option', 'timeout:2', '--add-host', 'name1:1.2.3.4', '--add-host', 'hgw:host-gateway'],
      'cat /etc/resolv.conf; echo ==; cat /etc/hosts; echo ==; ip -o -4 addr show dev eth0',
    );
    assert.equal(r.code, 0, r.out);
    const [resolv, hosts, addr] = r.out.split('==\n');
    assert.deepEqual(resolv!.split('\n').filter((l) => l.startsWith('nameserver')), ['nameserver 127.0.0.11'], resolv);
    assert.match(resolv!, /^search example\.test$/m);
    assert.match(resolv!, /^options timeout:2$/m);
    assert.match(hosts!, /^1\.2\.3\.4\s+name1$/m);
    assert.match(hosts!, new RegExp(`^${esc(gateway)}\\s+hgw$`, 'm'), `host-gateway is the default bridge's gateway ${gateway}`);
    const own = addr!.match(/inet (\S+)\//)![1]!;
    assert.match(hosts!, new RegExp(`^${esc(own)}\\s+files$`, 'm'), 'its own name with its address');
    assert.match(hosts!, /^127\.0\.0\.1\s+localhost/m);
  });

  it('names of other networks and unknown names are not answered locally; the rest goes to the --dns server', async (t) => {
    const r = await sh(['--network', 'dnet'], 'nslookup far; echo far=$?; nslookup nosuch.pier.test; echo nosuch=$?');
    assert.match(r.out, /^far=1$/m, `a container of another network is not resolvable:\n${r.out}`);
    assert.match(r.out, /^nosuch=1$/m, r.out);
    assert.doesNotMatch(r.out, new RegExp(esc(farIp)));
    if (!upstream) return t.skip('127.0.0.1:53 is taken on this host: no fake upstream DNS');
    assert.ok(upstream.seen.some((s) => s === 'A far' || s === 'A far.'), `"far" is not ours on dnet, so it was forwarded: ${upstream.seen.join(', ')}`);
    const ext = await sh(['--network', 'dnet'], `nslookup ${EXT_NAME}`);
    assert.equal(ext.code, 0, ext.out);
    assert.match(ext.out, new RegExp(`Name:\\s+${esc(EXT_NAME)}\\nAddress: ${esc(EXT_ADDR)}`), ext.out);
    assert.ok(upstream.seen.includes(`A ${EXT_NAME}`), upstream.seen.join(', '));
    // A container's own --dns is where its forwards go (the same fake here, so: still answered).
    const own = await sh(['--network', 'dnet', '--dns', '127.0.0.1'], `cat /etc/resolv.conf; nslookup ${EXT_NAME}`);
    assert.equal(own.code, 0, own.out);
    assert.match(own.out, /^nameserver 127\.0\.0\.11$/m, 'the container still asks the embedded server');
    assert.match(own.out, new RegExp(`Address: ${esc(EXT_ADDR)}`));
  });

  it('on the default bridge there is no name resolution', async () => {
    const r = await sh([], 'cat /etc/resolv.conf; nslookup web >/dev/null 2>&1; echo byname=$?; nslookup web 127.0.0.11 >/dev/null 2>&1; echo embedded=$?; timeout 2 wget -qO- http://web/; echo wget=$?');
    assert.doesNotMatch(r.out, /nameserver 127\.0\.0\.11/);
    assert.match(r.out, /^nameserver 127\.0\.0\.1$/m, 'the daemon\'s --dns');
    assert.match(r.out, /^byname=1$/m, r.out);
    assert.match(r.out, /^embedded=1$/m, `no embedded server in a default-bridge container:\n${r.out}`);
    assert.match(r.out, /^wget=[1-9]\d*$/m, r.out);
    assert.doesNotMatch(r.out, /hello-from-web/);
  });

  it('two user networks are isolated; a container on both reaches both', async () => {
    // From "other" to web's address on dnet: dropped.
    const cut = await sh(['--network', 'other'], `ping -c 1 -W 1 ${webIp} >/dev/null 2>&1; echo ping=$?; timeout 1 wget -qO- http://${webIp}/; echo wget=$?; ping -c 1 -W 1 ${farIp} >/dev/null 2>&1; echo same=$?`);
    assert.match(cut.out, /^ping=1$/m, cut.out);
    assert.match(cut.out, /^wget=[1-9]\d*$/m, cut.out);
    assert.doesNotMatch(cut.out, /hello-from-web/);
    assert.match(cut.out, /^same=0$/m, `its own network's containers answer:\n${cut.out}`);

    // One container on both networks reaches both servers, by address and by name.
    await ok('create', '--name', 'both', '--network', 'dnet', 'busybox', 'sh', '-c',
      `wget -qO- http://${webIp}/ && wget -qO- http://${farIp}/ && wget -qO- http://web/ && wget -qO- http://far/ && ip -o -4 addr`);
    await ok('network', 'connect', 'other', 'both');
    await ok('start', 'both');
    assert.equal((await ok('wait', 'both')).trim(), '0', (await dk('logs', 'both')).stderr);
    const out = (await ok('logs', 'both'));
    assert.match(out, /^hello-from-web\nhello-from-far\nhello-from-web\nhello-from-far\n/);
    assert.match(out, /eth0 +inet /);
    assert.match(out, /eth1 +inet /);
    await ok('rm', 'both');

    // Connecting far to dnet as well: now it reaches web.
    await ok('network', 'connect', 'dnet', 'far');
    const joined = await ok('exec', 'far', 'timeout', '2', 'wget', '-qO-', 'http://web/');
    assert.equal(joined, 'hello-from-web\n');
    await ok('network', 'disconnect', 'dnet', 'far');
    const again = await dk('exec', 'far', 'timeout', '1', 'wget', '-qO-', `http://${webIp}/`);
    assert.notEqual(again.code, 0, 'disconnected: cut off again');
  });

  it('an alias shared by two containers answers both addresses; reverse lookups name the container; a rename is followed', async () => {
    await ok('run', '-d', '--name', 'pool-1', '--network', 'dnet', '--network-alias', 'pool', 'busybox', 'sleep', '300');
    await ok('run', '-d', '--name', 'pool-2', '--network', 'dnet', '--network-alias', 'pool', 'busybox', 'sleep', '300');
    const ips = [await ipOf('pool-1', 'dnet'), await ipOf('pool-2', 'dnet')];
    const both = await ok('exec', 'web', 'nslookup', 'pool');
    for (const a of ips) assert.match(both, new RegExp(`Address: ${esc(a)}$`, 'm'), both);
    const rev = await ok('exec', 'web', 'nslookup', ips[0]!);
    assert.match(rev, /name = pool-1\.dnet/, rev);
    await ok('rename', 'pool-1', 'pool-one');
    assert.match(await ok('exec', 'web', 'nslookup', 'pool-one'), new RegExp(`Address: ${esc(ips[0]!)}`));
    assert.notEqual((await dk('exec', 'web', 'nslookup', 'pool-1')).code, 0, 'the old name is gone');
    await ok('rm', '-f', 'pool-one', 'pool-2');
  });

  it('enable_icc=false: containers on that network cannot reach each other', async () => {
    await ok('network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc');
    await ok('run', '-d', '--name', 'icc-a', '--network', 'noicc', 'busybox', 'sh', '-c', httpd('icc-a'));
    const a = await ipOf('icc-a', 'noicc');
    await waitFor('icc-a to serve the host', () => bodyAt(80, '/', a));
    const r = await sh(['--network', 'noicc'], `timeout 1 wget -qO- http://${a}/; echo wget=$?`);
    assert.match(r.out, /^wget=[1-9]\d*$/m, r.out);
    assert.doesNotMatch(r.out, /icc-a/);
    await ok('rm', '-f', 'icc-a');
    await ok('network', 'rm', 'noicc');
  });

  it('a name goes away when its container disconnects or stops', async () => {
    await ok('run', '-d', '--name', 'brief', '--network', 'dnet', 'busybox', 'sleep', '300');
    const briefIp = await ipOf('brief', 'dnet');
    assert.match(await ok('exec', 'web', 'nslookup', 'brief'), new RegExp(`Address: ${esc(briefIp)}`));
    await ok('network', 'disconnect', 'dnet', 'brief');
    assert.notEqual((await dk('exec', 'web', 'nslookup', 'brief')).code, 0, 'disconnected: not resolvable');
    await ok('network', 'connect', '--alias', 'brief-alias', 'dnet', 'brief');
    const ip2 = await ipOf('brief', 'dnet');
    assert.match(await ok('exec', 'web', 'nslookup', 'brief-alias'), new RegExp(`Address: ${esc(ip2)}`));
    await ok('stop', '-t', '0', 'brief');
    assert.notEqual((await dk('exec', 'web', 'nslookup', 'brief')).code, 0, 'stopped: not resolvable');
    assert.notEqual((await dk('exec', 'web', 'nslookup', 'brief-alias')).code, 0);
    await ok('rm', 'brief');
  });
});
