/**
 * Layer compression: recognising it by magic number, and undoing it as a
 * stream. OCI layers are plain tar, tar+gzip or tar+zstd; bzip2 and xz are
 * recognised only to refuse them with a clear message.
 *
 *   const tar = await decompress(await store.reader(desc.digest));
 *   const { diffId } = await applyLayer(dir, tar);
 *
 * Node 20 has no zstd, so zstd layers go through `zstd -dc` (Debian's zstd
 * package) as a stream filter.
 */
import { spawn } from 'node:child_process';
import { PassThrough, Readable, type Transform } from 'node:stream';
import { createGunzip, createGzip, deflateRawSync, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { EngineError, invalid, messageOf, unavailable } from '../base/errdefs.js';

export type Compression = 'gzip' | 'zstd' | 'none';
/** What `docker cp` also accepts (archives, not layers). */
export type ArchiveCompression = Compression | 'bzip2' | 'xz';

/** Bytes needed to tell every format we know apart (bzip2's header is the longest). */
export const MAGIC_BYTES = 10;

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
// "BZh" + block size '1'..'9' + the block magic (pi); the longer match keeps a
// plain tar whose first file is named "BZh..." from being taken for bzip2.
const BZIP2_BLOCK = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

const startsWith = (b: Uint8Array, magic: readonly number[], at = 0): boolean =>
  b.length >= at + magic.length && magic.every((m, i) => b[at + i] === m);

/** Compression of a layer from its first bytes (pass at least MAGIC_BYTES when the layer is that long). */
export function detectCompression(head: Uint8Array): Compression {
  const kind = detectArchiveCompression(head);
  if (kind === 'bzip2' || kind === 'xz') throw invalid(`layer is compressed with ${kind}, which OCI images do not allow: only gzip, zstd or uncompressed tar`);
  return kind;
}

/** Compression of any tar stream from its first bytes, bzip2 and xz included. */
export function detectArchiveCompression(head: Uint8Array): ArchiveCompression {
  if (startsWith(head, GZIP)) return 'gzip';
  if (startsWith(head, ZSTD)) return 'zstd';
  if (startsWith(head, [0x42, 0x5a, 0x68]) && head[3]! >= 0x31 && head[3]! <= 0x39 && startsWith(head, BZIP2_BLOCK, 4)) return 'bzip2';
  if (startsWith(head, XZ)) return 'xz';
  return 'none';
}

/**
 * The uncompressed bytes of a layer stream, whatever its compression.
 * Corrupt or truncated input makes the returned stream fail with an
 * `invalid` error. On failure, and when the returned stream is destroyed
 * early, src is destroyed too.
 */
export async function decompress(src: Readable, o: { archive?: boolean } = {}): Promise<Readable> {
  // Peek on a stream of our own: src may have 'data' listeners (progress
  // counters) that would set it flowing, and lose bytes, behind our back.
  const own = new PassThrough();
  src.on('error', (e) => own.destroy(e));
  own.on('close', () => {
    if (!own.readableEnded) src.destroy();
  });
  src.pipe(own);
  let head: Buffer;
  let stream: Readable;
  try {
    [head, stream] = await peek(own, MAGIC_BYTES);
  } catch (e) {
    own.destroy();
    throw e;
  }
  let kind: ArchiveCompression;
  try {
    kind = o.archive ? detectArchiveCompression(head) : detectCompression(head);
  } catch (e) {
    stream.destroy();
    throw e;
  }
  switch (kind) {
    case 'none':
      return stream;
    case 'gzip':
      // zlib's default 16 KiB output chunks make gunzip 4-10x slower than 1 MiB ones (measured).
      return filter(stream, createGunzip({ chunkSize: 1 << 20 }), gzipError);
    case 'zstd':
      return unzstd(stream);
    case 'bzip2':
    case 'xz':
      return decompressCommand(kind, stream, {
        missing: `cannot run ${kind} to decompress the archive`,
        corrupt: (why) => `${kind} archive is corrupt or truncated: ${why}`,
      });
  }
}

/**
 * A gzip-compressed copy of src (level 1-9, default zlib's 6 like Go's DefaultCompression).
 *
 * With `adaptive`, the stream is cut into 4 MiB windows, each compressed as its own
 * gzip member on libuv's thread pool, several at once, and written in order: a
 * multi-member gzip file, which RFC 1952 allows and every gzip reader (Go's,
 * containerd's, Node's, gzip(1)) reads as one stream. Each window's level is
 * chosen by deflating its first 64 KiB: a window that does not shrink by 5 % is
 * stored (level 0: a CRC and a copy) instead of deflated, which loses nothing on
 * already-compressed or random bytes: 64 MiB of random bytes took 1.6 s as one
 * deflating stream and 0.41 s this way (push figures: docs/benchmarks.md).
 * Windows compress in parallel, so compressible layers use every core too.
 */
export function compressGzip(src: Readable, o: { level?: number; adaptive?: boolean } = {}): Readable {
  const level = o.level ?? 6;
  if (!o.adaptive) return filter(src, createGzip({ level, chunkSize: 1 << 20 }), (e) => e);
  return Readable.from(gzipMembers(src, level), { objectMode: false, highWaterMark: 1 << 20 });
}

const WINDOW = 4 << 20;
const PROBE = 64 << 10;
const IN_FLIGHT = 4;
const gzipAsync = promisify(gzip);

async function* gzipMembers(src: Readable, level: number): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = [];
  const start = (w: Buffer) => {
    const head = w.subarray(0, PROBE);
    const incompressible = deflateRawSync(head, { level: 1 }).length > 0.95 * head.length;
    pending.push(gzipAsync(w, { level: incompressible ? 0 : level }));
  };
  let parts: Buffer[] = [];
  let have = 0;
  let any = false;
  for await (const chunk of src as AsyncIterable<Buffer>) {
    let c = chunk;
    while (have + c.length >= WINDOW) {
      const take = WINDOW - have;
      parts.push(c.subarray(0, take));
      c = c.subarray(take);
      start(Buffer.concat(parts));
      any = true;
      parts = [];
      have = 0;
      if (pending.length >= IN_FLIGHT) yield await pending.shift()!;
    }
    if (c.length) {
      parts.push(c);
      have += c.length;
    }
  }
  if (have > 0 || !any) start(Buffer.concat(parts));
  while (pending.length) yield await pending.shift()!;
}

