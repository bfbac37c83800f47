import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveLogOpts, parseDaemonArgs, type DaemonConfig } from './config.js';
import { mergeLogConfig } from '../engine/containers/service.js';

const parse = (argv: string[], file?: object | string) =>
  parseDaemonArgs(file === undefined ? argv : [...argv, '--config-file', '/cfg.json'], () => (typeof file === 'string' ? file : JSON.stringify(file))) as DaemonConfig;

describe('daemon config: logging and metrics', () => {
  it('takes --log-driver, --log-opt and --metrics-addr like dockerd', () => {
    const c = parse(['--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=3', '--metrics-addr', '127.0.0.1:9323']);
    assert.equal(c.logDriver, 'json-file');
    assert.deepEqual(c.logOpts, { 'max-size': '10m', 'max-file': '3' });
    assert.equal(c.metricsAddr, '127.0.0.1:9323');
    const f = parse([], { 'log-driver': 'none', 'metrics-addr': '[::1]:0' });
    assert.equal(f.logDriver, 'none');
    assert.equal(f.metricsAddr, '[::1]:0');
  });

  it('refuses drivers and options it cannot honour, with a message that says what to use', () => {
    assert.throws(() => parse(['--log-driver', 'syslog']), /logging driver "syslog" is not supported by pierd as a default: use json-file/);
    assert.throws(() => parse([], { 'log-opts': { 'max-size': 'big' } }), /invalid max-size "big"/);
    assert.throws(() => parse([], { 'log-opts': { 'max-file': '0' } }), /invalid max-file "0"/);
    assert.throws(() => parse([], { 'log-opts': { 'max-size': 10 } }), /string values/);
    assert.throws(() => parse([], { 'log-opts': { colour: 'red' } }), /unknown log opt 'colour'/);
    assert.throws(() => parse(['--log-driver', 'none', '--log-opt', 'max-size=1m']), /the none logging driver/);
    assert.throws(() => parse(['--log-opt', 'max-size']), /expected key=value/);
    assert.throws(() => parse(['--metrics-addr', 'localhost']), /invalid metrics-addr "localhost": expected host:port/);
    assert.throws(() => parse(['--metrics-addr', '127.0.0.1:70000']), /invalid metrics-addr/);
    assert.throws(() => parse(['--log-opt', 'max-size=1m'], { 'log-opts': { 'max-size': '2m' } }), /both as a flag and in the configuration file: log-opts/);
  });

  it("rotates by default: Pier's max-size 20m and max-file 5 fill what the config leaves out", () => {
    assert.deepEqual(effectiveLogOpts(parse([])), { 'max-size': '20m', 'max-file': '5' });
    assert.deepEqual(effectiveLogOpts(parse(['--log-opt', 'max-size=1m'])), { 'max-size': '1m', 'max-file': '5' });
    assert.deepEqual(effectiveLogOpts(parse(['--log-opt', 'max-size=-1'])), { 'max-size': '-1' }, '-1 turns rotation off');
    assert.deepEqual(effectiveLogOpts(parse(['--log-driver', 'none'])), {});
  });

  it("merges the daemon's log config into a container's like dockerd", () => {
    const daemon = { Type: 'json-file', Config: { 'max-size': '20m', 'max-file': '5' } };
    assert.deepEqual(mergeLogConfig(undefined, daemon), daemon);
    assert.deepEqual(mergeLogConfig({ Type: '', Config: { 'max-size': '1m' } }, daemon), { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '5' } });
    assert.deepEqual(mergeLogConfig({ Type: 'none', Config: {} }, daemon), { Type: 'none', Config: {} }, 'another driver takes nothing');
    assert.deepEqual(mergeLogConfig({ Type: 'json-file', Config: { 'max-size': '-1' } }, daemon), { Type: 'json-file', Config: { 'max-size': '-1' } });
    assert.deepEqual(mergeLogConfig({}, { Type: 'none', Config: {} }), { Type: 'none', Config: {} });
  });
});
