import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goJsonTime, rfc3339Local, rfc3339NanoFixed } from './time.js';

describe('times as Go writes them', () => {
  it('JSON time: RFC3339Nano in UTC, trailing zeros trimmed, no fraction when whole', () => {
    assert.equal(goJsonTime(1_700_000_000_123_400_000n), '2023-11-14T22:13:20.1234Z');
    assert.equal(goJsonTime(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
    assert.equal(goJsonTime(1_700_000_000_000_000_001), '2023-11-14T22:13:20Z', 'a number loses what a double cannot hold');
    assert.equal(goJsonTime(-1n), '1969-12-31T23:59:59.999999999Z');
  });

  it("log timestamps: always nine digits", () => {
    assert.equal(rfc3339NanoFixed(1_700_000_000_000_000_005n), '2023-11-14T22:13:20.000000005Z');
    assert.equal(rfc3339NanoFixed(1_700_000_000_000_000_000n), '2023-11-14T22:13:20.000000000Z');
  });

  it('RFC3339 in the local zone: seconds, Z or the offset', () => {
    const s = rfc3339Local(Date.UTC(2026, 10, 28, 4, 0, 0) * 1e6);
    assert.match(s, /^2026-11-28T\d\d:00:00(Z|[+-]\d\d:\d\d)$/);
    if (process.env.TZ === 'UTC' || new Date().getTimezoneOffset() === 0) assert.equal(s, '2026-11-28T04:00:00Z');
  });
});
