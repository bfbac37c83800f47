/**
 * Reading container logs as pier-monitor writes them: 16-byte record headers
 * (stream, flags, length, nanosecond timestamp) before each line. Records are
 * re-framed for the Engine API without touching their bytes: the multiplexed
 * format gets Docker's 8-byte header, a tty container's log goes out raw.
 * Reads are 1 MiB at a time and output is batched, so throughput is bounded by
 * the disk, not by per-line work.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { createReadStream, existsSync, watch } from 'node:fs';
import { Readable } from 'node:stream';
import { rfc3339NanoFixed } from '../base/time.js';

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  /** ns since the epoch; records before are skipped. */
  since?: bigint;
  /** ns since the epoch; records after are skipped. */
  until?: bigint;
  /** Only the last n lines (-1 or undefined: all). */
  tail?: number;
  timestamps: boolean;
  /** Docker's multiplexed format (non-tty) or raw bytes (tty). */
  multiplexed: boolean;
  follow: boolean;
  signal?: AbortSignal;
}

const HDR = 16;
const CHUNK = 1 << 20;
const FRAME_MAX = 64 << 10;

/**
 * Writes the log to `write` (which returns false when the consumer wants a
 * pause; `drain` then resolves when it can take more). With follow, goes on
 * until `stopped` resolves (the container ended) and the file is read to its end.
 */
export async function streamLog(
  path: string,
  o: LogReadOptions,
  write: (b: Buffer) => boolean,
  drain: () => Promise<void>,
  stopped?: Promise<unknown>,
): Promise<void> {
  // Rotated files (--log-opt max-size/max-file) come first, oldest first; --tail reaches back into them.
  const older = rotatedFiles(path);
  if (older.length) {
    const plan: { file: string; tail?: number }[] = [];
    if (o.tail === undefined || o.tail < 0) for (const f of older) plan.unshift({ file: f });
    else {
      let need = o.tail - (await lineCount(path, o));
      for (const f of older) {
        if (need <= 0) break;
        const n = await lineCount(f, o);
        plan.unshift({ file: f, tail: Math.min(need, n) });
        need -= n;
      }
    }
    for (const p of plan) await streamFile(p.file, { ...o, follow: false, tail: p.tail }, write, drain);
  }
  await streamFile(path, o, write, drain, stopped);
}

/** LOG.1, LOG.2, ...: newest first. */
/** A container's log files oldest first: the rotated ones (LOG.N … LOG.1), then LOG itself when it exists. */
export function logFiles(path: string): string[] {
  const out = rotatedFiles(path).reverse();
  if (existsSync(path)) out.push(path);
  return out;
}

/** A container's whole log (logFiles) as one stream of records, as a move sends it. */
export function readLogHistory(path: string): Readable {
  const files = logFiles(path);
  return Readable.from(
    (async function* () {
      for (const f of files) yield* createReadStream(f, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>;
    })(),
  );
}

/** A record longer than this is no record pier-monitor writes (it writes at most 64 KiB per record). */
const RECORD_MAX = 1 << 20;

export class LogHistoryError extends Error {}

/**
 * Writes a record stream (readLogHistory's) as the log at `path`, refusing
 * anything that is not whole records of stdout or stderr: it goes to a file
 * beside `path` and takes its place only once all of it was read and found
 * well-formed, so a bad or cut upload leaves the log as it was. Returns the
 * bytes written.
 */
export async function writeLogHistory(path: string, body: AsyncIterable<Buffer> | Iterable<Buffer>, o: { maxBytes: number; signal?: AbortSignal }): Promise<number> {
  const tmp = `${path}.incoming-${process.pid}`;
  const fh = await open(tmp, 'w', 0o640);
  let total = 0;
  let carry = Buffer.alloc(0);
  try {
    for await (const chunk of body) {
      o.signal?.throwIfAborted();
      total += chunk.length;
      if (total > o.maxBytes) throw new LogHistoryError(`the log history is larger than ${o.maxBytes} bytes`);
      let data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      let off = 0;
      while (data.length - off >= HDR) {
        const stream = data[off]!;
        const len = data.readUInt32BE(off + 4);
        if ((stream !== 1 && stream !== 2) || len > RECORD_MAX) throw new LogHistoryError(`not a container log: a record at byte ${total - data.length + off} is malformed`);
        if (data.length - off < HDR + len) break;
        off += HDR + len;
      }
      carry = Buffer.from(data.subarray(off));
      data = data.subarray(0, off);
      if (data.length) await fh.write(data);
    }
    if (carry.length) throw new LogHistoryError(`not a container log: it ends in the middle of a record (${carry.length} bytes left)`);
    await fh.close();
    await rename(tmp, path);
    return total;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

function rotatedFiles(path: string): string[] {
  const out: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) out.push(`${path}.${i}`);
  return out;
}

async function lineCount(path: string, o: LogReadOptions): Promise<number> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return 0;
  }
  try {
    return (await tailOffset(fh, 0, o, true)).lines;
  } finally {
    await fh.close();
  }
}

