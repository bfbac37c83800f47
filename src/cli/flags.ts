// A small flag parser with docker's (spf13/pflag) semantics:
//   -aq            bundled booleans          -f x, -fx, -f=x   short with value
//   --flag=value   --flag value              --bool, --bool=false
//   repeatable list/filter flags, "--" ends flags, -h/--help everywhere.
// Errors carry pflag's texts ("unknown flag: --x"); the caller adds
// "See 'pier images --help'." and exits 125 like docker.

import type { Filters } from '../client/types.js';

/** 'map': docker's MapOpts (`-o k=v`, repeatable); the values are the "k=v" strings as given. */
export type FlagType = 'bool' | 'string' | 'int' | 'list' | 'filter' | 'strings' | 'map';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  usage: string;
  /** Default value; shown in help as pflag does when it is not the zero value. */
  default?: string | boolean | number;
  hidden?: boolean;
  /** Check a value as it is set (docker's filter opt, say); the error text follows "flag: ". */
  validate?: (v: string) => string | undefined;
}

export type FlagValue = string | boolean | number | string[];

export interface ParsedFlags {
  /** Values by flag name; lists are arrays, unset flags hold their defaults. */
  values: Record<string, FlagValue>;
  /** Names of flags given on the command line. */
  changed: Set<string>;
  args: string[];
  help: boolean;
}

export class FlagError extends Error {}

const helpFlag: FlagSpec = { name: 'help', short: 'h', type: 'bool', usage: 'Print usage', hidden: true };

function zero(t: FlagType): FlagValue {
  switch (t) {
    case 'bool': return false;
    case 'int': return 0;
    case 'string': return '';
    default: return [];
  }
}

/** Go's strconv.ParseBool. */
export function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** docker's filter option: "name=value". */
/** A flag's validate() from a parser that throws: its message is the flag error. */
export const check = (fn: (v: string) => unknown) => (v: string): string | undefined => {
  try {
    fn(v);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

export const validateFilter = (v: string): string | undefined =>
  v.includes('=') ? undefined : 'bad format of filter (expected name=value)';

/** Repeated `-f key=value` options → API filters {"key":{"value":true}}. */
export function toFilters(list: readonly string[]): Filters {
  const f: Filters = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    const k = kv.slice(0, i).trim().toLowerCase();
    const v = kv.slice(i + 1).trim();
    (f[k] ??= {})[v] = true;
  }
  return f;
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], o: { interspersed?: boolean } = {}): ParsedFlags {
  const interspersed = o.interspersed ?? true;
  const all = specs.some((s) => s.name === 'help') ? specs : [...specs, helpFlag];
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const s of all) {
    byName.set(s.name, s);
    if (s.short) byShort.set(s.short, s);
  }
  const values: Record<string, FlagValue> = {};
  for (const s of all) {
    const d = s.default;
    values[s.name] = d === undefined ? zero(s.type) : Array.isArray(d) ? [...d] : d;
  }
  const changed = new Set<string>();
  const args: string[] = [];

  const set = (spec: FlagSpec, value: string) => {
    const display = spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
    const bad = (why: string) => new FlagError(`invalid argument ${goQuote(value)} for ${goQuote(display)} flag: ${why}`);
    switch (spec.type) {
      case 'bool': {
        const b = parseBool(value);
        if (b === undefined) throw bad(`strconv.ParseBool: parsing ${goQuote(value)}: invalid syntax`);
        values[spec.name] = b;
        break;
      }
      case 'int': {
        if (!/^[+-]?\d+$/.test(value)) throw bad(`strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
        values[spec.name] = Number(value);
        break;
      }
      case 'string':
        if (spec.validate) {
          const e = spec.validate(value);
          if (e) throw bad(e);
        }
        values[spec.name] = value;
        break;
      case 'strings': {
        // pflag's stringSlice: comma-separated, appends on repeat.
        const prev = changed.has(spec.name) ? (values[spec.name] as string[]) : [];
        values[spec.name] = [...prev, ...(value === '' ? [] : value.split(','))];
        break;
      }
      default: {
        if (spec.validate) {
          const e = spec.validate(value);
          if (e) throw bad(e);
        }
        const prev = changed.has(spec.name) ? (values[spec.name] as string[]) : [];
        values[spec.name] = [...prev, value];
      }
    }
    changed.add(spec.name);
  };

  let rest = [...argv];
  while (rest.length > 0) {
    const s = rest.shift()!;
    if (s.length < 2 || s[0] !== '-') {
      args.push(s);
      if (!interspersed) {
        args.push(...rest);
        break;
      }
      continue;
    }
    if (s[1] === '-') {
      if (s.length === 2) {
        args.push(...rest);
        break;
      }
      const body = s.slice(2);
      if (body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
      const eq = body.indexOf('=');
      const name = eq === -1 ? body : body.slice(0, eq);
      const spec = byName.get(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`);
      if (eq !== -1) set(spec, body.slice(eq + 1));
      else if (spec.type === 'bool') set(spec, 'true');
      else if (rest.length > 0) set(spec, rest.shift()!);
      else throw new FlagError(`flag needs an argument: ${s}`);
      continue;
    }
    // Shorthand bundle: -aq, -fvalue, -f=value, -f value.
    let shorts = s.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0]!;
      const spec = byShort.get(c);
      if (!spec) throw new FlagError(`unknown shorthand flag: ${goQuoteRune(c)} in -${shorts}`);
      if (shorts.length > 2 && shorts[1] === '=') {
        set(spec, shorts.slice(2));
        shorts = '';
      } else if (spec.type === 'bool') {
        set(spec, 'true');
        shorts = shorts.slice(1);
      } else if (shorts.length > 1) {
        set(spec, shorts.slice(1));
        shorts = '';
      } else if (rest.length > 0) {
        set(spec, rest.shift()!);
        shorts = '';
      } else {
        throw new FlagError(`flag needs an argument: ${goQuoteRune(c)} in -${shorts}`);
      }
    }
  }
  const help = values['help'] === true;
  if (!specs.some((s) => s.name === 'help')) delete values['help'];
  return { values, changed, args, help };
}

