/** `POST /containers/prune`: removes stopped containers (filters: until, label, label!). */
import { invalid } from '../../base/errdefs.js';
import { pruneLabelsMatch, type Filters } from '../filters.js';
import { parseTimestamp } from '../images.js';
import { sizes } from './filesystem.js';
import type { ContainerService } from './service.js';

export async function pruneContainers(svc: ContainerService, f: Filters): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
  f.validate(['until', 'label', 'label!']);
  const until = f.get('until').map((u) => {
    const t = parseTimestamp(u);
    if (!t) throw invalid(`invalid filter 'until=${u}'`);
    return t * 1000;
  });
  const deleted: string[] = [];
  let space = 0;
  for (const c of svc.store.all()) {
    if (c.state.Running || c.state.Restarting || c.state.Status === 'removing') continue;
    const labels = c.config.Labels ?? {};
    if (until.length && !until.every((t) => Date.parse(c.created) < t)) continue;
    if (!pruneLabelsMatch(f, labels)) continue;
    const size = (await sizes(svc, c)).SizeRw;
    try {
      await svc.remove(c.id);
      deleted.push(c.id);
      space += size;
    } catch (e) {
      svc.log.warn({ id: c.id, err: e }, 'prune: removing a container failed');
    }
  }
  if (deleted.length) svc.events.emit('container', 'prune', '', { reclaimed: String(space) });
  return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
}
