import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lazyStream, type Res, type Router } from '../server.js';
import { parsePlatform, type ImageService } from '../../engine/images.js';
import type { ImageArchives } from '../../engine/archives.js';
import { parseFilters } from '../../engine/filters.js';
import { invalid, notImplemented } from '../../base/errdefs.js';
import { versionBefore } from '../version.js';
import { parseReference } from '../../image/reference.js';
import type { DistributionService } from '../../distribution/service.js';
import { decodeAuthHeader } from '../../distribution/auth.js';
import type { JsonMessage } from '../../engine/progress.js';
import { guardedBody } from '../body.js';

export function imageRoutes(r: Router, images: ImageService, archives: ImageArchives, dist: DistributionService): void {
  r.get('/images/json', async (req, res) => {
    const filters = parseFilters(req.query.str('filters'));
    // Old clients pass ?filter=name as a reference filter.
    const legacy = req.query.str('filter');
    const list = await images.list({ all: req.query.bool('all') ?? false, filters: legacy ? parseFilters(JSON.stringify({ reference: [legacy] })) : filters });
    if (versionBefore(req.version, '1.44')) for (const i of list) i.VirtualSize = i.Size;
    res.json(list);
  });

  r.post('/images/load', async (req, res) => {
    const quiet = req.query.bool('quiet') ?? false;
    const stream = res.stream();
    const upload = guardedBody(req.raw);
    try {
      // pier-partial (Pier's image copy): layers left out of the archive are taken from this daemon's store.
      await archives.load(upload.body, (m) => stream.write(m), { quiet, signal: req.signal, partial: req.query.bool('pier-partial') ?? false });
    } catch (e) {
      await upload.drain();
      stream.error(e);
    }
    stream.end();
  });

  r.get('/images/get', async (req, res) => {
    const names = req.query.all('names').flatMap((n) => n.split(',')).filter(Boolean);
    await sendTar(await archives.save(names), res);
  });

  r.post('/images/create', async (req, res) => {
    const fromSrc = req.query.str('fromSrc');
    const fromImage = req.query.str('fromImage');
    if (fromSrc === undefined && fromImage === undefined) throw invalid('either fromSrc or fromImage must be given');
    if (fromImage !== undefined) {
      const platform = req.query.str('platform') ? parsePlatform(req.query.str('platform')!) : undefined;
      const auth = decodeAuthHeader(req.headers['x-registry-auth']);
      await lazyStream<JsonMessage>(res, (progress) => dist.pull(fromImage, req.query.str('tag') || undefined, { platform, auth, signal: req.signal, progress }));
      return;
    }
    if (fromSrc !== '-') throw notImplemented(`importing from a URL (${fromSrc}) is not supported: download it and pass the file or "-"`);
    const changes = req.query.all('changes');
    const repo = req.query.str('repo') || undefined;
    const tag = req.query.str('tag') || undefined;
    if (repo) parseReference(tag ? `${repo}:${tag}` : repo); // a bad name is a 400 before any byte is read
    const stream = res.stream();
    const upload = guardedBody(req.raw);
    try {
      const id = await images.import(upload.body, { repo, tag, message: req.query.str('message'), changes, platform: req.query.str('platform') || undefined, signal: req.signal });
      stream.write({ status: id });
    } catch (e) {
      await upload.drain();
      stream.error(e);
    }
    stream.end();
  });

  r.post('/images/prune', async (req, res) => {
    res.json(await images.prune(parseFilters(req.query.str('filters'))));
  });

  r.get('/images/{name*}/json', async (req, res) => {
    const info = await images.inspect(req.params[0]!);
    if (versionBefore(req.version, '1.44')) info.VirtualSize = info.Size;
    if (versionBefore(req.version, '1.45')) Object.assign(info, { Container: '', ContainerConfig: emptyContainerConfig() });
    if (versionBefore(req.version, '1.48')) delete info.Descriptor;
    res.json(info);
  });

  r.get('/images/{name*}/history', async (req, res) => {
    res.json(await images.history(req.params[0]!));
  });

  r.get('/images/{name*}/get', async (req, res) => {
    await sendTar(await archives.save([req.params[0]!]), res);
  });

  r.post('/images/{name*}/tag', async (req, res) => {
    images.tag(req.params[0]!, req.query.str('repo') ?? '', req.query.str('tag') || undefined);
    res.text('', 201);
  });

  r.post('/images/{name*}/push', async (req, res) => {
    const auth = decodeAuthHeader(req.headers['x-registry-auth']);
    await lazyStream<JsonMessage>(res, (progress) => dist.push(req.params[0]!, req.query.str('tag') || undefined, { auth, signal: req.signal, progress }));
  });

  r.delete('/images/{name*}', async (req, res) => {
    res.json(await images.remove(req.params[0]!, { force: req.query.bool('force') ?? false, noprune: req.query.bool('noprune') ?? false }));
  });
}

/**
 * Streams a saved archive. pipeline, not pipe: a client that leaves stops the archive (and the
 * blobs it has open), and an archive that fails cuts the response short instead of leaving it open.
 */
async function sendTar(tar: Readable, res: Res): Promise<void> {
  await pipeline(tar, res.raw('application/x-tar')).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
  });
}


function emptyContainerConfig() {
  return { Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null };
}
