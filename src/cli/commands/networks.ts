// Network commands: network create, ls, inspect, rm, connect, disconnect, prune,
// as docker 28's cli/command/network does them. The CLI validates IPAM pairing
// (subnets with their ranges, gateways and aux addresses) before any request,
// with docker's messages; everything else is the daemon's to judge.

import { readFileSync } from 'node:fs';
import { errText, isNotFound } from '../../client/errors.js';
import type { EndpointSettings, IPAMConfig, NetworkCreateRequest, NetworkSummary } from '../../client/types.js';
import { formatHelp, goTime, StatusError, type CommandDef, type Ctx } from '../command.js';
import { check, toFilters, validateFilter, type FlagSpec, type FlagType, type ParsedFlags } from '../flags.js';
import { asStruct, formatRows, parseTemplate, truncateID, writeInspect, writeInspectJson } from '../formatter.js';
import { TemplateError, type Template } from '../format/template.js';
import { naturalLess } from './containers.js';
import { kvMap, validateLabel, validateLink } from './container-opts.js';
import { confirm } from './images.js';
import { configPath } from './registry.js';

// --- Go's net.ParseIP / net.ParseCIDR / IPNet.Contains ----------------------------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const V4_IN_V6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIPv4(s: string): number[] | undefined {
  return IPV4.test(s) ? s.split('.').map(Number) : undefined;
}

