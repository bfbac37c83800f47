/**
 * KernelBalancer against a fake BalancerNetworks and a recording Host: port
 * and VIP bookkeeping, what it writes into which namespace and when.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conflict, EngineError } from '../../base/errdefs.js';
import type { Host, RunResult } from '../../base/host.js';
import { nullLogger } from '../../base/log.js';
import type { FirewallServicePort } from '../../network/bridge/firewall.js';
import type { BalancedService, BalancerNetworks, NetnsMember, ServiceNames } from './balancer.js';
import { KernelBalancer } from './kernel.js';

class FakeNetworks implements BalancerNetworks {
  iptables = true;
  readonly bound = new Set<string>();
  /** Ports "another program" holds. */
  readonly busy = new Set<string>();
  readonly addrs = new Map<string, Map<string, string>>();
  next = 254;
  members_: NetnsMember[] = [];
  watch?: (m: NetnsMember) => Promise<void>;
  published: FirewallServicePort[][] = [];
  names: ServiceNames = new Map();

  networkInfo(ref: string) {
    return ['n1', 'n2', 'internal'].includes(ref) ? { id: ref, name: `net-${ref}`, internal: ref === 'internal', prefix: 24 } : undefined;
  }
  async bindHostPort(proto: 'tcp' | 'udp', [lo, hi]: [number, number]): Promise<number> {
    for (let p = lo; p <= hi; p++) {
      const k = `${proto}/${p}`;
      if (this.bound.has(k) || this.busy.has(k)) continue;
      this.bound.add(k);
      return p;
    }
    throw conflict(`Bind for 0.0.0.0:${lo} failed: port is already allocated`);
  }
  releaseHostPort(proto: 'tcp' | 'udp', port: number): void {
    this.bound.delete(`${proto}/${port}`);
  }
  reserveAddress(networkId: string, owner: string, preferred?: string): string {
    const m = this.addrs.get(networkId) ?? new Map<string, string>();
    this.addrs.set(networkId, m);
    const had = m.get(owner);
    if (had) return had;
    const taken = new Set(m.values());
    const a = preferred && !taken.has(preferred.split('/')[0]!) ? preferred.split('/')[0]! : `10.0.0.${this.next--}`;
    m.set(owner, a);
    return a;
  }
  releaseAddress(networkId: string, owner: string): void {
    this.addrs.get(networkId)?.delete(owner);
  }
  members(): NetnsMember[] {
    return this.members_;
  }
  watchMembers(fn: (m: NetnsMember) => Promise<void>): void {
    this.watch = fn;
  }
  async publishServicePorts(ports: FirewallServicePort[]): Promise<void> {
    this.published.push(ports);
  }
  setServiceNames(names: ServiceNames): void {
    this.names = names;
  }
}

class RecordingHost implements Host {
  readonly calls: { args: readonly string[]; input?: string }[] = [];
  saved = '';
  async run(cmd: string, args: readonly string[], o: { input?: string } = {}): Promise<RunResult> {
    this.calls.push({ args: [cmd, ...args], ...(o.input !== undefined ? { input: o.input } : {}) });
    await new Promise((r) => setTimeout(r, 1));
    return { code: 0, stdout: args.includes('iptables-save') ? this.saved : '', stderr: '' };
  }
  async mount(): Promise<void> {}
  async unmount(): Promise<void> {}
  restores(netns: string) {
    return this.calls.filter((c) => c.args[1] === `--net=${netns}` && c.args[2] === 'iptables-restore');
  }
}

const setup = () => {
  const net = new FakeNetworks();
  const host = new RecordingHost();
  const lb = new KernelBalancer(host, net, nullLogger);
  return { net, host, lb };
};
const web = (o: Partial<BalancedService> = {}): BalancedService => ({
  id: 's1', name: 'web', mode: 'vip', ports: [], vips: {}, networks: ['n1'],
  backends: [{ taskId: 't1', containerId: 'c1', ips: { n1: '10.0.0.2' } }, { taskId: 't2', containerId: 'c2', ips: { n1: '10.0.0.3' } }],
  ...o,
});
const kind = (k: string, re: RegExp) => (e: unknown) => e instanceof EngineError && e.kind === k && re.test(e.message);

