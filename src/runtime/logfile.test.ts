import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, renameSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rfc3339NanoFixed as rfc3339Nano } from '../base/time.js';
import { LogHistoryError, logFiles, readLogHistory, streamLog, writeLogHistory, type LogReadOptions } from './logfile.js';

/** A record as pier-monitor writes it. */
function rec(stream: number, ts: bigint, text: string, partial = false): Buffer {
  const data = Buffer.from(text);
  const h = Buffer.alloc(16);
  h[0] = stream;
  h[1] = partial ? 1 : 0;
  h.writeUInt32BE(data.length, 4);
  h.writeBigUInt64BE(ts, 8);
  return Buffer.concat([h, data]);
}

const T0 = 1_700_000_000_000_000_000n;
const base: LogReadOptions = { stdout: true, stderr: true, timestamps: false, multiplexed: false, follow: false };

async function read(path: string, o: Partial<LogReadOptions>, stopped?: Promise<unknown>): Promise<Buffer> {
  const out: Buffer[] = [];
  await streamLog(path, { ...base, ...o }, (b) => (out.push(b), true), async () => undefined, stopped);
  return Buffer.concat(out);
}

/** Splits Docker's multiplexed stream into [stream, text] pairs. */
function demux(b: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let o = 0; o < b.length; ) {
    const n = b.readUInt32BE(o + 4);
    out.push([b[o]!, b.subarray(o + 8, o + 8 + n).toString()]);
    o += 8 + n;
  }
  return out;
}

