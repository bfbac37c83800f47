/**
 * The runc driver: runc's CLI, the reference OCI runtime, with its own state
 * root (never dockerd's), behind a pier-monitor per process.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, internal } from '../base/errdefs.js';
import { Monitor } from './monitor.js';
import type { CreateOptions, ExecOptions, Runtime, RuntimeState } from './runtime.js';

export class RuncRuntime implements Runtime {
  constructor(
    readonly name: string,
    private readonly path: string,
    /** runc --root: where runc keeps its state. */
    private readonly root: string,
    private readonly args: readonly string[] = [],
  ) {}

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
      bundle: o.bundle, log: o.log, oomFile: o.oomFile, tty: o.tty, stdin: o.stdin, stdinOnce: o.stdinOnce, deleteOnExit: true,
    });
    return monitor;
  }

  async start(_id: string, monitor: Monitor): Promise<void> {
    await monitor.start();
  }

  exec(o: ExecOptions) {
    return Monitor.spawn({
      dir: o.dir, id: o.id, runtime: this.path, runtimeRoot: this.root, runtimeArgs: [...this.args],
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
