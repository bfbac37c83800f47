/**
 * ClusterStore: where a swarm's objects live. It is the seam to the store a
 * cluster of several machines will share (etcd, in a later issue): the
 * controller only reads, compare-and-swaps and watches through it, and keeps
 * no state a restart would lose. Pier builds no consensus of its own.
 *
 * Vocabulary (etcd's):
 *   - an object is one JSON document under (kind, ID); `Version.Index` is its
 *     revision, bumped by the store on every put;
 *   - `put(kind, obj, { expect })` is a compare-and-swap: it fails with a
 *     conflict ("update out of sequence") when the stored revision is not
 *     `expect` (0 = must not exist yet);
 *   - `txn` applies several puts and deletes atomically, or none of them;
 *   - `watch` reports every committed change after it was called, in commit
 *     order, on this process (a remote store delivers its own watch stream).
 *
 * Lifecycle: open → (get | list | put | delete | txn | watch)* → close.
 * Example:
 *   const s = await store.get('service', id);
 *   await store.put('service', { ...s, Spec: next }, { expect: s.Version.Index });
 */
import type { Node, Service, Swarm, Task } from './types.js';

export interface Kinds {
  swarm: Swarm;
  node: Node;
  service: Service;
  task: Task;
}
export type Kind = keyof Kinds;

export interface PutOptions {
  /** The revision the caller read; 0 = create. Omitted = unconditional. */
  expect?: number;
}

export type Op =
  | { op: 'put'; kind: Kind; obj: Kinds[Kind]; expect?: number }
  | { op: 'delete'; kind: Kind; id: string; expect?: number };

export interface StoreEvent<K extends Kind = Kind> {
  kind: K;
  action: 'create' | 'update' | 'delete';
  /** The object after the change (before it, for a delete). */
  obj: Kinds[K];
}

export interface ClusterStore {
  get<K extends Kind>(kind: K, id: string): Promise<Kinds[K] | undefined>;
  list<K extends Kind>(kind: K): Promise<Kinds[K][]>;
  /** Stores the object with its revision bumped and UpdatedAt set; returns what was stored. */
  put<K extends Kind>(kind: K, obj: Kinds[K], o?: PutOptions): Promise<Kinds[K]>;
  /** Removes it; a missing object is not an error. */
  delete(kind: Kind, id: string, o?: PutOptions): Promise<void>;
  /** All or nothing: each op's `expect` is checked before any is applied. */
  txn(ops: Op[]): Promise<void>;
  watch(fn: (e: StoreEvent) => void): () => void;
  close(): Promise<void>;
}
