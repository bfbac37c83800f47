/**
 * Times written the way Go writes them, so Pier's API and CLI print what
 * dockerd and the docker CLI print:
 *
 *   goJsonTime(1_700_000_000_123_400_000n)   // "2023-11-14T22:13:20.1234Z"  (time.Time in JSON: RFC3339Nano, UTC, zeros trimmed)
 *   rfc3339NanoFixed(1_700_000_000_000_000_005n) // "2023-11-14T22:13:20.000000005Z" (Docker's log timestamps: always 9 digits)
 *   rfc3339Local(ns)                         // "2026-11-28T05:00:00+01:00" (time.RFC3339 in the local zone, seconds)
 *
 * Times are nanoseconds since the epoch.
 */

const NS = 1_000_000_000n;

/** "YYYY-MM-DDTHH:MM:SS" (UTC) and the nanoseconds within that second. */
function split(ns: bigint | number): [string, bigint] {
  const n = BigInt(ns);
  const frac = ((n % NS) + NS) % NS;
  return [new Date(Number((n - frac) / 1_000_000n)).toISOString().slice(0, 19), frac];
}

/** Go's time.Time as JSON text (RFC3339Nano in UTC): the fraction without trailing zeros, none when zero. */
export function goJsonTime(ns: bigint | number): string {
  const [date, frac] = split(ns);
  return `${date}${frac ? `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}` : ''}Z`;
}

/** RFC 3339 with exactly 9 fractional digits in UTC, as Docker stamps log lines. */
export function rfc3339NanoFixed(ns: bigint): string {
  const [date, frac] = split(ns);
  return `${date}.${frac.toString().padStart(9, '0')}Z`;
}

/** Go's time.Format(time.RFC3339) in the local zone: seconds, "Z" for UTC, else the offset. */
export function rfc3339Local(ns: number): string {
  const d = new Date(Math.floor(ns / 1e6));
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 19);
  if (off === 0) return `${local}Z`;
  const p = (n: number) => String(Math.floor(n)).padStart(2, '0');
  return `${local}${off < 0 ? '-' : '+'}${p(Math.abs(off) / 60)}:${p(Math.abs(off) % 60)}`;
}
