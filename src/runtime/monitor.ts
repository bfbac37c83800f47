/**
 * pier-monitor from the daemon's side (native/pier-monitor.c holds the
 * protocol). One monitor per container process and per exec: it is the
 * process's parent, keeps its stdio and log, and records its exit, so the
 * daemon can go away and come back (live restore) and simply reconnect.
 *
 *   const m = await Monitor.spawn({ dir, id, runtime, bundle, log, tty: false, stdin: false });
 *   await runc start;  const exit = await m.wait();
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { Duplex } from 'node:stream';
import { EngineError, internal } from '../base/errdefs.js';

export interface ExitStatus {
  code: number;
  /** OOM kills counted in the container's cgroup when it ended. */
  oomKills: number;
  /** ns since the epoch. */
  finishedAt: number;
}

export interface AttachFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface MonitorOptions {
  /** State directory: socket, pid file, exit file, runtime log. */
  dir: string;
  id: string;
  runtime: string;
  runtimeRoot?: string;
  runtimeArgs?: string[];
  /** Container mode: `runc create` this bundle. */
  bundle?: string;
  /** Exec mode: `runc exec -d --process` this file. */
  process?: string;
  log?: string;
  logMaxSize?: number;
  logMaxFiles?: number;
  /** The cgroup file counting OOM kills, read when the process ends. */
  oomFile?: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce?: boolean;
  /** Exec mode: connect this attach before the process runs, so nothing it writes is lost. */
  attach?: AttachFlags;
  /** Container mode: the monitor runs the runtime's delete when the process ends. */
  deleteOnExit?: boolean;
}

/** Frame stream numbers on the monitor socket: Docker's 1/2 plus 3 = exit code. */
const EXIT_FRAME = 3;
/** The empty frame that acknowledges an attach. */
const ACK_FRAME = 0;

let monitorPath: string | undefined;
/** The monitor binary: built next to the addon (native/build), found from the source or the bundle. */
export function monitorBinary(): string {
  if (monitorPath) return monitorPath;
  const here = new URL('.', import.meta.url).pathname;
  for (const p of [
    process.env['PIER_MONITOR'],
    resolve(here, '../../../native/build/pier-monitor'), // dist/src/runtime
    resolve(here, '../native/build/pier-monitor'), // dist/ bundle
  ])
    if (p && existsSync(p)) return (monitorPath = p);
  throw internal('pier-monitor is not built: run npm run build');
}

export class Monitor {
  private constructor(
    readonly dir: string,
    /** The container's init (or the exec'd process), in the host's pid namespace. */
    readonly pid: number,
    readonly monitorPid: number | undefined,
  ) {}

