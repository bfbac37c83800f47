import { EngineError, type ErrorKind } from '../base/errdefs.js';

/** The one place an error kind becomes an HTTP status. A new kind without a status fails to compile. */
const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  internal: 500,
  'not-implemented': 501,
  unavailable: 503,
  'not-modified': 304,
};

export const statusOf = (e: unknown): number => STATUS[e instanceof EngineError ? e.kind : 'internal'];
