import type { Router } from '../server.js';
import { unavailable } from '../../base/errdefs.js';
import { parseFilters } from '../../engine/filters.js';
import type { VolumeCreateRequest, VolumeService } from '../../engine/volumes.js';
import { versionBefore } from '../version.js';

export function volumeRoutes(r: Router, volumes: VolumeService): void {
  r.get('/volumes', async (req, res) => {
    res.json(await volumes.list(parseFilters(req.query.str('filters'))));
  });

  r.post('/volumes/create', async (req, res) => {
    const body = (await req.json<VolumeCreateRequest & { ClusterVolumeSpec?: object | null }>()) ?? {};
    // A cluster volume (API 1.42+) is swarm's business, and this node is in no swarm.
    if (body.ClusterVolumeSpec && !versionBefore(req.version, '1.42'))
      throw unavailable('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    res.json(await volumes.create({ Name: body.Name, Driver: body.Driver, DriverOpts: body.DriverOpts, Labels: body.Labels }), 201);
  });

  r.post('/volumes/prune', async (req, res) => {
    // API 1.42 made prune take anonymous volumes only; older clients still get every unused one.
    res.json(await volumes.prune(parseFilters(req.query.str('filters')), { allByDefault: versionBefore(req.version, '1.42') }));
  });

  r.get('/volumes/{name}', async (req, res) => {
    res.json(await volumes.inspect(req.params[0]!));
  });

  // Updates are for swarm cluster volumes; this node is in no swarm, and Docker says so first.
  r.put('/volumes/{name}', () => {
    throw unavailable('volume update only valid for cluster volumes, but swarm is unavailable');
  });

  r.delete('/volumes/{name}', async (req, res) => {
    await volumes.remove(req.params[0]!, { force: req.query.bool('force') ?? false });
    res.noContent();
  });
}