async function streamFile(
  path: string,
  o: LogReadOptions,
  write: (b: Buffer) => boolean,
  drain: () => Promise<void>,
  stopped?: Promise<unknown>,
): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return; // no log yet: nothing was written
  }
  try {
    let pos = 0;
    if (o.tail !== undefined && o.tail >= 0) pos = (await tailOffset(fh, o.tail, o)).offset;
    const atLineStart = [true, true, true];
    // Consecutive lines of one stream share a frame (up to 64 KiB): a client demultiplexes a
    // handful of frames per read instead of one per line. Docker's format allows any frame size.
    let last: { header: Buffer; stream: number; len: number } | undefined;
    const emit = (out: Buffer[], stream: number, ts: bigint, partial: boolean, data: Buffer) => {
      let payload = data;
      if (o.timestamps) {
        if (atLineStart[stream]) payload = Buffer.concat([Buffer.from(rfc3339NanoFixed(ts) + ' '), data]);
        atLineStart[stream] = !partial;
      }
      if (o.multiplexed) {
        if (last && last.stream === stream && last.len + payload.length <= FRAME_MAX && out.length) {
          last.len += payload.length;
          last.header.writeUInt32BE(last.len, 4);
        } else {
          const h = Buffer.alloc(8);
          h[0] = stream;
          h.writeUInt32BE(payload.length, 4);
          out.push(h);
          last = { header: h, stream, len: payload.length };
        }
      }
      out.push(payload);
    };
    const readFrom = async (): Promise<void> => {
      const buf = Buffer.allocUnsafe(CHUNK);
      let carry = Buffer.alloc(0);
      for (;;) {
        if (o.signal?.aborted) return;
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : Buffer.from(buf.subarray(0, bytesRead));
        const out: Buffer[] = [];
        let off = 0;
        while (data.length - off >= HDR) {
          const len = data.readUInt32BE(off + 4);
          if (data.length - off < HDR + len) break;
          const stream = data[off]!;
          const ts = data.readBigUInt64BE(off + 8);
          const wanted = (stream === 1 ? o.stdout : o.stderr) && (o.since === undefined || ts >= o.since) && (o.until === undefined || ts <= o.until);
          if (wanted) emit(out, stream, ts, (data[off + 1]! & 1) === 1, data.subarray(off + HDR, off + HDR + len));
          off += HDR + len;
        }
        carry = data.subarray(off);
        last = undefined; // a frame never spans two writes
        if (out.length && !write(Buffer.concat(out))) await drain();
      }
      pos -= carry.length; // an incomplete record is read again once complete
    };
    await readFrom();
    if (!o.follow || !stopped) return;
    let done = false;
    let wake: (() => void) | undefined;
    const poke = () => wake?.();
    void stopped.then(() => {
      done = true;
      poke();
    });
    o.signal?.addEventListener('abort', poke, { once: true });
    let w = watch(path, poke);
    try {
      while (!done && !o.signal?.aborted) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          wake = () => {
            clearTimeout(t);
            r();
          };
          if (done || o.signal?.aborted) wake();
        });
        await readFrom();
        // The monitor rotated the log: the old file is read to its end above; go on in the new one.
        const now = await stat(path).catch(() => undefined);
        if (now && now.ino !== (await fh.stat()).ino) {
          await fh.close();
          fh = await open(path, 'r');
          pos = 0;
          w.close(); // inotify followed the old file
          w = watch(path, poke);
        } else if (now && now.size < pos) pos = 0; // truncated (max-file 1)
      }
      await readFrom();
    } finally {
      w.close();
      o.signal?.removeEventListener('abort', poke);
    }
  } finally {
    await fh.close();
  }
}

/** The offset of the n-th last complete line (of the wanted streams). */
async function tailOffset(fh: FileHandle, n: number, o: LogReadOptions, count = false): Promise<{ offset: number; lines: number }> {
  if (n === 0 && !count) return { offset: (await fh.stat()).size, lines: 0 };
  let lines = 0;
  const starts: number[] = []; // ring of line-start offsets
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  let carry = Buffer.alloc(0);
  let base = 0;
  const lineStart = [true, true, true];
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) break;
    const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    let off = 0;
    while (data.length - off >= HDR) {
      const len = data.readUInt32BE(off + 4);
      if (data.length - off < HDR + len) break;
      const stream = data[off]!;
      if (stream === 1 ? o.stdout : o.stderr) {
        if (lineStart[stream]) {
          lines++;
          starts.push(base + off);
          if (starts.length > n) starts.shift();
        }
        lineStart[stream] = (data[off + 1]! & 1) === 0;
      }
      off += HDR + len;
    }
    pos += bytesRead;
    base += off;
    carry = Buffer.from(data.subarray(off));
  }
  return { offset: starts.length ? starts[0]! : pos, lines };
}
