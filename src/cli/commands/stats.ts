// pier stats: per-container samples of GET /containers/{id}/stats turned into
// docker's CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O and PIDS
// (cli/command/container/stats_helpers.go), printed once (--no-stream) or
// redrawn in place every 500ms.

import { JSONValueSplitter } from '../../client/client.js';
import { ApiError } from '../../client/errors.js';
import type { CPUStats, EventMessage, StatsResponse } from '../../client/types.js';
import { formatHelp, StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';
import { formatRows, truncateID } from '../formatter.js';
import { bytesSize, humanSizeWithPrecision } from '../units.js';
import { clientConfig } from './run.js';

export interface StatsEntry {
  Container: string;
  Name: string;
  ID: string;
  CPUPercentage: number;
  Memory: number;
  MemoryLimit: number;
  MemoryPercentage: number;
  NetworkRx: number;
  NetworkTx: number;
  BlockRead: number;
  BlockWrite: number;
  PidsCurrent: number;
  IsInvalid: boolean;
}

export function calculateCPUPercentUnix(previous: CPUStats | undefined, current: CPUStats | undefined): number {
  const cpuDelta = (current?.cpu_usage?.total_usage ?? 0) - (previous?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (current?.system_cpu_usage ?? 0) - (previous?.system_cpu_usage ?? 0);
  let online = current?.online_cpus ?? 0;
  if (online === 0) online = current?.cpu_usage?.percpu_usage?.length ?? 0;
  if (systemDelta > 0 && cpuDelta > 0) return (cpuDelta / systemDelta) * online * 100;
  return 0;
}

/** Memory in use without the page cache: usage - total_inactive_file (cgroup v1) or - inactive_file (v2). */
export function calculateMemUsageUnixNoCache(mem: StatsResponse['memory_stats']): number {
  const usage = mem?.usage ?? 0;
  const stats = mem?.stats ?? {};
  const v1 = stats['total_inactive_file'];
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = stats['inactive_file'] ?? 0;
  if (v2 < usage) return usage - v2;
  return usage;
}

export function calculateBlockIO(blkio: StatsResponse['blkio_stats']): [number, number] {
  let read = 0;
  let write = 0;
  for (const e of blkio?.io_service_bytes_recursive ?? []) {
    const c = e.op[0];
    if (c === 'r' || c === 'R') read += e.value;
    else if (c === 'w' || c === 'W') write += e.value;
  }
  return [read, write];
}

export function calculateNetwork(networks: StatsResponse['networks']): [number, number] {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return [rx, tx];
}

/** One sample → the numbers docker shows (Linux daemons). */
export function statsEntry(container: string, v: StatsResponse): StatsEntry {
  const mem = calculateMemUsageUnixNoCache(v.memory_stats);
  const limit = v.memory_stats?.limit ?? 0;
  const [rx, tx] = calculateNetwork(v.networks);
  const [br, bw] = calculateBlockIO(v.blkio_stats);
  return {
    Container: container,
    Name: v.name ?? '',
    ID: v.id ?? '',
    CPUPercentage: calculateCPUPercentUnix(v.precpu_stats, v.cpu_stats),
    Memory: mem,
    MemoryLimit: limit,
    MemoryPercentage: limit !== 0 ? (mem / limit) * 100 : 0,
    NetworkRx: rx,
    NetworkTx: tx,
    BlockRead: br,
    BlockWrite: bw,
    PidsCurrent: v.pids_stats?.current ?? 0,
    IsInvalid: false,
  };
}

/** strconv.FormatFloat(x, 'f', 2, 64): like toFixed(2), but ties go to even as Go's exact rounding does. */
export function formatPercentage(x: number): string {
  let s = x.toFixed(2);
  // Binary values exactly halfway at the third decimal are multiples of 1/8 (0.125, 0.375, …).
  if (Number.isInteger(x * 8) && !Number.isInteger(x * 4)) {
    const lower = Math.floor(x * 100);
    s = ((lower % 2 === 0 ? lower : lower + 1) / 100).toFixed(2);
  }
  return `${s}%`;
}

export const statsHeaders: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** statsContext: the template fields, JSON keys in docker's (sorted) order. */
export function statsRow(s: StatsEntry, trunc: boolean) {
  const bad = s.IsInvalid;
  return {
    BlockIO: bad ? '--' : `${humanSizeWithPrecision(s.BlockRead, 3)} / ${humanSizeWithPrecision(s.BlockWrite, 3)}`,
    CPUPerc: bad ? '--' : formatPercentage(s.CPUPercentage),
    Container: s.Container,
    ID: trunc ? truncateID(s.ID) : s.ID,
    MemPerc: bad ? '--' : formatPercentage(s.MemoryPercentage),
    MemUsage: bad ? '-- / --' : `${bytesSize(s.Memory)} / ${bytesSize(s.MemoryLimit)}`,
    Name: s.Name.length > 1 ? s.Name.slice(1) : '--',
    NetIO: bad ? '--' : `${humanSizeWithPrecision(s.NetworkRx, 3)} / ${humanSizeWithPrecision(s.NetworkTx, 3)}`,
    PIDs: bad ? '--' : String(s.PidsCurrent),
  };
}

export function renderStats(format: string, entries: StatsEntry[], trunc: boolean): string {
  const f = format === 'table' ? DEFAULT_FORMAT : format;
  return formatRows(f, entries.map((e) => statsRow(e, trunc)), statsHeaders, { typeName: '*container.statsContext', marshalJSON: true });
}

/** One frame of the live table, byte for byte as docker 28 writes it (the table, then again with erase-line codes). */
export function liveFrame(table: string): string {
  const first = `\x1b[H${table}`;
  let s = first;
  for (const line of first.split('\n')) s += `${line} \x1b[K\n`;
  return `${s}\x1b[J`;
}

/** A container being watched: its latest numbers, or an error. */
class Collector {
  entry: StatsEntry;
  error: Error | undefined;
  readonly first: Promise<void>;
  private resolveFirst!: () => void;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly container: string) {
    this.entry = { Container: container, Name: '', ID: '', CPUPercentage: 0, Memory: 0, MemoryLimit: 0, MemoryPercentage: 0, NetworkRx: 0, NetworkTx: 0, BlockRead: 0, BlockWrite: 0, PidsCurrent: 0, IsInvalid: false };
    this.first = new Promise((r) => (this.resolveFirst = r));
  }

  private setError(e: Error) {
    this.error = e;
    this.entry = { ...this.entry, IsInvalid: true };
  }

  /** No sample for 2s: docker zeroes the numbers and shows "--". */
  private armTimeout() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.error = new Error('timeout waiting for stats');
      this.entry = { ...this.entry, CPUPercentage: 0, Memory: 0, MemoryPercentage: 0, MemoryLimit: 0, NetworkRx: 0, NetworkTx: 0, BlockRead: 0, BlockWrite: 0, PidsCurrent: 0, IsInvalid: true };
      this.resolveFirst();
      if (this.stream) this.armTimeout();
    }, 2000);
    this.timer.unref();
  }

  private stream = false;

  async run(ctx: Ctx, stream: boolean): Promise<void> {
    this.stream = stream;
    this.armTimeout();
    try {
      const res = await ctx.client().containerStats(this.container, stream, this.abort.signal);
      res.body.setEncoding('utf8');
      const split = new JSONValueSplitter();
      for await (const chunk of res.body) {
        for (const text of split.push(chunk as string)) {
          const v = JSON.parse(text) as StatsResponse;
          this.entry = statsEntry(this.container, v);
          this.error = undefined;
          this.resolveFirst();
          if (!stream) {
            this.stop();
            return;
          }
          this.armTimeout();
        }
      }
      this.setError(new Error('EOF'));
    } catch (e) {
      if ((e as Error).name !== 'AbortError') this.setError(e as Error);
    } finally {
      clearTimeout(this.timer);
      this.resolveFirst();
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.abort.abort();
  }
}

