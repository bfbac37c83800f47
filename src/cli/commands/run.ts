// run, create, start, attach: the commands that create containers or connect
// a terminal to them, in docker's order of requests:
//
//   create (pull on 404 "No such image", create again)
//   → attach (hijacked, before start, so no output is lost)
//   → wait?condition=next-exit|removed (registered before start)
//   → start → resize the TTY → stream → exit with the wait's status code.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { ApiError, errText } from '../../client/errors.js';
import type { HijackedResponse } from '../../client/http.js';
import type { ContainerCreateRequest, ContainerWaitResponse } from '../../client/types.js';
import { familiar, name as refName, parseAnyReference, withDefaultTag, type Reference } from '../../image/reference.js';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { FlagSpec, ParsedFlags } from '../flags.js';
import { checkTty, forwardSignals, monitorTtySize, streamHijacked } from '../hijack.js';
import { displayJSONMessages } from '../jsonmessage.js';
import { containerFlags, OptsError, parseContainerFlags, pullFlag } from './container-opts.js';
import { configPath, encodeAuth, storedAuth } from './registry.js';

const P = 'pier';

/** docker's reportError: "docker: <err>\n\nRun 'docker run --help' for more information". */
export function reportError(cmd: string, msg: string): string {
  return `${P}: ${msg}\n\nRun '${P} ${cmd} --help' for more information`;
}

/** runStartContainerErr: 127 for a missing executable, 126 for one that cannot run, else 125. */
export function startErrorStatus(msg: string): number {
  const m = msg.replace(/^Error response from daemon: /, '');
  if (m.includes('executable file not found') || m.includes('no such file or directory') || m.includes('system cannot find the file specified')) return 127;
  if (m.includes('permission denied') || m.includes('is a directory')) return 126;
  return 125;
}

/** The container-related defaults of docker's config.json: detachKeys, psFormat, statsFormat. */
export function clientConfig(env: Ctx['io']['env']): { detachKeys?: string; psFormat?: string; statsFormat?: string } {
  try {
    const c = JSON.parse(readFileSync(configPath(env), 'utf8')) as Record<string, unknown>;
    const pick = (k: string) => (typeof c[k] === 'string' && c[k] ? { [k]: c[k] as string } : {});
    return { ...pick('detachKeys'), ...pick('psFormat'), ...pick('statsFormat') };
  } catch {
    return {};
  }
}

/** --detach-keys, else the config file's detachKeys, else '' (the default ctrl-p,ctrl-q). */
export const detachKeysOf = (ctx: Ctx, f: ParsedFlags) => (f.values['detach-keys'] as string) || clientConfig(ctx.io.env).detachKeys || '';


function validatePull(v: string): string | undefined {
  if (['always', 'missing', 'never', ''].includes(v)) return undefined;
  return `invalid pull option: '${v}': must be one of "always", "missing" or "never"`;
}

interface CreateOptions {
  name: string;
  platform: string;
  pull: string;
  quiet: boolean;
}

/** Pull `image` for run/create, progress on stderr (docker's pullImage). */
async function pullImage(ctx: Ctx, ref: Reference, o: CreateOptions): Promise<void> {
  const auth = await storedAuth(ctx.io.env, ref.domain);
  const query: Record<string, string> = { fromImage: refName(ref), tag: ref.digest ?? ref.tag ?? 'latest' };
  if (o.platform) query['platform'] = o.platform.toLowerCase();
  const res = await ctx.client().request('POST', '/images/create', { query, headers: { 'X-Registry-Auth': encodeAuth(auth) } });
  const stderr = ctx.io.stderr;
  const out = o.quiet ? new Writable({ write: (_c, _e, cb) => cb() }) : stderr;
  const isTerminal = !o.quiet && stderr.isTTY === true;
  await displayJSONMessages(res.body, out, { isTerminal, width: isTerminal ? stderr.columns ?? 200 : 200 });
}

/** docker's cidFile: refuse an existing file, create it before the container, remove it on failure. */
class CIDFile {
  private written = false;
  constructor(private readonly path: string) {
    if (!path) return;
    if (existsSync(path)) throw new Error(`container ID file found, make sure the other container isn't running or delete ${path}`);
    try {
      writeFileSync(path, '', { flag: 'wx' });
    } catch (e) {
      throw new Error(`failed to create the container ID file: ${(e as Error).message}`);
    }
  }
  write(id: string): void {
    if (!this.path) return;
    try {
      writeFileSync(this.path, id);
      this.written = true;
    } catch (e) {
      throw new Error(`failed to write the container ID to the file: ${(e as Error).message}`);
    }
  }
  close(): void {
    if (this.path && !this.written) rmSync(this.path, { force: true });
  }
}

