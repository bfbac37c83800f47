import type { Router } from '../server.js';
import { parseFilters } from '../../engine/filters.js';
import type { NetworkService } from '../../engine/networks.js';
import type { EndpointConfig, NetworkCreateRequest } from '../../network/types.js';

export function networkRoutes(r: Router, svc: NetworkService): void {
  r.get('/networks', async (req, res) => {
    res.json(svc.list(parseFilters(req.query.str('filters'))));
  });

  r.get('/networks/{id}', async (req, res) => {
    res.json(svc.inspect(req.params[0]!));
  });

  r.post('/networks/create', async (req, res) => {
    res.json(await svc.create((await req.json<NetworkCreateRequest>()) ?? {}), 201);
  });

  r.delete('/networks/{id}', async (req, res) => {
    await svc.remove(req.params[0]!);
    res.noContent();
  });

  r.post('/networks/prune', async (req, res) => {
    res.json(await svc.prune(parseFilters(req.query.str('filters'))));
  });

  r.post('/networks/{id}/connect', async (req, res) => {
    await svc.connect(req.params[0]!, (await req.json<{ Container?: string; EndpointConfig?: EndpointConfig }>()) ?? {});
    res.json(null);
  });

  r.post('/networks/{id}/disconnect', async (req, res) => {
    await svc.disconnect(req.params[0]!, (await req.json<{ Container?: string; Force?: boolean }>()) ?? {});
    res.json(null);
  });
}
