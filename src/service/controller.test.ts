import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { openDb } from '../base/db.js';
import { engineError } from '../base/errdefs.test-support.js';
import { nullLogger } from '../base/log.js';
import type { ClusterStore } from './cluster-store.js';
import { Controller } from './controller.js';
import { FakeBalancer, FakeExecutor, Journal } from './fakes.test-support.js';
import { MemoryClusterStore } from './memory-store.js';
import { SqliteClusterStore } from './sqlite-store.js';
import type { Node, ServiceSpec, Task, TaskSpec } from './types.js';

const kind = engineError;

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined | false;
  while (Date.now() < end) {
    last = await fn();
    if (last !== undefined && last !== false) return last;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

const toClose: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of toClose.splice(0).reverse()) await f();
});

interface Env {
  c: Controller;
  store: ClusterStore;
  exec: FakeExecutor;
  lb: FakeBalancer;
  journal: Journal;
}

async function setup(o: { store?: ClusterStore; exec?: FakeExecutor; lb?: FakeBalancer; historyLimit?: number } = {}): Promise<Env> {
  const journal = o.exec?.journal ?? new Journal();
  const store = o.store ?? new MemoryClusterStore();
  const exec = o.exec ?? new FakeExecutor(journal);
  const lb = o.lb ?? new FakeBalancer(journal);
  const c = new Controller(store, exec, lb, {
    nodeId: 'node1', log: nullLogger, probe: async () => true, resyncMs: 50,
    ...(o.historyLimit !== undefined ? { historyLimit: o.historyLimit } : {}),
  });
  await c.start();
  toClose.push(() => c.close());
  return { c, store, exec, lb, journal };
}

function spec(name: string, o: { replicas?: number; image?: string; cmd?: string[]; task?: Partial<TaskSpec>; more?: Partial<ServiceSpec> } = {}): ServiceSpec {
  return {
    Name: name,
    TaskTemplate: { ContainerSpec: { Image: o.image ?? 'busybox', ...(o.cmd ? { Command: o.cmd } : {}) }, ...o.task },
    Mode: { Replicated: { Replicas: o.replicas ?? 1 } },
    ...o.more,
  };
}

/** Tasks of the service that are wanted and running, by slot. */
async function running(c: Controller, serviceId: string): Promise<Task[]> {
  return (await c.listTasks())
    .filter((t) => t.ServiceID === serviceId && t.DesiredState === 'running' && t.Status.State === 'running')
    .sort((a, b) => a.Slot - b.Slot);
}

const slotsOf = (ts: Task[]) => ts.map((t) => t.Slot);
const tasksOf = async (c: Controller, sid: string) => (await c.listTasks()).filter((t) => t.ServiceID === sid);
const converged = (c: Controller, sid: string, n: number, image?: string) =>
  until(`${n} running tasks${image ? ` of ${image}` : ''}`, async () => {
    const r = await running(c, sid);
    const all = await tasksOf(c, sid);
    const wanted = all.filter((t) => t.DesiredState === 'running' || t.DesiredState === 'ready');
    return r.length === n && wanted.length === n && (!image || r.every((t) => t.Spec.ContainerSpec.Image === image)) && r;
  });

