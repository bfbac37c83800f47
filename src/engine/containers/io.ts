/**
 * A container's streams for clients: attach (hijacked connections joined to
 * the monitor's socket) and logs (the monitor's log file, re-framed).
 *
 * Attach copies frames from the monitor to the client as they are when the
 * client reads Docker's multiplexed format (non-tty), or their payload (tty),
 * and the client's bytes to the container's stdin, watching for the detach
 * keys (ctrl-p ctrl-q unless configured).
 */
import type { Duplex, Writable } from 'node:stream';
import { invalid } from '../../base/errdefs.js';
import { FrameReader, type AttachFlags, type Monitor } from '../../runtime/monitor.js';
import { streamLog } from '../../runtime/logfile.js';
import type { ContainerService } from './service.js';
import type { ContainerRecord } from './record.js';

export interface AttachOptions extends AttachFlags {
  stream: boolean;
  logs: boolean;
  detachKeys?: string;
}

/** Docker's --detach-keys: "ctrl-p,ctrl-q", "a,ctrl-@"; each key one byte. */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const k of spec.split(',')) {
    const key = k.trim();
    if (key.length === 1) out.push(key.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/i.test(key)) {
      const ch = key.slice(5).toLowerCase();
      out.push(ch >= 'a' && ch <= 'z' ? ch.charCodeAt(0) - 96 : ({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 } as Record<string, number>)[ch]!);
    } else throw invalid(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(out);
}

export const DEFAULT_DETACH = Buffer.from([16, 17]);

/**
 * Joins the client's connection to the container's streams until the
 * container exits, the client detaches, or either side goes away.
 */
export async function attach(svc: ContainerService, c: ContainerRecord, o: AttachOptions, client: Duplex, signal?: AbortSignal): Promise<void> {

  const tty = !!c.config.Tty;
  if (o.logs) {
    await streamLog(
      c.logPath,
      { stdout: o.stdout, stderr: o.stderr, timestamps: false, multiplexed: !tty, follow: false, signal },
      (b) => client.write(b),
      () => new Promise((r) => client.once('drain', r)),
    );
  }
  if (!o.stream) {
    client.end();
    return;
  }
  const keys = o.detachKeys ? parseDetachKeys(o.detachKeys) : DEFAULT_DETACH;
  svc.events.emit('container', 'attach', c.id, { ...(c.config.Labels ?? {}), image: c.imageName, name: c.name });
  const connect = async (m: Monitor) => {
    let ms: Duplex;
    try {
      ms = await m.attach(o);
    } catch {
      client.end();
      return;
    }
    if (client.destroyed) return void ms.destroy();
    joinStreams(client, ms, tty, o.stdin ? keys : undefined);
  };
  const m = svc.monitorOf(c);
  if (c.state.Running && m) {
    await connect(m);
    return;
  }
  // Not started yet: joined at the next start, before the process runs.
  const cancel = svc.onNextStart(c, (mon) => connect(mon));
  client.once('close', cancel);
}

/** Joins a client connection and a monitor attach socket (see the module comment). */
export function joinStreams(client: Duplex, ms: Duplex, tty: boolean, detach: Buffer | undefined, onExit?: (code: number) => void): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    ms.destroy();
    client.end();
  };
  const frames = new FrameReader(
    (_stream, frame, payload) => {
      if (!client.write(tty ? payload : frame) && !ms.isPaused()) {
        ms.pause();
        client.once('drain', () => ms.resume());
      }
    },
    (code) => {
      onExit?.(code); // recorded before the client sees the end
      close();
    },
  );
  ms.on('data', (d: Buffer) => frames.push(d));
  ms.resume(); // paused since the monitor's acknowledgement
  ms.once('close', close);
  ms.once('error', close);
  let matched = 0;
  // Input waits for the monitor: a client that floods stdin is paused, not buffered here.
  let waiting = false;
  const send = (b: Buffer) => {
    if (!ms.write(b) && !waiting) {
      waiting = true;
      client.pause();
      ms.once('drain', () => {
        waiting = false;
        client.resume();
      });
    }
  };
  client.on('data', (d: Buffer) => {
    if (detach && detach.length) {
      // The detach sequence is held back until it either completes (detach) or breaks (sent on).
      for (let i = 0; i < d.length; i++) {
        if (d[i] === detach[matched]) {
          matched++;
          if (matched === detach.length) return close();
          continue;
        }
        if (matched) send(detach.subarray(0, matched));
        matched = d[i] === detach[0] ? 1 : 0;
        if (!matched) send(d.subarray(i, i + 1));
      }
      return;
    }
    send(d);
  });
  // The client closed its input: the container's stdin closes (StdinOnce) while output goes on.
  client.once('end', () => {
    if (!closed) ms.end();
  });
  client.once('close', () => {
    if (!closed) {
      closed = true;
      ms.destroy();
    }
  });
  client.once('error', () => ms.destroy());
  client.resume(); // paused while the request body was taken off it
}

export interface LogsOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  since?: bigint;
  until?: bigint;
  tail?: number;
}

/** GET /containers/{id}/logs into out; follow ends when the container stops. */
export async function logs(svc: ContainerService, c: ContainerRecord, o: LogsOptions, out: Writable, signal?: AbortSignal): Promise<void> {
  const t = c.hostConfig.LogConfig?.Type;
  if (t === 'none') throw invalid('configured logging driver does not support reading');
  let onExit: (() => void) | undefined;
  const stopped = o.follow && c.state.Running ? new Promise<void>((r) => svc.signals.once(`exit:${c.id}`, (onExit = () => setTimeout(r, 0)))) : undefined;
  try {
    await streamLog(
      c.logPath,
      { ...o, multiplexed: !c.config.Tty, follow: o.follow && !!stopped, signal },
      (b) => out.write(b),
      () => new Promise((r) => {
        const done = () => {
          out.off('drain', done);
          signal?.removeEventListener('abort', done);
          r();
        };
        out.once('drain', done);
        signal?.addEventListener('abort', done, { once: true });
      }),
      stopped,
    );
  } finally {
    if (onExit) svc.signals.off(`exit:${c.id}`, onExit);
  }
}
