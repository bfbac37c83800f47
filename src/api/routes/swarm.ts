/**
 * Swarm mode's routes: /swarm, /nodes, /services, /tasks (engine/services.ts
 * does the work). Registry credentials (X-Registry-Auth) are accepted and not
 * used: task images come from this node's store, or are pulled anonymously.
 */
import { invalid } from '../../base/errdefs.js';
import { parseFilters } from '../../engine/filters.js';
import type { InitRequest, SwarmService } from '../../engine/services.js';
import type { Node, ServiceSpec, SwarmSpec } from '../../service/types.js';
import type { Query, Req, Router } from '../server.js';
import { logQuery, sendLogStream } from '../logs.js';

/** ?version=N of the update endpoints: required, a non-negative integer (dockerd's message otherwise). */
function versionOf(q: Query, what: string): number {
  const raw = q.str('version');
  if (raw === undefined || !/^\d+$/.test(raw)) throw invalid(`invalid ${what} version '${raw ?? ''}': expected a non-negative integer`);
  return Number(raw);
}

/** A JSON object body, or a 400 saying what was expected. */
async function body<T>(req: Req, what: string): Promise<T> {
  const b = await req.json<T>();
  if (b === undefined || b === null || typeof b !== 'object' || Array.isArray(b)) throw invalid(`the request body must be a JSON object: ${what}`);
  return b;
}

export function swarmRoutes(r: Router, s: SwarmService): void {
  // ---- swarm ----
  r.post('/swarm/init', async (req, res) => {
    res.json(await s.init(await body<InitRequest>(req, 'ListenAddr, AdvertiseAddr, Spec, ...')));
  });
  r.post('/swarm/join', async (_req, res) => {
    await s.join();
    res.text('', 200);
  });
  r.get('/swarm', (_req, res) => res.json(s.inspect()));
  r.post('/swarm/update', async (req, res) => {
    const q = req.query;
    await s.update(versionOf(q, 'swarm'), await body<SwarmSpec>(req, 'the swarm spec'), {
      rotateWorkerToken: q.bool('rotateWorkerToken') ?? false,
      rotateManagerToken: q.bool('rotateManagerToken') ?? false,
      rotateManagerUnlockKey: q.bool('rotateManagerUnlockKey') ?? false,
    });
    res.text('', 200);
  });
  r.post('/swarm/leave', async (req, res) => {
    await s.leave(req.query.bool('force') ?? false);
    res.text('', 200);
  });
  r.get('/swarm/unlockkey', (_req, res) => res.json(s.unlockKey()));
  r.post('/swarm/unlock', (_req, res) => {
    s.unlock();
    res.text('', 200);
  });

  // ---- nodes ----
  r.get('/nodes', async (req, res) => {
    res.json(await s.listNodes(parseFilters(req.query.str('filters'))));
  });
  r.get('/nodes/{id}', async (req, res) => {
    res.json(await s.getNode(req.params[0]!));
  });
  r.delete('/nodes/{id}', async (req, res) => {
    await s.removeNode(req.params[0]!, req.query.bool('force') ?? false);
    res.text('', 200);
  });
  r.post('/nodes/{id}/update', async (req, res) => {
    await s.updateNode(req.params[0]!, versionOf(req.query, 'node'), await body<Partial<Node['Spec']>>(req, 'the node spec'));
    res.text('', 200);
  });

  // ---- services ----
  r.get('/services', async (req, res) => {
    res.json(await s.listServices(parseFilters(req.query.str('filters')), req.query.bool('status') ?? false));
  });
  r.post('/services/create', async (req, res) => {
    res.json(await s.createService(await body<ServiceSpec>(req, 'the service spec')), 201);
  });
  r.get('/services/{id}', async (req, res) => {
    res.json(await s.getService(req.params[0]!, req.query.bool('insertDefaults') ?? false));
  });
  r.post('/services/{id}/update', async (req, res) => {
    const q = req.query;
    const rollback = q.str('rollback') || undefined;
    // A rollback's body is the current spec (the CLI's); it is not used.
    const spec = rollback ? await req.json<ServiceSpec>() : await body<ServiceSpec>(req, 'the service spec');
    res.json(await s.updateService(req.params[0]!, versionOf(q, 'service'), spec, { rollback, registryAuthFrom: q.str('registryAuthFrom') || undefined }));
  });
  r.delete('/services/{id}', async (req, res) => {
    await s.removeService(req.params[0]!);
    res.text('', 200);
  });
  r.get('/services/{id}/logs', async (req, res) => {
    const l = await s.logs('service', req.params[0]!, logQuery(req.query));
    await sendLogStream(req, res, l.tty, (out) => l.write(out as never, req.signal));
  });

  // ---- tasks ----
  r.get('/tasks', async (req, res) => {
    res.json(await s.listTasks(parseFilters(req.query.str('filters'))));
  });
  r.get('/tasks/{id}', async (req, res) => {
    res.json(await s.getTask(req.params[0]!));
  });
  r.get('/tasks/{id}/logs', async (req, res) => {
    const l = await s.logs('task', req.params[0]!, logQuery(req.query));
    await sendLogStream(req, res, l.tty, (out) => l.write(out as never, req.signal));
  });
}

