/**
 * Networks, against a dockerd with its full networking (docker0, iptables
 * NAT, docker-proxy for published ports — Debian's defaults), started for this
 * area inside a network namespace of its own so nothing of the host's is
 * touched; its clients (curl for the port) run in that namespace too.
 *  - `docker run --rm busybox true` on the default bridge, interleaved, and
 *    Pier's same run with --network none (the bridge's added cost);
 *  - TCP throughput through a published port from 127.0.0.1: 4 curls at once
 *    fetching a 256 MiB file from busybox httpd in a container (docker-proxy
 *    in dockerd's path, the kernel's DNAT in Pier's);
 *  - container-to-container request latency on a user network: a client
 *    container runs 100 `wget http://srv/` (name resolution included) against
 *    httpd in another; per request.
 */
import { spawnSync } from 'node:child_process';
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, rotation, secondsSince } from './stats.js';
import { ensureBusybox, IMAGE, runCmd } from './containers.js';
import { cliEnv, dockerOk, type Subject, type Subjects } from './subjects.js';
import { dockerCli, startDockerd } from '../test/harness/dockerd.js';

const FILE_MIB = 256;
const REQUESTS = 100;
const CONNS = 4;

type Side = { s: Subject; label: 'pier' | 'dockerd'; netns?: string };

/** A random port in 20000–39999, not probed: a taken one fails the `docker run -p` loudly. */
function freePort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

