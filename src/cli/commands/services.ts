// Service commands: service create, ls, ps, inspect, scale, update, rollback,
// logs, rm, as docker 28's cli/command/service does them. The flag → spec
// mapping is in services-opts.ts and the convergence progress in
// services-progress.ts; the task table here is shared with `node ps`.

import { readFileSync } from 'node:fs';
import { ApiError, errText, isNotFound } from '../../client/errors.js';
import type { Client } from '../../client/client.js';
import type { ServiceSpec, SwarmPortConfig, SwarmService, SwarmTask } from '../../client/types.js';
import { familiar, parseReference, trimNamed, withTag } from '../../image/reference.js';
import { formatHelp, StatusError, type CommandDef, type Ctx } from '../command.js';
import { toFilters, validateFilter, type ParsedFlags } from '../flags.js';
import { ellipsis, formatRows, parseTemplate, truncateID, writeInspect, writeInspectJson } from '../formatter.js';
import { bytesSize, goDuration, humanDuration } from '../units.js';
import { naturalLess } from './containers.js';
import { getTimestamp } from './events.js';
import { configPath } from './registry.js';
import { applyUpdate, createFlags, createSpec, networkAttachment, parseUint, SpecError, taggedImage, updateFlags } from './services-opts.js';
import { waitOnService } from './services-progress.js';
import { selfNodeID } from './swarm.js';

// --- shared helpers -----------------------------------------------------------------------------

/** command.PrettyPrint: "running" → "Running". */
export const prettyPrint = (s: string | undefined) => (s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s ?? '');

/** A sort comparator in naturalLess order ("host9" before "host10"). */
export const natural = (a: string, b: string) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0);

/** docker's idresolver: IDs to names (node: Spec.Name or hostname; service: its name), cached; the ID itself on error. */
export class IDResolver {
  private cache = new Map<string, string>();
  constructor(private readonly client: Client, private readonly noResolve = false) {}

  async node(id: string): Promise<string> {
    return this.resolve(`node:${id}`, id, async () => {
      const n = await this.client.nodeInspect(id);
      return n.Spec?.Name || n.Description?.Hostname || id;
    });
  }

  async service(id: string): Promise<string> {
    return this.resolve(`service:${id}`, id, async () => (await this.client.serviceInspect(id)).Spec?.Name ?? '');
  }

  private async resolve(key: string, id: string, get: () => Promise<string>): Promise<string> {
    if (this.noResolve) return id;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let name = id;
    if (id !== '') {
      try {
        name = await get();
      } catch {
        name = id;
      }
    }
    this.cache.set(key, name);
    return name;
  }
}

/** A config file format key ("servicesFormat", "tasksFormat", "nodesFormat"), if set. */
export function configFormat(env: Ctx['io']['env'], key: string): string {
  try {
    const c = JSON.parse(readFileSync(configPath(env), 'utf8')) as Record<string, unknown>;
    return typeof c[key] === 'string' ? (c[key] as string) : '';
  } catch {
    return '';
  }
}

/** An image for display: a tagged reference loses its digest ("busybox:1@sha256:…" → "busybox:1"). */
export function displayImage(image: string): string {
  try {
    const r = parseReference(image);
    if (r.tag === undefined) return image;
    return familiar(withTag(trimNamed(r), r.tag));
  } catch {
    return image;
  }
}

/** An error as the CLI prints it: a daemon's as "Error response from daemon: …", any other its message. */

/** The Warnings of a create/update response go to stderr, one a line. */
function printWarnings(ctx: Ctx, w: readonly string[] | null | undefined): void {
  for (const s of w ?? []) ctx.err(`${s}\n`);
}

/** As docker's client does on create and every update: an image without tag or digest gets ":latest". */
function tagImage(spec: ServiceSpec): ServiceSpec {
  const cs = spec.TaskTemplate?.ContainerSpec;
  if (cs?.Image) cs.Image = taggedImage(cs.Image);
  return spec;
}

/** -d, or an API too old to watch convergence (docker's 1.29 check). */
function detached(ctx: Ctx, f: ParsedFlags): boolean {
  const v = ctx.client().apiVersion.split('.').map(Number);
  return f.values['detach'] === true || v[0]! < 1 || (v[0] === 1 && v[1]! < 29);
}

// --- create -------------------------------------------------------------------------------------

/** Networks by name become their IDs (GET /networks/{name}?scope=swarm), as docker sends them. */
async function resolveNetworks(client: Client, spec: ServiceSpec): Promise<void> {
  const nets = spec.TaskTemplate.Networks;
  if (!nets?.length) return;
  for (const n of nets) n.Target = await networkID(client, n.Target);
  nets.sort(byTarget);
}

