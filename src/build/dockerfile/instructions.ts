/**
 * Typed instructions from parsed nodes, checked the way Docker 28's classic
 * builder checks them (BuildKit's frontend/dockerfile/instructions, vendored
 * by dockerd), and split into build stages.
 *
 *   const parsed = parse(text);
 *   const { metaArgs, stages } = toStages(parsed);
 *   // metaArgs: the ARGs before the first FROM (global build args, for FROM lines)
 *   // stages[i]: { index, name (lower-case, '' if unnamed), from, commands }
 *
 * Nothing is substituted here: variables depend on the step (ENV before it,
 * ARGs in scope, --build-arg values), so the builder calls
 * `expand(instruction, env)` at each step with build-args.ts's environment.
 * Docker substitutes in ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME
 * WORKDIR and ARG, never in RUN CMD ENTRYPOINT SHELL HEALTHCHECK MAINTAINER
 * ONBUILD (a trigger is substituted when it runs, in the child build).
 *
 * Errors read like dockerd's: "dockerfile parse error on line 2: Unknown flag:
 * chown", "dockerfile parse error on line 3: unknown instruction: FORM (did you
 * mean FROM?)", and "no build stage in current context" for an instruction
 * before the first FROM.
 *
 * The flags each instruction takes are those of Docker 28.0's bundled
 * Dockerfile frontend (1.14): COPY --exclude/--parents and ADD --exclude/--unpack
 * were labs-only there and are unknown flags here. The classic builder then
 * refuses more at run time ("the --mount option requires BuildKit", COPY/ADD
 * --chmod), ignores ADD --link/--checksum/--keep-git-dir and the heredoc
 * bodies; those are the builder's decisions, so all of it is parsed here.
 */
import { EngineError, invalid } from '../../base/errdefs.js';
import { DockerfileError, errorAt, type SourceSpan } from './error.js';
import { goQuote, parseDuration, parseInt10 } from './go-syntax.js';
import { chompHeredocContent, parse, parseHeredoc, type Heredoc, type Node, type ParseResult } from './parser.js';
import { exposedPorts } from './port-spec.js';
import { ShellLex, type EnvGetter } from './shell-lex.js';
import { stopSignalNumber } from './stop-signal.js';

interface Base {
  /** The instruction as one trimmed line: what "Step n/m : …" shows. */
  original: string;
  span: SourceSpan;
  /** The Dockerfile's escape character, which substitution uses too. */
  escape: '\\' | '`';
  /** The flags as written ("--from=build"). */
  flags: string[];
}

/** A heredoc body attached to RUN, COPY or ADD; `<<-` tab stripping already applied to content. */
export interface HeredocFile {
  name: string;
  content: string;
  /** Whether variables in content are to be substituted (delimiter not quoted). */
  expand: boolean;
  chomp: boolean;
}

