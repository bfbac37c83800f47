/**
 * The registry server's two pluggable parts, so that the core (routes and
 * storage) knows nothing of how callers are authenticated or where a
 * pull-through cache fetches from.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

/** One thing a request wants to do, as Docker token scopes name it: `repository:library/busybox:pull,push`. */
export interface Access {
  type: 'repository' | 'registry';
  name: string; // repository name, or 'catalog' for type 'registry'
  actions: string[]; // 'pull' | 'push' | 'delete' | '*'
}

export type AuthResult =
  | { ok: true; user?: string }
  /** 401 with a WWW-Authenticate challenge (no or bad credentials), or 403 DENIED (valid user, scope not granted). */
  | { ok: false; status: 401 | 403; challenge?: string; message: string };

/**
 * Decides whether a request may do what it asks. Lifecycle: built once from the
 * server config; `authorize` is called for every /v2/ request with the access it
 * needs (the core computes it from the route); `routes` may serve extra paths
 * (the built-in token issuer's realm, e.g. GET /token) before /v2/ routing.
 */
export interface Authenticator {
  authorize(req: IncomingMessage, access: Access[]): Promise<AuthResult>;
  /** Handles a request outside /v2/ (return true when handled). */
  handle?(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<boolean>;
}

export const allowAll: Authenticator = { authorize: async () => ({ ok: true }) };

/** What a pull-through cache returns for a manifest. */
export interface UpstreamManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

/**
 * A pull-through cache: when the local store lacks a manifest or blob of a
 * repository that maps to an upstream, the core asks here, serves the answer,
 * and stores it (blobs verified against their digest while streaming).
 * Repositories map to upstreams by path prefix ("hub/library/busybox" → the
 * upstream configured for "hub", repository "library/busybox").
 */
export interface PullThrough {
  /** The upstream for a repository, or undefined when the repository is local only. */
  matches(repo: string): boolean;
  manifest(repo: string, reference: string, accept: string[]): Promise<UpstreamManifest | undefined>;
  /** A stream of the blob's bytes and its size, or undefined when the upstream has none. */
  blob(repo: string, digest: string): Promise<{ stream: Readable; size: number } | undefined>;
}
