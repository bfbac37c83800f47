/**
 * Daemon to daemon: this pierd as an API client of another pierd (or any
 * Docker Engine API daemon), and `pier image copy IMAGE --to CONTEXT`, which
 * sends an image there without a registry.
 *
 *   const target = await connectTarget({ Host: 'tcp://10.200.0.2:2376', TLS: { CA, Cert, Key } });
 *   const r = await copyImage(images, archives, target, 'app:1', progress);
 *   // r.bytes: what went over the wire; r.layersSent of r.layersTotal
 *
 * The copy asks the target which of the image's layers it lacks (Pier's
 * `POST /images/layers/missing`), then streams a `docker save` archive that
 * carries only those layers' blobs to the target's `POST
 * /images/load?pier-partial=1`, which takes the rest from its own store and
 * checks that the chain is complete. A target that does not know the
 * extension (dockerd) gets every layer through the standard load. Blobs go
 * as stored (a pulled layer stays gzipped, a loaded one raw): nothing is
 * compressed on the way, which on a LAN or loopback beats the CPU it would
 * cost (a registry push compresses, then the pull decompresses).
 */
import { Transform, type Readable } from 'node:stream';
import { hexOf } from '../base/digest.js';
import { EngineError, invalid, messageOf, unavailable } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import { Client, jsonMessages, readAll, type TlsOptions } from '../client/client.js';
import { ApiError } from '../client/errors.js';
import type { RemoteTarget } from '../client/types.js';
import type { ImageArchives } from './archives.js';
import type { ImageService } from './images.js';
import { progressBar, throttled, type Progress } from './progress.js';

export type { RemoteTarget };

const CONNECT_TIMEOUT_MS = 10_000;

