/**
 * The runc driver: runc's CLI, the reference OCI runtime, with its own state
 * root (never dockerd's), behind a pier-monitor per process.
 *
 * Exec goes through pier-nsexec (native/pier-nsexec.c) when it is built and
 * the runtime is runc 1.1: it does what `runc exec --detach` does, in C, in a
 * few milliseconds instead of runc's ~30, and hands anything it does not
 * handle (user namespaces, LSM labels, seccomp notify, ...) to runc itself.
 * The monitor runs it as its runtime, with `--runc <path>` in front of the
 * runtime arguments. PIER_NSEXEC=off turns it off, PIER_NSEXEC=<path> points
 * at another build.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineError, internal } from '../base/errdefs.js';
import { Monitor, monitorBinary } from './monitor.js';
import type { CreateOptions, ExecOptions, Runtime, RuntimeState } from './runtime.js';

/** pier-nsexec, built beside pier-monitor; undefined when absent or turned off. */
export function nsexecBinary(): string | undefined {
  const env = process.env['PIER_NSEXEC'];
  if (env === 'off') return undefined;
  const p = env || join(dirname(monitorBinary()), 'pier-nsexec');
  return existsSync(p) ? p : undefined;
}

export interface RuncOptions {
  /** Exec through pier-nsexec when possible (the default); false always runs `runc exec`. */
  nativeExec?: boolean;
}

export class RuncRuntime implements Runtime {
  constructor(
    readonly name: string,
    private readonly path: string,
    /** runc --root: where runc keeps its state. */
    private readonly root: string,
    private readonly args: readonly string[] = [],
    private readonly opts: RuncOptions = {},
  ) {}

  private nsexec?: Promise<string | undefined>;
  /** pier-nsexec reproduces runc 1.1's exec; another runtime or version keeps its own (asked once). */
  private execHelper(): Promise<string | undefined> {
    this.nsexec ??= new Promise((res) => {
      const bin = this.opts.nativeExec === false ? undefined : nsexecBinary();
      if (!bin) return res(undefined);
      execFile(this.path, ['--version'], (err, stdout) => res(!err && /^runc version 1\.1\./m.test(stdout) ? bin : undefined));
    });
    return this.nsexec;
  }

  private run(args: string[]): Promise<string> {
    return new Promise((res, rej) => {
      execFile(this.path, ['--root', this.root, ...this.args, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) rej(new RuncError(args[0]!, (stderr || err.message).trim()));
        else res(stdout);
      });
    });
  }

  async create(o: CreateOptions): Promise<Monitor> {
    const { monitor } = await Monitor.spawn({
      dir: o.dir, id: o.id, runtime: this.path, runtimeRoot: this.root, runtimeArgs: [...this.args],
      bundle: o.bundle, log: o.log, logMaxSize: o.logMaxSize, logMaxFiles: o.logMaxFiles, oomFile: o.oomFile, tty: o.tty, stdin: o.stdin, stdinOnce: o.stdinOnce, deleteOnExit: true,
    });
    return monitor;
  }

  async start(_id: string, monitor: Monitor): Promise<void> {
    await monitor.start();
  }

  async exec(o: ExecOptions) {
    const helper = await this.execHelper();
    return Monitor.spawn({
      dir: o.dir, id: o.id, runtime: helper ?? this.path, runtimeRoot: this.root,
      runtimeArgs: helper ? ['--runc', this.path, ...this.args] : [...this.args],
      process: o.process, tty: o.tty, stdin: o.stdin, stdinOnce: true, attach: o.attach,
    });
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  async delete(id: string, force = false): Promise<void> {
    // Usually the monitor deleted it at exit: then there is nothing to run runc for.
    if (!existsSync(join(this.root, id))) return;
    try {
      await this.run(['delete', ...(force ? ['--force'] : []), id]);
    } catch (e) {
      if (e instanceof RuncError && /does not exist|not found/.test(e.message)) return;
      throw e;
    }
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      const s = JSON.parse(await this.run(['state', id])) as { status: RuntimeState['status']; pid: number };
      return { status: s.status, pid: s.pid };
    } catch (e) {
      if (e instanceof RuncError && /does not exist|not found/.test(e.message)) return undefined;
      throw e;
    }
  }
}

/** runc's own words, JSON log lines reduced to their msg. */
export class RuncError extends EngineError {
  constructor(op: string, out: string) {
    const msgs = out.split('\n').map((l) => {
      try {
        return (JSON.parse(l) as { msg?: string }).msg ?? l;
      } catch {
        return l;
      }
    });
    super('internal', `runc ${op} failed: ${msgs.filter(Boolean).join(': ') || 'unknown error'}`);
  }
}

export const runtimeUnavailable = (name: string) => internal(`unknown or invalid runtime name: ${name}`);
