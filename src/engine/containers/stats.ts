/**
 * `GET /containers/{id}/stats` in Docker's JSON: cgroup figures (cpu, memory,
 * pids, blkio) plus network counters from the container's namespace, with
 * the previous sample as precpu_stats so clients can compute CPU %.
 * A one-shot read without a stream samples twice, 250 ms apart (Docker waits
 * a full second), so CPU % is meaningful at once.
 */
import { netStats } from '../../runtime/netstats.js';
import type { CgroupStats } from '../../runtime/cgroups.js';
import { ZERO_TIME, nowIso, type ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';

type Sample = CgroupStats & { read: string; networks?: Record<string, unknown> };

const EMPTY_CPU: CgroupStats['cpu_stats'] = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };

async function sample(svc: ContainerService, c: ContainerRecord): Promise<Sample | undefined> {
  if (!c.state.Running) return undefined;
  try {
    const s = await svc.cgroup(c.id).stats();
    const nets = c.hostConfig.NetworkMode === 'host' || !c.state.Pid ? undefined : await netStats(c.state.Pid).catch(() => undefined);
    return { ...s, read: nowIso(), ...(nets && Object.keys(nets).length ? { networks: nets } : {}) };
  } catch {
    return undefined; // stopped meanwhile
  }
}

function doc(c: ContainerRecord, cur: Sample | undefined, pre: Sample | undefined): object {
  return {
    name: `/${c.name}`, id: c.id,
    read: cur?.read ?? ZERO_TIME, preread: pre?.read ?? ZERO_TIME,
    pids_stats: cur?.pids_stats ?? {}, blkio_stats: cur?.blkio_stats ?? { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0, storage_stats: {},
    cpu_stats: cur?.cpu_stats ?? EMPTY_CPU, precpu_stats: pre?.cpu_stats ?? EMPTY_CPU,
    memory_stats: cur?.memory_stats ?? {},
    ...(cur?.networks ? { networks: cur.networks } : {}),
  };
}

export async function stats(
  svc: ContainerService, c: ContainerRecord,
  o: { stream: boolean; oneShot: boolean; signal?: AbortSignal },
  write: (doc: object) => void,
): Promise<void> {
  let pre: Sample | undefined;
  if (!o.stream) {
    if (!o.oneShot && c.state.Running) {
      pre = await sample(svc, c);
      await sleep(250, o.signal);
    }
    write(doc(c, await sample(svc, c), pre));
    return;
  }
  while (!o.signal?.aborted) {
    const cur = await sample(svc, c);
    write(doc(c, cur, pre));
    pre = cur;
    await sleep(1000, o.signal);
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
