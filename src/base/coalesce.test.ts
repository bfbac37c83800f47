import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Coalesced } from './coalesce.js';

describe('Coalesced', () => {
  it('runs once at a time, and a burst during a run shares one later run that sees the latest state', async () => {
    let state = 0;
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    const c = new Coalesced(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push(state);
      await new Promise((r) => setTimeout(r, 10));
      active--;
    });
    state = 1;
    const first = c.request();
    await new Promise((r) => setTimeout(r, 1)); // the first run is going on
    state = 2;
    const burst = [c.request(), c.request(), c.request()];
    assert.equal(burst[0], burst[2], 'the requests made during a run share one promise');
    await Promise.all([first, ...burst]);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(maxActive, 1);
  });

  it('a failed run rejects its requesters but not the next run', async () => {
    let fail = true;
    const c = new Coalesced(async () => {
      if (fail) throw new Error('boom');
    });
    await assert.rejects(c.request(), /boom/);
    fail = false;
    await c.request();
    await c.settled();
  });
});
