// Rendering of JSON message streams (load, import, pull) like moby's
// pkg/jsonmessage: on a terminal, progress lines are redrawn in place per id;
// otherwise progress bars are dropped and every status is its own line.

import type { Readable, Writable } from 'node:stream';
import { jsonMessages } from '../client/client.js';
import { StreamError } from '../client/errors.js';
import type { JSONMessage, JSONProgress } from '../client/types.js';
import { goTime } from './command.js';
import { goDuration, humanSize } from './units.js';

/** JSONProgress.String(); `width` is the terminal width (200 when unknown). */
export function progressString(p: JSONProgress | undefined, width = 200, now = Date.now()): string {
  if (!p) return '';
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) {
    return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  }
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let pbBox = '';
  if (width > 110) {
    const spaces = 50 - percentage > 0 ? 50 - percentage : 0;
    pbBox = `[${'='.repeat(percentage)}>${' '.repeat(spaces)}] `;
  }
  let numbersBox = '';
  if (p.hidecounts) {
    numbersBox = '';
  } else if (!p.units) {
    numbersBox = `${humanSize(current).padStart(8)}/${humanSize(total)}`;
    if (current > total) numbersBox = humanSize(current).padStart(8);
  } else {
    numbersBox = `${current}/${total} ${p.units}`;
    if (current > total) numbersBox = `${current} ${p.units}`;
  }
  let timeLeftBox = '';
  if (current > 0 && p.start && p.start > 0 && percentage < 50) {
    const fromStart = now - p.start * 1000;
    const perEntry = fromStart / current;
    const left = Math.floor(((total - current) * perEntry) / 1000) * 1000;
    if (width > 50) timeLeftBox = ' ' + goDuration(left);
  }
  return pbBox + numbersBox + timeLeftBox;
}

function messageTime(m: JSONMessage): string | undefined {
  if (m.timeNanoText || m.timeNano) {
    const text = m.timeNanoText ?? String(m.timeNano);
    const secs = text.length > 9 ? Number(text.slice(0, -9)) : 0;
    const nanos = text.slice(-9).padStart(9, '0');
    return goTime(new Date(secs * 1000), 'rfc3339nanofixed', nanos);
  }
  if (m.time) return goTime(new Date(m.time * 1000), 'rfc3339nanofixed', '000000000');
  return undefined;
}

/** JSONMessage.Display: one message; throws StreamError for errorDetail. */
export function displayMessage(m: JSONMessage, isTerminal: boolean, width = 200): string {
  if (m.errorDetail || m.error) {
    throw new StreamError(m.errorDetail?.message ?? m.error ?? '', m.errorDetail?.code);
  }
  let out = '';
  let endl = '';
  const prog = progressString(m.progressDetail, width);
  if (isTerminal && !m.stream && m.progressDetail) {
    endl = '\r';
    out += '\x1b[2K' + endl;
  } else if (m.progressDetail && prog !== '') {
    return ''; // no progress bars off a terminal
  }
  const t = messageTime(m);
  if (t) out += `${t} `;
  if (m.id) out += `${m.id}: `;
  if (m.from) out += `(from ${m.from}) `;
  if (m.progressDetail && isTerminal) out += `${m.status ?? ''} ${prog}${endl}`;
  else if (m.progress) out += `${m.status ?? ''} ${m.progress}${endl}`;
  else if (m.stream) out += `${m.stream}${endl}`;
  else out += `${m.status ?? ''}${endl}\n`;
  return out;
}

export interface DisplayOptions {
  isTerminal?: boolean;
  width?: number;
  /** Called for `aux` messages (image IDs from build, digests from push). */
  aux?: (m: JSONMessage) => void;
}

/** DisplayJSONMessagesStream: render a whole stream, redrawing progress per id on a terminal. */
export async function displayJSONMessages(stream: Readable, out: Writable, o: DisplayOptions = {}): Promise<void> {
  const isTerminal = o.isTerminal ?? false;
  const width = o.width ?? 200;
  let ids = new Map<string, number>();
  for await (const m of jsonMessages(stream)) {
    if (m.aux !== undefined) {
      o.aux?.(m);
      continue;
    }
    let diff = 0;
    let s = '';
    if (m.id && (m.progressDetail || m.progress)) {
      let line = ids.get(m.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(m.id, line);
        if (isTerminal) s += '\n';
      }
      diff = ids.size - line;
      if (isTerminal && diff > 0) s += `\x1b[${diff}A`;
    } else {
      ids = new Map();
    }
    let err: unknown;
    try {
      s += displayMessage(m, isTerminal, width);
    } catch (e) {
      err = e;
    }
    if (m.id && isTerminal && diff > 0) s += `\x1b[${diff}B`;
    if (s) out.write(s);
    if (err) throw err;
  }
}
