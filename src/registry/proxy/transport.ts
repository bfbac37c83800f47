/**
 * How the pull-through client talks HTTP: one request, no redirects followed,
 * no retries, no decompression (the client does those things itself).
 *
 * The default is node:http(s) rather than the global fetch because an upstream
 * may be `insecure` (self-signed TLS), which fetch cannot express without the
 * undici package, and because fetch would transparently gunzip a blob sent
 * with Content-Encoding, breaking its size and digest. A fetch function may be
 * passed instead (tests, custom dispatchers); it gets `redirect: 'manual'`.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** The body; read it or `destroy()` it, so the connection is released. */
  body: Readable;
}

export interface Transport {
  request(url: URL, method: string, headers: Record<string, string>): Promise<UpstreamResponse>;
  close(): void;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Time allowed for a connection to be silent (connect, headers, or mid-body) before it is dropped. */
const IDLE_TIMEOUT_MS = 60_000;

export function nodeTransport(o: { insecure?: boolean; idleTimeoutMs?: number } = {}): Transport {
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true, rejectUnauthorized: !o.insecure }),
  };
  const idle = o.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  return {
    request(url, method, headers) {
      const secure = url.protocol === 'https:';
      const mod = secure ? https : http;
      return new Promise((resolve, reject) => {
        const req = mod.request(url, { method, headers, agent: secure ? agents.https : agents.http });
        req.setTimeout(idle, () => req.destroy(new Error(`no data from ${url.host} for ${idle / 1000}s`)));
        req.on('error', reject);
        req.on('response', (res) => {
          const h = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          // After the headers, an error (timeout, reset) must reach whoever reads the body.
          req.off('error', reject);
          req.on('error', (e) => res.destroy(e));
          resolve({ status: res.statusCode ?? 0, headers: h, body: res });
        });
        req.end();
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export function fetchTransport(f: FetchLike): Transport {
  return {
    async request(url, method, headers) {
      const res = await f(url.href, { method, headers, redirect: 'manual' });
      const body = res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) : Readable.from([]);
      return { status: res.status, headers: res.headers, body };
    },
    close() {},
  };
}
