/** Signal names and numbers as Docker accepts them: "SIGTERM", "TERM", "term", "15". */
import { constants } from 'node:os';
import { invalid } from '../../base/errdefs.js';

const SIGNALS = constants.signals as Record<string, number>;

export function signalNumber(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n > 0 && n <= 64 ? n : undefined;
  }
  const name = s.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('RTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  return SIGNALS[`SIG${name}`];
}

export function parseSignal(s: string): number {
  const n = signalNumber(s);
  if (n === undefined) throw invalid(`Invalid signal: ${s}`);
  return n;
}
