/**
 * What the three logs endpoints share (/containers/{id}/logs,
 * /services/{id}/logs, /tasks/{id}/logs): their query, read as Docker reads
 * it, and the response, Docker's log stream.
 */
import { invalid } from '../base/errdefs.js';
import { parseTimestamp } from '../engine/images.js';
import type { LogOptions } from '../engine/services.js';
import type { Query, Req, Res } from './server.js';
import { versionBefore } from './version.js';

/** Docker's content types for a container's output: stdout and stderr framed, or a tty's bytes as they are (also attach's). */
export const MUX = 'application/vnd.docker.multiplexed-stream';
export const RAW = 'application/vnd.docker.raw-stream';

/** since/until: seconds (with a fraction, exact to the ns as the CLI sends it), a timestamp or a duration; as ns. */
export function logTime(v: string | undefined): bigint | undefined {
  if (!v) return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(Math.round(parseTimestamp(v) * 1e6)) * 1000n;
}

/** A logs endpoint's query: the service logs' options, and `until` (containers' logs). */
export interface LogQuery extends LogOptions {
  /** ns since the epoch; later lines are left out. */
  until?: bigint;
}

export function logQuery(q: Query): LogQuery {
  const tailRaw = q.str('tail');
  const tail = !tailRaw || tailRaw === 'all' ? undefined : Number(tailRaw);
  if (tail !== undefined && !Number.isInteger(tail)) throw invalid(`invalid value for tail: ${tailRaw}`);
  return {
    stdout: q.bool('stdout') ?? false,
    stderr: q.bool('stderr') ?? false,
    follow: q.bool('follow') ?? false,
    timestamps: q.bool('timestamps') ?? false,
    details: q.bool('details') ?? false,
    since: logTime(q.str('since')),
    until: logTime(q.str('until')),
    tail: tail !== undefined && tail >= 0 ? tail : undefined,
  };
}

/**
 * Answers with Docker's log stream — multiplexed, or raw for a tty (and for
 * API versions before 1.42, which always said raw) — headers first, so a
 * following client sees the response before the first line; fn writes it.
 */
export async function sendLogStream(req: Req, res: Res, tty: boolean, fn: (out: NodeJS.WritableStream) => Promise<void>): Promise<void> {
  const out = res.raw(tty || versionBefore(req.version, '1.42') ? RAW : MUX) as NodeJS.WritableStream & { flushHeaders?: () => void };
  out.flushHeaders?.();
  try {
    await fn(out);
  } finally {
    out.end();
  }
}
