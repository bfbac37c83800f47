/**
 * GET /containers/{id}/top: like Docker, run the host's `ps` with the caller's
 * ps_args (default -ef), narrowed to the container's pids with -q where ps
 * allows it, and keep the rows whose PID column is one of those pids.
 *
 * The columns are cut where Docker cuts them, so clients see the same rows:
 * a column starts at the last position left of its title that is blank in
 * every line, which keeps "sleep 30" in CMD whole even in the middle of the
 * table. Thread lines ("-" as PID, from the m or -L options) follow the
 * process above them. Docker answers every failure here with a 500, so all
 * errors are internal.
 */
import { execFile } from 'node:child_process';
import { internal } from '../base/errdefs.js';

export interface ProcessList { Titles: string[]; Processes: string[][] }

const ASCII_SPACE = '\\t\\n\\f\\r ';
/** Go's unicode.IsSpace below U+0100, applied to the bytes of ps's output as Docker does. */
const isByteSpace = (c: number) => (c >= 9 && c <= 13) || c === 32 || c === 0x85 || c === 0xa0;
/** Go's strings.TrimSpace (unicode White_Space). */
const goTrim = (s: string) => s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');

/** ps_args may not rename the PID column (e.g. "-o user=PID"), or rows would be matched on the wrong numbers. */
export function validatePsArgs(psArgs: string): void {
  const re = new RegExp(`[${ASCII_SPACE}]+([^${ASCII_SPACE}]*)=[${ASCII_SPACE}]*(PID[^${ASCII_SPACE}]*)`, 'g');
  for (const m of psArgs.matchAll(re)) if (m[1] !== 'pid') throw internal(`specifying "${m[1]}=${m[2]}" is not allowed`);
}

/** Keeps the rows of ps output whose PID is in pids (and the thread lines under them). */
export function parsePsOutput(output: Buffer, pids: readonly number[]): ProcessList {
  // One char per byte, so column positions are byte offsets as in Docker; fields are decoded as UTF-8 at the end.
  const lines = output.toString('latin1').split('\n');
  const header = lines[0] ?? '';
  const Titles = header.split(new RegExp(`[${ASCII_SPACE}]+`)).filter(Boolean);
  const pidIndex = Titles.indexOf('PID');
  if (pidIndex === -1) throw internal("Couldn't find PID field in ps output");

  const body = lines.slice(1);
  const cols = [...header.matchAll(new RegExp(`[^${ASCII_SPACE}]+`, 'g'))].map((m) => [m.index!, m.index! + m[0].length] as [number, number]);
  cols[0]![0] = 0;
  for (let i = 1; i < cols.length; i++) {
    // Walk left from just before the title to a position that is blank in every line; stop at the previous title.
    for (let start = cols[i]![0] - 1; start >= cols[i - 1]![1]; start--) {
      if (body.every((l) => l.length <= start || isByteSpace(l.charCodeAt(start)))) {
        cols[i]![0] = start;
        break;
      }
    }
  }

  const Processes: string[][] = [];
  const add = (fields: string[]) => Processes.push([...fields.slice(0, Titles.length - 1), fields.slice(Titles.length - 1).join(' ')]);
  let underOurs = false;
  for (const line of body) {
    if (!line) continue;
    const fields = cols.map(([from], i) => goTrim(Buffer.from(line.slice(from, cols[i + 1]?.[0] ?? line.length), 'latin1').toString('utf8')));
    const pidField = fields[pidIndex]!;
    if (pidField === '-') {
      if (underOurs) add(fields);
      continue;
    }
    if (!/^[+-]?\d+$/.test(pidField)) throw internal(`Unexpected pid '${pidField}': strconv.Atoi: parsing ${JSON.stringify(pidField)}: invalid syntax`);
    underOurs = pids.includes(Number(pidField));
    if (underOurs) add(fields);
  }
  return { Titles, Processes };
}

const NO_HEADER = new Set(['--no-header', '--no-headers', '--no-heading', '--no-headings', '--noheader', '--noheaders', '--noheading', '--noheadings']);

function ps(args: string[]): Promise<{ out: Buffer } | { error: string }> {
  return new Promise((resolve) => {
    execFile('ps', args, { encoding: 'buffer', maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ out: stdout });
      // The first line of stderr says why ps failed.
      const first = stderr.toString('utf8').split('\n')[0];
      const code = (err as { code?: unknown }).code;
      resolve({ error: first || (typeof code === 'number' ? `exit status ${code}` : err.message) });
    });
  });
}

/** `ps <psArgs or -ef>` over the container's pids, as Docker's ContainerTop answers it. */
export async function top(pids: readonly number[], psArgs?: string): Promise<ProcessList> {
  const argString = psArgs || '-ef';
  validatePsArgs(argString);
  // Split on single spaces exactly like Docker (so "a  b" passes an empty argument, and ps decides).
  const args = argString.split(' ');
  const bad = args.find((a) => NO_HEADER.has(a));
  if (bad) throw internal(`option ${bad} is not allowed`);
  let r = await ps([...args, `-q${pids.join(',')}`]);
  // Some options (such as f) refuse -q: then list everything and filter.
  if ('error' in r) r = await ps(args);
  if ('error' in r) throw internal(`ps: ${r.error}`);
  return parsePsOutput(r.out, pids);
}