describe('service controller', () => {
  it('creates one task per replica, slots 1..N, with swarm IDs, running containers and balancer backends', async () => {
    const { c, exec, lb } = await setup();
    const svc = await c.createService(spec('web', { replicas: 3 }));
    assert.match(svc.ID, /^[a-z0-9]{25}$/);
    assert.equal(svc.Spec.EndpointSpec?.Mode, 'vip', 'endpoint mode defaults to vip');
    const ts = await converged(c, svc.ID, 3);
    assert.deepEqual(slotsOf(ts), [1, 2, 3]);
    for (const t of ts) {
      assert.match(t.ID, /^[a-z0-9]{25}$/);
      assert.equal(t.NodeID, 'node1');
      assert.equal(t.ServiceID, svc.ID);
      assert.equal(t.Status.Message, 'started');
      assert.deepEqual(t.Labels, {});
      assert.equal(t.Spec.ContainerSpec.Image, 'busybox');
      const cont = exec.containerOf(t.ID)!;
      assert.ok(cont?.running, 'its container runs');
      assert.equal(t.Status.ContainerStatus?.ContainerID, cont.id);
    }
    await until('3 backends', () => lb.backends('web').length === 3);
    assert.deepEqual(lb.backends('web'), ts.map((t) => t.ID).sort());
    assert.deepEqual(await c.status(svc.ID), { RunningTasks: 3, DesiredTasks: 3, CompletedTasks: 0 });
    assert.equal((await c.getService('web')).ID, svc.ID);
    assert.equal((await c.getService(svc.ID.slice(0, 6))).ID, svc.ID);
    assert.equal((await c.getTask(ts[0]!.ID.slice(0, 8))).ID, ts[0]!.ID);
    await assert.rejects(c.getService('nope'), kind('not-found', /^service nope not found$/));
    await assert.rejects(c.getTask('zzzz'), kind('not-found', /^task zzzz not found$/));
  });

  it('refuses bad input with clear errors and leaves nothing behind', async () => {
    const { c, exec, lb } = await setup();
    await assert.rejects(c.createService(spec('bad name!')), kind('invalid', /invalid name "bad name!"/));
    await assert.rejects(c.createService(spec('x'.repeat(64))), kind('invalid', /63 characters/));
    await assert.rejects(c.createService(spec('neg', { replicas: -1 })), kind('invalid', /replicas/));
    await assert.rejects(c.createService(spec('img', { image: 'nosuch' })), kind('not-found', /No such image: nosuch/));
    await assert.rejects(
      c.createService(spec('p', { more: { EndpointSpec: { Ports: [{ TargetPort: 70000 }] } } })),
      kind('invalid', /target port/),
    );
    await c.createService(spec('one', { more: { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } } }));
    await assert.rejects(c.createService(spec('one')), kind('conflict', /service one already exists/));
    await assert.rejects(
      c.createService(spec('two', { more: { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } } })),
      kind('conflict', /8080/),
    );
    assert.deepEqual((await c.listServices()).map((s) => s.Spec.Name), ['one']);
    await until('one task', async () => (await c.listTasks()).length === 1 && exec.running().length === 1);
    assert.deepEqual([...lb.ports.keys()], ['tcp/8080'], 'the failed create holds no port');
  });

  it('replaces a killed task in its slot and keeps the failed one in history', async () => {
    const { c, exec } = await setup();
    const svc = await c.createService(spec('web', { replicas: 2 }));
    const before = await converged(c, svc.ID, 2);
    const victim = before[1]!;
    exec.kill(victim.Status.ContainerStatus!.ContainerID, 137);
    const after = await until('a replacement in slot 2', async () => {
      const r = await running(c, svc.ID);
      return r.length === 2 && !r.some((t) => t.ID === victim.ID) && r;
    });
    assert.deepEqual(slotsOf(after), [1, 2]);
    assert.equal(after[0]!.ID, before[0]!.ID, 'slot 1 untouched');
    const old = await c.getTask(victim.ID);
    assert.equal(old.Status.State, 'failed');
    assert.equal(old.Status.Err, 'task: non-zero exit (137)');
    assert.equal(old.Status.ContainerStatus?.ExitCode, 137);
    assert.equal(old.DesiredState, 'shutdown');
    assert.equal(old.Slot, 2);
  });

  it('replaces a task whose container was removed behind its back', async () => {
    const { c, exec } = await setup();
    const svc = await c.createService(spec('web'));
    const [t] = await converged(c, svc.ID, 1);
    exec.forceRemove(t!.Status.ContainerStatus!.ContainerID);
    await until('a replacement', async () => (await running(c, svc.ID)).some((x) => x.ID !== t!.ID));
    const old = await c.getTask(t!.ID);
    assert.equal(old.Status.State, 'failed');
    assert.equal(old.Status.Err, 'task: container removed');
  });

  it('a task that cannot start fails (runc error) or is rejected (no image), with the error recorded', async () => {
    const { c, exec } = await setup();
    const svc = await c.createService(spec('br', { image: 'broken', task: { RestartPolicy: { Condition: 'none' } } }));
    const t = await until('the task to fail', async () => (await tasksOf(c, svc.ID)).find((x) => x.Status.State === 'failed'));
    assert.match(t.Status.Err ?? '', /OCI runtime create failed/);
    // nginx can be checked at create; gone by the time the task runs
    const svc2 = await c.createService(spec('gone', { image: 'nginx', task: { RestartPolicy: { Condition: 'none' } } }));
    exec.images.delete('nginx');
    const t2 = await until('the task to be rejected', async () => (await tasksOf(c, svc2.ID)).find((x) => x.Status.State === 'rejected'));
    assert.equal(t2.Status.Err, 'No such image: nginx');
  });

  it('scales 3 → 5 → 1: adds slots 4 and 5, then drains, stops and removes the newest slots (balancer first)', async () => {
    const { c, exec, lb, journal } = await setup();
    lb.applyDelayMs = 20; // the balancer takes a while: the stop must wait for it
    let svc = await c.createService(spec('web', { replicas: 3 }));
    await converged(c, svc.ID, 3);
    await c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 5 }));
    const five = await converged(c, svc.ID, 5);
    assert.deepEqual(slotsOf(five), [1, 2, 3, 4, 5]);
    svc = await c.getService(svc.ID);
    assert.equal(svc.UpdateStatus, undefined, 'a change of replicas is no rolling update');
    await until('5 backends', () => lb.backends('web').length === 5);
    await c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 1 }));
    const one = await converged(c, svc.ID, 1);
    assert.equal(one[0]!.ID, five[0]!.ID, 'slot 1 keeps its task');
    // Removed, as swarm's task reaper does once they have stopped: the tasks and their containers.
    await until('slots 2-5 removed', async () => (await tasksOf(c, svc.ID)).length === 1);
    for (const t of five.slice(1)) {
      await assert.rejects(c.getTask(t.ID), kind('not-found'));
      assert.equal(exec.containerOf(t.ID), undefined);
      assert.ok(journal.index(`remove ${t.ID}`) > journal.index(`stop ${t.ID}`), `task ${t.Slot} was stopped, then removed`);
      // drained: the last balancer state before its stop no longer has it
      const stopAt = journal.index(`stop ${t.ID}`);
      assert.ok(stopAt > 0, `task ${t.Slot} was stopped`);
      const lastApply = journal.entries.slice(0, stopAt).reverse().find((e) => e.startsWith('apply '));
      assert.ok(lastApply && !lastApply.includes(t.ID), `slot ${t.Slot} left the balancer before its stop (${lastApply})`);
    }
    assert.equal(exec.running().length, 1);
  });

  it('scale-down removes the least settled tasks: not running first, then the newest; slot numbers are reused', async () => {
    const { c, exec } = await setup();
    let svc = await c.createService(spec('web', { replicas: 3 }));
    const three = await converged(c, svc.ID, 3);
    // Slot 1's task dies and is replaced: slot 1 now runs the newest task.
    exec.kill(exec.containerOf(three[0]!.ID)!.id, 1);
    const again = await until('slot 1 replaced', async () => (await running(c, svc.ID)).find((t) => t.Slot === 1 && t.ID !== three[0]!.ID));
    svc = await c.getService(svc.ID);
    await c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 2 }));
    await until('slot 1 given up', async () => (await running(c, svc.ID)).length === 2 && (await tasksOf(c, svc.ID)).every((t) => t.Slot !== 1 || t.DesiredState !== 'running'));
    assert.deepEqual(slotsOf(await running(c, svc.ID)), [2, 3], 'the newest task (slot 1) went, the older ones stayed');
    assert.equal(exec.containerOf(again.ID)?.running ?? false, false);
    // Back to 3: the lowest free slot number is taken again.
    svc = await c.getService(svc.ID);
    await c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 3 }));
    assert.deepEqual(slotsOf(await converged(c, svc.ID, 3)), [1, 2, 3]);
  });

  it('scale-down prefers a task that is not running (here: pending, its node drained) to a running one', async () => {
    const { keptSlots } = await import('./controller.js');
    const t = (slot: number, state: Task['Status']['State'], created: string, desired: Task['DesiredState'] = 'running') =>
      ({ ID: `t${slot}${state}`, Slot: slot, DesiredState: desired, CreatedAt: created, Status: { State: state } }) as unknown as Task;
    // slot 1 is the oldest but pending; 2 and 3 run; the newest of those (3) goes next.
    const tasks = [t(1, 'pending', '2026-01-01T00:00:00Z'), t(2, 'running', '2026-01-02T00:00:00Z'), t(3, 'running', '2026-01-03T00:00:00Z')];
    assert.deepEqual([...keptSlots(tasks, 2)].sort(), [2, 3]);
    assert.deepEqual([...keptSlots(tasks, 1)], [2]);
    // A slot whose task is being replaced (desired shutdown, still running) stays taken; one being removed is not free yet.
    const replacing = [t(1, 'running', '2026-01-01T00:00:00Z', 'shutdown'), t(2, 'running', '2026-01-01T00:00:00Z', 'remove')];
    assert.deepEqual([...keptSlots(replacing, 2)].sort(), [1, 3]);
  });

  it('restart policy none: an exited task is not replaced; the slot is complete', async () => {
    const { c } = await setup();
    const svc = await c.createService(spec('once', { cmd: ['exit', '0'], task: { RestartPolicy: { Condition: 'none' } } }));
    const t = await until('the task to complete', async () => (await tasksOf(c, svc.ID)).find((x) => x.Status.State === 'complete' && x.DesiredState === 'complete'));
    assert.equal(t.Status.Message, 'finished');
    await new Promise((r) => setTimeout(r, 200)); // several resync passes
    assert.equal((await tasksOf(c, svc.ID)).length, 1, 'no replacement');
    assert.deepEqual(await c.status(svc.ID), { RunningTasks: 0, DesiredTasks: 1, CompletedTasks: 1 });
  });

  it('restart policy on-failure: exit 0 is done, a failure restarts, up to MaxAttempts', async () => {
    const { c } = await setup();
    const ok = await c.createService(spec('ok', { cmd: ['exit', '0'], task: { RestartPolicy: { Condition: 'on-failure' } } }));
    await until('ok completes', async () => (await tasksOf(c, ok.ID)).some((x) => x.DesiredState === 'complete'));
    const bad = await c.createService(spec('bad', { cmd: ['exit', '3'], task: { RestartPolicy: { Condition: 'on-failure', MaxAttempts: 2, Delay: 1e6 } } }));
    const ts = await until('3 tries then stop', async () => {
      const all = await tasksOf(c, bad.ID);
      return all.length === 3 && all.every((x) => x.Status.State === 'failed') && all.some((x) => x.DesiredState === 'complete') && all;
    });
    assert.ok(ts.every((t) => t.Status.Err === 'task: non-zero exit (3)'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await tasksOf(c, bad.ID)).length, 3, 'no fourth try');
    assert.equal((await tasksOf(c, ok.ID)).length, 1);
  });

  it('a slot failing quickly restarts at once first, then with a growing delay', async () => {
    const { c, store } = await setup();
    const created: Task[] = [];
    store.watch((e) => {
      if (e.kind === 'task' && e.action === 'create') created.push(e.obj as Task);
    });
    const svc = await c.createService(spec('loop', { cmd: ['exit', '1'] }));
    await until('5 tasks', () => created.filter((t) => t.ServiceID === svc.ID).length >= 5, 8000);
    const desired = created.filter((t) => t.ServiceID === svc.ID).slice(0, 5).map((t) => t.DesiredState);
    // the first task, its immediate replacement, then replacements waiting out 100, 200, 400 ms
    assert.deepEqual(desired, ['running', 'running', 'ready', 'ready', 'ready']);
  });

  it('an update with a stale version index is refused ("update out of sequence") and changes nothing', async () => {
    const { c } = await setup();
    const svc = await c.createService(spec('web'));
    await c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 2 }));
    await assert.rejects(c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 4 })), kind('conflict', /^update out of sequence$/));
    assert.equal((await c.getService(svc.ID)).Spec.Mode?.Replicated?.Replicas, 2);
    await assert.rejects(c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('renamed')), kind('invalid', /renaming/));
  });

  it('rolling update stop-first: one slot at a time, old stopped before new started', async () => {
    const { c, journal } = await setup();
    const upd = { UpdateConfig: { Parallelism: 1, Monitor: 20e6, Order: 'stop-first' as const } };
    const svc = await c.createService(spec('web', { replicas: 3, image: 'busybox:v1', more: upd }));
    const old = await converged(c, svc.ID, 3, 'busybox:v1');
    const cur = await c.getService(svc.ID);
    await c.updateService(svc.ID, cur.Version.Index, spec('web', { replicas: 3, image: 'busybox:v2', more: upd }));
    assert.equal((await c.getService(svc.ID)).UpdateStatus?.State, 'updating');
    assert.equal((await c.getService(svc.ID)).UpdateStatus?.Message, 'update in progress');
    const done = await until('update completed', async () => {
      const s = await c.getService(svc.ID);
      return s.UpdateStatus?.State === 'completed' && s;
    });
    assert.equal(done.UpdateStatus?.Message, 'update completed');
    assert.ok(done.UpdateStatus?.StartedAt && done.UpdateStatus.CompletedAt);
    assert.equal(done.PreviousSpec?.TaskTemplate.ContainerSpec.Image, 'busybox:v1');
    const fresh = await converged(c, svc.ID, 3, 'busybox:v2');
    const runOf = (slot: number) => journal.entries.findIndex((e) => e.startsWith('run ') && e.includes(`slot=${slot} image=busybox:v2`));
    for (const t of old) {
      assert.ok(journal.index(`stop ${t.ID}`) < runOf(t.Slot), `slot ${t.Slot}: old stopped before the new one ran`);
    }
    assert.ok(runOf(1) < journal.index(`stop ${old[1]!.ID}`), 'parallelism 1: slot 2 waits for slot 1');
    assert.ok(runOf(2) < journal.index(`stop ${old[2]!.ID}`), 'parallelism 1: slot 3 waits for slot 2');
    assert.deepEqual(slotsOf(fresh), [1, 2, 3]);
  });

  it('rolling update start-first: the new task serves before the old one stops', async () => {
    const { c, journal } = await setup();
    const upd = { UpdateConfig: { Parallelism: 1, Monitor: 20e6, Order: 'start-first' as const } };
    const svc = await c.createService(spec('web', { replicas: 2, image: 'busybox:v1', more: upd }));
    const old = await converged(c, svc.ID, 2, 'busybox:v1');
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 2, image: 'busybox:v2', more: upd }));
    await until('update completed', async () => (await c.getService(svc.ID)).UpdateStatus?.State === 'completed');
    const fresh = await converged(c, svc.ID, 2, 'busybox:v2');
    for (const t of old) {
      const n = fresh.find((x) => x.Slot === t.Slot)!;
      const runAt = journal.index(`run ${n.ID} slot=${t.Slot} image=busybox:v2`);
      const stopAt = journal.index(`stop ${t.ID}`);
      assert.ok(runAt >= 0 && stopAt > runAt, `slot ${t.Slot}: new started (${runAt}) before old stopped (${stopAt})`);
      const servedAt = journal.entries.findIndex((e, i) => i > runAt && e.startsWith('apply ') && e.includes(n.ID));
      assert.ok(servedAt > 0 && servedAt < stopAt, `slot ${t.Slot}: the new task was a backend before the old one stopped`);
    }
  });

  it('a failing update pauses (failure action pause), leaving the other slots alone', async () => {
    const { c } = await setup();
    const upd = { UpdateConfig: { Parallelism: 1, Monitor: 500e6 } };
    const svc = await c.createService(spec('web', { replicas: 3, more: upd }));
    await converged(c, svc.ID, 3);
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 3, cmd: ['exit', '1'], more: upd }));
    const s = await until('update paused', async () => {
      const x = await c.getService(svc.ID);
      return x.UpdateStatus?.State === 'paused' && x;
    });
    assert.match(s.UpdateStatus!.Message, /^update paused due to failure or early termination of task [a-z0-9]{25}$/);
    const r = await running(c, svc.ID);
    assert.deepEqual(slotsOf(r), [2, 3], 'slots 2 and 3 still run the old spec');
    assert.ok(r.every((t) => !t.Spec.ContainerSpec.Command));
  });

  it('a failing update rolls back (failure action rollback) to the previous spec', async () => {
    const { c } = await setup();
    const upd = { UpdateConfig: { Parallelism: 1, Monitor: 500e6, FailureAction: 'rollback' as const }, RollbackConfig: { Monitor: 20e6 } };
    const svc = await c.createService(spec('web', { replicas: 2, image: 'busybox:v1', more: upd }));
    await converged(c, svc.ID, 2);
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 2, image: 'busybox:v2', cmd: ['exit', '1'], more: upd }));
    const s = await until('rollback completed', async () => {
      const x = await c.getService(svc.ID);
      return x.UpdateStatus?.State === 'rollback_completed' && x;
    }, 8000);
    assert.equal(s.UpdateStatus?.Message, 'rollback completed');
    assert.equal(s.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:v1');
    assert.equal(s.PreviousSpec?.TaskTemplate.ContainerSpec.Image, 'busybox:v2');
    await converged(c, svc.ID, 2, 'busybox:v1');
  });

  it('service rollback returns to the previous spec; without one it is refused', async () => {
    const { c } = await setup();
    const upd = { UpdateConfig: { Monitor: 10e6 }, RollbackConfig: { Monitor: 10e6 } };
    const svc = await c.createService(spec('web', { replicas: 2, image: 'busybox:v1', more: upd }));
    await assert.rejects(
      c.updateService(svc.ID, svc.Version.Index, spec('web'), { rollback: true }),
      kind('invalid', new RegExp(`^service ${svc.ID} does not have a previous spec$`)),
    );
    await c.updateService(svc.ID, svc.Version.Index, spec('web', { replicas: 2, image: 'busybox:v2', more: upd }));
    await until('update completed', async () => (await c.getService(svc.ID)).UpdateStatus?.State === 'completed');
    await converged(c, svc.ID, 2, 'busybox:v2');
    const cur = await c.getService(svc.ID);
    await c.updateService(svc.ID, cur.Version.Index, cur.Spec, { rollback: true });
    const started = await c.getService(svc.ID);
    assert.equal(started.UpdateStatus?.State, 'rollback_started');
    const s = await until('rollback completed', async () => {
      const x = await c.getService(svc.ID);
      return x.UpdateStatus?.State === 'rollback_completed' && x;
    });
    assert.equal(s.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:v1');
    await converged(c, svc.ID, 2, 'busybox:v1');
  });

  it('a new controller over the same store re-adopts running tasks, replaces dead ones, makes no duplicates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-controller-'));
    toClose.push(() => rm(dir, { recursive: true, force: true }));
    const journal = new Journal();
    const exec = new FakeExecutor(journal);
    const lb1 = new FakeBalancer(journal);
    const db1 = openDb(join(dir, 'pier.db'), []);
    const a = await setup({ store: new SqliteClusterStore(db1), exec, lb: lb1 });
    const svc = await a.c.createService(spec('web', { replicas: 3, more: { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } } }));
    const before = await converged(a.c, svc.ID, 3);
    await a.c.close();
    db1.close();
    // while the daemon is down: one task's process dies, another's container is removed
    exec.kill(before[0]!.Status.ContainerStatus!.ContainerID, 1);
    exec.forceRemove(before[1]!.Status.ContainerStatus!.ContainerID);
    const runsBefore = journal.entries.filter((e) => e.startsWith('run ')).length;

    const db2 = openDb(join(dir, 'pier.db'), []);
    toClose.push(async () => void db2.close());
    const lb2 = new FakeBalancer(journal);
    const b = await setup({ store: new SqliteClusterStore(db2), exec, lb: lb2 });
    const after = await converged(b.c, svc.ID, 3);
    assert.equal(after.find((t) => t.Slot === 3)!.ID, before[2]!.ID, 'the surviving task is adopted, not replaced');
    assert.equal((await b.c.getTask(before[0]!.ID)).Status.State, 'failed');
    assert.equal((await b.c.getTask(before[1]!.ID)).Status.Err, 'task: container removed');
    const runs = journal.entries.filter((e) => e.startsWith('run ')).length - runsBefore;
    assert.equal(runs, 2, 'exactly the two dead slots were started again');
    assert.equal(exec.running().length, 3);
    assert.deepEqual([...lb2.ports.entries()], [['tcp/8080', svc.ID]], 'the published port is held again');
    await until('3 backends', () => lb2.backends('web').length === 3);
  });

  it('removing a service during an update cancels it and leaves no tasks or containers', async () => {
    const { c, exec, lb } = await setup();
    const upd = { UpdateConfig: { Parallelism: 1, Delay: 60e9, Monitor: 10e6 } };
    const svc = await c.createService(spec('web', { replicas: 3, image: 'busybox:v1', more: { ...upd, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8081 }] } } }));
    await converged(c, svc.ID, 3);
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 3, image: 'busybox:v2', more: { ...upd, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8081 }] } } }));
    await until('the first slot updated', async () => (await running(c, svc.ID)).some((t) => t.Spec.ContainerSpec.Image === 'busybox:v2'));
    assert.equal((await c.getService(svc.ID)).UpdateStatus?.State, 'updating', 'still updating (60 s between batches)');
    await c.removeService('web');
    await assert.rejects(c.getService(svc.ID), kind('not-found'));
    assert.deepEqual(await c.listTasks(), []);
    assert.equal(exec.containers.size, 0, 'every task container removed');
    assert.equal(lb.ports.size, 0, 'ports released');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await c.listTasks(), [], 'nothing comes back');
    assert.equal(exec.containers.size, 0);
    assert.equal(lb.last().length, 0, 'the balancer has no service left');
  });

  it('keeps at most historyLimit ended tasks per slot, removing older ones with their containers', async () => {
    const { c, exec } = await setup({ historyLimit: 2 });
    const svc = await c.createService(spec('loop', { cmd: ['exit', '1'], task: { RestartPolicy: { Delay: 1e6 } } }));
    await until('several restarts', () => exec.journal.entries.filter((e) => e.startsWith('remove ')).length >= 3);
    const ended = (await tasksOf(c, svc.ID)).filter((t) => t.DesiredState === 'shutdown');
    assert.ok(ended.length <= 2, `at most 2 ended tasks kept, got ${ended.length}`);
    for (const [, cont] of exec.containers) assert.ok((await tasksOf(c, svc.ID)).some((t) => t.ID === cont.taskId), 'no container without its task');
  });

  it('an unhealthy or starting task gets no connections; an unhealthy one is replaced', async () => {
    const exec = new FakeExecutor();
    exec.initialHealth = 'starting';
    const { c, lb } = await setup({ exec });
    const svc = await c.createService(spec('web'));
    const t = await until('a container', async () => (await tasksOf(c, svc.ID)).find((x) => x.Status.ContainerStatus?.ContainerID));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await c.getTask(t.ID)).Status.State, 'starting', 'health starting: the task is starting, as in swarm');
    assert.deepEqual(lb.backends('web'), [], 'starting: not a backend');
    const cid = t.Status.ContainerStatus!.ContainerID;
    exec.setHealth(cid, 'healthy');
    await until('a backend once healthy', () => lb.backends('web').length === 1);
    assert.equal((await c.getTask(t.ID)).Status.State, 'running');
    exec.setHealth(cid, 'unhealthy');
    await until('replaced', async () => (await c.getTask(t.ID)).Status.Err === 'task: unhealthy container');
    await until('a new task', async () => (await tasksOf(c, svc.ID)).some((x) => x.ID !== t.ID && x.Status.ContainerStatus));
    assert.deepEqual(lb.backends('web'), [], 'unhealthy: out of the balancer');
  });

  it('a task leaving the balancer keeps its process until its connections are done (drain), then stops', async () => {
    const journal = new Journal();
    const exec = new FakeExecutor(journal);
    const lb = new FakeBalancer(journal);
    let open = 0;
    const c = new Controller(new MemoryClusterStore(), exec, lb, {
      nodeId: 'n', log: nullLogger, probe: async () => true, resyncMs: 50,
      connections: async () => {
        journal.push(`connections ${open}`);
        const n = open;
        if (open > 0) open--;
        return n;
      },
    });
    await c.start();
    toClose.push(() => c.close());
    const svc = await c.createService(spec('web', { replicas: 2, more: { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8095 }] } } }));
    const two = await converged(c, svc.ID, 2);
    await until('2 backends', () => lb.backends('web').length === 2);
    open = 3; // three connections in flight, one finishing per look
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 1, more: { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8095 }] } } }));
    await until('slot 2 stopped', () => journal.index(`stop ${two[1]!.ID}`) >= 0);
    const stopAt = journal.index(`stop ${two[1]!.ID}`);
    const looks = journal.entries.slice(0, stopAt).filter((e) => e.startsWith('connections '));
    assert.deepEqual(looks, ['connections 3', 'connections 2', 'connections 1', 'connections 0'], 'looked until none were left, then stopped');
  });

  it("the drain counts the host's tracked connections DNATed to the task (a SYN on its way) as its own", async () => {
    const { countConntrack } = await import('./controller.js');
    const text = [
      'ipv4     2 tcp      6 118 SYN_SENT src=10.99.0.2 dst=10.99.0.1 sport=40000 dport=31000 [UNREPLIED] src=172.18.0.3 dst=10.99.0.2 sport=80 dport=40000 mark=0 zone=0 use=2',
      'ipv4     2 tcp      6 431999 ESTABLISHED src=10.99.0.2 dst=10.99.0.1 sport=40002 dport=31000 src=172.18.0.3 dst=10.99.0.2 sport=80 dport=40002 [ASSURED] mark=0 zone=0 use=2',
      'ipv4     2 tcp      6 110 TIME_WAIT src=10.99.0.2 dst=10.99.0.1 sport=40004 dport=31000 src=172.18.0.3 dst=10.99.0.2 sport=80 dport=40004 [ASSURED] mark=0 zone=0 use=2',
      'ipv4     2 tcp      6 118 SYN_SENT src=10.99.0.2 dst=10.99.0.1 sport=40006 dport=31000 [UNREPLIED] src=172.18.0.4 dst=10.99.0.2 sport=80 dport=40006 mark=0 zone=0 use=2',
      'ipv4     2 udp      17 20 src=10.99.0.2 dst=172.18.0.3 sport=5353 dport=80 [UNREPLIED] src=172.18.0.3 dst=10.99.0.2 sport=80 dport=5353 mark=0 zone=0 use=2',
      'ipv4     2 tcp      6 118 SYN_SENT src=172.18.0.3 dst=10.0.0.9 sport=80 dport=80 [UNREPLIED] src=10.0.0.9 dst=172.18.0.3 sport=80 dport=80 mark=0 zone=0 use=2',
    ].join('\n');
    assert.equal(countConntrack(text, ['172.18.0.3'], [80]), 2, 'the SYN on its way and the established one; not TIME_WAIT, not UDP, not another backend, not its own outgoing one');
    assert.equal(countConntrack(text, ['172.18.0.3'], [8080]), 0);
    assert.equal(countConntrack(text, [], [80]), 0);
  });

  it('records the task states in the order swarm does, with messages', async () => {
    const { c, store } = await setup();
    const seen: string[] = [];
    store.watch((e) => {
      if (e.kind === 'task') seen.push(`${(e.obj as Task).Status.State}:${(e.obj as Task).Status.Message}`);
    });
    const svc = await c.createService(spec('web'));
    await converged(c, svc.ID, 1);
    assert.deepEqual([...new Set(seen)], [
      'new:created', 'pending:pending task scheduling', 'assigned:scheduler assigned task to node', 'accepted:accepted',
      'preparing:preparing', 'starting:starting', 'running:started',
    ]);
  });

  it('a global service runs one task on the node (slot 0)', async () => {
    const { c } = await setup();
    const svc = await c.createService({ Name: 'g', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Global: {} } });
    const [t] = await converged(c, svc.ID, 1);
    assert.equal(t!.Slot, 0);
    assert.equal(t!.NodeID, 'node1');
    await assert.rejects(
      c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('g', { replicas: 2 })),
      kind('invalid', /mode change/),
    );
  });

  it('an update arriving during an update carries on toward the newest spec', async () => {
    const { c } = await setup();
    const slow = { UpdateConfig: { Parallelism: 1, Delay: 60e9, Monitor: 10e6 } };
    const fast = { UpdateConfig: { Parallelism: 0, Monitor: 10e6 } };
    const svc = await c.createService(spec('web', { replicas: 3, image: 'busybox:v1', more: slow }));
    await converged(c, svc.ID, 3);
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 3, image: 'busybox:v2', more: slow }));
    await until('one slot on v2', async () => (await running(c, svc.ID)).some((t) => t.Spec.ContainerSpec.Image === 'busybox:v2'));
    await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 3, image: 'nginx', more: fast }));
    const s = await until('update completed', async () => {
      const x = await c.getService(svc.ID);
      return x.UpdateStatus?.State === 'completed' && x;
    });
    assert.equal(s.PreviousSpec?.TaskTemplate.ContainerSpec.Image, 'busybox:v2');
    await converged(c, svc.ID, 3, 'nginx');
  });

  it('a task whose ports do not accept connections yet is no backend (readiness gate)', async () => {
    const exec = new FakeExecutor();
    let listening = false;
    const journal = exec.journal;
    const lb = new FakeBalancer(journal);
    const c = new Controller(new MemoryClusterStore(), exec, lb, { nodeId: 'n', log: nullLogger, probe: async () => listening, resyncMs: 50 });
    await c.start();
    toClose.push(() => c.close());
    const svc = await c.createService(spec('web', { more: { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8090 }] } } }));
    await converged(c, svc.ID, 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(lb.backends('web'), []);
    listening = true;
    await until('a backend once listening', () => lb.backends('web').length === 1);
    assert.equal(lb.last()[0]!.ports[0]!.PublishedPort, 8090);
  });
  describe('placement: node availability and constraints', () => {
    const node = (spec: Partial<Node['Spec']> = {}): Node => ({
      ID: 'node1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
      Spec: { Labels: {}, Role: 'manager', Availability: 'active', ...spec },
      Description: { Hostname: 'box', Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 2e9, MemoryBytes: 1 << 30 }, Engine: { EngineVersion: '1', Plugins: [] } },
      Status: { State: 'ready', Addr: '10.0.0.1' },
    });
    const setNode = async (store: ClusterStore, spec: Partial<Node['Spec']>) => {
      const cur = await store.get('node', 'node1');
      await store.put('node', { ...cur!, Spec: { ...cur!.Spec, ...spec } }, { expect: cur!.Version.Index });
    };
    const pending = (c: Controller, sid: string, n: number, err: RegExp) =>
      until(`${n} pending tasks (${err})`, async () => {
        const ts = (await tasksOf(c, sid)).filter((t) => t.DesiredState === 'running' && t.Status.State === 'pending');
        return ts.length === n && ts.every((t) => err.test(t.Status.Err ?? '') && t.NodeID === '') && ts;
      });

    it('drain shuts the tasks down and leaves their slots pending ("no suitable node"); active runs them again', async () => {
      const store = new MemoryClusterStore();
      await store.put('node', node(), { expect: 0 });
      const { c, exec } = await setup({ store });
      const svc = await c.createService(spec('web', { replicas: 2 }));
      const before = await converged(c, svc.ID, 2);
      assert.ok(before.every((t) => t.NodeID === 'node1'), 'assigned tasks carry the node');
      await setNode(store, { Availability: 'drain' });
      await pending(c, svc.ID, 2, /^no suitable node \(1 node not available for new tasks\)$/);
      await until('no container running', () => exec.running().length === 0);
      const old = (await tasksOf(c, svc.ID)).filter((t) => before.some((b) => b.ID === t.ID));
      assert.deepEqual(old.map((t) => [t.DesiredState, t.Status.State]), [['shutdown', 'shutdown'], ['shutdown', 'shutdown']]);
      await setNode(store, { Availability: 'active' });
      const after = await converged(c, svc.ID, 2);
      assert.deepEqual(slotsOf(after), [1, 2]);
      assert.ok(after.every((t) => !t.Status.Err && t.NodeID === 'node1'), 'the error goes once scheduled');
    });

    it('pause keeps the running tasks and holds new ones pending', async () => {
      const store = new MemoryClusterStore();
      await store.put('node', node(), { expect: 0 });
      const { c } = await setup({ store });
      const svc = await c.createService(spec('web', { replicas: 1 }));
      const [first] = await converged(c, svc.ID, 1);
      await setNode(store, { Availability: 'pause' });
      await c.updateService(svc.ID, (await c.getService(svc.ID)).Version.Index, spec('web', { replicas: 2 }));
      await pending(c, svc.ID, 1, /1 node not available for new tasks/);
      assert.equal((await running(c, svc.ID))[0]!.ID, first!.ID, 'the running task stays');
      await setNode(store, { Availability: 'active' });
      await converged(c, svc.ID, 2);
    });

    it('a task waits for a node that meets its constraints, and leaves a node that stops meeting them', async () => {
      const store = new MemoryClusterStore();
      await store.put('node', node(), { expect: 0 });
      const { c, exec } = await setup({ store });
      await assert.rejects(c.createService(spec('bad', { task: { Placement: { Constraints: ['node.labels.zone>a'] } } })), kind('invalid', /constraint expected one operator/));
      const svc = await c.createService(spec('web', { replicas: 2, task: { Placement: { Constraints: ['node.labels.zone == a', 'node.role!=worker'] } } }));
      await pending(c, svc.ID, 2, /^no suitable node \(scheduling constraints not satisfied on 1 node\)$/);
      assert.equal(exec.running().length, 0);
      await setNode(store, { Labels: { zone: 'A' } }); // values compare ignoring case, as in swarm
      await converged(c, svc.ID, 2);
      await setNode(store, { Labels: { zone: 'b' } });
      await pending(c, svc.ID, 2, /scheduling constraints not satisfied/);
      await until('no container running', () => exec.running().length === 0);
    });

    it('a global service has no task on a drained node, and one again when it is active', async () => {
      const store = new MemoryClusterStore();
      await store.put('node', node(), { expect: 0 });
      const { c, exec } = await setup({ store });
      const svc = await c.createService({ Name: 'g', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Global: {} } });
      await converged(c, svc.ID, 1);
      await setNode(store, { Availability: 'drain' });
      await until('the global task shut down', async () => (await tasksOf(c, svc.ID)).every((t) => t.Status.State === 'shutdown') && exec.running().length === 0);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal((await tasksOf(c, svc.ID)).filter((t) => t.DesiredState === 'running').length, 0, 'no pending task for a global service');
      await setNode(store, { Availability: 'active' });
      await converged(c, svc.ID, 1);
    });
  });
});
