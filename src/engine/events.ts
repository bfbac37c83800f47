/**
 * Events: what happened to objects, in Docker's event shape. Recent events are
 * kept in a ring (Docker keeps 256 too) so that `since` can replay them;
 * subscribers get new ones as they happen.
 */
import { nowNs } from '../base/clock.js';
import { matchKVList } from './filters.js';

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

  /** `scope` is 'swarm' for the swarm's objects (services, nodes), as dockerd reports them. */
  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}, scope: EngineEvent['scope'] = 'local'): EngineEvent {
    // One clock (the monotonic one, anchored at the process's start), and never twice the same stamp.
    let timeNano = nowNs();
    if (timeNano <= this.lastNano) timeNano = this.lastNano + 1;
    this.lastNano = timeNano;
    const e: EngineEvent = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope,
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

/**
 * Docker's event filters (daemon/events/filter.go), all of which must hold:
 *  - type, scope: exact;
 *  - event: exact on the Action, except that when the filter names
 *    health_status, exec_create or exec_start bare, every value matches as a
 *    prefix (so `event=exec_start` takes "exec_start: sh -c ...");
 *  - container, network, volume, daemon, service, node, plugin, secret,
 *    config: the actor's ID or its name attribute, exact or as a prefix — of
 *    any type, as in Docker (a name is what ties events of other types to it);
 *  - image: exact on the image's ID or name (a container event's `image`
 *    attribute), also with the tag taken off ("busybox" matches busybox:latest);
 *  - label: each `key` or `key=value` must be among the actor's attributes.
 */
export function matches(e: EngineEvent, f: EventFilter): boolean {
  if (f.since !== undefined && e.timeNano < f.since) return false;
  if (f.until !== undefined && e.timeNano > f.until) return false;
  const fl = f.filters ?? {};
  const given = (key: string) => (fl[key]?.length ?? 0) > 0;
  const exact = (key: string, v: string | undefined) => !given(key) || (v !== undefined && fl[key]!.includes(v));
  const fuzzy = (key: string, v: string | undefined) => !given(key) || (v !== undefined && fl[key]!.some((w) => v === w || v.startsWith(w)));
  if (!exact('type', e.Type)) return false;
  if (!exact('scope', e.scope)) return false;
  const prefixEvents = fl.event?.some((w) => w === 'health_status' || w === 'exec_create' || w === 'exec_start');
  if (!(prefixEvents ? fuzzy('event', e.Action) : exact('event', e.Action))) return false;
  const name = e.Actor.Attributes.name;
  for (const t of ['daemon', 'container', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'])
    if (given(t) && !fuzzy(t, e.Actor.ID) && !fuzzy(t, name)) return false;
  if (given('image')) {
    const imageName = e.Type === 'image' ? name : e.Actor.Attributes.image;
    const candidates = [e.Actor.ID, imageName, stripTag(e.Actor.ID), stripTag(imageName)];
    if (!candidates.some((c) => c !== undefined && c !== '' && fl.image!.includes(c))) return false;
  }
  if (given('label')) {
    if (!matchKVList(fl.label!, e.Actor.Attributes)) return false;
  }
  return true;
}

/** "busybox:latest" → "busybox", "docker.io/library/busybox:1" → "busybox"; a digest or an ID stays as it is. */
function stripTag(image: string | undefined): string | undefined {
  if (!image || /^sha256:/.test(image) || image.includes('@')) return image;
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  let repo = colon > slash ? image.slice(0, colon) : image;
  // Docker's FamiliarName: Docker Hub's domain and its library/ namespace are dropped.
  repo = repo.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
  const first = repo.split('/')[0]!;
  const hasDomain = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) repo = repo.replace(/^library\/(?=[^/]+$)/, '');
  return repo;
}
