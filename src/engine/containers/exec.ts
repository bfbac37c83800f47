/**
 * Exec: one more process in a running container (`docker exec`), and the
 * health checks that run the same way. Each exec has a pier-monitor of its
 * own; the client's hijacked connection is joined to the monitor before the
 * process runs, so no output is lost. Exec records live in memory, as in
 * Docker, and go with their container.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { conflict, EngineError, messageOf, notFound } from '../../base/errdefs.js';
import { FrameReader, RuntimeError, type Monitor } from '../../runtime/monitor.js';
import { execProcess, specJson } from '../../runtime/spec.js';
import { containerCapabilities } from '../../runtime/caps.js';
import { resolveUser } from '../../runtime/user.js';
import { parseSecurityOpt } from '../../runtime/validate.js';
import { buildEnv, type ContainerService } from './service.js';
import { DEFAULT_DETACH, joinStreams, parseDetachKeys } from './io.js';
import type { ContainerRecord } from './record.js';

export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  Cmd?: string[] | null;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  monitor?: Monitor;
  started: boolean;
  /** Internal (health check) execs emit no exec events of their own. */
  internal?: boolean;
}

export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly containers: ContainerService) {
    containers.signals.setMaxListeners(0);
  }

  create(ref: string, cfg: ExecConfig, internal = false): string {
    const c = this.containers.find(ref);
    this.assertRunning(c);
    if (!cfg.Cmd || cfg.Cmd.length === 0) throw new EngineError('invalid', 'No exec command specified');
    if (cfg.DetachKeys) parseDetachKeys(cfg.DetachKeys);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, containerId: c.id, config: cfg, running: false, exitCode: null, pid: 0, started: false, internal });
    if (!internal) this.emit(c, `exec_create: ${cfg.Cmd.join(' ')}`, id);
    // Docker forgets an exec some time after its container stops; here when the container is removed.
    if (!internal) this.containers.signals.once(`removed:${c.id}`, () => this.execs.delete(id));
    return id;
  }

  private emit(c: ContainerRecord, action: string, execId: string, extra: Record<string, string> = {}): void {
    this.containers.events.emit('container', action, c.id, { ...(c.config.Labels ?? {}), image: c.imageName, name: c.name, execID: execId, ...extra });
  }

  private assertRunning(c: ContainerRecord): void {
    if (!c.state.Running) throw conflict(`container ${c.id} is not running`);
    if (c.state.Paused) throw conflict(`container ${c.id} is paused, unpause the container before exec`);
    if (c.state.Restarting) throw conflict(`container ${c.id} is restarting, wait until the container is running`);
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId && !e.internal).map((e) => e.id);
  }

  /**
   * Runs the exec. With a client, its connection is joined to the process
   * (raw for a tty, multiplexed otherwise) and ends when the process does.
   * Resolves with the exit code.
   */
  async start(id: string, o: { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null; onRunning?: () => void }, client?: Duplex): Promise<number> {
    const e = this.get(id);
    if (e.started) throw conflict(`Exec command ${id} ${e.running ? 'is already running' : 'has already run'}`);
    const c = this.containers.find(e.containerId);
    this.assertRunning(c);
    e.started = true;
    const cfg = e.config;
    const tty = !!cfg.Tty;
    const svc = this.containers;
    const rt = svc.runtimeOf(c);
    const dir = svc.runDir(id);
    const attach = !o.detach && client ? { stdin: !!cfg.AttachStdin, stdout: !!cfg.AttachStdout, stderr: !!cfg.AttachStderr } : undefined;
    let monitor: Monitor;
    let stream: Duplex | undefined;
    try {
      await fs.mkdir(dir, { recursive: true });
      const rootfs = svc.rootfs(c.id);
      const user = await resolveUser(rootfs, cfg.User || c.config.User, c.hostConfig.GroupAdd);
      const env = [...buildEnv({ ...c.config, Tty: tty }, user.home), ...(cfg.Env ?? [])];
      const proc = execProcess({
        args: cfg.Cmd!, env, cwd: cfg.WorkingDir || c.config.WorkingDir || '/', user, tty,
        privileged: !!cfg.Privileged, consoleSize: o.consoleSize ?? cfg.ConsoleSize ?? undefined,
        noNewPrivileges: parseSecurityOpt(c.hostConfig.SecurityOpt).noNewPrivileges,
        // The same set buildSpec gave the container: derived, not read back from its config.json.
        containerCaps: containerCapabilities(c.hostConfig.CapAdd, c.hostConfig.CapDrop, !!c.hostConfig.Privileged),
      });
      await fs.writeFile(join(dir, 'process.json'), specJson(proc));
      ({ monitor, stream } = await rt.exec({ id: c.id, process: join(dir, 'process.json'), dir, tty, stdin: !!cfg.AttachStdin, attach }));
    } catch (err) {
      e.exitCode = 126;
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      const msg = err instanceof RuntimeError ? `OCI runtime exec failed: ${err.message}: unknown` : messageOf(err);
      if (client) {
        // Docker writes the failure into the stream, as stdout for a multiplexed one.
        const text = Buffer.from(msg + '\r\n');
        client.end(tty ? text : Buffer.concat([stdoutHeader(text.length), text]));
        if (!e.internal) this.emit(c, 'exec_die', id, { exitCode: '126' });
        return 126;
      }
      throw new EngineError('internal', msg, { cause: err });
    }
    e.monitor = monitor;
    e.pid = monitor.pid;
    e.running = true;
    o.onRunning?.();
    if (!e.internal) this.emit(c, `exec_start: ${cfg.Cmd!.join(' ')}`, id);
    // The exit code is recorded as the exit frame arrives, before the client's stream ends: a client
    // that inspects the exec the moment its output ends finds the code.
    const exited = (code: number) => {
      e.running = false;
      e.exitCode = code;
    };
    if (stream && client) joinStreams(client, stream, tty, cfg.AttachStdin ? (cfg.DetachKeys ? parseDetachKeys(cfg.DetachKeys) : DEFAULT_DETACH) : undefined, exited);
    else stream?.resume();
    const exit = await monitor.wait();
    e.running = false;
    e.exitCode = exit.code;
    e.monitor = undefined;
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if (!e.internal) this.emit(c, 'exec_die', id, { exitCode: String(exit.code) });
    return exit.code;
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const e = this.get(id);
    if (!e.monitor) throw conflict(`Exec ${id} is not running`);
    await e.monitor.resize(h, w);
  }

  inspect(id: string): object {
    const e = this.get(id);
    const c = this.containers.store.get(e.containerId);
    const cmd = e.config.Cmd ?? [];
    return {
      ID: e.id, Running: e.running, ExitCode: e.exitCode, CanRemove: false, ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? '', OpenStdin: !!e.config.AttachStdin, OpenStdout: !!e.config.AttachStdout,
      OpenStderr: !!e.config.AttachStderr, Pid: e.pid,
      ProcessConfig: { tty: !!e.config.Tty, entrypoint: cmd[0] ?? '', arguments: cmd.slice(1), privileged: !!e.config.Privileged, user: e.config.User || c?.config.User || '' },
    };
  }

  /**
   * A health check: runs cmd, collects up to 4 KiB of output, kills it after
   * timeoutMs. Resolves with the exit code (-1 on timeout) and output.
   */
  async probe(c: ContainerRecord, cmd: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
    const id = this.create(c.id, { Cmd: cmd, AttachStdout: true, AttachStderr: true }, true);
    const out: Buffer[] = [];
    let size = 0;
    const frames = new FrameReader((_s, _f, payload) => {
      if (size < 4096) out.push(payload.subarray(0, 4096 - size));
      size += payload.length;
    }, () => undefined);
    const sink = new Duplex({
      write(chunk: Buffer, _enc, cb) {
        frames.push(chunk);
        cb();
      },
      read() {},
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      const pid = this.execs.get(id)?.pid;
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    try {
      const code = await this.start(id, { detach: false }, sink);
      return { code: timedOut ? -1 : code, output: Buffer.concat(out).toString() };
    } finally {
      clearTimeout(timer);
      this.execs.delete(id);
    }
  }
}

function stdoutHeader(n: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h.writeUInt32BE(n, 4);
  return h;
}
