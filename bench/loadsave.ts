/**
 * `docker load` and `docker save` of a ~100 MiB image through the docker CLI,
 * against each daemon. The archive is generated once per run: three
 * uncompressed layers, one 60 MiB file of random bytes, ~2000 small files
 * (~30 MiB), and 10 MiB of mixed content (zeros, random, text, a hard link, a
 * symlink). Each round loads, saves and then removes the image (untimed, with a
 * sync) so the next load starts from nothing.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { dockerArchive, tarOf, type Entry } from '../test/harness/tars.js';
import { metric, type Bench } from './report.js';
import { drain, median, rotation } from './stats.js';
import { dockerOk, SUBJECTS, type Subjects } from './subjects.js';

const MiB = 1 << 20;
const TAG = 'bench/load:latest';

const text = (bytes: number, seed: number): Buffer => {
  const line = `${seed}: the quick brown fox jumps over the lazy dog, again and again\n`;
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes));
};

async function layers(): Promise<Buffer[]> {
  const big = await tarOf([
    { name: 'data/', type: 'directory' },
    { name: 'data/random.bin', content: randomBytes(60 * MiB) },
  ]);
  const small: Entry[] = [{ name: 'usr/', type: 'directory' }, { name: 'usr/share/', type: 'directory' }];
  for (let d = 0; d < 20; d++) small.push({ name: `usr/share/d${d}/`, type: 'directory' });
  for (let i = 0; i < 2000; i++) {
    const size = 2048 + ((i * 7919) % 27648); // 2–29 KiB, ~30 MiB in all
    small.push({ name: `usr/share/d${i % 20}/f${i}`, content: i % 2 ? randomBytes(size) : text(size, i) });
  }
  const mixed = await tarOf([
    { name: 'opt/', type: 'directory' },
    { name: 'opt/mixed/', type: 'directory' },
    { name: 'opt/mixed/zeros.bin', content: Buffer.alloc(3 * MiB) },
    { name: 'opt/mixed/random.bin', content: randomBytes(4 * MiB) },
    { name: 'opt/mixed/random.link', type: 'link', linkname: 'opt/mixed/random.bin' },
    { name: 'opt/mixed/log.txt', content: text(3 * MiB, 0) },
    { name: 'opt/mixed/run', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
    { name: 'opt/mixed/current', type: 'symlink', linkname: 'log.txt' },
  ]);
  return [big, await tarOf(small), mixed];
}

export const loadSaveBench: Bench<Subjects> = {
  area: 'load',
  title: 'docker load / docker save of a ~100 MiB image',
  async run(s, o) {
    const rounds = o.quick ? 2 : 5;
    const file = join(s.work, 'image.tar');
    const { tar, id } = await dockerArchive({ layers: await layers(), repoTags: [TAG] });
    writeFileSync(file, tar);
    const size = tar.length;
    o.progress(`archive: ${(size / MiB).toFixed(1)} MiB, image ${id.slice(0, 19)}`);
    const samples: Record<string, number[]> = { 'pier load': [], 'dockerd load': [], 'pier save': [], 'dockerd save': [] };
    const saved: Record<string, number> = {};
    const notes: string[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const n of rotation(SUBJECTS, round)) {
        const d = s[n];
        const load = await dockerOk(d, ['load', '-i', file]);
        if (!load.stdout.includes(`Loaded image: ${TAG}`)) throw new Error(`${n} load said: ${load.stdout.trim()}`);
        samples[`${n} load`]!.push(load.seconds);
        if (round === 0) {
          const got = (await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', TAG])).stdout.trim();
          if (got !== id) notes.push(`${n} loaded the image as ${got}, the archive's ID is ${id}`);
        }
        const out = join(s.work, `save-${n}.tar`);
        const save = await dockerOk(d, ['save', '-o', out, TAG]);
        samples[`${n} save`]!.push(save.seconds);
        saved[n] = statSync(out).size;
        rmSync(out);
        await dockerOk(d, ['rmi', TAG]);
        // Write-back of the save and the removed layers must not land in the next subject's sample.
        execFileSync('sync');
        await drain();
      }
      o.progress(`round ${round + 1}/${rounds}: ` + Object.entries(samples).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)} s`).join(', '));
    }
    const med = (k: string) => median(samples[k]!);
    const mibps = (k: string) => size / MiB / med(k);
    for (const n of SUBJECTS) notes.push(`${n} save wrote ${(saved[n]! / MiB).toFixed(1)} MiB`);
    for (const [k, v] of Object.entries(samples)) notes.push(`${k}: median ${med(k).toFixed(2)} s, min ${Math.min(...v).toFixed(2)} s, max ${Math.max(...v).toFixed(2)} s`);
    return {
      metrics: [
        metric({ name: 'load time', unit: 's', pier: med('pier load'), docker: med('dockerd load'), goal: { on: 'ratio', max: 0.8 } }),
        metric({ name: 'load throughput', unit: 'MiB/s', pier: mibps('pier load'), docker: mibps('dockerd load'), higherIsBetter: true }),
        metric({ name: 'save time', unit: 's', pier: med('pier save'), docker: med('dockerd save'), goal: { on: 'ratio', max: 0.8 } }),
        metric({ name: 'save throughput', unit: 'MiB/s', pier: mibps('pier save'), docker: mibps('dockerd save'), higherIsBetter: true }),
      ],
      samples,
      notes: [`archive ${(size / MiB).toFixed(1)} MiB (3 uncompressed layers), ${rounds} rounds`, ...notes],
    };
  },
};
