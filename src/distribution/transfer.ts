/**
 * What pulls and pushes share: Docker's progress messages per layer, and a
 * limit on how many layers move at once.
 *
 * The message shape is Docker's JSONMessage (engine/progress.ts has the same
 * one for load and import; distribution sits below engine, so it declares
 * its own): per-layer statuses carry `"progressDetail":{}` so that a terminal
 * redraws each layer's line in place.
 */
import { Transform, type Readable } from 'node:stream';

export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: unknown;
}

export type Progress = (m: JsonMessage) => void;

/** A layer's status line: `{"status":"Pull complete","progressDetail":{},"id":"a46fbb00284b"}`. */
export const layerStatus = (p: Progress, id: string, status: string) => p({ status, progressDetail: {}, id });

/** Byte progress for one layer, at most one message per 100 ms (and always the last). */
export function byteProgress(p: Progress, status: string, id: string, total: number, everyMs = 100): (current: number) => void {
  let last = 0;
  return (current: number) => {
    const now = Date.now();
    if (now - last < everyMs && current < total) return;
    last = now;
    p({ status, progressDetail: { current, total }, progress: progressBar(current, total), id });
  };
}

/** Docker's progress bar text: "[=====>      ]  1.2MB/5.3MB". */
export function progressBar(current: number, total: number): string {
  const human = (n: number) => {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return `${i === 0 ? n : n.toFixed(n < 10 ? 3 : n < 100 ? 2 : 1).replace(/\.?0+$/, '')}${units[i]}`;
  };
  if (total <= 0) return human(current);
  const width = 50;
  const filled = Math.min(width, Math.floor((width * current) / total));
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled === width ? '=' : '>') : '') + ' '.repeat(width - filled);
  return `[${bar}] ${human(current).padStart(8)}/${human(total)}`;
}

/** At most `limit` tasks at once; the rest wait in order. */
export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  /** True when a task started now would have to wait. */
  get full(): boolean {
    return this.running >= this.limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}

/**
 * Runs tasks that stand or fall together: the first failure aborts the
 * shared signal, every task is waited for (nothing keeps running behind the
 * caller's back), and that first error is thrown.
 */
export async function allOrNothing<T>(parent: AbortSignal | undefined, start: (signal: AbortSignal) => Promise<T>[]): Promise<T[]> {
  const ac = new AbortController();
  const signal = parent ? AbortSignal.any([parent, ac.signal]) : ac.signal;
  let first: unknown;
  let failed = false;
  const tasks = start(signal).map((p) =>
    p.catch((e: unknown) => {
      if (!failed) {
        failed = true;
        first = parent?.aborted ? (parent.reason ?? e) : e;
        ac.abort(e);
      }
      throw e;
    }),
  );
  const results = await Promise.allSettled(tasks);
  if (failed) throw first;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * src as it flows on, reporting the running byte count. (A 'data' listener on
 * src itself would set it flowing before its consumer is attached, and the
 * bytes read meanwhile would be lost.)
 */
export function counting(src: Readable, onBytes: (n: number) => void): Readable {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
  src.on('error', (e) => t.destroy(e));
  t.on('close', () => {
    if (!src.readableEnded) src.destroy();
  });
  return src.pipe(t);
}
