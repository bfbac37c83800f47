import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../engine/events.js';
import { EngineMetrics, isLoopbackHost, splitAddr } from './metrics.js';

const facts = { id: 'id1', version: '1.0', commit: 'abc', graphdriver: 'vfs', containerCounts: () => ({ running: 2, paused: 0, stopped: 1 }), imageCount: () => 4 };

describe('engine metrics', () => {
  it('counts events and requests, and reads states when scraped', async () => {
    const bus = new EventBus();
    const m = new EngineMetrics(facts, bus);
    bus.emit('container', 'start', 'c1');
    bus.emit('network', 'create', 'n1');
    m.observeRequest({ method: 'GET', route: '/info', status: 200, seconds: 0.002 });
    const text = await m.registry.render();
    assert.match(text, /^engine_daemon_events_total 2$/m);
    assert.match(text, /^engine_daemon_container_states_containers\{state="running"\} 2$/m);
    assert.match(text, /^engine_daemon_container_states_containers\{state="stopped"\} 1$/m);
    assert.match(text, /^engine_daemon_images 4$/m);
    assert.match(text, /^engine_daemon_http_requests_total\{method="GET",route="\/info",code="200"\} 1$/m);
    assert.match(text, /^engine_daemon_http_request_duration_seconds_bucket\{method="GET",route="\/info",le="0.005"\} 1$/m);
    assert.match(text, /^engine_daemon_engine_info\{.*daemon_id="id1".*version="1.0"\} 1$/m);
    assert.match(text, /^process_cpu_seconds_total \d/m);
  });

  it('times create/start/stop/remove of the wrapped service, and passes the rest through', async () => {
    const m = new EngineMetrics(facts, new EventBus());
    const svc = {
      n: 0,
      async create() { return 'id'; },
      async remove() { throw new Error('busy'); },
      async inspect(this: { n: number }) { return ++this.n; },
    };
    const t = m.timed(svc);
    assert.equal(await t.create(), 'id');
    await assert.rejects(t.remove(), /busy/);
    assert.equal(await t.inspect(), 1);
    assert.equal(svc.n, 1);
    const text = await m.registry.render();
    assert.match(text, /^engine_daemon_container_actions_seconds_count\{action="create"\} 1$/m);
    assert.match(text, /^engine_daemon_container_actions_seconds_count\{action="delete"\} 1$/m);
    assert.match(text, /^engine_daemon_container_actions_seconds_count\{action="stop"\} 0$/m);
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '', '::', '10.0.0.1', 'example.com']) assert.equal(isLoopbackHost(h), false, h);
    assert.deepEqual(splitAddr('[::1]:9323'), { host: '::1', port: 9323 });
    assert.deepEqual(splitAddr(':9323'), { host: '', port: 9323 });
  });
});
