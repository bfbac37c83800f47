/**
 * Idle memory: VmRSS of each daemon's whole process tree once it has settled
 * (3 s after it answered its first ping, 2 s without requests). For dockerd the
 * tree includes the containerd it starts, since Docker needs both to run anything.
 * Runs first, before any other benchmark has made either daemon allocate.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { metric, type Bench } from './report.js';
import { median, sleep } from './stats.js';
import type { Subject, Subjects } from './subjects.js';

/** pid → parent pid for every live process. comm may hold spaces and parentheses, so parse after the last ')'. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      m.set(Number(e), Number(rest[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  return m;
}

export function processTree(root: number): number[] {
  const ppid = parents();
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, parent] of ppid) if (parent === tree[i]) tree.push(pid);
  return tree;
}

const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
};

/** VmRSS in MiB, 0 for a process that has gone. */
function rssMiB(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const treeRss = (s: Subject) => processTree(s.pid).reduce((sum, pid) => sum + rssMiB(pid), 0);

export const rssBench: Bench<Subjects> = {
  area: 'rss',
  title: 'Idle RSS of the daemon process tree',
  async run(s, o) {
    const settledAt = Math.max(s.pier.readyAt, s.dockerd.readyAt) + 3000;
    await sleep(Math.max(2000, settledAt - Date.now()));
    const samples: Record<string, number[]> = { pier: [], dockerd: [] };
    for (let i = 0; i < 5; i++) {
      samples.pier!.push(treeRss(s.pier));
      samples.dockerd!.push(treeRss(s.dockerd));
      await sleep(200);
    }
    const describe = (x: Subject) => processTree(x.pid).map((p) => `${comm(p)}(${p}) ${rssMiB(p).toFixed(1)} MiB`).join(' + ');
    o.progress(`pier: ${describe(s.pier)}; dockerd: ${describe(s.dockerd)}`);
    return {
      metrics: [metric({ name: 'idle RSS', unit: 'MiB', pier: median(samples.pier!), docker: median(samples.dockerd!), goal: { on: 'pier', max: 60 } })],
      samples,
      notes: [`pier tree: ${describe(s.pier)}`, `dockerd tree: ${describe(s.dockerd)}`],
    };
  },
};