describe('KernelBalancer ports', () => {
  it('holds chosen ports, picks 30000-32767 for the rest, and keeps them across updates', async () => {
    const { net, lb } = setup();
    const got = await lb.reservePorts('s1', [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 443 }, { TargetPort: 53, Protocol: 'udp' }, { TargetPort: 22, PublishMode: 'host' }]);
    assert.deepEqual(got, [
      { TargetPort: 80, PublishedPort: 8080, Protocol: 'tcp', PublishMode: 'ingress' },
      { TargetPort: 443, PublishedPort: 30000, Protocol: 'tcp', PublishMode: 'ingress' },
      { TargetPort: 53, PublishedPort: 30000, Protocol: 'udp', PublishMode: 'ingress' },
      { TargetPort: 22, PublishMode: 'host' },
    ]);
    assert.deepEqual([...net.bound].sort(), ['tcp/30000', 'tcp/8080', 'udp/30000']);
    // An update that keeps the automatic port's target keeps its port, drops what it no longer names.
    const again = await lb.reservePorts('s1', [{ TargetPort: 443 }]);
    assert.equal(again[0]!.PublishedPort, 30000);
    assert.deepEqual([...net.bound], ['tcp/30000']);
    await lb.releasePorts('s1');
    assert.equal(net.bound.size, 0);
  });

  it('refuses a port another service holds with swarm\'s message, and one another program holds', async () => {
    const { net, lb } = setup();
    await lb.apply([web()]);
    await lb.reservePorts('s1', [{ TargetPort: 80, PublishedPort: 8080 }]);
    await assert.rejects(lb.reservePorts('s2', [{ TargetPort: 80, PublishedPort: 8080 }]), kind('conflict', /^port '8080' is already in use by service 'web' \(s1\) as an ingress port$/));
    net.busy.add('tcp/9090');
    await assert.rejects(lb.reservePorts('s2', [{ TargetPort: 80, PublishedPort: 7070 }, { TargetPort: 81, PublishedPort: 9090 }]), kind('conflict', /port '9090' is already in use on this host/));
    assert.ok(!net.bound.has('tcp/7070'), 'a failed reservation keeps nothing');
    await assert.rejects(lb.reservePorts('s2', [{ TargetPort: 80, PublishedPort: 7070 }, { TargetPort: 81, PublishedPort: 7070 }]), kind('invalid', /duplicate published ports/));
    await assert.rejects(lb.reservePorts('s2', [{ TargetPort: 0 }]), kind('invalid', /invalid target port 0/));
    await assert.rejects(lb.reservePorts('s2', [{ TargetPort: 80, Protocol: 'sctp' }]), kind('invalid', /sctp/));
  });

  it('takes back the automatic port of the service\'s Endpoint.Ports after a restart', async () => {
    const { net, lb } = setup();
    net.bound.add('tcp/30000');
    const got = await lb.reservePorts('s1', [{ TargetPort: 80 }], [{ TargetPort: 80, PublishedPort: 30007, Protocol: 'tcp', PublishMode: 'ingress' }]);
    assert.equal(got[0]!.PublishedPort, 30007);
    // Or re-taken as named ports (Endpoint.Ports as they are): a later update that leaves the port to swarm keeps it.
    const other = setup();
    await other.lb.reservePorts('s1', [{ TargetPort: 80, PublishedPort: 30005 }]);
    assert.equal((await other.lb.reservePorts('s1', [{ TargetPort: 80 }]))[0]!.PublishedPort, 30005);
  });

  it('forwards only ports it holds, and refuses connections with no backend', async () => {
    const { net, lb } = setup();
    const ports = await lb.reservePorts('s1', [{ TargetPort: 80, PublishedPort: 8080 }]);
    await lb.apply([web({ ports: [...ports, { TargetPort: 81, PublishedPort: 8181 }] })]);
    assert.deepEqual(net.published.at(-1), [{ proto: 'tcp', hostPort: 8080, targetPort: 80, backends: ['10.0.0.2', '10.0.0.3'] }]);
    await lb.apply([web({ ports, backends: [] })]);
    assert.deepEqual(net.published.at(-1), [{ proto: 'tcp', hostPort: 8080, targetPort: 80, backends: [] }]);
    await lb.releasePorts('s1');
    assert.deepEqual(net.published.at(-1), []);
  });
});

