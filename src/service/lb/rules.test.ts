/**
 * The balancer's rule text and DNS names as pure functions of the services.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BalancedService, Backend } from './balancer.js';
import { byAddress, ingressPorts, renderNetns, serviceNames, vipsFor } from './rules.js';

const b = (task: string, ips: Record<string, string>): Backend => ({ taskId: task, containerId: `c-${task}`, ips });
const svc = (o: Partial<BalancedService>): BalancedService => ({ id: 's1', name: 'Web', mode: 'vip', ports: [], vips: {}, networks: [], backends: [], ...o });

describe('renderNetns', () => {
  it('balances a VIP with the nth cascade in nat, and adds only the jumps asked for', () => {
    const text = renderNetns([{ vip: '10.89.0.254', backends: ['10.89.0.2', '10.89.0.3', '10.89.0.4'] }], { nat: true, filter: true });
    assert.equal(text, [
      '*nat',
      ':PIER-SVC - [0:0]',
      '-A OUTPUT -j PIER-SVC',
      '-A PIER-SVC -d 10.89.0.254/32 -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 10.89.0.2',
      '-A PIER-SVC -d 10.89.0.254/32 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.89.0.3',
      '-A PIER-SVC -d 10.89.0.254/32 -j DNAT --to-destination 10.89.0.4',
      'COMMIT',
      '*filter',
      ':PIER-SVC - [0:0]',
      '-A OUTPUT -j PIER-SVC',
      'COMMIT',
      '',
    ].join('\n'));
    const again = renderNetns([{ vip: '10.89.0.254', backends: ['10.89.0.2'] }], { nat: false, filter: true });
    assert.ok(!again.includes('-A OUTPUT -j PIER-SVC\n-A PIER-SVC -d'), 'no nat jump when it is there');
    assert.ok(again.includes('-A PIER-SVC -d 10.89.0.254/32 -j DNAT --to-destination 10.89.0.2\n'));
  });

  it('refuses a VIP without backends in filter, with no DNAT', () => {
    const text = renderNetns([{ vip: '10.89.0.254', backends: [] }]);
    assert.ok(!text.includes('DNAT'));
    assert.ok(text.includes('-A PIER-SVC -d 10.89.0.254/32 -p tcp -j REJECT --reject-with tcp-reset\n'));
    assert.ok(text.includes('-A PIER-SVC -d 10.89.0.254/32 -j REJECT --reject-with icmp-port-unreachable\n'));
  });

  it('with nothing to balance, only declares (empties) the chains', () => {
    assert.equal(renderNetns([]), '*nat\n:PIER-SVC - [0:0]\nCOMMIT\n*filter\n:PIER-SVC - [0:0]\nCOMMIT\n');
  });
});

describe('vipsFor', () => {
  it('takes the VIPs of the namespace\'s networks, each with the backends\' addresses on that network, sorted', () => {
    const services = [
      svc({ vips: { n1: '10.89.0.254', n2: '10.89.1.254' }, networks: ['n1', 'n2'], backends: [b('t2', { n1: '10.89.0.10', n2: '10.89.1.3' }), b('t1', { n1: '10.89.0.9' })] }),
      svc({ id: 's2', name: 'rr', mode: 'dnsrr', networks: ['n1'], backends: [b('t3', { n1: '10.89.0.20' })] }),
      svc({ id: 's3', name: 'elsewhere', vips: { n3: '10.89.2.254' }, networks: ['n3'], backends: [b('t4', { n3: '10.89.2.2' })] }),
    ];
    assert.deepEqual(vipsFor(['n1'], services), [{ vip: '10.89.0.254', backends: ['10.89.0.9', '10.89.0.10'] }]);
    assert.deepEqual(vipsFor(['n2', 'n1'], services), [
      { vip: '10.89.0.254', backends: ['10.89.0.9', '10.89.0.10'] },
      { vip: '10.89.1.254', backends: ['10.89.1.3'] },
    ]);
    assert.deepEqual(vipsFor(['n9'], services), []);
  });
});

describe('ingressPorts', () => {
  it('sends each ingress port to every backend\'s address on a network the host may forward to', () => {
    const usable = (n: string) => n !== 'internal';
    const s = svc({
      networks: ['internal', 'front'],
      ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
        { TargetPort: 53, Protocol: 'udp', PublishedPort: 5353 },
        { TargetPort: 22, PublishedPort: 2222, PublishMode: 'host' },
        { TargetPort: 90 },
      ],
      backends: [b('t1', { internal: '10.90.0.2', front: '10.89.0.7' }), b('t2', { front: '10.89.0.3' }), b('t3', { internal: '10.90.0.4' }), b('t4', { internal: '10.90.0.5', bridge: '10.88.0.9' })],
    });
    assert.deepEqual(ingressPorts([s], usable), [
      { proto: 'udp', hostPort: 5353, targetPort: 53, backends: ['10.88.0.9', '10.89.0.3', '10.89.0.7'] },
      { proto: 'tcp', hostPort: 8080, targetPort: 80, backends: ['10.88.0.9', '10.89.0.3', '10.89.0.7'] },
    ]);
    assert.deepEqual(ingressPorts([svc({ ports: [{ TargetPort: 80, PublishedPort: 8080 }] })], usable), [{ proto: 'tcp', hostPort: 8080, targetPort: 80, backends: [] }]);
  });
});

describe('serviceNames (DNS)', () => {
  const backends = [b('t1', { n1: '10.89.0.3' }), b('t2', { n1: '10.89.0.2', n2: '10.89.1.2' })];
  it('vip mode: the name is the VIP, tasks.<name> every backend', () => {
    const names = serviceNames([svc({ vips: { n1: '10.89.0.254' }, networks: ['n1'], backends })]);
    assert.deepEqual(names.get('n1')?.get('web'), ['10.89.0.254']);
    assert.deepEqual(names.get('n1')?.get('tasks.web'), ['10.89.0.2', '10.89.0.3']);
    assert.equal(names.get('n2'), undefined, 'not on n2: nothing there');
  });
  it('dnsrr mode: the name is every backend', () => {
    const names = serviceNames([svc({ mode: 'dnsrr', networks: ['n1', 'n2'], backends })]);
    assert.deepEqual(names.get('n1')?.get('web'), ['10.89.0.2', '10.89.0.3']);
    assert.deepEqual(names.get('n2')?.get('web'), ['10.89.1.2']);
    assert.deepEqual(names.get('n2')?.get('tasks.web'), ['10.89.1.2']);
  });
  it('a service without running backends is still a known name, with no address', () => {
    const names = serviceNames([svc({ mode: 'dnsrr', networks: ['n1'] })]);
    assert.deepEqual(names.get('n1')?.get('web'), []);
  });
  it('orders addresses numerically', () => {
    assert.deepEqual(['10.0.0.10', '10.0.0.9', '9.0.0.1'].sort(byAddress), ['9.0.0.1', '10.0.0.9', '10.0.0.10']);
  });
});
