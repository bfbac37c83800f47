/**
 * Pier's daemon-to-daemon extensions of the Engine API.
 *
 * On the source (asked by the CLI), JSON-message streams like pull's:
 *   POST /containers/{id}/move   {Target: {Host, TLS?: {CA, Cert, Key, SkipVerify}}, Force?}
 *   POST /images/{name}/copy     {Target}
 * On the target (asked by the source):
 *   POST /images/layers/missing      {DiffIds} → {Missing: [indexes]}
 *   POST /images/load?pier-partial=1 (images.ts: a save archive without the layers the target has)
 *   HEAD /volumes/{name}/archive     X-Pier-Volume-Empty: 1 | 0
 *   PUT  /volumes/{name}/archive     a tar into the volume's data
 *   PUT  /containers/{id}/rwlayer    a layer tar into a stopped container's writable layer
 *   PUT  /containers/{id}/log-history the source's log records, before the container first starts
 */
import type { Readable } from 'node:stream';
import { lazyStream, type Router } from '../server.js';
import { guardedBody } from '../body.js';
import { invalid } from '../../base/errdefs.js';
import type { ContainerService } from '../../engine/containers/service.js';
import type { ImageArchives } from '../../engine/archives.js';
import type { VolumeService } from '../../engine/volumes.js';
import type { JsonMessage } from '../../engine/progress.js';
import { connectTarget, copyImage, type RemoteTarget } from '../../engine/image-copy.js';
import { applyWritableLayer, importLogHistory, type ContainerMover } from '../../engine/move.js';

export function migrateRoutes(r: Router, containers: ContainerService, archives: ImageArchives, volumes: VolumeService, mover: ContainerMover): void {
  r.post('/containers/{id}/move', async (req, res) => {
    const body = (await req.json<{ Target?: RemoteTarget; Force?: boolean }>()) ?? {};
    if (!body.Target) throw invalid('no target given: the body needs Target: {Host, TLS}');
    // No req.signal: a client that goes away must not stop a move halfway; it completes or is undone.
    await lazyStream<JsonMessage>(res, async (progress) => {
      const r = await mover.move(req.params[0]!, body.Target!, { force: body.Force === true, progress });
      progress({ aux: r });
    });
  });

  r.post('/images/{name*}/copy', async (req, res) => {
    const body = (await req.json<{ Target?: RemoteTarget }>()) ?? {};
    const name = req.params[0]!;
    containers.images.resolve(name); // a 404 before anything else
    const target = await connectTarget(body.Target);
    await lazyStream<JsonMessage>(res, async (progress) => {
      progress({ status: `Copying image ${name} to ${target.host}` });
      const r = await copyImage(containers.images, archives, target, name, progress, { log: containers.log.child({ component: 'image-copy' }) });
      progress({ status: `Copied image ${name} (${r.id.slice(7, 19)}) to ${target.host}: ${r.layersSent} of ${r.layersTotal} layers, ${r.bytes} bytes sent` });
      progress({ aux: { ID: r.id, BytesSent: r.bytes, LayersSent: r.layersSent, LayersTotal: r.layersTotal, Partial: r.partial } });
    });
  });

  r.post('/images/layers/missing', async (req, res) => {
    const body = (await req.json<{ DiffIds?: string[] }>()) ?? {};
    if (!Array.isArray(body.DiffIds)) throw invalid('DiffIds must be a list of layer digests');
    res.json({ Missing: await archives.missingLayers(body.DiffIds) });
  });

  r.head('/volumes/{name}/archive', async (req, res) => {
    await volumes.inspect(req.params[0]!);
    res.header('X-Pier-Volume-Empty', (await volumes.isEmpty(req.params[0]!)) ? '1' : '0');
    res.text('', 200);
  });

  // Uploads: the body goes to the engine; should it fail, the rest of the body is read and dropped
  // before the error answers (a client still sending would otherwise see a reset, not the error).
  const upload = (path: string, take: (id: string, body: Readable, signal: AbortSignal) => Promise<unknown>) =>
    r.put(path, async (req, res) => {
      const u = guardedBody(req.raw);
      try {
        await take(req.params[0]!, u.body, req.signal);
      } catch (e) {
        await u.drain();
        throw e;
      }
      res.noContent();
    });
  upload('/volumes/{name}/archive', (name, body, signal) => volumes.putArchive(name, body, { signal }));
  upload('/containers/{id}/log-history', (id, body, signal) => importLogHistory(containers, id, body, signal));
  upload('/containers/{id}/rwlayer', (id, body, signal) => applyWritableLayer(containers, id, body, signal));
}

