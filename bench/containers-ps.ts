/**
 * GET /containers/json?all=1 with 100 containers on each daemon: 50 running
 * (`busybox sleep 3600`) and 50 created and never started, all --network
 * none, made through the API (untimed), then the listing is timed over HTTP on
 * the unix socket, interleaved. `docker ps -a` through the CLI is a reference.
 */
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, percentile, rotation, secondsSince } from './stats.js';
import { apiOk, createContainer, ensureBusybox, startContainer, withCleanup } from './containers.js';
import { dockerOk, SUBJECTS, type Subject, type Subjects } from './subjects.js';

const CONTAINERS = 100;
const RUNNING = 50;

async function populate(s: Subject): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < CONTAINERS; i = next++) {
      const id = await createContainer(s, i < RUNNING ? ['sleep', '3600'] : ['true']);
      if (i < RUNNING) await startContainer(s, id);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

async function listOnce(s: Subject): Promise<{ ms: number; count: number; running: number; bytes: number }> {
  const t0 = hrnow();
  const r = await apiOk(s, 'GET', '/containers/json?all=1');
  const ms = secondsSince(t0) * 1000;
  const list = r.json<{ State: string }[]>();
  return { ms, count: list.length, running: list.filter((c) => c.State === 'running').length, bytes: r.body.length };
}

export const psBench: Bench<Subjects> = {
  area: 'ps',
  title: `GET /containers/json?all=1 with ${CONTAINERS} containers (${RUNNING} running)`,
  async run(s, o) {
    const calls = o.quick ? 10 : 100;
    const cliCalls = o.quick ? 3 : 20;
    await ensureBusybox(s);
    return withCleanup(s, async () => {
      const t0 = hrnow();
      await Promise.all(SUBJECTS.map((n) => populate(s[n])));
      o.progress(`made ${CONTAINERS} containers on each daemon in ${secondsSince(t0).toFixed(1)} s`);
      const first = Object.fromEntries(await Promise.all(SUBJECTS.map(async (n) => [n, await listOnce(s[n])] as const)));
      for (const n of SUBJECTS) {
        const f = first[n]!;
        if (f.count !== CONTAINERS || f.running !== RUNNING) throw new Error(`${n} lists ${f.count} containers, ${f.running} running; expected ${CONTAINERS}, ${RUNNING}`);
      }
      for (let i = 0; i < 5; i++) for (const n of SUBJECTS) await listOnce(s[n]);
      const samples: Record<string, number[]> = { pier: [], dockerd: [], 'pier docker ps -a': [], 'dockerd docker ps -a': [] };
      for (let round = 0; round < calls; round++) {
        for (const n of rotation(SUBJECTS, round)) {
          samples[n]!.push((await listOnce(s[n])).ms);
          await drain();
        }
      }
      for (let round = 0; round < cliCalls; round++) {
        for (const n of rotation(SUBJECTS, round)) samples[`${n} docker ps -a`]!.push((await dockerOk(s[n], ['ps', '-a'])).seconds * 1000);
      }
      const p90 = (n: string) => percentile(samples[n]!, 90);
      const med = (n: string) => median(samples[n]!);
      o.progress(`median: pier ${med('pier').toFixed(2)} ms, dockerd ${med('dockerd').toFixed(2)} ms`);
      return {
        metrics: [
          metric({ name: 'latency median', unit: 'ms', pier: med('pier'), docker: med('dockerd'), goal: { on: 'ratio', max: 1 } }),
          metric({ name: 'latency p90', unit: 'ms', pier: p90('pier'), docker: p90('dockerd') }),
          metric({ name: '`docker ps -a`', unit: 'ms', pier: med('pier docker ps -a'), docker: med('dockerd docker ps -a') }),
        ],
        samples,
        notes: SUBJECTS.map((n) => `${n}: ${first[n]!.count} containers, ${(first[n]!.bytes / 1024).toFixed(0)} KiB response, ${calls} timed calls`),
      };
    });
  },
};