/** createContainer: pull as --pull says, create, retry after pulling a missing image. */
async function createContainer(ctx: Ctx, body: ContainerCreateRequest, o: CreateOptions): Promise<string> {
  const cid = new CIDFile(body.HostConfig.ContainerIDFile);
  try {
    let named: Reference | undefined;
    const any = parseAnyReference(body.Image);
    if ('domain' in any) named = withDefaultTag(any);
    if (o.pull === 'always' && named) await pullImage(ctx, named, o);
    const out = ctx.io.stdout;
    if (out.isTTY) body.HostConfig.ConsoleSize = [(out as { rows?: number }).rows ?? 0, out.columns ?? 0];
    const client = ctx.client();
    const co: { name?: string; platform?: string } = {};
    if (o.name) co.name = o.name;
    if (o.platform) co.platform = o.platform.toLowerCase();
    let res;
    try {
      res = await client.containerCreate(body, co);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && named && o.pull === 'missing')) throw e;
      if (!o.quiet) ctx.err(`Unable to find image '${familiar(named)}' locally\n`);
      await pullImage(ctx, named, o);
      res = await client.containerCreate(body, co);
    }
    const warnings = [...(res.Warnings ?? [])];
    for (const dns of body.HostConfig.Dns ?? []) {
      if (/^127\./.test(dns) || dns === '::1') {
        warnings.push(`Localhost DNS (${dns}) may fail in containers.`);
        break;
      }
    }
    for (const w of warnings) ctx.err(`WARNING: ${w}\n`);
    cid.write(res.Id);
    return res.Id;
  } finally {
    cid.close();
  }
}

function createOptions(f: ParsedFlags): CreateOptions {
  return {
    name: f.values['name'] as string,
    platform: f.values['platform'] as string,
    pull: f.values['pull'] as string,
    quiet: f.values['quiet'] === true,
  };
}

function parseBody(ctx: Ctx, f: ParsedFlags, cmd: string): ContainerCreateRequest {
  const bad = validatePull(f.values['pull'] as string);
  if (bad) throw new StatusError(125, reportError(cmd, bad));
  try {
    return parseContainerFlags(f, f.args[0]!, f.args.slice(1), { env: ctx.io.env });
  } catch (e) {
    if (e instanceof OptsError) throw new StatusError(125, reportError(cmd, e.message));
    throw e;
  }
}

// --- create ---------------------------------------------------------------------------------

async function runCreate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const body = parseBody(ctx, f, 'create');
  // Unlike run, create reports daemon errors plainly (exit 1).
  const id = await createContainer(ctx, body, createOptions(f));
  ctx.out(`${id}\n`);
  return 0;
}

// --- run --------------------------------------------------------------------------------------

interface Session {
  done: Promise<'done' | 'detached'>;
  abort: AbortController;
}

/** Stream an attached connection in the background. */
function startSession(ctx: Ctx, conn: HijackedResponse, o: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean; detachKeys: string; mergeStderr: boolean }): Session {
  const abort = new AbortController();
  const done = streamHijacked({
    conn: conn.socket,
    stdin: o.stdin ? ctx.io.stdin : undefined,
    stdout: o.stdout ? ctx.io.stdout : undefined,
    stderr: o.stderr ? (o.mergeStderr ? ctx.io.stdout : ctx.io.stderr) : undefined,
    tty: o.tty,
    detachKeys: o.detachKeys,
    warn: (s) => ctx.err(s),
    signal: abort.signal,
  });
  done.catch(() => {}); // awaited later
  return { done, abort };
}

/** The exit status from a wait: its StatusCode, or 125 when the wait itself failed. */
async function waitStatus(ctx: Ctx, wait: Promise<ContainerWaitResponse> | undefined): Promise<number> {
  if (!wait) return 125;
  try {
    const r = await wait;
    if (r.Error?.Message) {
      ctx.err(`Error waiting for container: ${r.Error.Message}\n`);
      return 125;
    }
    return r.StatusCode;
  } catch (e) {
    ctx.err(`error waiting for container: ${errText(e)}\n`);
    return 125;
  }
}

