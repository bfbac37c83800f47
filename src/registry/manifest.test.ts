import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MediaType } from '../image/oci.js';
import { RegistryError } from './errors.js';
import { parseManifest, referencesOf } from './manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (c: string, mediaType: string = MediaType.OciLayer, extra: object = {}) => ({ mediaType, digest: d(c), size: 10, ...extra });
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));
const code = (c: string) => (e: unknown) => e instanceof RegistryError && e.code === c;

describe('registry manifest validation', () => {
  const oci = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc('c', MediaType.OciConfig), layers: [desc('1'), desc('2')] };

  it('parses an OCI image manifest: blobs to check, artifactType from the config', () => {
    const p = parseManifest(buf(oci), MediaType.OciManifest);
    assert.equal(p.kind, 'manifest');
    assert.deepEqual(p.blobs.map((b) => b.digest), [d('c'), d('1'), d('2')]);
    assert.equal(p.artifactType, MediaType.OciConfig);
    assert.equal(p.subject, undefined);
  });

  it('takes the type from Content-Type or the shape when mediaType is absent; a generic Content-Type defers to mediaType', () => {
    const { mediaType: _, ...bare } = oci;
    assert.equal(parseManifest(buf(bare), MediaType.OciManifest).mediaType, MediaType.OciManifest);
    assert.equal(parseManifest(buf(bare), undefined).mediaType, MediaType.OciManifest);
    assert.equal(parseManifest(buf({ schemaVersion: 2, manifests: [] }), 'application/json').mediaType, MediaType.OciIndex);
    assert.equal(parseManifest(buf(oci), 'application/json; charset=utf-8').mediaType, MediaType.OciManifest);
    assert.equal(parseManifest(buf(oci), `${MediaType.OciManifest}; charset=utf-8`).mediaType, MediaType.OciManifest);
  });

  it('refuses a mediaType that differs from Content-Type, unknown types, bad JSON and bad shapes', () => {
    assert.throws(() => parseManifest(buf(oci), MediaType.DockerManifest), code('MANIFEST_INVALID'));
    assert.throws(() => parseManifest(buf({ ...oci, mediaType: 'application/x-unknown' }), 'application/x-unknown'), code('MANIFEST_INVALID'));
    assert.throws(() => parseManifest(Buffer.from('{'), MediaType.OciManifest), code('MANIFEST_INVALID'));
    assert.throws(() => parseManifest(buf({ ...oci, schemaVersion: 1 }), MediaType.OciManifest), code('MANIFEST_INVALID'));
    assert.throws(() => parseManifest(buf({ ...oci, layers: 'x' }), MediaType.OciManifest), code('MANIFEST_INVALID'));
    assert.throws(() => parseManifest(buf({ ...oci, layers: [{ ...desc('1'), size: -1 }] }), MediaType.OciManifest), code('MANIFEST_INVALID'));
    assert.throws(() => parseManifest(buf({ ...oci, layers: [{ ...desc('1'), digest: 'sha256:zz' }] }), MediaType.OciManifest), code('DIGEST_INVALID'));
    assert.throws(() => parseManifest(buf({ ...oci, manifests: [] }), MediaType.OciManifest), code('MANIFEST_INVALID'));
    const { mediaType: _, ...bareDocker } = { ...oci, mediaType: MediaType.DockerManifest };
    assert.throws(() => parseManifest(buf(bareDocker), MediaType.DockerManifest), code('MANIFEST_INVALID'), 'Docker schema 2 must carry mediaType');
  });

  it('indexes list child manifests; subject and artifactType are kept for referrers', () => {
    const idx = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [desc('a', MediaType.OciManifest)], subject: desc('e', MediaType.OciManifest), artifactType: 'x/y', annotations: { k: 'v' } };
    const p = parseManifest(buf(idx), MediaType.OciIndex);
    assert.equal(p.kind, 'index');
    assert.deepEqual(p.manifests.map((m) => m.digest), [d('a')]);
    assert.equal(p.subject?.digest, d('e'));
    assert.equal(p.artifactType, 'x/y');
    assert.deepEqual(p.annotations, { k: 'v' });
    const list = { schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [desc('b', MediaType.DockerManifest)] };
    assert.equal(parseManifest(buf(list), MediaType.DockerManifestList).kind, 'index');
  });

  it('foreign layers with URLs need not be in the registry', () => {
    const m = { ...oci, mediaType: MediaType.DockerManifest, layers: [desc('f', MediaType.DockerForeignLayerGzip, { urls: ['https://example/x'] }), desc('1')] };
    assert.deepEqual(parseManifest(buf(m), MediaType.DockerManifest).blobs.map((b) => b.digest), [d('c'), d('1')]);
  });

  it('referencesOf reads what GC follows, tolerating junk', () => {
    assert.deepEqual(referencesOf(buf({ ...oci, subject: desc('e') })), { blobs: [d('c'), d('1'), d('2')], manifests: [], subject: d('e') });
    assert.deepEqual(referencesOf(Buffer.from('junk')), { blobs: [], manifests: [] });
  });
});
