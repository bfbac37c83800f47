import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { StreamError } from '../client/errors.js';
import { displayJSONMessages, displayMessage, progressString } from './jsonmessage.js';

async function render(lines: object[], isTerminal: boolean, width = 200): Promise<{ out: string; err?: unknown }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c) => (text += String(c)));
  const src = Readable.from([lines.map((l) => JSON.stringify(l)).join('\r\n')]);
  try {
    await displayJSONMessages(src, out, { isTerminal, width });
    return { out: text };
  } catch (err) {
    return { out: text, err };
  }
}

describe('progressString', () => {
  it('draws the bar on wide terminals only', () => {
    const p = { current: 1_000_000, total: 2_000_000 };
    assert.equal(progressString(p, 200), `[=========================>                         ]      1MB/2MB`);
    assert.equal(progressString(p, 80), '     1MB/2MB');
    assert.equal(progressString({ current: 5, total: 10, units: 'items' }, 80), '5/10 items');
    assert.equal(progressString({ current: 12345 }, 80), ' 12.35kB');
    assert.equal(progressString({}, 80), '');
  });
  it('estimates time left', () => {
    const now = 1_000_000_000_000;
    const p = { current: 100, total: 400, start: now / 1000 - 10 };
    assert.match(progressString(p, 200, now), / 30s$/);
  });
});

describe('displayMessage', () => {
  it('prints status lines and streams', () => {
    assert.equal(displayMessage({ status: 'sha256:abc' }, false), 'sha256:abc\n');
    assert.equal(displayMessage({ stream: 'Loaded image: busybox:latest\n' }, false), 'Loaded image: busybox:latest\n');
    assert.equal(displayMessage({ id: 'abc', status: 'Pulling fs layer' }, false), 'abc: Pulling fs layer\n');
  });
  it('hides progress bars off a terminal', () => {
    assert.equal(displayMessage({ id: 'abc', status: 'Loading layer', progressDetail: { current: 1, total: 10 } }, false), '');
    // An empty progressDetail is a plain status.
    assert.equal(displayMessage({ id: 'abc', status: 'Waiting', progressDetail: {} }, false), 'abc: Waiting\n');
  });
  it('prints timestamps with nanoseconds, in local time', () => {
    const line = displayMessage({ status: 'x', timeNanoText: '1704067200123456789' }, false);
    assert.match(line, /^20(23-12-31|24-01-01)T\d\d:\d\d:00\.123456789(Z|[+-]\d\d:\d\d) x\n$/);
    if (new Date(0).getTimezoneOffset() === 0) assert.equal(line, '2024-01-01T00:00:00.123456789Z x\n');
  });
  it('throws errorDetail', () => {
    assert.throws(() => displayMessage({ errorDetail: { message: 'boom' }, error: 'boom' }, false), (e: unknown) => e instanceof StreamError && e.message === 'boom');
  });
});

describe('displayJSONMessages', () => {
  it('renders a load stream off a terminal', async () => {
    const r = await render([
      { status: 'Loading layer', progressDetail: { current: 32768, total: 2130000 }, progress: '[>  ]', id: 'c81600888f8d' },
      { stream: 'Loaded image: busybox:latest\n' },
    ], false);
    assert.equal(r.err, undefined);
    assert.equal(r.out, 'Loaded image: busybox:latest\n');
  });
  it('redraws progress per id on a terminal like docker', async () => {
    const r = await render([
      { status: 'Loading layer', progressDetail: { current: 32768, total: 2130000 }, id: 'c81600888f8d' },
      { status: 'Loading layer', progressDetail: { current: 2130000, total: 2130000 }, id: 'c81600888f8d' },
      { stream: 'Loaded image: busybox:latest\n' },
    ], true, 0);
    assert.equal(
      r.out,
      '\n\x1b[1A\x1b[2K\rc81600888f8d: Loading layer  32.77kB/2.13MB\r\x1b[1B' +
        '\x1b[1A\x1b[2K\rc81600888f8d: Loading layer   2.13MB/2.13MB\r\x1b[1B' +
        'Loaded image: busybox:latest\n',
    );
  });
  it('stops at an error after printing what came before', async () => {
    const r = await render([{ status: 'one' }, { errorDetail: { message: 'no space left' }, error: 'no space left' }, { status: 'never' }], false);
    assert.equal(r.out, 'one\n');
    assert.ok(r.err instanceof StreamError);
    assert.equal((r.err as Error).message, 'no space left');
  });
});