async function runCreate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [image, ...args] = f.args as [string, ...string[]];
  let spec: ServiceSpec;
  try {
    spec = createSpec(f, taggedImage(image), args, ctx.io.env);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  const client = ctx.client();
  await resolveNetworks(client, spec);
  // --no-resolve-image is the only behaviour: pier does not ask a registry to pin the digest.
  const res = await client.serviceCreate(spec);
  printWarnings(ctx, res.Warnings);
  ctx.out(`${res.ID}\n`);
  if (detached(ctx, f)) return 0;
  await waitOnService(ctx, res.ID, f.values['quiet'] === true);
  return 0;
}

// --- ls -----------------------------------------------------------------------------------------

export const serviceHeaders: Record<string, string> = { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' };

export interface ServiceRow {
  ID: string;
  Image: string;
  Mode: string;
  Name: string;
  Ports: string;
  Replicas: string;
}

/** serviceContext.Ports: ingress ports, consecutive ones grouped into ranges ("*:8080-8081->80-81/tcp"). */
export function servicePorts(ports: readonly SwarmPortConfig[] | undefined): string {
  if (!ports) return '';
  const sorted = [...ports].sort((a, b) => {
    const pa = a.Protocol ?? '';
    const pb = b.Protocol ?? '';
    if (pa === pb) return (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0);
    return pa < pb ? -1 : 1;
  });
  const out: string[] = [];
  let pr = { pStart: 0, pEnd: 0, tStart: 0, tEnd: 0, protocol: '' };
  const str = () => {
    const pub = pr.pEnd > pr.pStart ? `${pr.pStart}-${pr.pEnd}` : `${pr.pStart}`;
    const tgt = pr.tEnd > pr.tStart ? `${pr.tStart}-${pr.tEnd}` : `${pr.tStart}`;
    return `*:${pub}->${tgt}/${pr.protocol}`;
  };
  // Go subtracts uint32s: a smaller port wraps around and counts as "not consecutive".
  const gap = (a: number, b: number) => ((a - b) >>> 0) > 1;
  for (const p of sorted) {
    if (p.PublishMode !== 'ingress') continue;
    const pub = p.PublishedPort ?? 0;
    const tgt = p.TargetPort ?? 0;
    const isRange = pr.tEnd !== pr.tStart;
    const overlaps = tgt <= pr.tEnd;
    if ((p.Protocol ?? '') !== pr.protocol || gap(pub, pr.pEnd) || gap(tgt, pr.tEnd) || (isRange && overlaps)) {
      if (pr.pStart > 0) out.push(str());
      pr = { pStart: pub, pEnd: pub, tStart: tgt, tEnd: tgt, protocol: p.Protocol ?? '' };
      continue;
    }
    pr.pEnd = pub;
    pr.tEnd = tgt;
  }
  if (pr.pStart > 0) out.push(str());
  return out.join(', ');
}

export function serviceMode(s: SwarmService): string {
  const m = s.Spec.Mode ?? {};
  if (m.Global) return 'global';
  if (m.Replicated) return 'replicated';
  if (m.ReplicatedJob) return 'replicated job';
  if (m.GlobalJob) return 'global job';
  return '';
}

export function serviceRows(list: readonly SwarmService[]): ServiceRow[] {
  const sorted = [...list].sort((a, b) => natural(a.Spec.Name ?? '', b.Spec.Name ?? ''));
  return sorted.map((s) => {
    const st = s.ServiceStatus ?? { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 0 };
    const m = s.Spec.Mode ?? {};
    let replicas = `${st.RunningTasks}/${st.DesiredTasks}`;
    if (m.ReplicatedJob) replicas += ` (${st.CompletedTasks}/${m.ReplicatedJob.TotalCompletions ?? 0} completed)`;
    else if (m.GlobalJob) replicas += ` (${st.CompletedTasks}/${st.DesiredTasks + st.CompletedTasks} completed)`;
    else if (m.Replicated && s.Spec.TaskTemplate.Placement?.MaxReplicas) replicas += ` (max ${s.Spec.TaskTemplate.Placement.MaxReplicas} per node)`;
    return {
      ID: truncateID(s.ID),
      Image: displayImage(s.Spec.TaskTemplate.ContainerSpec?.Image ?? ''),
      Mode: serviceMode(s),
      Name: s.Spec.Name ?? '',
      Ports: servicePorts(s.Endpoint?.Ports),
      Replicas: replicas,
    };
  });
}

export function serviceListFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}';
  if (source === 'raw') return quiet ? 'id: {{.ID}}' : 'id: {{.ID}}\nname: {{.Name}}\nmode: {{.Mode}}\nreplicas: {{.Replicas}}\nimage: {{.Image}}\nports: {{.Ports}}\n';
  return source;
}

async function runLs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const quiet = f.values['quiet'] === true;
  let format = f.values['format'] as string;
  if (!format) format = (!quiet && configFormat(ctx.io.env, 'servicesFormat')) || 'table';
  const list = await ctx.client().serviceList({ filters: toFilters(f.values['filter'] as string[]), status: !quiet });
  ctx.out(formatRows(serviceListFormat(format, quiet), serviceRows(list), serviceHeaders, { typeName: '*service.serviceContext', marshalJSON: true }));
  return 0;
}

