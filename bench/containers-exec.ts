/**
 * Exec in a running container (`busybox sleep 3600`, --network none), against
 * both daemons, interleaved:
 *  - `docker exec <c> true` through the docker CLI;
 *  - the API calls it makes: exec create, exec start hijacked (read until the
 *    daemon closes the stream), exec inspect for the exit code (again while it
 *    still says Running, which Pier sometimes does just after the stream ends);
 *  - bare `runc exec` into Pier's container, as the floor (reference only).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, percentile, rotation, secondsSince } from './stats.js';
import { apiOk, createContainer, ensureBusybox, hijack, runCmd, startContainer, withCleanup } from './containers.js';
import { dockerOk, SUBJECTS, type Subject, type Subjects } from './subjects.js';

async function cliExec(s: Subject, id: string): Promise<number> {
  return (await dockerOk(s, ['exec', id, 'true'])).seconds;
}

/** By daemon: execs whose inspect still said Running after the hijacked stream had ended, the inspects it took, and how long. */
const late: Record<string, { execs: number; inspects: number; ms: number[] }> = {};

async function apiExec(s: Subject, id: string): Promise<number> {
  const t0 = hrnow();
  const exec = (await apiOk(s, 'POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: ['true'] })).json<{ Id: string }>().Id;
  const started = await hijack(s, `/exec/${exec}/start`, { Detach: false, Tty: false });
  const inspect = async () => (await apiOk(s, 'GET', `/exec/${exec}/json`)).json<{ ExitCode: number | null; Running: boolean }>();
  let state = await inspect();
  // A client needs the exit code: ask again while the daemon still says running after the stream ended.
  if (state.Running) {
    const tl = hrnow();
    const l = (late[s.name] ??= { execs: 0, inspects: 0, ms: [] });
    l.execs++;
    for (let i = 0; state.Running && i < 1000; i++) {
      l.inspects++;
      state = await inspect();
    }
    l.ms.push(secondsSince(tl) * 1000);
  }
  const seconds = secondsSince(t0);
  if (started.status !== 101 && started.status !== 200) throw new Error(`exec start on ${s.name}: HTTP ${started.status}`);
  if (state.Running || state.ExitCode !== 0) throw new Error(`exec of true on ${s.name}: Running ${state.Running}, ExitCode ${state.ExitCode}`);
  return seconds;
}

export const execBench: Bench<Subjects> = {
  area: 'exec',
  title: '`docker exec <c> true` and the exec API',
  async run(s, o) {
    const rounds = o.quick ? 5 : 30;
    for (const n of SUBJECTS) delete late[n];
    await ensureBusybox(s);
    return withCleanup(s, async () => {
      const ids: Record<string, string> = {};
      for (const n of SUBJECTS) {
        ids[n] = await createContainer(s[n], ['sleep', '3600']);
        await startContainer(s[n], ids[n]!);
      }
      // Pier's runc state is under its exec root, beside its socket (test/harness/daemon.ts).
      const runcRoot = join(dirname(s.pier.sock), 'exec', 'runtime', 'runc');
      const floor = existsSync(runcRoot)
        ? async () => {
            const r = await runCmd('runc', ['--root', runcRoot, 'exec', ids.pier!, 'true']);
            if (r.code !== 0) throw new Error(`runc exec exited ${r.code}: ${r.stderr.trim()}`);
            return r.seconds;
          }
        : undefined;
      type Series = { name: string; once(): Promise<number> };
      const cli: Series[] = SUBJECTS.map((n) => ({ name: `${n} docker exec`, once: () => cliExec(s[n], ids[n]!) }));
      if (floor) cli.push({ name: 'runc exec', once: floor });
      const viaApi: Series[] = SUBJECTS.map((n) => ({ name: `${n} API exec`, once: () => apiExec(s[n], ids[n]!) }));
      for (const x of [...cli, ...viaApi]) for (let i = 0; i < 3; i++) await x.once();
      const samples: Record<string, number[]> = Object.fromEntries([...cli, ...viaApi].map((x) => [x.name, []]));
      for (let round = 0; round < rounds; round++) {
        for (const x of [...rotation(cli, round), ...rotation(viaApi, round)]) {
          samples[x.name]!.push((await x.once()) * 1000);
          await drain();
        }
      }
      const med = (k: string) => median(samples[k]!);
      o.progress([...cli, ...viaApi].map((x) => `${x.name} ${med(x.name).toFixed(1)} ms`).join(', '));
      const metrics = [
        metric({ name: '`docker exec <c> true`', unit: 'ms', pier: med('pier docker exec'), docker: med('dockerd docker exec'), goal: { on: 'ratio', max: 0.5 } }),
        metric({ name: 'API exec create+start+inspect', unit: 'ms', pier: med('pier API exec'), docker: med('dockerd API exec'), goal: { on: 'ratio', max: 0.5 } }),
      ];
      if (floor) {
        metrics.splice(1, 0, metric({ name: '  floor: `runc exec`', unit: 'ms', pierLabel: 'runc', dockerLabel: 'dockerd', pier: med('runc exec'), docker: med('dockerd docker exec') }));
      }
      return {
        metrics,
        samples,
        notes: [
          ...Object.entries(samples).map(([k, v]) => `${k}: median ${median(v).toFixed(1)} ms, p90 ${percentile(v, 90).toFixed(1)} ms, min ${Math.min(...v).toFixed(1)} ms over ${v.length}`),
          ...SUBJECTS.filter((n) => late[n]).map(
            (n) =>
              `${n}: exec inspect still said Running after the stream had ended in ${late[n]!.execs} of ${rounds + 3} execs; ` +
              `${late[n]!.inspects} more inspects, median ${median(late[n]!.ms).toFixed(1)} ms, max ${Math.max(...late[n]!.ms).toFixed(1)} ms (the time counts)`,
          ),
        ],
      };
    });
  },
};
