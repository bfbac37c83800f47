// Volume commands: volume create, ls, inspect, rm, prune, update — docker 28's
// flags, requests and output.

import { readFileSync } from 'node:fs';
import { errText } from '../../client/errors.js';
import type { VolumeCreateRequest, VolumeSummary } from '../../client/types.js';
import { formatHelp, StatusError, type CommandDef, type Ctx } from '../command.js';
import { toFilters, validateFilter, type ParsedFlags } from '../flags.js';
import { formatRows, goJSON, parseTemplate, writeInspect } from '../formatter.js';
import { humanSize } from '../units.js';
import { kvMap, validateLabel } from './container-opts.js';
import { naturalLess } from './containers.js';
import { confirm } from './images.js';
import { configPath } from './registry.js';

type Volume = VolumeSummary & { ClusterVolume?: unknown; Status?: unknown };

/** The volumesFormat of docker's config.json, if any. */
function volumesFormat(env: Ctx['io']['env']): string {
  try {
    const v = (JSON.parse(readFileSync(configPath(env), 'utf8')) as Record<string, unknown>)['volumesFormat'];
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

// --- create -------------------------------------------------------------------

/** MapOpts values ("k=v", or "k" for an empty value) as a map. */
function mapOpt(list: readonly string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    m[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
  }
  return m;
}

/** Docker's ClusterVolumeSpec from the cluster flags (sent when one of them is set; the daemon decides). */
function clusterSpec(f: ParsedFlags): object {
  const v = f.values;
  const bytes = (k: string) => {
    const s = v[k] as string;
    return s ? Number(s) : 0;
  };
  const topology = (k: string) => (v[k] as string[]).map((t) => ({ Segments: mapOpt(t.split(',')) }));
  const secrets = Object.entries(mapOpt(v['secret'] as string[])).sort(([a], [b]) => (a < b ? -1 : 1)).map(([Key, Secret]) => ({ Key, Secret }));
  const req = topology('topology-required');
  const pref = topology('topology-preferred');
  return {
    ...(v['group'] ? { Group: v['group'] } : {}),
    AccessMode: {
      Scope: v['scope'], Sharing: v['sharing'],
      ...(v['type'] === 'mount' ? { MountVolume: {} } : v['type'] === 'block' ? { BlockVolume: {} } : {}),
    },
    ...(secrets.length ? { Secrets: secrets } : {}),
    AccessibilityRequirements: { ...(req.length ? { Requisite: req } : {}), ...(pref.length ? { Preferred: pref } : {}) },
    CapacityRange: { RequiredBytes: bytes('required-bytes'), LimitBytes: bytes('limit-bytes') },
    Availability: v['availability'],
  };
}

const CLUSTER_FLAGS = ['group', 'scope', 'sharing', 'availability', 'type', 'limit-bytes', 'required-bytes'];

async function runCreate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  let name = f.values['name'] as string;
  if (f.args.length === 1) {
    if (name !== '') throw new StatusError(1, 'conflicting options: cannot specify a volume-name through both --name and as a positional arg');
    name = f.args[0]!;
  }
  // Go leaves empty fields out of the request (omitempty).
  const body: VolumeCreateRequest & { ClusterVolumeSpec?: object } = {};
  if (CLUSTER_FLAGS.some((k) => f.changed.has(k))) body.ClusterVolumeSpec = clusterSpec(f);
  if (f.values['driver']) body.Driver = f.values['driver'] as string;
  const opts = mapOpt(f.values['opt'] as string[]);
  if (Object.keys(opts).length) body.DriverOpts = opts;
  const labels = kvMap(f.values['label'] as string[]);
  if (Object.keys(labels).length) body.Labels = labels;
  if (name) body.Name = name;
  const v = await ctx.client().volumeCreate(body);
  ctx.out(`${v.Name}\n`);
  return 0;
}

// --- ls -----------------------------------------------------------------------

export interface VolumeRow {
  Availability: string;
  Driver: string;
  Group: string;
  Labels: string;
  Links: string;
  Mountpoint: string;
  Name: string;
  Scope: string;
  Size: string;
  Status: string;
}

export const volumeHeaders: Record<string, string> = {
  ID: 'ID', Name: 'VOLUME NAME', Group: 'GROUP', Driver: 'DRIVER', Scope: 'SCOPE', Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Status: 'STATUS',
};

/** formatter.volumeContext, one row per volume (and .Label). */
export function volumeRows(vols: readonly Volume[]): VolumeRow[] {
  return vols.map((v) => {
    const labels = v.Labels ?? {};
    const row: VolumeRow = {
      Availability: 'N/A', Driver: v.Driver, Group: 'N/A',
      Labels: Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(','),
      Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
      Mountpoint: v.Mountpoint, Name: v.Name, Scope: v.Scope ?? '',
      Size: v.UsageData ? humanSize(v.UsageData.Size) : 'N/A',
      Status: 'N/A',
    };
    (row as VolumeRow & { Label(name: string): string }).Label = (name: string) => labels[name] ?? '';
    return row;
  });
}

/** formatter.NewVolumeFormat. */
export function volumeFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.Name}}' : 'table {{.Driver}}\t{{.Name}}';
  if (source === 'raw') return quiet ? 'name: {{.Name}}' : 'name: {{.Name}}\ndriver: {{.Driver}}\n';
  return source;
}

