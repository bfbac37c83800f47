/**
 * What every ClusterStore implementation shares: the compare-and-swap check
 * and revision bump of a batch of ops (so the stores agree on the rules), and
 * watch delivery in commit order.
 */
import { conflict, invalid } from '../base/errdefs.js';
import type { ClusterStore, Kind, Kinds, Op, PutOptions, StoreEvent } from './cluster-store.js';

/** The message swarm gives for a stale Version.Index, which the docker CLI shows as is. */
export const OUT_OF_SEQUENCE = 'update out of sequence';

/**
 * Validates `ops` against `current` (the committed state) and works out what
 * to write: each put gets the next revision and UpdatedAt (CreatedAt on
 * create when missing). Throws, applying nothing, when any `expect` fails.
 * Ops see the effect of earlier ops of the same batch only for lookups of
 * the same object (a put then a delete of one ID in one txn is allowed).
 */
export function applyOps(
  ops: Op[],
  revision: number,
  current: (kind: Kind, id: string) => Kinds[Kind] | undefined,
): { events: StoreEvent[]; stored: Kinds[Kind][]; revision: number } {
  const pending = new Map<string, Kinds[Kind] | null>();
  const lookup = (kind: Kind, id: string) => {
    const k = `${kind}\0${id}`;
    return pending.has(k) ? (pending.get(k) ?? undefined) : current(kind, id);
  };
  // Every `expect` is checked against the state before the batch, as etcd's txn compares do.
  for (const op of ops) {
    const id = op.op === 'put' ? op.obj?.ID : op.id;
    if (!id || typeof id !== 'string') throw invalid(`cluster store: ${op.kind} object without an ID`);
    if (op.expect === undefined) continue;
    const have = current(op.kind, id);
    const rev = have ? have.Version.Index : 0;
    if (rev !== op.expect) throw conflict(OUT_OF_SEQUENCE);
  }
  const events: StoreEvent[] = [];
  const stored: Kinds[Kind][] = [];
  const now = new Date().toISOString();
  for (const op of ops) {
    if (op.op === 'put') {
      const prev = lookup(op.kind, op.obj.ID);
      const obj = structuredClone(op.obj) as Kinds[Kind];
      obj.Version = { Index: ++revision };
      obj.UpdatedAt = now;
      if (!obj.CreatedAt) obj.CreatedAt = prev?.CreatedAt ?? now;
      pending.set(`${op.kind}\0${obj.ID}`, obj);
      events.push({ kind: op.kind, action: prev ? 'update' : 'create', obj });
      stored.push(obj);
    } else {
      const prev = lookup(op.kind, op.id);
      if (!prev) continue;
      pending.set(`${op.kind}\0${op.id}`, null);
      events.push({ kind: op.kind, action: 'delete', obj: prev });
    }
  }
  return { events, stored, revision };
}

/**
 * Watch listeners. Events go out in commit order even when a listener writes
 * to the store from inside its callback: those writes' events queue behind
 * the ones being delivered. A throwing listener does not stop the others.
 */
export class Watchers {
  private readonly fns = new Set<(e: StoreEvent) => void>();
  private readonly queue: StoreEvent[] = [];
  private delivering = false;

  add(fn: (e: StoreEvent) => void): () => void {
    this.fns.add(fn);
    return () => void this.fns.delete(fn);
  }

  clear(): void {
    this.fns.clear();
  }

  emit(events: StoreEvent[]): void {
    this.queue.push(...events);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let e = this.queue.shift(); e; e = this.queue.shift()) {
        for (const fn of [...this.fns]) {
          try {
            fn(structuredClone(e));
          } catch {
            // a listener's bug must not break the store or starve the other listeners
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

/**
 * The part of a ClusterStore that is the same whatever holds the documents:
 * put, delete and txn are batches for `commit`, watch and close. A store
 * supplies get, list and commit (check with applyOps, write all or nothing,
 * then `watchers.emit`).
 */
export abstract class DocumentStore implements ClusterStore {
  protected readonly watchers = new Watchers();
  protected closed = false;

  abstract get<K extends Kind>(kind: K, id: string): Promise<Kinds[K] | undefined>;
  abstract list<K extends Kind>(kind: K): Promise<Kinds[K][]>;
  /** Checks every op, then applies them all; returns the stored objects of the puts, in order. */
  protected abstract commit(ops: Op[]): Kinds[Kind][];

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

  protected checkOpen(): void {
    if (this.closed) throw new Error('cluster store is closed');
  }
}
