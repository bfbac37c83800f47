// pier exec: POST /containers/{id}/exec → POST /exec/{id}/start (hijacked unless
// detached) → GET /exec/{id}/json for the exit code, as docker's exec.go.

import { ConnectError } from '../../client/errors.js';
import type { ExecCreateRequest } from '../../client/types.js';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';
import { checkTty, monitorTtySize, streamHijacked } from '../hijack.js';
import { parseKeyValueFile, validateEnv } from './container-opts.js';
import { clientConfig } from './run.js';

/** parseExec: the body of POST /containers/{id}/exec. */
export function execRequest(f: ParsedFlags, cmd: string[], env: Record<string, string | undefined>): ExecCreateRequest {
  const detach = f.values['detach'] === true;
  const tty = f.values['tty'] === true;
  const vars: string[] = [];
  for (const file of f.values['env-file'] as string[]) vars.push(...parseKeyValueFile(file, (n) => env[n]));
  for (const e of f.values['env'] as string[]) vars.push(validateEnv(e, env));
  return {
    User: f.values['user'] as string,
    Privileged: f.values['privileged'] === true,
    Tty: tty,
    AttachStdin: !detach && f.values['interactive'] === true,
    AttachStderr: !detach,
    AttachStdout: !detach,
    Detach: detach,
    DetachKeys: (f.values['detach-keys'] as string) || clientConfig(env).detachKeys || '',
    Env: vars.length ? vars : null,
    WorkingDir: f.values['workdir'] as string,
    Cmd: cmd,
  };
}

/** Put ConsoleSize right after Tty, where Go's encoder writes it. */
function withConsoleSize(req: ExecCreateRequest, size: [number, number]): ExecCreateRequest {
  const { User, Privileged, Tty, ...rest } = req;
  return { User, Privileged, Tty, ConsoleSize: size, ...rest };
}

async function runExec(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [container, ...cmd] = f.args as [string, ...string[]];
  let req: ExecCreateRequest;
  try {
    req = execRequest(f, cmd, ctx.io.env);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  const client = ctx.client();
  // A dummy inspect first, so that "No such container" wins over everything else.
  await client.containerInspect(container);
  if (!req.Detach) {
    const bad = checkTty(ctx.io.stdin, req.AttachStdin, req.Tty);
    if (bad) throw new StatusError(1, bad);
  }
  const out = ctx.io.stdout as { isTTY?: boolean; rows?: number; columns?: number };
  const size: [number, number] = out.isTTY ? [out.rows ?? 0, out.columns ?? 0] : [0, 0];
  if (req.Tty) req = withConsoleSize(req, size);
  const { Id: execId } = await client.execCreate(container, req);
  if (!execId) throw new StatusError(1, 'exec ID empty');
  if (req.Detach) {
    await client.execStartDetached(execId, req.Tty ? { Detach: true, Tty: true, ConsoleSize: size } : { Detach: true, Tty: false });
    return 0;
  }
  const conn = await client.execAttach(execId, req.Tty ? { Detach: false, Tty: true, ConsoleSize: size } : { Detach: false, Tty: false });
  const session = streamHijacked({
    conn: conn.socket,
    stdin: req.AttachStdin ? ctx.io.stdin : undefined,
    stdout: ctx.io.stdout,
    stderr: req.Tty ? ctx.io.stdout : ctx.io.stderr,
    tty: req.Tty,
    detachKeys: req.DetachKeys,
    warn: (s) => ctx.err(s),
  });
  let stopResize: (() => void) | undefined;
  if (req.Tty && ctx.io.stdin.isTTY) stopResize = await monitorTtySize(client, execId, true, out, ctx.err);
  try {
    if ((await session) === 'detached') throw new StatusError(1, 'read escape sequence');
  } finally {
    stopResize?.();
  }
  try {
    const r = await client.execInspect(execId);
    return r.ExitCode ?? 0;
  } catch (e) {
    // The daemon went away: docker exits -1 (255).
    if (e instanceof ConnectError) return 255;
    throw e;
  }
}

export const commands: Record<string, CommandDef> = {
  exec: {
    use: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
    flags: [
      { name: 'detach', short: 'd', type: 'bool', usage: 'Detached mode: run command in the background' },
      { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
      { name: 'env', short: 'e', type: 'list', usage: 'Set environment variables', validate: (v) => (v === '' || v.startsWith('=') ? `invalid environment variable: ${v}` : undefined) },
      { name: 'env-file', type: 'list', usage: 'Read in a file of environment variables' },
      { name: 'interactive', short: 'i', type: 'bool', usage: 'Keep STDIN open even if not attached' },
      { name: 'privileged', type: 'bool', usage: 'Give extended privileges to the command' },
      { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
      { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
      { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
    ],
    args: { min: 2 },
    interspersed: false,
    run: runExec,
  } as CommandDef,
};