/** MiB/s of CONNS simultaneous downloads of the file through the published port, over the wall time of all. */
async function throughput(x: Side, port: number): Promise<number> {
  const curl = ['curl', '-s', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${port}/big`];
  const t0 = hrnow();
  const rs = await Promise.all(Array.from({ length: CONNS }, () => (x.netns ? runCmd('nsenter', [`--net=${x.netns}`, ...curl]) : runCmd(curl[0]!, curl.slice(1)))));
  const seconds = secondsSince(t0);
  for (const r of rs)
    if (r.code !== 0 || Number(r.stdout.trim()) !== FILE_MIB * 1024 * 1024) throw new Error(`curl through ${x.label}'s published port: exit ${r.code}, ${r.stdout} ${r.stderr}`);
  return (CONNS * FILE_MIB) / seconds;
}

/** ms per request from inside a client container, 100 requests by name. */
async function latency(x: Side): Promise<number> {
  // busybox's date has no %N; adjtimex prints the clock to the microsecond.
  const now = `adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf "%.0f\\n", (s%100000)*1000000+u}'`;
  const script = `s=$(${now}); i=0; while [ $i -lt ${REQUESTS} ]; do wget -q -O /dev/null http://srv/small || exit 1; i=$((i+1)); done; e=$(${now}); echo $((e-s))`;
  const r = await dockerOk(x.s, ['exec', 'bench-cli', 'sh', '-c', script]);
  const us = Number(r.stdout.trim());
  if (!(us > 0)) throw new Error(`latency script on ${x.label} printed ${JSON.stringify(r.stdout)}`);
  return us / 1000 / REQUESTS;
}

export const networksBench: Bench<Subjects> = {
  area: 'networks',
  title: '`docker run --rm` on the default bridge, throughput through a published port, container-to-container latency',
  async run(s, o) {
    const rounds = o.quick ? 3 : 20;
    await ensureBusybox(s);
    const real = await startDockerd('overlay2', { netns: true });
    const dockerd: Subject = { name: 'dockerd', host: real.host, sock: real.sock, pid: real.proc.pid!, readyAt: Date.now() };
    const sides: Side[] = [{ s: s.pier, label: 'pier' }, { s: dockerd, label: 'dockerd', netns: real.netnsPath }];
    try {
      // busybox into the networked dockerd: saved from Pier, loaded there.
      const save = spawnSync('sh', ['-c', `"${dockerCli()}" -H ${s.pier.host} save ${IMAGE} | "${dockerCli()}" -H ${dockerd.host} load -q`], { env: cliEnv(), encoding: 'utf8' });
      if (save.status !== 0) throw new Error(`loading busybox into the networked dockerd: ${save.stderr}`);
      const samples: Record<string, number[]> = {};
      const push = (k: string, v: number) => (samples[k] ??= []).push(v);
      const run = async (x: Side, net: string) => {
        const t0 = hrnow();
        await dockerOk(x.s, ['run', '--rm', '--network', net, IMAGE, 'true']);
        return secondsSince(t0) * 1000;
      };
      const series = [
        { name: 'pier bridge', once: () => run(sides[0]!, 'bridge') },
        { name: 'dockerd bridge', once: () => run(sides[1]!, 'bridge') },
        { name: 'pier none', once: () => run(sides[0]!, 'none') },
      ];
      for (const x of series) for (let i = 0; i < 2; i++) await x.once();
      for (let round = 0; round < rounds; round++)
        for (const x of rotation(series, round)) {
          push(x.name, await x.once());
          await drain();
        }
      o.progress(series.map((x) => `${x.name} ${median(samples[x.name]!).toFixed(0)} ms`).join(', '));

      // Published port: one httpd container per side serving a 256 MiB file from tmpfs.
      const ports = new Map<string, number>();
      for (const x of sides) {
        const port = freePort();
        ports.set(x.label, port);
        await dockerOk(x.s, [
          'run', '-d', '--name', 'bench-web', '--tmpfs', '/w:size=300m', '-p', `127.0.0.1:${port}:80`, IMAGE, 'sh', '-c',
          `dd if=/dev/zero of=/w/big bs=1M count=${FILE_MIB} 2>/dev/null && echo ok > /w/small && exec httpd -f -p 80 -h /w`,
        ]);
      }
      await new Promise((r) => setTimeout(r, 1500));
      for (const x of sides) await throughput(x, ports.get(x.label)!); // warm-up
      const tpRounds = o.quick ? 2 : 7;
      for (let round = 0; round < tpRounds; round++)
        for (const x of rotation(sides, round)) push(`${x.label} MiB/s`, await throughput(x, ports.get(x.label)!));
      o.progress(sides.map((x) => `${x.label} ${median(samples[`${x.label} MiB/s`]!).toFixed(0)} MiB/s`).join(', '));

      // Container to container on a user network, by name.
      for (const x of sides) {
        await dockerOk(x.s, ['network', 'create', 'bench-net']);
        await dockerOk(x.s, ['run', '-d', '--name', 'srv', '--network', 'bench-net', IMAGE, 'sh', '-c', 'mkdir /w && echo ok > /w/small && exec httpd -f -p 80 -h /w']);
        await dockerOk(x.s, ['run', '-d', '--name', 'bench-cli', '--network', 'bench-net', IMAGE, 'sleep', '3600']);
      }
      await new Promise((r) => setTimeout(r, 500));
      for (const x of sides) await latency(x);
      const latRounds = o.quick ? 2 : 7;
      for (let round = 0; round < latRounds; round++)
        for (const x of rotation(sides, round)) push(`${x.label} request ms`, await latency(x));
      o.progress(sides.map((x) => `${x.label} ${median(samples[`${x.label} request ms`]!).toFixed(2)} ms/request`).join(', '));

      const med = (k: string) => median(samples[k]!);
      return {
        metrics: [
          metric({ name: '`docker run --rm` on the default bridge', unit: 'ms', pier: med('pier bridge'), docker: med('dockerd bridge'), goal: { on: 'ratio', max: 0.5 } }),
          metric({ name: '  Pier: bridge − `--network none` (added by the bridge)', unit: 'ms', pierLabel: 'pier', dockerLabel: '—', pier: med('pier bridge') - med('pier none'), docker: NaN, goal: { on: 'pier', max: 40 } }),
          metric({ name: 'TCP through a published port (127.0.0.1)', unit: 'MiB/s', pier: med('pier MiB/s'), docker: med('dockerd MiB/s'), higherIsBetter: true, goal: { on: 'ratio', min: 1 } }),
          metric({ name: 'container→container HTTP request by name', unit: 'ms', pier: med('pier request ms'), docker: med('dockerd request ms'), goal: { on: 'ratio', max: 1 } }),
        ],
        samples,
        notes: [
          `${rounds} interleaved rounds of run --rm; ${CONNS}×${FILE_MIB} MiB at once per throughput sample; ${REQUESTS} wget per latency sample (busybox wget, a process each, in both)`,
          `dockerd runs with its default networking (docker0, iptables, userland proxy) inside a network namespace of its own`,
        ],
      };
    } finally {
      for (const x of sides) {
        for (const c of ['bench-web', 'srv', 'bench-cli']) await dockerOk(x.s, ['rm', '-f', c]).catch(() => undefined);
        await dockerOk(x.s, ['network', 'rm', 'bench-net']).catch(() => undefined);
      }
      await real.stop();
    }
  },
};
