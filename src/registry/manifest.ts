/**
 * Manifest validation for PUT: which of the four accepted types a body is
 * (OCI image manifest and index, Docker schema 2 manifest and manifest list),
 * what it references (blobs that must exist, child manifests that must exist),
 * and what the referrers API needs to know of it (subject, artifactType, annotations).
 */
import { isDigest, type Digest } from '../base/digest.js';
import { MediaType, type Descriptor } from '../image/oci.js';
import { regErr } from './errors.js';

export const MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList];
const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
/** Content types that say nothing about the manifest: the body's mediaType decides. */
const GENERIC_TYPES = ['', 'application/json', 'application/octet-stream', 'text/plain'];

export interface ParsedManifest {
  mediaType: string;
  kind: 'manifest' | 'index';
  /** config and layers that must be blobs of the repository (foreign layers with URLs excluded). */
  blobs: Descriptor[];
  /** an index's children, which must be manifests of the repository. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** What a referrers listing shows: the manifest's artifactType, else (image manifests) its config's media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalidManifest = (message: string, detail?: unknown) => regErr('MANIFEST_INVALID', message, { detail: detail ?? { reason: message } });

/** The media type without parameters, lowercased: `application/json; charset=utf-8` → `application/json`. */
export const bareType = (ct: string | undefined): string => (ct ?? '').split(';')[0]!.trim().toLowerCase();

function descriptor(v: unknown, where: string): Descriptor {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidManifest(`${where}: not a descriptor object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || !d.mediaType) throw invalidManifest(`${where}: mediaType missing`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest))
    throw regErr('DIGEST_INVALID', `${where}: invalid digest ${JSON.stringify(d.digest)}`, { detail: { digest: d.digest } });
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalidManifest(`${where}: invalid size ${JSON.stringify(d.size)}`);
  if (d.urls !== undefined && (!Array.isArray(d.urls) || d.urls.some((u) => typeof u !== 'string'))) throw invalidManifest(`${where}: urls must be strings`);
  if (d.annotations !== undefined && !isStringMap(d.annotations)) throw invalidManifest(`${where}: annotations must map strings to strings`);
  return d as unknown as Descriptor;
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/** Foreign (non-distributable) layers are fetched from their URLs, so they need not be in the registry. */
const isForeign = (d: Descriptor) =>
  !!d.urls?.length && (d.mediaType === MediaType.DockerForeignLayerGzip || d.mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.'));

/**
 * Parses and checks a manifest body against the request's Content-Type.
 * Throws MANIFEST_INVALID (or DIGEST_INVALID for a malformed descriptor digest).
 */
export function parseManifest(body: Buffer, contentType?: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw invalidManifest(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalidManifest('manifest is not a JSON object');
  const m = doc as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw invalidManifest(`unsupported schemaVersion ${JSON.stringify(m.schemaVersion)}: only schema 2 manifests are accepted`);

  const ct = bareType(contentType);
  const declared = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  if (m.mediaType !== undefined && declared === undefined) throw invalidManifest('mediaType must be a string');
  let mediaType: string;
  if (declared !== undefined) {
    if (!GENERIC_TYPES.includes(ct) && ct !== declared)
      throw invalidManifest(`mediaType "${declared}" in the manifest does not match Content-Type "${ct}"`);
    mediaType = declared;
  } else if (!GENERIC_TYPES.includes(ct)) {
    mediaType = ct;
  } else {
    // OCI lets mediaType be omitted; the shape says which it is.
    mediaType = Array.isArray(m.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  }
  if (!MANIFEST_TYPES.includes(mediaType)) throw invalidManifest(`unsupported manifest media type "${mediaType}"`);
  if ((mediaType === MediaType.DockerManifest || mediaType === MediaType.DockerManifestList) && declared !== mediaType)
    throw invalidManifest(`a ${mediaType} must carry its mediaType field`);

  if (m.annotations !== undefined && !isStringMap(m.annotations)) throw invalidManifest('annotations must map strings to strings');
  if (m.artifactType !== undefined && (typeof m.artifactType !== 'string' || !m.artifactType)) throw invalidManifest('artifactType must be a non-empty string');
  const isOci = mediaType === MediaType.OciManifest || mediaType === MediaType.OciIndex;
  const subject = isOci && m.subject !== undefined ? descriptor(m.subject, 'subject') : undefined;
  const annotations = m.annotations as Record<string, string> | undefined;

  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(m.manifests)) throw invalidManifest('an index needs a manifests array');
    if (m.config !== undefined || m.layers !== undefined) throw invalidManifest('an index has no config or layers');
    const manifests = m.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
    return { mediaType, kind: 'index', blobs: [], manifests, subject, artifactType: m.artifactType as string | undefined, annotations };
  }
  if (m.manifests !== undefined) throw invalidManifest('an image manifest has no manifests array');
  const config = descriptor(m.config, 'config');
  if (!Array.isArray(m.layers)) throw invalidManifest('an image manifest needs a layers array');
  const layers = m.layers.map((d, i) => descriptor(d, `layers[${i}]`));
  return {
    mediaType,
    kind: 'manifest',
    blobs: [config, ...layers.filter((l) => !isForeign(l))],
    manifests: [],
    subject,
    artifactType: (m.artifactType as string | undefined) ?? config.mediaType,
    annotations,
  };
}

/** References of a stored manifest for GC marking; tolerant: what cannot be read references nothing. */
export function referencesOf(body: Buffer): { blobs: Digest[]; manifests: Digest[]; subject?: Digest } {
  try {
    const m = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const digests = (v: unknown): Digest[] =>
      Array.isArray(v) ? v.map((d) => (d as { digest?: unknown })?.digest).filter((d): d is Digest => typeof d === 'string' && isDigest(d)) : [];
    const config = (m.config as { digest?: unknown } | undefined)?.digest;
    const subject = (m.subject as { digest?: unknown } | undefined)?.digest;
    return {
      blobs: [...(typeof config === 'string' && isDigest(config) ? [config] : []), ...digests(m.layers)],
      manifests: digests(m.manifests),
      subject: typeof subject === 'string' && isDigest(subject) ? subject : undefined,
    };
  } catch {
    return { blobs: [], manifests: [] };
  }
}
