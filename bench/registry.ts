/**
 * Registries, side by side:
 *  - `pier registry` against Debian's docker-registry (the CNCF registry, Go):
 *    skopeo pushes and pulls a 256 MiB image (4 × 64 MiB random layers, already
 *    gzipped, so no one compresses) into a fresh registry each round;
 *  - peak RSS of each registry while 50 blob uploads (16 MiB each) stream at once;
 *  - through the daemons: `docker push` / `docker pull` of the same 256 MiB image
 *    (uncompressed layers, so each daemon compresses on push) via pierd and via
 *    dockerd, into a fresh docker-registry each round.
 */
import { randomBytes, createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startPierRegistry } from '../test/harness/pier-registry.js';
import { startRegistry } from '../test/harness/docker-registry.js';
import { dockerArchive, tarOf } from '../test/harness/tars.js';
import { metric, type Bench } from './report.js';
import { hrnow, median, rotation, secondsSince } from './stats.js';
import { dockerOk, SUBJECTS, type Subjects } from './subjects.js';

const MiB = 1 << 20;
const LAYERS = 4;
const LAYER_BYTES = 64 * MiB;
type RegName = 'pier' | 'distribution';
const REGS: readonly RegName[] = ['pier', 'distribution'];

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = hrnow();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(secondsSince(t0)) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.slice(-500)}`))));
  });
}

const startReg = (n: RegName) => (n === 'pier' ? startPierRegistry() : startRegistry());

/** An OCI layout with gzipped layers, for skopeo. */
async function ociLayout(dir: string, layers: Buffer[]): Promise<void> {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const gz = layers.map((l) => gzipSync(l, { level: 1 }));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha) }, config: {} }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: gz.map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(g), size: g.length })),
    }),
  );
  const md = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'img' } }] }));
}

/** 50 blob uploads at once (POST, then PUT with the body); returns the registry's peak RSS (VmHWM) in MiB. */
async function concurrentUploads(port: number, pid: number, n: number, size: number): Promise<number> {
  const body = randomBytes(size);
  const digest = sha(body);
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const post = request({ host: '127.0.0.1', port, method: 'POST', path: `/v2/bench/up${i}/blobs/uploads/` }, (res) => {
        res.resume();
        const loc = res.headers.location;
        if (res.statusCode !== 202 || !loc) return reject(new Error(`POST upload: HTTP ${res.statusCode}`));
        const u = new URL(loc, `http://127.0.0.1:${port}`);
        u.searchParams.set('digest', digest);
        const put = request({ host: '127.0.0.1', port, method: 'PUT', path: u.pathname + u.search, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size } }, (r2) => {
          r2.resume();
          r2.on('end', () => (r2.statusCode === 201 ? resolve() : reject(new Error(`PUT upload: HTTP ${r2.statusCode}`))));
        });
        put.on('error', reject);
        // Send in 1 MiB pieces so the server really has 50 streams open at once.
        let off = 0;
        const pump = () => {
          while (off < size) {
            const chunk = body.subarray(off, off + MiB);
            off += chunk.length;
            if (!put.write(chunk)) return void put.once('drain', pump);
          }
          put.end();
        };
        pump();
      });
      post.on('error', reject);
      post.end();
    });
  await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

