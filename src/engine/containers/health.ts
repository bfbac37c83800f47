/**
 * Health checks (HEALTHCHECK / --health-*): the test runs as an exec every
 * interval; `retries` failures in a row make the container unhealthy, failures
 * within the start period do not count, a success makes it healthy. Each
 * change of status is a `health_status: <status>` event, and the last five
 * results are kept in State.Health.Log, as in Docker.
 *
 * What Docker lacks and Podman has: an action when the container turns
 * unhealthy, `--health-on-failure=none|kill|restart|stop`, carried in the
 * annotation io.pier.health-on-failure.
 */
import type { ContainerService } from './service.js';
import type { ExecService } from './exec.js';
import { nowIso, type ContainerRecord } from './record.js';

export const HEALTH_ON_FAILURE = 'io.pier.health-on-failure';
const NS = 1e6; // ns per ms
const DEFAULT = { interval: 30_000, timeout: 30_000, startInterval: 5_000, retries: 3 };

export function healthCommand(c: ContainerRecord): string[] | undefined {
  const t = c.config.Healthcheck?.Test;
  if (!t || t.length === 0 || t[0] === 'NONE') return undefined;
  if (t[0] === 'CMD') return t.slice(1);
  if (t[0] === 'CMD-SHELL') return [...(c.config.Shell?.length ? c.config.Shell : ['/bin/sh', '-c']), t.slice(1).join(' ')];
  return undefined;
}

/** Starts the checks for a running container; returns how to stop them. */
export function startHealth(svc: ContainerService, execs: ExecService, c: ContainerRecord): (() => void) | undefined {
  const cmd = healthCommand(c);
  if (!cmd) return undefined;
  const h = c.config.Healthcheck!;
  const interval = h.Interval ? h.Interval / NS : DEFAULT.interval;
  const timeout = h.Timeout ? h.Timeout / NS : DEFAULT.timeout;
  const startPeriod = h.StartPeriod ? h.StartPeriod / NS : 0;
  const startInterval = h.StartInterval ? h.StartInterval / NS : DEFAULT.startInterval;
  const retries = h.Retries || DEFAULT.retries;
  const startedAt = Date.parse(c.state.StartedAt);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const inStart = () => Date.now() - startedAt < startPeriod;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void probe(), inStart() && c.state.Health?.Status === 'starting' ? Math.min(startInterval, interval) : interval);
  };
  const probe = async () => {
    if (stopped || !c.state.Running) return;
    if (c.state.Paused) return schedule();
    const start = nowIso();
    let code: number;
    let output: string;
    try {
      ({ code, output } = await execs.probe(c, cmd, timeout));
      if (code === -1) output = `Health check exceeded timeout (${timeout / 1000}s)`;
    } catch (e) {
      code = -1;
      output = (e as Error).message;
    }
    if (stopped || !c.state.Running || !c.state.Health) return;
    const health = c.state.Health;
    const before = health.Status;
    health.Log.push({ Start: start, End: nowIso(), ExitCode: code, Output: output });
    if (health.Log.length > 5) health.Log.shift();
    if (code === 0) {
      health.FailingStreak = 0;
      health.Status = 'healthy';
    } else if (!inStart() || before !== 'starting') {
      health.FailingStreak++;
      if (health.FailingStreak >= retries) health.Status = 'unhealthy';
    }
    svc.store.save(c);
    if (health.Status !== before) {
      svc.events.emit('container', `health_status: ${health.Status}`, c.id, { ...(c.config.Labels ?? {}), image: c.imageName, name: c.name });
      if (health.Status === 'unhealthy') onFailure(svc, c);
    }
    schedule();
  };
  schedule();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

function onFailure(svc: ContainerService, c: ContainerRecord): void {
  const action = c.hostConfig.Annotations?.[HEALTH_ON_FAILURE] ?? 'none';
  const log = (e: unknown) => svc.log.warn({ id: c.id, action, err: e }, 'health-on-failure action failed');
  if (action === 'kill') void svc.kill(c.id, 'SIGKILL').catch(log);
  else if (action === 'stop') void svc.stop(c.id).catch(log);
  else if (action === 'restart') void svc.restart(c.id).catch(log);
}
