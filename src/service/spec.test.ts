import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { normalizeSpec, replicasOf, restartPolicyOf, taskSpecsDiffer, updateConfigOf, validateSpec } from './spec.js';
import type { ServiceSpec } from './types.js';

const base = (more: Partial<ServiceSpec> = {}): ServiceSpec => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, ...more });
const invalidWith = (re: RegExp) => (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && re.test(e.message);

describe('service spec', () => {
  it('accepts names like swarm and refuses the rest with a clear message', () => {
    for (const n of ['web', 'a', 'my_app-v2--1', 'X9', 'a'.repeat(63)]) validateSpec(base({ Name: n }));
    for (const n of ['web-', 'web_', 'web.1', '_web']) assert.throws(() => validateSpec(base({ Name: n })), invalidWith(/invalid name/), n);
    assert.throws(() => validateSpec(base({ Name: '-web' })), invalidWith(/^invalid name "-web": name must be valid as a DNS name component/));
    assert.throws(() => validateSpec(base({ Name: 'we b' })), invalidWith(/invalid name "we b"/));
    assert.throws(() => validateSpec(base({ Name: 'a/b' })), invalidWith(/invalid name/));
    assert.throws(() => validateSpec(base({ Name: 'a'.repeat(64) })), invalidWith(/name must be 63 characters or fewer/));
    assert.throws(() => validateSpec(base({ Name: '' })), invalidWith(/name must be provided/));
  });

  it('refuses negative replicas, bad ports, negative durations and unknown enum values', () => {
    assert.throws(() => validateSpec(base({ Mode: { Replicated: { Replicas: -1 } } })), invalidWith(/invalid replicas value -1/));
    assert.throws(() => validateSpec(base({ Mode: { Replicated: { Replicas: 1.5 } } })), invalidWith(/replicas/));
    validateSpec(base({ Mode: { Replicated: { Replicas: 0 } } }));
    assert.throws(() => validateSpec(base({ EndpointSpec: { Ports: [{ TargetPort: 0 }] } })), invalidWith(/invalid target port 0/));
    assert.throws(() => validateSpec(base({ EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 65536 }] } })), invalidWith(/invalid published port 65536/));
    assert.throws(
      () => validateSpec(base({ EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 8080 }] } })),
      invalidWith(/duplicate published ports/),
    );
    assert.throws(() => validateSpec(base({ EndpointSpec: { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } })), invalidWith(/dnsrr/));
    validateSpec(base({ EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 80, PublishedPort: 8080, Protocol: 'udp' }] } }));
    assert.throws(() => validateSpec(base({ TaskTemplate: { ContainerSpec: { Image: 'b' }, RestartPolicy: { Delay: -1 } } })), invalidWith(/restart-delay cannot be negative/));
    assert.throws(() => validateSpec(base({ UpdateConfig: { Monitor: -5 } })), invalidWith(/monitor cannot be negative/));
    assert.throws(() => validateSpec(base({ UpdateConfig: { Order: 'sideways' as 'stop-first' } })), invalidWith(/invalid UpdateConfig order "sideways"/));
    assert.throws(() => validateSpec(base({ RollbackConfig: { FailureAction: 'rollback' } })), invalidWith(/RollbackConfig failure action/));
    assert.throws(() => validateSpec(base({ TaskTemplate: { ContainerSpec: { Image: 'b' }, RestartPolicy: { Condition: 'always' as 'any' } } })), invalidWith(/restart condition/));
    assert.throws(() => validateSpec(base({ UpdateConfig: { MaxFailureRatio: 2 } })), invalidWith(/max failure ratio/));
    assert.throws(() => validateSpec(base({ TaskTemplate: { ContainerSpec: { Image: '' } } })), invalidWith(/image reference must be provided/));
    assert.throws(() => validateSpec(base({ TaskTemplate: { ContainerSpec: { Image: 'b', StopGracePeriod: -1 } } })), invalidWith(/stop grace period cannot be negative/));
  });

  it('fills what swarm stores and gives swarm run-time defaults', () => {
    const n = normalizeSpec(base({ Networks: [{ Target: 'net1' }], EndpointSpec: { Ports: [{ TargetPort: 80 }] } }));
    assert.deepEqual(n.Mode, { Replicated: { Replicas: 1 } });
    assert.equal(n.EndpointSpec?.Mode, 'vip');
    assert.deepEqual(n.EndpointSpec?.Ports, [{ TargetPort: 80, Protocol: 'tcp', PublishMode: 'ingress' }]);
    assert.deepEqual(n.TaskTemplate.Networks, [{ Target: 'net1' }], 'service-level networks move into the template');
    assert.equal(n.Networks, undefined);
    assert.equal(replicasOf(normalizeSpec(base({ Mode: { Global: {} } }))), 1);
    assert.deepEqual(updateConfigOf(base(), false), { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
    assert.equal(updateConfigOf(base({ UpdateConfig: { Parallelism: 3, Order: 'start-first' } }), false).Order, 'start-first');
    assert.equal(updateConfigOf(base({ UpdateConfig: { Parallelism: 3 }, RollbackConfig: { Parallelism: 0 } }), true).Parallelism, 0);
    assert.deepEqual(restartPolicyOf({ ContainerSpec: { Image: 'b' } }), { Condition: 'any', MaxAttempts: 0, Window: 0 }, 'no Delay when none is set');
    assert.equal(restartPolicyOf({ ContainerSpec: { Image: 'b' }, RestartPolicy: { Delay: 5e9 } }).Delay, 5e9);
  });

  it('tells whether a task made from one template matches another', () => {
    const a = { ContainerSpec: { Image: 'busybox', Env: ['A=1'] } };
    assert.equal(taskSpecsDiffer(a, { ContainerSpec: { Env: ['A=1'], Image: 'busybox' } }), false, 'key order does not matter');
    assert.equal(taskSpecsDiffer(a, { ...a, ForceUpdate: 0, Resources: {}, Networks: [] }), false, 'unset, zero and empty are alike');
    assert.equal(taskSpecsDiffer(a, { ...a, ForceUpdate: 1 }), true, 'a forced update');
    assert.equal(taskSpecsDiffer(a, { ContainerSpec: { Image: 'busybox:2', Env: ['A=1'] } }), true);
    assert.equal(taskSpecsDiffer(a, { ContainerSpec: { Image: 'busybox', Env: ['A=2'] } }), true);
    assert.equal(taskSpecsDiffer(a, { ContainerSpec: { Image: 'busybox', Env: ['A=1'] }, RestartPolicy: { Condition: 'none' } }), true);
  });
});
