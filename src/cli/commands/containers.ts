// Container commands that are one request (or one per container): ps/ls, rm,
// stop, restart, kill, wait, pause, unpause, rename, top, diff, export, commit,
// container prune, container inspect, logs, port, update.

import { createWriteStream } from 'node:fs';
import { rename as fsRename, rm as fsRm } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ApiError, errText, isNotFound } from '../../client/errors.js';
import type { ContainerListItem, ContainerUpdateRequest, PortSummary } from '../../client/types.js';
import { familiar, parseReference, trimNamed, name as refName, withDefaultTag } from '../../image/reference.js';
import { formatHelp, goTime, StatusError, type CommandDef, type Ctx } from '../command.js';
import { goQuote, toFilters, validateFilter, type FlagSpec, type ParsedFlags } from '../flags.js';
import { asStruct, ellipsis, formatRows, parseTemplate, truncateID, writeInspect } from '../formatter.js';
import { tabwrite, TemplateError } from '../format/template.js';
import { Demultiplexer } from '../hijack.js';
import { humanDuration, humanSize, humanSizeWithPrecision } from '../units.js';
import { parseCPUs, parseRestartPolicy, ramInBytes } from './container-opts.js';
import { getTimestamp } from './events.js';
import { clientConfig } from './run.js';
import { confirm, pathError } from './images.js';

// --- ps -----------------------------------------------------------------------------------

export const containerHeaders: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM',
};

/** Go's strconv.Quote for the printable text a command line is. */
function goStrconvQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/\\u001b/g, '\\x1b').replace(/\\u0000/g, '\\x00');
}

/** net.JoinHostPort. */
const joinHostPort = (host: string, port: string | number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** formatter.DisplayablePorts: "0.0.0.0:8080->80/tcp, 9000-9001/tcp". */
export function displayablePorts(ports: readonly PortSummary[]): string {
  const sorted = [...ports].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    const ai = a.IP ?? '';
    const bi = b.IP ?? '';
    if (ai !== bi) return ai < bi ? -1 : 1;
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, start: number, last: number) => {
    const parts = key.split('/');
    let type = parts[0]!;
    let ip = '';
    if (parts.length > 1) {
      ip = parts[0]!;
      type = parts[1]!;
    }
    let group = String(start);
    if (start !== last) group = `${group}-${last}`;
    if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of sorted) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    // Re-inserting keeps the key's first position, as docker's key list does.
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  result.push(...hostMappings);
  return result.join(', ');
}

/** ContainerContext.Image: familiar, tag kept, digest dropped when truncating. */
function displayImage(c: ContainerListItem, trunc: boolean): string {
  if (!c.Image) return '<no image>';
  if (!trunc) return c.Image;
  if (truncateID(c.ImageID ?? '') === truncateID(c.Image)) return truncateID(c.Image);
  try {
    const ref = parseReference(c.Image);
    return familiar(ref.tag !== undefined ? { ...trimNamed(ref), tag: ref.tag } : trimNamed(ref));
  } catch {
    return c.Image;
  }
}

export interface ContainerRow {
  Command: string;
  CreatedAt: string;
  ID: string;
  Image: string;
  Labels: string;
  LocalVolumes: string;
  Mounts: string;
  Names: string;
  Networks: string;
  Platform: { architecture: string; os: string; variant?: string } | null;
  Ports: string;
  RunningFor: string;
  Size: string;
  State: string;
  Status: string;
}

