/**
 * STOPSIGNAL's value as dockerd checks it (moby/sys/signal.ParseSignal on
 * Linux): any non-zero integer, or a signal name with or without "SIG", in
 * any case, including RTMIN+n and RTMAX-n. The value is stored as written.
 *
 *   stopSignalNumber('SIGKILL')  // 9
 *   stopSignalNumber('rtmin+3')  // 37
 *   stopSignalNumber('FOO')      // throws "Invalid signal: FOO"
 */
import { invalid } from '../../base/errdefs.js';

const SIGRTMIN = 34;
const SIGRTMAX = 64;
const SIGNALS: Record<string, number> = {
  ABRT: 6, ALRM: 14, BUS: 7, CHLD: 17, CLD: 17, CONT: 18, FPE: 8, HUP: 1, ILL: 4, INT: 2, IO: 29, IOT: 6,
  KILL: 9, PIPE: 13, POLL: 29, PROF: 27, PWR: 30, QUIT: 3, SEGV: 11, STKFLT: 16, STOP: 19, SYS: 31,
  TERM: 15, TRAP: 5, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, USR1: 10, USR2: 12, VTALRM: 26, WINCH: 28,
  XCPU: 24, XFSZ: 25, RTMIN: SIGRTMIN, RTMAX: SIGRTMAX,
};
for (let i = 1; i <= 15; i++) SIGNALS[`RTMIN+${i}`] = SIGRTMIN + i;
for (let i = 1; i <= 14; i++) SIGNALS[`RTMAX-${i}`] = SIGRTMAX - i;

export function stopSignalNumber(raw: string): number {
  // strconv.Atoi first: any int but 0 is taken as is.
  if (/^[+-]?[0-9]+$/.test(raw)) {
    const n = Number(raw);
    if (n !== 0 && Number.isSafeInteger(n)) return n;
    throw invalid(`Invalid signal: ${raw}`);
  }
  const n = SIGNALS[raw.toUpperCase().replace(/^SIG/, '')];
  if (n === undefined) throw invalid(`Invalid signal: ${raw}`);
  return n;
}