async function runStats(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const noStream = f.values['no-stream'] === true;
  const all = f.values['all'] === true;
  const trunc = f.values['no-trunc'] !== true;
  const format = (f.values['format'] as string) || clientConfig(ctx.io.env).statsFormat || 'table';
  const client = ctx.client();
  const collectors: Collector[] = [];
  const add = (id: string) => {
    if (collectors.some((c) => c.container === id)) return;
    const c = new Collector(id);
    collectors.push(c);
    void c.run(ctx, !noStream);
  };
  const showAll = f.args.length === 0;
  let eventsError: Error | undefined;
  const eventsAbort = new AbortController();
  if (showAll) {
    // Subscribe before listing, so no container started in between is missed.
    const events = client.events({ filters: { type: { container: true } }, signal: eventsAbort.signal });
    void (async () => {
      try {
        for await (const e of events as AsyncGenerator<EventMessage>) {
          const id = e.Actor?.ID;
          if (!id) continue;
          // docker watches containers by their short ID when it lists them itself.
          if (e.Action === 'start' || (all && e.Action === 'create')) add(id.slice(0, 12));
          else if (!all && e.Action === 'die') {
            const i = collectors.findIndex((c) => c.container === id.slice(0, 12));
            if (i !== -1) collectors.splice(i, 1)[0]!.stop();
          }
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') eventsError = err as Error;
      }
    })();
    for (const c of await client.containerList({ all })) add(c.Id.slice(0, 12));
    await Promise.all(collectors.map((c) => c.first));
  } else {
    for (const name of f.args) add(name);
    await Promise.all(collectors.map((c) => c.first));
    const errs = collectors.filter((c) => c.error).map((c) => (c.error instanceof ApiError ? c.error.toString() : c.error!.message));
    if (errs.length) {
      collectors.forEach((c) => c.stop());
      throw new StatusError(1, errs.join('\n'));
    }
  }

  if (noStream) {
    eventsAbort.abort();
    collectors.forEach((c) => c.stop());
    if (collectors.length === 0) return 0;
    ctx.out(renderStats(format, collectors.map((c) => c.entry), trunc));
    return 0;
  }
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    if (eventsError) {
      if (eventsError.message === 'unexpected EOF') return 0;
      throw eventsError;
    }
    const entries = collectors.map((c) => c.entry);
    ctx.out(liveFrame(renderStats(format, entries, trunc)));
    if (entries.length === 0 && !showAll) return 0;
  }
}

export const commands: Record<string, CommandDef> = {
  stats: {
    use: 'stats [OPTIONS] [CONTAINER...]',
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'no-stream', type: 'bool', usage: 'Disable streaming stats and only pull the first result' },
      { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
    ],
    args: { min: 0 },
    run: runStats,
  },
};
