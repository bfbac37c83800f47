import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatches, matchKVList, parseFilters, pruneLabelsMatch } from './filters.js';

describe('label filters', () => {
  it('labelMatches: a key, or key=value exactly', () => {
    assert.equal(labelMatches({ a: '1' }, 'a'), true);
    assert.equal(labelMatches({ a: '1' }, 'a=1'), true);
    assert.equal(labelMatches({ a: '1' }, 'a=2'), false);
    assert.equal(labelMatches({ a: '1=2' }, 'a=1=2'), true);
    assert.equal(labelMatches(null, 'a'), false);
    assert.equal(matchKVList([], null), true);
    assert.equal(matchKVList(['a', 'b=2'], { a: '', b: '2' }), true);
  });

  it("pruneLabelsMatch is moby's matchLabels: every label holds, and not all of label! hold", () => {
    const f = (o: Record<string, string[]>) => parseFilters(JSON.stringify(o));
    assert.equal(pruneLabelsMatch(f({}), {}), true);
    assert.equal(pruneLabelsMatch(f({ label: ['a'] }), { b: '1' }), false);
    assert.equal(pruneLabelsMatch(f({ 'label!': ['keep'] }), { keep: 'yes' }), false);
    assert.equal(pruneLabelsMatch(f({ 'label!': ['keep'] }), {}), true);
    // Two label! filters exclude only what matches both, as Docker's prune does.
    assert.equal(pruneLabelsMatch(f({ 'label!': ['keep', 'pin'] }), { keep: 'yes' }), true);
    assert.equal(pruneLabelsMatch(f({ 'label!': ['keep', 'pin'] }), { keep: 'yes', pin: '1' }), false);
  });
});
