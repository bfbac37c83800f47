/**
 * The kernel balancer on real namespaces, without a daemon: a bridge of the
 * test's own with three backend namespaces and a client namespace, and a
 * second bridge with a client of its own for the published (ingress) port.
 * KernelBalancer writes its rules through a small BalancerNetworks of the
 * test's (host ports from PortReservations, the host firewall through a
 * Firewall with this test's chain prefix). Asserted from what the backends
 * saw: connections to the VIP and to the published port reach all three
 * evenly, with the client's own address as the source; a backend taken out
 * of the set gets no new connection while one it has goes on (drain); with no
 * backend at all, connections are refused at once.
 *
 * Needs root, iptables and nsenter. Everything it makes is removed in `after`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { NodeHost } from '../../../src/base/host.js';
import { nullLogger } from '../../../src/base/log.js';
import { Firewall, type FirewallNetwork, type FirewallServicePort } from '../../../src/network/bridge/firewall.js';
import { PortReservations } from '../../../src/network/ports.js';
import type { BalancedService, BalancerNetworks, NetnsMember, ServiceNames } from '../../../src/service/lb/balancer.js';
import { KernelBalancer } from '../../../src/service/lb/kernel.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : spawnSync('iptables', ['--version']).status !== 0 ? 'needs iptables' : false;

const tag = randomBytes(2).toString('hex');
const BR = `ptlb${tag}`; // backends (and the VIP client)
const BRC = `ptlb${tag}c`; // the ingress client's own network
const NS = (n: string) => `ptlb${tag}-${n}`;
const NET_ID = `net-${tag}`;
const PORT = 8080;

function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}
const quiet = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

/** Two /24s of 10.200.0.0/13 that no route of the host touches. */
function freeSubnets(): [string, string] {
  const routes = sh('ip', '-4', 'route', 'show').split('\n').map((l) => l.split(' ')[0]!).filter((r) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(r));
  const num = (ip: string) => ip.split('.').reduce((n, x) => n * 256 + Number(x), 0);
  const clash = (prefix: string) =>
    routes.some((r) => {
      const [ip, len = '32'] = r.split('/');
      const size = 2 ** (32 - Number(len));
      const start = Math.floor(num(ip!) / size) * size;
      const s = num(`${prefix}.0`);
      return start <= s + 255 && s <= start + size - 1;
    });
  const out: string[] = [];
  for (let i = 0; i < 200 && out.length < 2; i++) {
    const x = randomBytes(2);
    const prefix = `10.${200 + (x[0]! % 8)}.${x[1]}`;
    if (!clash(prefix) && !out.includes(prefix)) out.push(prefix);
  }
  if (out.length < 2) throw new Error('no free /24 in 10.200.0.0/13');
  return [out[0]!, out[1]!];
}

const [P, PC] = freeSubnets();
const backendIp = (i: number) => `${P}.${10 + i}`;
const CLIENT_IP = `${P}.2`;
const INGRESS_CLIENT_IP = `${PC}.2`;

/** A backend: answers each connection with "<name> <client address>", then echoes lines; logs every connection's source. */
const SERVER = `
const name = process.argv[1];
require('net').createServer((s) => {
  console.log('conn ' + s.remoteAddress);
  s.write(name + ' ' + s.remoteAddress + '\\n');
  let buf = '';
  s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { s.write(name + ' ' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); } });
  s.on('error', () => {});
}).listen(${PORT}, '0.0.0.0', () => console.log('listening'));
`;

