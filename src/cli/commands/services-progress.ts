// Convergence progress of a service after create, update, scale or rollback, as
// docker 28's cli/command/service/progress does it: poll the service, its
// up-to-date tasks and the nodes every 200 ms, draw one line per slot (or node)
// and an overall count, and once every task runs, wait out the update monitor
// period before "verify: Service X converged".
//
// The lines go out as JSON messages through the same renderer `pull` uses, so on
// a terminal they are redrawn in place and elsewhere only the plain status lines
// print ("overall progress: 2 out of 2 tasks"), exactly as docker's do.

import { PassThrough, Writable } from 'node:stream';
import type { Client } from '../../client/client.js';
import type { JSONMessage, SwarmService, SwarmTask } from '../../client/types.js';
import type { Ctx } from '../command.js';
import { truncateID } from '../formatter.js';
import { displayJSONMessages } from '../jsonmessage.js';

const NUMBERED: Record<string, number> = {
  new: 1, allocated: 2, pending: 3, assigned: 4, accepted: 5, preparing: 6, ready: 7, starting: 8, running: 9,
  complete: 10, shutdown: 11, failed: 12, rejected: 13,
};
const MAX_PROGRESS = 9;
const MAX_PROGRESS_BARS = 20;
/** The longest non-terminal state name ("preparing", "allocated"), plus "complete". */
const LONGEST_STATE = 9;

const terminal = (state: string) => (NUMBERED[state] ?? 0) > NUMBERED['running']!;
const num = (state: string) => NUMBERED[state] ?? 0;

/** Of several tasks in one slot (or on one node), the one with the lowest desired state, then observed state, counts. */
const outranks = (t: SwarmTask, cur: SwarmTask | undefined) =>
  !cur || num(t.DesiredState) < num(cur.DesiredState) || (num(t.DesiredState) === num(cur.DesiredState) && num(t.Status.State) < num(cur.Status.State));

/** truncError: one line, at most 75 characters. */
export function truncError(msg: string): string {
  msg = msg.replaceAll('\n', ' ');
  const chars = [...Buffer.from(msg)];
  return chars.length > 75 ? Buffer.from(chars.slice(0, 74)).toString() + '…' : msg;
}

type Emit = (m: JSONMessage) => void;

const action = (id: string, status: string): JSONMessage => ({ id, status, progressDetail: {} });

function overall(emit: Emit, n: number, d: number, rollback: boolean): void {
  emit(action('overall progress', rollback ? `rolling back update: ${n} out of ${d} tasks` : `${n} out of ${d} tasks`));
}

function taskProgress(emit: Emit, id: string, t: SwarmTask): void {
  if (t.Status.Err) {
    emit(action(id, truncError(t.Status.Err)));
  } else if (!terminal(t.DesiredState) && !terminal(t.Status.State)) {
    emit({ id, status: t.Status.State.padEnd(LONGEST_STATE), progressDetail: { current: num(t.Status.State), total: MAX_PROGRESS, hidecounts: true } });
  }
}

interface Updater {
  update(s: SwarmService, tasks: SwarmTask[], active: Set<string>, rollback: boolean): boolean;
}

/** One progress line per slot (up to 20 replicas), slots mapped to 1..N in the order they show up. */
class ReplicatedUpdater implements Updater {
  private slots = new Map<number, number>();
  private initialized = false;
  private done = false;
  constructor(private readonly emit: Emit) {}

  update(s: SwarmService, tasks: SwarmTask[], active: Set<string>, rollback: boolean): boolean {
    const replicas = s.Spec.Mode?.Replicated?.Replicas;
    if (replicas === undefined) throw new Error('no replica count');
    if (!this.initialized) {
      overall(this.emit, 0, replicas, rollback);
      if (replicas <= MAX_PROGRESS_BARS) for (let i = 1; i <= replicas; i++) this.emit(action(`${i}/${replicas}`, ' '));
      this.initialized = true;
    }
    const bySlot = new Map<number, SwarmTask>();
    for (const t of tasks) {
      if (!num(t.DesiredState) || !num(t.Status.State)) continue;
      if (!outranks(t, bySlot.get(t.Slot ?? 0))) continue;
      if (t.NodeID && !active.has(t.NodeID)) continue;
      bySlot.set(t.Slot ?? 0, t);
    }
    if (this.done && [...bySlot.values()].some((t) => t.Status.State !== 'running')) this.done = false;
    let running = 0;
    for (const t of [...bySlot.values()].sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0))) {
      let mapped = this.slots.get(t.Slot ?? 0);
      if (!mapped) {
        mapped = this.slots.size + 1;
        this.slots.set(t.Slot ?? 0, mapped);
      }
      if (!terminal(t.DesiredState) && t.Status.State === 'running') running++;
      if (!this.done && replicas <= MAX_PROGRESS_BARS && mapped <= replicas) taskProgress(this.emit, `${mapped}/${replicas}`, t);
    }
    if (!this.done) {
      overall(this.emit, running, replicas, rollback);
      if (running === replicas) this.done = true;
    }
    return running === replicas;
  }
}

/** One progress line per node (up to 20); the node count is the number of nodes with up-to-date tasks. */
class GlobalUpdater implements Updater {
  private initialized = false;
  private done = false;
  constructor(private readonly emit: Emit) {}

