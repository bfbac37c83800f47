import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, matches, type EngineEvent } from './events.js';

const bus = new EventBus();
const ev = (type: EngineEvent['Type'], action: string, id: string, attrs: Record<string, string> = {}) => bus.emit(type, action, id, attrs);
const m = (e: EngineEvent, filters: Record<string, string[]>) => matches(e, { filters });

describe('event filters (Docker semantics)', () => {
  const start = ev('container', 'start', 'abc123def', { name: 'web', image: 'busybox:latest', 'com.example': 'yes' });
  const exec = ev('container', 'exec_start: sh -c true', 'abc123def', { name: 'web', image: 'busybox:latest', execID: 'e1' });
  const health = ev('container', 'health_status: healthy', 'abc123def', { name: 'web', image: 'busybox' });
  const pull = ev('image', 'pull', 'docker.io/library/alpine:3', { name: 'docker.io/library/alpine:3' });
  const net = ev('network', 'connect', 'netid99', { name: 'front', container: 'abc123def', type: 'bridge' });
  const reload = ev('daemon', 'reload', 'daemon-uuid', { name: 'host1' });

  it('type and scope are exact', () => {
    assert.equal(m(start, { type: ['container'] }), true);
    assert.equal(m(start, { type: ['image', 'network'] }), false);
    assert.equal(m(start, { type: ['contain'] }), false);
    assert.equal(m(start, { scope: ['local'] }), true);
    assert.equal(m(start, { scope: ['swarm'] }), false);
  });

  it('event is exact, with prefixes only for bare exec_start/exec_create/health_status', () => {
    assert.equal(m(start, { event: ['start'] }), true);
    assert.equal(m(start, { event: ['sta'] }), false);
    assert.equal(m(exec, { event: ['exec_start'] }), true);
    assert.equal(m(exec, { event: ['exec_start: sh -c true'] }), true);
    assert.equal(m(exec, { event: ['exec_start: sh'] }), false); // exact without a bare name, as in Docker
    assert.equal(m(exec, { event: ['exec_start: sh', 'exec_create'] }), true); // fuzzy once a bare name is there
    assert.equal(m(health, { event: ['health_status'] }), true);
    assert.equal(m(health, { event: ['health_status: unhealthy'] }), false);
  });

  it('container matches ID or name, exact or prefix, and ties other types by name only', () => {
    assert.equal(m(start, { container: ['abc1'] }), true);
    assert.equal(m(start, { container: ['web'] }), true);
    assert.equal(m(start, { container: ['other'] }), false);
    assert.equal(m(net, { container: ['abc123def'] }), false); // Docker compares the network's own ID and name
    assert.equal(m(net, { network: ['front'] }), true);
    assert.equal(m(net, { network: ['netid'] }), true);
    assert.equal(m(reload, { daemon: ['daemon-uuid'] }), true);
    assert.equal(m(reload, { daemon: ['host1'] }), true);
    assert.equal(m(reload, { daemon: ['nope'] }), false);
  });

  it('image matches exactly, with or without the tag', () => {
    assert.equal(m(start, { image: ['busybox'] }), true);
    assert.equal(m(start, { image: ['busybox:latest'] }), true);
    assert.equal(m(start, { image: ['busy'] }), false);
    assert.equal(m(pull, { image: ['alpine'] }), true);
    assert.equal(m(pull, { image: ['docker.io/library/alpine:3'] }), true);
    assert.equal(m(net, { image: ['busybox'] }), false);
  });

  it('labels: every key or key=value must be there', () => {
    assert.equal(m(start, { label: ['com.example'] }), true);
    assert.equal(m(start, { label: ['com.example=yes'] }), true);
    assert.equal(m(start, { label: ['com.example=no'] }), false);
    assert.equal(m(start, { label: ['com.example', 'missing'] }), false);
  });

  it('filters of different keys all apply', () => {
    assert.equal(m(start, { type: ['container'], event: ['start'], container: ['web'], label: ['com.example=yes'] }), true);
    assert.equal(m(start, { type: ['container'], event: ['stop'], container: ['web'] }), false);
  });
});
