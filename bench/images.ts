/**
 * GET /images/json with 200 images: each daemon gets 200 distinct images
 * (one tiny shared layer; a different LABEL each, so a different config and ID),
 * imported through the API, then the listing is timed over HTTP on the unix
 * socket, interleaved, 100 calls each.
 */
import { api } from '../test/harness/daemon.js';
import { tarOf } from '../test/harness/tars.js';
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, percentile, rotation, secondsSince } from './stats.js';
import { SUBJECTS, type Subject, type Subjects } from './subjects.js';

const IMAGES = 200;

async function importImages(s: Subject, rootfs: Buffer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const q = new URLSearchParams({ fromSrc: '-', repo: 'bench/img', tag: `t${i}`, changes: `LABEL n=${i}` });
    const r = await api(s.sock, 'POST', `/v1.41/images/create?${q}`, rootfs, { 'Content-Type': 'application/x-tar' });
    const failed = r.status !== 200 ? r.text() : r.text().split('\n').find((l) => l.includes('"error"'));
    if (failed) throw new Error(`import ${i} into ${s.name}: HTTP ${r.status}: ${failed.trim().slice(0, 300)}`);
  }
}

async function listOnce(s: Subject): Promise<{ ms: number; count: number; bytes: number }> {
  const t0 = hrnow();
  const r = await api(s.sock, 'GET', '/v1.41/images/json');
  const ms = secondsSince(t0) * 1000;
  if (r.status !== 200) throw new Error(`GET /images/json on ${s.name}: HTTP ${r.status}: ${r.text().slice(0, 300)}`);
  return { ms, count: (r.json() as unknown[]).length, bytes: r.body.length };
}

export const imagesBench: Bench<Subjects> = {
  area: 'images',
  title: 'GET /images/json with 200 images',
  async run(s, o) {
    const calls = o.quick ? 10 : 100;
    const rootfs = await tarOf([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/app', content: '#!/bin/sh\necho bench\n', mode: 0o755 },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/hostname', content: 'bench\n' },
    ]);
    // Set-up is untimed: both daemons import at once.
    const t0 = hrnow();
    await Promise.all(SUBJECTS.map((n) => importImages(s[n], rootfs, IMAGES)));
    o.progress(`imported ${IMAGES} images into each daemon in ${secondsSince(t0).toFixed(1)} s`);
    const first = Object.fromEntries(await Promise.all(SUBJECTS.map(async (n) => [n, await listOnce(s[n])] as const)));
    for (const n of SUBJECTS) if (first[n]!.count < IMAGES) throw new Error(`${n} lists ${first[n]!.count} images, expected ≥ ${IMAGES}`);
    for (let i = 0; i < 5; i++) for (const n of SUBJECTS) await listOnce(s[n]);
    const samples: Record<string, number[]> = { pier: [], dockerd: [] };
    for (let round = 0; round < calls; round++) {
      for (const n of rotation(SUBJECTS, round)) {
        samples[n]!.push((await listOnce(s[n])).ms);
        await drain();
      }
    }
    const p90 = (n: string) => percentile(samples[n]!, 90);
    return {
      metrics: [
        metric({ name: 'latency median', unit: 'ms', pier: median(samples.pier!), docker: median(samples.dockerd!), goal: { on: 'ratio', max: 1 } }),
        metric({ name: 'latency p90', unit: 'ms', pier: p90('pier'), docker: p90('dockerd') }),
      ],
      samples,
      notes: SUBJECTS.map((n) => `${n}: ${first[n]!.count} images, ${(first[n]!.bytes / 1024).toFixed(0)} KiB response, ${calls} timed calls`),
    };
  },
};
