/**
 * Container start-up, three ways, each against both daemons and interleaved:
 *  - `docker run --rm --network none busybox true` through the docker CLI,
 *    with bare `runc run` of the same bundle as the floor;
 *  - the same through the Engine API (create, start, wait, delete) from Node,
 *    with runc create + start + wait + delete as the floor;
 *  - 20 `docker run -d --name … sleep 60` at once, timed until all 20 CLIs
 *    returned; then `docker rm -f` of the 20 (reference only).
 */
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, percentile, rotation, secondsSince, sleep } from './stats.js';
import { apiOk, createContainer, ensureBusybox, IMAGE, removeAll, RuncFloor, startContainer, waitContainer, withCleanup } from './containers.js';
import { dockerOk, dockerRun, SUBJECTS, type Subject, type Subjects } from './subjects.js';

const PARALLEL = 20;
const RUN = ['run', '--rm', '--network', 'none', IMAGE, 'true'];

async function cliRun(s: Subject): Promise<number> {
  return (await dockerOk(s, RUN)).seconds;
}

async function apiRun(s: Subject): Promise<number> {
  const t0 = hrnow();
  const id = await createContainer(s, ['true']);
  await startContainer(s, id);
  const code = await waitContainer(s, id);
  await apiOk(s, 'DELETE', `/containers/${id}`);
  const seconds = secondsSince(t0);
  if (code !== 0) throw new Error(`busybox true exited ${code} on ${s.name}`);
  return seconds;
}

/** 20 CLIs started together; seconds until the last returned, and the IDs they printed. */
async function parallelRun(s: Subject, round: number): Promise<{ seconds: number; ids: string[] }> {
  // Named: Pier reserves a generated name only when the record is stored, after awaits,
  // so unnamed concurrent creates can collide (409) in its small name space.
  const run = (i: number) => dockerRun(s, ['run', '-d', '--name', `bench-${round}-${i}`, '--network', 'none', IMAGE, 'sleep', '60']);
  const t0 = hrnow();
  const rs = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => run(i)));
  const seconds = secondsSince(t0);
  const failed = rs.find((r) => r.code !== 0);
  if (failed) throw new Error(`docker run -d on ${s.name} exited ${failed.code}: ${failed.stderr.trim().slice(0, 300)}`);
  return { seconds, ids: rs.map((r) => r.stdout.trim()) };
}

export const runBench: Bench<Subjects> = {
  area: 'run',
  title: 'Container start-up: `docker run --rm busybox true`, the API equivalent, 20 parallel `run -d`',
  async run(s, o) {
    const rounds = o.quick ? 3 : 20;
    const parallelRounds = o.quick ? 1 : 5;
    await ensureBusybox(s);
    let floor: RuncFloor | undefined;
    try {
      return await withCleanup(s, async () => {
        const runc = (floor = await RuncFloor.prepare(s.pier, s.work));
        const samples: Record<string, number[]> = {};
        const push = (k: string, seconds: number) => (samples[k] ??= []).push(seconds * 1000);
        type Series = { name: string; once(): Promise<number> };
        const cli: Series[] = [
          ...SUBJECTS.map((n) => ({ name: `${n} docker run`, once: () => cliRun(s[n]) })),
          { name: 'runc run', once: () => runc.run(['true']) },
        ];
        const viaApi: Series[] = [
          ...SUBJECTS.map((n) => ({ name: `${n} API run`, once: () => apiRun(s[n]) })),
          { name: 'runc create/start/wait/delete', once: () => runc.lifecycle(['true']) },
        ];
        // Warm-up, untimed: page cache, the daemons' lazily loaded code, first-use allocations.
        for (const x of [...cli, ...viaApi]) for (let i = 0; i < 2; i++) await x.once();
        for (let round = 0; round < rounds; round++) {
          for (const x of rotation(cli, round)) {
            push(x.name, await x.once());
            await drain();
          }
          for (const x of rotation(viaApi, round)) {
            push(x.name, await x.once());
            await drain();
          }
        }
        const med = (k: string) => median(samples[k]!);
        o.progress([...cli, ...viaApi].map((x) => `${x.name} ${med(x.name).toFixed(0)} ms`).join(', '));

        for (let round = 0; round < parallelRounds; round++) {
          for (const n of rotation(SUBJECTS, round)) {
            const { seconds, ids } = await parallelRun(s[n], round);
            push(`${n} ${PARALLEL}× run -d`, seconds);
            const rm = await dockerOk(s[n], ['rm', '-f', ...ids]);
            push(`${n} rm -f ${PARALLEL}`, rm.seconds);
            await removeAll(s[n]);
            // Let the killed containers' shims and monitors finish going away before the other side's sample.
            await sleep(1000);
          }
          o.progress(`parallel round ${round + 1}/${parallelRounds}: ` + SUBJECTS.map((n) => `${n} ${samples[`${n} ${PARALLEL}× run -d`]!.at(-1)!.toFixed(0)} ms`).join(', '));
        }

        const notes = Object.entries(samples).map(
          ([k, v]) => `${k}: median ${median(v).toFixed(1)} ms, p90 ${percentile(v, 90).toFixed(1)} ms, min ${Math.min(...v).toFixed(1)} ms over ${v.length}`,
        );
        notes.push(
          `over the runc floor: docker run ${SUBJECTS.map((n) => `${n} +${(med(`${n} docker run`) - med('runc run')).toFixed(0)} ms`).join(', ')}; ` +
            `API ${SUBJECTS.map((n) => `${n} +${(med(`${n} API run`) - med('runc create/start/wait/delete')).toFixed(0)} ms`).join(', ')}`,
        );
        return {
          metrics: [
            metric({ name: '`docker run --rm busybox true`', unit: 'ms', pier: med('pier docker run'), docker: med('dockerd docker run'), goal: { on: 'ratio', max: 0.5 } }),
            metric({ name: '  floor: `runc run` (same bundle)', unit: 'ms', pierLabel: 'runc', dockerLabel: 'dockerd', pier: med('runc run'), docker: med('dockerd docker run') }),
            metric({ name: 'API create+start+wait+delete', unit: 'ms', pier: med('pier API run'), docker: med('dockerd API run'), goal: { on: 'ratio', max: 0.4 } }),
            metric({ name: '  floor: runc create+start+wait+delete', unit: 'ms', pierLabel: 'runc', dockerLabel: 'dockerd', pier: med('runc create/start/wait/delete'), docker: med('dockerd API run') }),
            metric({ name: `${PARALLEL} parallel \`docker run -d\``, unit: 'ms', pier: med(`pier ${PARALLEL}× run -d`), docker: med(`dockerd ${PARALLEL}× run -d`), goal: { on: 'ratio', max: 0.5 } }),
            metric({ name: `\`docker rm -f\` of those ${PARALLEL}`, unit: 'ms', pier: med(`pier rm -f ${PARALLEL}`), docker: med(`dockerd rm -f ${PARALLEL}`) }),
          ],
          samples,
          notes: [`${rounds} rounds of single runs, ${parallelRounds} of parallel ones; every container with --network none`, ...notes],
        };
      });
    } finally {
      floor?.cleanup();
    }
  },
};
