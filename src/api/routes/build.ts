import type { Router } from '../server.js';
import { drainBody } from '../body.js';
import { invalid } from '../../base/errdefs.js';
import type { BuildService } from '../../engine/build.js';

/** A JSON-object query parameter (buildargs, labels): absent → {}. */
function jsonMap<T>(v: string | undefined, what: string): Record<string, T> {
  if (!v) return {};
  try {
    const o = JSON.parse(v) as unknown;
    if (o && typeof o === 'object' && !Array.isArray(o)) return o as Record<string, T>;
  } catch {
    /* below */
  }
  throw invalid(`invalid ${what}: expected a JSON object`);
}

export function buildRoutes(r: Router, svc: BuildService): void {
  r.post('/build', async (req, res) => {
    const q = req.query;
    if (q.str('remote')) throw invalid('building from a remote context (a URL or a git repository) is not supported by Pier: send the context as a tar');
    const version = q.str('version');
    if (version === '2') throw invalid('BuildKit (version=2) is not supported by Pier: build with DOCKER_BUILDKIT=0 (the classic builder)');
    const shm = q.int('shmsize');
    const request = {
      dockerfile: q.str('dockerfile') ?? 'Dockerfile',
      tags: q.all('t').filter(Boolean),
      buildArgs: jsonMap<string | null>(q.str('buildargs'), 'buildargs'),
      target: q.str('target') || undefined,
      noCache: q.bool('nocache') ?? false,
      pull: q.bool('pull') ?? false,
      rm: q.bool('rm') ?? true,
      forceRm: q.bool('forcerm') ?? false,
      labels: jsonMap<string>(q.str('labels'), 'labels'),
      networkMode: q.str('networkmode') && q.str('networkmode') !== 'default' ? q.str('networkmode') : undefined,
      platform: q.str('platform') || undefined,
      ...(shm ? { shmSize: shm } : {}),
      extraHosts: q.all('extrahosts').flatMap((h) => h.split(',')).filter(Boolean),
      quiet: q.bool('q') ?? false,
      signal: req.signal,
    };
    const stream = res.stream();
    // The body goes to the builder as it is: it reads the tar straight from the request (no pipe in between).
    try {
      await svc.build({ ...request, body: req.raw }, (m) => stream.write(m));
    } catch (e) {
      await drainBody(req.raw);
      stream.error(e);
    }
    stream.end();
  });

  r.post('/build/prune', async (req, res) => {
    res.json(svc.prune(req.query.bool('all') ?? false));
  });
}