/** A client: JSON commands on stdin, one JSON answer per line on stdout. */
const CLIENT = `
const net = require('net');
const open = new Map();
const greet = (host, port) => new Promise((res) => {
  const s = net.connect({ host, port });
  let buf = '';
  const t = setTimeout(() => { s.destroy(); res({ error: 'timeout' }); }, 3000);
  s.on('data', (d) => { buf += d; const i = buf.indexOf('\\n'); if (i >= 0) { clearTimeout(t); res({ line: buf.slice(0, i), s }); } });
  s.on('error', (e) => { clearTimeout(t); res({ error: e.code }); });
});
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', async (l) => {
  const c = JSON.parse(l);
  let out;
  if (c.op === 'burst') {
    out = [];
    for (let i = 0; i < c.n; i++) { const r = await greet(c.host, c.port); r.s?.destroy(); out.push(r.line ?? r.error); }
  } else if (c.op === 'open') {
    const r = await greet(c.host, c.port);
    if (r.s) open.set(c.id, r.s);
    out = r.line ?? r.error;
  } else if (c.op === 'send') {
    const s = open.get(c.id);
    out = await new Promise((res) => {
      let buf = '';
      const t = setTimeout(() => res('timeout'), 3000);
      s.removeAllListeners('data');
      s.on('data', (d) => { buf += d; const i = buf.indexOf('\\n'); if (i >= 0) { clearTimeout(t); res(buf.slice(0, i)); } });
      s.once('close', () => { clearTimeout(t); res('closed'); });
      s.write(c.text + '\\n');
    });
  }
  process.stdout.write(JSON.stringify(out) + '\\n');
});
`;

class Client {
  private readonly pending: ((v: unknown) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (l) => this.pending.shift()?.(JSON.parse(l)));
  }
  ask<T>(cmd: object): Promise<T> {
    return new Promise((res) => {
      this.pending.push(res as (v: unknown) => void);
      this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    });
  }
  burst(host: string, port: number, n: number): Promise<string[]> {
    return this.ask({ op: 'burst', host, port, n });
  }
}

/** The part of NetworkService the balancer uses, over this test's bridge. */
class TestNetworks implements BalancerNetworks {
  readonly iptables = true;
  readonly ports = new PortReservations();
  services: FirewallServicePort[] = [];
  names: ServiceNames = new Map();
  seeded: NetnsMember[] = [];
  watch?: (m: NetnsMember) => Promise<void>;
  private readonly held = new Map<string, string>();
  constructor(private readonly firewall: () => Firewall) {}

  networkInfo(ref: string) {
    return ref === NET_ID ? { id: NET_ID, name: 'lbnet', internal: false } : undefined;
  }
  async bindHostPort(proto: 'tcp' | 'udp', range: [number, number], owner: string): Promise<number> {
    return (await this.ports.reserve({ proto, containerPort: 0, hostIp: '', hostPorts: range }, '', owner)).hostPort;
  }
  releaseHostPort(proto: 'tcp' | 'udp', port: number): void {
    this.ports.release({ proto, containerPort: 0, hostIp: '', hostPort: port });
  }
  reserveAddress(_networkId: string, owner: string): string {
    const a = this.held.get(owner) ?? `${P}.250`;
    this.held.set(owner, a);
    return a;
  }
  releaseAddress(_networkId: string, owner: string): void {
    this.held.delete(owner);
  }
  members(): NetnsMember[] {
    return this.seeded;
  }
  watchMembers(fn: (m: NetnsMember) => Promise<void>): void {
    this.watch = fn;
  }
  async publishServicePorts(ports: FirewallServicePort[]): Promise<void> {
    this.services = ports;
    await this.firewall().sync();
  }
  setServiceNames(names: ServiceNames): void {
    this.names = names;
  }
}

