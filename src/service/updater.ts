/**
 * The rolling update (and rollback) of one service: swarm's updater. It
 * replaces, batch by batch, the tasks whose spec differs from the service's
 * TaskTemplate, watches the new ones for the Monitor period, and on failure
 * takes the configured action. It records its progress in the service's
 * UpdateStatus, which `docker service update` (without --detach) follows:
 *
 *   updating "update in progress" → completed "update completed"
 *                                  → paused "update paused due to failure or early termination of task ID"
 *                                  → rollback_started "update rolled back due to failure or early termination of task ID"
 *   rollback_started "manually requested rollback" (or the above) → rollback_completed "rollback completed"
 *                                  → rollback_paused "rollback paused due to failure or early termination of task ID"
 *
 * The updater never starts or stops a container itself. It marks old tasks
 * DesiredState shutdown (the controller drains them from the balancer, then
 * stops them) and, for start-first, creates the new task; for stop-first the
 * controller's reconcile fills the slot with a new task once the old one has
 * stopped, as it fills any empty slot. So a restart of the daemon in the
 * middle loses nothing: the updater runs again and finds what is still dirty.
 *
 * One updater runs per service; a newer update (or a removal) aborts it
 * through `signal`, and every wait here gives way to that at once.
 */
import type { Logger } from '../base/log.js';
import { taskSpecsDiffer, updateConfigOf } from './spec.js';
import { isEnded, type Service, type Task, type TaskState } from './types.js';

/** Desired states of a task that holds its slot: starting, running, or waiting out a restart delay. */
export const isLiveDesired = (s: TaskState): boolean => s === 'running' || s === 'ready';
/** A task that keeps its slot from being filled again: live, or done for good (a completed task of restart policy none/on-failure). */
export const holdsSlot = (t: Task): boolean => isLiveDesired(t.DesiredState) || t.DesiredState === 'complete';

/** What the updater needs of the controller. */
export interface UpdaterHost {
  readonly log: Logger;
  service(id: string): Service | undefined;
  /** The service's tasks as last seen (deleted ones are gone). */
  tasksOf(serviceId: string): Task[];
  task(id: string): Task | undefined;
  /** Whether the balancer may send the task new connections (running, healthy, listening). */
  isBackend(t: Task): boolean;
  /** When the task was last seen running (ms since the epoch), if ever. */
  runningSince(taskId: string): number | undefined;
  /** fn runs with no reconcile of the service at the same time. */
  locked<T>(serviceId: string, fn: () => Promise<T>): Promise<T>;
  /** Sets DesiredState (compare-and-swap, retried). */
  setDesired(taskId: string, desired: TaskState): Promise<void>;
  /** A new task in the slot from the service's current template, DesiredState running. */
  createTask(svc: Service, slot: number): Promise<Task>;
  /** Read-modify-write of the service; fn returning undefined writes nothing. */
  mutateService(id: string, fn: (s: Service) => Service | undefined): Promise<Service | undefined>;
  /** Resolves with pred's first defined value, re-checked on every change the controller sees; undefined after timeoutMs. */
  waitFor<T>(pred: () => T | undefined, signal: AbortSignal, timeoutMs?: number): Promise<T | undefined>;
}

/**
 * How long a batch waits for a new task to take connections (running,
 * healthy, listening on the service's ports) before going on: swarm only
 * waits for "running"; Pier waits for more so that an update loses no
 * requests, but not forever for a task that never listens.
 */
const SERVING_WAIT_MS = 30_000;

export type UpdateOutcome = 'completed' | 'paused' | 'rollback' | 'cancelled' | 'continue';

const sameTemplate = (a: Service, b: Service) => !taskSpecsDiffer(a.Spec.TaskTemplate, b.Spec.TaskTemplate);

export class Updater {
  private readonly failed = new Set<string>();
  private readonly monitored = new Set<string>();
  private firstFailure?: string;

  constructor(
    private readonly host: UpdaterHost,
    private readonly serviceId: string,
  ) {}