/** A client of the target daemon, once it has answered a ping (reachable, TLS accepted). */
export async function connectTarget(t: RemoteTarget | undefined): Promise<Client> {
  if (!t || typeof t.Host !== 'string' || !t.Host) throw invalid('no target daemon given: set Target.Host (tcp://IP:PORT)');
  // The daemon does not dial ssh on a client's say-so (it would run ssh as itself, with its own keys).
  if (/^ssh:\/\//.test(t.Host)) throw invalid(`invalid target ${t.Host}: a daemon reaches another daemon over tcp:// (with TLS) or unix://, not ssh://`);
  let client: Client;
  try {
    const tls: TlsOptions | undefined = t.TLS ? { verify: !t.TLS.SkipVerify, ...(t.TLS.CA ? { ca: t.TLS.CA } : {}), ...(t.TLS.Cert ? { cert: t.TLS.Cert } : {}), ...(t.TLS.Key ? { key: t.TLS.Key } : {}) } : undefined;
    client = new Client({ host: t.Host, ...(tls ? { tls } : {}), userAgent: 'pierd (daemon to daemon)' });
  } catch (e) {
    throw invalid(`invalid target ${t.Host}: ${messageOf(e)}`, e);
  }
  const timeout = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
  try {
    await client.negotiate({ signal: timeout }); // its ping: reachable, TLS accepted, and the API version
  } catch (e) {
    if (timeout.aborted) throw unavailable(`cannot reach the target daemon at ${t.Host}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s; check the address and that it listens there`, e);
    throw unavailable(`cannot reach the target daemon at ${t.Host}: ${messageOf(e)}`, e);
  }
  return client;
}

/**
 * Which of these layers (indexes into diffIds) the target lacks, by Pier's
 * POST /images/layers/missing; undefined when the target is not a Pier
 * daemon (it does not know the extension).
 */
export async function missingLayers(target: Client, diffIds: readonly string[], what: string): Promise<number[] | undefined> {
  try {
    const r = await target.json<{ Missing: number[] }>('POST', '/images/layers/missing', { body: { DiffIds: diffIds } });
    return Array.isArray(r?.Missing) ? r.Missing.filter((i) => Number.isInteger(i) && i >= 0 && i < diffIds.length) : diffIds.map((_, i) => i);
  } catch (e) {
    if (e instanceof ApiError && [404, 405, 501].includes(e.status)) return undefined;
    throw remoteError(target.host, what, e);
  }
}

/** An error the target answered, kept as its kind, worded as coming from there. */
export function remoteError(host: string, what: string, e: unknown): EngineError {
  if (e instanceof ApiError) {
    const kind = e.status === 404 ? 'not-found' : e.status === 409 ? 'conflict' : e.status === 400 ? 'invalid' : 'unavailable';
    return new EngineError(kind, `${what}: the target daemon (${host}) answered: ${e.message}`, { cause: e });
  }
  if (e instanceof EngineError) return e;
  return unavailable(`${what}: the connection to the target daemon (${host}) failed: ${messageOf(e)}`, e);
}

/** A stream that counts what passes through it, and when something last did. */
export class ByteCounter extends Transform {
  bytes = 0;
  lastActivity = Date.now();
  constructor(private readonly onBytes?: (n: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.lastActivity = Date.now();
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

/** No byte sent and no message received for this long: the target is gone without a word (a cut link sends no reset). */
const STALL_MS = 60_000;

export interface SendOptions {
  query?: Record<string, string | boolean>;
  onMessage?: (m: { status?: string; id?: string }) => void;
  stallMs?: number;
}

/**
 * Sends `body` to the target and reads the JSON message stream it answers with to
 * its end; an `error` message throws, and so does a transfer where nothing moves
 * either way for STALL_MS. `body` is destroyed whatever happens, so a dead target
 * never leaves a blob open here.
 */
export async function sendStream(target: Client, method: string, path: string, body: ByteCounter, o: SendOptions = {}): Promise<void> {
  const stallMs = o.stallMs ?? STALL_MS;
  const ac = new AbortController();
  let lastMessage = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - Math.max(lastMessage, body.lastActivity) > stallMs) ac.abort();
  }, Math.min(5_000, stallMs / 4));
  try {
    const res = await target.request(method, path, { query: o.query, body, headers: { 'Content-Type': 'application/x-tar' }, signal: ac.signal });
    if ((res.headers['content-type'] ?? '').includes('json')) {
      for await (const m of jsonMessages(res.body)) {
        lastMessage = Date.now();
        if (m.error || m.errorDetail) throw new ApiError(500, m.errorDetail?.message ?? String(m.error));
        o.onMessage?.(m);
      }
    } else await readAll(res.body);
  } catch (e) {
    if (ac.signal.aborted) throw unavailable(`nothing moved to or from the target for ${stallMs / 1000} s: the connection is gone`, e);
    throw e;
  } finally {
    clearInterval(watchdog);
    body.destroy();
  }
}

/**
 * Streams `tar` to the target through a ByteCounter (`onBytes` sees the running
 * count) and returns the bytes sent; a failure destroys `tar` and is worded as
 * `what` failing there.
 */
export async function sendTar(
  target: Client, what: string, tar: Readable, method: string, path: string, onBytes: (n: number) => void,
  o: SendOptions = {},
): Promise<number> {
  const counter = new ByteCounter(onBytes);
  tar.once('error', (e) => counter.destroy(e));
  tar.pipe(counter);
  try {
    await sendStream(target, method, path, counter, o);
  } catch (e) {
    tar.destroy();
    throw remoteError(target.host, what, e);
  }
  return counter.bytes;
}

export interface CopyResult {
  id: string;
  /** Bytes of archive sent (layers and metadata). */
  bytes: number;
  layersSent: number;
  layersTotal: number;
  /** Whether the target took a partial archive (a Pier daemon) or needed every layer. */
  partial: boolean;
}

/** Copies the image `name` to the target: only the layers it lacks when it is a Pier daemon. */
export async function copyImage(
  images: ImageService, archives: ImageArchives, target: Client, name: string, progress: Progress,
  o: { log?: Logger } = {},
): Promise<CopyResult> {
  const rec = images.resolve(name);
  const v = await images.view(rec);
  const diffIds = v.config.rootfs.diff_ids;
  const short = hexOf(rec.id).slice(0, 12);
  // Which layers the target lacks; a daemon without Pier's extension gets them all.
  const asked = await missingLayers(target, diffIds, `copying image ${name}`);
  const partial = asked !== undefined;
  const missing = asked ?? diffIds.map((_, i) => i);
  const need = new Set(missing);
  const omit = new Set<string>();
  let total = 0;
  v.manifest.layers.forEach((l, i) => {
    if (need.has(i)) total += l.size;
    else omit.add(l.digest);
  });
  for (const i of diffIds.keys()) if (!need.has(i)) progress({ status: 'Layer already exists', id: hexOf(diffIds[i]!).slice(0, 12) });
  o.log?.info({ image: rec.id, target: target.host, layers: diffIds.length, missing: missing.length, bytes: total }, 'image copy: sending');
  const tar = await archives.save([name], { omit });
  const bytes = await sendTar(target, `copying image ${name}`, tar, 'POST', '/images/load', throttled(progress, 'Sending', short, total, 200), {
    query: partial ? { quiet: false, 'pier-partial': true } : { quiet: false },
    onMessage: (m) => {
      // The target's own lines ("Loaded image: …") are worth passing on; its per-layer progress is not.
      if ((m as { stream?: string }).stream) progress({ status: `target: ${(m as { stream: string }).stream.trim()}` });
    },
  });
  progress({ status: 'Sent', id: short, progressDetail: { current: bytes, total }, progress: progressBar(bytes, total) });
  o.log?.info({ image: rec.id, target: target.host, bytes }, 'image copy: done');
  return { id: rec.id, bytes, layersSent: missing.length, layersTotal: diffIds.length, partial };
}