const CLUSTER_TABLE = 'table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}';

async function runLs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const quiet = f.values['quiet'] === true;
  const cluster = f.values['cluster'] === true;
  const res = await ctx.client().volumeList(toFilters(f.values['filter'] as string[]));
  let vols: Volume[] = res.Volumes ?? [];
  let format = f.values['format'] as string;
  if (!format && !cluster) {
    const cfg = volumesFormat(ctx.io.env);
    format = cfg && !quiet ? cfg : 'table';
  } else if (cluster) {
    vols = vols.filter((v) => v.ClusterVolume);
    format = quiet ? 'table' : CLUSTER_TABLE;
  }
  vols = [...vols].sort((a, b) => (naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0));
  ctx.out(formatRows(volumeFormat(format, quiet), volumeRows(vols), volumeHeaders, { typeName: '*formatter.volumeContext', marshalJSON: true }));
  return 0;
}

// --- inspect ------------------------------------------------------------------

/** The volume as the docker CLI re-encodes it (api/types/volume.Volume: field order, omitempty, map keys sorted). */
export function volumeDocument(raw: string): string {
  const v = JSON.parse(raw) as Record<string, unknown>;
  const map = (m: unknown) => (m && typeof m === 'object' ? Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : null);
  const out: Record<string, unknown> = {};
  if (v['ClusterVolume']) out['ClusterVolume'] = v['ClusterVolume'];
  if (v['CreatedAt']) out['CreatedAt'] = v['CreatedAt'];
  out['Driver'] = v['Driver'] ?? '';
  out['Labels'] = map(v['Labels']);
  out['Mountpoint'] = v['Mountpoint'] ?? '';
  out['Name'] = v['Name'] ?? '';
  out['Options'] = map(v['Options']);
  out['Scope'] = v['Scope'] ?? '';
  if (v['Status'] && Object.keys(v['Status']).length) out['Status'] = map(v['Status']);
  if (v['UsageData']) out['UsageData'] = v['UsageData'];
  return goJSON(out);
}

async function runInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const format = f.values['format'] as string;
  const tmpl = format ? parseTemplate(format === 'json' ? '{{json .}}' : format) : undefined;
  const client = ctx.client();
  const raws: string[] = [];
  const errs: string[] = [];
  for (const name of f.args) {
    try {
      raws.push(volumeDocument(await client.volumeInspectRaw(name)));
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      errs.push(errText(e));
    }
  }
  writeInspect(ctx.out, tmpl, raws, errs);
  return 0;
}

// --- rm / prune / update ------------------------------------------------------