// --- ps (and node ps) ---------------------------------------------------------------------------

export const taskHeaders: Record<string, string> = {
  ID: 'ID', Name: 'NAME', Image: 'IMAGE', Node: 'NODE', DesiredState: 'DESIRED STATE', CurrentState: 'CURRENT STATE', Error: 'ERROR', Ports: 'PORTS',
};

export interface TaskRow {
  CurrentState: string;
  DesiredState: string;
  Error: string;
  ID: string;
  Image: string;
  Name: string;
  Node: string;
  Ports: string;
}

export function taskFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}';
  if (source === 'raw') {
    return quiet ? 'id: {{.ID}}' : 'id: {{.ID}}\nname: {{.Name}}\nimage: {{.Image}}\nnode: {{.Node}}\ndesired_state: {{.DesiredState}}\ncurrent_state: {{.CurrentState}}\nerror: {{.Error}}\nports: {{.Ports}}\n';
  }
  return source;
}

/**
 * task.Print's rows: tasks named "service.slot" (or "service.nodeID" for global
 * services), sorted so each slot's history follows its newest task, the older
 * ones marked " \_ " in table formats.
 */
export async function taskRows(tasks: readonly SwarmTask[], r: IDResolver, o: { trunc: boolean; table: boolean; now?: number }): Promise<TaskRow[]> {
  const now = o.now ?? Date.now();
  const named: { t: SwarmTask; name: string }[] = [];
  for (const t of tasks) {
    const svc = await r.service(t.ServiceID);
    named.push({ t, name: t.Slot ? `${svc}.${t.Slot}` : `${svc}.${t.NodeID ?? ''}` });
  }
  const created = (t: SwarmTask) => Date.parse(t.CreatedAt ?? '') || 0;
  // A stable sort: by name, then newest first.
  named.sort((a, b) => natural(a.name, b.name) || created(b.t) - created(a.t));
  const rows: TaskRow[] = [];
  let prev = '';
  for (const { t, name } of named) {
    const shown = name === prev && o.table ? ` \\_ ${name}` : name;
    prev = name;
    const node = await r.node(t.NodeID ?? '');
    let err = t.Status.Err ?? '';
    if (o.trunc) err = ellipsis(err, 30);
    const ports = t.Status.PortStatus?.Ports ?? [];
    const image = t.Spec.ContainerSpec?.Image ?? '';
    const since = now - (Date.parse(t.Status.Timestamp ?? '') || 0);
    rows.push({
      CurrentState: `${prettyPrint(t.Status.State)} ${humanDuration(since).toLowerCase()} ago`,
      DesiredState: prettyPrint(t.DesiredState),
      Error: err ? `"${err}"` : '',
      ID: o.trunc ? truncateID(t.ID) : t.ID,
      Image: o.trunc ? displayImage(image) : image,
      Name: shown,
      Node: node,
      Ports: ports.map((p) => `*:${p.PublishedPort ?? 0}->${p.TargetPort ?? 0}/${p.Protocol ?? ''}`).join(','),
    });
  }
  return rows;
}

/** Print tasks as `service ps` and `node ps` do. */
export async function printTasks(ctx: Ctx, f: ParsedFlags, tasks: readonly SwarmTask[]): Promise<void> {
  const quiet = f.values['quiet'] === true;
  let format = f.values['format'] as string;
  if (!format) format = (!quiet && configFormat(ctx.io.env, 'tasksFormat')) || 'table';
  const resolved = taskFormat(format, quiet);
  // -q prints whole IDs.
  const trunc = !quiet && f.values['no-trunc'] !== true;
  const rows = await taskRows(tasks, new IDResolver(ctx.client(), f.values['no-resolve'] === true), { trunc, table: resolved.startsWith('table') });
  ctx.out(formatRows(resolved, rows, taskHeaders, { typeName: '*task.taskContext', marshalJSON: true }));
}

/** updateNodeFilter: "node=self" becomes this node's ID (names are the daemon's to match). */
export async function resolveNodeFilter(client: Client, filters: Record<string, Record<string, boolean>>): Promise<void> {
  const nodes = filters['node'];
  if (!nodes) return;
  const out: Record<string, boolean> = {};
  for (const v of Object.keys(nodes)) {
    if (v === 'self') {
      const id = await selfNodeID(client);
      if (!id) throw new Error('node ID not found in /info');
      out[id] = true;
    } else {
      out[v] = true;
    }
  }
  filters['node'] = out;
}

