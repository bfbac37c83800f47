// A fake Engine API daemon for the CLI's tests: it records every request and
// answers from a handler, hijacked (Upgrade: tcp) connections included. With it
// the tests run the real docker CLI and `pier` against the same daemon and
// compare what each sent and printed.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../app.js';
import type { IO } from '../command.js';

export interface Recorded {
  method: string;
  /** The path without the /vX.Y prefix. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string | Buffer;
  headers?: Record<string, string>;
  /** Send the head (and `text`, if any) and keep the response open, as /events does. */
  hang?: boolean;
}

/** Answer a recorded request; undefined means 404 "page not found". */
export type Handler = (r: Recorded) => Reply | undefined | Promise<Reply | undefined>;
/** Serve an upgraded connection; `body` is what came with the request. */
export type HijackHandler = (r: Recorded, socket: Socket) => void;

export class FakeEngine {
  readonly dir = mkdtempSync(join(tmpdir(), 'pier-fake-engine-'));
  readonly sock = join(this.dir, 'engine.sock');
  readonly host = `unix://${this.sock}`;
  requests: Recorded[] = [];
  private server: http.Server;

  constructor(public handler: Handler = () => undefined, public hijack: HijackHandler = (_r, s) => s.end(), readonly apiVersion = '1.50') {
    this.server = http.createServer(async (req, res) => {
      const r = await this.record(req, Buffer.concat(await collect(req)));
      if (r.path === '/_ping') {
        res.writeHead(200, { 'Api-Version': this.apiVersion, Ostype: 'linux', 'Content-Type': 'text/plain' });
        return res.end(req.method === 'HEAD' ? undefined : 'OK');
      }
      this.requests.push(r);
      let reply: Reply | undefined;
      try {
        reply = await this.handler(r);
      } catch (e) {
        reply = { status: 500, json: { message: (e as Error).message } };
      }
      reply ??= { status: 404, json: { message: 'page not found' } };
      const headers: Record<string, string> = { 'Api-Version': this.apiVersion, ...reply.headers };
      if (reply.json !== undefined) headers['Content-Type'] ??= 'application/json';
      res.writeHead(reply.status ?? 200, headers);
      if (reply.hang) {
        res.flushHeaders();
        if (reply.text) res.write(reply.text);
        return;
      }
      res.end(reply.json !== undefined ? JSON.stringify(reply.json) + '\n' : reply.text);
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      // A CLI that has already gone makes late writes fail with EPIPE: the end of the session, not an error.
      socket.on('error', () => undefined);
      // The request body (exec start's JSON) arrives with the upgraded bytes.
      const want = Number(req.headers['content-length'] ?? 0);
      let buf = head;
      const done = async () => {
        const r = await this.record(req, buf.subarray(0, want));
        this.requests.push(r);
        const rest = buf.subarray(want);
        if (rest.length) socket.unshift(rest);
        socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
        this.hijack(r, socket);
      };
      if (buf.length >= want) return void done();
      const onData = (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= want) {
          socket.off('data', onData);
          socket.pause();
          void done();
        }
      };
      socket.on('data', onData);
    });
  }

  private async record(req: http.IncomingMessage, body: Buffer): Promise<Recorded> {
    const url = new URL(req.url ?? '/', 'http://x');
    return { method: req.method ?? '', path: url.pathname.replace(/^\/v[\d.]+/, ''), query: url.searchParams, headers: req.headers, body };
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(this.sock, r));
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Requests since `n` (to pick out one command's). */
  since(n: number): Recorded[] {
    return this.requests.slice(n);
  }
}

async function collect(req: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks;
}

/** A frame of Docker's multiplexed stream. */
export function frame(stream: number, data: string | Buffer): Buffer {
  const payload = Buffer.from(data);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export const DOCKER = '/usr/local/bin/docker';
export const haveDocker = () => existsSync(DOCKER);

/** Run the real docker CLI (asynchronously: the fake daemon lives in this process). */
export function docker(host: string, args: string[], o: { stdin?: string | Buffer; env?: Record<string, string>; cwd?: string; binary?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(DOCKER, ['-H', host, ...args], {
      // (TZ only when set: Go reads an empty TZ as UTC, Node as the system zone.)
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent', DOCKER_CONFIG: join(tmpdir(), 'pier-test-no-docker-config'), ...(process.env['TZ'] !== undefined ? { TZ: process.env['TZ'] } : {}), ...o.env },
      // binary: stdout as latin1, one character per byte.
      encoding: o.binary ? 'latin1' : 'utf8',
      maxBuffer: 1 << 26,
      cwd: o.cwd,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: stdout, err: stderr });
    });
    child.stdin?.on('error', () => undefined); // docker may exit before it reads its stdin
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
    else child.stdin?.end();
  });
}

/** Run `pier` in this process against `host`. */
export async function pier(host: string, args: string[], o: { stdin?: string | Buffer; env?: Record<string, string>; tty?: boolean; binary?: boolean } = {}): Promise<CliResult> {
  const stdout = Object.assign(new PassThrough(), { isTTY: o.tty ?? false, columns: 80, rows: 24 });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += o.binary ? c.toString('latin1') : String(c)));
  stderr.on('data', (c) => (err += String(c)));
  const io: IO = {
    stdin: Object.assign(Readable.from(o.stdin === undefined ? [] : [Buffer.from(o.stdin)]), { isTTY: false }),
    stdout,
    stderr,
    env: { HOME: '/nonexistent', DOCKER_CONFIG: join(tmpdir(), 'pier-test-no-docker-config'), ...o.env },
  };
  const code = await runCli(['-H', host, ...args], io);
  return { code, out, err };
}

/** pier's messages say "pier" where docker's say "docker". */
export const dockerize = (s: string) => s.replaceAll('pier', 'docker');
