// A minimal HTTP/1.1 client over node:net, one connection per request.
//
// Why not node:http: loading it costs the CLI several milliseconds on every run,
// and the Engine API needs only a small part of it — request bodies sent as is or
// chunked, responses with Content-Length, chunked or read-to-close bodies. Owning
// the socket also makes connection hijacking (attach/exec) straightforward later.
//
// TCP endpoints may speak TLS (docker's --tls/--tlsverify): node:tls is loaded only
// then, so commands on the unix socket never pay for it.

import * as net from 'node:net';
import type * as tlsModule from 'node:tls';
import { createRequire } from 'node:module';
import { Duplex, PassThrough, type Readable } from 'node:stream';

/**
 * TLS to a remote daemon, as docker's --tls/--tlsverify flags: `verify` false
 * skips checking the daemon's certificate (--tls alone); cert and key are this
 * client's certificate, which a daemon run with --tlsverify requires. PEM text.
 */
export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  verify: boolean;
}

/** ssh://[user@]host[:port]: each connection is `ssh … host pier system dial-stdio` (docker's ssh connection helper). */
export interface SshTarget {
  host: string;
  user?: string;
  port?: number;
  /** Extra ssh arguments (PIER_SSH_OPTS), e.g. ["-i", "key", "-o", "StrictHostKeyChecking=yes"]. */
  opts?: string[];
}

export interface HttpEndpoint {
  socketPath?: string;
  hostname?: string;
  port?: number;
  tls?: TlsOptions;
  ssh?: SshTarget;
}

let tlsMod: typeof tlsModule | undefined;
function loadTls(): typeof tlsModule {
  const p = process as unknown as { getBuiltinModule?: (id: string) => unknown };
  tlsMod ??= (p.getBuiltinModule?.('node:tls') ?? createRequire('/')('node:tls')) as typeof tlsModule;
  return tlsMod;
}

/**
 * What TLS connections to one daemon share: the secure context (the PEMs are
 * parsed once, not per request) and the daemon's latest session ticket, so that
 * every request after the first resumes the session instead of a full handshake.
 */
interface TlsState {
  ctx: tlsModule.SecureContext;
  sessions: Map<string, Buffer>;
}
const tlsStates = new WeakMap<TlsOptions, TlsState>();

function tlsState(t: TlsOptions): TlsState {
  let st = tlsStates.get(t);
  if (!st) {
    const o: tlsModule.SecureContextOptions = { minVersion: 'TLSv1.2' };
    if (t.ca !== undefined) o.ca = t.ca;
    if (t.cert !== undefined) o.cert = t.cert;
    if (t.key !== undefined) o.key = t.key;
    let ctx: tlsModule.SecureContext;
    try {
      ctx = loadTls().createSecureContext(o);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw Object.assign(new Error(`could not load the TLS client certificate, key or CA: ${err.message}`), { code: 'ERR_TLS_CONFIG', cause: e });
    }
    st = { ctx, sessions: new Map() };
    tlsStates.set(t, st);
  }
  return st;
}

/**
 * A connection through ssh: the remote `pier system dial-stdio` joins ssh's
 * stdin/stdout to the remote daemon's socket. ssh failing (no such host,
 * refused key, no pier there) destroys the stream with ssh's own message.
 * Typed as a socket for the request code, which uses only the stream part.
 */
function dialSsh(t: SshTarget): net.Socket {
  const args = ['-T', '-o', 'ConnectTimeout=30', ...(t.opts ?? []), ...(t.user ? ['-l', t.user] : []), ...(t.port ? ['-p', String(t.port)] : []), '--', t.host, 'pier', 'system', 'dial-stdio'];
  const { spawn } = createRequire('/')('node:child_process') as typeof import('node:child_process');
  const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let gotData = false;
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      child.stdout.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.destroyed) return cb();
      child.stdin.write(chunk, () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    destroy(err, cb) {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      cb(err);
    },
  });
  child.stdout.on('data', (b: Buffer) => {
    gotData = true;
    if (!stream.push(b)) child.stdout.pause();
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()).length > 8192 && (stderr = stderr.slice(-8192)));
  child.stdin.on('error', () => undefined); // ssh gone: its exit says why
  child.on('error', (e: NodeJS.ErrnoException) =>
    stream.destroy(Object.assign(new Error(e.code === 'ENOENT' ? 'ssh:// hosts need the ssh command (apt-get install openssh-client)' : `could not run ssh: ${e.message}`), { code: 'ESSH' })));
  // The end of the stream is ssh's exit (not its stdout's EOF), so that a failure is told as ssh's.
  child.on('close', (code) => {
    if (code !== 0 && code !== null && !gotData) {
      const why = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
      stream.destroy(Object.assign(new Error(`ssh ${t.user ? `${t.user}@` : ''}${t.host} exited with status ${code}${why ? `: ${why}` : ''}`), { code: 'ESSH' }));
    } else stream.push(null);
  });
  return stream as unknown as net.Socket;
}

