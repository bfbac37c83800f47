/**
 * MemoryClusterStore: the ClusterStore in a Map, for unit tests and as the
 * reference behaviour (it runs the same conformance suite as the SQLite one).
 * Objects are deep-copied in and out, so a caller's later edits never reach
 * the store without a put. Revisions come from one store-wide counter, as in
 * etcd, so an object deleted and created again never reuses an old revision.
 */
import type { ClusterStore, Kind, Kinds, Op, PutOptions, StoreEvent } from './cluster-store.js';
import { applyOps, Watchers } from './store-common.js';

export class MemoryClusterStore implements ClusterStore {
  private readonly objs = new Map<Kind, Map<string, Kinds[Kind]>>();
  private revision = 0;
  private readonly watchers = new Watchers();
  private closed = false;

  private table(kind: Kind): Map<string, Kinds[Kind]> {
    let t = this.objs.get(kind);
    if (!t) this.objs.set(kind, (t = new Map()));
    return t;
  }

  async get<K extends Kind>(kind: K, id: string): Promise<Kinds[K] | undefined> {
    const o = this.table(kind).get(id);
    return o ? (structuredClone(o) as Kinds[K]) : undefined;
  }

  async list<K extends Kind>(kind: K): Promise<Kinds[K][]> {
    return [...this.table(kind).values()].map((o) => structuredClone(o) as Kinds[K]);
  }

  async put<K extends Kind>(kind: K, obj: Kinds[K], o: PutOptions = {}): Promise<Kinds[K]> {
    const [stored] = this.commit([{ op: 'put', kind, obj, ...(o.expect !== undefined ? { expect: o.expect } : {}) }]);
    return structuredClone(stored) as Kinds[K];
  }

  async delete(kind: Kind, id: string, o: PutOptions = {}): Promise<void> {
    this.commit([{ op: 'delete', kind, id, ...(o.expect !== undefined ? { expect: o.expect } : {}) }]);
  }

  async txn(ops: Op[]): Promise<void> {
    this.commit(ops);
  }

  watch(fn: (e: StoreEvent) => void): () => void {
    return this.watchers.add(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
  }

  /** Checks every op, then applies them all; returns the stored objects of the puts, in order. */
  private commit(ops: Op[]): Kinds[Kind][] {
    if (this.closed) throw new Error('cluster store is closed');
    const { events, stored, revision } = applyOps(ops, this.revision, (kind, id) => this.table(kind).get(id));
    this.revision = revision;
    for (const e of events) {
      if (e.action === 'delete') this.table(e.kind).delete(e.obj.ID);
      else this.table(e.kind).set(e.obj.ID, e.obj);
    }
    this.watchers.emit(events);
    return stored;
  }
}
