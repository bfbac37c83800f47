// Streaming over a hijacked connection (attach, exec, run): the container's
// output, demultiplexed unless it has a TTY; the local stdin copied in, with the
// detach key sequence recognised; the terminal in raw mode while a TTY session
// lasts; the container's TTY kept at the terminal's size; signals forwarded.
//
// Docker's multiplexed stream is a sequence of frames, each an 8-byte header
// [stream, 0, 0, 0, size(uint32 BE)] and `size` bytes of payload, where stream
// is 0 stdin, 1 stdout, 2 stderr or 3 an error from the daemon.

import { spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { Client } from '../client/client.js';

/** The default escape sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([16, 17]);

const CTRL_KEYS = ['ctrl-@', ...'abcdefghijklmnopqrstuvwxyz'.split('').map((c) => `ctrl-${c}`), 'ctrl-[', 'ctrl-\\', 'ctrl-]', 'ctrl-^', 'ctrl-_'];

/** moby/term.ToBytes: "ctrl-p,ctrl-q" → [16, 17]; a single character stands for itself. */
export function parseDetachKeys(keys: string): Buffer {
  const codes: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) {
      codes.push(key.charCodeAt(0) & 0xff);
      continue;
    }
    const code = CTRL_KEYS.indexOf(key);
    if (code !== -1) codes.push(code);
    else if (key === 'DEL') codes.push(127);
    else throw new Error(`Unknown character: '${key}'`);
  }
  return Buffer.from(codes);
}

/**
 * moby/term's escape proxy: a key of the sequence is held back until the
 * sequence completes (detach) or breaks (the held keys are passed on). Like
 * docker, it looks only at single-byte reads, which is how a raw terminal
 * delivers key presses; pasted text goes through untouched.
 */
export class EscapeDetector {
  private pos = 0;
  constructor(private readonly keys: Buffer) {}

  /** Returns the bytes to forward, or 'detach' when the sequence is complete. */
  push(chunk: Buffer): Buffer | 'detach' {
    if (this.keys.length === 0) return chunk;
    const held = this.keys.subarray(0, this.pos);
    if (chunk.length !== 1) {
      this.pos = 0;
      return held.length ? Buffer.concat([held, chunk]) : chunk;
    }
    if (chunk[0] !== this.keys[this.pos]) {
      this.pos = 0;
      return held.length ? Buffer.concat([held, chunk]) : chunk;
    }
    if (this.pos === this.keys.length - 1) {
      this.pos = 0;
      return 'detach';
    }
    this.pos++;
    return Buffer.alloc(0);
  }
}

/** The error a daemon reports inside a multiplexed stream (stream 3). */
export class StreamFrameError extends Error {}

/** stdcopy.StdCopy as a push parser: frames in, payloads out to stdout/stderr. */
export class Demultiplexer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly stdout: Writable | undefined, private readonly stderr: Writable | undefined) {}

  /** Feed bytes; resolves false when a writer wants us to wait for 'drain'. */
  push(chunk: Buffer): boolean {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let ok = true;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const stream = this.buf[0]!;
      const payload = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      switch (stream) {
        case 0:
        case 1:
          if (this.stdout && payload.length) ok = this.stdout.write(payload) && ok;
          break;
        case 2:
          if (this.stderr && payload.length) ok = this.stderr.write(payload) && ok;
          break;
        case 3:
          throw new StreamFrameError(`error from daemon in stream: ${payload.toString('utf8')}`);
        default:
          throw new StreamFrameError(`Unrecognized input header: ${stream}`);
      }
    }
    return ok;
  }

  /** Bytes of an incomplete frame left at the end of the stream. */
  get pending(): number {
    return this.buf.length;
  }
}

type TTYInput = Readable & { isTTY?: boolean; fd?: number; setRawMode?: (raw: boolean) => unknown };