async function runPs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const filters = toFilters(f.values['filter'] as string[]);
  const wanted = f.args;
  const idf: Record<string, boolean> = {};
  const namef: Record<string, boolean> = {};
  for (const s of wanted) {
    idf[s] = true;
    namef[s] = true;
  }
  const byID = await client.serviceList({ filters: { id: idf } });
  const byName = await client.serviceList({ filters: { name: namef } });
  const notFound: string[] = [];
  const ids: Record<string, boolean> = { ...(filters['service'] ?? {}) };
  let count = 0;
  // Full ID, then full name, then a unique ID prefix.
  for (const s of wanted) {
    const exact = byID.find((x) => x.ID === s) ?? byName.find((x) => x.Spec.Name === s);
    if (exact) {
      ids[exact.ID] = true;
      count++;
      continue;
    }
    const prefixed = byID.filter((x) => x.ID.startsWith(s));
    if (prefixed.length > 1) throw new StatusError(1, `multiple services found with provided prefix: ${s}`);
    if (prefixed.length === 1) {
      ids[prefixed[0]!.ID] = true;
      count++;
    } else notFound.push(`no such service: ${s}`);
  }
  if (count === 0) throw new StatusError(1, notFound.join('\n'));
  filters['service'] = ids;
  await resolveNodeFilter(client, filters);
  const tasks = await client.taskList(filters);
  await printTasks(ctx, f, tasks);
  if (notFound.length) throw new StatusError(1, notFound.join('\n'));
  return 0;
}

// --- inspect ------------------------------------------------------------------------------------

const nsDuration = (ns: number | undefined) => goDuration((ns ?? 0) / 1e6);

/** A Go float32 as %v prints it. */
const goFloat = (n: number | undefined) => String(Number(Math.fround(n ?? 0).toPrecision(7)));

