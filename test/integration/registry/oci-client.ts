/** A minimal OCI distribution client for the registry tests: raw requests, blob and image pushes. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveRegistry, type RegistryServer, type ServeOptions } from '../../../src/registry/server.js';

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  text(): string;
  json(): any;
  code(): string | undefined;
}

export async function req(base: string, method: string, path: string, o: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Res> {
  const r = await fetch(base + path, { method, headers: o.headers, body: o.body as BodyInit | undefined, redirect: 'manual' });
  const body = Buffer.from(await r.arrayBuffer());
  return {
    status: r.status,
    headers: r.headers,
    body,
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')),
    code: () => {
      try {
        return JSON.parse(body.toString('utf8')).errors?.[0]?.code;
      } catch {
        return undefined;
      }
    },
  };
}

/** Monolithic upload (POST ?digest=); returns the digest. */
export async function pushBlob(base: string, repo: string, data: Buffer | string): Promise<string> {
  const d = sha(data);
  const r = await req(base, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  if (r.status !== 201) throw new Error(`push blob ${d}: ${r.status} ${r.text()}`);
  return d;
}

export interface Pushed {
  repo: string;
  tag: string;
  digest: string;
  manifest: Buffer;
  blobs: string[];
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export function imageManifest(config: Buffer, layers: Buffer[], o: { mediaType?: string; subject?: { digest: string; size: number; mediaType: string }; artifactType?: string; annotations?: Record<string, string> } = {}): Buffer {
  const mt = o.mediaType ?? OCI_MANIFEST;
  const docker = mt === DOCKER_MANIFEST;
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mt,
    config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
  };
  if (o.artifactType) m.artifactType = o.artifactType;
  if (o.subject) m.subject = o.subject;
  if (o.annotations) m.annotations = o.annotations;
  return Buffer.from(JSON.stringify(m));
}

/** Pushes config + layers, then the manifest by tag. */
export async function pushImage(base: string, repo: string, tag: string, o: { layers?: Buffer[]; mediaType?: string } = {}): Promise<Pushed> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const layers = o.layers ?? [randomBytes(1000 + Math.floor(Math.random() * 4000))];
  const blobs = [await pushBlob(base, repo, config)];
  for (const l of layers) blobs.push(await pushBlob(base, repo, l));
  const manifest = imageManifest(config, layers, { mediaType: o.mediaType });
  const mt = o.mediaType ?? OCI_MANIFEST;
  const r = await req(base, 'PUT', `/v2/${repo}/manifests/${tag}`, { body: manifest, headers: { 'Content-Type': mt } });
  if (r.status !== 201) throw new Error(`push manifest ${repo}:${tag}: ${r.status} ${r.text()}`);
  return { repo, tag, digest: sha(manifest), manifest, blobs };
}

export interface TestRegistry extends RegistryServer {
  root: string;
  cleanup(): Promise<void>;
}

export async function startRegistry(o: Partial<ServeOptions> = {}): Promise<TestRegistry> {
  const root = o.root ?? mkdtempSync(join(tmpdir(), 'pier-registry-'));
  let r: RegistryServer;
  try {
    r = await serveRegistry({ addr: '127.0.0.1:0', ...o, root });
  } catch (e) {
    if (!o.root) rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return {
    ...r,
    root,
    cleanup: async () => {
      await r.close();
      if (!o.root) rmSync(root, { recursive: true, force: true });
    },
  };
}
