/**
 * A request body handed to a backend that may destroy what it reads when it
 * gives up (a tar extractor, a decompressor). Destroying the request itself
 * would close the connection before the error is answered, so the backend
 * reads a pipe instead; on failure the rest of the upload is read and dropped,
 * and the client gets the error, not a reset.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

export interface GuardedBody {
  body: Readable;
  /** After a failure: stop feeding the backend, read the client's upload to its end. */
  drain(): Promise<void>;
}

export function guardedBody(raw: IncomingMessage): GuardedBody {
  const body = new PassThrough();
  raw.pipe(body);
  raw.on('error', (e) => body.destroy(e));
  return {
    body,
    drain() {
      raw.unpipe(body);
      return drainBody(raw);
    },
  };
}

/** Reads what is left of a request body and drops it (so that an error can still be answered). */
export function drainBody(raw: IncomingMessage): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    raw.once('end', resolve).once('close', resolve).once('error', resolve);
    raw.resume();
  });
}