/** Open a connection to the daemon (a request's, or a raw one): a unix socket, plain TCP, TLS over TCP, or ssh. */
export function dialEndpoint(ep: HttpEndpoint): net.Socket {
  if (ep.socketPath) return net.connect({ path: ep.socketPath });
  if (ep.ssh) return dialSsh(ep.ssh);
  const host = ep.hostname ?? '127.0.0.1';
  const port = ep.port ?? 2375;
  if (!ep.tls) return net.connect({ host, port });
  const st = tlsState(ep.tls);
  const key = `${host}:${port}`;
  const o: tlsModule.ConnectionOptions = { host, port, secureContext: st.ctx, rejectUnauthorized: ep.tls.verify, ALPNProtocols: ['http/1.1'] };
  // SNI carries names only; an address is checked against the certificate's IP SANs.
  if (!net.isIP(host)) o.servername = host;
  const session = st.sessions.get(key);
  if (session) o.session = session;
  const socket = loadTls().connect(o);
  socket.on('session', (s: Buffer) => st.sessions.set(key, s));
  return socket;
}

/** The daemon hung up without a response (code EMPTYRESPONSE, so callers can say why that may be). */
const noResponse = () => Object.assign(new Error('connection closed before the response'), { code: 'EMPTYRESPONSE' });

/** The Host header: docker sends the daemon's address for TCP and a fixed name for sockets. */
const hostHeader = (ep: HttpEndpoint) => (ep.socketPath || ep.ssh ? 'api.moby.localhost' : `${ep.hostname}:${ep.port}`);

export interface HttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Sent with Content-Length when a Buffer/string, chunked when a stream. */
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
}

export interface HttpResponse {
  statusCode: number;
  statusMessage: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: PassThrough;
}

const CRLF = '\r\n';

/** Decodes a response body into `out` and reports when it is complete. */
class BodyDecoder {
  private remaining: number; // bytes left of a Content-Length body or the current chunk
  private state: 'length' | 'close' | 'size' | 'data' | 'data-crlf' | 'trailer' | 'done';
  private line = '';

  constructor(private readonly out: PassThrough, headers: Record<string, string>, noBody: boolean) {
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    const cl = headers['content-length'];
    this.remaining = 0;
    if (noBody) this.state = 'done';
    else if (te.includes('chunked')) this.state = 'size';
    else if (cl !== undefined) {
      this.remaining = Number(cl);
      this.state = this.remaining > 0 ? 'length' : 'done';
    } else this.state = 'close';
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Feed bytes; returns false when the consumer wants us to slow down. */
  push(buf: Buffer): boolean {
    let ok = true;
    let i = 0;
    while (i < buf.length && this.state !== 'done') {
      switch (this.state) {
        case 'close':
          ok = this.out.write(i === 0 ? buf : buf.subarray(i)) && ok;
          i = buf.length;
          break;
        case 'length':
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          ok = this.out.write(buf.subarray(i, i + n)) && ok;
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = this.state === 'length' ? 'done' : 'data-crlf';
          break;
        }
        case 'size':
        case 'data-crlf':
        case 'trailer': {
          const nl = buf.indexOf(10, i);
          const end = nl === -1 ? buf.length : nl;
          this.line += buf.toString('latin1', i, end);
          i = end;
          if (nl === -1) break;
          i++; // skip \n
          const line = this.line.replace(/\r$/, '');
          this.line = '';
          if (this.state === 'data-crlf') this.state = 'size';
          else if (this.state === 'trailer') {
            if (line === '') this.state = 'done';
          } else {
            const size = parseInt(line.split(';')[0]!.trim(), 16);
            if (Number.isNaN(size)) throw new Error(`malformed chunked encoding: ${JSON.stringify(line)}`);
            if (size === 0) this.state = 'trailer';
            else {
              this.remaining = size;
              this.state = 'data';
            }
          }
          break;
        }
      }
    }
    return ok;
  }

