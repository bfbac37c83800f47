/**
 * pierd's Prometheus metrics: what is measured (dockerd's engine_daemon_*
 * names where Pier has the same thing, process_* like every Prometheus
 * client) and the plain-HTTP listener on --metrics-addr that serves them at
 * GET /metrics. The listener is off unless metrics-addr is set, and has no
 * authentication: like dockerd, any address is allowed, but one that is not
 * loopback is warned about loudly.
 */
import { createServer, type Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import type { Logger } from '../base/log.js';
import { CONTENT_TYPE, MetricsRegistry, type Counter, type Histogram } from '../engine/metrics.js';
import type { EventBus } from '../engine/events.js';

export interface EngineFacts {
  id: string;
  version: string;
  commit: string;
  graphdriver: string;
  containerCounts: () => { running: number; paused: number; stopped: number };
  imageCount: () => number;
}

/** The engine's metrics, registered once per daemon. */
export class EngineMetrics {
  readonly registry = new MetricsRegistry();
  readonly containerActions: Histogram;
  readonly httpRequests: Counter;
  readonly httpDuration: Histogram;
  readonly events: Counter;

  constructor(facts: EngineFacts, bus: EventBus) {
    const r = this.registry;
    const states = r.gauge('engine_daemon_container_states_containers', 'The count of containers in various states', ['state']);
    const info = r.gauge('engine_daemon_engine_info', 'The information related to the engine and the OS it is running on', ['architecture', 'commit', 'daemon_id', 'graphdriver', 'kernel', 'os', 'os_type', 'version']);
    info.set({ architecture: os.machine(), commit: facts.commit, daemon_id: facts.id, graphdriver: facts.graphdriver, kernel: os.release(), os: osName(), os_type: 'linux', version: facts.version }, 1);
    r.gauge('engine_daemon_engine_cpus_cpus', 'The number of cpus that the host system of the engine has').set(undefined, os.availableParallelism());
    r.gauge('engine_daemon_engine_memory_bytes', 'The number of bytes of memory that the host system of the engine has').set(undefined, os.totalmem());
    const images = r.gauge('engine_daemon_images', 'The number of images in the image store (Pier)');
    this.events = r.counter('engine_daemon_events_total', 'The number of events logged');
    this.containerActions = r.histogram('engine_daemon_container_actions_seconds', 'The number of seconds it takes to process each container action', ['action']);
    this.httpRequests = r.counter('engine_daemon_http_requests_total', 'Engine API requests by route, method and status code (Pier)', ['method', 'route', 'code']);
    this.httpDuration = r.histogram('engine_daemon_http_request_duration_seconds', 'Engine API request durations, streams included (Pier)', ['method', 'route']);
    // dockerd shows the series of every action from the start, at zero.
    for (const action of ['create', 'start', 'stop', 'delete']) this.containerActions.touch({ action });
    r.collect(() => {
      const c = facts.containerCounts();
      states.set({ state: 'running' }, c.running);
      states.set({ state: 'paused' }, c.paused);
      states.set({ state: 'stopped' }, c.stopped);
      images.set(undefined, facts.imageCount());
    });
    bus.subscribe(() => this.events.inc());
    processMetrics(r);
  }

  /** The Router's request hook: one count and one duration per request. */
  observeRequest = (m: { method: string; route: string; status: number; seconds: number }): void => {
    this.httpRequests.inc({ method: m.method, route: m.route, code: String(m.status) });
    this.httpDuration.observe({ method: m.method, route: m.route }, m.seconds);
  };

  /**
   * The container service as the API sees it, with create/start/stop/remove
   * timed into engine_daemon_container_actions_seconds (remove is "delete",
   * as dockerd names it). Everything else passes through untouched.
   */
  timed<T extends object>(svc: T): T {
    const actions: Record<string, string> = { create: 'create', start: 'start', stop: 'stop', remove: 'delete' };
    const hist = this.containerActions;
    return new Proxy(svc, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        const action = typeof prop === 'string' ? actions[prop] : undefined;
        if (!action || typeof v !== 'function') return v;
        return (...args: unknown[]) => hist.time({ action }, () => (v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      },
    });
  }
}

/** process_* like the Prometheus clients' process collector, read from /proc at each scrape. */
function processMetrics(r: MetricsRegistry): void {
  const cpu = r.gauge('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const rss = r.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const vsz = r.gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.');
  const fds = r.gauge('process_open_fds', 'Number of open file descriptors.');
  const maxFds = r.gauge('process_max_fds', 'Maximum number of open file descriptors.');
  const start = r.gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
  const startedAt = Date.now() / 1000 - process.uptime();
  r.collect(() => {
    const u = process.cpuUsage();
    cpu.set(undefined, (u.user + u.system) / 1e6);
    rss.set(undefined, process.memoryUsage.rss());
    const status = readText('/proc/self/status');
    const vm = /^VmSize:\s+(\d+) kB/m.exec(status);
    if (vm) vsz.set(undefined, Number(vm[1]) * 1024);
    try {
      fds.set(undefined, readdirSync('/proc/self/fd').length);
    } catch {
      /* no /proc: left at its last value */
    }
    const lim = /^Max open files\s+(\d+)/m.exec(readText('/proc/self/limits'));
    if (lim) maxFds.set(undefined, Number(lim[1]));
    start.set(undefined, Math.round(startedAt * 1000) / 1000);
  });
}

function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function osName(): string {
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readText('/etc/os-release'))?.[1] ?? 'Linux';
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/** Splits "host:port" ("[::1]:9323", ":9323" = every address). */
export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}

/** The /metrics listener. */
export class MetricsListener {
  private server?: Server;
  /** The bound address (the real port when 0 was asked for). */
  address = '';

  constructor(
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
  ) {}

  async start(addr: string): Promise<void> {
    const { host, port } = splitAddr(addr);
    if (!isLoopbackHost(host))
      this.log.warn({ addr }, 'METRICS ON A NON-LOOPBACK ADDRESS WITHOUT AUTHENTICATION OR TLS: anyone who can reach it reads what runs here');
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found: the metrics are at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }).end('method not allowed: use GET\n');
        return;
      }
      this.metrics.registry.render().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (e: unknown) => {
          this.log.error({ err: e }, 'metrics render failed');
          res.writeHead(500).end('metrics unavailable\n');
        },
      );
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host || undefined, () => resolve());
    });
    server.removeAllListeners('error');
    server.on('error', (e) => this.log.error({ err: e }, 'metrics listener error'));
    this.server = server;
    const a = server.address();
    this.address = a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : addr;
    this.log.info({ addr: this.address }, 'metrics listening');
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.address = '';
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