  update(_s: SwarmService, tasks: SwarmTask[], active: Set<string>, rollback: boolean): boolean {
    const byNode = new Map<string, SwarmTask>();
    for (const t of tasks) {
      if (!num(t.DesiredState) || !num(t.Status.State)) continue;
      if (outranks(t, byNode.get(t.NodeID ?? ''))) byNode.set(t.NodeID ?? '', t);
    }
    const count = byNode.size;
    if (!this.initialized) {
      if (count === 0) {
        this.emit(action('overall progress', 'waiting for new tasks'));
        return false;
      }
      overall(this.emit, 0, count, rollback);
      this.initialized = true;
    }
    if (this.done && [...byNode.values()].some((t) => t.Status.State !== 'running')) this.done = false;
    let running = 0;
    for (const t of [...byNode.values()].sort((a, b) => ((a.NodeID ?? '') < (b.NodeID ?? '') ? -1 : 1))) {
      if (!active.has(t.NodeID ?? '')) continue;
      if (!terminal(t.DesiredState) && t.Status.State === 'running') running++;
      if (!this.done && count <= MAX_PROGRESS_BARS) taskProgress(this.emit, truncateID(t.NodeID ?? ''), t);
    }
    if (!this.done) {
      overall(this.emit, running, count, rollback);
      if (running === count) this.done = true;
    }
    return running === count;
  }
}

export interface ProgressOptions {
  /** Poll interval (docker's 200 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * progress.ServiceProgress: emit messages until the service converges (or its
 * update pauses, which is an error). `serviceID` is what the user typed.
 */
export async function serviceProgress(client: Client, serviceID: string, emit: Emit, o: ProgressOptions = {}): Promise<void> {
  const poll = o.pollMs ?? 200;
  let updater: Updater | undefined;
  let converged = false;
  let convergedAt = 0;
  let rollback = false;
  let message: JSONMessage | undefined;
  for (;;) {
    const s = await client.serviceInspect(serviceID);
    let monitor = 5000;
    if (s.Spec.UpdateConfig?.Monitor) monitor = s.Spec.UpdateConfig.Monitor / 1e6;
    if (!updater) {
      if (s.Spec.Mode?.Replicated?.Replicas !== undefined) updater = new ReplicatedUpdater(emit);
      else if (s.Spec.Mode?.Global) updater = new GlobalUpdater(emit);
      else throw new Error('unrecognized service mode');
    }
    const us = s.UpdateStatus;
    switch (us?.State) {
      case 'updating':
        rollback = false;
        break;
      case 'completed':
        if (!converged) return;
        break;
      case 'paused':
        throw new Error(`service update paused: ${us.Message ?? ''}`);
      case 'rollback_started':
        if (!rollback && us.Message) emit(action('rollback', us.Message));
        rollback = true;
        break;
      case 'rollback_paused':
        throw new Error(`service rollback paused: ${us.Message ?? ''}`);
      case 'rollback_completed':
        if (!converged) message = { id: 'rollback', status: us.Message ?? '' };
        rollback = true;
        break;
    }
    if (converged && Date.now() - convergedAt >= monitor) {
      emit(action('verify', `Service ${serviceID} converged`));
      if (message) emit(message);
      return;
    }
    const tasks = await client.taskList({ service: { [s.ID]: true }, '_up-to-date': { true: true } });
    const active = new Set((await client.nodeList()).filter((n) => n.Status?.State !== 'down').map((n) => n.ID));
    converged = updater.update(s, tasks, active, rollback);
    if (converged) {
      if (!convergedAt) convergedAt = Date.now();
      const wait = monitor - (Date.now() - convergedAt);
      if (wait >= 0) emit(action('verify', `Waiting ${Math.floor(wait / 1000) + 1} seconds to verify that tasks are stable...`));
    } else {
      if (convergedAt) emit(action('verify', 'Detected task failure'));
      convergedAt = 0;
    }
    const stopped = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        o.signal?.removeEventListener('abort', onAbort);
        resolve(false);
      }, poll);
      const onAbort = () => {
        clearTimeout(t);
        resolve(true);
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (stopped) {
      if (!converged) {
        emit({ status: 'Operation continuing in background.' });
        emit({ status: `Use \`pier service ps ${serviceID}\` to check progress.` });
      }
      return;
    }
  }
}

/**
 * WaitOnService: show the progress on stdout (nothing with quiet) until the
 * service converges; Ctrl-C stops watching, not the update.
 */
export async function waitOnService(ctx: Ctx, serviceID: string, quiet: boolean, o: ProgressOptions = {}): Promise<void> {
  const stream = new PassThrough();
  const out = quiet ? new Writable({ write: (_c, _e, cb) => cb() }) : ctx.io.stdout;
  const tty = ctx.io.stdout.isTTY === true;
  const shown = displayJSONMessages(stream, out, { isTerminal: tty, width: tty ? (ctx.io.stdout.columns ?? 80) : 200 });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on('SIGINT', onSigint);
  let failure: unknown;
  try {
    await serviceProgress(ctx.client(), serviceID, (m) => stream.write(JSON.stringify(m) + '\n'), { ...o, signal: o.signal ?? abort.signal });
  } catch (e) {
    failure = e;
  } finally {
    process.off('SIGINT', onSigint);
    stream.end();
  }
  await shown;
  if (failure) throw failure;
}