/** Durations in nanoseconds, 0 meaning "inherit/default"; test as in the image config. */
export interface Health {
  /** ["NONE"], ["CMD", …argv], or ["CMD-SHELL", command]. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

/**
 * A command in exec form (string[]) or shell form (the text, to be run by the
 * SHELL). The shell form with no text at all is ''; Docker runs the bare shell
 * for it. ENTRYPOINT [] means "no entrypoint".
 */
export type CommandLine = string | string[];

export type Instruction =
  | (Base & { kind: 'FROM'; image: string; as?: string; platform?: string })
  | (Base & {
      kind: 'RUN';
      cmd: CommandLine;
      heredocs: HeredocFile[];
      /** --mount values as written (not interpreted here). */
      mounts: string[];
      network?: string;
      security?: string;
      devices: string[];
      /** The flags given, by name, in order: the classic builder refuses the first. */
      flagsUsed: string[];
    })
  | (Base & { kind: 'CMD'; cmd: CommandLine })
  | (Base & { kind: 'ENTRYPOINT'; cmd: CommandLine })
  | (Base & { kind: 'ENV'; pairs: [string, string][] })
  | (Base & { kind: 'LABEL'; pairs: [string, string][] })
  | (Base & { kind: 'ARG'; args: { name: string; default?: string }[] })
  | (Base & {
      kind: 'EXPOSE';
      /** As written (sorted, as Docker sorts them); after expand, the substituted words. */
      ports: string[];
      /** After expand: the exposed port keys, "80/tcp". */
      exposed?: string[];
    })
  | (Base & { kind: 'WORKDIR'; path: string })
  | (Base & { kind: 'USER'; user: string })
  | (Base & { kind: 'VOLUME'; paths: string[] })
  | (Base & { kind: 'STOPSIGNAL'; signal: string })
  | (Base & { kind: 'SHELL'; cmd: string[] })
  | (Base & { kind: 'HEALTHCHECK'; health: Health })
  | (Base & {
      kind: 'ONBUILD';
      /** The trigger as stored in the image's OnBuild list. */
      expression: string;
      /** Its instruction, upper-cased: "RUN". */
      trigger: string;
    })
  | (Base & { kind: 'MAINTAINER'; name: string })
  | (Base & {
      kind: 'COPY';
      sources: string[];
      dest: string;
      heredocs: HeredocFile[];
      from?: string;
      chown?: string;
      chmod?: string;
      link: boolean;
    })
  | (Base & {
      kind: 'ADD';
      sources: string[];
      dest: string;
      heredocs: HeredocFile[];
      chown?: string;
      chmod?: string;
      link: boolean;
      checksum?: string;
      keepGitDir: boolean;
    });

export type InstructionOf<K extends Instruction['kind']> = Extract<Instruction, { kind: K }>;

export interface Stage {
  index: number;
  /** Lower-cased AS name, '' when unnamed. */
  name: string;
  from: InstructionOf<'FROM'>;
  commands: Instruction[];
}

export interface Stages {
  /** ARGs before the first FROM: the global build args, in scope for FROM lines only. */
  metaArgs: InstructionOf<'ARG'>[];
  stages: Stage[];
}

export const INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK',
  'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

/** An error in one instruction, before Docker adds "dockerfile parse error on line N: ". */
class InstructionError extends Error {}

interface Context {
  file: string;
  lines: readonly string[];
  escape: '\\' | '`';
}

function contextOf(input: ParseResult | readonly Node[], o: Partial<Context>): Context {
  if (Array.isArray(input)) return { file: o.file ?? 'Dockerfile', lines: o.lines ?? [], escape: o.escape ?? '\\' };
  const r = input as ParseResult;
  return { file: r.file, lines: r.lines, escape: r.directives.escape };
}

function spanOf(node: Node, ctx: Context): SourceSpan {
  return { file: ctx.file, startLine: node.startLine, endLine: node.endLine, source: ctx.lines.slice(node.startLine - 1, node.endLine).join('\n') };
}

/**
 * instructions.Parse: the nodes into global ARGs and stages. Pass the
 * ParseResult (or nodes with their file/lines for error messages).
 */
export function toStages(input: ParseResult | readonly Node[], o: Partial<Context> = {}): Stages {
  const ctx = contextOf(input, o);
  const nodes = Array.isArray(input) ? (input as readonly Node[]) : (input as ParseResult).nodes;
  const metaArgs: InstructionOf<'ARG'>[] = [];
  const stages: Stage[] = [];
  for (const node of nodes) {
    const ins = parseInstruction(node, ctx);
    if (stages.length === 0 && ins.kind === 'ARG') {
      metaArgs.push(ins);
      continue;
    }
    if (ins.kind === 'FROM') {
      stages.push({ index: stages.length, name: ins.as ?? '', from: ins, commands: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (!current) throw errorAt(ins.span, 'no build stage in current context');
    current.commands.push(ins);
  }
  return { metaArgs, stages };
}

/** One node as a typed instruction; errors say "dockerfile parse error on line N: …". */
export function parseInstruction(node: Node, o: Partial<Context> = {}): Instruction {
  const ctx: Context = { file: o.file ?? 'Dockerfile', lines: o.lines ?? [], escape: o.escape ?? '\\' };
  const span = spanOf(node, ctx);
  try {
    return fromNode(node, span, ctx.escape);
  } catch (e) {
    if (e instanceof InstructionError) throw errorAt(span, `dockerfile parse error on line ${node.startLine}: ${e.message}`);
    throw e;
  }
}

/**
 * An ONBUILD trigger from a base image, as the child build runs it
 * (dispatchTriggeredOnBuild): one instruction, errors without a line prefix.
 */
export function parseTrigger(expression: string): Instruction {
  const parsed = parse(expression, { file: 'ONBUILD', bare: true });
  if (parsed.nodes.length !== 1) throw invalid('onbuild trigger should be a single expression');
  const node = parsed.nodes[0]!;
  const ctx = contextOf(parsed, {});
  const span = spanOf(node, ctx);
  let ins: Instruction;
  try {
    ins = fromNode(node, span, ctx.escape);
  } catch (e) {
    if (e instanceof InstructionError) throw errorAt(span, e.message);
    throw e;
  }
  if (ins.kind === 'FROM') throw errorAt(span, '*instructions.Stage is not a command type');
  return ins;
}

// ---- flags (BuildKit's BFlags) -------------------------------------------------------------

type FlagType = 'bool' | 'string' | 'strings';
interface Flag {
  type: FlagType;
  value: string;
  values: string[];
}

class Flags {
  private readonly defs = new Map<string, Flag>();
  readonly used = new Map<string, Flag>();
  constructor(private readonly args: readonly string[]) {}

  private add(name: string, type: FlagType, value: string): Flag {
    const f: Flag = { type, value, values: [] };
    this.defs.set(name, f);
    return f;
  }
  bool(name: string, def = false): Flag {
    return this.add(name, 'bool', def ? 'true' : 'false');
  }
  string(name: string, def = ''): Flag {
    return this.add(name, 'string', def);
  }
  strings(name: string): Flag {
    return this.add(name, 'strings', '');
  }

  parse(): void {
    for (const raw of this.args) {
      if (!raw.startsWith('--')) throw new InstructionError(`Arg should start with -- : ${raw}`);
      if (raw === '--') return;
      let name = raw.slice(2);
      let value = '';
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const flag = this.defs.get(name);
      if (!flag) throw new InstructionError(`Unknown flag: ${name}`);
      if (this.used.has(name) && flag.type !== 'strings') throw new InstructionError(`Duplicate flag specified: ${name}`);
      this.used.set(name, flag);
      switch (flag.type) {
        case 'bool': {
          if (eq >= 0 && value === '') throw new InstructionError(`Missing a value on flag: ${name}`);
          const lower = value.toLowerCase();
          if (lower === '') flag.value = 'true';
          else if (lower === 'true' || lower === 'false') flag.value = lower;
          else throw new InstructionError(`Expecting boolean value for flag ${name}, not: ${value}`);
          break;
        }
        case 'string':
          if (eq < 0) throw new InstructionError(`Missing a value on flag: ${name}`);
          flag.value = value;
          break;
        case 'strings':
          if (eq < 0) throw new InstructionError(`Missing a value on flag: ${name}`);
          flag.values.push(value);
          break;
      }
    }
  }
}

const opt = (s: string) => (s === '' ? undefined : s);

// ---- per instruction ------------------------------------------------------------------------

const atLeastOne = (cmd: string) => new InstructionError(`${cmd} requires at least one argument`);
const exactlyOne = (cmd: string) => new InstructionError(`${cmd} requires exactly one argument`);
const noDestination = (cmd: string) =>
  new InstructionError(`${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);
const blankNames = (cmd: string) => new InstructionError(`${cmd} names can not be blank`);

const STAGE_NAME = /^[a-z][a-z0-9\-_.]*$/;

/** handleJSONArgs, shaped as a CommandLine. */
function commandLine(args: readonly string[], json: boolean): CommandLine {
  if (json) return [...args];
  return args.join(' ');
}

function heredocFile(h: Heredoc): HeredocFile {
  return { name: h.name, content: h.chomp ? chompHeredocContent(h.content) : h.content, expand: h.expand, chomp: h.chomp };
}

function kvps(args: readonly string[], cmd: string): [string, string][] {
  if (args.length === 0) throw atLeastOne(cmd);
  if (args.length % 2 !== 0) throw new InstructionError(`Bad input to ${cmd}, too many arguments`);
  const pairs: [string, string][] = [];
  for (let i = 0; i < args.length; i += 2) {
    if (args[i]!.length === 0) throw blankNames(cmd);
    pairs.push([args[i]!, args[i + 1]!]);
  }
  return pairs;
}

const tryHeredoc = (word: string) => {
  try {
    return parseHeredoc(word);
  } catch {
    return undefined;
  }
};

/** parseSourcesAndDest: heredoc sources (`COPY <<EOF /x`) become files, the rest paths. */
function sourcesAndDest(node: Node, cmd: string): { sources: string[]; dest: string; heredocs: HeredocFile[] } {
  const srcs = node.args.slice(0, -1);
  const dest = node.args[node.args.length - 1]!;
  if (tryHeredoc(dest)) throw new InstructionError(`${cmd} cannot accept a heredoc as a destination`);
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const heredocs: HeredocFile[] = [];
  for (const src of srcs) {
    const doc = tryHeredoc(src);
    if (!doc) {
      sources.push(src);
      continue;
    }
    const content = byName.get(doc.name)?.content ?? '';
    heredocs.push({ name: doc.name, content: doc.chomp ? chompHeredocContent(content) : content, expand: doc.expand, chomp: doc.chomp });
  }
  return { sources, dest, heredocs };
}

/** parseOptInterval: '' is 0, 0 is 0, anything else at least 1ms. */
function interval(name: string, value: string): number {
  if (value === '') return 0;
  let d: number;
  try {
    d = parseDuration(value);
  } catch (e) {
    throw new InstructionError((e as Error).message);
  }
  if (d === 0) return 0;
  if (d < 1_000_000) throw new InstructionError(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return d;
}

/**
 * suggest.WrapError: the closest name within edit distance 2, in the case the
 * user wrote (all lower, all upper, else lower). Ties go to the first in
 * alphabetical order (Go's map order makes Docker's pick random).
 */
function suggest(value: string, options: readonly string[]): string | undefined {
  const v = value.toLowerCase();
  let best: string | undefined;
  let min = 3;
  for (const o of options) {
    const opt = o.toLowerCase();
    if (opt === v) return undefined;
    const d = levenshtein(v, opt);
    if (d < min) {
      min = d;
      best = value === value.toLowerCase() ? opt : value === value.toUpperCase() ? opt.toUpperCase() : opt;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/** nodeArgs: ONBUILD's arguments are its trigger's keyword and arguments. */
function nodeArgs(node: Node): string[] {
  if (node.child) return [node.child.keyword, ...nodeArgs(node.child)];
  return node.args;
}

function fromNode(node: Node, span: SourceSpan, escape: '\\' | '`'): Instruction {
  const args = nodeArgs(node);
  const flags = new Flags(node.flags);
  const base: Base = { original: node.original.trim(), span, escape, flags: [...node.flags] };
  switch (node.instruction) {
    case 'ENV':
      flags.parse();
      return { ...base, kind: 'ENV', pairs: kvps(args, 'ENV') };
    case 'MAINTAINER':
      if (args.length !== 1) throw exactlyOne('MAINTAINER');
      flags.parse();
      return { ...base, kind: 'MAINTAINER', name: args[0]! };
    case 'LABEL':
      flags.parse();
      return { ...base, kind: 'LABEL', pairs: kvps(args, 'LABEL') };
    case 'ADD': {
      if (args.length < 2) throw noDestination('ADD');
      const chown = flags.string('chown');
      const chmod = flags.string('chmod');
      const link = flags.bool('link');
      const keepGitDir = flags.bool('keep-git-dir');
      const checksum = flags.string('checksum');
      flags.parse();
      return {
        ...base,
        kind: 'ADD',
        ...sourcesAndDest(node, 'ADD'),
        chown: opt(chown.value),
        chmod: opt(chmod.value),
        link: link.value === 'true',
        checksum: opt(checksum.value),
        keepGitDir: keepGitDir.value === 'true',
      };
    }
    case 'COPY': {
      if (args.length < 2) throw noDestination('COPY');
      const chown = flags.string('chown');
      const from = flags.string('from');
      const chmod = flags.string('chmod');
      const link = flags.bool('link');
      flags.parse();
      return {
        ...base,
        kind: 'COPY',
        ...sourcesAndDest(node, 'COPY'),
        from: opt(from.value),
        chown: opt(chown.value),
        chmod: opt(chmod.value),
        link: link.value === 'true',
      };
    }
    case 'FROM': {
      let as: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        as = args[2]!.toLowerCase();
        if (!STAGE_NAME.test(as)) {
          throw new InstructionError(`invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) throw new InstructionError('FROM requires either one or three arguments');
      const platform = flags.string('platform');
      flags.parse();
      return { ...base, kind: 'FROM', image: args[0]!, as, platform: opt(platform.value) };
    }
    case 'ONBUILD': {
      if (args.length === 0) throw atLeastOne('ONBUILD');
      flags.parse();
      const trigger = args[0]!.trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new InstructionError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new InstructionError(`${trigger} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i, '');
      for (const h of node.heredocs) expression += '\n' + h.content + h.name;
      return { ...base, kind: 'ONBUILD', expression, trigger };
    }
    case 'WORKDIR':
      if (args.length !== 1) throw exactlyOne('WORKDIR');
      flags.parse();
      return { ...base, kind: 'WORKDIR', path: args[0]! };
    case 'RUN': {
      const device = flags.strings('device');
      const mount = flags.strings('mount');
      const network = flags.string('network', 'default');
      const security = flags.string('security', 'sandbox');
      flags.parse();
      // Post-hooks, in Docker's order: (devices and mounts are kept as written) network, security.
      if (!['default', 'none', 'host'].includes(network.value)) throw new InstructionError(`invalid network mode ${goQuote(network.value)}`);
      if (!['sandbox', 'insecure'].includes(security.value)) throw new InstructionError(`security ${goQuote(security.value)} is not valid`);
      return {
        ...base,
        kind: 'RUN',
        cmd: commandLine(args, node.json),
        heredocs: node.heredocs.map(heredocFile),
        mounts: [...mount.values],
        network: flags.used.has('network') ? network.value : undefined,
        security: flags.used.has('security') ? security.value : undefined,
        devices: [...device.values],
        flagsUsed: [...flags.used.keys()],
      };
    }
    case 'CMD':
      flags.parse();
      return { ...base, kind: 'CMD', cmd: commandLine(args, node.json) };
    case 'ENTRYPOINT':
      flags.parse();
      return { ...base, kind: 'ENTRYPOINT', cmd: commandLine(args, node.json) };
    case 'HEALTHCHECK':
      return { ...base, kind: 'HEALTHCHECK', health: healthcheck(node, args, flags) };
    case 'EXPOSE':
      if (args.length === 0) throw atLeastOne('EXPOSE');
      flags.parse();
      return { ...base, kind: 'EXPOSE', ports: [...args].sort() };
    case 'USER':
      if (args.length !== 1) throw exactlyOne('USER');
      flags.parse();
      return { ...base, kind: 'USER', user: args[0]! };
    case 'VOLUME': {
      if (args.length === 0) throw atLeastOne('VOLUME');
      flags.parse();
      const paths = args.map((v) => v.trim());
      if (paths.some((p) => p === '')) throw new InstructionError('VOLUME specified can not be an empty string');
      return { ...base, kind: 'VOLUME', paths };
    }
    case 'STOPSIGNAL':
      // Docker reads no flags for STOPSIGNAL (nor ARG): any given are ignored.
      if (args.length !== 1) throw exactlyOne('STOPSIGNAL');
      return { ...base, kind: 'STOPSIGNAL', signal: args[0]! };
    case 'ARG': {
      if (args.length === 0) throw atLeastOne('ARG');
      const list = args.map((arg) => {
        const i = arg.indexOf('=');
        if (i < 0) return { name: arg };
        if (i === 0) throw blankNames('ARG');
        return { name: arg.slice(0, i), default: arg.slice(i + 1) };
      });
      return { ...base, kind: 'ARG', args: list };
    }
    case 'SHELL': {
      flags.parse();
      if (args.length === 0) throw atLeastOne('SHELL');
      if (!node.json) throw new InstructionError('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'SHELL', cmd: [...args] };
    }
  }
  const match = suggest(node.keyword, INSTRUCTIONS);
  throw new InstructionError(`unknown instruction: ${node.keyword}${match ? ` (did you mean ${match}?)` : ''}`);
}

function healthcheck(node: Node, args: readonly string[], flags: Flags): Health {
  if (args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    // Flags are not read for NONE.
    if (rest.length !== 0) throw new InstructionError('HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  }
  const fInterval = flags.string('interval');
  const fTimeout = flags.string('timeout');
  const fStartPeriod = flags.string('start-period');
  const fStartInterval = flags.string('start-interval');
  const fRetries = flags.string('retries');
  flags.parse();
  if (type !== 'CMD') throw new InstructionError(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? [...rest] : rest.length === 0 ? [] : [rest.join(' ')];
  if (cmd.length === 0) throw new InstructionError('Missing command after HEALTHCHECK CMD');
  const test = [node.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  const health: Health = {
    test,
    interval: interval('interval', fInterval.value),
    timeout: interval('timeout', fTimeout.value),
    startPeriod: interval('start-period', fStartPeriod.value),
    startInterval: interval('start-interval', fStartInterval.value),
    retries: 0,
  };
  if (fRetries.value !== '') {
    let n: number;
    try {
      n = parseInt10(fRetries.value, 32);
    } catch (e) {
      throw new InstructionError((e as Error).message);
    }
    if (n < 0) throw new InstructionError(`--retries cannot be negative (${n})`);
    health.retries = n;
  }
  return health;
}

// ---- substitution ---------------------------------------------------------------------------

/**
 * The instruction with variables substituted, as the builder dispatches it at
 * a step: `env` is that step's environment (build-args.ts: the stage's ENV
 * plus the ARGs in scope; for FROM, the global build args). Every value in
 * the instruction is substituted with the same env, so
 * `ENV abc=bye def=$abc` sets def to the abc from before the instruction.
 *
 * What is substituted, per instruction (Docker 28's Expand methods):
 *   FROM: image, --platform      ENV, LABEL: keys and values
 *   ARG: names and defaults      WORKDIR, USER, STOPSIGNAL (then checked), VOLUME
 *   COPY: sources, dest, --chown (not --from: the classic builder leaves it as written)
 *   ADD: sources, dest, --chown, --checksum
 *   EXPOSE: each word, split on white space, then checked into `exposed`
 * Heredoc bodies are not touched (their `expand` says whether a builder should).
 * Everything else comes back as it is.
 */
export function expand<I extends Instruction>(ins: I, env: EnvGetter): I {
  const lex = new ShellLex(ins.escape);
  const word = (s: string) => lex.processWord(s, env);
  const maybe = (s: string | undefined) => (s === undefined ? undefined : opt(word(s)));
  try {
    switch (ins.kind) {
      case 'FROM': {
        const image = word(ins.image);
        if (image === '') throw invalid(`base name (${ins.image}) should not be blank`);
        return { ...ins, image, platform: maybe(ins.platform) };
      }
      case 'ENV':
      case 'LABEL':
        return { ...ins, pairs: ins.pairs.map(([k, v]) => [word(k), word(v)]) };
      case 'ARG':
        return { ...ins, args: ins.args.map((a) => ({ name: word(a.name), ...(a.default === undefined ? {} : { default: word(a.default) }) })) };
      case 'WORKDIR':
        return { ...ins, path: word(ins.path) };
      case 'USER':
        return { ...ins, user: word(ins.user) };
      case 'VOLUME':
        return { ...ins, paths: ins.paths.map(word) };
      case 'STOPSIGNAL': {
        const signal = word(ins.signal);
        stopSignalNumber(signal);
        return { ...ins, signal };
      }
      case 'COPY':
        return { ...ins, sources: ins.sources.map(word), dest: word(ins.dest), chown: maybe(ins.chown) };
      case 'ADD':
        return { ...ins, sources: ins.sources.map(word), dest: word(ins.dest), chown: maybe(ins.chown), checksum: maybe(ins.checksum) };
      case 'EXPOSE': {
        const ports = ins.ports.flatMap((p) => lex.processWords(p, env));
        return { ...ins, ports, exposed: exposedPorts(ports) };
      }
      default:
        return ins;
    }
  } catch (e) {
    if (e instanceof DockerfileError || !(e instanceof EngineError)) throw e;
    throw errorAt(ins.span, e.message, e);
  }
}

/** dispatchEnv: set each pair in an image's Env list, replacing a variable of the same name in place. */
export function applyEnv(env: readonly string[], pairs: readonly (readonly [string, string])[]): string[] {
  const out = [...env];
  for (const [k, v] of pairs) {
    const entry = `${k}=${v}`;
    const i = out.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === k);
    if (i >= 0) out[i] = entry;
    else out.push(entry);
  }
  return out;
}

// ---- stages ---------------------------------------------------------------------------------

/** The stage `--target` names (case-insensitive), or Docker's error. */
export function targetStage(stages: readonly Stage[], target: string): number {
  const i = stages.findIndex((s) => s.name !== '' && s.name === target.toLowerCase());
  if (i < 0) throw invalid(`failed to reach build target ${target} in Dockerfile`);
  return i;
}

/** The stage a FROM names, among those built before `current`; undefined when it names an image. */
export function fromStage(stages: readonly Stage[], name: string, current: number): number | undefined {
  const i = stages.findIndex((s, j) => j < current && s.name !== '' && s.name === name.toLowerCase());
  return i < 0 ? undefined : i;
}

/**
 * What COPY --from names, as the classic builder resolves it while building
 * stage `current`: an earlier stage by name, else a stage index (only an
 * earlier one), else an image reference.
 */
export function copyFromStage(stages: readonly Stage[], ref: string, current: number): { stage: number } | { image: string } {
  const named = fromStage(stages, ref, current);
  if (named !== undefined) return { stage: named };
  if (!/^[+-]?[0-9]+$/.test(ref)) return { image: ref };
  const i = Number(ref);
  if (i === current) throw invalid(`invalid from flag value ${ref}: refers to current build stage`);
  if (i < 0 || i > current) throw invalid(`invalid from flag value ${ref}: index out of bounds`);
  return { stage: i };
}

/** Checked as each stage begins: a name an earlier stage already took. */
export function checkStageName(stages: readonly Stage[], index: number): void {
  const name = stages[index]?.name ?? '';
  if (name !== '' && stages.slice(0, index).some((s) => s.name === name)) throw invalid(`${name} stage name already used`);
}