  /** Runs the update the service's UpdateStatus says is in progress; 'rollback' means the caller should run the rollback now stored. */
  async run(signal: AbortSignal): Promise<UpdateOutcome> {
    const start = this.host.service(this.serviceId);
    const state = start?.UpdateStatus?.State;
    if (!start || (state !== 'updating' && state !== 'rollback_started')) return 'cancelled';
    const rollback = state === 'rollback_started';
    const cfg = updateConfigOf(start.Spec, rollback);
    const log = this.host.log.child({ service: start.Spec.Name, rollback });
    try {
      const dirty = this.dirtySlots(start);
      log.info({ slots: dirty.length, parallelism: cfg.Parallelism, order: cfg.Order }, rollback ? 'rollback started' : 'update started');
      const total = dirty.length;
      const tooMany = () => total > 0 && this.failed.size / total > cfg.MaxFailureRatio && cfg.FailureAction !== 'continue';
      const step = cfg.Parallelism > 0 ? cfg.Parallelism : Math.max(total, 1);
      for (let i = 0; i < total; i += step) {
        const batch = dirty.slice(i, i + step);
        await Promise.all(batch.map((slot) => this.updateSlot(start, slot, cfg.Order, signal)));
        this.checkFailures(cfg.Monitor);
        if (tooMany()) return await this.fail(start, rollback, cfg.FailureAction, log);
        if (i + step < total && cfg.Delay > 0) {
          await this.host.waitFor(() => (this.checkFailures(cfg.Monitor), tooMany() || undefined), signal, cfg.Delay / 1e6);
          if (tooMany()) return await this.fail(start, rollback, cfg.FailureAction, log);
        }
      }
      // Swarm watches the last batch for one more monitoring period before calling the update done.
      if (total > 0 && cfg.Monitor > 0) {
        await this.host.waitFor(() => (this.checkFailures(cfg.Monitor), tooMany() || undefined), signal, cfg.Monitor / 1e6);
        if (tooMany()) return await this.fail(start, rollback, cfg.FailureAction, log);
      }
      signal.throwIfAborted();
      const done = await this.host.mutateService(this.serviceId, (s) => {
        if (!sameTemplate(s, start) || s.UpdateStatus?.State !== state) return undefined;
        const now = new Date().toISOString();
        return {
          ...s,
          UpdateStatus: {
            State: rollback ? 'rollback_completed' : 'completed',
            ...(s.UpdateStatus?.StartedAt ? { StartedAt: s.UpdateStatus.StartedAt } : {}),
            CompletedAt: now,
            Message: rollback ? 'rollback completed' : 'update completed',
          },
        };
      });
      if (!done) return 'cancelled';
      log.info({ failures: this.failed.size }, rollback ? 'rollback completed' : 'update completed');
      return 'completed';
    } catch (e) {
      if (signal.aborted) {
        log.info('update cancelled');
        return 'cancelled';
      }
      throw e;
    }
  }

  /** Slots whose occupants do not match the template, lowest first (swarm goes in slot order too). */
  private dirtySlots(svc: Service): number[] {
    const slots = new Set<number>();
    for (const t of this.host.tasksOf(svc.ID)) {
      if (!holdsSlot(t)) continue;
      if (taskSpecsDiffer(t.Spec, svc.Spec.TaskTemplate)) slots.add(t.Slot);
    }
    return [...slots].sort((a, b) => a - b);
  }

  private occupants(slot: number): Task[] {
    return this.host.tasksOf(this.serviceId).filter((t) => t.Slot === slot && holdsSlot(t));
  }

