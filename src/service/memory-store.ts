/**
 * MemoryClusterStore: the ClusterStore in a Map, for unit tests and as the
 * reference behaviour (it runs the same conformance suite as the SQLite one).
 * Objects are deep-copied in and out, so a caller's later edits never reach
 * the store without a put. Revisions come from one store-wide counter, as in
 * etcd, so an object deleted and created again never reuses an old revision.
 */
import type { Kind, Kinds, Op } from './cluster-store.js';
import { applyOps, DocumentStore } from './store-common.js';

export class MemoryClusterStore extends DocumentStore {
  private readonly objs = new Map<Kind, Map<string, Kinds[Kind]>>();
  private revision = 0;

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

  protected commit(ops: Op[]): Kinds[Kind][] {
    this.checkOpen();
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