async function runRun(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const body = parseBody(ctx, f, 'run');
  const detach = f.values['detach'] === true;
  const io = ctx.io;
  if (!detach) {
    const bad = checkTty(io.stdin, body.AttachStdin, body.Tty);
    if (bad) throw new StatusError(1, bad);
  } else {
    if ((f.values['attach'] as string[]).length !== 0) throw new StatusError(1, 'conflicting options: cannot specify both --attach and --detach');
    body.AttachStdin = false;
    body.AttachStdout = false;
    body.AttachStderr = false;
    body.StdinOnce = false;
  }
  const client = ctx.client();
  let id: string;
  try {
    id = await createContainer(ctx, body, createOptions(f));
  } catch (e) {
    const msg = errText(e);
    throw new StatusError(startErrorStatus(msg), reportError('run', msg));
  }
  const stopSignals = f.values['sig-proxy'] !== false ? forwardSignals(client, id) : undefined;
  try {
    // Only a detached run prints the ID (with -a stdin alone, docker 28 prints nothing and waits).
    if (detach) ctx.out(`${id}\n`);
    let session: Session | undefined;
    if (body.AttachStdin || body.AttachStdout || body.AttachStderr) {
      const detachKeys = detachKeysOf(ctx, f);
      const conn = await client.containerAttach(id, { stdin: body.AttachStdin, stdout: body.AttachStdout, stderr: body.AttachStderr, detachKeys });
      session = startSession(ctx, conn, {
        stdin: body.AttachStdin, stdout: body.AttachStdout, stderr: body.AttachStderr, tty: body.Tty, detachKeys, mergeStderr: body.Tty,
      });
    }
    let wait: Promise<ContainerWaitResponse> | undefined;
    try {
      wait = (await client.containerWait(id, body.HostConfig.AutoRemove ? 'removed' : 'next-exit')).result;
    } catch (e) {
      ctx.err(`error waiting for container: ${errText(e)}\n`);
    }
    try {
      await client.containerStart(id);
    } catch (e) {
      if (session) {
        session.abort.abort();
        await session.done.catch(() => {});
      }
      const msg = errText(e);
      ctx.err(reportError('run', msg) + '\n');
      if (body.HostConfig.AutoRemove && wait) await wait.catch(() => {});
      return startErrorStatus(msg);
    }
    let stopResize: (() => void) | undefined;
    if (session && body.Tty && io.stdout.isTTY) stopResize = await monitorTtySize(client, id, false, io.stdout as { rows?: number; columns?: number }, ctx.err);
    try {
      if (session && (await session.done) === 'detached') return 0;
    } finally {
      stopResize?.();
    }
    if (detach) return 0;
    return await waitStatus(ctx, wait);
  } finally {
    stopSignals?.();
  }
}

// --- start ------------------------------------------------------------------------------------