  private async updateSlot(svc: Service, slot: number, order: 'stop-first' | 'start-first', signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const target = svc.Spec.TaskTemplate;
    const old = this.occupants(slot).filter((t) => taskSpecsDiffer(t.Spec, target));
    if (!old.length) return; // restarted since with the new spec, or scaled away
    const serving = old.some((t) => this.host.isBackend(t));
    if (order === 'start-first' && serving) {
      const fresh = await this.host.locked(svc.ID, async () => {
        const s = this.host.service(svc.ID);
        if (!s || !sameTemplate(s, svc)) return undefined;
        return this.host.createTask(s, slot);
      });
      if (!fresh) return;
      // Wait until the new task takes connections before the old one stops taking them.
      const r = await this.serving(fresh.ID, signal);
      if (r === 'ended') return; // counted by checkFailures; the old task goes on serving
      if (!r) {
        if (this.host.task(fresh.ID)?.Status.State !== 'running') return;
        this.host.log.warn({ task: fresh.ID, slot }, 'new task runs but does not accept connections on its ports: replacing the old one anyway, as swarm would');
      }
      await this.shutDown(svc.ID, old);
      return;
    }
    // stop-first (or nothing to keep serving): drain and stop the old task; the reconcile
    // starts the new one in the slot once the old one is gone.
    await this.shutDown(svc.ID, old);
    const oldIds = new Set(old.map((t) => t.ID));
    const fresh = await this.host.waitFor(
      () => this.host.tasksOf(svc.ID).find((t) => t.Slot === slot && !oldIds.has(t.ID) && isLiveDesired(t.DesiredState) && !taskSpecsDiffer(t.Spec, target)),
      signal,
    );
    if (fresh) await this.serving(fresh.ID, signal);
  }

  /** Sets the tasks' DesiredState to shutdown, with no reconcile of the service at the same time. */
  private shutDown(serviceId: string, tasks: Task[]): Promise<void> {
    return this.host.locked(serviceId, async () => {
      for (const t of tasks) await this.host.setDesired(t.ID, 'shutdown');
    });
  }

  /** Monitors a new task and waits (at most SERVING_WAIT_MS) until it takes connections; 'ended' when it ended or is no longer wanted, undefined on timeout. */
  private serving(id: string, signal: AbortSignal): Promise<'serving' | 'ended' | undefined> {
    this.monitored.add(id);
    return this.host.waitFor(() => {
      const t = this.host.task(id);
      if (!t || isEnded(t.Status.State) || !isLiveDesired(t.DesiredState)) return 'ended' as const;
      return this.host.isBackend(t) ? ('serving' as const) : undefined;
    }, signal, SERVING_WAIT_MS);
  }

  /**
   * A new task that ends on its own (failed, rejected, or even exit 0)
   * before running for the Monitor period is a failure; one the controller
   * shut down is not.
   */
  private checkFailures(monitorNs: number): void {
    for (const id of this.monitored) {
      if (this.failed.has(id)) continue;
      const t = this.host.task(id);
      if (!t || !isEnded(t.Status.State) || t.Status.State === 'shutdown') continue;
      const since = this.host.runningSince(id);
      const endedAt = Date.parse(t.Status.Timestamp);
      if (since === undefined || endedAt - since <= monitorNs / 1e6) {
        this.failed.add(id);
        this.firstFailure ??= id;
        this.host.log.warn({ task: id, state: t.Status.State, err: t.Status.Err }, 'updated task failed');
      }
    }
  }

  private async fail(start: Service, rollback: boolean, action: 'pause' | 'continue' | 'rollback', log: Logger): Promise<UpdateOutcome> {
    const id = this.firstFailure ?? '';
    const state = start.UpdateStatus!.State;
    let outcome = 'paused' as UpdateOutcome;
    const written = await this.host.mutateService(this.serviceId, (s) => {
      if (!sameTemplate(s, start) || s.UpdateStatus?.State !== state) return undefined;
      const now = new Date().toISOString();
      if (action === 'rollback' && !rollback && s.PreviousSpec) {
        outcome = 'rollback';
        return {
          ...s,
          Spec: s.PreviousSpec,
          PreviousSpec: s.Spec,
          UpdateStatus: { State: 'rollback_started', StartedAt: now, Message: `update rolled back due to failure or early termination of task ${id}` },
        };
      }
      outcome = 'paused';
      return {
        ...s,
        UpdateStatus: {
          State: rollback ? 'rollback_paused' : 'paused',
          ...(s.UpdateStatus?.StartedAt ? { StartedAt: s.UpdateStatus.StartedAt } : {}),
          Message: `${rollback ? 'rollback' : 'update'} paused due to failure or early termination of task ${id}`,
        },
      };
    });
    if (!written) return 'cancelled';
    log.warn({ task: id, failures: this.failed.size, outcome }, outcome === 'rollback' ? 'update failed: rolling back' : 'update paused');
    return outcome;
  }
}
