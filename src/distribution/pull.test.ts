import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { choosePlatform } from './pull.js';
import { MediaType, type Index } from '../image/oci.js';

const d = (n: number) => `sha256:${String(n).repeat(64)}` as const;
const index: Index = {
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    { mediaType: MediaType.OciManifest, digest: d(1), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: MediaType.OciManifest, digest: d(2), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: MediaType.OciManifest, digest: d(3), size: 1, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
    { mediaType: MediaType.OciManifest, digest: d(4), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: MediaType.OciManifest, digest: d(5), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
  ],
};

describe('choosing from an index', () => {
  it('picks the asked platform, variants included; arm64 means v8', () => {
    assert.equal(choosePlatform(index, { os: 'linux', architecture: 'amd64' }).digest, d(4));
    assert.equal(choosePlatform(index, { os: 'linux', architecture: 'arm64' }).digest, d(2));
    assert.equal(choosePlatform(index, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest, d(5));
    assert.equal(choosePlatform(index, { os: 'linux', architecture: 'arm' }).digest, d(1));
  });

  it('never picks an attestation, and says which platform is missing', () => {
    assert.throws(() => choosePlatform(index, { os: 'unknown', architecture: 'unknown' }), /no matching manifest for unknown\/unknown in the manifest list entries/);
    assert.throws(() => choosePlatform(index, { os: 'linux', architecture: 'arm', variant: 'v5' }), /no matching manifest for linux\/arm\/v5/);
  });
});
