// Daemon to daemon: `pier container move CONTAINER --to CONTEXT` and
// `pier image copy IMAGE --to CONTEXT`.
//
// The CLI resolves CONTEXT (a context from `pier context`, or a tcp:// address
// with --to-tlscacert/--to-tlscert/--to-tlskey) to an address and TLS material
// and hands them to the daemon it talks to (the source), which then acts as a
// client of the target: the bytes go daemon to daemon, not through the CLI.

import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';
import { displayJSONMessages } from '../jsonmessage.js';
import { loadContext } from '../contexts.js';
import type { RemoteTarget } from '../../client/types.js';

type TargetTls = NonNullable<RemoteTarget['TLS']>;

/** PEM text given either as such or as a file's path. */
async function pem(v: string | Buffer | undefined, what: string): Promise<string | undefined> {
  if (v === undefined || v === '') return undefined;
  const s = String(v);
  if (s.includes('-----BEGIN')) return s;
  try {
    return await readFile(s, 'utf8');
  } catch (e) {
    throw new StatusError(1, `could not read the ${what} ${s}: ${(e as Error).message}`);
  }
}

/** The TLS part of a Target: the CA, client certificate and key as PEM text (read when given as paths). */
async function targetTls(ca: string | Buffer | undefined, cert: string | Buffer | undefined, key: string | Buffer | undefined, skipVerify: boolean): Promise<TargetTls> {
  const [c, crt, k] = [await pem(ca, 'CA certificate'), await pem(cert, 'client certificate'), await pem(key, 'client key')];
  return { ...(c ? { CA: c } : {}), ...(crt ? { Cert: crt } : {}), ...(k ? { Key: k } : {}), SkipVerify: skipVerify };
}

/** --to: a context's name, or a daemon address with its TLS files in the --to-tls* flags. */
async function resolveTarget(ctx: Ctx, f: ParsedFlags): Promise<RemoteTarget> {
  const to = String(f.values['to'] ?? '').trim();
  if (!to) throw new StatusError(1, `"${ctx.path}" requires --to CONTEXT: the context (or tcp://HOST:PORT) of the daemon to send to`);
  if (to.includes('://')) {
    const verifyFlag = f.changed.has('to-tlsverify');
    const tls = await targetTls(f.values['to-tlscacert'] as string | undefined, f.values['to-tlscert'] as string | undefined, f.values['to-tlskey'] as string | undefined, verifyFlag && f.values['to-tlsverify'] === false);
    return { Host: to, ...(tls.CA || tls.Cert || tls.Key || verifyFlag ? { TLS: tls } : {}) };
  }
  let c: Awaited<ReturnType<typeof loadContext>>;
  try {
    c = await loadContext(to, ctx.io.env);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  if (!c.tls) return { Host: c.host };
  return { Host: c.host, TLS: await targetTls(c.tls.ca, c.tls.cert, c.tls.key, !c.tls.verify) };
}

const targetFlags = [
  { name: 'to', type: 'string', usage: 'Context (or tcp://HOST:PORT) of the daemon to send to' },
  { name: 'to-tlscacert', type: 'string', usage: 'With a tcp:// --to: trust certs signed only by this CA' },
  { name: 'to-tlscert', type: 'string', usage: 'With a tcp:// --to: path to the TLS certificate file' },
  { name: 'to-tlskey', type: 'string', usage: 'With a tcp:// --to: path to the TLS key file' },
  { name: 'to-tlsverify', type: 'bool', usage: "With a tcp:// --to: use TLS and verify the target's certificate (implied by the three above; =false skips the check)" },
] as const;

/** Prints the daemon's progress stream; an error message in it fails the command. */
async function show(ctx: Ctx, body: NodeJS.ReadableStream, quiet: boolean): Promise<void> {
  const isTerminal = ctx.io.stdout.isTTY === true;
  const out = quiet ? new Writable({ write: (_c, _e, cb) => cb() }) : ctx.io.stdout;
  await displayJSONMessages(body as never, out, { isTerminal, width: isTerminal ? ctx.io.stdout.columns ?? 200 : 200 });
}

const moveDef: CommandDef = {
  use: 'move [OPTIONS] CONTAINER --to CONTEXT',
  flags: [
    ...targetFlags,
    { name: 'force', short: 'f', type: 'bool', usage: "Move even with host bind mounts (the target binds its own host's paths) or a non-empty volume of the same name there" },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the progress output' },
  ] as never,
  args: { exact: 1 },
  async run(ctx, f) {
    const target = await resolveTarget(ctx, f);
    const name = f.args[0]!;
    const res = await ctx.client().containerMove(name, { Target: target, Force: f.values['force'] === true });
    await show(ctx, res.body, f.values['quiet'] === true);
    return 0;
  },
};

const copyDef: CommandDef = {
  use: 'copy [OPTIONS] IMAGE --to CONTEXT',
  flags: [...targetFlags, { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the progress output' }] as never,
  args: { exact: 1 },
  async run(ctx, f) {
    const target = await resolveTarget(ctx, f);
    const name = f.args[0]!;
    const res = await ctx.client().imageCopy(name, { Target: target });
    await show(ctx, res.body, f.values['quiet'] === true);
    return 0;
  },
};

export const commands: Record<string, CommandDef> = { move: moveDef, 'image copy': copyDef };
