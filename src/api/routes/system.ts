import type { Handler, Router } from '../server.js';
import type { SystemService } from '../../engine/system.js';
import { matches, type EventBus, type EngineEvent } from '../../engine/events.js';
import { parseFilters } from '../../engine/filters.js';
import { parseTimestamp } from '../../engine/images.js';
import { invalid } from '../../base/errdefs.js';
import { versionBefore } from '../version.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

export function systemRoutes(r: Router, sys: SystemService, events: EventBus): void {
  const ping: Handler = (_req, res) => {
    // The docker CLI negotiates with Api-Version (set on every response) and picks its builder
    // from Builder-Version: "1" is the classic builder, which Pier implements.
    res.header('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.header('Pragma', 'no-cache');
    res.header('Builder-Version', '1');
    res.header('Swarm', sys.swarmStatus());
    res.text('OK', 200, 'text/plain; charset=utf-8');
  };
  r.get('/_ping', ping);
  r.head('/_ping', ping);

  r.get('/version', (_req, res) => res.json(sys.version()));

  r.get('/info', async (req, res) => {
    const info = await sys.info();
    // Fields older API versions expect.
    if (versionBefore(req.version, '1.44')) Object.assign(info, { ExecutionDriver: '' });
    res.json(info);
  });

  r.get('/system/df', async (req, res) => {
    res.json(await sys.df(req.query.all('type')));
  });

  r.get('/events', async (req, res) => {
    const filters = parseFilters(req.query.str('filters'));
    filters.validate(['type', 'event', 'image', 'container', 'label', 'network', 'volume', 'daemon', 'scope', 'plugin', 'node', 'service', 'secret', 'config']);
    const toNs = (s: string | undefined) => (s === undefined || s === '' ? undefined : Math.round(parseTimestamp(s) * 1e9));
    const since = toNs(req.query.str('since'));
    const until = toNs(req.query.str('until'));
    if (since !== undefined && until !== undefined && until < since) throw invalid('`since` time is after `until` time');
    const f = { since, until, filters: Object.fromEntries(filters.keys().map((k) => [k, filters.get(k)])) };
    const stream = res.stream();
    const write = (e: EngineEvent) => stream.write(e);
    // Replay what `since` asks for, then follow live events until `until` (or the client leaves).
    if (since !== undefined) for (const e of events.past(f)) write(e);
    if (until !== undefined && until <= Date.now() * 1e6) return stream.end();
    await new Promise<void>((resolve) => {
      const unsubscribe = events.subscribe((e) => {
        if (matches(e, f)) write(e);
      });
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        unsubscribe();
        clearTimeout(timer);
        resolve();
      };
      // setTimeout fires at once for delays beyond 2^31-1 ms (~24.8 days): wait in steps for a far `until`.
      const arm = () => {
        const left = (until ?? 0) / 1e6 - Date.now();
        timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(done, Math.max(0, left));
      };
      if (until !== undefined) arm();
      req.signal.addEventListener('abort', done, { once: true });
    });
    stream.end();
  });
}