/**
 * Reads until n bytes (or the end) are buffered and returns them together with
 * a stream that still yields every byte: src itself with the head pushed back,
 * or a new stream when src already ended.
 */
async function peek(src: Readable, n: number): Promise<[Buffer, Readable]> {
  const chunks: Buffer[] = [];
  let len = 0;
  let ended = false;
  while (len < n && !ended) {
    const chunk = src.read() as Buffer | string | null;
    if (chunk !== null) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(b);
      len += b.length;
      continue;
    }
    ended = await new Promise<boolean>((resolve, reject) => {
      const done = (end: boolean) => () => {
        src.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
        resolve(end);
      };
      const onReadable = done(false);
      const onEnd = done(true);
      const onClose = () => {
        src.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
        if (src.readableEnded) resolve(true);
        else reject(src.errored ?? new Error('layer stream closed before its end'));
      };
      const onError = (e: Error) => {
        src.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
        reject(e);
      };
      if (src.errored) return reject(src.errored);
      if (src.readableEnded) return resolve(true);
      src.on('readable', onReadable).on('end', onEnd).on('error', onError).on('close', onClose);
    });
  }
  const head = Buffer.concat(chunks);
  if (ended) return [head, Readable.from(head.length ? [head] : [], { objectMode: false })];
  src.unshift(head);
  return [head, src];
}

/**
 * src piped through t, into a PassThrough we control, so that filter errors
 * can be reworded before anyone sees them and an early destroy by the reader
 * stops everything upstream.
 */
function filter(src: Readable, t: Transform, reword: (e: Error) => Error): Readable {
  const out = new PassThrough();
  src.on('error', (e) => {
    t.destroy();
    out.destroy(e);
  });
  t.on('error', (e) => {
    src.destroy();
    out.destroy(reword(e));
  });
  out.on('close', () => {
    if (!out.readableEnded) {
      src.destroy();
      t.destroy();
    }
  });
  src.pipe(t).pipe(out);
  return out;
}

function gzipError(e: Error): Error {
  if (e instanceof EngineError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'Z_BUF_ERROR') return invalid('gzip layer is truncated: unexpected end of compressed data', e);
  return invalid(`gzip layer is corrupt: ${messageOf(e)}`, e);
}

/**
 * `zstd -dc` between src and the returned stream. The output ends only once
 * zstd has exited 0: zstd writes what it could decode of a truncated input
 * before failing, and ending on its stdout alone would pass that off as a
 * whole layer.
 */
function unzstd(src: Readable): Readable {
  return decompressCommand('zstd', src, {
    missing: 'cannot run zstd to decompress the layer (is the zstd package installed?)',
    corrupt: (why) => `zstd layer is corrupt or truncated: ${why.replace(/^zstd: /, '').replace(/\*stdin\*\\?:? ?/, '')}`,
  });
}

/** `cmd -d -c -q` between src and the result, which ends only once cmd has exited 0. */
function decompressCommand(cmd: 'zstd' | 'bzip2' | 'xz', src: Readable, words: { missing: string; corrupt: (why: string) => string }): Readable {
  const out = new PassThrough();
  const child = spawn(cmd, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let exited = false;
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.on('error', (e) => {
    exited = true;
    src.destroy();
    out.destroy(unavailable(`${words.missing}: ${messageOf(e)}`, e));
  });
  child.on('close', (code, signal) => {
    exited = true;
    if (code === 0) out.end();
    else if (!out.destroyed) out.destroy(invalid(words.corrupt(stderr.trim() || `exit ${code ?? signal}`)));
  });
  // cmd exiting early (corrupt input) closes its stdin: EPIPE here, the real reason comes with 'close'.
  child.stdin.on('error', () => undefined);
  src.on('error', (e) => {
    out.destroy(e);
    if (!exited) child.kill('SIGKILL');
  });
  out.on('close', () => {
    if (!exited) {
      src.destroy();
      child.kill('SIGKILL');
    }
  });
  src.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  return out;
}
