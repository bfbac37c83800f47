/**
 * One vocabulary of error kinds for the whole engine. Domain code throws
 * EngineError with a kind; only api/errors.ts turns a kind into an HTTP status.
 * Messages say what went wrong and, where it helps, what to do — like Docker's.
 */
export type ErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'not-implemented'
  | 'not-modified'
  | 'internal';

export class EngineError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}

export const invalid = (message: string, cause?: unknown) => new EngineError('invalid', message, { cause });
export const notFound = (message: string, cause?: unknown) => new EngineError('not-found', message, { cause });
export const conflict = (message: string, cause?: unknown) => new EngineError('conflict', message, { cause });
export const unavailable = (message: string, cause?: unknown) => new EngineError('unavailable', message, { cause });
export const notImplemented = (message: string) => new EngineError('not-implemented', message);
export const internal = (message: string, cause?: unknown) => new EngineError('internal', message, { cause });

export const isKind = (e: unknown, kind: ErrorKind): e is EngineError =>
  e instanceof EngineError && e.kind === kind;

/** Message of any thrown value, for logs and API bodies. */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
