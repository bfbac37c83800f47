import { createHash, type Hash } from 'node:crypto';
import { invalid } from './errdefs.js';

/** An OCI digest string, `sha256:<64 hex>`. Only sha256 is produced; sha512 is accepted on input. */
export type Digest = `${string}:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw invalid(`invalid digest "${s}": expected sha256:<64 hex characters>`);
  return s;
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export const hexOf = (d: string): string => d.slice(d.indexOf(':') + 1);
export const shortId = (d: string): string => hexOf(d).slice(0, 12);

/** Incremental digester that also counts bytes. */
export class Digester {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }
  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
