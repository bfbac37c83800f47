/**
 * What a running container costs in memory. On each daemon, 20 `busybox
 * sleep 600` (--network none) are started through the API; then, once settled:
 *  - the per-container process: the parent of State.Pid, pier-monitor for
 *    Pier, containerd-shim-runc-v2 for dockerd; VmRSS (the issue's measure)
 *    and PSS (shared pages split among the processes that map them);
 *  - the daemon's RSS growth: its process tree (pierd; dockerd + containerd)
 *    without the per-container processes and what runs under them, before the
 *    containers and with the 20 running. pier-monitor is pierd's child, the
 *    shims are reparented to init, so only the cut makes the two comparable.
 * Idle RSS of a fresh daemon is the rss area's.
 */
import { metric, type Bench } from './report.js';
import { median, sleep } from './stats.js';
import { commOf, createContainer, ensureBusybox, inspectContainer, memMiB, ppidOf, startContainer, treeWithout, withCleanup } from './containers.js';
import { SUBJECTS, type Subject, type Subjects } from './subjects.js';

const RUNNING = 20;
const SAMPLES = 5;

const daemonRss = (s: Subject, perContainer: ReadonlySet<number>) => treeWithout(s.pid, perContainer).reduce((sum, pid) => sum + memMiB(pid, 'VmRSS'), 0);

export const monitorBench: Bench<Subjects> = {
  area: 'monitor',
  title: `Per-container memory: pier-monitor vs containerd-shim-runc-v2; daemon growth with ${RUNNING} running`,
  async run(s, o) {
    await ensureBusybox(s);
    return withCleanup(s, async () => {
      const samples: Record<string, number[]> = {};
      const push = (k: string, x: number) => (samples[k] ??= []).push(x);
      // Before: the daemons have settled from whatever ran before this area.
      await sleep(2000);
      for (let i = 0; i < SAMPLES; i++) {
        for (const n of SUBJECTS) push(`${n} daemon before`, daemonRss(s[n], new Set()));
        await sleep(200);
      }
      const holders: Record<string, number[]> = {};
      for (const n of SUBJECTS) {
        const pids: number[] = [];
        for (let i = 0; i < RUNNING; i++) {
          const id = await createContainer(s[n], ['sleep', '600']);
          await startContainer(s[n], id);
          const pid = (await inspectContainer(s[n], id)).State.Pid;
          pids.push(ppidOf(pid));
        }
        holders[n] = pids;
        const distinct = new Set(pids).size;
        if (distinct !== RUNNING) throw new Error(`${n}: ${RUNNING} containers have ${distinct} distinct parent processes`);
      }
      await sleep(3000);
      for (let i = 0; i < SAMPLES; i++) {
        for (const n of SUBJECTS) {
          const cut = new Set(holders[n]);
          push(`${n} daemon with ${RUNNING}`, daemonRss(s[n], cut));
          push(`${n} per-container RSS`, median(holders[n]!.map((p) => memMiB(p, 'VmRSS'))));
          push(`${n} per-container PSS`, median(holders[n]!.map((p) => memMiB(p, 'Pss'))));
        }
        await sleep(200);
      }
      const med = (k: string) => median(samples[k]!);
      const growth = (n: string) => med(`${n} daemon with ${RUNNING}`) - med(`${n} daemon before`);
      const perContainer = (n: string) => (growth(n) + RUNNING * med(`${n} per-container RSS`)) / RUNNING;
      const comms = (n: string) => [...new Set(holders[n]!.map(commOf))].join(', ');
      o.progress(SUBJECTS.map((n) => `${n}: ${comms(n)} ${med(`${n} per-container RSS`).toFixed(2)} MiB each, daemon +${growth(n).toFixed(1)} MiB`).join('; '));
      return {
        metrics: [
          metric({ name: 'per-container process VmRSS', unit: 'MiB', pier: med('pier per-container RSS'), docker: med('dockerd per-container RSS'), goal: { on: 'pier', max: 3 } }),
          metric({ name: 'per-container process PSS', unit: 'MiB', pier: med('pier per-container PSS'), docker: med('dockerd per-container PSS') }),
          metric({ name: `daemon RSS with ${RUNNING} running`, unit: 'MiB', pier: med(`pier daemon with ${RUNNING}`), docker: med(`dockerd daemon with ${RUNNING}`) }),
          metric({ name: 'all-in per container (growth/20 + process)', unit: 'MiB', pier: perContainer('pier'), docker: perContainer('dockerd') }),
        ],
        samples,
        notes: SUBJECTS.map(
          (n) =>
            `${n}: per-container processes ${comms(n)}; daemon tree ${med(`${n} daemon before`).toFixed(1)} → ${med(`${n} daemon with ${RUNNING}`).toFixed(1)} MiB, ` +
            `growth ${growth(n).toFixed(1)} MiB (within GC noise when near 0; no ratio for it) ` +
            `(${treeWithout(s[n].pid, new Set(holders[n])).map((p) => `${commOf(p)}(${p})`).join(' + ')})`,
        ),
      };
    });
  },
};