describe('kernel load balancer (namespaces, no daemon)', { skip }, () => {
  const procs: ChildProcess[] = [];
  const logs = new Map<string, string[]>();
  let firewall: Firewall;
  let nets: TestNetworks;
  let lb: KernelBalancer;
  let client: Client;
  let ingressClient: Client;
  let vip = '';
  let published = 0;
  const names = ['b1', 'b2', 'b3'];
  const backends = names.map((n, i) => ({ taskId: `t-${n}`, containerId: `c-${n}`, ips: { [NET_ID]: backendIp(i) } }));
  const service = (bs = backends): BalancedService => ({
    id: 'svc1', name: 'web', mode: 'vip', ports: [{ TargetPort: PORT, PublishedPort: published, Protocol: 'tcp', PublishMode: 'ingress' }],
    vips: { [NET_ID]: vip }, networks: [NET_ID], backends: bs,
  });
  const counts = (answers: string[]) => {
    const c: Record<string, number> = {};
    for (const a of answers) c[a.split(' ')[0]!] = (c[a.split(' ')[0]!] ?? 0) + 1;
    return c;
  };

  /** A namespace with a veth on `bridge`, address and default route. */
  const addNs = (name: string, bridge: string, ip: string, gw: string) => {
    sh('ip', 'netns', 'add', NS(name));
    sh('ip', 'link', 'add', `${BR}${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS(name));
    sh('ip', 'link', 'set', `${BR}${name}`, 'master', bridge, 'up');
    sh('ip', '-n', NS(name), 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
    sh('ip', '-n', NS(name), 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', NS(name), 'link', 'set', 'lo', 'up');
    sh('ip', '-n', NS(name), 'route', 'add', 'default', 'via', gw);
  };
  const inNs = (name: string, script: string, ...args: string[]) => {
    const p = spawn('nsenter', [`--net=/run/netns/${NS(name)}`, process.execPath, '-e', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdin!.on('error', () => undefined);
    procs.push(p);
    return p;
  };

  before(async () => {
    for (const [br, prefix] of [[BR, P], [BRC, PC]] as const) {
      sh('ip', 'link', 'add', br, 'type', 'bridge');
      sh('ip', 'addr', 'add', `${prefix}.1/24`, 'dev', br);
      sh('ip', 'link', 'set', br, 'up');
    }
    for (const [i, n] of names.entries()) addNs(n, BR, backendIp(i), `${P}.1`);
    addNs('cl', BR, CLIENT_IP, `${P}.1`);
    addNs('ic', BRC, INGRESS_CLIENT_IP, `${PC}.1`);
    await Promise.all(names.map((n) => new Promise<void>((res, rej) => {
      const p = inNs(n, SERVER, n);
      const lines: string[] = [];
      logs.set(n, lines);
      createInterface({ input: p.stdout! }).on('line', (l) => {
        if (l === 'listening') res();
        else lines.push(l);
      });
      p.once('exit', (code) => rej(new Error(`backend ${n} exited ${code}`)));
    })));
    client = new Client(inNs('cl', CLIENT));
    ingressClient = new Client(inNs('ic', CLIENT));

    const fwNets: FirewallNetwork[] = [
      { bridge: BR, subnet: `${P}.0/24`, internal: false, icc: true, masquerade: false },
      { bridge: BRC, subnet: `${PC}.0/24`, internal: false, icc: true, masquerade: false },
    ];
    nets = new TestNetworks(() => firewall);
    firewall = new Firewall(new NodeHost(), BR, () => ({ nets: fwNets, ports: [], services: nets.services }));
    lb = new KernelBalancer(new NodeHost(), nets, nullLogger);
    // Backends were running before the balancer (as after a daemon restart); the client joins as a fresh container does.
    nets.seeded = names.map((n) => ({ containerId: `c-${n}`, netns: `/run/netns/${NS(n)}`, networks: [NET_ID] }));
    await nets.watch!({ containerId: 'c-cl', netns: `/run/netns/${NS('cl')}`, networks: [NET_ID], fresh: true });
    published = (await lb.reservePorts('svc1', [{ TargetPort: PORT }]))[0]!.PublishedPort!;
    vip = (await lb.allocateVips('svc1', [NET_ID]))[NET_ID]!.split('/')[0]!;
    await lb.apply([service()]);
  });

  after(async () => {
    await lb?.close().catch(() => undefined);
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    nets?.ports.closeAll();
    await firewall?.teardown().catch((e: unknown) => console.error('firewall teardown:', e));
    for (const n of [...names, 'cl', 'ic']) quiet('ip', 'netns', 'del', NS(n));
    for (const n of [...names, 'cl', 'ic']) quiet('ip', 'link', 'del', `${BR}${n}`);
    quiet('ip', 'link', 'del', BR);
    quiet('ip', 'link', 'del', BRC);
    const left = quiet('iptables-save').stdout.split('\n').filter((l) => l.includes(BR.toUpperCase()) || l.includes(BR));
    assert.deepEqual(left, [], 'iptables rules left behind');
  });

  it('wrote the VIP cascade into every namespace on the network, with one jump each', () => {
    for (const n of [...names, 'cl']) {
      const saved = sh('nsenter', `--net=/run/netns/${NS(n)}`, 'iptables-save', '-t', 'nat');
      assert.equal(saved.split('\n').filter((l) => l === '-A OUTPUT -j PIER-SVC').length, 1, saved);
      assert.equal(saved.split('\n').filter((l) => l.startsWith(`-A PIER-SVC -d ${vip}/32`)).length, 3, saved);
    }
  });

  it('spreads 30 connections to the VIP over all three backends, each seeing the client\'s own address', async () => {
    for (const l of logs.values()) l.length = 0;
    const answers = await client.burst(vip, PORT, 30);
    const c = counts(answers);
    assert.deepEqual(Object.keys(c).sort(), names, answers.join(', '));
    for (const n of names) assert.ok(c[n]! >= 5, `${n}: ${c[n]} of 30`);
    for (const a of answers) assert.equal(a.split(' ')[1], CLIENT_IP);
    for (const n of names) {
      assert.ok(logs.get(n)!.length >= 5);
      for (const l of logs.get(n)!) assert.equal(l, `conn ${CLIENT_IP}`, `${n} saw ${l}`);
    }
  });

  it('spreads 30 connections to the published port over all three, with the client\'s address (no SNAT)', async () => {
    for (const l of logs.values()) l.length = 0;
    const answers = await ingressClient.burst(`${PC}.1`, published, 30);
    const c = counts(answers);
    assert.deepEqual(Object.keys(c).sort(), names, answers.join(', '));
    for (const n of names) assert.ok(c[n]! >= 5, `${n}: ${c[n]} of 30`);
    for (const n of names) for (const l of logs.get(n)!) assert.equal(l, `conn ${INGRESS_CLIENT_IP}`, `${n} saw ${l}`);
  });

  it('drains: a backend taken out gets no new connection, while the one it has goes on', async () => {
    const first = await client.ask<string>({ op: 'open', host: vip, port: PORT, id: 'v' });
    const held = first.split(' ')[0]!;
    assert.ok(names.includes(held), first);
    const ingressFirst = await ingressClient.ask<string>({ op: 'open', host: `${PC}.1`, port: published, id: 'i' });
    const ingressHeld = ingressFirst.split(' ')[0]!;
    assert.ok(names.includes(ingressHeld), ingressFirst);

    await lb.apply([service(backends.filter((b) => b.taskId !== `t-${held}` && b.taskId !== `t-${ingressHeld}`))]);
    const rest = names.filter((n) => n !== held && n !== ingressHeld);
    const vipAnswers = counts(await client.burst(vip, PORT, 12));
    assert.deepEqual(Object.keys(vipAnswers).sort(), rest, JSON.stringify(vipAnswers));
    const ingressAnswers = counts(await ingressClient.burst(`${PC}.1`, published, 12));
    assert.deepEqual(Object.keys(ingressAnswers).sort(), rest, JSON.stringify(ingressAnswers));

    assert.equal(await client.ask({ op: 'send', id: 'v', text: 'still-there' }), `${held} still-there`);
    assert.equal(await ingressClient.ask({ op: 'send', id: 'i', text: 'still-there' }), `${ingressHeld} still-there`);
    await lb.apply([service()]);
  });

  it('refuses connections at once when no backend may take them, and balances again when one can', async () => {
    await lb.apply([service([])]);
    assert.deepEqual(await client.burst(vip, PORT, 2), ['ECONNREFUSED', 'ECONNREFUSED']);
    assert.deepEqual(await ingressClient.burst(`${PC}.1`, published, 2), ['ECONNREFUSED', 'ECONNREFUSED']);
    await lb.apply([service([backends[1]!])]);
    assert.deepEqual(counts(await client.burst(vip, PORT, 3)), { b2: 3 });
    assert.deepEqual(counts(await ingressClient.burst(`${PC}.1`, published, 3)), { b2: 3 });
  });

  it('removes a released service\'s rules from the host and the namespaces', async () => {
    await lb.releasePorts('svc1');
    await lb.releaseVips('svc1');
    assert.ok(!sh('iptables-save', '-t', 'nat').includes(`--dport ${published} `));
    const saved = sh('nsenter', `--net=/run/netns/${NS('cl')}`, 'iptables-save', '-t', 'nat');
    assert.ok(!saved.includes(vip), saved);
    assert.ok(saved.includes('-A OUTPUT -j PIER-SVC'), 'the (now empty) chain stays jumped to');
  });
});