/** netip.ParseAddr for IPv6 without a zone: 8 groups, or fewer around one "::", an IPv4 tail allowed. */
function parseIPv6(s: string): number[] | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (const [i, g] of groups.entries()) {
      if (last && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  const head = words(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? words(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    all = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/** net.ParseIP: 16 bytes (IPv4 as ::ffff:a.b.c.d), undefined when invalid. */
export function parseIP(s: string): number[] | undefined {
  const v4 = parseIPv4(s);
  if (v4) return [...V4_IN_V6, ...v4];
  return s.includes(':') ? parseIPv6(s) : undefined;
}

const to4 = (ip: readonly number[]): number[] | undefined =>
  ip.length === 4 ? [...ip] : ip.length === 16 && V4_IN_V6.every((b, i) => ip[i] === b) ? ip.slice(12) : undefined;

/** Go's *net.IPNet: IP and mask are 4 bytes for an IPv4 prefix, 16 otherwise. */
interface IPNet {
  ip: number[];
  mask: number[];
}

/** net.ParseCIDR: the address as written (16 bytes) and its network; a *net.ParseError's text when invalid. */
export function parseCIDR(s: string): { ip: number[]; net: IPNet } {
  const bad = () => new Error(`invalid CIDR address: ${s}`);
  const slash = s.indexOf('/');
  if (slash === -1) throw bad();
  const addr = s.slice(0, slash);
  const bitsText = s.slice(slash + 1);
  const ip = parseIP(addr);
  if (!ip || !/^\d+$/.test(bitsText)) throw bad();
  const is4 = IPV4.test(addr);
  const len = is4 ? 4 : 16;
  const bits = Number(bitsText);
  if (bits > len * 8) throw bad();
  const mask = Array.from({ length: len }, (_, i) => {
    const n = Math.min(8, Math.max(0, bits - i * 8));
    return (0xff << (8 - n)) & 0xff;
  });
  const base = is4 ? ip.slice(12) : ip;
  return { ip, net: { ip: base.map((b, i) => b & mask[i]!), mask } };
}

/** IPNet.Contains, with Go's treatment of IPv4 inside IPv6. */
function contains(n: IPNet, ip: number[] | undefined): boolean {
  if (!ip) return false;
  const nn = to4(n.ip) ?? n.ip;
  let m = n.mask;
  if (m.length === 4 && nn.length !== 4) return false;
  if (m.length === 16 && nn.length === 4) m = m.slice(12);
  const x = to4(ip) ?? ip;
  if (x.length !== nn.length) return false;
  return x.every((b, i) => (b & m[i]!) === (nn[i]! & m[i]!));
}

/** docker's subnetMatches: is `data` (an address, or the address of a CIDR) inside `subnet`? */
function subnetMatches(subnet: string, data: string): boolean {
  let s: IPNet;
  try {
    s = parseCIDR(subnet).net;
  } catch (e) {
    throw new Error(`invalid subnet: ${(e as Error).message}`);
  }
  const ip = data.includes('/') ? parseCIDR(data).ip : parseIP(data);
  return contains(s, ip);
}

/**
 * docker 28's consolidateIpam: one IPAM.Config entry per subnet, with the range,
 * gateway and aux addresses that fall inside it. Entries keep the order the
 * subnets were given in (docker's come out of a Go map, in any order).
 */
export function consolidateIpam(subnets: readonly string[], ranges: readonly string[], gateways: readonly string[], aux: ReadonlyMap<string, string>): IPAMConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new Error('every ip-range or gateway must have a corresponding subnet');
  }
  const data = new Map<string, IPAMConfig & { AuxiliaryAddresses: Record<string, string> }>();
  for (const s of subnets) {
    for (const k of data.keys()) {
      // Both checks run (and may fail) before either counts, as in docker.
      const inS = subnetMatches(s, k);
      const inK = subnetMatches(k, s);
      if (inS || inK) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    data.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  const pair = (values: readonly string[], field: 'IPRange' | 'Gateway', what: string, multiple: string) => {
    for (const v of values) {
      // A range must be a prefix itself (its error comes before any subnet's).
      if (field === 'IPRange') parseCIDR(v);
      let match = false;
      for (const s of subnets) {
        if (!subnetMatches(s, v)) continue;
        const d = data.get(s)!;
        if (d[field]) throw new Error(`cannot configure multiple ${multiple} (${v}, ${d[field]}) ${field === 'IPRange' ? 'on' : 'for'} the same subnet (${s})`);
        d[field] = v;
        match = true;
      }
      if (!match) throw new Error(`no matching subnet for ${what} ${v}`);
    }
  };
  pair(ranges, 'IPRange', 'range', 'ranges');
  pair(gateways, 'Gateway', 'gateway', 'gateways');
  for (const [key, addr] of aux) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, addr)) continue;
      data.get(s)!.AuxiliaryAddresses[key] = addr;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${addr}`);
  }
  // Go field order, the empty map left out (omitempty).
  return [...data.values()].map((d) => {
    const c: IPAMConfig = { Subnet: d.Subnet! };
    if (d.IPRange) c.IPRange = d.IPRange;
    if (d.Gateway) c.Gateway = d.Gateway;
    if (Object.keys(d.AuxiliaryAddresses).length) c.AuxiliaryAddresses = sortedRecord(Object.entries(d.AuxiliaryAddresses));
    return c;
  });
}

// --- flags shared by create and connect ---------------------------------------------------------

/** A record with sorted keys, as Go's encoder writes a map; later duplicates win. */
function sortedRecord(entries: Iterable<readonly [string, string]>): Record<string, string> {
  const m = new Map(entries);
  return Object.fromEntries([...m.keys()].sort().map((k) => [k, m.get(k)!]));
}

/** The pairs of an opts.MapOpts flag ("k=v", "k" is k=""), in the order given. */
function mapFlag(f: ParsedFlags, name: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of listFlag(f, name)) {
    const i = kv.indexOf('=');
    m.set(i === -1 ? kv : kv.slice(0, i), i === -1 ? '' : kv.slice(i + 1));
  }
  return m;
}

/** A repeatable flag's values (a "map" flag holds its help default until set). */
const listFlag = (f: ParsedFlags, name: string): string[] => (f.changed.has(name) ? (f.values[name] as string[]) : []);

/**
 * opts.MapOpts as a flag: shown as "map" with pflag's "(default map[])"; the parser
 * treats a type it does not know as a repeatable list.
 */
const mapSpec = (name: string, usage: string, short?: string): FlagSpec => ({
  name, type: 'map' as unknown as FlagType, usage, default: 'map[]', ...(short ? { short } : {}),
});


// --- create ---------------------------------------------------------------------------------

/** The body of POST /networks/create for the flags given (docker's runCreate). */
export function createRequest(name: string, f: ParsedFlags): NetworkCreateRequest {
  const v = f.values;
  const config = consolidateIpam(listFlag(f, 'subnet'), listFlag(f, 'ip-range'), listFlag(f, 'gateway'), mapFlag(f, 'aux-address'));
  const body: NetworkCreateRequest = {
    Driver: v['driver'] as string,
    Scope: v['scope'] as string,
    IPAM: { Driver: v['ipam-driver'] as string, Options: sortedRecord(mapFlag(f, 'ipam-opt')), Config: config },
    Internal: v['internal'] === true,
    Attachable: v['attachable'] === true,
    Ingress: v['ingress'] === true,
    ConfigOnly: v['config-only'] === true,
    ConfigFrom: v['config-from'] ? { Network: v['config-from'] as string } : null,
    Options: sortedRecord(mapFlag(f, 'opt')),
    Labels: sortedRecord(Object.entries(kvMap(listFlag(f, 'label')))),
    Name: name,
  };
  // *bool with omitempty: sent only when given, in the struct's place after Scope.
  const ipFamilies: Partial<NetworkCreateRequest> = {};
  if (f.changed.has('ipv4')) ipFamilies.EnableIPv4 = v['ipv4'] === true;
  if (f.changed.has('ipv6')) ipFamilies.EnableIPv6 = v['ipv6'] === true;
  const { Driver, Scope, ...rest } = body;
  return { Driver, Scope, ...ipFamilies, ...rest };
}

async function runCreate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  let body: NetworkCreateRequest;
  try {
    body = createRequest(f.args[0]!, f);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  // docker prints the ID only, never the daemon's Warning.
  const res = await ctx.client().networkCreate(body);
  ctx.out(`${res.Id}\n`);
  return 0;
}

// --- ls -------------------------------------------------------------------------------------

export const networkHeaders: Record<string, string> = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6',
  Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT',
};

/** time.Time.String() of an RFC 3339 time as Go decodes it: Z is UTC, the local offset is the local zone. */
export function goTimeString(rfc3339: string | undefined): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(rfc3339 ?? '');
  if (!m) return '0001-01-01 00:00:00 +0000 UTC';
  const [, date, time, fracDigits = '', zone] = m;
  const frac = fracDigits.slice(0, 9).replace(/0+$/, '');
  const wall = `${date} ${time}${frac ? `.${frac}` : ''}`;
  if (zone!.toUpperCase() === 'Z') return `${wall} +0000 UTC`;
  const sign = zone![0] === '-' ? -1 : 1;
  const off = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  const d = new Date(`${date}T${time}${zone}`);
  // Go keeps the local zone (and its name) when the offset is the local one at that instant.
  if (!Number.isNaN(d.getTime()) && -d.getTimezoneOffset() === off) {
    return goTime(d, 'string').replace(/^(\S+ \S+)/, `$1${frac ? `.${frac}` : ''}`);
  }
  const hhmm = `${zone![0]}${zone!.slice(1, 3)}${zone!.slice(4, 6)}`;
  return `${wall} ${hhmm} ${hhmm}`;
}

export interface NetworkRow {
  CreatedAt: string;
  Driver: string;
  ID: string;
  IPv4: string;
  IPv6: string;
  Internal: string;
  Labels: string;
  Name: string;
  Scope: string;
}

/** docker's networkContext, one per network (keys sorted: its JSON is a Go map). */
export function networkRows(list: readonly NetworkSummary[], trunc: boolean): NetworkRow[] {
  return list.map((n) => {
    const labels = n.Labels ?? {};
    const row: NetworkRow = {
      CreatedAt: goTimeString(n.Created),
      Driver: n.Driver ?? '',
      ID: trunc ? truncateID(n.Id) : n.Id,
      IPv4: String(n.EnableIPv4 === true),
      IPv6: String(n.EnableIPv6 === true),
      Internal: String(n.Internal === true),
      // docker joins them in Go's map order, which varies from run to run; sorted here.
      Labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(','),
      Name: n.Name,
      Scope: n.Scope ?? '',
    };
    (row as NetworkRow & { Label(name: string): string }).Label = (name: string) => labels[name] ?? '';
    return row;
  });
}

/** network.NewFormat. */
export function networkFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
  if (source === 'raw') return quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n';
  return source;
}

/** The config file's networksFormat, if any. */
function configFormat(env: Ctx['io']['env']): string {
  try {
    const c = JSON.parse(readFileSync(configPath(env), 'utf8')) as { networksFormat?: unknown };
    return typeof c.networksFormat === 'string' ? c.networksFormat : '';
  } catch {
    return '';
  }
}

async function runLs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const quiet = f.values['quiet'] === true;
  let format = f.values['format'] as string;
  if (!format) format = (!quiet && configFormat(ctx.io.env)) || 'table';
  const list = await ctx.client().networkList(toFilters(f.values['filter'] as string[]));
  const sorted = [...list].sort((a, b) => (naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0));
  const rows = networkRows(sorted, f.values['no-trunc'] !== true);
  ctx.out(formatRows(networkFormat(format, quiet), rows, networkHeaders, { typeName: '*network.networkContext', marshalJSON: true }));
  return 0;
}

// --- inspect --------------------------------------------------------------------------------

/** A time.Time field: prints as Go does, marshals back to the daemon's text. */
class GoTime {
  constructor(private readonly raw: string) {}
  toString(): string {
    return goTimeString(this.raw);
  }
  toJSON(): string {
    return this.raw;
  }
}

const INSPECT_TYPE = '*network.Inspect';

/**
 * docker runs the template on its typed network.Inspect, where Created is a
 * time.Time (printed as Go prints one) and an unknown field is an error. On that
 * error it runs the template again on the raw document with missingkey=error,
 * which fails on the same key: "map has no entry for key".
 */
function inspectTemplate(t: Template): Template {
  return {
    execute(doc, o) {
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return t.execute(doc, o);
      const typed: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
      if (typeof typed['Created'] === 'string') typed['Created'] = new GoTime(typed['Created']);
      try {
        return t.execute(asStruct(typed, INSPECT_TYPE), o);
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        const m = /^(.*): can't evaluate field (\S+) in type \*network\.Inspect$/.exec(e.message);
        if (!m) throw e;
        throw new TemplateError(`${m[1]}: map has no entry for key ${JSON.stringify(m[2])}`, e.phase);
      }
    },
  };
}

async function runInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const format = f.values['format'] as string;
  const parsed = format && format !== 'json' ? parseTemplate(format) : undefined;
  const tmpl = parsed && inspectTemplate(parsed);
  const client = ctx.client();
  const raws: string[] = [];
  const errs: string[] = [];
  for (const ref of f.args) {
    try {
      raws.push((await client.networkInspectRaw(ref, { verbose: f.values['verbose'] === true })).trim());
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      errs.push(errText(e));
    }
  }
  if (format === 'json') writeInspectJson(ctx.out, raws, errs);
  else writeInspect(ctx.out, tmpl, raws, errs);
  return 0;
}

// --- rm, prune ------------------------------------------------------------------------------

const ingressWarning =
  'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. ' +
  'Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?';

async function runRm(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const force = f.values['force'] === true;
  let failed = false;
  for (const name of f.args) {
    // docker looks first, to ask before removing the swarm's routing mesh.
    let ingress = false;
    try {
      ingress = (JSON.parse(await client.networkInspectRaw(name)) as NetworkSummary).Ingress === true;
    } catch {
      /* the removal reports it */
    }
    if (ingress && !(await confirm(ctx, ingressWarning))) continue;
    try {
      await client.networkRemove(name);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      if (force && isNotFound(e)) continue;
      ctx.err(`${errText(e)}\n`);
      failed = true;
      continue;
    }
    ctx.out(`${name}\n`);
  }
  // The errors are out already: docker's cli.StatusError without a message prints this.
  if (failed) throw new StatusError(1, 'exit status 1');
  return 0;
}

async function runPrune(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const filters = toFilters(f.values['filter'] as string[]);
  if (f.values['force'] !== true) {
    if (!(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return 0;
  }
  const report = await ctx.client().networksPrune(filters);
  const deleted = report.NetworksDeleted ?? [];
  if (deleted.length) ctx.out(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
  return 0;
}

// --- connect, disconnect --------------------------------------------------------------------

/** docker's convertDriverOpt: "k=v" pairs, both sides trimmed. */
function driverOpts(list: readonly string[]): Record<string, string> {
  const m = new Map<string, string>();
  for (const opt of list) {
    const i = opt.indexOf('=');
    const k = (i === -1 ? opt : opt.slice(0, i)).trim();
    if (i === -1 || k === '') throw new Error('invalid key/value pair format in driver options');
    m.set(k, opt.slice(i + 1).trim());
  }
  return sortedRecord(m);
}

/** The EndpointConfig of POST /networks/{id}/connect: a whole network.EndpointSettings, as docker sends it. */
export function connectEndpoint(f: ParsedFlags): EndpointSettings {
  const v = f.values;
  const ipam: NonNullable<EndpointSettings['IPAMConfig']> = {};
  if (v['ip']) ipam.IPv4Address = v['ip'] as string;
  if (v['ip6']) ipam.IPv6Address = v['ip6'] as string;
  const linkLocal = v['link-local-ip'] as string[];
  if (linkLocal.length) ipam.LinkLocalIPs = linkLocal;
  const links = v['link'] as string[];
  return {
    IPAMConfig: ipam,
    Links: links.length ? links : null,
    Aliases: v['alias'] as string[],
    MacAddress: '',
    DriverOpts: driverOpts(v['driver-opt'] as string[]),
    GwPriority: v['gw-priority'] as number,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

async function runConnect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [network, container] = f.args as [string, string];
  let endpoint: EndpointSettings;
  try {
    endpoint = connectEndpoint(f);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  await ctx.client().networkConnect(network, { Container: container, EndpointConfig: endpoint });
  return 0;
}

async function runDisconnect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [network, container] = f.args as [string, string];
  await ctx.client().networkDisconnect(network, container, f.values['force'] === true);
  return 0;
}

// --- definitions ------------------------------------------------------------------------------

export const commands: Record<string, CommandDef> = {
  create: {
    use: 'create [OPTIONS] NETWORK',
    flags: [
      { name: 'attachable', type: 'bool', usage: 'Enable manual container attachment' },
      mapSpec('aux-address', 'Auxiliary IPv4 or IPv6 addresses used by Network driver'),
      { name: 'config-from', type: 'string', usage: 'The network from which to copy the configuration' },
      { name: 'config-only', type: 'bool', usage: 'Create a configuration only network' },
      { name: 'driver', short: 'd', type: 'string', usage: 'Driver to manage the Network', default: 'bridge' },
      { name: 'gateway', type: 'strings', usage: 'IPv4 or IPv6 Gateway for the master subnet' },
      { name: 'ingress', type: 'bool', usage: 'Create swarm routing-mesh network' },
      { name: 'internal', type: 'bool', usage: 'Restrict external access to the network' },
      { name: 'ip-range', type: 'strings', usage: 'Allocate container ip from a sub-range' },
      { name: 'ipam-driver', type: 'string', usage: 'IP Address Management Driver', default: 'default' },
      mapSpec('ipam-opt', 'Set IPAM driver specific options'),
      { name: 'ipv4', type: 'bool', usage: 'Enable or disable IPv4 address assignment', default: true },
      { name: 'ipv6', type: 'bool', usage: 'Enable or disable IPv6 address assignment' },
      { name: 'label', type: 'list', usage: 'Set metadata on a network', validate: check(validateLabel) },
      mapSpec('opt', 'Set driver specific options', 'o'),
      { name: 'scope', type: 'string', usage: "Control the network's scope" },
      { name: 'subnet', type: 'strings', usage: 'Subnet in CIDR format that represents a network segment' },
    ],
    args: { exact: 1 },
    run: runCreate,
  },
  ls: {
    use: 'ls [OPTIONS]',
    flags: [
      { name: 'filter', short: 'f', type: 'filter', usage: 'Provide filter values (e.g. "driver=bridge")', validate: validateFilter },
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'no-trunc', type: 'bool', usage: 'Do not truncate the output' },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display network IDs' },
    ],
    run: runLs,
  },
  inspect: {
    use: 'inspect [OPTIONS] NETWORK [NETWORK...]',
    flags: [
      { name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect },
      { name: 'verbose', short: 'v', type: 'bool', usage: 'Verbose output for diagnostics' },
    ],
    args: { min: 1 },
    run: runInspect,
  },
  rm: {
    use: 'rm NETWORK [NETWORK...]',
    flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Do not error if the network does not exist' }],
    args: { min: 1 },
    run: runRm,
  },
  connect: {
    use: 'connect [OPTIONS] NETWORK CONTAINER',
    flags: [
      { name: 'alias', type: 'strings', usage: 'Add network-scoped alias for the container' },
      { name: 'driver-opt', type: 'strings', usage: 'driver options for the network' },
      { name: 'gw-priority', type: 'int', usage: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.' },
      { name: 'ip', type: 'string', usage: 'IPv4 address (e.g., "172.30.100.104")' },
      { name: 'ip6', type: 'string', usage: 'IPv6 address (e.g., "2001:db8::33")' },
      { name: 'link', type: 'list', usage: 'Add link to another container', validate: check(validateLink) },
      { name: 'link-local-ip', type: 'strings', usage: 'Add a link-local address for the container' },
    ],
    args: { exact: 2 },
    run: runConnect,
  },
  disconnect: {
    use: 'disconnect [OPTIONS] NETWORK CONTAINER',
    flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the container to disconnect from a network' }],
    args: { exact: 2 },
    run: runDisconnect,
  },
  prune: {
    use: 'prune [OPTIONS]',
    flags: [
      { name: 'filter', type: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")', validate: validateFilter },
      { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
    ],
    run: runPrune,
  },
};