/** The --pretty text of one service (docker's serviceInspectPrettyTemplate, field for field). */
export function prettyService(s: SwarmService, networkNames: Record<string, string> = {}, now = Date.now()): string {
  const spec = s.Spec;
  const t = spec.TaskTemplate;
  const cs = t.ContainerSpec ?? { Image: '' };
  const ago = (d: string) => `${humanDuration(now - Date.parse(d))} ago`;
  let o = `\nID:\t\t${s.ID}\nName:\t\t${spec.Name ?? ''}`;
  const labels = spec.Labels ?? {};
  if (Object.keys(labels).length) {
    o += '\nLabels:';
    for (const k of Object.keys(labels).sort()) o += `\n ${k}${labels[k] ? `=${labels[k]}` : ''}`;
  }
  o += '\nService Mode:';
  if (spec.Mode?.Global) o += '\tGlobal';
  else if (spec.Mode?.Replicated) {
    o += '\tReplicated';
    if (spec.Mode.Replicated.Replicas !== undefined) o += `\n Replicas:\t${spec.Mode.Replicated.Replicas}`;
  }
  const us = s.UpdateStatus;
  if (us?.State) {
    o += `\nUpdateStatus:\n State:\t\t${us.State}`;
    if (us.StartedAt) o += `\n Started:\t${ago(us.StartedAt)}`;
    if (us.State === 'completed' && us.CompletedAt) o += `\n Completed:\t${ago(us.CompletedAt)}`;
    o += `\n Message:\t${us.Message ?? ''}`;
  }
  o += '\nPlacement:';
  const pl = t.Placement;
  if (pl?.Constraints?.length) o += `\n Constraints:\t[${pl.Constraints.join(' ')}]`;
  const prefs = (pl?.Preferences ?? []).filter((p) => p.Spread).map((p) => `spread=${p.Spread!.SpreadDescriptor}`);
  if (prefs.length) o += `\n Preferences:   [${prefs.join(' ')}]`;
  if (pl?.MaxReplicas) o += `\n Max Replicas Per Node:   ${pl.MaxReplicas}`;
  for (const [key, title, order] of [['UpdateConfig', 'UpdateConfig', 'Update order:     '], ['RollbackConfig', 'RollbackConfig', 'Rollback order:   ']] as const) {
    const c = spec[key];
    if (!c) continue;
    o += `\n${title}:\n Parallelism:\t${c.Parallelism ?? 0}`;
    if (c.Delay) o += `\n Delay:\t\t${nsDuration(c.Delay)}`;
    o += `\n On failure:\t${c.FailureAction ?? ''}`;
    if (c.Monitor) o += `\n Monitoring Period: ${nsDuration(c.Monitor)}`;
    o += `\n Max failure ratio: ${goFloat(c.MaxFailureRatio)}\n ${order} ${c.Order ?? ''}`;
  }
  o += `\nContainerSpec:\n Image:\t\t${cs.Image}`;
  if (cs.Args?.length) o += `\n Args:\t\t${cs.Args.map((a) => `${a} `).join('')}`;
  if (cs.Env?.length) o += `\n Env:\t\t${cs.Env.map((a) => `${a} `).join('')}`;
  if (cs.Dir) o += `\n Dir:\t\t${cs.Dir}`;
  if (cs.Init !== undefined && cs.Init !== null) o += `\n Init:\t\t${cs.Init}`;
  if (cs.User) o += `\n User: ${cs.User}`;
  if (cs.CapabilityAdd?.length || cs.CapabilityDrop?.length) {
    o += '\nCapabilities:';
    if (cs.CapabilityAdd?.length) o += `\n Add: ${cs.CapabilityAdd.join(', ')}`;
    if (cs.CapabilityDrop?.length) o += `\n Drop: ${cs.CapabilityDrop.join(', ')}`;
  }
  if (cs.Sysctls && Object.keys(cs.Sysctls).length) {
    o += '\nSysCtls:';
    for (const k of Object.keys(cs.Sysctls).sort()) o += `\n ${k}${cs.Sysctls[k] ? `: ${cs.Sysctls[k]}` : ''}`;
  }
  if (cs.Mounts?.length) {
    o += '\nMounts:';
    for (const m of cs.Mounts) o += `\n Target:\t${m.Target}\n  Source:\t${m.Source ?? ''}\n  ReadOnly:\t${m.ReadOnly === true}\n  Type:\t\t${m.Type}`;
  }
  if (t.LogDriver) {
    o += '\nLog Driver:';
    if (t.LogDriver.Name) o += `\n Name:\t\t${t.LogDriver.Name}`;
    const lo = t.LogDriver.Options ?? {};
    if (Object.keys(lo).length) {
      o += '\n LogOpts:';
      for (const k of Object.keys(lo).sort()) o += `\n  ${k}${lo[k] ? `:       ${lo[k]}` : ''}`;
    }
    o += '\n';
  }
  const res = t.Resources;
  if (res) {
    o += '\nResources:';
    const rv = res.Reservations ?? {};
    if (rv.NanoCPUs || rv.MemoryBytes) {
      o += '\n Reservations:';
      if (rv.NanoCPUs) o += `\n  CPU:\t\t${rv.NanoCPUs / 1e9}`;
      if (rv.MemoryBytes) o += `\n  Memory:\t${bytesSize(rv.MemoryBytes)}`;
    }
    const l = res.Limits ?? {};
    if (l.NanoCPUs || l.MemoryBytes || l.Pids) {
      o += '\n Limits:';
      if (l.NanoCPUs) o += `\n  CPU:\t\t${l.NanoCPUs / 1e9}`;
      if (l.MemoryBytes) o += `\n  Memory:\t${bytesSize(l.MemoryBytes)}`;
    }
  }
  if (res?.Limits?.Pids) o += `\n  PIDs:\t\t${res.Limits.Pids}`;
  if (t.Networks?.length) o += `\nNetworks:${t.Networks.map((n) => ` ${networkNames[n.Target] ?? n.Target}`).join('')} `;
  o += `\nEndpoint Mode:\t${spec.EndpointSpec?.Mode ?? ''}`;
  const ports = s.Endpoint?.Ports ?? [];
  if (ports.length) {
    o += '\nPorts:';
    for (const p of ports) o += `\n PublishedPort = ${p.PublishedPort ?? 0}\n  Protocol = ${p.Protocol ?? ''}\n  TargetPort = ${p.TargetPort ?? 0}\n  PublishMode = ${p.PublishMode ?? ''}`;
    o += ' ';
  }
  const h = cs.Healthcheck;
  if (h) {
    o += `\n Healthcheck:\n  Interval = ${nsDuration(h.Interval)}\n  Retries = ${h.Retries ?? 0}\n  StartPeriod =\t${nsDuration(h.StartPeriod)}\n  Timeout =\t${nsDuration(h.Timeout)}`;
    if (h.Test?.length) o += `\n  Tests:${h.Test.map((x) => `\n\t Test = ${x}`).join('')} `;
  }
  return o +'\n\n';
}

/**
 * inspect for swarm objects (services, nodes): each ref's raw JSON, then the
 * --pretty text of them all or docker's inspect output. With --pretty the first
 * failure ends the command; otherwise failures follow the rest (exit 1).
 */
export async function runSwarmInspect(
  ctx: Ctx, f: ParsedFlags, get: (ref: string) => Promise<string>, failure: (ref: string, e: Error) => string, pretty: (raws: string[]) => Promise<string> | string,
): Promise<number> {
  const isPretty = f.values['pretty'] === true;
  let format = f.values['format'] as string;
  if (isPretty && format) throw new StatusError(1, '--format is incompatible with human friendly format');
  const raws: string[] = [];
  const errs: string[] = [];
  for (const ref of f.args) {
    try {
      raws.push((await get(ref)).trim());
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      const msg = failure(ref, e);
      if (isPretty) throw new StatusError(1, msg);
      errs.push(msg);
    }
  }
  if (isPretty) {
    ctx.out(await pretty(raws));
    return 0;
  }
  if (format === 'json') writeInspectJson(ctx.out, raws, errs);
  else writeInspect(ctx.out, format ? parseTemplate(format) : undefined, raws, errs);
  return 0;
}

function runInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  return runSwarmInspect(
    ctx, f,
    (ref) => ctx.client().serviceInspectRaw(ref, { insertDefaults: true }),
    (ref, e) => (isNotFound(e) ? `Error: no such service: ${ref}` : errText(e)),
    async (raws) => {
      const client = ctx.client();
      let text = '';
      for (const raw of raws) {
        const s = JSON.parse(raw) as SwarmService;
        const names: Record<string, string> = {};
        for (const n of s.Spec.TaskTemplate.Networks ?? []) {
          try {
            const net = JSON.parse(await client.networkInspectRaw(n.Target, { scope: 'swarm' })) as { Id: string; Name: string };
            names[net.Id] = net.Name;
          } catch {
            /* shown by ID */
          }
        }
        text += prettyService(s, names);
      }
      return text;
    },
  );
}

// --- scale, update, rollback ------------------------------------------------------------------

async function runScale(ctx: Ctx, f: ParsedFlags): Promise<number> {
  for (const arg of f.args) {
    const i = arg.indexOf('=');
    if (i <= 0 || i === arg.length - 1) {
      throw new StatusError(1, `invalid scale specifier '${arg}'.\nSee '${ctx.path} --help'.\n\nUsage:  ${ctx.path} SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services`);
    }
  }
  const client = ctx.client();
  const errs: string[] = [];
  const scaled: string[] = [];
  for (const arg of f.args) {
    const i = arg.indexOf('=');
    const name = arg.slice(0, i);
    const value = arg.slice(i + 1);
    try {
      let n: number;
      try {
        n = parseUint(value);
      } catch (e) {
        throw new Error(`invalid replicas value ${value}: ${(e as Error).message}`);
      }
      const s = await client.serviceInspect(name);
      const mode = s.Spec.Mode ?? {};
      if (mode.Replicated) mode.Replicated.Replicas = n;
      else if (mode.ReplicatedJob) mode.ReplicatedJob.TotalCompletions = n;
      else throw new Error('scale can only be used with replicated or replicated-job mode');
      const res = await client.serviceUpdate(s.ID, s.Version.Index, tagImage(s.Spec));
      printWarnings(ctx, res.Warnings);
      ctx.out(`${name} scaled to ${n}\n`);
      scaled.push(name);
    } catch (e) {
      errs.push(`${name}: ${errText(e)}`);
    }
  }
  if (!detached(ctx, f)) {
    for (const name of scaled) {
      try {
        await waitOnService(ctx, name, false);
      } catch (e) {
        errs.push(`${name}: ${errText(e)}`);
      }
    }
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

const ROLLBACK_ALONE = new Set(['rollback', 'detach', 'quiet']);

/** A network's ID by name or ID, as swarm sees it. */
async function networkID(client: Client, ref: string): Promise<string> {
  return (JSON.parse(await client.networkInspectRaw(ref, { scope: 'swarm' })) as { Id?: string }).Id || ref;
}

/** Network attachments in docker's order: by ID. */
const byTarget = (a: { Target: string }, b: { Target: string }) => (a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0);

/**
 * docker's updateNetworks: drop the --network-rm ones (by ID), add the
 * --network-add ones (by ID; one already attached is an error), sorted by ID.
 * The deprecated spec.Networks moves into the task template.
 */
async function updateNetworks(client: Client, spec: ServiceSpec, f: ParsedFlags): Promise<void> {
  const current = spec.TaskTemplate.Networks?.length ? spec.TaskTemplate.Networks : spec.Networks ?? [];
  delete spec.Networks;
  const rm = new Set<string>();
  for (const ref of new Set(f.values['network-rm'] as string[])) rm.add(await networkID(client, ref));
  const nets = current.filter((n) => !rm.has(n.Target));
  const have = new Set(nets.map((n) => n.Target));
  for (const n of (f.values['network-add'] as string[]).map(networkAttachment)) {
    const id = await networkID(client, n.Target);
    if (have.has(id)) throw new StatusError(1, `service is already attached to network ${n.Target}`);
    nets.push({ ...n, Target: id });
    have.add(id);
  }
  spec.TaskTemplate.Networks = nets.sort(byTarget);
}

async function runUpdate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const name = f.args[0]!;
  const rollback = f.values['rollback'] === true;
  const client = ctx.client();
  const s = await client.serviceInspect(name);
  if (rollback && [...f.changed].some((n) => !ROLLBACK_ALONE.has(n))) throw new StatusError(1, 'other flags may not be combined with --rollback');
  const spec = s.Spec;
  try {
    applyUpdate(spec, f, ctx.io.env);
  } catch (e) {
    if (e instanceof SpecError || !(e instanceof ApiError)) throw new StatusError(1, (e as Error).message);
    throw e;
  }
  if (f.changed.has('network-add') || f.changed.has('network-rm')) await updateNetworks(client, spec, f);
  const res = await client.serviceUpdate(s.ID, s.Version.Index, tagImage(spec), { registryAuthFrom: 'spec', ...(rollback ? { rollback: 'previous' as const } : {}) });
  printWarnings(ctx, res.Warnings);
  ctx.out(`${name}\n`);
  if (detached(ctx, f)) return 0;
  await waitOnService(ctx, name, f.values['quiet'] === true);
  return 0;
}

async function runRollback(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const name = f.args[0]!;
  const client = ctx.client();
  const s = await client.serviceInspect(name);
  const res = await client.serviceUpdate(s.ID, s.Version.Index, tagImage(s.Spec), { rollback: 'previous' });
  printWarnings(ctx, res.Warnings);
  ctx.out(`${name}\n`);
  if (detached(ctx, f)) return 0;
  await waitOnService(ctx, name, f.values['quiet'] === true);
  return 0;
}

// --- logs ---------------------------------------------------------------------------------------

/** logs.ParseLogDetails: "k=v,k2=v2" with URL-escaped keys and values. */
export function parseLogDetails(s: string): Map<string, string> {
  const m = new Map<string, string>();
  if (s === '') return m;
  for (const pair of s.split(',')) {
    const i = pair.indexOf('=');
    if (i === -1) throw new Error('invalid details format');
    const dec = (x: string) => decodeURIComponent(x.replaceAll('+', ' '));
    m.set(dec(pair.slice(0, i)), dec(pair.slice(i + 1)));
  }
  return m;
}

export interface LogOptions {
  timestamps: boolean;
  details: boolean;
  noTaskIDs: boolean;
  noTrunc: boolean;
  /** Digits of the highest slot (replicas), to align the "|" column. */
  padding: number;
}

/**
 * docker's logWriter for one line (one stdcopy frame): split off the timestamp and
 * the details, resolve node, service and task into "web.1.<task>@node", then
 * "    | " and the message.
 */
export class LogLineFormatter {
  private cache = new Map<string, string>();
  constructor(private readonly client: Client, private readonly r: IDResolver, private readonly o: LogOptions) {}

  async format(line: Buffer): Promise<Buffer> {
    const nparts = this.o.timestamps ? 3 : 2;
    const text = line.toString('latin1');
    const parts: string[] = [];
    let rest = text;
    for (let i = 0; i < nparts - 1; i++) {
      const sp = rest.indexOf(' ');
      if (sp === -1) break;
      parts.push(rest.slice(0, sp));
      rest = rest.slice(sp + 1);
    }
    parts.push(rest);
    if (parts.length !== nparts) throw new Error(`invalid context in log message: ${line.toString()}`);
    const di = this.o.timestamps ? 1 : 0;
    const details = parseLogDetails(Buffer.from(parts[di]!, 'latin1').toString());
    const take = (k: string, what: string) => {
      const v = details.get(k);
      if (v === undefined) throw new Error(`missing ${what} id in details: map[${[...details].map(([a, b]) => `${a}:${b}`).sort().join(' ')}]`);
      details.delete(k);
      return v;
    };
    const nodeID = take('com.docker.swarm.node.id', 'node');
    const serviceID = take('com.docker.swarm.service.id', 'service');
    const taskID = take('com.docker.swarm.task.id', 'task');
    let out = '';
    if (this.o.timestamps) out += `${parts[0]} `;
    out += `${await this.context(nodeID, serviceID, taskID)}    | `;
    if (this.o.details) out += [...details].map(([k, v]) => `${k}=${v}`).sort().join(',') + ' ';
    return Buffer.concat([Buffer.from(out), Buffer.from(parts[di + 1]!, 'latin1')]);
  }

  private async context(nodeID: string, serviceID: string, taskID: string): Promise<string> {
    const key = `${nodeID}\0${serviceID}\0${taskID}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const node = await this.r.node(nodeID);
    const service = await this.r.service(serviceID);
    const task = await this.client.taskInspect(taskID);
    const slot = task.Slot ?? 0;
    let name = `${service}.${slot}`;
    if (!this.o.noTaskIDs) name += `.${this.o.noTrunc ? task.ID : truncateID(task.ID)}`;
    const pad = this.o.padding - String(slot).length;
    const s = `${name}@${node}${pad > 0 ? ' '.repeat(pad) : ''}`;
    this.cache.set(key, s);
    return s;
  }
}

async function runLogs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const target = f.args[0]!;
  const v = f.values;
  const raw = v['raw'] === true;
  const client = ctx.client();
  let padding = 1;
  let tty = false;
  let task = false;
  try {
    const s = await client.serviceInspect(target);
    tty = s.Spec.TaskTemplate.ContainerSpec?.TTY === true;
    const replicas = s.Spec.Mode?.Replicated?.Replicas;
    if (replicas !== undefined) padding = String(replicas).length;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    try {
      const t = await client.taskInspect(target);
      tty = t.Spec.ContainerSpec?.TTY === true;
      padding = String(t.Slot ?? 0).length;
      task = true;
    } catch (e2) {
      if (isNotFound(e2)) throw new StatusError(1, `no such task or service: ${target}`);
      throw e2;
    }
  }
  if (tty && !raw) throw new StatusError(1, 'tty service logs only supported with --raw');
  const since = v['since'] as string;
  const res = await client.serviceLogs(target, {
    task, follow: v['follow'] === true, timestamps: v['timestamps'] === true, details: v['details'] === true || !raw,
    tail: v['tail'] as string, ...(since ? { since: getTimestamp(since) } : {}),
  });
  if (tty) {
    for await (const chunk of res.body) ctx.io.stdout.write(chunk as Buffer);
    return 0;
  }
  const fmt = raw ? undefined : new LogLineFormatter(client, new IDResolver(client, v['no-resolve'] === true), {
    timestamps: v['timestamps'] === true, details: v['details'] === true, noTaskIDs: v['no-task-ids'] === true, noTrunc: v['no-trunc'] === true, padding,
  });
  let buf = Buffer.alloc(0);
  for await (const chunk of res.body) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0]!;
      const payload = buf.subarray(8, 8 + size);
      buf = buf.subarray(8 + size);
      if (stream === 3) throw new StatusError(1, `error from daemon in stream: ${payload.toString()}`);
      if (stream > 3) throw new StatusError(1, `Unrecognized input header: ${stream}`);
      const w = stream === 2 ? ctx.io.stderr : ctx.io.stdout;
      if (!payload.length) continue;
      try {
        w.write(fmt ? await fmt.format(payload) : payload);
      } catch (e) {
        if (e instanceof ApiError) throw e;
        throw new StatusError(1, (e as Error).message);
      }
    }
  }
  return 0;
}

// --- rm -----------------------------------------------------------------------------------------

async function runRm(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const errs: string[] = [];
  for (const name of f.args) {
    try {
      await client.serviceRemove(name);
      ctx.out(`${name}\n`);
    } catch (e) {
      errs.push(errText(e));
    }
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

// --- definitions --------------------------------------------------------------------------------

const detachFlag = { name: 'detach', short: 'd', type: 'bool' as const, usage: 'Exit immediately instead of waiting for the service to converge' };
const filterFlag = { name: 'filter', short: 'f', type: 'filter' as const, usage: 'Filter output based on conditions provided', validate: validateFilter };

export const psFlags = [
  filterFlag,
  { name: 'format', type: 'string' as const, usage: 'Pretty-print tasks using a Go template' },
  { name: 'no-resolve', type: 'bool' as const, usage: 'Do not map IDs to Names' },
  { name: 'no-trunc', type: 'bool' as const, usage: 'Do not truncate output' },
  { name: 'quiet', short: 'q', type: 'bool' as const, usage: 'Only display task IDs' },
];

export const commands: Record<string, CommandDef> = {
  create: { use: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]', flags: createFlags, args: { min: 1 }, run: runCreate, interspersed: false } as CommandDef,
  ls: {
    use: 'ls [OPTIONS]',
    flags: [
      filterFlag,
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' },
    ],
    run: runLs,
  },
  ps: { use: 'ps [OPTIONS] SERVICE [SERVICE...]', flags: psFlags, args: { min: 1 }, run: runPs },
  inspect: {
    use: 'inspect [OPTIONS] SERVICE [SERVICE...]',
    flags: [
      { name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect },
      { name: 'pretty', type: 'bool', usage: 'Print the information in a human friendly format' },
    ],
    args: { min: 1 },
    run: runInspect,
  },
  scale: { use: 'scale SERVICE=REPLICAS [SERVICE=REPLICAS...]', flags: [detachFlag], args: { min: 1 }, run: runScale },
  update: { use: 'update [OPTIONS] SERVICE', flags: updateFlags, args: { exact: 1 }, run: runUpdate },
  rollback: {
    use: 'rollback [OPTIONS] SERVICE',
    flags: [detachFlag, { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output' }],
    args: { exact: 1 },
    run: runRollback,
  },
  logs: {
    use: 'logs [OPTIONS] SERVICE|TASK',
    flags: [
      { name: 'details', type: 'bool', usage: 'Show extra details provided to logs' },
      { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
      { name: 'no-resolve', type: 'bool', usage: 'Do not map IDs to Names in output' },
      { name: 'no-task-ids', type: 'bool', usage: 'Do not include task IDs in output' },
      { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
      { name: 'raw', type: 'bool', usage: 'Do not neatly format logs' },
      { name: 'since', type: 'string', usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
      { name: 'tail', short: 'n', type: 'string', usage: 'Number of lines to show from the end of the logs', default: 'all' },
      { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
    ],
    args: { exact: 1 },
    run: runLogs,
  },
  rm: { use: 'rm SERVICE [SERVICE...]', flags: [], args: { min: 1 }, run: runRm },
};
