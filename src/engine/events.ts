/**
 * Events: what happened to objects, in Docker's event shape. Recent events are
 * kept in a ring (Docker keeps 256 too) so that `since` can replay them;
 * subscribers get new ones as they happen.
 */
import { nowNs } from '../base/clock.js';

export type EventType = 'image' | 'container' | 'network' | 'volume' | 'daemon' | 'service' | 'node' | 'builder';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number; // seconds
  timeNano: number;
  // Deprecated fields older clients read; filled for images and containers like Docker.
  status?: string;
  id?: string;
  from?: string;
}

export interface EventFilter {
  since?: number; // ns
  until?: number; // ns
  filters?: Record<string, string[]>;
}

const RING = 1024;

export class EventBus {
  private readonly ring: EngineEvent[] = [];
  private readonly subs = new Set<(e: EngineEvent) => void>();
  private lastNano = 0;

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    // One clock (the monotonic one, anchored at the process's start), and never twice the same stamp.
    let timeNano = nowNs();
    if (timeNano <= this.lastNano) timeNano = this.lastNano + 1;
    this.lastNano = timeNano;
    const e: EngineEvent = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Math.floor(timeNano / 1e9), timeNano,
    };
    if (type === 'image' || type === 'container') {
      e.status = action;
      e.id = id;
      if (type === 'container' && attributes.image) e.from = attributes.image;
    }
    this.ring.push(e);
    if (this.ring.length > RING) this.ring.shift();
    for (const s of this.subs) s(e);
    return e;
  }

  /** Past events matching f (for since/until replay). */
  past(f: EventFilter): EngineEvent[] {
    return this.ring.filter((e) => matches(e, f));
  }

  subscribe(fn: (e: EngineEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
}

/** Docker's event filters: type, event/action, image, container, label, network, volume, daemon, scope. */
export function matches(e: EngineEvent, f: EventFilter): boolean {
  if (f.since !== undefined && e.timeNano < f.since) return false;
  if (f.until !== undefined && e.timeNano > f.until) return false;
  const fl = f.filters ?? {};
  const anyOf = (key: string, values: (string | undefined)[]) => {
    const want = fl[key];
    if (!want || want.length === 0) return true;
    return want.some((w) => values.some((v) => v !== undefined && (v === w || v.startsWith(w))));
  };
  if (fl.type?.length && !fl.type.includes(e.Type)) return false;
  const action = e.Action.split(':')[0]!;
  if (fl.event?.length && !fl.event.some((w) => w === e.Action || w === action)) return false;
  if (fl.scope?.length && !fl.scope.includes(e.scope)) return false;
  const name = e.Actor.Attributes.name;
  if (fl.image?.length) {
    if (e.Type !== 'image' && e.Type !== 'container') return false;
    const img = e.Type === 'image' ? [e.Actor.ID, name] : [e.Actor.Attributes.image];
    if (!anyOf('image', img)) return false;
  }
  for (const t of ['container', 'network', 'volume', 'daemon', 'service', 'node'] as const) {
    if (fl[t]?.length) {
      if (e.Type !== t) return false;
      if (!anyOf(t, [e.Actor.ID, name])) return false;
    }
  }
  if (fl.label?.length) {
    const ok = fl.label.every((l) => {
      const i = l.indexOf('=');
      return i < 0 ? l in e.Actor.Attributes : e.Actor.Attributes[l.slice(0, i)] === l.slice(i + 1);
    });
    if (!ok) return false;
  }
  return true;
}
