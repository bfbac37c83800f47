import type { Router } from '../server.js';
import type { DistributionService } from '../../distribution/service.js';

export function authRoutes(r: Router, dist: DistributionService): void {
  r.post('/auth', async (req, res) => {
    res.json(await dist.login(await req.json(), req.signal));
  });
}
