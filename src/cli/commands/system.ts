// pier version, pier info, pier system df, pier system prune.

import { MAX_API_VERSION } from '../../client/client.js';
import { ConnectError } from '../../client/errors.js';
import { familiarName, parseReference as parseNormalizedNamed } from '../../image/reference.js';
import type { ContainerSummary, DiskUsage, ImageSummary, Info, ServerVersion } from '../../client/types.js';
import { build } from '../../base/build.js';
import { formatHelp, goTime, StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ImageRow } from './images.js';
import { toFilters, validateFilter, type ParsedFlags } from '../flags.js';
import { humanDuration, humanSize, humanSizeWithPrecision, bytesSize } from '../units.js';

const goArch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export interface ClientVersion {
  Version: string;
  ApiVersion: string;
  DefaultAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  BuildTime: string;
}

export function clientVersion(apiVersion: string): ClientVersion {
  return {
    Version: build.version,
    ApiVersion: apiVersion,
    DefaultAPIVersion: MAX_API_VERSION,
    GitCommit: build.commit,
    GoVersion: process.version,
    Os: process.platform,
    Arch: goArch[process.arch] ?? process.arch,
    BuildTime: build.built,
  };
}

/** docker's reformatDate: RFC 3339 → time.ANSIC in local time; anything else as is. */
export function reformatDate(s: string | undefined): string {
  if (!s || !/^\d{4}-\d\d-\d\dT/.test(s)) return s ?? '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** Fill in an Engine component for daemons that send none, as docker does. */
export function normalizeServerVersion(sv: ServerVersion): ServerVersion {
  const comps = [...(sv.Components ?? [])].map((c) => ({ ...c, Details: { ...c.Details } }));
  const engine = comps.find((c) => c.Name === 'Engine');
  if (engine) {
    if (engine.Details['BuildTime']) engine.Details['BuildTime'] = reformatDate(engine.Details['BuildTime']);
  } else {
    comps.push({
      Name: 'Engine',
      Version: sv.Version,
      Details: {
        ApiVersion: sv.ApiVersion,
        MinAPIVersion: sv.MinAPIVersion ?? '',
        GitCommit: sv.GitCommit,
        GoVersion: sv.GoVersion,
        Os: sv.Os,
        Arch: sv.Arch,
        BuildTime: reformatDate(sv.BuildTime),
        Experimental: String(sv.Experimental ?? false),
      },
    });
  }
  return { ...sv, Components: comps };
}

const runtimeLabel = (v: string | undefined) => (v && /^go\d/.test(v) ? 'Go version' : 'Node version');

/** The default `version` output (before tab alignment). */
export function versionText(c: ClientVersion, sv: ServerVersion | undefined): string {
  const lines: string[] = ['Client:'];
  lines.push(` Version:\t${c.Version}`);
  lines.push(` API version:\t${c.ApiVersion}${c.ApiVersion !== c.DefaultAPIVersion ? ` (downgraded from ${c.DefaultAPIVersion})` : ''}`);
  lines.push(` Node version:\t${c.GoVersion}`);
  lines.push(` Git commit:\t${c.GitCommit}`);
  if (c.BuildTime) lines.push(` Built:\t${c.BuildTime}`);
  lines.push(` OS/Arch:\t${c.Os}/${c.Arch}`);
  if (sv) {
    lines.push('');
    lines.push(`Server:${sv.Platform?.Name ? ` ${sv.Platform.Name}` : ''}`);
    for (const comp of sv.Components ?? []) {
      const d = comp.Details ?? {};
      lines.push(` ${comp.Name}:`);
      if (comp.Name === 'Engine') {
        lines.push(`  Version:\t${comp.Version}`);
        lines.push(`  API version:\t${d['ApiVersion'] ?? ''} (minimum version ${d['MinAPIVersion'] ?? ''})`);
        lines.push(`  ${runtimeLabel(d['GoVersion'])}:\t${d['GoVersion'] ?? ''}`);
        lines.push(`  Git commit:\t${d['GitCommit'] ?? ''}`);
        lines.push(`  Built:\t${d['BuildTime'] ?? ''}`);
        lines.push(`  OS/Arch:\t${d['Os'] ?? ''}/${d['Arch'] ?? ''}`);
        lines.push(`  Experimental:\t${d['Experimental'] ?? ''}`);
      } else {
        lines.push(`  Version:\t${comp.Version}`);
        for (const k of Object.keys(d).sort()) lines.push(`  ${k}:\t${d[k]}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** Tab alignment of version output: Go tabwriter(minwidth 20, padding 1). */
export function align(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let block: [string, string][] = [];
  const flush = () => {
    const w = Math.max(20, ...block.map(([a]) => a.length + 1));
    for (const [a, b] of block) out.push(a.padEnd(w) + b);
    block = [];
  };
  for (const l of lines) {
    const i = l.indexOf('\t');
    if (i === -1) {
      flush();
      out.push(l);
    } else block.push([l.slice(0, i), l.slice(i + 1)]);
  }
  flush();
  return out.join('\n');
}

async function runVersion(ctx: Ctx, format: string): Promise<number> {
  const client = ctx.client();
  let sv: ServerVersion | undefined;
  let serverErr: unknown;
  try {
    sv = normalizeServerVersion(await client.serverVersion());
  } catch (e) {
    serverErr = e;
  }
  const c = clientVersion(sv ? client.apiVersion : MAX_API_VERSION);
  if (format) {
    const { asStruct, named } = await import('../formatter.js');
    const { compile, TemplateError } = await import('../format/template.js');
    let tmpl;
    try {
      tmpl = compile(format === 'json' ? '{{json .}}' : format);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      throw new StatusError(64, `template parsing error: ${named('version', e.message)}`);
    }
    const data = asStruct({ Client: asStruct({ ...c }, 'system.clientVersion'), Server: sv ?? null }, 'system.versionInfo');
    try {
      ctx.out(tmpl.execute(data) + '\n');
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      ctx.out('\n');
      throw new StatusError(1, named('version', e.message));
    }
  } else {
    ctx.out(align(versionText(c, sv)));
  }
  if (serverErr) throw serverErr;
  return 0;
}

// --- info ---------------------------------------------------------------------

/** Go's fmt.Println of the operands docker passes. */
const ln = (...a: unknown[]) => a.map((x) => (x === null || x === undefined ? '' : String(x))).join(' ') + '\n';

/** The Server part of `info`, as docker's prettyPrintServerInfo. */
export function serverInfoText(info: Info, clientDebug: boolean): string {
  let s = '';
  const nonEmpty = (label: string, v: string | undefined) => {
    if (v) s += ln(label, v);
  };
  s += ln(' Containers:', info.Containers);
  s += ln('  Running:', info.ContainersRunning);
  s += ln('  Paused:', info.ContainersPaused);
  s += ln('  Stopped:', info.ContainersStopped);
  s += ln(' Images:', info.Images);
  nonEmpty(' Server Version:', info.ServerVersion);
  nonEmpty(' Storage Driver:', info.Driver);
  for (const [k, v] of info.DriverStatus ?? []) s += `  ${k}: ${v}\n`;
  for (const [k, v] of info.SystemStatus ?? []) s += ` ${k}: ${v}\n`;
  nonEmpty(' Logging Driver:', info.LoggingDriver);
  // Pier's own lines (docker shows neither): the log options new containers get, and where /metrics is.
  const pier = info as Info & { LoggingDriverOptions?: Record<string, string>; MetricsAddress?: string };
  const logOpts = Object.entries(pier.LoggingDriverOptions ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (logOpts.length) s += ln('  Default Log Options:', logOpts.map(([k, v]) => `${k}=${v}`).join(' '));
  nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  nonEmpty(' Cgroup Version:', info.CgroupVersion);
  const pl = info.Plugins ?? { Volume: [], Network: [], Authorization: [], Log: [] };
  s += ln(' Plugins:');
  s += ln('  Volume:', (pl.Volume ?? []).join(' '));
  s += ln('  Network:', (pl.Network ?? []).join(' '));
  if (pl.Authorization?.length) s += ln('  Authorization:', pl.Authorization.join(' '));
  s += ln('  Log:', (pl.Log ?? []).join(' '));
  if (info.CDISpecDirs?.length) {
    s += ln(' CDI spec directories:');
    for (const d of info.CDISpecDirs) s += `  ${d}\n`;
  }
  const swarm = info.Swarm?.LocalNodeState ?? 'inactive';
  s += ln(' Swarm:', swarm);
  if (swarm !== 'inactive' && swarm !== 'locked' && info.Swarm) {
    s += ln('  NodeID:', info.Swarm.NodeID ?? '');
    if (info.Swarm.Error) s += ln('  Error:', info.Swarm.Error);
    s += ln('  Is Manager:', info.Swarm.ControlAvailable ?? false);
    s += ln('  Node Address:', info.Swarm.NodeAddr ?? '');
  }
  const runtimes = Object.keys(info.Runtimes ?? {}).sort();
  if (runtimes.length > 0) {
    s += ln(' Runtimes:', runtimes.join(' '));
    s += ln(' Default Runtime:', info.DefaultRuntime ?? '');
  }
  if (info.OSType === 'linux') {
    s += ln(' Init Binary:', info.InitBinary ?? '');
    s += ln(' containerd version:', info.ContainerdCommit?.ID ?? '');
    s += ln(' runc version:', info.RuncCommit?.ID ?? '');
    s += ln(' init version:', info.InitCommit?.ID ?? '');
    if (info.SecurityOptions?.length) {
      s += ln(' Security Options:');
      for (const so of info.SecurityOptions) {
        // "name=seccomp,profile=builtin"
        const kv = Object.fromEntries(so.split(',').map((p) => {
          const i = p.indexOf('=');
          return i === -1 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
        }));
        s += ln('  ' + (kv['name'] ?? so));
        if (kv['profile'] !== undefined) s += ln('   Profile:', kv['profile']);
      }
    }
  }
  if (info.OSType === 'windows') s += ln(' Default Isolation:', info.Isolation ?? '');
  nonEmpty(' Kernel Version:', info.KernelVersion);
  nonEmpty(' Operating System:', info.OperatingSystem);
  nonEmpty(' OSType:', info.OSType);
  nonEmpty(' Architecture:', info.Architecture);
  s += ln(' CPUs:', info.NCPU);
  s += ln(' Total Memory:', bytesSize(info.MemTotal ?? 0));
  nonEmpty(' Name:', info.Name);
  nonEmpty(' ID:', info.ID);
  s += ln(' Docker Root Dir:', info.DockerRootDir);
  s += ln(' Debug Mode:', info.Debug);
  if (info.Debug || clientDebug) {
    s += ln('  File Descriptors:', info.NFd);
    s += ln('  Goroutines:', info.NGoroutines);
    s += ln('  System Time:', info.SystemTime);
    s += ln('  EventsListeners:', info.NEventsListener);
  }
  nonEmpty(' HTTP Proxy:', info.HttpProxy);
  nonEmpty(' HTTPS Proxy:', info.HttpsProxy);
  nonEmpty(' No Proxy:', info.NoProxy);
  if (info.Labels?.length) {
    s += ln(' Labels:');
    for (const l of info.Labels) s += ln('  ' + l);
  }
  s += ln(' Experimental:', info.ExperimentalBuild);
  const rc = info.RegistryConfig;
  const indexConfigs = Object.values(rc?.IndexConfigs ?? {});
  if (rc && ((rc.InsecureRegistryCIDRs?.length ?? 0) > 0 || indexConfigs.length > 0)) {
    s += ln(' Insecure Registries:');
    for (const ic of indexConfigs) if (!ic.Secure) s += ln('  ' + ic.Name);
    for (const cidr of rc.InsecureRegistryCIDRs ?? []) s += `  ${cidr}\n`;
  }
  if (rc?.Mirrors?.length) {
    s += ln(' Registry Mirrors:');
    for (const m of rc.Mirrors) s += ln('  ' + m);
  }
  s += ln(' Live Restore Enabled:', info.LiveRestoreEnabled);
  nonEmpty(' Metrics Address:', pier.MetricsAddress);
  if (info.ProductLicense) s += ln(' Product License:', info.ProductLicense);
  if (info.DefaultAddressPools?.length) {
    s += ln(' Default Address Pools:');
    for (const p of info.DefaultAddressPools) s += `   Base: ${p.Base}, Size: ${p.Size}\n`;
  }
  s += '\n';
  return s;
}

export function clientInfoText(debug: boolean): string {
  return `Client:\n${ln(' Version:   ', build.version)}${ln(' Debug Mode:', debug)}`;
}

async function runInfo(ctx: Ctx, format: string): Promise<number> {
  const client = ctx.client();
  if (format) {
    const { asStruct, parseTemplate } = await import('../formatter.js');
    const { TemplateError } = await import('../format/template.js');
    const tmpl = parseTemplate(format === 'json' ? '{{json .}}' : format);
    let info: Info | Record<string, never> = {};
    const serverErrors: string[] = [];
    try {
      info = await client.info();
    } catch (e) {
      serverErrors.push((e as Error).message);
      ctx.err(String(e instanceof ConnectError ? e.message : e) + '\n');
    }
    const data: Record<string, unknown> = { ...info };
    if (serverErrors.length) data['ServerErrors'] = serverErrors;
    data['ClientInfo'] = { Debug: ctx.debug, ...clientVersion(client.apiVersion), Plugins: [], Warnings: null };
    try {
      ctx.out(tmpl.execute(asStruct(data, 'system.dockerInfo')) + '\n');
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      ctx.out('\n');
      throw new StatusError(1, e.message);
    }
    return 0;
  }
  ctx.out(clientInfoText(ctx.debug));
  ctx.out('\nServer:\n');
  const info = await client.info();
  ctx.out(serverInfoText(info, ctx.debug));
  for (const w of info.Warnings ?? []) ctx.err(w + '\n');
  return 0;
}

// --- system df ----------------------------------------------------------------

interface DfRow {
  Active: string;
  Reclaimable: string;
  Size: string;
  TotalCount: string;
  Type: string;
}

const pct = (reclaimable: number, total: number) =>
  total > 0 ? `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)` : humanSize(reclaimable);

const isActive = (c: ContainerSummary) => /running|paused|restarting/.test(c.State);

/** The four summary rows of `system df`, computed as docker 28 does. */
export function dfRows(du: DiskUsage): DfRow[] {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];

  let usedByContainers = 0;
  for (const i of images) {
    if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) usedByContainers += i.Size - i.SharedSize;
  }
  const layers = du.LayersSize ?? 0;

  const ctrSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const ctrReclaim = containers.filter((c) => !isActive(c)).reduce((a, c) => a + (c.SizeRw ?? 0), 0);

  let volSize = 0;
  let volReclaim = 0;
  for (const v of volumes) {
    const sz = v.UsageData?.Size ?? -1;
    if (sz !== -1) {
      volSize += sz;
      if ((v.UsageData?.RefCount ?? 0) === 0) volReclaim += sz;
    }
  }

  const builderSize = cache.filter((b) => !b.Shared).reduce((a, b) => a + b.Size, 0);
  const inUse = cache.filter((b) => b.InUse && !b.Shared).reduce((a, b) => a + b.Size, 0);

  return [
    { Active: String(images.filter((i) => i.Containers > 0).length), Reclaimable: pct(layers - usedByContainers, layers), Size: humanSize(layers), TotalCount: String(images.length), Type: 'Images' },
    { Active: String(containers.filter(isActive).length), Reclaimable: pct(ctrReclaim, ctrSize), Size: humanSize(ctrSize), TotalCount: String(containers.length), Type: 'Containers' },
    { Active: String(volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length), Reclaimable: pct(volReclaim, volSize), Size: humanSize(volSize), TotalCount: String(volumes.length), Type: 'Local Volumes' },
    { Active: String(cache.filter((b) => b.InUse).length), Reclaimable: humanSize(builderSize - inUse), Size: humanSize(builderSize), TotalCount: String(cache.length), Type: 'Build Cache' },
  ];
}

const dfHeaders = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

function since(ms: number): string {
  return `${humanDuration(Date.now() - ms)} ago`;
}

function dfImageRow(i: ImageSummary, trunc: boolean): ImageRow {
  let repo = '<none>';
  let tag = '<none>';
  const first = i.RepoTags?.[0];
  if (first && first !== '<none>:<none>') {
    try {
      const r = parseNormalizedNamed(first);
      if (r.tag) {
        repo = familiarName(r);
        tag = r.tag;
      }
    } catch {
      // unparseable tags are shown as <none>, like docker skips them
    }
  }
  const id = trunc ? i.Id.replace(/^[^:]*:/, '').slice(0, 12) : i.Id;
  return {
    Containers: i.Containers === -1 ? 'N/A' : String(i.Containers),
    CreatedAt: goTime(new Date(i.Created * 1000), 'string'),
    CreatedSince: since(i.Created * 1000),
    Digest: '',
    ID: id,
    Repository: repo,
    SharedSize: i.SharedSize === -1 ? 'N/A' : humanSize(i.SharedSize),
    Size: humanSizeWithPrecision(i.Size, 3),
    Tag: tag,
    UniqueSize: i.Size === -1 || i.SharedSize === -1 ? 'N/A' : humanSize(i.Size - i.SharedSize),
    VirtualSize: humanSize(i.Size),
  };
}

function dfContainerRow(c: ContainerSummary, trunc: boolean) {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, '')).filter((n) => !n.includes('/'));
  let command = c.Command ?? '';
  if (trunc && [...command].length > 20) command = [...command].slice(0, 19).join('') + '…';
  const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
  return {
    Command: JSON.stringify(command),
    CreatedAt: goTime(new Date(c.Created * 1000), 'string'),
    ID: trunc ? c.Id.slice(0, 12) : c.Id,
    Image: c.Image || '<no image>',
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Type === 'volume').length),
    Names: names.join(','),
    RunningFor: since(c.Created * 1000),
    Size: srw,
    State: c.State,
    Status: c.Status,
  };
}

async function runDf(ctx: Ctx, format: string, verbose: boolean): Promise<number> {
  const { formatRows } = await import('../formatter.js');
  const du = await ctx.client().diskUsage();
  if (!format) format = 'table';
  if (format === 'json') format = '{{json .}}';
  if (!verbose) {
    if (format === 'table') format = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
    ctx.out(formatRows(format, dfRows(du), dfHeaders, { typeName: '*formatter.diskUsageImagesContext', marshalJSON: true }));
    return 0;
  }
  const trunc = format.startsWith('table');
  const images = (du.Images ?? []).map((i) => dfImageRow(i, trunc));
  const containers = (du.Containers ?? []).map((c) => dfContainerRow(c, trunc));
  const volumes = (du.Volumes ?? []).map((v) => ({
    Driver: v.Driver,
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Name: v.Name,
    Size: v.UsageData && v.UsageData.Size !== -1 ? humanSize(v.UsageData.Size) : 'N/A',
  }));
  const cache = [...(du.BuildCache ?? [])]
    // docker's buildCacheSort: never-used records first, then by last use, oldest first; ties by ID.
    .sort((a, b) => {
      const byId = a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
      if (!a.LastUsedAt || !b.LastUsedAt) return !a.LastUsedAt && !b.LastUsedAt ? byId : !a.LastUsedAt ? -1 : 1;
      return Date.parse(a.LastUsedAt) - Date.parse(b.LastUsedAt) || byId;
    })
    .map((b) => ({
      CacheType: b.Type,
      CreatedSince: since(Date.parse(b.CreatedAt)),
      ID: (trunc ? b.ID.slice(0, 12) : b.ID) + (b.InUse ? '*' : ''),
      LastUsedSince: b.LastUsedAt ? since(Date.parse(b.LastUsedAt)) : '',
      Shared: String(b.Shared),
      Size: humanSizeWithPrecision(b.Size, 3),
      UsageCount: String(b.UsageCount),
    }));
  if (format !== 'table') {
    // docker executes this template directly: no newline after it.
    const out = formatRows(format, [{ Images: images, Containers: containers, Volumes: volumes, BuildCache: cache }], {}, { typeName: '*formatter.diskUsageContext' });
    ctx.out(out.endsWith('\n') ? out.slice(0, -1) : out);
    return 0;
  }
  const builderSize = (du.BuildCache ?? []).filter((b) => !b.Shared).reduce((a, b) => a + b.Size, 0);
  let s = 'Images space usage:\n\n';
  s += formatRows('table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', images,
    { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' });
  s += '\nContainers space usage:\n\n';
  s += formatRows('table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}', containers,
    { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES' });
  s += '\nLocal Volumes space usage:\n\n';
  s += formatRows('table {{.Name}}\t{{.Links}}\t{{.Size}}', volumes, { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' });
  s += `\nBuild cache usage: ${humanSize(builderSize)}\n\n`;
  s += formatRows('table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', cache,
    { ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' });
  ctx.out(s);
  return 0;
}

// --- system prune -------------------------------------------------------------

/** docker 28's confirmation: what will go, and the filters that narrow it. */
export function pruneWarning(o: { all: boolean; volumes: boolean; filters: readonly string[] }): string {
  const warnings = ['all stopped containers', 'all networks not used by at least one container'];
  if (o.volumes) warnings.push('all anonymous volumes not used by at least one container');
  warnings.push(o.all ? 'all images without at least one container associated to them' : 'all dangling images');
  warnings.push(o.all ? 'all build cache' : 'unused build cache');
  let s = 'WARNING! This will remove:\n' + warnings.map((w) => `  - ${w}\n`).join('');
  if (o.filters.length) s += '\n  Items to be pruned will be filtered with:\n' + [...o.filters].sort().map((f) => `  - ${f}\n`).join('');
  return s + '\nAre you sure you want to continue?';
}

/**
 * `system prune`: containers, networks, (volumes,) images and build cache, in
 * docker's order, each with the same filters; a section per kind that removed
 * something, then the space reclaimed in all.
 */
async function runSystemPrune(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const all = f.values['all'] === true;
  const volumes = f.values['volumes'] === true;
  const given = (f.values['filter'] as string[] | undefined) ?? [];
  const filters = toFilters(given);
  // docker: volumes have no "until" (checked before the prompt).
  if (volumes && filters['until']) throw new StatusError(1, 'ERROR: The "until" filter is not supported with "--volumes"');
  if (f.values['force'] !== true) {
    const { confirm } = await import('./images.js');
    if (!(await confirm(ctx, pruneWarning({ all, volumes, filters: given })))) return 0;
  }
  const client = ctx.client();
  let reclaimed = 0;
  const section = (title: string, items: readonly string[]) => {
    if (items.length) ctx.out(`${title}:\n${items.map((i) => `${i}\n`).join('')}\n`);
  };
  const containers = await client.containersPrune(filters);
  section('Deleted Containers', containers.ContainersDeleted ?? []);
  reclaimed += containers.SpaceReclaimed ?? 0;
  const networks = await client.networksPrune(filters);
  section('Deleted Networks', networks.NetworksDeleted ?? []);
  if (volumes) {
    // As docker's system prune: anonymous volumes only, also with -a.
    const vols = await client.volumesPrune(filters);
    section('Deleted Volumes', vols.VolumesDeleted ?? []);
    reclaimed += vols.SpaceReclaimed ?? 0;
  }
  const images = await client.imagesPrune({ ...filters, dangling: { [String(!all)]: true } });
  section('Deleted Images', (images.ImagesDeleted ?? []).map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`)));
  reclaimed += images.SpaceReclaimed ?? 0;
  const cache = await client.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
    query: { all: all ? true : undefined, filters },
  });
  section('Deleted build cache objects', cache?.CachesDeleted ?? []);
  reclaimed += cache?.SpaceReclaimed ?? 0;
  ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

export const commands: Record<string, CommandDef> = {
  version: {
    use: 'version [OPTIONS]',
    flags: [{ name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect }],
    run: (ctx, f) => runVersion(ctx, f.values['format'] as string),
  },
  info: {
    use: 'info [OPTIONS]',
    flags: [{ name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect }],
    run: (ctx, f) => runInfo(ctx, f.values['format'] as string),
  },
  df: {
    use: 'df [OPTIONS]',
    flags: [
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'verbose', short: 'v', type: 'bool', usage: 'Show detailed information on space usage' },
    ],
    run: (ctx, f) => runDf(ctx, f.values['format'] as string, f.values['verbose'] === true),
  },
  prune: {
    use: 'prune [OPTIONS]',
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused images not just dangling ones' },
      { name: 'filter', type: 'filter', usage: 'Provide filter values (e.g. "label=<key>=<value>")', validate: validateFilter },
      { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
      { name: 'volumes', type: 'bool', usage: 'Prune anonymous volumes' },
    ],
    args: { exact: 0 },
    run: runSystemPrune,
  },
};
