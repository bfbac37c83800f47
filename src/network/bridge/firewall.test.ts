/**
 * The firewall's rule text (render is pure), and that Firewall applies it in
 * one iptables-restore with the services' ports from its state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Host, RunResult } from '../../base/host.js';
import { chainsFor, Firewall, jumps, nth, render, renderTeardown, type FirewallNetwork, type FirewallServicePort } from './firewall.js';

const c = chainsFor('pt42');
const net: FirewallNetwork = { bridge: 'br-a', subnet: '10.89.0.0/24', internal: false, icc: true, masquerade: true };
const lines = (text: string) => text.split('\n');
const svc = (backends: string[], o: Partial<FirewallServicePort> = {}): FirewallServicePort => ({ proto: 'tcp', hostPort: 8080, targetPort: 80, backends, ...o });

describe('firewall render: service ports', () => {
  it('names its chains after the default bridge, INPUT\'s among them', () => {
    assert.deepEqual(c, { fwd: 'PT42-FWD', iso: 'PT42-ISO', in: 'PT42-IN', nat: 'PT42-NAT', dnat: 'PT42-DNAT' });
    assert.ok(jumps(c).some(([t, chain, rule]) => t === 'filter' && chain === 'INPUT' && rule === '-j PT42-IN'));
  });

  it('one backend: a single unconditional DNAT', () => {
    const dnat = lines(render(c, [net], [], [], [svc(['10.89.0.5'])])).filter((l) => l.startsWith('-A PT42-DNAT'));
    assert.deepEqual(dnat, ['-A PT42-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.89.0.5:80']);
  });

  it('two backends: every 2nd connection to the first, the rest to the second', () => {
    const dnat = lines(render(c, [net], [], [], [svc(['10.89.0.5', '10.89.0.6'])])).filter((l) => l.startsWith('-A PT42-DNAT'));
    assert.deepEqual(dnat, [
      '-A PT42-DNAT -p tcp --dport 8080 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.89.0.5:80',
      '-A PT42-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.89.0.6:80',
    ]);
  });

  it('three backends: the cascade every 3, every 2, then the rest', () => {
    const dnat = lines(render(c, [net], [], [], [svc(['10.89.0.5', '10.89.0.6', '10.89.0.7'], { proto: 'udp', hostPort: 5353, targetPort: 53 })]))
      .filter((l) => l.startsWith('-A PT42-DNAT'));
    assert.deepEqual(dnat, [
      '-A PT42-DNAT -p udp --dport 5353 -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 10.89.0.5:53',
      '-A PT42-DNAT -p udp --dport 5353 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.89.0.6:53',
      '-A PT42-DNAT -p udp --dport 5353 -j DNAT --to-destination 10.89.0.7:53',
    ]);
    assert.equal(nth(0, 1), '');
    assert.equal(nth(3, 5), ' -m statistic --mode nth --every 2 --packet 0');
  });

  it('no backend: new connections are refused in INPUT (tcp-reset; port unreachable for udp), no DNAT', () => {
    const text = render(c, [net], [], [], [svc([]), svc([], { proto: 'udp', hostPort: 9000 })]);
    assert.ok(!lines(text).some((l) => l.startsWith('-A PT42-DNAT')), text);
    assert.deepEqual(lines(text).filter((l) => l.startsWith('-A PT42-IN')), [
      '-A PT42-IN -p tcp --dport 8080 -j REJECT --reject-with tcp-reset',
      '-A PT42-IN -p udp --dport 9000 -j REJECT --reject-with icmp-port-unreachable',
    ]);
  });

  it('rewrites no source: the only MASQUERADEs are the network\'s own (host-local clients, hairpin, outbound)', () => {
    const text = render(c, [net], [], [], [svc(['10.89.0.5', '10.89.0.6'])]);
    assert.deepEqual(lines(text).filter((l) => l.includes('MASQUERADE') || l.includes('SNAT')), lines(render(c, [net], [], [])).filter((l) => l.includes('MASQUERADE') || l.includes('SNAT')));
    // Forwarding of DNATed connections into the bridge is accepted by the existing rule.
    assert.ok(lines(text).includes('-A PT42-FWD -o br-a -m conntrack --ctstate DNAT -j ACCEPT'));
  });

  it('declares (empties) the IN chain on every apply, inserts the INPUT jump first, and tears it down', () => {
    const text = render(c, [net], [], [['filter', 'INPUT', '-j PT42-IN'], ['filter', 'FORWARD', '-j PT42-FWD']]);
    assert.ok(lines(text).includes(':PT42-IN - [0:0]'));
    assert.ok(lines(text).includes('-I INPUT 1 -j PT42-IN'));
    assert.ok(lines(text).includes('-I FORWARD 1 -j PT42-FWD'));
    const down = renderTeardown(c, [['filter', 'INPUT', '-j PT42-IN']]);
    assert.ok(lines(down).includes('-D INPUT -j PT42-IN'));
    assert.ok(lines(down).includes('-X PT42-IN'));
    assert.ok(lines(down).indexOf('-D INPUT -j PT42-IN') < lines(down).indexOf('-X PT42-IN'));
  });
});

class RecordingHost implements Host {
  readonly calls: { cmd: string; args: readonly string[]; input?: string }[] = [];
  async run(cmd: string, args: readonly string[], o: { input?: string } = {}): Promise<RunResult> {
    this.calls.push({ cmd, args, ...(o.input !== undefined ? { input: o.input } : {}) });
    return { code: 0, stdout: '', stderr: '' };
  }
  async mount(): Promise<void> {}
  async unmount(): Promise<void> {}
}

describe('Firewall', () => {
  it('writes the services of its state with the rest, in one restore', async () => {
    const host = new RecordingHost();
    const fw = new Firewall(host, 'pt42', () => ({ nets: [net], ports: [], services: [svc(['10.89.0.5'])] }));
    await fw.sync();
    const restores = host.calls.filter((x) => x.cmd === 'iptables-restore');
    assert.equal(restores.length, 1);
    assert.ok(lines(restores[0]!.input!).includes('-A PT42-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.89.0.5:80'));
    assert.ok(lines(restores[0]!.input!).includes('-I INPUT 1 -j PT42-IN'), 'the missing INPUT jump is added');
  });
});