export const registryBench: Bench<Subjects> = {
  area: 'registry',
  title: 'registries: pier registry vs docker-registry, and push/pull through each daemon',
  async run(s, o) {
    const rounds = o.quick ? 1 : 3;
    const layers = await Promise.all(Array.from({ length: LAYERS }, (_, i) => tarOf([{ name: `layer${i}.bin`, content: randomBytes(LAYER_BYTES) }])));
    const imageMiB = layers.reduce((n, l) => n + l.length, 0) / MiB;
    const oci = join(s.work, 'oci');
    await ociLayout(oci, layers);
    o.progress(`image: ${LAYERS} layers, ${imageMiB.toFixed(0)} MiB`);

    // 1. Registry servers, driven by skopeo.
    const samples: Record<string, number[]> = {};
    const add = (k: string, v: number) => (samples[k] ??= []).push(v);
    for (let round = 0; round < rounds; round++) {
      for (const n of rotation(REGS, round)) {
        const reg = await startReg(n);
        try {
          const ref = `docker://${reg.host}/bench/img:r${round}`;
          add(`${n} skopeo push`, await run('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${oci}:img`, ref]));
          const out = join(s.work, `pull-${n}-${round}`);
          add(`${n} skopeo pull`, await run('skopeo', ['copy', '-q', '--src-tls-verify=false', ref, `oci:${out}:img`]));
          rmSync(out, { recursive: true, force: true });
        } finally {
          await reg.stop();
        }
      }
      o.progress(`round ${round + 1}/${rounds}: ${REGS.map((n) => `${n} push ${samples[`${n} skopeo push`]!.at(-1)!.toFixed(2)} s, pull ${samples[`${n} skopeo pull`]!.at(-1)!.toFixed(2)} s`).join('; ')}`);
    }
    const rss: Record<RegName, number> = { pier: 0, distribution: 0 };
    for (const n of REGS) {
      const reg = await startReg(n);
      try {
        rss[n] = await concurrentUploads(reg.port, reg.proc.pid!, 50, 16 * MiB);
      } finally {
        await reg.stop();
      }
    }
    o.progress(`peak RSS under 50 concurrent 16 MiB uploads: pier ${rss.pier.toFixed(0)} MiB, docker-registry ${rss.distribution.toFixed(0)} MiB`);

    // 2. Through the daemons, into a fresh docker-registry each round.
    const archive = join(s.work, 'reg-image.tar');
    writeFileSync(archive, (await dockerArchive({ layers, repoTags: ['bench/regimg:latest'] })).tar);
    for (const n of SUBJECTS) await dockerOk(s[n], ['load', '-q', '-i', archive]);
    rmSync(archive, { force: true });
    for (let round = 0; round < rounds; round++) {
      const reg = await startRegistry();
      try {
        for (const n of rotation(SUBJECTS, round)) {
          const name = `${reg.host}/bench/${n}:r${round}`;
          await dockerOk(s[n], ['tag', 'bench/regimg:latest', name]);
          add(`${n} docker push`, (await dockerOk(s[n], ['push', '-q', name])).seconds);
          await dockerOk(s[n], ['rmi', name]);
        }
        for (const n of rotation(SUBJECTS, round)) {
          // Pull into a daemon that has none of the layers: remove the local image first.
          const name = `${reg.host}/bench/${n}:r${round}`;
          await dockerOk(s[n], ['rmi', 'bench/regimg:latest']);
          add(`${n} docker pull`, (await dockerOk(s[n], ['pull', '-q', name])).seconds);
          await dockerOk(s[n], ['tag', name, 'bench/regimg:latest']);
          await dockerOk(s[n], ['rmi', name]);
        }
      } finally {
        await reg.stop();
      }
      o.progress(`round ${round + 1}/${rounds}: ${SUBJECTS.map((n) => `${n} push ${samples[`${n} docker push`]!.at(-1)!.toFixed(2)} s, pull ${samples[`${n} docker pull`]!.at(-1)!.toFixed(2)} s`).join('; ')}`);
    }

    const m = (k: string) => median(samples[k]!);
    const tput = (k: string) => imageMiB / m(k);
    return {
      metrics: [
        metric({ pierLabel: 'pier registry', dockerLabel: 'docker-registry', name: 'registry push (skopeo), throughput', unit: 'MiB/s', pier: tput('pier skopeo push'), docker: tput('distribution skopeo push'), higherIsBetter: true, goal: { on: 'ratio', min: 1 } }),
        metric({ pierLabel: 'pier registry', dockerLabel: 'docker-registry', name: 'registry pull (skopeo), throughput', unit: 'MiB/s', pier: tput('pier skopeo pull'), docker: tput('distribution skopeo pull'), higherIsBetter: true, goal: { on: 'ratio', min: 1 } }),
        metric({ pierLabel: 'pier registry', dockerLabel: 'docker-registry', name: 'registry peak RSS, 50 concurrent uploads', unit: 'MiB', pier: rss.pier, docker: rss.distribution }),
        metric({ name: 'daemon push to docker-registry, throughput', unit: 'MiB/s', pier: tput('pier docker push'), docker: tput('dockerd docker push'), higherIsBetter: true, goal: { on: 'ratio', min: 2 } }),
        metric({ name: 'daemon pull from docker-registry, throughput', unit: 'MiB/s', pier: tput('pier docker pull'), docker: tput('dockerd docker pull'), higherIsBetter: true, goal: { on: 'ratio', min: 1.5 } }),
      ],
      samples,
      notes: [`"docker" is Debian's docker-registry for the first three rows and dockerd for the last two; ${rounds} rounds, medians`],
    };
  },
};
