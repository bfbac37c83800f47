/**
 * CLI start-up: wall time of `pier version` against `docker version`, both
 * talking to the same pierd, so the daemon's share is the same and the
 * difference is the client's own start-up (Node vs a Go binary). `docker
 * version` against dockerd, and a bare `node -e 0` (the floor for a Node
 * CLI), are there for reference only.
 */
import { dockerCli } from '../test/harness/dockerd.js';
import { PIER } from '../test/harness/daemon.js';
import { metric, type Bench } from './report.js';
import { drain, median, percentile, rotation } from './stats.js';
import { timedSync, type Subjects } from './subjects.js';

interface Series {
  name: string;
  cmd: string;
  args: string[];
}

export const cliBench: Bench<Subjects> = {
  area: 'cli',
  title: 'CLI start-up: `version` wall time',
  async run(s, o) {
    const rounds = o.quick ? 5 : 30;
    const series: Series[] = [
      { name: 'pier version @pierd', cmd: process.execPath, args: [PIER, '-H', s.pier.host, 'version'] },
      { name: 'docker version @pierd', cmd: dockerCli()!, args: ['-H', s.pier.host, 'version'] },
      { name: 'docker version @dockerd', cmd: dockerCli()!, args: ['-H', s.dockerd.host, 'version'] },
      // The floor for any Node.js CLI: the runtime's own start-up, no daemon involved.
      { name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'] },
    ];
    const samples: Record<string, number[]> = Object.fromEntries(series.map((x) => [x.name, []]));
    // One untimed run each: checks the command works and warms the page cache.
    for (const x of series) {
      const r = timedSync(x.cmd, x.args);
      if (r.code !== 0) throw new Error(`${x.name} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const x of rotation(series, round)) {
        const r = timedSync(x.cmd, x.args);
        if (r.code !== 0) throw new Error(`${x.name} exited ${r.code} in round ${round}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
        samples[x.name]!.push(r.seconds * 1000);
        await drain();
      }
    }
    const med = (n: string) => median(samples[n]!);
    o.progress(series.map((x) => `${x.name} ${med(x.name).toFixed(0)} ms`).join(', '));
    return {
      metrics: [
        metric({
          name: '`version` @pierd',
          unit: 'ms',
          pierLabel: 'pier CLI',
          dockerLabel: 'docker CLI',
          pier: med('pier version @pierd'),
          docker: med('docker version @pierd'),
          goal: { on: 'ratio', max: 2 },
        }),
        metric({
          name: '`docker version`',
          unit: 'ms',
          pierLabel: '@pierd',
          dockerLabel: '@dockerd',
          pier: med('docker version @pierd'),
          docker: med('docker version @dockerd'),
        }),
      ],
      samples,
      notes: series.map((x) => `${x.name}: median ${med(x.name).toFixed(1)} ms, p90 ${percentile(samples[x.name]!, 90).toFixed(1)} ms over ${rounds} runs`),
    };
  },
};
