/**
 * `npm run bench`: Pier against Debian's dockerd in the same run.
 *
 *   npm run bench -- [--only rss,cli,images,load] [--out FILE] [--quick]
 *
 * Starts a pierd and a dockerd on private roots, runs the selected areas in a
 * fixed order (idle RSS first, before anything has made the daemons allocate),
 * prints a table and writes the full results, raw samples included, as JSON
 * (default /tmp/pier-bench.json). Both daemons are stopped and their roots
 * removed at the end, on failure and on SIGINT/SIGTERM.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { parseArgs } from 'node:util';
import { dockerCli, dockerdPath } from '../test/harness/dockerd.js';
import { REPO } from '../test/harness/daemon.js';
import { cliBench } from './cli.js';
import { execBench } from './containers-exec.js';
import { logsBench } from './containers-logs.js';
import { monitorBench } from './containers-monitor.js';
import { psBench } from './containers-ps.js';
import { runBench } from './containers-run.js';
import { networksBench } from './networks.js';
import { buildBench } from './build.js';
import { netPlumbingBench } from './netplumbing.js';
import { imagesBench } from './images.js';
import { loadSaveBench } from './loadsave.js';
import { registryBench } from './registry.js';
import { remoteBench } from './remote.js';
import { imageCopyBench } from './image-copy.js';
import { HEADER, renderTable, type AreaResult, type Bench } from './report.js';
import { rssBench } from './rss.js';
import { servicesBench } from './services.js';
import { hrnow, secondsSince } from './stats.js';
import { startSubjects, type Subjects } from './subjects.js';

const BENCHES: readonly Bench<Subjects>[] = [rssBench, cliBench, imagesBench, loadSaveBench, registryBench, monitorBench, runBench, execBench, psBench, logsBench, networksBench, netPlumbingBench, servicesBench, remoteBench, imageCopyBench, buildBench];

const USAGE = `usage: npm run bench -- [--only ${BENCHES.map((b) => b.area).join(',')}] [--out FILE] [--quick]`;

const version = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, out: { type: 'string', default: '/tmp/pier-bench.json' }, quick: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const only = values.only?.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = only?.filter((a) => !BENCHES.some((b) => b.area === a)) ?? [];
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const selected = BENCHES.filter((b) => !only || only.includes(b.area));
  if (!dockerdPath() || !dockerCli()) {
    console.error('needs dockerd (apt-get install docker.io) and the docker CLI');
    return 2;
  }

  console.log(HEADER);
  const meta = {
    date: new Date().toISOString(),
    commit: version('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']),
    node: process.version,
    kernel: release(),
    cpus: cpus().length,
    loadavg: loadavg(),
    dockerd: version(dockerdPath()!, ['--version']),
    dockerCli: version(dockerCli()!, ['--version']),
    quick: values.quick,
  };
  console.log(`  ${meta.date}  commit ${meta.commit}  node ${meta.node}  ${meta.cpus} cpus  load ${meta.loadavg.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`  ${meta.dockerd}; CLI ${meta.dockerCli}${values.quick ? '; --quick: too few rounds to mean anything' : ''}\n`);

  const t0 = hrnow();
  let subjects: Subjects | undefined;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = true;
    console.error(`\n${sig}: stopping the daemons`);
    void (subjects?.stop() ?? Promise.resolve()).finally(() => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const areas: AreaResult[] = [];
  try {
    subjects = await startSubjects();
    console.log(`started pierd (pid ${subjects.pier.pid}) and dockerd (pid ${subjects.dockerd.pid}) in ${secondsSince(t0).toFixed(1)} s`);
    for (const b of selected) {
      const ta = hrnow();
      console.log(`[${b.area}] ${b.title}`);
      const progress = (msg: string) => console.log(`  ${msg}`);
      try {
        const r = await b.run(subjects, { quick: values.quick!, progress });
        areas.push({ area: b.area, title: b.title, seconds: secondsSince(ta), ...r });
      } catch (e) {
        // The signal handler owns the exit now; the failure is only the daemons going away.
        if (interrupted) await new Promise(() => {});
        const error = e instanceof Error ? e.message : String(e);
        progress(`FAILED: ${error}`);
        areas.push({ area: b.area, title: b.title, seconds: secondsSince(ta), metrics: [], samples: {}, notes: [], error });
      }
    }
  } finally {
    await subjects?.stop();
  }

  console.log(`\n${renderTable(areas)}\n`);
  for (const a of areas) for (const n of a.notes) console.log(`  ${a.area}: ${n}`);
  const total = secondsSince(t0);
  console.log(`\ntotal ${total.toFixed(0)} s; results in ${values.out}`);
  writeFileSync(values.out!, JSON.stringify({ meta: { ...meta, seconds: total }, areas }, null, 2) + '\n');
  return areas.some((a) => a.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