/**
 * Put the terminal in raw mode; returns the function that restores it.
 *
 * docker's raw mode is cfmakeraw's, which also turns output processing off, so
 * the "\r\n" a container's TTY sends reaches the screen unchanged. Node's
 * setRawMode (libuv) keeps ONLCR on, and every line would end "\r\r\n"; for
 * the process's own terminal, stty (which acts on its stdin, ours) does what
 * cfmakeraw does. Anything else gets setRawMode.
 */
export function setRawTerminal(stdin: TTYInput): () => void {
  if (stdin.fd === 0 && stdin.isTTY) {
    const saved = spawnSync('stty', ['-g'], { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8' });
    if (saved.status === 0 && saved.stdout.trim()) {
      const set = spawnSync('stty', ['raw', '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
      if (set.status === 0) {
        const state = saved.stdout.trim();
        return () => void spawnSync('stty', [state], { stdio: ['inherit', 'ignore', 'ignore'] });
      }
    }
  }
  if (typeof stdin.setRawMode !== 'function') return () => {};
  stdin.setRawMode(true);
  return () => {
    try {
      stdin.setRawMode?.(false);
    } catch {
      // The terminal may already be gone.
    }
  };
}

export interface StreamOptions {
  conn: Socket;
  /** Local input to copy in; undefined when stdin is not attached. */
  stdin?: TTYInput | undefined;
  stdout?: Writable | undefined;
  stderr?: Writable | undefined;
  tty: boolean;
  /** docker's --detach-keys; '' means the default (ctrl-p,ctrl-q). */
  detachKeys: string;
  /** Warnings ("invalid detach escape keys") go here. */
  warn?: (s: string) => void;
  /** Ends the session early (the CLI gives up on it, e.g. the start failed). */
  signal?: AbortSignal;
}

/**
 * Stream until the output ends (or, without output, the input), or until the
 * user types the detach sequence: resolves 'detached' then, 'done' otherwise.
 * The terminal is put in raw mode for a TTY session on a terminal, and restored
 * before this resolves or rejects.
 */
export function streamHijacked(o: StreamOptions): Promise<'done' | 'detached'> {
  const { conn, stdin, stdout, stderr, tty } = o;
  return new Promise((resolve, reject) => {
    let finished = false;
    let restoreTerminal: (() => void) | undefined;
    const restore = () => {
      restoreTerminal?.();
      restoreTerminal = undefined;
    };
    const cleanup = () => {
      restore();
      if (stdin) {
        stdin.off('data', onInput);
        stdin.off('end', onInputEnd);
        stdin.off('error', onInputEnd);
        stdin.pause();
      }
      o.signal?.removeEventListener('abort', onAbort);
    };
    const finish = (r: 'done' | 'detached') => {
      if (finished) return;
      finished = true;
      cleanup();
      resolve(r);
    };
    const fail = (e: Error) => {
      if (finished) return;
      finished = true;
      cleanup();
      conn.destroy();
      reject(e);
    };
    const onAbort = () => {
      conn.destroy();
      finish('done');
    };
    if (o.signal) {
      if (o.signal.aborted) return onAbort();
      o.signal.addEventListener('abort', onAbort, { once: true });
    }

    // Output.
    const hasOutput = stdout !== undefined || stderr !== undefined;
    let outputDone = !hasOutput;
    let inputDone = stdin === undefined;
    const demux = tty ? undefined : new Demultiplexer(stdout, stderr);
    const onOutput = (chunk: Buffer) => {
      let ok = true;
      try {
        if (demux) ok = demux.push(chunk);
        else if (stdout) ok = stdout.write(chunk);
      } catch (e) {
        return fail(e as Error);
      }
      if (!ok) {
        conn.pause();
        (stdout ?? stderr)!.once('drain', () => conn.resume());
      }
    };
    const onOutputEnd = () => {
      outputDone = true;
      // Restore the terminal as soon as the session ends, before anything else prints.
      if (tty) restore();
      if (hasOutput || inputDone) finish('done');
    };
    conn.on('error', (e: NodeJS.ErrnoException) => {
      // The daemon closing an upgraded connection abruptly is the end of the stream.
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') onOutputEnd();
      else fail(e);
    });
    conn.on('end', onOutputEnd);
    conn.on('close', () => {
      if (!outputDone) onOutputEnd();
    });
    if (hasOutput) conn.on('data', onOutput);
    else conn.resume(); // nothing to show, but the stream must flow to reach its end
    conn.resume();

    // Input.
    let escape: EscapeDetector | undefined;
    function onInput(chunk: Buffer | string) {
      let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (escape) {
        const r = escape.push(data);
        if (r === 'detach') {
          restore();
          conn.destroy();
          return finish('detached');
        }
        data = r;
      }
      if (data.length && !conn.destroyed && !conn.writableEnded) {
        if (!conn.write(data)) {
          stdin!.pause();
          conn.once('drain', () => stdin!.resume());
        }
      }
    }
    function onInputEnd() {
      if (inputDone) return;
      inputDone = true;
      restore();
      // Half-close: the daemon sees EOF on the container's stdin and keeps streaming output.
      if (!conn.destroyed) conn.end();
      if (!hasOutput || outputDone) finish('done');
    }
    if (stdin) {
      if (tty) {
        if (stdin.isTTY) restoreTerminal = setRawTerminal(stdin);
        let keys: Buffer = DEFAULT_DETACH_KEYS;
        if (o.detachKeys) {
          try {
            keys = parseDetachKeys(o.detachKeys);
          } catch (e) {
            o.warn?.(`invalid detach escape keys, using default: ${(e as Error).message}\n`);
          }
        }
        escape = new EscapeDetector(keys);
      }
      stdin.on('data', onInput);
      stdin.on('end', onInputEnd);
      stdin.on('error', onInputEnd);
      stdin.resume();
    } else {
      conn.end();
    }
  });
}

/** docker's CheckTty: a TTY session reading stdin needs stdin to be a terminal. */
export function checkTty(stdin: { isTTY?: boolean }, attachStdin: boolean, tty: boolean): string | undefined {
  if (tty && attachStdin && !stdin.isTTY) return 'the input device is not a TTY';
  return undefined;
}

/**
 * Keep the container's (or exec's) TTY at the terminal's size: resize now —
 * waiting for that first request, as docker does, then retrying in the
 * background if it failed (the process may not be up yet) — and on every
 * SIGWINCH. Resolves with a function that stops watching.
 */
export async function monitorTtySize(
  client: Client, id: string, exec: boolean, out: { rows?: number; columns?: number }, err: (s: string) => void,
): Promise<() => void> {
  const size = (): [number, number] => [out.rows ?? 0, out.columns ?? 0];
  const resize = async (h: number, w: number) => {
    if (h === 0 && w === 0) return;
    await client.containerResize(id, h, w, exec);
  };
  let stopped = false;
  try {
    await resize(...size());
  } catch {
    void (async () => {
      for (let retry = 0; retry < 10 && !stopped; retry++) {
        await new Promise((r) => setTimeout(r, (retry + 1) * 10));
        try {
          await resize(...size());
          return;
        } catch {
          // try again
        }
      }
      if (!stopped) err('failed to resize tty, using default size\n');
    })();
  }
  const onWinch = () => void resize(...size()).catch(() => {});
  process.on('SIGWINCH', onWinch);
  return () => {
    stopped = true;
    process.off('SIGWINCH', onWinch);
  };
}

/** Signals the CLI passes on to the container (docker catches all it can). */
const PROXIED_SIGNALS: NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTRAP', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGCONT', 'SIGTSTP', 'SIGTTIN',
  'SIGTTOU', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

/** --sig-proxy: forward the signals this process receives as POST /containers/{id}/kill?signal=NAME. */
export function forwardSignals(client: Client, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((sig) => {
    const h = () => void client.containerKill(id, sig.slice(3)).catch(() => {});
    try {
      process.on(sig, h);
    } catch {
      // Not every platform knows every signal.
    }
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
