import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, formatG, goDuration, humanDuration, humanSize, humanSizeWithPrecision } from './units.js';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const day = 24 * h;
const week = 7 * day;
const month = 30 * day;
const year = 365 * day;

// go-units duration_test.go TestHumanDuration
describe('humanDuration', () => {
  const cases: [number, string][] = [
    [450, 'Less than a second'], [1 * s, '1 second'], [45 * s, '45 seconds'], [46 * s, '46 seconds'],
    [59 * s, '59 seconds'], [60 * s, 'About a minute'], [1 * m, 'About a minute'], [3 * m, '3 minutes'],
    [35 * m, '35 minutes'], [35 * m + 40 * s, '35 minutes'], [45 * m, '45 minutes'], [45 * m + 40 * s, '45 minutes'],
    [46 * m, '46 minutes'], [59 * m, '59 minutes'], [1 * h, 'About an hour'], [1 * h + 29 * m, 'About an hour'],
    [1 * h + 31 * m, '2 hours'], [1 * h + 59 * m, '2 hours'], [3 * h, '3 hours'], [3 * h + 29 * m, '3 hours'],
    [3 * h + 31 * m, '4 hours'], [3 * h + 59 * m, '4 hours'], [3 * h + 60 * m, '4 hours'], [24 * h, '24 hours'],
    [1 * day + 12 * h, '36 hours'], [2 * day, '2 days'], [7 * day, '7 days'], [13 * day + 5 * h, '13 days'],
    [2 * week, '2 weeks'], [2 * week + 4 * day, '2 weeks'], [3 * week, '3 weeks'], [4 * week, '4 weeks'],
    [4 * week + 3 * day, '4 weeks'], [1 * month, '4 weeks'], [1 * month + 2 * week, '6 weeks'],
    [2 * month, '2 months'], [2 * month + 2 * week, '2 months'], [3 * month, '3 months'],
    [3 * month + 1 * week, '3 months'], [5 * month + 2 * week, '5 months'], [13 * month, '13 months'],
    [23 * month, '23 months'], [24 * month, '24 months'], [24 * month + 2 * week, '2 years'],
    [3 * year + 2 * month, '3 years'],
  ];
  for (const [d, want] of cases) it(`${d}ms → ${want}`, () => assert.equal(humanDuration(d), want));
});

// go-units size_test.go
describe('humanSize', () => {
  it('matches go-units', () => {
    assert.equal(humanSize(1000), '1kB');
    assert.equal(humanSize(1024), '1.024kB');
    assert.equal(humanSize(1000000), '1MB');
    assert.equal(humanSize(1048576), '1.049MB');
    assert.equal(humanSize(2 * 1000 * 1000), '2MB');
    assert.equal(humanSize(3.42 * 1000 ** 3), '3.42GB');
    assert.equal(humanSize(5.372 * 1000 ** 4), '5.372TB');
    assert.equal(humanSize(2.22 * 1000 ** 5), '2.22PB');
    assert.equal(humanSize(1e21), '1ZB');
    assert.equal(humanSize(1e24), '1YB');
    assert.equal(humanSize(1e27), '1000YB');
    assert.equal(humanSize(0), '0B');
    assert.equal(humanSize(999), '999B');
  });
  it('has docker images precision (3)', () => {
    assert.equal(humanSizeWithPrecision(4261234, 3), '4.26MB');
    assert.equal(humanSizeWithPrecision(1986000, 3), '1.99MB');
    assert.equal(humanSizeWithPrecision(5300, 3), '5.3kB');
    assert.equal(humanSizeWithPrecision(100000, 3), '100kB');
    // Go's %g switches to exponent form when rounding reaches the precision.
    assert.equal(humanSizeWithPrecision(999900, 3), '1e+03kB');
  });
  it('rounds half to even on the exact value like Go', () => {
    assert.equal(humanSizeWithPrecision(1125, 3), '1.12kB'); // 1.125 is exact in binary
    assert.equal(humanSizeWithPrecision(1135, 3), '1.14kB'); // 1.135 is a bit above
    assert.equal(humanSizeWithPrecision(2500, 1), '2kB');
    assert.equal(humanSizeWithPrecision(3500, 1), '4kB');
  });
  it('bytesSize uses binary units', () => {
    assert.equal(bytesSize(1024), '1KiB');
    assert.equal(bytesSize(1024 * 1024), '1MiB');
    assert.equal(bytesSize(1048576 * 1.5), '1.5MiB');
    assert.equal(bytesSize(25278062592), '23.54GiB');
    assert.equal(bytesSize(0), '0B');
  });
});

describe('formatG', () => {
  it('formats like Go %g', () => {
    assert.equal(formatG(100, 3), '100');
    assert.equal(formatG(0.0001, 3), '0.0001');
    assert.equal(formatG(0.00001234, 3), '1.23e-05');
    assert.equal(formatG(123456, 3), '1.23e+05');
    assert.equal(formatG(1.5, 4), '1.5');
    assert.equal(formatG(-2.25, 2), '-2.2');
  });
});

describe('goDuration', () => {
  it('formats like time.Duration.String', () => {
    assert.equal(goDuration(0), '0s');
    assert.equal(goDuration(5000), '5s');
    assert.equal(goDuration(90_000), '1m30s');
    assert.equal(goDuration(3_723_000), '1h2m3s');
    assert.equal(goDuration(120_000), '2m0s');
  });
});