/** Go's %q for plain strings. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

function goQuoteRune(c: string): string {
  return c === "'" ? "'\\''" : c === '\\' ? "'\\\\'" : `'${c}'`;
}

// --- help ---------------------------------------------------------------------

function typeName(t: FlagType): string {
  switch (t) {
    case 'bool': return '';
    case 'strings': return 'strings';
    default: return t;
  }
}

function defaultIsZero(s: FlagSpec): boolean {
  const d = s.default;
  if (d === undefined) return true;
  if (Array.isArray(d)) return d.length === 0;
  return d === false || d === '' || d === 0;
}

/** pflag's FlagUsagesWrapped: the "Options:" block of a help text. */
export function flagUsages(specs: readonly FlagSpec[], cols: number): string {
  const visible = specs.filter((s) => !s.hidden).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines: string[] = [];
  let maxlen = 0;
  for (const f of visible) {
    let line = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    let usage = f.usage;
    let varname = typeName(f.type);
    const bq = /`([^`]*)`/.exec(usage);
    if (bq) {
      varname = bq[1]!;
      usage = usage.replace(bq[0], bq[1]!);
    }
    if (varname) line += ' ' + varname;
    line += '\x00';
    if (line.length > maxlen) maxlen = line.length;
    line += usage;
    if (f.type === 'map') line += ' (default map[])'; // pflag prints a MapOpts' String() of nothing
    else if (!defaultIsZero(f)) {
      line += f.type === 'string' ? ` (default ${goQuote(String(f.default))})` : ` (default ${String(f.default)})`;
    }
    lines.push(line);
  }
  let out = '';
  for (const line of lines) {
    const sidx = line.indexOf('\x00');
    const spacing = ' '.repeat(maxlen - sidx);
    out += `${line.slice(0, sidx)} ${spacing} ${wrap(maxlen + 2, cols, line.slice(sidx + 1))}\n`;
  }
  return out;
}

function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

function wrap(i: number, w: number, s: string): string {
  if (w === 0) return s.replaceAll('\n', '\n' + ' '.repeat(i));
  let wrapAt = w - i;
  let r = '';
  if (wrapAt < 24) {
    i = 16;
    wrapAt = w - i;
    r += '\n' + ' '.repeat(i);
  }
  if (wrapAt < 24) return s.replaceAll('\n', r);
  const slop = 5;
  wrapAt -= slop;
  let [l, rest] = wrapN(wrapAt, slop, s);
  r += l.replaceAll('\n', '\n' + ' '.repeat(i));
  while (rest !== '') {
    let t: string;
    [t, rest] = wrapN(wrapAt, slop, rest);
    r += '\n' + ' '.repeat(i) + t.replaceAll('\n', '\n' + ' '.repeat(i));
  }
  return r;
}
