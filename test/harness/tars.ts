/** Builds tarballs in memory for tests: layers, docker-archives and OCI layouts, honest or crafted. */
import tar from 'tar-stream';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  size?: number;
}

export async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((res, rej) => {
    pack.on('end', () => res());
    pack.on('error', rej);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.content === undefined ? undefined : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const header = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(1700000000000), uid: 0, gid: 0 };
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (type === 'file') pack.entry(header, body ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
export const hex = (d: string) => d.slice(7);

export interface ArchiveOpts {
  layers: Buffer[]; // uncompressed layer tars
  repoTags?: string[] | null;
  /** Diff IDs to put in the config (default: the layers' real digests). */
  diffIds?: string[];
  /** Store layers gzipped. */
  gzip?: boolean;
  cmd?: string[];
  /** Leave this archive path out although the manifest names it. */
  omit?: string;
  /** Entries added verbatim (crafted paths). */
  extra?: Entry[];
  /** Replace manifest.json content. */
  manifestJson?: string;
}

/** A docker-archive in Docker 25's layout (blobs/sha256 + manifest.json). Returns the tar and the image ID. */
export async function dockerArchive(o: ArchiveOpts): Promise<{ tar: Buffer; id: string }> {
  const diffIds = o.diffIds ?? o.layers.map((l) => sha(l));
  const config = JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z',
    config: { Cmd: o.cmd ?? ['sh'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: o.layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
  });
  const cfgDigest = sha(config);
  const blobs = o.layers.map((l) => (o.gzip ? gzipSync(l) : l));
  const entries: Entry[] = [
    { name: 'blobs/', type: 'directory' as const },
    { name: 'blobs/sha256/', type: 'directory' as const },
    { name: `blobs/sha256/${hex(cfgDigest)}`, content: config },
    ...blobs.map((b) => ({ name: `blobs/sha256/${hex(sha(b))}`, content: b })),
    ...(o.extra ?? []),
    {
      name: 'manifest.json',
      content: o.manifestJson ?? JSON.stringify([{ Config: `blobs/sha256/${hex(cfgDigest)}`, RepoTags: o.repoTags === undefined ? ['test/image:latest'] : o.repoTags, Layers: blobs.map((b) => `blobs/sha256/${hex(sha(b))}`) }]),
    },
  ].filter((e) => e.name !== o.omit);
  return { tar: await tarOf(entries), id: cfgDigest };
}

/** An OCI image layout tarball of one image; `annotations` go on its index entry (names, ref.name). */
export async function ociArchive(layers: Buffer[], annotations: Record<string, string>): Promise<{ tar: Buffer; id: string }> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) }, config: {} });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
  });
  const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations }] });
  const tar = await tarOf([
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: index },
    { name: `blobs/sha256/${hex(sha(config))}`, content: config },
    { name: `blobs/sha256/${hex(sha(manifest))}`, content: manifest },
    ...layers.map((l) => ({ name: `blobs/sha256/${hex(sha(l))}`, content: l })),
  ]);
  return { tar, id: sha(config) };
}
