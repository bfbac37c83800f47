import { invalid } from '../base/errdefs.js';

/**
 * Image references exactly as Docker spells them (github.com/distribution/reference):
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain "/"] path
 *
 * `parseReference` is ParseNormalizedNamed: a familiar name ("busybox",
 * "user/repo:tag") becomes canonical ({domain: 'docker.io', path:
 * 'library/busybox'}). The first path component is a domain only when it
 * holds a '.' or ':', is 'localhost', or has uppercase letters; otherwise the
 * domain is docker.io, and a one-component path on docker.io gets 'library/'.
 *
 *   const r = parseReference('busybox');     // docker.io/library/busybox
 *   toString(withDefaultTag(r));             // 'docker.io/library/busybox:latest'
 *   familiar(withDefaultTag(r));             // 'busybox:latest'
 */
export interface Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** RepositoryNameTotalLengthMax; like Docker it bounds the path, not the domain. */
const NAME_MAX = 255;

// The grammar of distribution/reference regexp.go. Go's regexp picks the same
// submatches a backtracking engine would, so these behave identically in JS.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';

const REFERENCE_RE = new RegExp(`^((?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
// go-digest: the algorithms Docker registers, and the grammar it checks others against.
const DIGEST_HEX_LEN = new Map([['sha256', 64], ['sha384', 96], ['sha512', 128]]);
const GO_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** ParseNormalizedNamed: a familiar or canonical reference, normalised. */
export function parseReference(s: string): Reference {
  if (IDENTIFIER_RE.test(s)) {
    throw invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon > -1 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalid(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseCanonical(`${domain}/${remainder}`);
}

/**
 * ParseDockerRef: like parseReference, but a reference with both tag and
 * digest keeps only the digest, and a bare name gets ':latest'.
 */
export function parseDockerRef(s: string): Reference {
  const r = parseReference(s);
  if (r.tag !== undefined && r.digest !== undefined) return { domain: r.domain, path: r.path, digest: r.digest };
  return withDefaultTag(r);
}

/**
 * reference.Parse: the reference as written, without normalisation. The domain
 * is '' when the name has none ("busybox" stays path 'busybox').
 */
export function parseCanonical(s: string): Reference {
  if (s === '') throw invalid('repository name must have at least one component');
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) throw invalid('repository name must be lowercase');
    throw invalid('invalid reference format');
  }
  const name = m[1]!;
  const nm = NAME_RE.exec(name);
  const domain = nm?.[1] ?? '';
  const path = nm ? nm[2]! : name;
  if (path.length > NAME_MAX) throw invalid(`repository name must not be more than ${NAME_MAX} characters`);
  const r: { domain: string; path: string; tag?: string; digest?: string } = { domain, path };
  if (m[2] !== undefined) r.tag = m[2];
  if (m[3] !== undefined) r.digest = validateDigest(m[3]);
  return r;
}

/** go-digest's Digest.Validate, with its error texts. */
function validateDigest(d: string): string {
  const i = d.indexOf(':');
  if (i <= 0 || i + 1 === d.length) throw invalid('invalid checksum digest format');
  const hexLen = DIGEST_HEX_LEN.get(d.slice(0, i));
  if (hexLen === undefined) {
    throw invalid(GO_DIGEST_RE.test(d) ? 'unsupported digest algorithm' : 'invalid checksum digest format');
  }
  const encoded = d.slice(i + 1);
  if (encoded.length !== hexLen) throw invalid('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(encoded)) throw invalid('invalid checksum digest format');
  return d;
}

/** splitDockerDomain from normalize.go. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  // A single component is always a Docker Hub official image, even
  // "localhost" or "example.com" (Docker has the same FIXME).
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_PREFIX + name];
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (first === LEGACY_DEFAULT_DOMAIN) {
    [domain, remote] = [DEFAULT_DOMAIN, rest];
  } else if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    // Uppercase namespaces are not allowed, so an uppercase first component
    // can only be a domain name.
    [domain, remote] = [first, rest];
  } else {
    [domain, remote] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remote.includes('/')) remote = OFFICIAL_PREFIX + remote;
  return [domain, remote];
}

/** 'docker.io/library/busybox' */
export const name = (r: Reference): string => (r.domain ? `${r.domain}/${r.path}` : r.path);

/** 'docker.io/library/busybox:latest', 'docker.io/library/busybox@sha256:…', or both. */
export function toString(r: Reference): string {
  return name(r) + suffix(r);
}

/** FamiliarName: 'busybox', 'user/repo', 'localhost:5000/x'. */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return name(r);
  if (r.path.startsWith(OFFICIAL_PREFIX)) {
    // Only a direct child of library/ is an official image (Docker's rule too).
    const rest = r.path.slice(OFFICIAL_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return r.path;
}

/** FamiliarString: 'busybox:latest', 'localhost:5000/x:y', 'user/repo@sha256:…'. */
export function familiar(r: Reference): string {
  return familiarName(r) + suffix(r);
}

const suffix = (r: Reference): string =>
  (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');

/** TagNameOnly: adds ':latest' only when there is neither tag nor digest. */
export function withDefaultTag(r: Reference): Reference {
  if (r.tag !== undefined || r.digest !== undefined) return r;
  return { ...r, tag: DEFAULT_TAG };
}

/** WithTag: replaces the tag, keeping any digest. */
export function withTag(r: Reference, tag: string): Reference {
  if (!TAG_RE.test(tag)) throw invalid('invalid tag format');
  return { ...r, tag };
}

/** A name without tag or digest (TrimNamed). */
export function trimNamed(r: Reference): Reference {
  return { domain: r.domain, path: r.path };
}

/**
 * True when `s` may name an image by ID: a full or abbreviated hex ID, with
 * or without 'sha256:'. Like the daemon, callers should try the string as a
 * reference first and fall back to an ID-prefix lookup: 'abc123' is both a
 * valid name and a valid short ID.
 */
export function isImageIdLike(s: string): boolean {
  return /^(?:sha256:)?[0-9a-f]{1,64}$/.test(s);
}

/** reference.ParseAnyReference: a full hex ID or "sha256:…" digest is an ID; anything else must parse as a name. */
export function parseAnyReference(s: string): Reference | { id: string } {
  if (/^[a-f0-9]{64}$/.test(s)) return { id: `sha256:${s}` };
  if (/^sha256:[a-f0-9]{64}$/.test(s)) return { id: s };
  return parseReference(s);
}
