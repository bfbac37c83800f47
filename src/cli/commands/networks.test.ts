import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkSummary } from '../../client/types.js';
import { formatRows } from '../formatter.js';
import { compareWithDocker, docker, dockerize, FakeEngine, haveDocker, pier, type Recorded, requestBody, requestShapes } from './fake-engine.js';
import { consolidateIpam, goTimeString, networkFormat, networkHeaders, networkRows, parseCIDR, parseIP } from './networks.js';

const NID = 'f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34ab4041a8ac09';
const CID = '90d5392ef2fccbfeff3bc0f2e7672d8cf8e3496660a12a6c5559d56d602dc4ff';

// An offset no test machine is likely to be in, so Go and pier both print it as a fixed zone.
const ODD_OFFSET = '+05:45';
const oddOffsetIsLocal = -new Date(`2024-01-01T12:00:00${ODD_OFFSET}`).getTimezoneOffset() === 345;

const networks = (): NetworkSummary[] => [
  { Name: 'zeta', Id: 'a'.repeat(64), Created: '2024-01-01T12:00:00.123456789Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: false, Internal: true, Labels: { a: '1' } },
  { Name: 'bridge', Id: NID, Created: `2024-01-01T13:00:00${ODD_OFFSET}`, Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: true, Internal: false, Labels: {} },
  { Name: 'net10', Id: 'b'.repeat(64), Created: '2024-01-01T12:00:00Z', Scope: 'local', Driver: 'bridge', Labels: null },
  { Name: 'net9', Id: 'c'.repeat(64), Created: '2024-01-01T12:00:00.5Z', Scope: 'swarm', Driver: 'overlay' },
];

const inspectDoc = (name: string, ingress = false) =>
  `{"Name":"${name}","Id":"${NID}","Created":"2024-01-01T12:00:00.5Z","Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,` +
  `"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]},"Internal":false,"Attachable":false,` +
  `"Ingress":${ingress},"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{},"Options":{},"Labels":{"a":"<b>"}}`;

const containerDoc = (name: string) => JSON.stringify({
  Id: CID, Name: `/${name}`, Config: { Tty: false, OpenStdin: false },
  NetworkSettings: {
    Ports: {
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }],
      '443/tcp': null,
      '53/udp': [{ HostIp: '::1', HostPort: '5353' }],
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
      '9/tcp': [{ HostIp: '0.0.0.0', HostPort: '10009' }],
    },
  },
});

function handler(r: Recorded) {
  const p = r.path;
  if (p === '/networks/create') return { status: 201, json: { Id: NID, Warning: 'ignored by the CLI' } };
  if (p === '/networks') return { json: r.query.get('filters')?.includes('"none"') ? [] : networks() };
  if (p === '/networks/prune') return { json: { NetworksDeleted: r.query.has('filters') ? [] : ['n1', 'n2'] } };
  const m = /^\/networks\/([^/]+)(?:\/(connect|disconnect))?$/.exec(p);
  if (m) {
    const [, name, action] = m;
    if (name === 'missing') return { status: 404, json: { message: 'network missing not found' } };
    // Spacing and escapes as a daemon may write them: docker keeps the values' bytes.
    if (name === 'spaced') return { text: '{ "Name" : "spaced",\n  "Labels": {"a": "\\u003cb>"}, "IPAM": {"Config": [ ]} }\n', headers: { 'Content-Type': 'application/json' } };
    if (action) return { status: 200 };
    if (r.method === 'DELETE') {
      if (name === 'busy') return { status: 403, json: { message: 'error while removing network: network busy has active endpoints' } };
      return { status: 204 };
    }
    return { text: inspectDoc(name!, name === 'ingress') + '\n', headers: { 'Content-Type': 'application/json' } };
  }
  const c = /^\/containers\/([^/]+)\/json$/.exec(p);
  if (c) {
    if (c[1] === 'nosuch') return { status: 404, json: { message: 'No such container: nosuch' } };
    return { text: containerDoc(c[1]!) + '\n', headers: { 'Content-Type': 'application/json' } };
  }
  return undefined;
}