async function runStart(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const attach = f.values['attach'] === true;
  const interactive = f.values['interactive'] === true;
  const checkpoint = f.values['checkpoint'] as string;
  if (!attach && !interactive && checkpoint) {
    if (f.args.length > 1) throw new StatusError(1, 'you cannot restore multiple containers at once');
    await client.containerStart(f.args[0]!, { checkpoint, checkpointDir: f.values['checkpoint-dir'] as string });
    return 0;
  }
  if (!attach && !interactive) {
    const failed: string[] = [];
    for (const c of f.args) {
      try {
        await client.containerStart(c);
        ctx.out(`${c}\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        ctx.err(`${e.toString()}\n`);
        failed.push(c);
      }
    }
    if (failed.length) throw new StatusError(1, `Error: failed to start containers: ${failed.join(', ')}`);
    return 0;
  }
  if (f.args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
  const c = await client.containerInspect(f.args[0]!);
  const tty = c.Config.Tty === true;
  const stopSignals = !tty ? forwardSignals(client, c.Id) : undefined;
  try {
    const detachKeys = detachKeysOf(ctx, f);
    const stdin = interactive && c.Config.OpenStdin === true;
    const conn = await client.containerAttach(c.Id, { stdin, stdout: true, stderr: true, detachKeys });
    const session = startSession(ctx, conn, { stdin, stdout: true, stderr: true, tty, detachKeys, mergeStderr: false });
    const autoRemove = c.HostConfig?.AutoRemove === true;
    let wait: Promise<ContainerWaitResponse> | undefined;
    try {
      wait = (await client.containerWait(c.Id, autoRemove ? 'removed' : 'next-exit')).result;
    } catch (e) {
      ctx.err(`error waiting for container: ${errText(e)}\n`);
    }
    try {
      await client.containerStart(c.Id);
    } catch (e) {
      session.abort.abort();
      await session.done.catch(() => {});
      if (autoRemove && wait) await wait.catch(() => {});
      throw e;
    }
    let stopResize: (() => void) | undefined;
    if (tty && ctx.io.stdout.isTTY) stopResize = await monitorTtySize(client, c.Id, false, ctx.io.stdout as { rows?: number; columns?: number }, ctx.err);
    try {
      if ((await session.done) === 'detached') return 0;
    } finally {
      stopResize?.();
    }
    return await waitStatus(ctx, wait);
  } finally {
    stopSignals?.();
  }
}

// --- attach -----------------------------------------------------------------------------------

async function inspectRunning(ctx: Ctx, id: string) {
  const c = await ctx.client().containerInspect(id);
  if (!c.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
  if (c.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
  if (c.State.Restarting) throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
  return c;
}

async function runAttach(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const name = f.args[0]!;
  // The wait goes first, as docker's does; its failure only matters once streaming is over.
  let wait: Promise<ContainerWaitResponse> | undefined;
  let waitErr: unknown;
  try {
    wait = (await client.containerWait(name)).result;
  } catch (e) {
    waitErr = e;
  }
  const c = await inspectRunning(ctx, name);
  const noStdin = f.values['no-stdin'] === true;
  const tty = c.Config.Tty === true;
  const bad = checkTty(ctx.io.stdin, !noStdin, tty);
  if (bad) throw new StatusError(1, bad);
  const detachKeys = detachKeysOf(ctx, f);
  const stdin = !noStdin && c.Config.OpenStdin === true;
  const stopSignals = f.values['sig-proxy'] !== false && !tty ? forwardSignals(client, name) : undefined;
  let stopResize: (() => void) | undefined;
  try {
    const conn = await client.containerAttach(name, { stdin, stdout: true, stderr: true, detachKeys });
    await inspectRunning(ctx, name).catch((e: unknown) => {
      conn.socket.destroy();
      throw e;
    });
    if (tty && ctx.io.stdout.isTTY) {
      const out = ctx.io.stdout as { rows?: number; columns?: number };
      // docker nudges the size by one first so a re-attached shell redraws its prompt.
      await client.containerResize(name, (out.rows ?? 0) + 1, (out.columns ?? 0) + 1).catch(() => {});
      stopResize = await monitorTtySize(client, name, false, out, ctx.err);
    }
    const session = startSession(ctx, conn, { stdin, stdout: true, stderr: true, tty, detachKeys, mergeStderr: false });
    if ((await session.done) === 'detached') throw new StatusError(1, 'read escape sequence');
  } finally {
    stopResize?.();
    stopSignals?.();
  }
  if (waitErr) throw waitErr;
  const r = await wait!;
  if (r.Error?.Message) throw new StatusError(1, r.Error.Message);
  return r.StatusCode;
}

// --- definitions ----------------------------------------------------------------------------------

const detachKeysFlag: FlagSpec = { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' };

export const runFlags: FlagSpec[] = [
  ...containerFlags,
  { name: 'detach', short: 'd', type: 'bool', usage: 'Run container in background and print container ID' },
  detachKeysFlag,
  pullFlag('running'),
  { name: 'sig-proxy', type: 'bool', usage: 'Proxy received signals to the process', default: true },
];

export const createFlags: FlagSpec[] = [...containerFlags, pullFlag('creating')];

export const commands: Record<string, CommandDef> = {
  run: { use: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]', flags: runFlags, args: { min: 1 }, interspersed: false, run: runRun } as CommandDef,
  create: { use: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]', flags: createFlags, args: { min: 1 }, interspersed: false, run: runCreate } as CommandDef,
  start: {
    use: 'start [OPTIONS] CONTAINER [CONTAINER...]',
    flags: [
      { name: 'attach', short: 'a', type: 'bool', usage: 'Attach STDOUT/STDERR and forward signals' },
      { name: 'checkpoint', type: 'string', usage: 'Restore from this checkpoint' },
      { name: 'checkpoint-dir', type: 'string', usage: 'Use a custom checkpoint storage directory' },
      detachKeysFlag,
      { name: 'interactive', short: 'i', type: 'bool', usage: "Attach container's STDIN" },
    ],
    args: { min: 1 },
    run: runStart,
  },
  attach: {
    use: 'attach [OPTIONS] CONTAINER',
    flags: [
      detachKeysFlag,
      { name: 'no-stdin', type: 'bool', usage: 'Do not attach STDIN' },
      { name: 'sig-proxy', type: 'bool', usage: 'Proxy all received signals to the process', default: true },
    ],
    args: { exact: 1 },
    run: runAttach,
  },
};
