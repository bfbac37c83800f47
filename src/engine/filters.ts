/**
 * The `filters` query parameter of the Engine API: JSON of
 * `{"key": {"value": true}}` (current form) or `{"key": ["value"]}` (old clients).
 */
import { invalid } from '../base/errdefs.js';

export interface Filters {
  get(key: string): string[];
  /** true/false for "1"/"true"/"0"/"false"; undefined when absent; invalid otherwise. */
  bool(key: string): boolean | undefined;
  keys(): string[];
  /** Refuses keys outside `allowed`, like Docker's "invalid filter 'x'". */
  validate(allowed: readonly string[]): void;
}

export function parseFilters(raw: string | undefined | null): Filters {
  const m = new Map<string, string[]>();
  if (raw) {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      throw invalid(`invalid filter: ${raw} is not valid JSON`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid filter: expected a JSON object of filters');
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (Array.isArray(val)) m.set(k, val.map(String));
      else if (val && typeof val === 'object') m.set(k, Object.entries(val as Record<string, unknown>).filter(([, on]) => on).map(([x]) => x));
      else throw invalid(`invalid filter '${k}': expected a list of values`);
    }
  }
  return {
    get: (k) => m.get(k) ?? [],
    keys: () => [...m.keys()],
    bool(k) {
      const vs = m.get(k);
      if (!vs || vs.length === 0) return undefined;
      const v = vs[vs.length - 1]!.toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw invalid(`invalid filter '${k}=${vs[vs.length - 1]}': expected true or false`);
    },
    validate(allowed) {
      for (const k of m.keys()) if (!allowed.includes(k)) throw invalid(`invalid filter '${k}'`);
    },
  };
}

/** One label filter, `key` or `key=value`, against labels. */
export function labelMatches(labels: Record<string, string> | null | undefined, f: string): boolean {
  if (!labels) return false;
  const i = f.indexOf('=');
  return i < 0 ? f in labels : labels[f.slice(0, i)] === f.slice(i + 1);
}

/** Docker's filters.Args.MatchKVList: every `key` or `key=value` holds in labels (true when none is asked). */
export function matchKVList(want: readonly string[], labels: Record<string, string> | null | undefined): boolean {
  return want.every((w) => labelMatches(labels, w));
}

/**
 * The label filters of a prune (moby's matchLabels): every `label` holds, and
 * the `label!` ones do not all hold. An object without labels passes `label!`.
 */
export function pruneLabelsMatch(f: Filters, labels: Record<string, string> | null | undefined): boolean {
  if (!matchKVList(f.get('label'), labels)) return false;
  const not = f.get('label!');
  return !(not.length && matchKVList(not, labels));
}
