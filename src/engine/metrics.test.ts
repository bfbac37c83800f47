import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry, formatValue } from './metrics.js';

describe('metrics registry (Prometheus text format 0.0.4)', () => {
  it('renders counters and gauges with HELP, TYPE and escaped labels, sorted by name', async () => {
    const r = new MetricsRegistry();
    const c = r.counter('b_requests_total', 'Requests\nby path', ['path']);
    const g = r.gauge('a_things', 'Things');
    c.inc({ path: '/x"y\\z' });
    c.inc({ path: '/x"y\\z' }, 2);
    g.set(undefined, 7);
    assert.equal(await r.render(), [
      '# HELP a_things Things', '# TYPE a_things gauge', 'a_things 7',
      '# HELP b_requests_total Requests\\nby path', '# TYPE b_requests_total counter', 'b_requests_total{path="/x\\"y\\\\z"} 3', '',
    ].join('\n'));
  });

  it('keeps histogram buckets cumulative, with +Inf, _sum and _count', async () => {
    const r = new MetricsRegistry();
    const h = r.histogram('d_seconds', 'Durations', ['action'], [0.1, 1]);
    h.observe({ action: 'start' }, 0.05);
    h.observe({ action: 'start' }, 0.5);
    h.observe({ action: 'start' }, 5);
    const lines = (await r.render()).split('\n');
    assert.deepEqual(lines.slice(2, 7), [
      'd_seconds_bucket{action="start",le="0.1"} 1',
      'd_seconds_bucket{action="start",le="1"} 2',
      'd_seconds_bucket{action="start",le="+Inf"} 3',
      'd_seconds_sum{action="start"} 5.55',
      'd_seconds_count{action="start"} 3',
    ]);
  });

  it('times async work, also when it throws', async () => {
    const r = new MetricsRegistry();
    const h = r.histogram('t_seconds', 'T', ['action']);
    await h.time({ action: 'ok' }, async () => 1);
    await assert.rejects(h.time({ action: 'bad' }, async () => { throw new Error('boom'); }), /boom/);
    const text = await r.render();
    assert.match(text, /^t_seconds_count\{action="ok"\} 1$/m);
    assert.match(text, /^t_seconds_count\{action="bad"\} 1$/m);
  });

  it('shows touched series at zero, runs collectors before rendering, and refuses mistakes', async () => {
    const r = new MetricsRegistry();
    const h = r.histogram('z_seconds', 'Z', ['action'], [1]);
    h.touch({ action: 'stop' });
    let n = 0;
    const g = r.gauge('live', 'Live');
    r.collect(() => g.set(undefined, ++n));
    assert.match(await r.render(), /^z_seconds_count\{action="stop"\} 0$/m);
    assert.match(await r.render(), /^live 2$/m);
    assert.throws(() => r.gauge('live', 'again'), /registered twice/);
    assert.throws(() => r.counter('bad-name', 'x'), /invalid metric name/);
    assert.throws(() => r.counter('c_total', 'x').inc(undefined, -1), /cannot decrease/);
    assert.throws(() => r.gauge('g2', 'x', ['a']).set({ b: '1' }, 1), /has no label b/);
    assert.throws(() => r.histogram('h2', 'x', ['le']), /cannot have a label named le/);
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(NaN), 'NaN');
  });
});
