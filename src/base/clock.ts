/**
 * Wall-clock time in nanoseconds from one clock: the monotonic clock anchored
 * at the process's start (Date.now() plus hrtime's fraction mixes two clocks
 * and can go backwards). Precision is what a double holds, about 0.25 µs.
 */
export function nowNs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}
