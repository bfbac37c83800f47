/**
 * Conformance suite every ClusterStore passes: revisions and compare-and-swap
 * (create with expect 0, update with the revision read, a stale one is a
 * conflict "update out of sequence"), all-or-nothing txns, deletes, watch
 * delivery in commit order, and (when `reopen` is given) that everything
 * survives closing and opening the store again.
 *
 *   clusterStoreSuite('sqlite', async (dir) => new SqliteClusterStore(openDb(join(dir, 'pier.db'), [])));
 *
 * `open(dir)` is called again on the same directory to check persistence
 * (`persistent: true`). Each test has its own directory, removed afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import type { ClusterStore, StoreEvent } from './cluster-store.js';
import type { Service, Task } from './types.js';

export interface ClusterStoreSuiteOpts {
  /** The store keeps its objects across close and open on the same directory. */
  persistent?: boolean;
}

const outOfSequence = (e: unknown) => e instanceof EngineError && e.kind === 'conflict' && e.message === 'update out of sequence';

export function service(id: string, name = id): Service {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: { Spec: {} },
  };
}

export function task(id: string, serviceId: string, slot: number): Task {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: serviceId,
    Slot: slot,
    NodeID: 'node',
    Status: { Timestamp: new Date().toISOString(), State: 'new', Message: 'created' },
    DesiredState: 'running',
  };
}