const shape = (rs: Recorded[]) => requestShapes(rs);
const bodyOf = requestBody;

describe('network helpers', () => {
  it('parses addresses and prefixes as Go does', () => {
    assert.deepEqual(parseIP('10.0.0.1'), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 1]);
    assert.deepEqual(parseIP('::1')?.slice(14), [0, 1]);
    assert.deepEqual(parseIP('::ffff:1.2.3.4')?.slice(10), [255, 255, 1, 2, 3, 4]);
    for (const bad of ['010.0.0.1', '1.2.3', '1:2:3:4:5:6:7:8:9', '1::2::3', '1:2:3:4::5:6:7:8', 'fe80::1%eth0', 'x', '']) {
      assert.equal(parseIP(bad), undefined, bad);
    }
    assert.deepEqual(parseCIDR('10.1.2.3/16').net, { ip: [10, 1, 0, 0], mask: [255, 255, 0, 0] });
    assert.equal(parseCIDR('fd00::1/64').net.mask.length, 16);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', 'fd00::/129', 'bad/8']) {
      assert.throws(() => parseCIDR(bad), { message: `invalid CIDR address: ${bad}` });
    }
  });
  it('pairs ranges, gateways and aux addresses with their subnets', () => {
    assert.deepEqual(consolidateIpam(['10.0.0.0/24', 'fd00::/64'], ['10.0.0.128/25'], ['fd00::1'], new Map([['b', '10.0.0.6'], ['a', '10.0.0.5']])), [
      { Subnet: '10.0.0.0/24', IPRange: '10.0.0.128/25', AuxiliaryAddresses: { a: '10.0.0.5', b: '10.0.0.6' } },
      { Subnet: 'fd00::/64', Gateway: 'fd00::1' },
    ]);
    assert.deepEqual(consolidateIpam(['bad'], [], [], new Map()), [{ Subnet: 'bad' }]); // the daemon's to refuse
    assert.deepEqual(consolidateIpam(['::ffff:10.0.0.0/120'], [], ['10.0.0.1'], new Map()), [{ Subnet: '::ffff:10.0.0.0/120', Gateway: '10.0.0.1' }]);
    const err = (s: string[], r: string[] = [], g: string[] = [], a: [string, string][] = []) => {
      try {
        consolidateIpam(s, r, g, new Map(a));
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    assert.equal(err([], [], ['10.0.0.1']), 'every ip-range or gateway must have a corresponding subnet');
    assert.equal(err(['10.0.0.0/24'], ['10.0.0.0/25', '10.0.0.128/25'], []), 'every ip-range or gateway must have a corresponding subnet');
    assert.equal(err(['10.0.0.0/24', '10.1.0.0/24'], ['10.0.0.0/25', '10.0.0.128/25'], []), 'cannot configure multiple ranges (10.0.0.128/25, 10.0.0.0/25) on the same subnet (10.0.0.0/24)');
    assert.equal(err(['10.0.0.0/24', '10.1.0.0/24'], [], ['10.0.0.1', '10.0.0.2']), 'cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)');
    assert.equal(err(['10.0.0.0/24'], [], ['10.1.0.1']), 'no matching subnet for gateway 10.1.0.1');
    assert.equal(err(['10.0.0.0/24'], [], ['bogus']), 'no matching subnet for gateway bogus');
    assert.equal(err(['10.0.0.0/24'], ['10.1.0.0/25'], []), 'no matching subnet for range 10.1.0.0/25');
    assert.equal(err(['10.0.0.0/24'], ['bad'], []), 'invalid CIDR address: bad');
    assert.equal(err(['bad'], ['bad2'], []), 'invalid CIDR address: bad2');
    assert.equal(err(['10.0.0.0/24'], [], [], [['a', '10.2.0.1']]), 'no matching subnet for aux-address 10.2.0.1');
    assert.equal(err(['bad'], [], ['10.0.0.1']), 'invalid subnet: invalid CIDR address: bad');
    assert.equal(err(['10.0.0.0/24', '10.0.0.0/16']), 'multiple overlapping subnet configuration is not supported');
    assert.equal(err(['10.0.0.0/24', 'bad/x']), 'invalid subnet: invalid CIDR address: bad/x');
    assert.equal(err(['bad/x', '10.0.0.0/24']), 'invalid CIDR address: bad/x');
    // docker runs both overlap checks before judging either.
    assert.equal(err(['10.0.0.1', '10.0.0.0/24']), 'invalid subnet: invalid CIDR address: 10.0.0.1');
  });
  it('prints times as Go does', () => {
    assert.equal(goTimeString('2024-01-01T12:00:00.123456789Z'), '2024-01-01 12:00:00.123456789 +0000 UTC');
    assert.equal(goTimeString('2024-01-01T12:00:00.500Z'), '2024-01-01 12:00:00.5 +0000 UTC');
    assert.equal(goTimeString(undefined), '0001-01-01 00:00:00 +0000 UTC');
    if (!oddOffsetIsLocal) assert.equal(goTimeString(`2024-01-01T13:00:00${ODD_OFFSET}`), '2024-01-01 13:00:00 +0545 +0545');
  });
  it('renders ls rows like docker', () => {
    const rows = networkRows(networks(), true);
    assert.equal(formatRows(networkFormat('table', false), rows, networkHeaders), [
      'NETWORK ID     NAME      DRIVER    SCOPE',
      'aaaaaaaaaaaa   zeta      bridge    local',
      'f2de39df4171   bridge    bridge    local',
      'bbbbbbbbbbbb   net10     bridge    local',
      'cccccccccccc   net9      overlay   swarm',
      '',
    ].join('\n'));
    assert.equal(formatRows(networkFormat('table', true), rows, networkHeaders), 'aaaaaaaaaaaa\nf2de39df4171\nbbbbbbbbbbbb\ncccccccccccc\n');
    assert.deepEqual(Object.keys(rows[0]!).filter((k) => k !== 'Label'), ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']);
    assert.equal(formatRows('{{.Name}} {{.Label "a"}} {{.Internal}}', rows.slice(0, 1), networkHeaders, { typeName: '*network.networkContext' }), 'zeta 1 true\n');
  });
});

describe('network commands against a fake engine', () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await new FakeEngine(handler).start();
  });
  after(async () => {
    await engine.stop();
  });

  async function run(args: string[], o: { stdin?: string } = {}) {
    const n = engine.requests.length;
    const r = await pier(engine.host, args, o);
    return { ...r, reqs: engine.since(n) };
  }

  it('create sends docker\'s body and prints the ID', async () => {
    const r = await run(['network', 'create', '--subnet', '10.0.0.0/24', '--gateway', '10.0.0.1', '--ip-range', '10.0.0.128/25', '--aux-address', 'a=10.0.0.5',
      '--label', 'x=y', '--label', 'z', '-o', 'mtu=1400', '--internal', '--ipv6', '--attachable', '--ipam-driver', 'foo', '--ipam-opt', 'k=v',
      '--scope', 'local', '--config-from', 'base', '-d', 'macvlan', 'n2']);
    assert.deepEqual([r.code, r.out, r.err], [0, `${NID}\n`, '']);
    assert.deepEqual(shape(r.reqs), ['POST /networks/create']);
    assert.equal(r.reqs[0]!.body.toString(), JSON.stringify({
      Driver: 'macvlan', Scope: 'local', EnableIPv6: true,
      IPAM: { Driver: 'foo', Options: { k: 'v' }, Config: [{ Subnet: '10.0.0.0/24', IPRange: '10.0.0.128/25', Gateway: '10.0.0.1', AuxiliaryAddresses: { a: '10.0.0.5' } }] },
      Internal: true, Attachable: true, Ingress: false, ConfigOnly: false, ConfigFrom: { Network: 'base' }, Options: { mtu: '1400' }, Labels: { x: 'y', z: '' }, Name: 'n2',
    }));
    const plain = await run(['network', 'create', 'n1']);
    assert.equal(plain.reqs[0]!.body.toString(), '{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{},"Name":"n1"}');
    const families = await run(['network', 'create', '--ipv4=false', '--ipv6=false', 'n3']);
    assert.deepEqual(Object.keys(bodyOf(families.reqs[0]!)).slice(0, 4), ['Driver', 'Scope', 'EnableIPv4', 'EnableIPv6']);
    assert.equal(bodyOf(families.reqs[0]!).EnableIPv4, false);
  });
  it('create refuses bad IPAM input before any request', async () => {
    for (const [args, err] of [
      [['--gateway', '10.0.0.1'], 'every ip-range or gateway must have a corresponding subnet'],
      [['--subnet', 'bad', '--gateway', '10.0.0.1'], 'invalid subnet: invalid CIDR address: bad'],
      [['--subnet', '10.0.0.0/24', '--gateway', '10.1.0.1'], 'no matching subnet for gateway 10.1.0.1'],
      [['--subnet', '10.0.0.0/24', '--ip-range', 'bad/33'], 'invalid CIDR address: bad/33'],
      [['--subnet', '10.0.0.0/24,10.0.0.0/16'], 'multiple overlapping subnet configuration is not supported'],
    ] as [string[], string][]) {
      const r = await run(['network', 'create', ...args, 'n']);
      assert.deepEqual([r.code, r.out, r.err, r.reqs.length], [1, '', `${err}\n`, 0], args.join(' '));
    }
    const label = await run(['network', 'create', '--label', '=x', 'n']);
    assert.equal(label.code, 125);
    assert.match(label.err, /^invalid argument "=x" for "--label" flag: invalid label '=x': empty name\n/);
  });
  it('ls lists by name, with filters', async () => {
    const r = await run(['network', 'ls', '-f', 'name=x', '-f', 'driver=bridge']);
    assert.deepEqual(shape(r.reqs), ['GET /networks?filters={"driver":{"bridge":true},"name":{"x":true}}']);
    assert.deepEqual(r.out.split('\n').map((l) => l.split(/\s+/)[1]), ['ID', 'bridge', 'net9', 'net10', 'zeta', undefined]);
    const q = await run(['network', 'list', '-q', '--no-trunc']);
    assert.equal(q.out, `${NID}\n${'c'.repeat(64)}\n${'b'.repeat(64)}\n${'a'.repeat(64)}\n`);
    assert.deepEqual(shape(q.reqs), ['GET /networks']);
  });
  it('inspect prints the documents and the errors', async () => {
    const r = await run(['network', 'inspect', '-v', 'n1', 'missing']);
    assert.deepEqual(shape(r.reqs), ['GET /networks/n1?verbose=true', 'GET /networks/missing?verbose=true']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'Error response from daemon: network missing not found\n');
    assert.equal(JSON.parse(r.out)[0].Name, 'n1');
    assert.match(r.out, /^\[\n {4}\{\n {8}"Name": "n1",\n/);
    const t = await run(['network', 'inspect', '-f', '{{.Name}} {{.Created}} {{json .Created}}', 'n1']);
    assert.equal(t.out, 'n1 2024-01-01 12:00:00.5 +0000 UTC "2024-01-01T12:00:00.5Z"\n');
    assert.deepEqual(shape(t.reqs), ['GET /networks/n1']);
  });
  it('rm looks, removes, and reports each failure', async () => {
    const r = await run(['network', 'rm', 'n1', 'missing', 'busy', 'n2']);
    assert.deepEqual([r.code, r.out], [1, 'n1\nn2\n']);
    assert.equal(r.err, 'Error response from daemon: network missing not found\nError response from daemon: error while removing network: network busy has active endpoints\nexit status 1\n');
    assert.deepEqual(shape(r.reqs), ['n1', 'missing', 'busy', 'n2'].flatMap((n) => [`GET /networks/${n}`, `DELETE /networks/${n}`]));
    const f = await run(['network', 'remove', '-f', 'missing', 'n1']);
    assert.deepEqual([f.code, f.out, f.err], [0, 'n1\n', '']);
    const ingress = await run(['network', 'rm', 'ingress'], { stdin: 'n\n' });
    assert.match(ingress.out, /Are you sure you want to continue\? \[y\/N\] $/);
    assert.deepEqual(shape(ingress.reqs), ['GET /networks/ingress']);
    const empty = await run(['network', 'rm', ' ']);
    assert.deepEqual([empty.code, empty.err, empty.reqs.length], [1, 'invalid network name or ID: value is empty\nexit status 1\n', 0]);
  });
  it('connect and disconnect send docker\'s bodies', async () => {
    const r = await run(['network', 'connect', '--alias', 'a', '--alias', 'b,c', '--ip', '10.0.0.5', '--ip6', 'fd00::5', '--link', 'other:o',
      '--link-local-ip', '169.254.1.1', '--driver-opt', ' x = y ', '--gw-priority', '-3', ' net ', ' ctr ']);
    assert.deepEqual([r.code, r.out, r.err], [0, '', '']);
    assert.deepEqual(shape(r.reqs), ['POST /networks/net/connect']);
    assert.equal(r.reqs[0]!.body.toString(), JSON.stringify({
      Container: 'ctr',
      EndpointConfig: {
        IPAMConfig: { IPv4Address: '10.0.0.5', IPv6Address: 'fd00::5', LinkLocalIPs: ['169.254.1.1'] }, Links: ['other:o'], Aliases: ['a', 'b', 'c'],
        MacAddress: '', DriverOpts: { x: 'y' }, GwPriority: -3, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
        IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
      },
    }));
    const bad = await run(['network', 'connect', '--driver-opt', 'novalue', 'net', 'ctr']);
    assert.deepEqual([bad.code, bad.err, bad.reqs.length], [1, 'invalid key/value pair format in driver options\n', 0]);
    const d = await run(['network', 'disconnect', '-f', 'net', 'ctr']);
    assert.deepEqual(shape(d.reqs), ['POST /networks/net/disconnect']);
    assert.deepEqual(bodyOf(d.reqs[0]!), { Container: 'ctr', Force: true });
    const missing = await run(['network', 'disconnect', 'missing', 'ctr']);
    assert.deepEqual([missing.code, missing.err], [1, 'Error response from daemon: network missing not found\n']);
  });
  it('prune asks first, then lists what went', async () => {
    const no = await run(['network', 'prune'], { stdin: 'n\n' });
    assert.deepEqual([no.code, no.out, no.reqs.length], [0, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ', 0]);
    const yes = await run(['network', 'prune', '-f']);
    assert.equal(yes.out, 'Deleted Networks:\nn1\nn2\n\n');
    assert.deepEqual(shape(yes.reqs), ['POST /networks/prune']);
    const filtered = await run(['network', 'prune', '-f', '--filter', 'until=24h', '--filter', 'label=a']);
    assert.deepEqual(shape(filtered.reqs), ['POST /networks/prune?filters={"label":{"a":true},"until":{"24h":true}}']);
    assert.equal(filtered.out, '');
  });
  it('port prints the published ports', async () => {
    const r = await run(['port', 'web']);
    assert.equal(r.out, '9/tcp -> 0.0.0.0:10009\n53/udp -> [::1]:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n8080/tcp -> 127.0.0.1:18080\n');
    assert.deepEqual(shape(r.reqs), ['GET /containers/web/json']);
    assert.equal((await run(['container', 'port', 'web', '80'])).out, '0.0.0.0:8080\n[::]:8080\n');
    const none = await run(['port', 'web', '81/tcp']);
    assert.deepEqual([none.code, none.err], [1, "Error: No public port '81/tcp' published for web\n"]);
    assert.equal((await run(['port', 'web', '443'])).err, "Error: No public port '443' published for web\n");
  });
  it('prints the group help', async () => {
    const r = await run(['network']);
    assert.equal(r.code, 0);
    assert.match(r.err, /^Usage: {2}pier network COMMAND\n\nManage networks\n\nCommands:\n {2}connect {5}Connect a container to a network\n/);
  });
});

describe('network commands against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await new FakeEngine(handler).start();
  });
  after(async () => {
    await engine.stop();
  });

  // docker builds IPAM.Config from a Go map: its order varies, so compare it sorted.
  const normalize = (b: unknown) => {
    (b as { IPAM?: { Config?: { Subnet: string }[] } } | undefined)?.IPAM?.Config?.sort((x, y) => (x.Subnet < y.Subnet ? -1 : 1));
    return b;
  };

  const compare = (args: string[], o: { stdin?: string } = {}) => compareWithDocker(engine, args, { ...o, normalize });

  for (const args of [
    ['network', 'create', 'n1'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--gateway', '10.0.0.1', '--ip-range', '10.0.0.128/25', '--aux-address', 'a=10.0.0.5', '--aux-address', 'b=10.0.0.6',
      '--label', 'x=y', '--label', 'z', '-o', 'com.docker.network.bridge.name=br0', '-o', 'novalue', '--internal', '--ipv6', '--attachable', '--ipam-driver', 'foo',
      '--ipam-opt', 'k=v', '--scope', 'local', '--config-from', 'base', '-d', 'macvlan', 'n2'],
    ['network', 'create', '--subnet', '10.0.0.0/24,fd00::/64', '--gateway', 'fd00::1', '--ip-range', '10.0.0.0/26', '--ipv4=false', '--config-only', '--ingress', 'n3'],
    ['network', 'create', '--subnet', '::ffff:10.0.0.0/120', '--gateway', '10.0.0.1', 'n4'],
    ['network', 'create', '--subnet', 'bad', 'n5'],
    ['network', 'create', '--gateway', '10.0.0.1', 'n'],
    ['network', 'create', '--subnet', 'bad', '--gateway', '10.0.0.1', 'n'],
    ['network', 'create', '--subnet', '010.0.0.0/24', '--gateway', '10.0.0.1', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--gateway', '10.1.0.1', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--gateway', 'bogus', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--ip-range', '10.1.0.0/25', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--ip-range', 'bad', 'n'],
    ['network', 'create', '--subnet', 'bad', '--ip-range', 'bad2', 'n'],
    ['network', 'create', '--subnet', 'bad', '--ip-range', '10.0.0.0/25', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--gateway', 'bad/24', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--gateway', '10.0.0.1/24', '--aux-address', 'a=10.0.0.3/24', '--ip-range', '10.0.0.0/16', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--subnet', '10.0.0.0/16', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--subnet', 'bad/x', 'n'],
    ['network', 'create', '--subnet', 'bad/x', '--subnet', '10.0.0.0/24', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--aux-address', 'a=10.2.0.1', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--aux-address', 'a', 'n'],
    ['network', 'create', '--subnet', '10.0.0.0/24', '--subnet', '10.1.0.0/24', '--gateway', '10.0.0.1', '--gateway', '10.0.0.2', 'n'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args);
    });
  }

  for (const args of [
    ['network', 'ls'], ['network', 'ls', '-q'], ['network', 'ls', '--no-trunc'], ['network', 'list', '-f', 'driver=bridge', '-f', 'name=x'],
    ['network', 'ls', '--format', 'table {{.Name}}\t{{.IPv4}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}\t{{.ID}}'],
    ['network', 'ls', '--format', '{{.Name}} {{.Label "a"}} {{.CreatedAt}}'], ['network', 'ls', '--format', 'raw'], ['network', 'ls', '-q', '--format', 'raw'],
    ['network', 'ls', '-q', '--format', '{{.Name}}'], ['network', 'ls', '-f', 'name=none'], ['network', 'ls', '--format', 'json'], ['network', 'ls', '--format', '{{.Bogus}}'], ['network', 'ls', '--format', '{{'],
    ['network', 'inspect', 'n1'], ['network', 'inspect', '-v', 'n1', 'missing', 'n2'], ['network', 'inspect', '-f', '{{.Name}} {{.Created}} {{json .Labels}}', 'n1'],
    ['network', 'inspect', '-f', '{{.Bogus.X}}', 'n1'], ['network', 'inspect', '-f', '{{.Bogus}}', 'n1'], ['network', 'inspect', '-f', '{{.Labels.zz}}|{{.Labels.a}}', 'n1'], ['network', 'inspect', '-f', '{{', 'n1'], ['network', 'inspect', 'missing'], ['network', 'inspect', ' '],
    ['network', 'inspect', '-f', 'json', 'n1'], ['network', 'inspect', '-f', 'json', 'n1', 'missing', 'n2'], ['network', 'inspect', '-f', 'json', 'missing'], ['network', 'inspect', '-f', 'json', 'spaced'], ['network', 'inspect', 'spaced', 'n1'], ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', ' n1 '],
    ['network', 'rm', 'n1', 'missing', 'busy', 'n2'], ['network', 'rm', '-f', 'n1', 'missing', 'busy'], ['network', 'remove', 'n1'], ['network', 'rm', ' '], ['network', 'rm', ' n1 '],
    ['network', 'connect', 'net', 'ctr'],
    ['network', 'connect', '--alias', 'a', '--alias', 'b,c', '--ip', '10.0.0.5', '--ip6', 'fd00::5', '--link', 'other:o', '--link', 'x', '--link-local-ip', '169.254.1.1',
      '--driver-opt', 'k=v', '--driver-opt', ' x = y ', '--gw-priority', '-3', 'net', 'ctr'],
    ['network', 'connect', '--ip', 'bogus', ' net ', ' ctr '], ['network', 'connect', '--driver-opt', 'bad', 'net', 'ctr'], ['network', 'connect', '--driver-opt', '=x', 'net', 'ctr'],
    ['network', 'connect', ' ', 'ctr'], ['network', 'connect', 'net', ' '], ['network', 'connect', 'missing', 'ctr'],
    ['network', 'disconnect', 'net', 'ctr'], ['network', 'disconnect', '-f', 'net', 'ctr'], ['network', 'disconnect', 'missing', 'ctr'], ['network', 'disconnect', ' ', ' '],
    ['network', 'prune', '-f'], ['network', 'prune', '-f', '--filter', 'until=24h', '--filter', 'label=a'],
    ['port', 'web'], ['port', 'web', '80'], ['port', 'web', '80/tcp'], ['port', 'web', '53/udp'], ['port', 'web', '443'], ['port', 'web', '81/tcp'], ['port', 'web', 'x'],
    ['port', 'web', '70000'], ['container', 'port', 'web'], ['port', 'nosuch'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args);
    });
  }

  it('prompts like docker', async () => {
    await compare(['network', 'prune'], { stdin: 'n\n' });
    await compare(['network', 'prune'], { stdin: 'y\n' });
    await compare(['network', 'rm', 'ingress', 'n1'], { stdin: 'n\n' });
    await compare(['network', 'rm', 'ingress', 'n1'], { stdin: 'y\n' });
  });

  it('takes networksFormat from the config file, but not for -q', async () => {
    const cfg = mkdtempSync(join(tmpdir(), 'pier-networks-'));
    try {
      writeFileSync(join(cfg, 'config.json'), JSON.stringify({ networksFormat: 'table {{.Name}}\t{{.Driver}}' }));
      for (const args of [['network', 'ls'], ['network', 'ls', '-q'], ['network', 'ls', '--format', '{{.ID}}']]) {
        const d = await docker(engine.host, args, { env: { DOCKER_CONFIG: cfg } });
        const p = await pier(engine.host, args, { env: { DOCKER_CONFIG: cfg } });
        assert.equal(p.out, d.out, args.join(' '));
      }
    } finally {
      rmSync(cfg, { recursive: true, force: true });
    }
  });

  it('prints help like docker', async () => {
    for (const args of [['network'], ['network', '--help'], ...['create', 'connect', 'ls', 'inspect', 'rm', 'disconnect', 'prune'].map((c) => ['network', c, '--help'])]) {
      const d = await docker(engine.host, args);
      const p = await pier(engine.host, args);
      assert.equal(dockerize(p.out), d.out, args.join(' '));
      assert.equal(dockerize(p.err), d.err, args.join(' '));
      assert.equal(p.code, d.code, args.join(' '));
    }
  });
});
