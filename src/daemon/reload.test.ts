import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, type DaemonConfig } from './config.js';
import { diffConfig, reloadAttributes, reloadedValues } from './reload.js';

const base = (): DaemonConfig => structuredClone(DEFAULTS);

describe('config reload', () => {
  it('sorts changed keys into reloadable and restart-needed', () => {
    const next = base();
    next.labels = ['a=1'];
    next.debug = true;
    next.logOpts = { 'max-size': '1m' };
    next.bridge = 'other0';
    next.maxLayerSize = 1;
    assert.deepEqual(diffConfig(base(), next), { reloadable: ['debug', 'labels', 'logOpts'], restartNeeded: ['bridge', 'maxLayerSize'] });
    assert.deepEqual(diffConfig(base(), base()), { reloadable: [], restartNeeded: [] });
  });

  it('copies only reloadable values, and lists them for the reload event', () => {
    const next = base();
    next.labels = ['a=1'];
    next.bridge = 'other0';
    const v = reloadedValues(next, ['labels', 'bridge']);
    assert.deepEqual(v, { labels: ['a=1'] });
    next.labels.push('b=2');
    assert.deepEqual(v.labels, ['a=1'], 'a copy, not the parsed object');
    const attrs = reloadAttributes({ ...base(), labels: ['a=1'], metricsAddr: '127.0.0.1:9323' }, 'host1');
    assert.equal(attrs['labels'], '["a=1"]');
    assert.equal(attrs['metrics-addr'], '127.0.0.1:9323');
    assert.equal(attrs['name'], 'host1');
    assert.equal(attrs['log-driver'], 'json-file');
  });
});
