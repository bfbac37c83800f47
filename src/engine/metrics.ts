/**
 * Metrics in the Prometheus text exposition format (version 0.0.4): counters,
 * gauges and histograms with labels, kept in a registry that renders them all
 * for GET /metrics. Gauges whose value lives elsewhere (containers by state,
 * resident memory) are read when scraped, through `collect`.
 *
 *   const reg = new MetricsRegistry();
 *   const req = reg.counter('engine_daemon_http_requests_total', 'HTTP requests', ['method', 'code']);
 *   req.inc({ method: 'GET', code: '200' });
 *   reg.render(); // "# HELP engine_daemon_http_requests_total HTTP requests\n# TYPE ... counter\n..."
 *
 * The format is small enough to write by hand: `name{label="value"} number`
 * lines under `# HELP` and `# TYPE`, label values escaped (\\, ", newline).
 */

export type Labels = Record<string, string>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Docker's (and the Prometheus client's) default buckets, in seconds. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  lines(): string[];
}

abstract class Labelled<T> {
  protected readonly series = new Map<string, { values: string[]; v: T }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL.test(l) || l.startsWith('__')) throw new Error(`invalid label name ${l} on ${name}`);
  }
  protected abstract fresh(): T;
  /** Makes the series exist (at zero) before anything is recorded in it. */
  touch(labels?: Labels): void {
    this.slot(labels);
  }
  protected slot(labels: Labels = {}): T {
    const values = this.labelNames.map((n) => labels[n] ?? '');
    for (const k of Object.keys(labels)) if (!this.labelNames.includes(k)) throw new Error(`metric ${this.name} has no label ${k}`);
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { values, v: this.fresh() }));
    return s.v;
  }
}

export class Counter extends Labelled<{ n: number }> implements Metric {
  readonly type = 'counter';
  protected fresh() { return { n: 0 }; }
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
    this.slot(labels).n += by;
  }
  get(labels?: Labels): number {
    return this.slot(labels).n;
  }
  lines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.v.n)}`);
  }
}

export class Gauge extends Labelled<{ n: number }> implements Metric {
  readonly type = 'gauge';
  protected fresh() { return { n: 0 }; }
  set(labels: Labels | undefined, n: number): void {
    this.slot(labels).n = n;
  }
  get(labels?: Labels): number {
    return this.slot(labels).n;
  }
  lines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.v.n)}`);
  }
}

export class Histogram extends Labelled<{ counts: number[]; sum: number; count: number }> implements Metric {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = DEFAULT_BUCKETS) {
    super(name, help, labelNames);
    if (labelNames.includes('le')) throw new Error(`histogram ${name} cannot have a label named le`);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  protected fresh() { return { counts: this.buckets.map(() => 0), sum: 0, count: 0 }; }
  observe(labels: Labels | undefined, v: number): void {
    const s = this.slot(labels);
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  /** Times `fn` and observes its duration in seconds, also when it throws. */
  async time<T>(labels: Labels | undefined, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.observe(labels, (performance.now() - t0) / 1000);
    }
  }
  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      // Buckets are cumulative: each counts the observations at or below its bound (observe adds to every one that fits).
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', formatValue(b)])} ${s.v.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', '+Inf'])} ${s.v.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${formatValue(s.v.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.v.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: (() => void | Promise<void>)[] = [];

  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labels));
  }
  gauge(name: string, help: string, labels: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labels));
  }
  histogram(name: string, help: string, labels: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labels, buckets));
  }
  /** Runs before each render: sets gauges whose values are read from elsewhere. */
  collect(fn: () => void | Promise<void>): void {
    this.collectors.push(fn);
  }

  private add<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} is registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }

  /** The text exposition: every metric, with HELP and TYPE, sorted by name. */
  async render(): Promise<string> {
    for (const c of this.collectors) await c();
    const out: string[] = [];
    for (const m of [...this.metrics.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`, ...m.lines());
    }
    return out.join('\n') + '\n';
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