async function runRm(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const errs: string[] = [];
  for (const name of f.args) {
    try {
      await client.volumeRemove(name, f.values['force'] === true);
      ctx.out(`${name}\n`);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      errs.push(errText(e));
    }
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

async function runPrune(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const filters = toFilters(f.values['filter'] as string[]);
  let warning = 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
  if (f.values['all'] === true) {
    if (filters['all']) throw new StatusError(1, 'conflicting options: cannot specify both --all and --filter all=1');
    filters['all'] = { true: true };
    warning = 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?';
  }
  if (f.values['force'] !== true && !(await confirm(ctx, warning))) return 0;
  const report = await ctx.client().volumesPrune(filters);
  let reclaimed = 0;
  const deleted = report.VolumesDeleted ?? [];
  if (deleted.length) {
    ctx.out(`Deleted Volumes:\n${deleted.map((d) => `${d}\n`).join('')}\n`);
    reclaimed = report.SpaceReclaimed;
  }
  ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

async function runUpdate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const v = JSON.parse(await ctx.client().volumeInspectRaw(f.args[0]!)) as Volume;
  // Only cluster volumes (swarm) can change; this daemon has none.
  if (!v.ClusterVolume) throw new StatusError(1, 'can only update cluster volumes');
  return 0;
}

// --- definitions ----------------------------------------------------------------

const availability = { name: 'availability', type: 'string', usage: 'Cluster Volume availability ("active", "pause", "drain")', default: 'active' } as const;

export const commands: Record<string, CommandDef> = {
  create: {
    use: 'create [OPTIONS] [VOLUME]',
    flags: [
      availability,
      { name: 'driver', short: 'd', type: 'string', usage: 'Specify volume driver name', default: 'local' },
      { name: 'group', type: 'string', usage: 'Cluster Volume group (cluster volumes)' },
      { name: 'label', type: 'list', usage: 'Set metadata for a volume', validate: (v) => {
        try {
          validateLabel(v);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      } },
      { name: 'limit-bytes', type: 'string', usage: 'Minimum size of the Cluster Volume in `bytes`', validate: (v) => (/^\d+$/.test(v) ? undefined : `invalid size: '${v}'`) },
      { name: 'name', type: 'string', usage: 'Specify volume name', hidden: true },
      { name: 'opt', short: 'o', type: 'map', usage: 'Set driver specific options' },
      { name: 'required-bytes', type: 'string', usage: 'Maximum size of the Cluster Volume in `bytes`', validate: (v) => (/^\d+$/.test(v) ? undefined : `invalid size: '${v}'`) },
      { name: 'scope', type: 'string', usage: 'Cluster Volume access scope ("single", "multi")', default: 'single' },
      { name: 'secret', type: 'map', usage: 'Cluster Volume secrets' },
      { name: 'sharing', type: 'string', usage: 'Cluster Volume access sharing ("none", "readonly", "onewriter", "all")', default: 'none' },
      { name: 'topology-preferred', type: 'list', usage: 'A topology that the Cluster Volume would be preferred in' },
      { name: 'topology-required', type: 'list', usage: 'A topology that the Cluster Volume must be accessible from' },
      { name: 'type', type: 'string', usage: 'Cluster Volume access type ("mount", "block")', default: 'block' },
    ],
    args: { max: 1 },
    run: runCreate,
  },
  ls: {
    use: 'ls [OPTIONS]',
    flags: [
      { name: 'cluster', type: 'bool', usage: 'Display only cluster volumes, and use cluster volume list formatting' },
      { name: 'filter', short: 'f', type: 'filter', usage: 'Provide filter values (e.g. "dangling=true")', validate: validateFilter },
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display volume names' },
    ],
    run: runLs,
  },
  inspect: {
    use: 'inspect [OPTIONS] VOLUME [VOLUME...]',
    flags: [{ name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect }],
    args: { min: 1 },
    run: runInspect,
  },
  rm: {
    use: 'rm [OPTIONS] VOLUME [VOLUME...]',
    flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of one or more volumes' }],
    args: { min: 1 },
    run: runRm,
  },
  prune: {
    use: 'prune [OPTIONS]',
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused volumes, not just anonymous ones' },
      { name: 'filter', type: 'filter', usage: 'Provide filter values (e.g. "label=<label>")', validate: validateFilter },
      { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
    ],
    run: runPrune,
  },
  update: {
    use: 'update [OPTIONS] [VOLUME]',
    flags: [availability],
    args: { exact: 1 },
    run: runUpdate,
  },
};
