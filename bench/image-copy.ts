/**
 * `pier image copy` (daemon to daemon, over mutual TLS) against the way it is
 * done without it: `pier push` into a registry and `pier pull` from it. Two
 * pierds of this benchmark's own on loopback — the target listening on
 * tcp://127.0.0.1:PORT with --tlsverify and certificates made by openssl —
 * and a fresh docker-registry (the CNCF registry) on loopback each round. The
 * image is 256 MiB: four layers of 64 MiB of random bytes (uncompressed, as a
 * load leaves them; four layers let push and pull use their parallel uploads
 * and downloads). Before each sample the target has none of its layers.
 * Rounds interleave the two ways, rotating which goes first.
 *
 * The "pier"/"docker" columns here are "image copy"/"push + pull".
 * Push keeps the gzip copies it makes (random bytes are stored, not
 * deflated), so pushes after the first round compress nothing: the registry
 * way is timed at its best.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, PIER, startDaemon, type TestDaemon } from '../test/harness/daemon.js';
import { freePort, startRegistry } from '../test/harness/docker-registry.js';
import { dockerArchive, tarOf } from '../test/harness/tars.js';
import { generateCerts } from '../test/harness/certs.js';
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, rotation, secondsSince } from './stats.js';
import type { Subjects } from './subjects.js';

const MiB = 1 << 20;
const TAG = 'bench/copy:latest';
type Way = 'copy' | 'registry';
const WAYS: readonly Way[] = ['copy', 'registry'];

function pier(d: TestDaemon, args: string[]): { seconds: number; stdout: string } {
  const t0 = hrnow();
  const r = spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host, DOCKER_HOST: d.host }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = secondsSince(t0);
  if (r.status !== 0) throw new Error(`pier ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

/** Removes every image of the target, and with them its layers. */
async function emptyImages(d: TestDaemon): Promise<void> {
  const list = (await api(d.sock, 'GET', '/images/json?all=1')).json<{ Id: string }[]>();
  for (const i of list) await api(d.sock, 'DELETE', `/images/${i.Id}?force=1`);
  spawnSync('sync');
}

export const imageCopyBench: Bench<Subjects> = {
  area: 'imagecopy',
  title: 'image daemon to daemon: pier image copy (mTLS) vs push + pull through a registry',
  async run(_s, o) {
    const rounds = o.quick ? 1 : 3;
    const work = mkdtempSync('/tmp/pier-bench-imagecopy-');
    let src: TestDaemon | undefined;
    let dst: TestDaemon | undefined;
    try {
      const certs = generateCerts(join(work, 'certs'));
      const tcp = `tcp://127.0.0.1:${await freePort()}`;
      src = await startDaemon();
      dst = await startDaemon({ args: ['-H', tcp, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey] });
      const layers = await Promise.all(Array.from({ length: 4 }, (_, i) => tarOf([{ name: `layer${i}.bin`, content: randomBytes(64 * MiB) }])));
      const imageMiB = layers.reduce((n, l) => n + l.length, 0) / MiB;
      const { tar } = await dockerArchive({ layers, repoTags: [TAG] });
      const load = await api(src.sock, 'POST', '/images/load?quiet=1', tar, { 'Content-Type': 'application/x-tar' });
      if (load.status !== 200 || load.text().includes('error')) throw new Error(`load: ${load.text()}`);
      o.progress(`image: 4 layers, ${imageMiB.toFixed(0)} MiB`);
      const to = ['--to', tcp, '--to-tlscacert', certs.ca, '--to-tlscert', certs.cert, '--to-tlskey', certs.key];
      const samples: Record<string, number[]> = { 'image copy': [], 'push + pull': [], push: [], pull: [] };
      const sent: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const way of rotation(WAYS, round)) {
          await emptyImages(dst);
          await drain();
          if (way === 'copy') {
            const r = pier(src, ['image', 'copy', TAG, ...to]);
            const bytes = /(\d+) bytes sent/.exec(r.stdout)?.[1];
            if (bytes) sent.push(Number(bytes));
            samples['image copy']!.push(r.seconds);
          } else {
            const reg = await startRegistry();
            try {
              const name = `${reg.host}/bench/copy:r${round}`;
              pier(src, ['tag', TAG, name]);
              const push = pier(src, ['push', '-q', name]).seconds;
              const pull = pier(dst, ['pull', '-q', name]).seconds;
              pier(src, ['rmi', name]);
              samples.push!.push(push);
              samples.pull!.push(pull);
              samples['push + pull']!.push(push + pull);
            } finally {
              await reg.stop();
            }
          }
        }
        o.progress(`round ${round + 1}/${rounds}: image copy ${samples['image copy']!.at(-1)!.toFixed(2)} s, push ${samples.push!.at(-1)!.toFixed(2)} s + pull ${samples.pull!.at(-1)!.toFixed(2)} s`);
      }
      const m = (k: string) => median(samples[k]!);
      return {
        metrics: [
          metric({ pierLabel: 'image copy', dockerLabel: 'push + pull', name: 'daemon to daemon, 256 MiB image, time', unit: 's', pier: m('image copy'), docker: m('push + pull') }),
          metric({ pierLabel: 'image copy', dockerLabel: 'push + pull', name: 'daemon to daemon, 256 MiB image, throughput', unit: 'MiB/s', pier: imageMiB / m('image copy'), docker: imageMiB / m('push + pull'), higherIsBetter: true, goal: { on: 'ratio', min: 1 } }),
        ],
        samples,
        notes: [
          `${rounds} rounds, medians; push median ${m('push').toFixed(2)} s, pull median ${m('pull').toFixed(2)} s`,
          `image copy sent ${sent.length ? (median(sent) / MiB).toFixed(1) : '?'} MiB (the image is ${imageMiB.toFixed(1)} MiB of layers)`,
          'image copy goes over mTLS; the registry is plain HTTP on loopback',
        ],
      };
    } finally {
      await src?.cleanup();
      await dst?.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  },
};
