import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, parseDaemonArgs, type DaemonConfig } from './config.js';
import { diffConfig, keyOf, reloadAttributes, reloadedValues } from './reload.js';

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
    assert.deepEqual(attrs, {
      name: 'host1', debug: 'false', 'log-level': 'info', labels: '["a=1"]', 'insecure-registries': '[]', 'registry-mirrors': '[]',
      'max-concurrent-downloads': '3', 'max-concurrent-uploads': '5', 'live-restore': 'true', 'log-driver': 'json-file', 'log-opts': '{}',
      'metrics-addr': '127.0.0.1:9323',
    });
    assert.equal(reloadAttributes(base(), 'host1')['metrics-addr'], '');
  });

  it('names every config field by the daemon.json key the parser takes', () => {
    const all: DaemonConfig = { ...base(), pidfile: '/p', group: 'g', bip: '10.1.0.1/16', tls: false, tlsCaCert: '/c', tlsCert: '/c', tlsKey: '/k', metricsAddr: '127.0.0.1:1', configFile: 'x' };
    assert.deepEqual(['maxConcurrentDownloads', 'tlsVerify', 'tlsCaCert', 'dataRoot'].map((k) => keyOf(k as keyof DaemonConfig)), ['max-concurrent-downloads', 'tlsverify', 'tlscacert', 'data-root']);
    for (const k of Object.keys(all) as (keyof DaemonConfig)[]) {
      if (k === 'configFile') continue;
      const file = JSON.stringify({ [keyOf(k)]: all[k] });
      try {
        parseDaemonArgs(['--config-file', 'daemon.json'], () => file, { HOME: '/nonexistent' });
      } catch (e) {
        assert.doesNotMatch((e as Error).message, /don't match any configuration option/, `${k} → ${keyOf(k)}`);
      }
    }
  });
});
