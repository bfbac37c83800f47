import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildEnv, mergeConfig, DEFAULT_PATH } from './service.js';
import { humanDuration, statusText, initialState } from './record.js';
import { goJsonTime as isoNano } from '../../base/time.js';
import { parseSignal } from './signals.js';
import { validateName, generateName } from './names.js';
import { parseDetachKeys } from './io.js';
import { extraHostLine } from './files.js';
import type { ImageConfig } from '../../image/oci.js';

const image = (config: ImageConfig['config']): ImageConfig => ({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config });

describe('container configuration merge (Docker rules)', () => {
  it('takes Cmd and Entrypoint from the image when the request has none', () => {
    const c = mergeConfig({ Image: 'x' }, image({ Entrypoint: ['/init'], Cmd: ['serve'] }));
    assert.deepEqual([c.Entrypoint, c.Cmd], [['/init'], ['serve']]);
  });
  it('a request Cmd replaces the image Cmd but keeps its Entrypoint', () => {
    const c = mergeConfig({ Cmd: ['other'] }, image({ Entrypoint: ['/init'], Cmd: ['serve'] }));
    assert.deepEqual([c.Entrypoint, c.Cmd], [['/init'], ['other']]);
  });
  it('a request Entrypoint drops the image Cmd; --entrypoint "" clears it', () => {
    const c = mergeConfig({ Entrypoint: ['/bin/sh'] }, image({ Entrypoint: ['/init'], Cmd: ['serve'] }));
    assert.deepEqual([c.Entrypoint, c.Cmd ?? null], [['/bin/sh'], null]);
    const e = mergeConfig({ Entrypoint: [''], Cmd: ['ls'] }, image({ Entrypoint: ['/init'] }));
    assert.deepEqual([e.Entrypoint, e.Cmd], [null, ['ls']]);
  });
  it('env: the request overrides the image key by key; labels merge', () => {
    const c = mergeConfig({ Env: ['A=2', 'C=3'], Labels: { b: '2' } }, image({ Env: ['A=1', 'B=1'], Labels: { a: '1', b: '1' } }));
    assert.deepEqual(c.Env, ['A=2', 'B=1', 'C=3']);
    assert.deepEqual(c.Labels, { a: '1', b: '2' });
  });
  it('WorkingDir, User, StopSignal and Healthcheck come from the image when unset', () => {
    const c = mergeConfig({}, image({ WorkingDir: '/app', User: 'nobody', StopSignal: 'SIGQUIT', Healthcheck: { Test: ['CMD', 'true'], Retries: 5 } }));
    assert.deepEqual([c.WorkingDir, c.User, c.StopSignal, c.Healthcheck?.Retries], ['/app', 'nobody', 'SIGQUIT', 5]);
    const h = mergeConfig({ Healthcheck: { Interval: 1e9 } }, image({ Healthcheck: { Test: ['CMD', 'true'], Retries: 5 } }));
    assert.deepEqual(h.Healthcheck, { Interval: 1e9, Test: ['CMD', 'true'], Retries: 5, Timeout: undefined, StartPeriod: undefined, StartInterval: undefined });
  });
  it('the process env gets PATH, HOSTNAME, TERM for a tty and HOME, before the config', () => {
    assert.deepEqual(buildEnv({ Hostname: 'h', Tty: true, Env: ['X=1'] }, '/root'), [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'TERM=xterm', 'HOME=/root', 'X=1']);
    assert.deepEqual(buildEnv({ Hostname: 'h', Env: ['PATH=/bin', 'HOME=/x'] }, '/root'), ['HOSTNAME=h', 'PATH=/bin', 'HOME=/x']);
  });
});

describe('container status text', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  it('follows docker ps', () => {
    const s = initialState();
    assert.equal(statusText(s, now), 'Created');
    assert.equal(statusText({ ...s, Status: 'running', Running: true, StartedAt: '2026-01-01T00:09:57Z' }, now), 'Up 3 seconds');
    assert.equal(statusText({ ...s, Status: 'paused', Running: true, Paused: true, StartedAt: '2026-01-01T00:00:00Z' }, now), 'Up 10 minutes (Paused)');
    assert.equal(statusText({ ...s, Status: 'running', Running: true, StartedAt: '2026-01-01T00:09:00Z', Health: { Status: 'starting', FailingStreak: 0, Log: [] } }, now), 'Up About a minute (health: starting)');
    assert.equal(statusText({ ...s, Status: 'exited', ExitCode: 137, FinishedAt: '2026-01-01T00:08:00Z' }, now), 'Exited (137) 2 minutes ago');
    assert.equal(statusText({ ...s, Status: 'restarting', ExitCode: 1, FinishedAt: '2026-01-01T00:09:59.5Z' }, now), 'Restarting (1) Less than a second ago');
  });
  it('humanDuration matches go-units', () => {
    assert.deepEqual([999, 1000, 59_000, 60_000, 3_599_000, 3_600_000, 7_200_000, 86_400_000 * 3, 86_400_000 * 20].map(humanDuration),
      ['Less than a second', '1 second', '59 seconds', 'About a minute', '59 minutes', 'About an hour', '2 hours', '3 days', '2 weeks']);
  });
  it('times print like Go: nanoseconds, trailing zeros trimmed', () => {
    assert.equal(isoNano(1_700_000_000_123_400_000n), '2023-11-14T22:13:20.1234Z');
    assert.equal(isoNano(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
  });
});

describe('names, signals, detach keys, extra hosts', () => {
  it('container names follow Docker rules', () => {
    assert.equal(validateName('/web-1'), 'web-1');
    assert.equal(validateName('a.b_c'), 'a.b_c');
    for (const bad of ['a', '-x', 'x/y', 'has space', '']) assert.throws(() => validateName(bad), /Invalid container name/);
    assert.match(generateName(() => false), /^[a-z]+_[a-z]+$/);
    const taken = new Set<string>();
    for (let i = 0; i < 50; i++) taken.add(generateName((n) => taken.has(n)));
    assert.equal(taken.size, 50);
  });
  it('signals by name, short name, number; others refused', () => {
    assert.deepEqual(['SIGTERM', 'term', 'KILL', '9', 'SIGRTMIN+1', 'RTMAX'].map(parseSignal), [15, 15, 9, 9, 35, 64]);
    for (const bad of ['SIGNOPE', '0', '65', 'x']) assert.throws(() => parseSignal(bad), /Invalid signal/);
  });
  it('detach keys', () => {
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
    assert.deepEqual([...parseDetachKeys('a,ctrl-@,ctrl-[')], [97, 0, 27]);
    assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys/);
  });
  it('--add-host lines', () => {
    assert.equal(extraHostLine('db:10.0.0.2'), '10.0.0.2\tdb\n');
    assert.equal(extraHostLine('v6=[::1]'), '::1\tv6\n');
    assert.throws(() => extraHostLine('nohost'), /invalid IP address/);
    assert.throws(() => extraHostLine('x:not-an-ip'), /invalid IP address/);
  });
});
