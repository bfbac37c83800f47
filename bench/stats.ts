/**
 * Summaries and scheduling for a noisy machine (2 cores, other jobs running):
 * subjects are interleaved with their order rotated every round, so drift in
 * background load hits each subject alike, and results are medians, not means.
 */

/** Nearest-rank percentile with linear interpolation; p in [0, 100]. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (p / 100) * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** The subjects in the order round `round` runs them: rotated by one each round. */
export function rotation<T>(xs: readonly T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

export const hrnow = (): bigint => process.hrtime.bigint();
export const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lets the event loop drain the daemons' log pipes between synchronous runs;
 *  a full pipe would block a daemon mid-request and skew the next sample. */
export const drain = (): Promise<void> => new Promise((r) => setImmediate(r));
