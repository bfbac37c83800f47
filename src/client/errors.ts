// Client error kinds, kept in a module with no imports so the CLI entry point can
// recognise them without loading the HTTP client.

/** The daemon answered with an error status; `message` is its `{"message": …}`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
  /** What docker prints for it: "Error response from daemon: No such image: x:latest". */
  override toString(): string {
    return `Error response from daemon: ${this.message}`;
  }
}

/** The daemon could not be reached at all (no socket, refused, unresolvable). */
export class ConnectError extends Error {
  constructor(readonly host: string, options?: ErrorOptions) {
    super(`Cannot connect to the Pier daemon at ${host}. Is the pier daemon running?`, options);
    this.name = 'ConnectError';
  }
}

/** A progress stream ended with an errorDetail; printed as is, like docker. */
export class StreamError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = 'StreamError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.status === 404;

/** What the CLI prints for a failed call: an API error as docker words it ("Error response from daemon: …"), else the message. */
export const errText = (e: unknown): string => (e instanceof ApiError ? e.toString() : (e as Error).message);