  /**
   * Starts a monitor and waits until the runtime created the process (not yet
   * started for containers). A runtime failure rejects with its message, and
   * the monitor is gone by then.
   */
  static async spawn(o: MonitorOptions): Promise<{ monitor: Monitor; stream?: Duplex }> {
    const args = ['--dir', o.dir, '--id', o.id, '--runtime', o.runtime];
    if (o.runtimeRoot) args.push('--runtime-root', o.runtimeRoot);
    for (const a of o.runtimeArgs ?? []) args.push('--runtime-arg', a);
    if (o.bundle) args.push('--bundle', o.bundle);
    if (o.process) args.push('--exec', o.process);
    if (o.log) args.push('--log', o.log);
    if (o.logMaxSize) args.push('--log-max-size', String(o.logMaxSize), '--log-max-files', String(o.logMaxFiles ?? 1));
    if (o.oomFile) args.push('--oom', o.oomFile);
    if (o.tty) args.push('--tty');
    if (o.stdin) args.push('--stdin');
    if (o.stdinOnce) args.push('--stdin-once');
    if (o.attach) args.push('--wait-attach');
    if (o.deleteOnExit) args.push('--delete');
    const child = spawn(monitorBinary(), args, { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    child.unref();
    // A failed spawn (EAGAIN, EMFILE) is this start's error, never an uncaught one.
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    const sync = child.stdio[3] as Socket;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    let stream: Duplex | undefined;
    const lines = readLines(sync);
    const first = await lines.next();
    if (first !== 'ready') throw internal(`pier-monitor did not start: ${spawnError?.message || stderr.trim() || first || 'no reason given'}`);
    if (o.attach) stream = await attachSocket(o.dir, o.attach);
    const second = await lines.next();
    (sync as Socket & { unref?: () => void }).unref?.();
    if (second?.startsWith('ok ')) return { monitor: new Monitor(o.dir, Number(second.slice(3)), child.pid), stream };
    stream?.destroy();
    const msg = second?.startsWith('err ') ? second.slice(4) : stderr.trim() || 'pier-monitor exited';
    throw new RuntimeError(msg);
  }

  /** A monitor from before a daemon restart. */
  static adopt(dir: string, pid: number): Monitor {
    return new Monitor(dir, pid, undefined);
  }

  /** Whether the monitor still serves (its socket exists); else the exit file tells the end. */
  alive(): boolean {
    return existsSync(join(this.dir, 'sock'));
  }

  /** The exit recorded by a monitor that has finished, if any. */
  recordedExit(): ExitStatus | undefined {
    try {
      const [code, ooms, at] = readFileSync(join(this.dir, 'exit'), 'utf8').trim().split(' ').map(Number);
      return { code: code!, oomKills: ooms!, finishedAt: at! };
    } catch {
      return undefined;
    }
  }

  /** Resolves when the process ends (at once when it already has). A monitor that vanished without a record reads as exit 255. */
  async wait(): Promise<ExitStatus> {
    const done = this.recordedExit();
    if (done) return done;
    let sock: Socket;
    try {
      sock = await connectSocket(join(this.dir, 'sock'));
    } catch {
      return this.recordedExit() ?? { code: 255, oomKills: 0, finishedAt: Date.now() * 1e6 };
    }
    sock.write('W');
    await new Promise<void>((res) => {
      sock.on('data', () => {});
      sock.once('close', () => res());
      sock.once('error', () => res());
    });
    // The exit file is written before the socket closes.
    return this.recordedExit() ?? { code: 255, oomKills: 0, finishedAt: Date.now() * 1e6 };
  }

  /** Attaches to the process's stdio: frames in Docker's multiplexed format, stream 3 = exit. */
  attach(flags: AttachFlags): Promise<Duplex> {
    return attachSocket(this.dir, flags);
  }

  /** Lets the created container run: the monitor runs the runtime's start. */
  async start(): Promise<void> {
    const s = await connectSocket(join(this.dir, 'sock'));
    const reply = await new Promise<string>((res) => {
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.once('close', () => res(out));
      s.once('error', () => res(out));
      s.write('S');
    });
    if (reply === '0') return;
    throw new RuntimeError(reply.slice(1) || 'the runtime failed to start the container');
  }

  async resize(height: number, width: number): Promise<void> {
    const b = Buffer.alloc(5);
    b[0] = 0x52; // 'R'
    b.writeUInt16BE(height & 0xffff, 1);
    b.writeUInt16BE(width & 0xffff, 3);
    const s = await connectSocket(join(this.dir, 'sock'));
    await new Promise<void>((res) => {
      s.once('close', () => res());
      s.once('error', () => res());
      s.end(b);
    });
  }
}

/** The runtime refused: the message is runc's (e.g. `exec: "x": executable file not found in $PATH`). */
export class RuntimeError extends EngineError {
  constructor(message: string) {
    super('internal', message);
  }
}

/** Connects an attach and resolves once the monitor acknowledged it: no output after that is missed. */
async function attachSocket(dir: string, f: AttachFlags): Promise<Duplex> {
  const s = await connectSocket(join(dir, 'sock'));
  s.write(Buffer.from([0x41, (f.stdin ? 1 : 0) | (f.stdout ? 2 : 0) | (f.stderr ? 4 : 0)]));
  await new Promise<void>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 8) return;
      s.off('data', onData).off('close', onClose).off('error', onClose);
      s.pause();
      if (got[0] !== ACK_FRAME || got.readUInt32BE(4) !== 0) {
        s.destroy();
        return reject(internal('pier-monitor answered an attach without its acknowledgement'));
      }
      if (got.length > 8) s.unshift(got.subarray(8));
      resolve();
    };
    const onClose = () => reject(new RuntimeError('the container exited before the attach was set up'));
    s.on('data', onData).once('close', onClose).once('error', onClose);
  });
  return s;
}

function connectSocket(path: string): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      res(s);
    });
    s.once('error', rej);
  });
}

function readLines(s: Socket): { next(): Promise<string | undefined> } {
  let buf = '';
  let ended = false;
  const waiters: (() => void)[] = [];
  s.on('data', (d: Buffer) => {
    buf += d.toString();
    waiters.splice(0).forEach((w) => w());
  });
  const end = () => {
    ended = true;
    waiters.splice(0).forEach((w) => w());
  };
  s.once('end', end);
  s.once('close', end);
  s.once('error', end);
  return {
    async next() {
      for (;;) {
        const i = buf.indexOf('\n');
        if (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          return line;
        }
        if (ended) return undefined;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

/**
 * Splits the monitor's frames: output frames go to onFrame (header included, so
 * a multiplexed client gets them as they are), the exit frame to onExit.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(
    private readonly onFrame: (stream: number, frame: Buffer, payload: Buffer) => void,
    private readonly onExit: (code: number) => void,
  ) {}
  push(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let o = 0;
    while (this.buf.length - o >= 8) {
      const n = this.buf.readUInt32BE(o + 4);
      if (this.buf.length - o < 8 + n) break;
      const stream = this.buf[o]!;
      const frame = this.buf.subarray(o, o + 8 + n);
      if (stream === EXIT_FRAME) this.onExit(frame.readInt32BE(8));
      else this.onFrame(stream, frame, frame.subarray(8));
      o += 8 + n;
    }
    this.buf = o === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(o);
  }
}

