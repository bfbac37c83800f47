/**
 * Repository names, tags and digests as the distribution spec defines them.
 * Every name that reaches storage has passed `checkName`: its components cannot
 * be '', '.', '..' or start with '_', so a name is always a safe relative path
 * that never collides with the store's own `_layers`/`_manifests` folders.
 */
import { isDigest, type Digest } from '../base/digest.js';
import { regErr } from './errors.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export const isName = (s: string): boolean => s.length <= MAX_NAME_LENGTH && NAME_RE.test(s);
export const isTag = (s: string): boolean => TAG_RE.test(s);

export function checkName(s: string): string {
  if (!isName(s)) {
    const why = s.length > MAX_NAME_LENGTH ? `longer than ${MAX_NAME_LENGTH} characters` : 'must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*';
    throw regErr('NAME_INVALID', `invalid repository name "${s.slice(0, 300)}": ${why}`, { detail: { name: s.slice(0, 300) } });
  }
  return s;
}

/** A digest from a URL or query, or DIGEST_INVALID. */
export function checkDigest(s: string | null | undefined): Digest {
  if (!s || !isDigest(s)) throw regErr('DIGEST_INVALID', `invalid digest "${(s ?? '').slice(0, 200)}"`, { detail: { digest: s ?? '' } });
  return s;
}

export type ManifestRef = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/** A manifest reference is a tag or a digest; undefined when it is neither. */
export function parseRef(s: string): ManifestRef | undefined {
  if (s.includes(':')) return isDigest(s) ? { digest: s } : undefined;
  return isTag(s) ? { tag: s } : undefined;
}