export function clusterStoreSuite(name: string, open: (dir: string) => Promise<ClusterStore>, o: ClusterStoreSuiteOpts = {}): void {
  describe(`${name} cluster store conformance`, () => {
    const test = (title: string, fn: (s: ClusterStore, dir: string) => Promise<void>, skip: string | false = false): void => {
      it(title, { skip }, async () => {
        const dir = await mkdtemp(join(tmpdir(), `pier-cluster-${name.replace(/[^a-z0-9]+/gi, '-')}-`));
        const s = await open(dir);
        try {
          await fn(s, dir);
        } finally {
          await s.close().catch(() => undefined);
          await rm(dir, { recursive: true, force: true });
        }
      });
    };

    test('put creates with a revision and timestamps; get and list return copies', async (s) => {
      assert.equal(await s.get('service', 'a'), undefined);
      const a = await s.put('service', service('a'), { expect: 0 });
      assert.ok(a.Version.Index > 0, 'a revision is given');
      assert.ok(a.CreatedAt && a.UpdatedAt, 'timestamps are set');
      const got = await s.get('service', 'a');
      assert.deepEqual(got, a);
      got!.Spec.Name = 'changed';
      assert.equal((await s.get('service', 'a'))!.Spec.Name, 'a', 'editing a returned object does not change the store');
      await s.put('task', task('t1', 'a', 1));
      assert.deepEqual((await s.list('service')).map((x) => x.ID), ['a']);
      assert.deepEqual((await s.list('task')).map((x) => x.ID), ['t1'], 'kinds are separate');
      assert.equal(await s.get('task', 'a'), undefined);
    });

    test('compare-and-swap: the revision read updates, a stale one is "update out of sequence"', async (s) => {
      const a1 = await s.put('service', service('a'), { expect: 0 });
      await assert.rejects(s.put('service', service('a'), { expect: 0 }), outOfSequence, 'create of an existing object');
      const a2 = await s.put('service', { ...a1, Spec: { ...a1.Spec, Labels: { v: '2' } } }, { expect: a1.Version.Index });
      assert.ok(a2.Version.Index > a1.Version.Index, 'revision grows');
      assert.equal(a2.CreatedAt, a1.CreatedAt, 'CreatedAt is kept');
      await assert.rejects(s.put('service', { ...a1, Spec: { ...a1.Spec, Labels: { v: 'stale' } } }, { expect: a1.Version.Index }), outOfSequence);
      assert.deepEqual((await s.get('service', 'a'))!.Spec.Labels, { v: '2' }, 'the stale write changed nothing');
      await assert.rejects(s.put('service', service('b'), { expect: 7 }), outOfSequence, 'expecting a revision of a missing object');
      const a3 = await s.put('service', { ...a2, Spec: { ...a2.Spec, Labels: { v: '3' } } });
      assert.ok(a3.Version.Index > a2.Version.Index, 'an unconditional put bumps the revision too');
    });

    test('delete removes; a missing object is not an error; a stale expect is', async (s) => {
      const a = await s.put('service', service('a'));
      await s.delete('service', 'nope');
      await assert.rejects(s.delete('service', 'a', { expect: a.Version.Index - 1 }), outOfSequence);
      assert.ok(await s.get('service', 'a'), 'still there after the failed delete');
      await s.delete('service', 'a', { expect: a.Version.Index });
      assert.equal(await s.get('service', 'a'), undefined);
      assert.deepEqual(await s.list('service'), []);
      const again = await s.put('service', service('a'), { expect: 0 });
      assert.ok(again.Version.Index > a.Version.Index, 'a re-created object does not reuse an old revision');
    });

    test('txn applies all ops or none', async (s) => {
      const a = await s.put('service', service('a'));
      await s.put('task', task('old', 'a', 1));
      await assert.rejects(
        s.txn([
          { op: 'put', kind: 'task', obj: task('t1', 'a', 1), expect: 0 },
          { op: 'delete', kind: 'task', id: 'old' },
          { op: 'put', kind: 'service', obj: { ...a, Spec: { ...a.Spec, Labels: { x: '1' } } }, expect: a.Version.Index + 100 },
        ]),
        outOfSequence,
      );
      assert.equal(await s.get('task', 't1'), undefined, 'the first put was not applied');
      assert.ok(await s.get('task', 'old'), 'the delete was not applied');
      assert.equal((await s.get('service', 'a'))!.Spec.Labels, undefined);
      await s.txn([
        { op: 'put', kind: 'task', obj: task('t1', 'a', 1), expect: 0 },
        { op: 'delete', kind: 'task', id: 'old' },
        { op: 'put', kind: 'service', obj: { ...a, Spec: { ...a.Spec, Labels: { x: '1' } } }, expect: a.Version.Index },
      ]);
      assert.ok(await s.get('task', 't1'));
      assert.equal(await s.get('task', 'old'), undefined);
      assert.deepEqual((await s.get('service', 'a'))!.Spec.Labels, { x: '1' });
    });

    test('watch reports every committed change in commit order, and stops when cancelled', async (s) => {
      const seen: StoreEvent[] = [];
      const stop = s.watch((e) => seen.push(e));
      const a = await s.put('service', service('a'), { expect: 0 });
      await assert.rejects(s.put('service', service('a'), { expect: 0 }));
      await s.txn([
        { op: 'put', kind: 'task', obj: task('t1', 'a', 1) },
        { op: 'put', kind: 'task', obj: task('t2', 'a', 2) },
      ]);
      await s.put('service', { ...a, Spec: { ...a.Spec, Labels: { y: '1' } } });
      await s.delete('task', 't1');
      await s.delete('task', 'missing');
      stop();
      await s.delete('task', 't2');
      assert.deepEqual(
        seen.map((e) => `${e.action} ${e.kind} ${e.obj.ID}`),
        ['create service a', 'create task t1', 'create task t2', 'update service a', 'delete task t1'],
      );
      const revs = seen.slice(0, 4).map((e) => e.obj.Version.Index);
      assert.deepEqual(revs, [...revs].sort((x, y) => x - y), 'revisions grow in commit order');
      assert.deepEqual((seen[3]!.obj as Service).Spec.Labels, { y: '1' }, 'the event carries the object after the change');
      assert.equal(seen[4]!.obj.ID, 't1', 'a delete carries the object before it');
    });

    test('a write made from inside a watch callback is reported after the event being delivered', async (s) => {
      const seen: string[] = [];
      s.watch((e) => {
        seen.push(`1:${e.obj.ID}`);
        if (e.obj.ID === 'a') void s.put('task', task('from-watch', 'a', 1));
      });
      s.watch((e) => seen.push(`2:${e.obj.ID}`));
      await s.put('service', service('a'));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, ['1:a', '2:a', '1:from-watch', '2:from-watch']);
    });

    test('objects and revisions survive closing and reopening', async (s, dir) => {
      const a = await s.put('service', service('a'));
      await s.put('task', task('t1', 'a', 1));
      await s.close();
      const s2 = await open(dir);
      try {
        assert.deepEqual(await s2.get('service', 'a'), a);
        assert.deepEqual((await s2.list('task')).map((t) => t.ID), ['t1']);
        const b = await s2.put('service', service('b'));
        assert.ok(b.Version.Index > a.Version.Index, 'the revision counter carries on');
        await assert.rejects(s2.put('service', service('a'), { expect: 0 }), outOfSequence);
      } finally {
        await s2.close();
      }
    }, o.persistent ? false : 'the store is not persistent');
  });
}