  /** The connection closed: fine for read-to-close bodies, truncation otherwise. */
  eof(): Error | undefined {
    if (this.state === 'close' || this.state === 'done') {
      this.state = 'done';
      return undefined;
    }
    return new Error('unexpected EOF');
  }
}

function parseHead(head: string): { statusCode: number; statusMessage: string; headers: Record<string, string> } {
  const lines = head.split(CRLF);
  const m = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m) throw new Error(`malformed HTTP response: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c <= 0) continue;
    const k = l.slice(0, c).trim().toLowerCase();
    const v = l.slice(c + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { statusCode: Number(m[1]), statusMessage: m[2] ?? '', headers };
}

/** Send one request; resolves once the response head has arrived. */
/**
 * The response head at the start of buf and the bytes after it, interim
 * responses (100 Continue) skipped; no head yet when it is incomplete (rest is
 * then what to keep). Throws on a malformed or oversized head.
 */
function takeHead(buf: Buffer): { head?: ReturnType<typeof parseHead>; rest: Buffer } {
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buf.length > 1 << 20) throw new Error('HTTP response head too large');
      return { rest: buf };
    }
    const head = parseHead(buf.toString('latin1', 0, end));
    const rest = buf.subarray(end + 4);
    if (head.statusCode >= 100 && head.statusCode < 200 && head.statusCode !== 101) {
      buf = rest; // interim response: the real one follows
      continue;
    }
    return { head, rest };
  }
}

export function httpRequest(ep: HttpEndpoint, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = dialEndpoint(ep);
    let res: HttpResponse | undefined;
    let decoder: BodyDecoder | undefined;
    let headBuf: Buffer = Buffer.alloc(0);
    let settled = false;

    const fail = (err: Error) => {
      if (!settled) {
        settled = true;
        reject(err);
      } else if (res && !decoder?.done) res.body.destroy(err);
      socket.destroy();
    };
    const onAbort = () => fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    if (req.signal) {
      if (req.signal.aborted) return onAbort();
      req.signal.addEventListener('abort', onAbort, { once: true });
    }

    const finish = () => {
      req.signal?.removeEventListener('abort', onAbort);
      res!.body.end();
      socket.destroy();
    };

    const feed = (chunk: Buffer) => {
      try {
        if (!decoder!.push(chunk)) {
          socket.pause();
          res!.body.once('drain', () => socket.resume());
        }
        if (decoder!.done) finish();
      } catch (e) {
        fail(e as Error);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (res) return feed(chunk);
      headBuf = headBuf.length ? Buffer.concat([headBuf, chunk]) : chunk;
      {
        let taken;
        try {
          taken = takeHead(headBuf);
        } catch (e) {
          return fail(e as Error);
        }
        if (!taken.head) return void (headBuf = taken.rest);
        const { head, rest } = taken;
        res = { ...head, body: new PassThrough() };
        const noBody = req.method === 'HEAD' || head.statusCode === 204 || head.statusCode === 304;
        decoder = new BodyDecoder(res.body, head.headers, noBody);
        settled = true;
        resolve(res);
        if (decoder.done) finish();
        else if (rest.length) feed(rest);
        return;
      }
    });
    socket.on('end', () => {
      if (!res) return fail(noResponse());
      const err = decoder!.eof();
      if (err) fail(err);
      else finish();
    });
    socket.on('error', (err) => fail(err));
    socket.on('close', () => {
      if (!res) fail(noResponse());
    });

    // Request head and body. Writes are queued until the socket connects.
    const headers: Record<string, string> = { Host: hostHeader(ep), ...req.headers };
    const body = req.body;
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = String(Buffer.byteLength(body));
    else if (body) headers['Transfer-Encoding'] = 'chunked';
    headers['Connection'] = 'close';
    let head = `${req.method} ${req.path} HTTP/1.1${CRLF}`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}${CRLF}`;
    head += CRLF;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      socket.write(body === undefined ? head : Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]));
      return;
    }
    socket.write(head);
    void (async () => {
      try {
        for await (const c of body) {
          const chunk = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
          if (chunk.length === 0) continue;
          if (socket.destroyed) return;
          socket.write(`${chunk.length.toString(16)}${CRLF}`);
          socket.write(chunk);
          const ok = socket.write(CRLF);
          if (!ok && !socket.destroyed) await new Promise((r) => socket.once('drain', r));
        }
        if (!socket.destroyed) socket.write(`0${CRLF}${CRLF}`);
      } catch (e) {
        fail(e as Error);
      }
    })();
  });
}

