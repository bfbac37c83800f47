// pier events / pier system events.

import type { EventMessage } from '../../client/types.js';
import { formatHelp, goTime, StatusError, type CommandDef, type Ctx } from '../command.js';
import { toFilters, validateFilter, type ParsedFlags } from '../flags.js';
import { asStruct, execute, parseTemplate, unescapeFormat } from '../formatter.js';

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds; undefined when not a duration. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d*(?:\.\d*)?)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

const dateRe = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;

/** docker's timetypes.GetTimestamp: durations, RFC 3339-ish dates or unix timestamps → "sec[.nanos]". */
export function getTimestamp(value: string, now = Date.now()): string {
  const d = value !== '0' ? parseGoDuration(value) : undefined;
  if (d !== undefined) return String(Math.floor((now - d) / 1000));
  const m = dateRe.exec(value);
  if (m) {
    const [, y, mo, da, h = '00', mi = '00', se = '00', frac = '', zone] = m;
    const iso = `${y}-${mo}-${da}T${h}:${mi}:${se}`;
    const ms = zone ? Date.parse(`${iso}${zone.toUpperCase() === 'Z' ? 'Z' : zone}`) : new Date(`${iso}`).getTime();
    if (!Number.isNaN(ms)) {
      const nanos = (frac.slice(1) + '000000000').slice(0, 9);
      return `${Math.floor(ms / 1000)}.${nanos}`;
    }
  }
  if (value.includes('-')) {
    throw new StatusError(1, `parsing time ${JSON.stringify(value)}: cannot parse as RFC 3339 timestamp`);
  }
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  throw new StatusError(1, `failed to parse value as time or duration: ${JSON.stringify(value)}`);
}

/** The default line: "2024-01-01T00:00:00.000000000Z image tag sha256:… (name=busybox:latest)". */
export function eventLine(e: EventMessage): string {
  let s = '';
  const nanoText = e.timeNanoText ?? (e.timeNano ? String(e.timeNano) : '');
  if (nanoText && nanoText !== '0') {
    const secs = nanoText.length > 9 ? Number(nanoText.slice(0, -9)) : 0;
    s += goTime(new Date(secs * 1000), 'rfc3339nanofixed', nanoText.slice(-9).padStart(9, '0')) + ' ';
  } else if (e.time) {
    s += goTime(new Date(e.time * 1000), 'rfc3339nanofixed', '000000000') + ' ';
  }
  s += `${e.Type} ${e.Action} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length > 0) s += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return s + '\n';
}

/** Template data for an event: the JSON fields as docker's {{json .}} shows them
 *  (timeNano as a BigInt, exact beyond 2^53), plus Go's field names (.Status, .ID,
 *  .TimeNano…) that docker's templates use, hidden from JSON by being non-enumerable. */
export function eventTemplateData(e: Partial<EventMessage>): object {
  const { timeNanoText, ...plain } = e;
  const data: Record<string, unknown> = { ...plain };
  const nanos = timeNanoText ? BigInt(timeNanoText) : (e.timeNano ?? 0);
  if ('timeNano' in data) data['timeNano'] = nanos;
  const goFields: Record<string, unknown> = {
    Status: e.status ?? '',
    ID: e.id ?? '',
    From: e.from ?? '',
    Type: e.Type ?? '',
    Action: e.Action ?? '',
    Actor: asStruct({ ID: e.Actor?.ID ?? '', Attributes: e.Actor?.Attributes ?? {} }, 'events.Actor'),
    Scope: e.scope ?? '',
    Time: e.time ?? 0,
    TimeNano: nanos,
  };
  for (const [k, v] of Object.entries(goFields)) {
    if (!Object.hasOwn(data, k)) Object.defineProperty(data, k, { value: v, enumerable: false });
  }
  return asStruct(data, '*events.Message');
}

async function runEvents(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const v = f.values;
  let format = v['format'] as string;
  if (format === 'json') format = '{{json .}}';
  const tmpl = format ? parseTemplate(unescapeFormat(format), 'Error parsing format', 64) : undefined;
  // Like docker, run the template once on an empty message to catch bad fields early.
  if (tmpl) execute(tmpl, eventTemplateData({}), 'Error parsing format: ', 64);
  const now = Date.now();
  const o: { since?: string; until?: string; filters?: ReturnType<typeof toFilters> } = { filters: toFilters(v['filter'] as string[]) };
  if (v['since']) o.since = getTimestamp(v['since'] as string, now);
  if (v['until']) o.until = getTimestamp(v['until'] as string, now);
  for await (const e of ctx.client().events(o)) {
    ctx.out(tmpl ? execute(tmpl, eventTemplateData(e)) + '\n' : eventLine(e));
  }
  return 0;
}

export const commands: Record<string, CommandDef> = {
  events: {
    use: 'events [OPTIONS]',
    flags: [
      { name: 'filter', short: 'f', type: 'filter', usage: 'Filter output based on conditions provided', validate: validateFilter },
      { name: 'format', type: 'string', usage: formatHelp.inspect },
      { name: 'since', type: 'string', usage: 'Show all events created since timestamp' },
      { name: 'until', type: 'string', usage: 'Stream events until this timestamp' },
    ],
    run: runEvents,
  },
};
