/**
 * NetworkService as the load balancer's BalancerNetworks: VIP addresses held
 * away from containers, the namespaces it reports, and service names in the
 * embedded DNS scope. Fakes for the driver, the DNS server and the host; no root.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb } from '../base/db.js';
import { EngineError } from '../base/errdefs.js';
import type { Host, RunResult } from '../base/host.js';
import { nullLogger } from '../base/log.js';
import { Firewall } from '../network/bridge/firewall.js';
import type { DnsScope } from '../network/dns/server.js';
import type { NetworkDriver } from '../network/driver.js';
import { NetworkStore } from '../network/store.js';
import type { NetnsMember } from '../service/lb/balancer.js';
import { ContainerStore } from './containers/store.js';
import type { ContainerRecord } from './containers/record.js';
import { EventBus } from './events.js';
import { parseFilters } from './filters.js';
import { NetworkService, type Dns } from './networks.js';

class QuietHost implements Host {
  readonly inputs: string[] = [];
  async run(_cmd: string, _args: readonly string[], o: { input?: string } = {}): Promise<RunResult> {
    if (o.input) this.inputs.push(o.input);
    return { code: 0, stdout: '', stderr: '' };
  }
  async mount(): Promise<void> {}
  async unmount(): Promise<void> {}
}

const driver: NetworkDriver = {
  async create() {},
  async destroy() {},
  async join() {
    return { mac: '' };
  },
  async leave() {},
};

describe('NetworkService for the load balancer', () => {
  let dir: string;
  let svc: NetworkService;
  let containers: ContainerStore;
  let host: QuietHost;
  const scopes = new Map<string, DnsScope>();
  const told: NetnsMember[] = [];
  let front = '';
  let back = '';

  const record = (id: string, name: string, networks: ContainerRecord['networks'], netns?: string): ContainerRecord =>
    ({
      id, name, created: new Date().toISOString(), config: {}, hostConfig: { NetworkMode: 'front' }, state: { Running: !!netns },
      networks, ...(netns ? { netns } : {}),
    }) as unknown as ContainerRecord;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-networks-lb-'));
    const db = openDb(join(dir, 'pier.db'), []);
    containers = new ContainerStore(db);
    host = new QuietHost();
    let self: NetworkService | undefined;
    const firewall = new Firewall(host, 'ptlbunit', () => self!.firewallState());
    const dns: Dns = {
      async attach(id, _netns, scope) {
        scopes.set(id, scope);
      },
      detach() {},
      close() {},
    };
    self = svc = new NetworkService(new NetworkStore(db), containers, driver, firewall, dns, new EventBus(), nullLogger, {
      execRoot: join(dir, 'exec'), defaultBridge: 'ptlbunit', pools: [{ base: '10.251.0.0/16', size: 24 }], dns: [],
    });
    await svc.init();
    front = (await svc.create({ Name: 'front', IPAM: { Config: [{ Subnet: '10.250.7.0/24', IPRange: '10.250.7.248/29' }] } })).Id;
    back = (await svc.create({ Name: 'back', IPAM: { Config: [{ Subnet: '10.250.8.0/24' }] } })).Id;
    svc.watchMembers(async (m) => {
      told.push(m);
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reserves VIPs from the top of the range, the same again for the same owner, a preferred one when free', () => {
    assert.equal(svc.reserveAddress(front, 's1'), '10.250.7.254');
    assert.equal(svc.reserveAddress(front, 's1'), '10.250.7.254');
    assert.equal(svc.reserveAddress('front', 's2', '10.250.7.249/24'), '10.250.7.249');
    assert.equal(svc.reserveAddress(front, 's3', '10.250.7.254'), '10.250.7.253', 'a preferred address another holds: the next free from the top');
    assert.deepEqual(svc.networkInfo('front'), { id: front, name: 'front', internal: false, prefix: 24 });
    assert.equal(svc.networkInfo('nope'), undefined);
  });

  it('gives no container a reserved address, and says so for a static one', async () => {
    // Range .248/29: .249 (s2), .253 (s3), .254 (s1) are held; containers get .248, then .250.
    const b = record('b'.repeat(64), 'b', {}, join(dir, 'ns-b'));
    containers.add(b);
    await svc.connect('front', { Container: 'b' });
    const ips = [b.networks!['front']!.endpoint!.ipv4];
    const c = record('c'.repeat(64), 'c', {}, join(dir, 'ns-c'));
    containers.add(c);
    await svc.connect('front', { Container: 'c' });
    ips.push(c.networks!['front']!.endpoint!.ipv4);
    assert.deepEqual(ips, ['10.250.7.248', '10.250.7.250']);
    const d = record('d'.repeat(64), 'd', {}, join(dir, 'ns-d'));
    containers.add(d);
    await assert.rejects(svc.connect('front', { Container: 'd', EndpointConfig: { IPAMConfig: { IPv4Address: '10.250.7.254' } } }), (e: unknown) =>
      e instanceof EngineError && e.kind === 'conflict' && /10\.250\.7\.254 is taken on network front \(a service's virtual IP\)/.test(e.message));
    // The balancer heard of each namespace that joined.
    assert.ok(told.some((m) => m.netns === join(dir, 'ns-c') && m.networks.includes(front) && !m.fresh));
    assert.ok(svc.members().some((m) => m.containerId === c.id && m.networks.includes(front)));
  });

  it('refuses to remove a network a service holds an address on, until it is released', async () => {
    const n = (await svc.create({ Name: 'lonely', IPAM: { Config: [{ Subnet: '10.250.9.0/24' }] } })).Id;
    svc.reserveAddress(n, 'svc-x');
    await assert.rejects(svc.remove('lonely'), (e: unknown) => e instanceof EngineError && e.kind === 'conflict' && /in use by service svc-x/.test(e.message));
    svc.releaseAddress(n, 'svc-x');
    await svc.remove('lonely');
  });

  it('prunes by the until filter: a duration before now or a timestamp, and says what a bad one is', async () => {
    await svc.create({ Name: 'aged', Labels: { aged: '1' }, IPAM: { Config: [{ Subnet: '10.250.10.0/24' }] } });
    const only = (until: string) => parseFilters(JSON.stringify({ label: ['aged'], until: [until] }));
    assert.deepEqual(await svc.prune(only('1h30m')), { NetworksDeleted: [] }, 'made just now: not older than 90 minutes');
    await assert.rejects(svc.prune(only('soon')), (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && e.message === "invalid filter 'until=soon': use a timestamp or a duration such as 24h");
    assert.deepEqual(await svc.prune(only(new Date(Date.now() + 60_000).toISOString())), { NetworksDeleted: ['aged'] });
  });

  it('answers service names on the asker\'s user networks only: VIP, all tasks, and a known name with none', async () => {
    const netns = join(dir, 'ns-e');
    await writeFile(netns, '');
    const e = record('e'.repeat(64), 'e', { front: { networkId: front, config: {}, endpoint: { networkId: front, endpointId: 'x', ifname: 'eth0', mac: '', ipv4: '10.250.7.251', prefixLen: 24, gateway: '10.250.7.1', ipv6: '', prefixLen6: 0, gateway6: '' } } }, netns);
    containers.add(e);
    await svc.restore(e);
    const scope = scopes.get(e.id)!;
    svc.setServiceNames(new Map([
      [front, new Map([['web', ['10.250.7.254']], ['tasks.web', ['10.250.7.250', '10.250.7.248']], ['idle', []]])],
      [back, new Map([['db', ['10.250.8.254']]])],
    ]));
    assert.deepEqual(scope.lookup('web'), { ipv4: ['10.250.7.254'], ipv6: [] });
    assert.deepEqual(scope.lookup('tasks.web'), { ipv4: ['10.250.7.250', '10.250.7.248'], ipv6: [] });
    assert.deepEqual(scope.lookup('idle'), { ipv4: [], ipv6: [] }, 'known, no address: an empty answer, not a forward');
    assert.equal(scope.lookup('db'), undefined, 'a service of a network the container is not on');
    assert.equal(scope.lookup('nothing'), undefined);
  });

  it('puts the services\' ports into the host firewall\'s rules', async () => {
    await svc.publishServicePorts([{ proto: 'tcp', hostPort: 8080, targetPort: 80, backends: ['10.250.7.248'] }]);
    assert.match(host.inputs.at(-1)!, /-A PTLBUNIT-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10\.250\.7\.248:80\n/);
    const port = await svc.bindHostPort('tcp', [0, 0], 'service web');
    assert.ok(port > 0);
    await assert.rejects(svc.ports.reserve({ proto: 'tcp', containerPort: 80, hostIp: '', hostPorts: [port, port] }, '', 'ctr'), /port is already allocated/);
    svc.releaseHostPort('tcp', port);
    const m = await svc.ports.reserve({ proto: 'tcp', containerPort: 80, hostIp: '', hostPorts: [port, port] }, '', 'ctr');
    svc.ports.release(m);
  });
});