/** A connection taken over after `Upgrade: tcp` (attach, exec start). */
export interface HijackedResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** The raw stream: read the container's output from it, write its input to it,
   *  end() it to half-close (the daemon then sees EOF on stdin and keeps sending).
   *  It comes paused, so nothing is lost before a reader is attached: read it with
   *  `for await`, pipe() it, or resume() it after adding a 'data' listener. */
  socket: net.Socket;
}

/**
 * Send a request asking to upgrade the connection to a raw TCP stream, as
 * Docker's attach and exec start do. Resolves with the socket once the daemon
 * answers 101 (or 2xx, which old daemons send before streaming on the same
 * connection); an error status resolves as an ordinary response with its body,
 * for the caller to turn into an error.
 */
export function httpHijack(ep: HttpEndpoint, req: HttpRequest & { body?: Buffer | string }): Promise<HijackedResponse | HttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = dialEndpoint(ep);
    let headBuf: Buffer = Buffer.alloc(0);
    let settled = false;
    let res: HttpResponse | undefined;
    let decoder: BodyDecoder | undefined;
    const fail = (err: Error) => {
      if (!settled) {
        settled = true;
        reject(err);
      } else if (res && !decoder?.done) res.body.destroy(err);
      socket.destroy();
    };
    const onAbort = () => fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    if (req.signal) {
      if (req.signal.aborted) return onAbort();
      req.signal.addEventListener('abort', onAbort, { once: true });
    }
    const onData = (chunk: Buffer) => {
      if (res) {
        try {
          decoder!.push(chunk);
          if (decoder!.done) {
            res.body.end();
            socket.destroy();
          }
        } catch (e) {
          fail(e as Error);
        }
        return;
      }
      headBuf = headBuf.length ? Buffer.concat([headBuf, chunk]) : chunk;
      {
        let taken;
        try {
          taken = takeHead(headBuf);
        } catch (e) {
          return fail(e as Error);
        }
        if (!taken.head) return void (headBuf = taken.rest);
        const { head, rest } = taken;
        settled = true;
        req.signal?.removeEventListener('abort', onAbort);
        if (head.statusCode === 101 || (head.statusCode >= 200 && head.statusCode < 300)) {
          // From here on the connection is the container's stream: hand it over
          // with whatever followed the head already in the buffer.
          socket.off('data', onData);
          socket.off('end', onEnd);
          socket.off('close', onClose);
          socket.pause();
          if (rest.length) socket.unshift(rest);
          resolve({ statusCode: head.statusCode, headers: head.headers, socket });
          return;
        }
        res = { ...head, body: new PassThrough() };
        decoder = new BodyDecoder(res.body, head.headers, false);
        resolve(res);
        if (decoder.done) {
          res.body.end();
          socket.destroy();
        } else if (rest.length) onData(rest);
        return;
      }
    };
    const onEnd = () => {
      if (!res) return fail(noResponse());
      const err = decoder!.eof();
      if (err) fail(err);
      else {
        res.body.end();
        socket.destroy();
      }
    };
    const onClose = () => {
      if (!settled) fail(noResponse());
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', (err) => {
      if (!settled || res) fail(err);
    });

    const headers: Record<string, string> = { Host: hostHeader(ep), ...req.headers };
    const body = req.body ?? '';
    headers['Content-Length'] = String(Buffer.byteLength(body));
    headers['Connection'] = 'Upgrade';
    headers['Upgrade'] = 'tcp';
    let head = `${req.method} ${req.path} HTTP/1.1${CRLF}`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}${CRLF}`;
    head += CRLF;
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]));
  });
}

/** True for the result of httpHijack that carries the upgraded connection. */
export const isHijacked = (r: HijackedResponse | HttpResponse): r is HijackedResponse => 'socket' in r;
