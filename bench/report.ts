/**
 * What a benchmark area returns and how it is shown: one row per metric with
 * Pier's figure, Docker's figure and their ratio, checked against the goal
 * from the issue when there is one. The same objects go to the JSON file.
 */

export interface Goal {
  /** What the goal bounds: the pier/docker ratio, or Pier's absolute figure. */
  on: 'ratio' | 'pier';
  /** Upper bound (times, sizes), or lower bound (throughputs): give one. */
  max?: number;
  min?: number;
}

export interface Metric {
  name: string;
  unit: string;
  /** Column labels when the two sides are not simply Pier vs dockerd (e.g. `pier version` vs `docker version`). */
  pierLabel?: string;
  dockerLabel?: string;
  pier: number;
  docker: number;
  /** pier / docker; below 1 means Pier is faster or smaller. */
  ratio: number;
  goal?: Goal;
  pass?: boolean;
  /** Lower is better for every metric except throughput. */
  higherIsBetter?: boolean;
}

export interface AreaResult {
  area: string;
  title: string;
  seconds: number;
  metrics: Metric[];
  /** Raw samples, by series name, for anyone who wants more than the median. */
  samples: Record<string, number[]>;
  notes: string[];
  error?: string;
}

export function metric(m: Omit<Metric, 'ratio' | 'pass'>): Metric {
  const ratio = m.pier / m.docker;
  const out: Metric = { ...m, ratio };
  if (m.goal) {
    const x = m.goal.on === 'ratio' ? ratio : m.pier;
    out.pass = (m.goal.max === undefined || x <= m.goal.max) && (m.goal.min === undefined || x >= m.goal.min);
  }
  return out;
}

const fmt = (x: number, unit: string): string => {
  if (!Number.isFinite(x)) return '—';
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${x.toFixed(digits)} ${unit}`;
};

const goalText = (m: Metric): string => {
  if (!m.goal) return '';
  const [op, v] = m.goal.max !== undefined ? ['≤', m.goal.max] : ['≥', m.goal.min];
  const bound = m.goal.on === 'ratio' ? `ratio ${op} ${v}` : `${op} ${v} ${m.unit}`;
  return `${bound} ${m.pass ? 'ok' : 'MISSED'}`;
};

export function renderTable(areas: readonly AreaResult[]): string {
  const rows: string[][] = [['area', 'metric', 'pier', 'docker', 'pier/docker', 'goal']];
  for (const a of areas) {
    if (a.error) {
      rows.push([a.area, `FAILED: ${a.error.split('\n')[0]!.slice(0, 100)}`, '', '', '', '']);
      continue;
    }
    for (const m of a.metrics) {
      const name = m.pierLabel || m.dockerLabel ? `${m.name} (${m.pierLabel ?? 'pier'} vs ${m.dockerLabel ?? 'dockerd'})` : m.name;
      rows.push([a.area, name, fmt(m.pier, m.unit), fmt(m.docker, m.unit), Number.isFinite(m.ratio) ? `${m.ratio.toFixed(2)}×` : '—', goalText(m)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export const HEADER = `\
Pier vs dockerd benchmark
  Both daemons run side by side on private data roots and sockets (dockerd: Debian's
  docker.io with its own containerd, no bridge, no iptables) and are driven by the same
  docker CLI. This machine is small and shared, so absolute times mean little: every
  benchmark interleaves the subjects, rotating which goes first each round, and
  reports medians and the pier/docker ratio (below 1: Pier is faster or smaller).
  Goals are those of the performance issue.`;

export interface BenchOptions {
  /** Fewer rounds: a smoke test of the benchmark itself, not a measurement. */
  quick: boolean;
  progress(msg: string): void;
}

/** One benchmark area; main.ts runs the selected ones in a fixed order. */
export interface Bench<S> {
  area: string;
  title: string;
  run(subjects: S, o: BenchOptions): Promise<Pick<AreaResult, 'metrics' | 'samples' | 'notes'>>;
}
