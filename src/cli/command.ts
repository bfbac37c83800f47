// What every command shares: its definition, the context it runs in, docker's
// usage/help texts and argument-count errors.

import type { Readable, Writable } from 'node:stream';
import type { Client } from '../client/client.js';
import { flagUsages, type FlagSpec, type ParsedFlags } from './flags.js';

export interface IO {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
}

export interface Ctx {
  io: IO;
  /** "pier image ls": the command path used in messages. */
  path: string;
  debug: boolean;
  /** The daemon address in use (after -H / PIER_HOST / DOCKER_HOST, or the context's). */
  host: string;
  /** The context in use ("default" unless --context, DOCKER_CONTEXT or `pier context use` chose another). */
  context?: string;
  /** Created on first use so commands that fail early never touch the network. */
  client(): Client;
  out(s: string): void;
  err(s: string): void;
}

export interface CommandDef {
  /** "images [OPTIONS] [REPOSITORY[:TAG]]": the first word is the command's name. */
  use: string;
  flags: FlagSpec[];
  args?: { exact?: number; min?: number; max?: number };
  run(ctx: Ctx, f: ParsedFlags): Promise<number | void>;
}

/** Short description and aliases, kept in the dispatch table so help needs no module. */
export interface CommandMeta {
  short: string;
  /** The description its own --help prints, when longer than the group's one-liner. */
  long?: string;
  aliases?: string[];
}

/** Exit with `status`, printing `message` (if any) to stderr, like docker's cli.StatusError. */
export class StatusError extends Error {
  constructor(readonly status: number, message = '') {
    super(message);
    this.name = 'StatusError';
  }
}

export const usageLine = (parentPath: string, def: CommandDef) => `${parentPath} ${def.use}`;

/** Help width: docker wraps flag usages at the terminal width - 1, 80 when not a terminal. */
export function helpColumns(io: IO): number {
  const w = io.stdout.isTTY && io.stdout.columns ? io.stdout.columns : 80;
  return w - 1;
}

/** docker's `--help` text for a leaf command. */
export function helpText(parentPath: string, def: CommandDef, meta: CommandMeta, cols: number): string {
  let s = `Usage:  ${usageLine(parentPath, def)}\n\n${meta.long ?? meta.short}\n`;
  if (meta.aliases?.length) s += `\nAliases:\n  ${meta.aliases.join(', ')}\n`;
  if (def.flags.some((f) => !f.hidden)) s += `\nOptions:\n${flagUsages(def.flags, cols).trimEnd()}\n`;
  return s;
}

/** Help for a management command ("pier image"). */
export function groupHelpText(path: string, short: string, subs: [string, string][]): string {
  const pad = Math.max(11, ...subs.map(([n]) => n.length));
  let s = `Usage:  ${path} COMMAND\n\n${short}\n\nCommands:\n`;
  for (const [name, desc] of subs) s += `  ${name.padEnd(pad)} ${desc}\n`;
  s += `\nRun '${path} COMMAND --help' for more information on a command.\n`;
  return s;
}

const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');

/** docker's cli.ExactArgs / RequiresMinArgs / RequiresMaxArgs / NoArgs messages. */
export function checkArgs(path: string, parentPath: string, def: CommandDef, short: string, n: number): string | undefined {
  const a = def.args ?? { exact: 0 };
  let what: string | undefined;
  if (a.exact !== undefined) {
    if (n !== a.exact) what = a.exact === 0 ? 'accepts no arguments' : `requires exactly ${a.exact} ${plural(a.exact)}`;
  } else if (a.min !== undefined && a.max !== undefined) {
    if (n < a.min || n > a.max) what = `requires at least ${a.min} and at most ${a.max} ${plural(a.max)}`;
  } else if (a.min !== undefined) {
    if (n < a.min) what = `requires at least ${a.min} ${plural(a.min)}`;
  } else if (a.max !== undefined) {
    if (n > a.max) what = `requires at most ${a.max} ${plural(a.max)}`;
  }
  if (!what) return undefined;
  return `${JSON.stringify(path)} ${what}.\nSee '${path} --help'.\n\nUsage:  ${usageLine(parentPath, def)}\n\n${short}`;
}

/** docker's flagsHelper texts, used by several commands. */
export const formatHelp = {
  table:
    "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
  inspect:
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
};

/** Go's time.Format with the local zone, for the layouts docker prints. */
export function goTime(d: Date, layout: 'rfc3339' | 'rfc3339nanofixed' | 'string', nanos?: string): string {
  const off = -d.getTimezoneOffset();
  const p2 = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
  const time = `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  const sign = off < 0 ? '-' : '+';
  const oh = p2(Math.floor(Math.abs(off) / 60));
  const om = p2(Math.abs(off) % 60);
  if (layout === 'string') {
    // time.Time.String(): "2006-01-02 15:04:05 -0700 MST"
    return `${date} ${time} ${sign}${oh}${om} ${zoneAbbr(d)}`;
  }
  const zone = off === 0 ? 'Z' : `${sign}${oh}:${om}`;
  if (layout === 'rfc3339') return `${date}T${time}${zone}`;
  const frac = nanos ?? String(d.getMilliseconds() * 1_000_000).padStart(9, '0');
  return `${date}T${time}.${frac}${zone}`;
}

function zoneAbbr(d: Date): string {
  const off = -d.getTimezoneOffset();
  if (off === 0) return 'UTC';
  // Go prints the tzdata abbreviation ("CET"); Intl knows it for some zones only,
  // and Go itself falls back to the numeric offset when there is none.
  const name = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
  if (/^[A-Z]{2,5}$/.test(name)) return name;
  return `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
}
