/** Docker's streamed JSON messages (pkg/jsonmessage): what load, import, pull and push write, one object a line. */
export interface JsonMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string; code?: number };
  aux?: unknown;
}

export type Progress = (m: JsonMessage) => void;
export const noProgress: Progress = () => {};

/** Docker's progress bar text: "[=====>      ]  1.2MB/5.3MB". */
export function progressBar(current: number, total: number): string {
  const width = 50;
  const human = (n: number) => {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return `${i === 0 ? n : n.toFixed(n < 10 ? 3 : n < 100 ? 2 : 1).replace(/\.?0+$/, '')}${units[i]}`;
  };
  if (total <= 0) return human(current);
  const filled = Math.min(width, Math.floor((width * current) / total));
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled === width ? '=' : '>') : '') + ' '.repeat(width - filled);
  return `[${bar}] ${human(current).padStart(8)}/${human(total)}`;
}

/**
 * A throttled per-item progress reporter: at most one message per interval
 * per id, and always the one that reaches `total`. With a total of 0 (size
 * not known beforehand) every message is throttled.
 */
export function throttled(p: Progress, status: string, id: string, total: number, everyMs = 100): (current: number) => void {
  let last = 0;
  return (current: number) => {
    const now = Date.now();
    if (now - last < everyMs && (total <= 0 || current < total)) return;
    last = now;
    p({ status, id, progressDetail: { current, total }, progress: progressBar(current, total) });
  };
}