/** The rows of `ps`, one per container, with docker's ContainerContext fields (and .Label). */
export function containerRows(list: readonly ContainerListItem[], o: { trunc: boolean; now?: number }): ContainerRow[] {
  const now = o.now ?? Date.now();
  return list.map((c) => {
    let names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
    if (o.trunc) {
      const first = names.find((n) => !n.includes('/'));
      if (first !== undefined) names = [first];
    }
    const labels = c.Labels ?? {};
    const mounts = (c.Mounts ?? []).map((m) => {
      const n = m.Name ? m.Name : m.Source ?? '';
      return o.trunc ? ellipsis(n, 15) : n;
    });
    const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
    const row: ContainerRow = {
      Command: goStrconvQuote(o.trunc ? ellipsis(c.Command, 20) : c.Command),
      CreatedAt: goTime(new Date(c.Created * 1000), 'string'),
      ID: o.trunc ? truncateID(c.Id) : c.Id,
      Image: displayImage(c, o.trunc),
      Labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(','),
      LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
      Mounts: mounts.join(','),
      Names: names.join(','),
      Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
      Platform: c.ImageManifestDescriptor?.platform ?? null,
      Ports: displayablePorts(c.Ports ?? []),
      RunningFor: `${humanDuration(now - c.Created * 1000)} ago`,
      Size: (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSizeWithPrecision(c.SizeRootFs!, 3)})` : srw,
      State: c.State,
      Status: c.Status,
    };
    // A method in docker's context: {{.Label "com.example.x"}} (JSON leaves functions out).
    (row as ContainerRow & { Label(name: string): string }).Label = (name: string) => labels[name] ?? '';
    return row;
  });
}

/** formatter.NewContainerFormat. */
export function containerFormat(source: string, quiet: boolean, size: boolean): string {
  if (source === '' || source === 'table') {
    if (quiet) return '{{.ID}}';
    return 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}' + (size ? '\t{{.Size}}' : '');
  }
  if (source === 'raw') {
    if (quiet) return 'container_id: {{.ID}}';
    return 'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n' + (size ? 'size: {{.Size}}\n' : '');
  }
  if (quiet) return '{{.ID}}';
  return source;
}

async function runPs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const v = f.values;
  const quiet = v['quiet'] === true;
  const format = (v['format'] as string) || clientConfig(ctx.io.env).psFormat || '';
  let size = v['size'] === true;
  let limit = v['last'] as number;
  if (v['latest'] === true && limit === -1) limit = 1;
  if (format) {
    // docker parses and runs the template on an empty container first (and asks
    // for sizes only when the template shows them: they cost the daemon a walk of the layer).
    const tmpl = parseTemplate(format, 'failed to parse template', 1);
    const empty = asStruct({ ...containerRows([{ Id: '', Names: null, Image: '', Command: '', Created: 0, State: '', Status: '' }], { trunc: false })[0]! }, '*formatter.ContainerContext');
    try {
      tmpl.execute(empty);
    } catch (e) {
      if (e instanceof TemplateError) throw new StatusError(1, `failed to execute template: ${e.message}`);
      throw e;
    }
    if (!quiet && !size && !f.changed.has('size') && (/\.Size\b/.test(format) || /\{\{-?\s*json\s+\.\s*-?\}\}/.test(format))) size = true;
  }
  const list = await ctx.client().containerList({ all: v['all'] === true, limit, size, filters: toFilters(v['filter'] as string[]) });
  const rows = containerRows(list, { trunc: v['no-trunc'] !== true });
  ctx.out(formatRows(containerFormat(format, quiet, size), rows, containerHeaders, { typeName: '*formatter.ContainerContext', marshalJSON: true }));
  return 0;
}

// --- rm, stop, restart, kill, pause, unpause, wait ------------------------------------------

/**
 * Run `op` on every container (concurrently, as docker's parallelOperation),
 * printing each name that succeeds in the given order; errors are collected and
 * reported together at the end, one per line (errors.Join), exit 1.
 */
async function eachContainer(ctx: Ctx, names: readonly string[], op: (name: string) => Promise<void>, onError?: (name: string, e: unknown) => boolean): Promise<number> {
  const results = await Promise.all(names.map((n) => op(n).then(() => undefined, (e: unknown) => e)));
  const errs: string[] = [];
  names.forEach((n, i) => {
    const e = results[i];
    if (e === undefined) ctx.out(`${n}\n`);
    else if (!onError?.(n, e)) {
      if (!(e instanceof Error)) throw e;
      errs.push(errText(e));
    }
  });
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

async function runRm(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const force = f.values['force'] === true;
  const client = ctx.client();
  return eachContainer(ctx, f.args, async (name) => {
    const n = name.replace(/^\/+|\/+$/g, '');
    if (n === '') throw new Error('container name cannot be empty');
    await client.containerRemove(n, { force, volumes: f.values['volumes'] === true, link: f.values['link'] === true });
  }, (_n, e) => {
    if (force && isNotFound(e)) {
      ctx.err(`${(e as ApiError).toString()}\n`);
      return true;
    }
    return false;
  });
}

async function runStopLike(ctx: Ctx, f: ParsedFlags, action: 'stop' | 'restart'): Promise<number> {
  const client = ctx.client();
  const o: { signal?: string; timeout?: number } = {};
  if (f.values['signal']) o.signal = f.values['signal'] as string;
  if (f.changed.has('timeout') || f.changed.has('time')) o.timeout = f.values[f.changed.has('timeout') ? 'timeout' : 'time'] as number;
  return eachContainer(ctx, f.args, (name) => client.containerStop(name, o, action));
}

async function runKill(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  return eachContainer(ctx, f.args, (name) => client.containerKill(name, f.values['signal'] as string));
}

async function runPause(ctx: Ctx, f: ParsedFlags, pause: boolean): Promise<number> {
  const client = ctx.client();
  return eachContainer(ctx, f.args, (name) => client.containerPause(name, pause));
}

async function runWait(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const waits = await Promise.all(f.args.map((n) => client.containerWait(n).then((w) => w.result).then(
    (r) => ({ r }), (e: unknown) => ({ e }),
  )));
  const errs: string[] = [];
  for (const w of waits) {
    if ('r' in w) ctx.out(`${w.r.StatusCode}\n`);
    else errs.push(w.e instanceof ApiError ? w.e.toString() : (w.e as Error).message);
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

// --- rename, top, diff, port ----------------------------------------------------------------

async function runRename(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const oldName = f.args[0]!.trim();
  const newName = f.args[1]!.trim();
  if (oldName === '' || newName === '') throw new StatusError(1, 'Error: Neither old nor new names may be empty');
  try {
    await ctx.client().containerRename(oldName, newName);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    ctx.err(`${e.toString()}\n`);
    throw new StatusError(1, `Error: failed to rename container named ${oldName}`);
  }
  return 0;
}

async function runTop(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const top = await ctx.client().containerTop(f.args[0]!, f.args.slice(1));
  let text = `${(top.Titles ?? []).join('\t')}\n`;
  for (const p of top.Processes ?? []) text += `${p.join('\t')}\n`;
  // docker's tabwriter here: minwidth 20, padding 3.
  ctx.out(tabwrite(text.replace(/\n$/, ''), 20, 3) + '\n');
  return 0;
}

async function runDiff(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const changes = await ctx.client().containerChanges(f.args[0]!);
  const kinds = ['C', 'A', 'D'];
  for (const c of changes) ctx.out(`${kinds[c.Kind] ?? '?'} ${c.Path}\n`);
  return 0;
}

/** sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  while (i < a.length && j < b.length) {
    const ca = a[i]!;
    const cb = b[j]!;
    if (isDigit(ca) && isDigit(cb)) {
      let ei = i;
      while (isDigit(a[ei])) ei++;
      let ej = j;
      while (isDigit(b[ej])) ej++;
      const na = a.slice(i, ei).replace(/^0+/, '');
      const nb = b.slice(j, ej).replace(/^0+/, '');
      if (na.length !== nb.length) return na.length < nb.length;
      if (na !== nb) return na < nb;
      if (ei - i !== ej - j) return ei - i < ej - j;
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca < cb;
    i++;
    j++;
  }
  return a.length - i < b.length - j;
}

async function runPort(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [name, spec] = f.args as [string, string | undefined];
  const c = await ctx.client().containerInspect(name);
  const ports = c.NetworkSettings?.Ports ?? {};
  const out: string[] = [];
  if (spec) {
    const i = spec.indexOf('/');
    const port = i === -1 ? spec : spec.slice(0, i);
    const proto = (i === -1 ? '' : spec.slice(i + 1)) || 'tcp';
    if (!/^\d+$/.test(port)) throw new StatusError(1, `Error: invalid port (${port}): strconv.ParseUint: parsing ${goQuote(port)}: invalid syntax`);
    if (Number(port) > 65535) throw new StatusError(1, `Error: invalid port (${port}): strconv.ParseUint: parsing ${goQuote(port)}: value out of range`);
    const frontends = ports[`${port}/${proto}`];
    if (!frontends || frontends.length === 0) throw new StatusError(1, `Error: No public port '${spec}' published for ${name}`);
    for (const fe of frontends) out.push(joinHostPort(fe.HostIp, fe.HostPort));
  } else {
    for (const [from, frontends] of Object.entries(ports)) {
      for (const fe of frontends ?? []) out.push(`${from} -> ${joinHostPort(fe.HostIp, fe.HostPort)}`);
    }
  }
  if (out.length) {
    out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
    ctx.out(`${out.join('\n')}\n`);
  }
  return 0;
}

// --- logs -------------------------------------------------------------------------------------

async function copyOut(src: Readable, out: Writable): Promise<void> {
  for await (const chunk of src) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
}

async function runLogs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const v = f.values;
  const client = ctx.client();
  const c = await client.containerInspect(f.args[0]!);
  const o: Parameters<typeof client.containerLogs>[1] = {
    follow: v['follow'] === true,
    timestamps: v['timestamps'] === true,
    details: v['details'] === true,
    tail: v['tail'] as string,
  };
  for (const k of ['since', 'until'] as const) {
    if (!v[k]) continue;
    try {
      o[k] = getTimestamp(v[k] as string);
    } catch (e) {
      throw new StatusError(1, `invalid value for ${JSON.stringify(k)}: ${(e as Error).message}`);
    }
  }
  const res = await client.containerLogs(c.Id, o);
  if (c.Config.Tty) {
    await copyOut(res.body, ctx.io.stdout);
    return 0;
  }
  const demux = new Demultiplexer(ctx.io.stdout, ctx.io.stderr);
  for await (const chunk of res.body) {
    if (!demux.push(chunk as Buffer)) await once(ctx.io.stdout, 'drain');
  }
  return 0;
}

// --- export, commit, prune, inspect -----------------------------------------------------------

async function runExport(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const output = f.values['output'] as string;
  if (!output && ctx.io.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const res = await ctx.client().containerExport(f.args[0]!);
  if (!output) {
    await copyOut(res.body, ctx.io.stdout);
    return 0;
  }
  const tmp = join(dirname(output), `.pier_temp_${basename(output)}_${process.pid}`);
  try {
    const ws = createWriteStream(tmp, { mode: 0o600 });
    await copyOut(res.body, ws);
    ws.end();
    await once(ws, 'close');
    await fsRename(tmp, output);
  } catch (e) {
    await fsRm(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).syscall) throw new StatusError(1, `failed to export container: ${pathError('open', output, e).message}`);
    throw e;
  }
  return 0;
}

async function runCommit(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [container, ref] = f.args as [string, string | undefined];
  const o: Parameters<ReturnType<Ctx['client']>['containerCommit']>[1] = {
    comment: f.values['message'] as string,
    author: f.values['author'] as string,
    changes: f.values['change'] as string[],
    pause: f.values['pause'] !== false,
  };
  if (ref) {
    let r;
    try {
      r = parseReference(ref);
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    if (r.digest !== undefined) throw new StatusError(1, 'refusing to create a tag with a digest reference');
    r = withDefaultTag(r);
    o.repo = refName(r);
    o.tag = r.tag!;
  }
  const res = await ctx.client().containerCommit(container, o);
  ctx.out(`${res.Id}\n`);
  return 0;
}

async function runPrune(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const filters = toFilters(f.values['filter'] as string[]);
  if (f.values['force'] !== true) {
    if (!(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
  }
  const report = await ctx.client().containersPrune(filters);
  let reclaimed = 0;
  const deleted = report.ContainersDeleted ?? [];
  if (deleted.length) {
    ctx.out(`Deleted Containers:\n${deleted.map((d) => `${d}\n`).join('')}\n`);
    reclaimed = report.SpaceReclaimed;
  }
  ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

/** `container inspect`: the daemon's documents, re-indented, or a template per container. */
async function runContainerInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const format = f.values['format'] as string;
  const tmpl = format ? parseTemplate(format === 'json' ? '{{json .}}' : format) : undefined;
  const client = ctx.client();
  const raws: string[] = [];
  const errs: string[] = [];
  for (const ref of f.args) {
    try {
      raws.push((await client.containerInspectRaw(ref, { size: f.values['size'] === true })).trim());
    } catch (e) {
      if (e instanceof ApiError) errs.push(e.toString());
      else throw e;
    }
  }
  writeInspect(ctx.out, tmpl, raws, errs);
  return 0;
}

// --- update -----------------------------------------------------------------------------------

/** The body of POST /containers/{id}/update for the flags given (docker's update.go). */
export function updateRequest(f: ParsedFlags): ContainerUpdateRequest {
  const v = f.values;
  const size = (n: string) => (v[n] ? ramInBytes(v[n] as string) : 0);
  const body: ContainerUpdateRequest = {
    CpuShares: v['cpu-shares'] as number,
    Memory: size('memory'),
    NanoCpus: v['cpus'] ? parseCPUs(v['cpus'] as string) : 0,
    CgroupParent: '',
    BlkioWeight: v['blkio-weight'] ? Number(v['blkio-weight']) : 0,
    BlkioWeightDevice: null,
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: v['cpu-period'] as number,
    CpuQuota: v['cpu-quota'] as number,
    CpuRealtimePeriod: v['cpu-rt-period'] as number,
    CpuRealtimeRuntime: v['cpu-rt-runtime'] as number,
    CpusetCpus: v['cpuset-cpus'] as string,
    CpusetMems: v['cpuset-mems'] as string,
    Devices: null,
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: size('memory-reservation'),
    MemorySwap: v['memory-swap'] === '-1' ? -1 : size('memory-swap'),
    MemorySwappiness: null,
    OomKillDisable: null,
    PidsLimit: f.changed.has('pids-limit') ? (v['pids-limit'] as number) : null,
    Ulimits: null,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    RestartPolicy: parseRestartPolicy(v['restart'] as string),
  };
  return body;
}

async function runUpdate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  if (f.changed.size === 0) throw new StatusError(1, 'you must provide one or more flags when using this command');
  let body: ContainerUpdateRequest;
  try {
    body = updateRequest(f);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  const client = ctx.client();
  const warns: string[] = [];
  const errs: string[] = [];
  for (const c of f.args) {
    try {
      const r = await client.containerUpdate(c, body);
      ctx.out(`${c}\n`);
      warns.push(...(r?.Warnings ?? []));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      errs.push(e.toString());
    }
  }
  if (warns.length) ctx.out(`${warns.join('\n')}\n`);
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

// --- definitions ------------------------------------------------------------------------------

const psFlags: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
  { name: 'filter', short: 'f', type: 'filter', usage: 'Filter output based on conditions provided', validate: validateFilter },
  { name: 'format', type: 'string', usage: formatHelp.table },
  { name: 'last', short: 'n', type: 'int', usage: 'Show n last created containers (includes all states)', default: -1 },
  { name: 'latest', short: 'l', type: 'bool', usage: 'Show the latest created container (includes all states)' },
  { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display container IDs' },
  { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' },
];

const stopFlags: FlagSpec[] = [
  { name: 'signal', short: 's', type: 'string', usage: 'Signal to send to the container' },
  { name: 'time', type: 'int', usage: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true },
  { name: 'timeout', short: 't', type: 'int', usage: 'Seconds to wait before killing the container' },
];

const sizeFlag = (name: string, usage: string, short?: string): FlagSpec => ({
  name, type: 'string', usage, ...(short ? { short } : {}),
  validate: (v) => {
    try {
      ramInBytes(v);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  },
});

const updateFlags: FlagSpec[] = [
  { name: 'blkio-weight', type: 'string', usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  { name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', type: 'int', usage: 'Limit the CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'int', usage: 'Limit the CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' },
  {
    name: 'cpus', type: 'string', usage: 'Number of CPUs',
    validate: (v) => {
      try {
        parseCPUs(v);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
  },
  { name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
  sizeFlag('kernel-memory', 'Kernel memory limit (deprecated)'),
  sizeFlag('memory', 'Memory limit', 'm'),
  sizeFlag('memory-reservation', 'Memory soft limit'),
  { ...sizeFlag('memory-swap', "Swap limit equal to memory plus swap: -1 to enable unlimited swap"), validate: (v) => (v === '-1' ? undefined : sizeFlag('x', '').validate!(v)) },
  { name: 'pids-limit', type: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'restart', type: 'string', usage: 'Restart policy to apply when a container exits' },
];
updateFlags.find((s) => s.name === 'kernel-memory')!.hidden = true;

const nameFlagsOnly: FlagSpec[] = [];

export const commands: Record<string, CommandDef> = {
  ps: { use: 'ps [OPTIONS]', flags: psFlags, run: runPs },
  ls: { use: 'ls [OPTIONS]', flags: psFlags, run: runPs },
  rm: {
    use: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
    flags: [
      { name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of a running container (uses SIGKILL)' },
      { name: 'link', short: 'l', type: 'bool', usage: 'Remove the specified link' },
      { name: 'volumes', short: 'v', type: 'bool', usage: 'Remove anonymous volumes associated with the container' },
    ],
    args: { min: 1 },
    run: runRm,
  },
  stop: { use: 'stop [OPTIONS] CONTAINER [CONTAINER...]', flags: stopFlags, args: { min: 1 }, run: (ctx, f) => runStopLike(ctx, f, 'stop') },
  restart: { use: 'restart [OPTIONS] CONTAINER [CONTAINER...]', flags: stopFlags, args: { min: 1 }, run: (ctx, f) => runStopLike(ctx, f, 'restart') },
  kill: {
    use: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
    flags: [{ name: 'signal', short: 's', type: 'string', usage: 'Signal to send to the container' }],
    args: { min: 1 },
    run: runKill,
  },
  pause: { use: 'pause CONTAINER [CONTAINER...]', flags: nameFlagsOnly, args: { min: 1 }, run: (ctx, f) => runPause(ctx, f, true) },
  unpause: { use: 'unpause CONTAINER [CONTAINER...]', flags: nameFlagsOnly, args: { min: 1 }, run: (ctx, f) => runPause(ctx, f, false) },
  wait: { use: 'wait CONTAINER [CONTAINER...]', flags: nameFlagsOnly, args: { min: 1 }, run: runWait },
  rename: { use: 'rename CONTAINER NEW_NAME', flags: nameFlagsOnly, args: { exact: 2 }, run: runRename },
  top: { use: 'top CONTAINER [ps OPTIONS]', flags: nameFlagsOnly, args: { min: 1 }, interspersed: false, run: runTop } as CommandDef,
  diff: { use: 'diff CONTAINER', flags: nameFlagsOnly, args: { exact: 1 }, run: runDiff },
  port: { use: 'port CONTAINER [PRIVATE_PORT[/PROTO]]', flags: nameFlagsOnly, args: { min: 1, max: 2 }, run: runPort },
  logs: {
    use: 'logs [OPTIONS] CONTAINER',
    flags: [
      { name: 'details', type: 'bool', usage: 'Show extra details provided to logs' },
      { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
      { name: 'since', type: 'string', usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
      { name: 'tail', short: 'n', type: 'string', usage: 'Number of lines to show from the end of the logs', default: 'all' },
      { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
      { name: 'until', type: 'string', usage: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    ],
    args: { exact: 1 },
    run: runLogs,
  },
  export: {
    use: 'export [OPTIONS] CONTAINER',
    flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
    args: { exact: 1 },
    run: runExport,
  },
  commit: {
    use: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
    flags: [
      { name: 'author', short: 'a', type: 'string', usage: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
      { name: 'change', short: 'c', type: 'list', usage: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', type: 'string', usage: 'Commit message' },
      { name: 'pause', short: 'p', type: 'bool', usage: 'Pause container during commit', default: true },
    ],
    args: { min: 1, max: 2 },
    run: runCommit,
  },
  prune: {
    use: 'prune [OPTIONS]',
    flags: [
      { name: 'filter', type: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")', validate: validateFilter },
      { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
    ],
    run: runPrune,
  },
  inspect: {
    use: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
    flags: [
      { name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect },
      { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' },
    ],
    args: { min: 1 },
    run: runContainerInspect,
  },
  update: { use: 'update [OPTIONS] CONTAINER [CONTAINER...]', flags: updateFlags, args: { min: 1 }, run: runUpdate },
};
