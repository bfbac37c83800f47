/**
 * One HTTP exchange with a registry, over node:http/https with keep-alive
 * agents, and the timeouts that keep a pull from hanging: connecting
 * (DNS + TCP + TLS) may take at most 10 s, and a connection that carries no
 * byte for 60 s is dropped. Failures to reach the server at all become a
 * TransportError, worded like Go's net/http so that messages read as Docker's:
 *
 *   Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { EngineError, invalid } from '../base/errdefs.js';

export const CONNECT_TIMEOUT_MS = 10_000;
export const IDLE_TIMEOUT_MS = 60_000;

const plainAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
const secureAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
const unverifiedAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });

export interface SendOptions {
  method: string;
  headers?: Record<string, string>;
  /** A Buffer is sent with its length; a stream is sent as is (chunked unless Content-Length is set). */
  body?: Buffer | Readable;
  signal?: AbortSignal;
  /** Verify the server certificate (https); default true. */
  tlsVerify?: boolean;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/** The server could not be reached, or the connection broke: the next endpoint may do better. */
export class TransportError extends EngineError {
  constructor(
    readonly method: string,
    readonly url: string,
    /** What went wrong, in Go's words: "dial tcp: lookup x: no such host". */
    readonly detail: string,
    readonly code: string,
    cause?: unknown,
  ) {
    super('unavailable', method ? `${goMethod(method)} "${url}": ${detail}` : detail, { cause });
    this.name = 'TransportError';
  }
}

/** "GET" → "Get", as Go's url.Error prints the method. */
export const goMethod = (m: string) => m.charAt(0) + m.slice(1).toLowerCase();

/**
 * Sends one request; resolves when the response headers arrive. The caller
 * must consume or destroy the body. A kept-alive connection the server closed
 * meanwhile fails at once; a request that can be sent again is, once.
 */
export async function send(url: URL, o: SendOptions): Promise<IncomingMessage> {
  try {
    return await sendOnce(url, o);
  } catch (e) {
    const stale = e instanceof TransportError && (e.code === 'ECONNRESET' || e.code === 'EPIPE') && (e as TransportError & { reused?: boolean }).reused;
    if (!stale || !(o.body === undefined || Buffer.isBuffer(o.body))) throw e;
    return sendOnce(url, o);
  }
}

function sendOnce(url: URL, o: SendOptions): Promise<IncomingMessage> {
  const cancelled = () => (o.signal?.reason instanceof Error ? o.signal.reason : new EngineError('unavailable', 'the operation was cancelled'));
  if (o.signal?.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const agent = https ? (o.tlsVerify === false ? unverifiedAgent : secureAgent) : plainAgent;
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...o.headers };
    if (Buffer.isBuffer(o.body) && headers['Content-Length'] === undefined) headers['Content-Length'] = String(o.body.length);
    if (o.body === undefined && ['POST', 'PUT', 'PATCH'].includes(o.method) && headers['Content-Length'] === undefined) headers['Content-Length'] = '0';
    const req = (https ? httpsRequest : httpRequest)(url, { method: o.method, headers, agent });
    let phase: 'connect' | 'idle' = 'connect';
    let responded = false;
    const onAbort = () => req.destroy(cancelled());
    const fail = (e: unknown) => {
      clearTimeout(connectTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (responded) return;
      const err = transportError(o.method, url, e, phase);
      if (req.reusedSocket) Object.assign(err, { reused: true });
      reject(err);
    };
    const connectTimer = setTimeout(() => req.destroy(Object.assign(new Error('connect timeout'), { code: 'ECONNECTTIMEOUT' })), o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    const connected = () => {
      clearTimeout(connectTimer);
      phase = 'idle';
    };
    req.on('socket', (s: Socket) => {
      if (req.reusedSocket) connected();
      else s.once(https ? 'secureConnect' : 'connect', connected);
    });
    req.setTimeout(o.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('idle timeout'), { code: 'EIDLETIMEOUT' })));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.on('response', (res) => {
      responded = true;
      clearTimeout(connectTimer);
      res.once('close', () => o.signal?.removeEventListener('abort', onAbort));
      resolve(res);
    });
    if (o.body === undefined || Buffer.isBuffer(o.body)) req.end(o.body);
    else {
      const body = o.body;
      body.on('error', (e) => req.destroy(e));
      // A server may answer (401, 404) before it has read the body: stop sending then.
      req.once('response', () => body.unpipe(req));
      req.once('close', () => {
        if (!body.readableEnded) body.destroy();
      });
      body.pipe(req);
    }
  });
}

export const USER_AGENT = 'pier/0.1.0 (linux) docker/28 (compatible)';

/** Reads a whole (small) body; refuses more than `limit` bytes. */
export async function readBody(res: IncomingMessage, limit: number, what = 'response'): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > limit) {
    res.destroy();
    throw invalid(`${what} is too large (${declared} bytes, at most ${limit} accepted)`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > limit) {
        res.destroy();
        throw invalid(`${what} is too large (more than ${limit} bytes)`);
      }
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw new TransportError('', '', `reading ${what}: ${causeText(e, undefined, 'idle')}`, (e as NodeJS.ErrnoException).code ?? 'EREAD', e);
  }
  return Buffer.concat(chunks);
}

/** Discards a body so that its socket goes back to the pool. */
export function drain(res: IncomingMessage): void {
  res.resume();
  res.on('error', () => undefined);
}

function transportError(method: string, url: URL, e: unknown, phase: 'connect' | 'idle'): Error {
  if (e instanceof EngineError && !(e instanceof TransportError)) return e; // cancelled
  const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  return new TransportError(method, url.href, causeText(e, url, phase), code, e);
}

/** Go's wording of network failures. */
export function causeText(e: unknown, url: URL | undefined, phase: 'connect' | 'idle'): string {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const host = url?.hostname.replace(/^\[|\]$/g, '') ?? err.hostname ?? '';
  const port = url ? url.port || (url.protocol === 'https:' ? '443' : '80') : '';
  const addr = err.address ? `${err.address.includes(':') ? `[${err.address}]` : err.address}:${err.port ?? port}` : `${host}:${port}`;
  switch (err.code) {
    case 'ENOTFOUND':
      return `dial tcp: lookup ${err.hostname ?? host}: no such host`;
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${err.hostname ?? host}: temporary failure in name resolution`;
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'ENETUNREACH':
      return `dial tcp ${addr}: connect: network is unreachable`;
    case 'EHOSTUNREACH':
      return `dial tcp ${addr}: connect: no route to host`;
    case 'ECONNECTTIMEOUT':
    case 'ETIMEDOUT':
      return phase === 'connect' ? `dial tcp ${addr}: i/o timeout` : 'read: i/o timeout';
    case 'EIDLETIMEOUT':
      return `net/http: no data received for ${IDLE_TIMEOUT_MS / 1000}s (i/o timeout)`;
    case 'ECONNRESET':
      return phase === 'connect' ? `dial tcp ${addr}: connection reset by peer` : 'read: connection reset by peer';
    case 'EPIPE':
      return 'write: broken pipe';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
    case 'EPROTO':
      return 'http: server gave HTTP response to HTTPS client';
    default:
      if (err.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/.test(err.code)) return `tls: failed to verify certificate: x509: ${err.message}`;
      if (err.message === 'aborted') return 'unexpected EOF';
      return err.message ?? String(e);
  }
}