describe('container log files', () => {
  let dir: string;
  let log: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-log-'));
    log = join(dir, 'c.log');
    writeFileSync(log, Buffer.concat([
      rec(1, T0, 'one\n'), rec(2, T0 + 1_000_000_000n, 'err1\n'), rec(1, T0 + 2_000_000_000n, 'two ', true),
      rec(1, T0 + 2_500_000_000n, 'and a half\n'), rec(1, T0 + 3_000_000_000n, 'three\n'),
    ]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives raw bytes of both streams in order', async () => {
    assert.equal((await read(log, {})).toString(), 'one\nerr1\ntwo and a half\nthree\n');
  });

  it('frames the records in the multiplexed format with their stream; a run of one stream shares a frame', async () => {
    assert.deepEqual(demux(await read(log, { multiplexed: true })), [[1, 'one\n'], [2, 'err1\n'], [1, 'two and a half\nthree\n']]);
    const stamped = demux(await read(log, { multiplexed: true, timestamps: true }));
    assert.deepEqual(stamped.map(([s]) => s), [1, 2, 1]);
    assert.equal(stamped[2]![1].split('\n').filter(Boolean).length, 2, 'one stamp per line inside the shared frame');
  });

  it('selects streams', async () => {
    assert.equal((await read(log, { stdout: false })).toString(), 'err1\n');
    assert.equal((await read(log, { stderr: false })).toString(), 'one\ntwo and a half\nthree\n');
  });

  it('tail counts lines, not records (a partial line joins its end)', async () => {
    assert.equal((await read(log, { tail: 2 })).toString(), 'two and a half\nthree\n');
    assert.equal((await read(log, { tail: 0 })).toString(), '');
    assert.equal((await read(log, { tail: 100 })).toString(), 'one\nerr1\ntwo and a half\nthree\n');
  });

  it('since and until filter by the record time (ns)', async () => {
    const since = T0 + 1_500_000_000n;
    assert.equal((await read(log, { since })).toString(), 'two and a half\nthree\n');
    assert.equal((await read(log, { until: T0 + 1_000_000_000n })).toString(), 'one\nerr1\n');
  });

  it('timestamps prefix each line once, with 9 fractional digits', async () => {
    const text = (await read(log, { timestamps: true, stderr: false })).toString();
    assert.equal(text, `${rfc3339Nano(T0)} one\n${rfc3339Nano(T0 + 2_000_000_000n)} two and a half\n${rfc3339Nano(T0 + 3_000_000_000n)} three\n`);
    assert.equal(rfc3339Nano(T0 + 5n), '2023-11-14T22:13:20.000000005Z');
  });

  it('a missing log is empty, not an error', async () => {
    assert.equal((await read(join(dir, 'none.log'), {})).length, 0);
  });

  it('follow reads what is appended until the container stops', async () => {
    const f = join(dir, 'follow.log');
    writeFileSync(f, rec(1, T0, 'first\n'));
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got = read(f, { follow: true }, stopped);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(f, rec(1, T0 + 1n, 'second\n'));
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(f, rec(1, T0 + 2n, 'third\n'));
    stop();
    assert.equal((await got).toString(), 'first\nsecond\nthird\n');
  });

  it('rotated files are read oldest first, and --tail reaches back into them', async () => {
    const f = join(dir, 'rot.log');
    writeFileSync(`${f}.2`, Buffer.concat([rec(1, T0, 'a\n'), rec(1, T0 + 1n, 'b\n')]));
    writeFileSync(`${f}.1`, Buffer.concat([rec(1, T0 + 2n, 'c\n'), rec(1, T0 + 3n, 'd\n')]));
    writeFileSync(f, rec(1, T0 + 4n, 'e\n'));
    assert.equal((await read(f, {})).toString(), 'a\nb\nc\nd\ne\n');
    assert.equal((await read(f, { tail: 3 })).toString(), 'c\nd\ne\n');
    assert.equal((await read(f, { tail: 4 })).toString(), 'b\nc\nd\ne\n');
    assert.equal((await read(f, { tail: 1 })).toString(), 'e\n');
  });

  it('follow goes on across a rotation (the old file read to its end, then the new one)', async () => {
    const f = join(dir, 'frot.log');
    writeFileSync(f, rec(1, T0, 'one\n'));
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got = read(f, { follow: true }, stopped);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(f, rec(1, T0 + 1n, 'two\n'));
    renameSync(f, `${f}.1`);
    writeFileSync(f, rec(1, T0 + 2n, 'three\n'));
    await new Promise((r) => setTimeout(r, 1300));
    appendFileSync(f, rec(1, T0 + 3n, 'four\n'));
    await new Promise((r) => setTimeout(r, 300));
    stop();
    assert.equal((await got).toString(), 'one\ntwo\nthree\nfour\n');
  });
  it('a log history (a move) is every file oldest first, and is written back whole or not at all', async () => {
    const src = join(dir, 'hist.log');
    writeFileSync(`${src}.2`, rec(1, T0, 'oldest\n'));
    writeFileSync(`${src}.1`, rec(2, T0 + 1n, 'older\n'));
    writeFileSync(src, rec(1, T0 + 2n, 'newest\n'));
    assert.deepEqual(logFiles(src), [`${src}.2`, `${src}.1`, src]);
    const chunks: Buffer[] = [];
    for await (const c of readLogHistory(src)) chunks.push(c as Buffer);
    const history = Buffer.concat(chunks);

    // Given in pieces that cut records in two, it is written as one file that reads the same.
    const dst = join(dir, 'moved.log');
    const pieces = [history.subarray(0, 5), history.subarray(5, 30), history.subarray(30)];
    assert.equal(await writeLogHistory(dst, pieces, { maxBytes: 1 << 20 }), history.length);
    assert.deepEqual(readFileSync(dst), history);
    assert.equal((await read(dst, {})).toString(), 'oldest\nolder\nnewest\n');

    // Bad input leaves the log as it was, and no temporary file.
    const keep = join(dir, 'keep.log');
    writeFileSync(keep, rec(1, T0, 'kept\n'));
    const bad: [string, Buffer[], RegExp][] = [
      ['cut short', [history.subarray(0, history.length - 3)], /ends in the middle of a record/],
      ['not a log', [Buffer.from('this is not a container log at all')], /a record at byte 0 is malformed/],
      ['too big', [history], /larger than 10 bytes/],
    ];
    for (const [what, body, msg] of bad) {
      await assert.rejects(writeLogHistory(keep, body, { maxBytes: what === 'too big' ? 10 : 1 << 20 }), (e) => e instanceof LogHistoryError && msg.test(e.message), what);
      assert.equal((await read(keep, {})).toString(), 'kept\n', what);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('incoming')), []);
    assert.ok(!existsSync(`${dst}.1`));
  });
});
