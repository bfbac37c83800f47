/**
 * The classic builder, `DOCKER_BUILDKIT=0 docker build` against both daemons,
 * interleaved:
 *  - a cold build (`--no-cache`) of a 10-step Dockerfile: RUN, a COPY of 20 MB,
 *    ENV, WORKDIR, LABEL, EXPOSE, USER, CMD;
 *  - a fully cached rebuild of the same;
 *  - the upload of a 100 MB context (a Dockerfile of one FROM), in MB/s.
 * Builds use `--network none` on both sides (the harness's dockerd has no
 * bridge; the networks area measures the bridge).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metric, type Bench } from './report.js';
import { drain, median, rotation } from './stats.js';
import { ensureBusybox, IMAGE, withCleanup } from './containers.js';
import { dockerRun, SUBJECTS, type Subject, type Subjects } from './subjects.js';

const DOCKERFILE = `FROM ${IMAGE}
ENV APP=/app
WORKDIR /app
COPY data.bin /app/data.bin
RUN sha1sum data.bin > sum.txt
RUN echo built > /app/built.txt
LABEL bench=build
EXPOSE 8080
USER nobody
CMD ["cat", "/app/built.txt"]
`;

async function build(s: Subject, dir: string, extra: string[]): Promise<number> {
  const r = await dockerRun(s, ['build', '--network', 'none', '-q', ...extra, dir], { DOCKER_BUILDKIT: '0' });
  if (r.code !== 0) throw new Error(`docker build on ${s.name} exited ${r.code}: ${r.stderr.trim().slice(-500)}`);
  return r.seconds * 1000;
}

export const buildBench: Bench<Subjects> = {
  area: 'build',
  title: '`docker build` (classic builder): cold 10-step build, cached rebuild, 100 MB context upload',
  async run(s, o) {
    const rounds = o.quick ? 2 : 7;
    await ensureBusybox(s);
    const ten = join(s.work, 'build-ten');
    const big = join(s.work, 'build-big');
    mkdirSync(ten, { recursive: true });
    mkdirSync(big, { recursive: true });
    writeFileSync(join(ten, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(ten, 'data.bin'), randomBytes(20 * 1024 * 1024));
    writeFileSync(join(big, 'Dockerfile'), `FROM ${IMAGE}\n`);
    writeFileSync(join(big, 'blob.bin'), randomBytes(100 * 1000 * 1000));
    try {
      return await withCleanup(s, async () => {
        const samples: Record<string, number[]> = {};
        const push = (k: string, v: number) => (samples[k] ??= []).push(v);
        // Warm-up, untimed: both daemons build once (page cache, lazily loaded code).
        for (const n of SUBJECTS) await build(s[n], ten, ['-t', 'bench-build:warm']);
        for (let round = 0; round < rounds; round++) {
          for (const n of rotation(SUBJECTS, round)) {
            push(`${n} cold`, await build(s[n], ten, ['--no-cache', '-t', `bench-build:${round}`]));
            await drain();
          }
          for (const n of rotation(SUBJECTS, round)) {
            push(`${n} cached`, await build(s[n], ten, ['-t', `bench-build:${round}`]));
            await drain();
          }
          for (const n of rotation(SUBJECTS, round)) {
            const ms = await build(s[n], big, ['-t', 'bench-build:big']);
            push(`${n} upload MB/s`, 100 / (ms / 1000));
          }
        }
        const med = (k: string) => median(samples[k]!);
        o.progress(SUBJECTS.map((n) => `${n}: cold ${med(`${n} cold`).toFixed(0)} ms, cached ${med(`${n} cached`).toFixed(0)} ms, upload ${med(`${n} upload MB/s`).toFixed(0)} MB/s`).join('; '));
        return {
          metrics: [
            metric({ name: 'cold build, 10 steps (RUN, COPY 20 MB, …)', unit: 'ms', pier: med('pier cold'), docker: med('dockerd cold'), goal: { on: 'ratio', max: 0.7 } }),
            metric({ name: 'fully cached rebuild', unit: 'ms', pier: med('pier cached'), docker: med('dockerd cached'), goal: { on: 'ratio', max: 0.5 } }),
            metric({ name: 'build with a 100 MB context (upload)', unit: 'MB/s', pier: med('pier upload MB/s'), docker: med('dockerd upload MB/s'), higherIsBetter: true, goal: { on: 'ratio', min: 1 } }),
          ],
          samples,
          notes: [`${rounds} interleaved rounds; \`docker build -q --network none\` with DOCKER_BUILDKIT=0; the 100 MB context is random bytes, its Dockerfile one FROM`],
        };
      });
    } finally {
      rmSync(ten, { recursive: true, force: true });
      rmSync(big, { recursive: true, force: true });
      for (const n of SUBJECTS) await dockerRun(s[n], ['image', 'prune', '-f']).catch(() => undefined);
    }
  },
};