describe('KernelBalancer VIPs', () => {
  it('keeps a VIP per network for the service\'s life, gives back dropped networks, and reuses `previous`', async () => {
    const { net, lb } = setup();
    const v = await lb.allocateVips('s1', ['n1', 'n2']);
    assert.deepEqual(v, { n1: '10.0.0.254/24', n2: '10.0.0.253/24' });
    assert.deepEqual(await lb.allocateVips('s1', ['n1', 'n2']), v);
    assert.deepEqual(await lb.allocateVips('s1', ['n1']), { n1: '10.0.0.254/24' });
    assert.equal(net.addrs.get('n2')?.get('s1'), undefined);
    await assert.rejects(lb.allocateVips('s1', ['nope']), kind('not-found', /network nope not found/));
    await lb.releaseVips('s1');
    assert.equal(net.addrs.get('n1')?.get('s1'), undefined);
    // A restarted daemon: a new balancer, told the addresses the ClusterStore kept.
    const again = setup();
    assert.deepEqual(await again.lb.allocateVips('s1', ['n1', 'n2'], { n1: '10.0.0.254/24', n2: '10.0.0.253' }), v);
  });

  it('writes a namespace\'s rules when its container joins, before it starts, and only what changed later', async () => {
    const { net, host, lb } = setup();
    const vips = await lb.allocateVips('s1', ['n1']);
    await lb.apply([web({ vips })]);
    assert.equal(host.calls.length, 0, 'no namespace yet: nothing written');
    await net.watch!({ containerId: 'a', netns: '/run/ns/a', networks: ['n1'], fresh: true });
    const first = host.restores('/run/ns/a');
    assert.equal(first.length, 1);
    assert.match(first[0]!.input!, /-A OUTPUT -j PIER-SVC\n-A PIER-SVC -d 10\.0\.0\.254\/32 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10\.0\.0\.2\n-A PIER-SVC -d 10\.0\.0\.254\/32 -j DNAT --to-destination 10\.0\.0\.3\n/);
    assert.equal(host.calls.filter((c) => c.args.includes('iptables-save')).length, 0, 'a fresh namespace needs no look');
    await lb.apply([web({ vips })]);
    assert.equal(host.restores('/run/ns/a').length, 1, 'unchanged: not written again');
    await lb.apply([web({ vips, backends: [web().backends[1]!] })]);
    const second = host.restores('/run/ns/a');
    assert.equal(second.length, 2);
    assert.ok(!second[1]!.input!.includes('-A OUTPUT'), 'the jumps are there already');
    assert.match(second[1]!.input!, /-A PIER-SVC -d 10\.0\.0\.254\/32 -j DNAT --to-destination 10\.0\.0\.3\n/);
    assert.deepEqual(net.names.get('n1')?.get('web'), ['10.0.0.254']);
    assert.deepEqual(net.names.get('n1')?.get('tasks.web'), ['10.0.0.3']);
  });

  it('a container on no network with a VIP costs nothing; one from before a restart is looked at once', async () => {
    const { net, host, lb } = setup();
    await net.watch!({ containerId: 'b', netns: '/run/ns/b', networks: ['n2'], fresh: true });
    assert.equal(host.calls.length, 0);
    net.members_ = [{ containerId: 'old', netns: '/run/ns/old', networks: ['n1'] }];
    host.saved = '*nat\n:OUTPUT ACCEPT [0:0]\n:PIER-SVC - [0:0]\n-A OUTPUT -j PIER-SVC\nCOMMIT\n*filter\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
    const vips = await lb.allocateVips('s1', ['n1']);
    await lb.apply([web({ vips })]);
    assert.equal(host.calls.filter((c) => c.args.includes('iptables-save')).length, 1);
    const w = host.restores('/run/ns/old');
    assert.equal(w.length, 1);
    assert.ok(!/\*nat\n:PIER-SVC - \[0:0\]\n-A OUTPUT/.test(w[0]!.input!), 'nat jump present: not added twice');
    assert.match(w[0]!.input!, /\*filter\n:PIER-SVC - \[0:0\]\n-A OUTPUT -j PIER-SVC\n/);
    assert.equal(host.restores('/run/ns/b').length, 0);
  });

  it('coalesces applies made close together into one pass after the running one', async () => {
    const { net, host, lb } = setup();
    const vips = await lb.allocateVips('s1', ['n1']);
    await net.watch!({ containerId: 'a', netns: '/run/ns/a', networks: ['n1'], fresh: true });
    const before = host.calls.length;
    const all = [1, 2, 3, 4, 5].map((i) => lb.apply([web({ vips, backends: web().backends.slice(0, 1 + (i % 2)) })]));
    await Promise.all(all);
    // The first pass writes what it saw; the four after it collapse into one, of the last state.
    assert.ok(host.calls.length - before <= 2, `${host.calls.length - before} writes`);
    assert.match(host.restores('/run/ns/a').at(-1)!.input!, /-A PIER-SVC -d 10\.0\.0\.254\/32 -j DNAT --to-destination 10\.0\.0\.3\n/);
  });

  it('does not write rules with --iptables=false, but names still resolve', async () => {
    const { net, host, lb } = setup();
    net.iptables = false;
    const vips = await lb.allocateVips('s1', ['n1']);
    await net.watch!({ containerId: 'a', netns: '/run/ns/a', networks: ['n1'], fresh: true });
    await lb.apply([web({ vips })]);
    assert.equal(host.calls.length, 0);
    assert.deepEqual(net.names.get('n1')?.get('web'), ['10.0.0.254']);
  });
});
