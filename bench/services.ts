/**
 * Swarm-mode services. The traffic figures compare Pier with itself: the
 * same client reaches the same replicas through the service's published port
 * (kernel DNAT round-robin over 3 replicas) or directly at one replica's
 * address, so the ratio is what the balancer costs. The client is a network
 * namespace of the benchmark's own on a veth pair, routed through the host,
 * as a remote client would be (test/integration/services/helpers.ts).
 *  - throughput: 4 curls at once fetching a 128 MiB file from busybox httpd;
 *  - latency: a Node client, a new connection per request (no keep-alive),
 *    requests to the port and to the replica alternating; the p50 difference;
 *  - a replica's main process killed with SIGKILL: the time until its slot's
 *    new task container runs (polling the API every 20 ms), with
 *    --restart-delay 0s (swarm's default delay is 5 s, a policy, not a cost);
 *  - scaling a service from 1 to 20 replicas: from the update request to 20
 *    tasks running, polled through the API, Pier against dockerd's swarm
 *    when `docker swarm init` works on a dockerd of this area's own (in a
 *    network namespace, with a veth pair there for an address to advertise).
 */
import { spawnSync } from 'node:child_process';
import { metric, type Bench, type Metric } from './report.js';
import { hrnow, median, rotation, secondsSince, sleep } from './stats.js';
import { apiOk, ensureBusybox, IMAGE, runCmd } from './containers.js';
import { cliEnv, dockerOk, dockerRun, type Subject, type Subjects } from './subjects.js';
import { waitFor } from '../test/harness/containers.js';
import { dockerCli, startDockerd, type Dockerd } from '../test/harness/dockerd.js';
import { clientNetns, freePort, type Client } from '../test/integration/services/helpers.js';

const FILE_MIB = 128;
const CONNS = 4;
const REPLICAS = 3;
const LATENCY_REQUESTS = 200;
const SCALE_TO = 20;
const SVC = 'bench-svc';
const SCALE_SVC = 'bench-scale';

interface TaskView {
  ID: string;
  Slot: number;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string; PID?: number } };
}

const tasksOf = async (s: Subject, svc: string, desired = 'running'): Promise<TaskView[]> =>
  (await apiOk(s, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc], 'desired-state': [desired] }))}`)).json<TaskView[]>();

const runningTasks = async (s: Subject, svc: string) => (await tasksOf(s, svc)).filter((t) => t.Status.State === 'running');

/** Sets a service's replica count through the API (as `docker service scale --detach` does). */
async function scale(s: Subject, svc: string, n: number): Promise<void> {
  const cur = (await apiOk(s, 'GET', `/services/${svc}`)).json<{ ID: string; Version: { Index: number }; Spec: { Mode: { Replicated: { Replicas: number } } } }>();
  cur.Spec.Mode.Replicated.Replicas = n;
  await apiOk(s, 'POST', `/services/${cur.ID}/update?version=${cur.Version.Index}`, cur.Spec);
}

/** ms from the scale request until n tasks run. */
async function timeScale(s: Subject, n: number): Promise<number> {
  const t0 = hrnow();
  await scale(s, SCALE_SVC, n);
  await waitFor(`${n} running tasks on ${s.name}`, async () => (await runningTasks(s, SCALE_SVC)).length === n, 120_000, 20);
  return secondsSince(t0) * 1000;
}

/** Back to one replica, and the others' containers gone, so the next round starts alike. */
async function scaleDown(s: Subject): Promise<void> {
  await scale(s, SCALE_SVC, 1);
  await waitFor(`1 running task on ${s.name}`, async () => (await runningTasks(s, SCALE_SVC)).length === 1 && (await tasksOf(s, SCALE_SVC, 'running')).length === 1, 120_000, 100);
  await waitFor(`the scaled-down containers on ${s.name} to go`, async () => {
    const r = await dockerRun(s, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${SCALE_SVC}`]);
    return r.stdout.trim().split('\n').filter(Boolean).length === 1;
  }, 120_000, 200);
}

