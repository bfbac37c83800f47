import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../command.js';
import { compile } from '../format/template.js';
import { eventLine, eventTemplateData, getTimestamp, parseGoDuration } from './events.js';

describe('parseGoDuration', () => {
  it('parses Go durations', () => {
    assert.equal(parseGoDuration('10m'), 600_000);
    assert.equal(parseGoDuration('1h30m'), 5_400_000);
    assert.equal(parseGoDuration('1.5s'), 1500);
    assert.equal(parseGoDuration('-2s'), -2000);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('10'), undefined);
    assert.equal(parseGoDuration('bogus'), undefined);
  });
});

describe('getTimestamp', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);
  it('turns durations into seconds before now', () => {
    assert.equal(getTimestamp('5m', now), String(now / 1000 - 300));
    assert.equal(getTimestamp('0s', now), String(now / 1000));
  });
  it('passes unix timestamps through', () => {
    assert.equal(getTimestamp('1704067200', now), '1704067200');
    assert.equal(getTimestamp('1704067200.5', now), '1704067200.5');
    assert.equal(getTimestamp('0', now), '0');
  });
  it('parses RFC 3339 dates', () => {
    assert.equal(getTimestamp('2024-01-01T00:00:00Z', now), '1704067200.000000000');
    assert.equal(getTimestamp('2024-01-01T01:00:00.25+01:00', now), '1704067200.250000000');
  });
  it('rejects the rest like docker', () => {
    assert.throws(() => getTimestamp('bogus', now), (e: unknown) => e instanceof StatusError && e.message === 'failed to parse value as time or duration: "bogus"');
  });
});

describe('event output', () => {
  const e = {
    status: 'tag', id: 'sha256:abc', Type: 'image', Action: 'tag',
    Actor: { ID: 'sha256:abc', Attributes: { name: 'busybox:latest', a: '1' } },
    scope: 'local', time: 1704067200, timeNano: 1704067200123456800, timeNanoText: '1704067200123456789',
  };
  it('prints docker\'s default line with exact nanoseconds', () => {
    const line = eventLine(e);
    assert.match(line, /^\S+\.123456789\S* image tag sha256:abc \(a=1, name=busybox:latest\)\n$/);
    if (new Date(0).getTimezoneOffset() === 0) {
      assert.equal(line, '2024-01-01T00:00:00.123456789Z image tag sha256:abc (a=1, name=busybox:latest)\n');
    }
  });
  it('gives templates JSON fields and Go field names', () => {
    const data = eventTemplateData(e);
    assert.equal(compile('{{json .}}').execute(data),
      '{"status":"tag","id":"sha256:abc","Type":"image","Action":"tag","Actor":{"ID":"sha256:abc","Attributes":{"name":"busybox:latest","a":"1"}},"scope":"local","time":1704067200,"timeNano":1704067200123456789}');
    assert.equal(compile('{{.Status}} {{.ID}} {{.TimeNano}} {{.Actor.Attributes.name}}').execute(data), 'tag sha256:abc 1704067200123456789 busybox:latest');
    assert.throws(() => compile('{{.Foo}}').execute(eventTemplateData({})), /can't evaluate field Foo in type \*events.Message/);
  });
});
