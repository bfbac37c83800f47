/**
 * The registry's error vocabulary: the OCI Distribution Spec v1.1 error codes,
 * each with its HTTP status (as distribution/distribution registers them) and
 * the spec's description. This table is the only place a code becomes a status.
 *
 * Deviation from distribution: BLOB_UPLOAD_INVALID is 400 here (distribution
 * registers 404, which clients read as "start the upload again" — we send it for
 * malformed uploads, where 400 is the truthful status).
 */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, description: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, description: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, description: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, description: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, description: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, description: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, description: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, description: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, description: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, description: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, description: 'authentication required' },
  DENIED: { status: 403, description: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, description: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, description: 'too many requests' },
  RANGE_INVALID: { status: 416, description: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, description: 'invalid number of results requested' },
  UNAVAILABLE: { status: 503, description: 'service unavailable' },
  UNKNOWN: { status: 500, description: 'unknown error' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface RegistryErrorOptions {
  detail?: unknown;
  /** Headers the response must carry (e.g. the current Range on a 416). */
  headers?: Record<string, string>;
  /**
   * Only for "payload too large": the spec asks for 413 but has no code of its
   * own for it, so the code (MANIFEST_INVALID, SIZE_INVALID) says what and 413 says why.
   */
  status?: 413;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    o: RegistryErrorOptions = {},
  ) {
    super(message ?? ERROR_CODES[code].description, { cause: o.cause });
    this.name = 'RegistryError';
    this.status = o.status ?? ERROR_CODES[code].status;
    this.detail = o.detail;
    this.headers = o.headers ?? {};
  }
}

export const regErr = (code: ErrorCode, message?: string, o?: RegistryErrorOptions) => new RegistryError(code, message, o);

/** Any thrown value as a registry error: unknown failures become UNKNOWN (500). */
export function asRegistryError(e: unknown): RegistryError {
  if (e instanceof RegistryError) return e;
  return new RegistryError('UNKNOWN', e instanceof Error ? e.message : String(e), { cause: e });
}

/** The spec's error body: `{"errors":[{"code","message","detail"}]}`. */
export function errorBody(e: RegistryError): string {
  const entry: Record<string, unknown> = { code: e.code, message: e.message };
  entry.detail = e.detail ?? {};
  return JSON.stringify({ errors: [entry] });
}
