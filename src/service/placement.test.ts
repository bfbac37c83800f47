import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { mustLeave, nodeMatches, parseConstraints, unschedulableReason } from './placement.js';
import type { Node, TaskSpec } from './types.js';

const node = (o: { spec?: Partial<Node['Spec']>; engine?: Record<string, string>; addr?: string; state?: Node['Status']['State'] } = {}): Node => ({
  ID: 'abcdef123', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '',
  Spec: { Labels: { zone: 'east', 'com.example.Tier': 'Gold' }, Role: 'manager', Availability: 'active', ...o.spec },
  Description: {
    Hostname: 'Box-1', Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 2e9, MemoryBytes: 1 << 30 },
    Engine: { EngineVersion: '1', Plugins: [], ...(o.engine ? { Labels: o.engine } : {}) },
  },
  Status: { State: o.state ?? 'ready', Addr: o.addr ?? '192.168.5.7' },
});
const matches = (c: string[], n = node()) => nodeMatches(parseConstraints(c), n);
const task = (Placement: TaskSpec['Placement']): TaskSpec => ({ ContainerSpec: { Image: 'busybox' }, Placement });

describe('placement constraints', () => {
  it("parses swarm's syntax and refuses what swarm refuses, as invalid input", () => {
    assert.deepEqual(parseConstraints([' node.role == manager ', 'node.labels.zone!=west']), [
      { key: 'node.role', op: '==', value: 'manager' },
      { key: 'node.labels.zone', op: '!=', value: 'west' },
    ]);
    for (const [bad, msg] of [['node.role', /expected one operator from ==, !=/], ['node.role>=manager', /expected one operator/], ['==x', /key '' is invalid/], ['node.role==a<b', /value 'a<b' is invalid/], ['9x==y', /key '9x' is invalid/]] as const) {
      assert.throws(() => parseConstraints([bad]), (e) => e instanceof EngineError && e.kind === 'invalid' && msg.test(e.message), bad);
    }
  });

  it('matches node.id, hostname, role and platform ignoring case; labels by their exact name', () => {
    assert.ok(matches(['node.id==abcdef123', 'node.hostname==box-1', 'NODE.ROLE==Manager', 'node.platform.os==linux', 'node.platform.arch==x86_64']));
    assert.ok(!matches(['node.role==worker']));
    assert.ok(matches(['node.role!=worker']));
    assert.ok(matches(['node.labels.zone==EAST', 'node.labels.com.example.Tier==gold']));
    assert.ok(!matches(['node.labels.Zone==east']), 'a label name is case-sensitive');
    assert.ok(matches(['node.labels.missing!=x']), 'a missing label is the empty value');
    assert.ok(!matches(['node.labels.missing==x']));
    assert.ok(matches(['engine.labels.disk==ssd'], node({ engine: { disk: 'ssd' } })));
    assert.ok(!matches(['engine.labels.disk==ssd']));
    assert.ok(!matches(['node.unknown==x']), 'an unknown key matches nothing');
    assert.ok(!matches(['node.role==manager', 'node.labels.zone==west']), 'every constraint must hold');
  });

  it('node.ip takes an address or a CIDR; a malformed one matches nothing', () => {
    assert.ok(matches(['node.ip==192.168.5.7']));
    assert.ok(matches(['node.ip==192.168.0.0/16']));
    assert.ok(matches(['node.ip!=10.0.0.0/8']));
    assert.ok(!matches(['node.ip!=192.168.5.0/24']));
    assert.ok(matches(['node.ip==192.168.5.7'], node({ addr: '::ffff:192.168.5.7' })), 'an IPv4-mapped address is its IPv4 one');
    assert.ok(!matches(['node.ip==192.168.5.300']));
    assert.ok(!matches(['node.ip!=192.168.5.300']));
  });
});

describe('scheduling on a node', () => {
  it("explains in swarm's words why a task cannot be placed", () => {
    assert.equal(unschedulableReason(task(undefined), node()), undefined);
    assert.equal(unschedulableReason(task(undefined), node({ spec: { Availability: 'pause' } })), '1 node not available for new tasks');
    assert.equal(unschedulableReason(task(undefined), node({ spec: { Availability: 'drain' } })), '1 node not available for new tasks');
    assert.equal(unschedulableReason(task(undefined), node({ state: 'down' })), '1 node not available for new tasks');
    assert.equal(unschedulableReason(task({ Constraints: ['node.labels.zone==west'] }), node()), 'scheduling constraints not satisfied on 1 node');
    assert.equal(unschedulableReason(task({ Platforms: [{ OS: 'linux', Architecture: 'amd64' }] }), node()), undefined, 'x86_64 is amd64');
    assert.equal(unschedulableReason(task({ Platforms: [{ OS: 'linux', Architecture: 'arm64' }, { OS: 'windows' }] }), node()), 'unsupported platform on 1 node');
  });

  it('a running task leaves a draining node, or one that no longer meets its constraints; pause keeps it', () => {
    assert.equal(mustLeave(task(undefined), node({ spec: { Availability: 'drain' } })), true);
    assert.equal(mustLeave(task(undefined), node({ spec: { Availability: 'pause' } })), false);
    assert.equal(mustLeave(task({ Constraints: ['node.labels.zone==east'] }), node()), false);
    assert.equal(mustLeave(task({ Constraints: ['node.labels.zone==west'] }), node()), true);
  });
});
