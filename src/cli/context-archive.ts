// A context as one file: docker's `context export` / `context import` format,
// so an exported context moves between machines and between the two CLIs.
//
//   meta.json                 0644  the context's meta.json (as stored)
//   tls/                      0700
//   tls/docker/               0700  (only when the context has TLS files)
//   tls/docker/ca.pem …       0600
//
// Entries are owned by 0:0 with time 0, as docker writes them. docker 28 leaves
// its tar unfinished (no padding after the last file, no end-of-archive
// blocks); import completes such a tar before reading it, and export writes a
// whole one. The tar itself is read and written by tar-stream, the library the
// rest of Pier uses for tar.

import { extract, pack } from 'tar-stream';
import type { ContextMeta } from './contexts.js';

/** docker's limit on what `context import` reads. */
export const MAX_IMPORT_BYTES = 10 << 20;

export type TlsMaterial = Partial<Record<'ca' | 'cert' | 'key', string>>;

/** One context as a tar archive. */
export async function exportContext(meta: ContextMeta, tls: TlsMaterial): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const base = { uid: 0, gid: 0, mtime: new Date(0) };
  p.entry({ ...base, name: 'meta.json', mode: 0o644 }, JSON.stringify(meta));
  p.entry({ ...base, name: 'tls', type: 'directory', mode: 0o700 });
  const files = (['ca', 'cert', 'key'] as const).filter((k) => tls[k] !== undefined);
  if (files.length) {
    p.entry({ ...base, name: 'tls/docker', type: 'directory', mode: 0o700 });
    for (const k of files) p.entry({ ...base, name: `tls/docker/${k}.pem`, mode: 0o600 }, tls[k]!);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** What an archive holds: the metadata (renamed on import) and the docker endpoint's TLS files by file name. */
export interface ImportedContext {
  meta: ContextMeta;
  /** The docker endpoint's TLS files (other endpoints' files are not Pier's and are left out). */
  tls: TlsMaterial;
}

export class ContextArchiveError extends Error {}

/**
 * Read an exported context. Anything but meta.json and tls/<endpoint>/<file>
 * is refused, naming the entry, as docker does; of the docker endpoint's files
 * only ca.pem, cert.pem and key.pem are taken (docker takes any name, but
 * nothing else would ever be read). meta.json must be a JSON object.
 */
export async function importContext(archive: Buffer): Promise<ImportedContext> {
  if (archive.length > MAX_IMPORT_BYTES) throw new ContextArchiveError(`the context archive is larger than ${MAX_IMPORT_BYTES >> 20} MiB: is this an exported context?`);
  if (archive.length === 0) throw new ContextArchiveError('unexpected EOF: the context archive is empty');
  // Finish docker's unfinished tar: pad the last file to its block, then the two end blocks.
  const whole = Buffer.concat([archive, Buffer.alloc(((512 - (archive.length % 512)) % 512) + 1024)]);
  let meta: Buffer | undefined;
  const tls: TlsMaterial = {};
  const ex = extract();
  const finished = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', (e: Error) =>
      reject(new ContextArchiveError(/Invalid tar header|Unexpected end/.test(e.message) ? `unexpected EOF: not a context archive made by "context export" (${e.message})` : e.message)),
    );
  });
  ex.on('entry', (h, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c) => parts.push(c as Buffer));
    stream.on('end', () => {
      const name = h.name.replace(/\/+$/, '');
      const body = Buffer.concat(parts);
      const m = /^tls\/([^/]+)\/([^/]+)$/.exec(name);
      if (h.type === 'directory' && (name === 'tls' || /^tls\/[^/]+$/.test(name))) next();
      else if (h.type === 'file' && name === 'meta.json') {
        meta = body;
        next();
      } else if (h.type === 'file' && m && m[1] !== 'docker') next();
      else if (h.type === 'file' && m && /^(ca|cert|key)\.pem$/.test(m[2]!)) {
        tls[m[2]!.slice(0, -4) as keyof TlsMaterial] = body.toString('utf8');
        next();
      } else next(new ContextArchiveError(`${h.name}: unexpected context file`));
    });
  });
  ex.end(whole);
  await finished;
  if (!meta) throw new ContextArchiveError('invalid context archive: it has no meta.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(meta.toString('utf8'));
  } catch (e) {
    throw new ContextArchiveError(`invalid context archive: meta.json is not JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ContextArchiveError('invalid context archive: meta.json is not a JSON object');
  const o = parsed as Partial<ContextMeta>;
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  return { meta: { Name: typeof o.Name === 'string' ? o.Name : '', Metadata: obj(o.Metadata), Endpoints: obj(o.Endpoints) }, tls };
}