/** MiB/s of CONNS simultaneous downloads of the big file from url (from inside the client namespace). */
async function throughput(c: Client, url: string): Promise<number> {
  const t0 = hrnow();
  const rs = await Promise.all(Array.from({ length: CONNS }, () => runCmd('nsenter', [`--net=/var/run/netns/${c.netns}`, 'curl', '-s', '-o', '/dev/null', '-w', '%{size_download}', url])));
  const seconds = secondsSince(t0);
  for (const r of rs) if (r.code !== 0 || Number(r.stdout.trim()) !== FILE_MIB * 1024 * 1024) throw new Error(`curl ${url}: exit ${r.code}, ${r.stdout} ${r.stderr}`);
  return (CONNS * FILE_MIB) / seconds;
}

/** Per-request ms to each URL, alternating between them, a new connection each time; from inside the client namespace. */
async function latencies(c: Client, urls: [string, string], n: number): Promise<[number[], number[]]> {
  const js = `
    const http = require('http');
    const once = (u) => new Promise((res, rej) => {
      const t0 = process.hrtime.bigint();
      http.get(u, { agent: false }, (r) => { r.resume(); r.on('end', () => r.statusCode === 200 ? res(Number(process.hrtime.bigint() - t0) / 1e6) : rej(new Error(u + ': ' + r.statusCode))); }).on('error', rej);
    });
    (async () => {
      const urls = ${JSON.stringify(urls)};
      const out = [[], []];
      for (const u of urls) await once(u);
      for (let i = 0; i < ${n}; i++) for (const k of i % 2 ? [1, 0] : [0, 1]) out[k].push(await once(urls[k]));
      console.log(JSON.stringify(out));
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  const r = await runCmd('nsenter', [`--net=/var/run/netns/${c.netns}`, process.execPath, '-e', js]);
  if (r.code !== 0) throw new Error(`latency client: ${r.stderr}`);
  return JSON.parse(r.stdout) as [number[], number[]];
}

/** ms from SIGKILL of one replica's main process until its slot's new task container runs. */
async function replacement(s: Subject): Promise<number> {
  const tasks = await waitFor(`${REPLICAS} running tasks`, async () => {
    const ts = await runningTasks(s, SVC);
    return ts.length === REPLICAS && ts.every((t) => t.Status.ContainerStatus?.ContainerID) ? ts : undefined;
  }, 60_000, 100);
  const victim = tasks[0]!;
  const c = (await apiOk(s, 'GET', `/containers/${victim.Status.ContainerStatus!.ContainerID}/json`)).json<{ State: { Pid: number } }>();
  const t0 = hrnow();
  process.kill(c.State.Pid, 'SIGKILL');
  await waitFor('the replacement to run', async () => {
    const next = (await tasksOf(s, SVC)).find((t) => t.Slot === victim.Slot && t.ID !== victim.ID && t.Status.State === 'running');
    const id = next?.Status.ContainerStatus?.ContainerID;
    if (!id) return false;
    return (await apiOk(s, 'GET', `/containers/${id}/json`)).json<{ State: { Running: boolean } }>().State.Running;
  }, 30_000, 20);
  return secondsSince(t0) * 1000;
}

/** `docker swarm init` unless the daemon is a manager already. */
async function ensureSwarm(s: Subject, advertise?: string): Promise<void> {
  const info = (await apiOk(s, 'GET', '/info')).json<{ Swarm?: { LocalNodeState?: string } }>();
  if (info.Swarm?.LocalNodeState === 'active') return;
  await dockerOk(s, ['swarm', 'init', ...(advertise ? ['--advertise-addr', advertise] : [])]);
}

/**
 * A dockerd in swarm mode, in a network namespace of its own, advertising
 * 198.18.0.1 (the benchmarking range) on a veth there; or why not.
 */
async function swarmDockerd(pier: Subject): Promise<{ real: Dockerd; s: Subject } | { why: string }> {
  let real: (Dockerd & { netnsPath?: string }) | undefined;
  try {
    real = await startDockerd('overlay2', { netns: true });
    const ns = real.netnsPath!.split('/').pop()!;
    // No dummy driver in this kernel: a veth pair with both ends in the namespace serves as well.
    for (const args of [['link', 'add', 'bench0', 'type', 'veth', 'peer', 'name', 'bench1'], ['addr', 'add', '198.18.0.1/24', 'dev', 'bench0'], ['link', 'set', 'bench1', 'up'], ['link', 'set', 'bench0', 'up']]) {
      const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    }
    const s: Subject = { name: 'dockerd', host: real.host, sock: real.sock, pid: real.proc.pid!, readyAt: Date.now() };
    const load = spawnSync('sh', ['-c', `"${dockerCli()}" -H ${pier.host} save ${IMAGE} | "${dockerCli()}" -H ${s.host} load -q`], { env: cliEnv(), encoding: 'utf8' });
    if (load.status !== 0) throw new Error(`loading busybox: ${load.stderr}`);
    await ensureSwarm(s, '198.18.0.1');
    return { real, s };
  } catch (e) {
    await real?.stop();
    return { why: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  }
}

export const servicesBench: Bench<Subjects> = {
  area: 'services',
  title: 'Services: published port vs direct (throughput, added latency), replacement of a killed replica, scaling to 20',
  async run(subjects, o) {
    const pier = subjects.pier;
    await ensureBusybox(subjects);
    await ensureSwarm(pier);
    const client = clientNetns();
    const samples: Record<string, number[]> = {};
    const push = (k: string, v: number) => (samples[k] ??= []).push(v);
    const notes: string[] = [];
    const metrics: Metric[] = [];
    let docker: { real: Dockerd; s: Subject } | { why: string } | undefined;
    try {
      const port = await freePort();
      await dockerOk(pier, [
        'service', 'create', '--detach', '--no-resolve-image', '--name', SVC, '--replicas', String(REPLICAS), '--restart-delay', '0s', '-p', `${port}:80`, IMAGE, 'sh', '-c',
        `mkdir -p /w && dd if=/dev/zero of=/w/big bs=1M count=${FILE_MIB} 2>/dev/null && echo ok > /w/small && exec httpd -f -p 80 -h /w`,
      ]);
      const tasks = await waitFor(`${REPLICAS} running tasks`, async () => {
        const ts = await runningTasks(pier, SVC);
        return ts.length === REPLICAS ? ts : undefined;
      }, 120_000, 200);
      const one = (await apiOk(pier, 'GET', `/containers/${tasks[0]!.Status.ContainerStatus!.ContainerID}/json`)).json<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>();
      const directIp = Object.values(one.NetworkSettings.Networks).map((n) => n.IPAddress).find(Boolean);
      if (!directIp) throw new Error('the replica has no IPv4 address');
      const via = { published: `http://${client.hostIp}:${port}`, direct: `http://${directIp}:80` };
      // Every replica has written its file and listens: each answers /small directly, and the port does.
      for (const t of tasks) {
        const c = (await apiOk(pier, 'GET', `/containers/${t.Status.ContainerStatus!.ContainerID}/json`)).json<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>();
        const ip = Object.values(c.NetworkSettings.Networks).map((n) => n.IPAddress).find(Boolean);
        await waitFor(`replica ${ip}`, async () => (await runCmd('nsenter', [`--net=/var/run/netns/${client.netns}`, 'curl', '-sf', `http://${ip}:80/small`])).code === 0, 60_000, 200);
      }
      await waitFor('the published port', async () => (await runCmd('nsenter', [`--net=/var/run/netns/${client.netns}`, 'curl', '-sf', `${via.published}/small`])).code === 0, 30_000, 200);

      // (a) throughput
      const sides = [
        { name: 'published MiB/s', url: `${via.published}/big` },
        { name: 'direct MiB/s', url: `${via.direct}/big` },
      ];
      for (const x of sides) await throughput(client, x.url); // warm-up
      const tpRounds = o.quick ? 2 : 7;
      for (let round = 0; round < tpRounds; round++) for (const x of rotation(sides, round)) push(x.name, await throughput(client, x.url));
      o.progress(sides.map((x) => `${x.name.replace(' MiB/s', '')} ${median(samples[x.name]!).toFixed(0)} MiB/s`).join(', '));

      // (b) latency
      const latRounds = o.quick ? 1 : 5;
      for (let round = 0; round < latRounds; round++) {
        const [pub, dir] = await latencies(client, [`${via.published}/small`, `${via.direct}/small`], o.quick ? 50 : LATENCY_REQUESTS);
        for (const v of pub) push('published request ms', v);
        for (const v of dir) push('direct request ms', v);
      }
      const p50 = (k: string) => median(samples[k]!);
      o.progress(`p50 published ${p50('published request ms').toFixed(3)} ms, direct ${p50('direct request ms').toFixed(3)} ms`);

      // (c) replacement of a killed replica
      const killRounds = o.quick ? 2 : 7;
      for (let i = 0; i < killRounds; i++) {
        push('replacement ms', await replacement(pier));
        await sleep(300);
      }
      o.progress(`killed replica running again after ${p50('replacement ms').toFixed(0)} ms (median of ${killRounds})`);
      await dockerOk(pier, ['service', 'rm', SVC]);

      // (d) scaling to 20
      docker = await swarmDockerd(pier);
      const scaleSides: Subject[] = [pier, ...('s' in docker ? [docker.s] : [])];
      if ('why' in docker) notes.push(`dockerd's swarm could not run here (${docker.why}): Pier's scaling figure alone`);
      for (const s of scaleSides) {
        await dockerOk(s, ['service', 'create', '--detach', '--no-resolve-image', '--name', SCALE_SVC, '--replicas', '1', IMAGE, 'sleep', '3600']);
        await waitFor(`1 running task on ${s.name}`, async () => (await runningTasks(s, SCALE_SVC)).length === 1, 60_000, 100);
      }
      const scaleRounds = o.quick ? 1 : 3;
      for (let round = 0; round < scaleRounds; round++)
        for (const s of rotation(scaleSides, round)) {
          push(`${s.name} scale ms`, await timeScale(s, SCALE_TO));
          await scaleDown(s);
        }
      o.progress(scaleSides.map((s) => `${s.name} 1 → ${SCALE_TO} in ${p50(`${s.name} scale ms`).toFixed(0)} ms`).join(', '));
      for (const s of scaleSides) await dockerRun(s, ['service', 'rm', SCALE_SVC]);

      metrics.push(
        metric({ name: `TCP throughput, ${CONNS} streams`, unit: 'MiB/s', pierLabel: 'published', dockerLabel: 'direct', pier: p50('published MiB/s'), docker: p50('direct MiB/s'), higherIsBetter: true, goal: { on: 'ratio', min: 0.8 } }),
        metric({ name: 'HTTP request p50, a new connection each', unit: 'ms', pierLabel: 'published', dockerLabel: 'direct', pier: p50('published request ms'), docker: p50('direct request ms') }),
        metric({ name: '  added by the published port (p50 difference)', unit: 'ms', pierLabel: 'pier', dockerLabel: '—', pier: p50('published request ms') - p50('direct request ms'), docker: NaN, goal: { on: 'pier', max: 0.5 } }),
        metric({ name: 'a killed replica running again', unit: 'ms', pierLabel: 'pier', dockerLabel: '—', pier: p50('replacement ms'), docker: NaN, goal: { on: 'pier', max: 2000 } }),
        metric({ name: `scale a service 1 → ${SCALE_TO} replicas (all running)`, unit: 'ms', pier: p50('pier scale ms'), docker: samples['dockerd scale ms'] ? p50('dockerd scale ms') : NaN }),
      );
      notes.push(
        `${REPLICAS} replicas of busybox httpd; client: a network namespace on a veth routed through the host; ${tpRounds} interleaved throughput rounds of ${CONNS}×${FILE_MIB} MiB (through the port the streams spread over the replicas, directly all go to one)`,
        `${latRounds}×${o.quick ? 50 : LATENCY_REQUESTS} request pairs (Node http.get, agent: false), published and direct alternating`,
        `replacement: ${killRounds} kills, --restart-delay 0s, until the slot's new task and its container run (API polled every 20 ms); scaling: ${scaleRounds} rounds, tasks polled through the API`,
      );
      return { metrics, samples, notes };
    } finally {
      for (const svc of [SVC, SCALE_SVC]) await dockerRun(pier, ['service', 'rm', svc]).catch(() => undefined);
      if (docker && 'real' in docker) await docker.real.stop();
      client.remove();
    }
  },
};
