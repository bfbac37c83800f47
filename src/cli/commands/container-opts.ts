// The flags of `pier run` / `pier create` and their conversion to the body of
// POST /containers/create, following docker's cli/command/container/opts.go and
// the opts package: the same flags, the same validation messages and the same
// JSON document (zero values included), so a daemon cannot tell the clients apart.

import { readFileSync } from 'node:fs';
import { isAbsolute, posix, resolve } from 'node:path';
import type {
  ContainerConfig, ContainerCreateRequest, DeviceMapping, EndpointSettings, HealthConfig, HostConfig, MountSpec,
  PortBinding, RestartPolicy, ThrottleDevice, Ulimit, WeightDevice,
} from '../../client/types.js';
import { check, goQuote, type FlagSpec, type FlagType, type ParsedFlags } from '../flags.js';
import { parseGoDuration } from './events.js';

/** A usage error of run/create: docker prints it after "docker: " and exits 125. */
export class OptsError extends Error {}

// --- value parsers (docker's opts package, go-units) -------------------------------------

const ramUnits: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Go's strconv.ParseFloat for the decimal forms a size can take; undefined when invalid. */
function parseFloatGo(s: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** units.RAMInBytes: "512m", "1.5GiB", "100" → bytes; throws with go-units' message. */
export function ramInBytes(s: string): number {
  let sep = -1;
  for (let i = s.length - 1; i >= 0; i--) {
    if ('01234567890. '.includes(s[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${s}'`);
  let num: string;
  let sfx: string;
  if (s[sep] !== ' ') {
    num = s.slice(0, sep + 1);
    sfx = s.slice(sep + 1);
  } else {
    num = s.slice(0, sep);
    sfx = s.slice(sep + 1);
  }
  let size = parseFloatGo(num);
  if (size === undefined) throw new Error(`strconv.ParseFloat: parsing ${goQuote(num)}: invalid syntax`);
  if (size < 0) throw new Error(`invalid size: '${s}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = ramUnits[sfx[0]!];
  if (mul === undefined) throw bad();
  size *= mul;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

/** opts.NanoCPUs: a rational number of CPUs → nanoCPUs ("1.5" → 1500000000). */
export function parseCPUs(s: string): number {
  const bad = new Error(`failed to parse ${s} as a rational number`);
  let num: bigint;
  let den: bigint;
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(s);
  const dec = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (frac) {
    num = BigInt(frac[1]!);
    den = BigInt(frac[2]!);
    if (den === 0n) throw bad;
  } else if (dec && (dec[2] || dec[3])) {
    const digits = (dec[2] ?? '') + (dec[3] ?? '');
    let exp = -(dec[3] ?? '').length + Number(dec[4] ?? 0);
    num = BigInt(digits || '0') * (dec[1] === '-' ? -1n : 1n);
    den = 1n;
    if (exp > 0) num *= 10n ** BigInt(exp);
    else if (exp < 0) den = 10n ** BigInt(-exp);
    exp = 0;
  } else throw bad;
  const nano = num * 1_000_000_000n;
  if (nano % den !== 0n) throw new Error('value is too precise');
  return Number(nano / den);
}

/** Go's strconv.ParseInt(s, 10, 64) message, for int-valued options parsed by hand. */
function parseIntGo(s: string, fn = 'strconv.ParseInt'): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`${fn}: parsing ${goQuote(s)}: invalid syntax`);
  return Number(s);
}

/** Go's time.ParseDuration → nanoseconds; throws Go's message. */
export function parseDurationNs(s: string): number {
  const ms = parseGoDuration(s);
  if (ms === undefined) throw new Error(`time: invalid duration ${goQuote(s)}`);
  return Math.round(ms * 1e6);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** net.ParseIP(s).String(): the canonical text of an IPv4 or IPv6 address, or undefined. */
export function canonicalIP(s: string): string | undefined {
  if (IPV4.test(s)) return s;
  if (!s.includes(':')) return undefined;
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    if (!IPV4.test(maybeV4)) return undefined;
    const o = maybeV4.split('.').map(Number);
    tail = [(o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!];
    text = text.slice(0, lastColon + 1) + '0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let groups = [...head, ...rest].map((g) => parseInt(g, 16));
  if (tail.length) groups = groups.slice(0, -1);
  const total = groups.length + tail.length;
  let all: number[];
  if (halves.length === 2) {
    if (total > 7) return undefined;
    const h = head.map((g) => parseInt(g, 16));
    const r = [...rest.map((g) => parseInt(g, 16)), ...tail];
    if (tail.length) r.splice(rest.length - 1, 1);
    all = [...h, ...Array<number>(8 - h.length - r.length).fill(0), ...r];
  } else {
    if (total !== 8) return undefined;
    all = [...groups, ...tail];
  }
  // IPv4-mapped addresses print as IPv4.
  if (all.slice(0, 5).every((g) => g === 0) && all[5] === 0xffff) {
    return `${all[6]! >> 8}.${all[6]! & 255}.${all[7]! >> 8}.${all[7]! & 255}`;
  }
  // RFC 5952: the longest run (>= 2) of zero groups becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (all[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && all[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = all.map((g) => g.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** opts.ValidateIPAddress. */
export function validateIPAddress(v: string): string {
  const ip = canonicalIP(v.trim());
  if (ip === undefined) throw new Error(`IP address is not correctly formatted: ${v}`);
  return ip;
}

/** opts.ValidateExtraHost: "host:ip" or "host=ip" → "host:ip". */
export function validateExtraHost(val: string): string {
  let i = val.indexOf('=');
  if (i === -1) i = val.indexOf(':');
  const k = i === -1 ? '' : val.slice(0, i);
  let v = i === -1 ? '' : val.slice(i + 1);
  if (i === -1 || k === '' || k.includes(':')) throw new Error(`bad format for add-host: ${goQuote(val)}`);
  if (v !== 'host-gateway') {
    if (v.length > 2 && v[0] === '[' && v.endsWith(']')) v = v.slice(1, -1);
    if (canonicalIP(v.trim()) === undefined) throw new Error(`invalid IP address in add-host: ${goQuote(v)}`);
  }
  return `${k}:${v}`;
}

/** opts.ValidateEnv: "K=V" as is; a bare "K" takes the client's value when it has one. */
export function validateEnv(val: string, env: Record<string, string | undefined>): string {
  const eq = val.indexOf('=');
  const k = eq === -1 ? val : val.slice(0, eq);
  if (k === '') throw new Error(`invalid environment variable: ${val}`);
  if (eq !== -1) return val;
  const v = env[k];
  return v !== undefined ? `${k}=${v}` : val;
}

const WHITESPACE = ' \t';

/** opts.parseKeyValueFile: the lines of an --env-file or --label-file. */
export function parseKeyValueFile(filename: string, lookup?: (name: string) => string | undefined): string[] {
  let buf: Buffer;
  try {
    buf = readFileSync(filename);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new Error(`open ${filename}: ${why}`);
  }
  const out: string[] = [];
  const lines: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    let j = buf.indexOf(10, i);
    if (j === -1) j = buf.length;
    lines.push(buf.subarray(i, j > i && buf[j - 1] === 13 ? j - 1 : j));
    i = j + 1;
  }
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  lines.forEach((raw, n) => {
    let bytes = raw;
    try {
      utf8.decode(bytes);
    } catch {
      throw new Error(`env file ${filename} contains invalid utf8 bytes at line ${n + 1}: [${[...bytes].join(' ')}]`);
    }
    if (n === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    const line = bytes.toString('utf8').replace(/^\s+/u, '');
    if (line.length === 0 || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    let variable = eq === -1 ? line : line.slice(0, eq);
    variable = variable.replace(/^[ \t]+/, '');
    if ([...WHITESPACE].some((c) => variable.includes(c))) {
      throw new Error(`poorly formatted environment: variable '${variable}' contains whitespaces`);
    }
    if (variable.length === 0) throw new Error(`poorly formatted environment: no variable name on line '${line}'`);
    if (eq !== -1) out.push(`${variable}=${line.slice(eq + 1)}`);
    else {
      // A bare name takes the client's value, and is left out when there is none.
      const v = lookup?.(line);
      if (v !== undefined) out.push(`${variable.trim()}=${v}`);
    }
  });
  return out;
}

/** opts.ValidateLabel: a non-empty key without whitespace; the value is optional. */
export function validateLabel(value: string): void {
  const i = value.indexOf('=');
  const key = (i === -1 ? value : value.slice(0, i)).replace(/^[ \t]+/, '');
  if (key === '') throw new Error(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new Error(`label '${key}' contains whitespaces`);
}

/** opts.ConvertKVStringsToMap. */
export function kvMap(list: readonly string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i === -1) m[kv] = '';
    else m[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return m;
}

/** opts.ParseRestartPolicy. */
export function parseRestartPolicy(policy: string): RestartPolicy {
  if (policy === '') return { Name: '', MaximumRetryCount: 0 };
  const i = policy.indexOf(':');
  const k = i === -1 ? policy : policy.slice(0, i);
  const v = i === -1 ? '' : policy.slice(i + 1);
  if (i !== -1 && k === '') throw new Error('invalid restart policy format: no policy provided before colon');
  let count = 0;
  if (v !== '') {
    if (!/^[+-]?\d+$/.test(v)) throw new Error('invalid restart policy format: maximum retry count must be an integer');
    count = Number(v);
  }
  return { Name: k, MaximumRetryCount: count };
}

const ulimitNames = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** units.ParseUlimit: "nofile=1024:2048". */
export function parseUlimit(val: string): Ulimit {
  const eq = val.indexOf('=');
  if (eq === -1) throw new Error(`invalid ulimit argument: ${val}`);
  const name = val.slice(0, eq);
  if (!ulimitNames.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const limits = val.slice(eq + 1).split(':');
  if (limits.length > 2) throw new Error(`too many limit value arguments - ${val.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const soft = parseIntGo(limits[0]!);
  let hard = soft;
  if (limits.length === 2) {
    hard = parseIntGo(limits[1]!);
    if (soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
  return { Name: name, Hard: hard, Soft: soft };
}

/** opts.ValidateSysctl. */
export function validateSysctl(val: string): void {
  const eq = val.indexOf('=');
  const k = eq === -1 ? '' : val.slice(0, eq);
  const ok = k !== '' && (['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'].includes(k)
    || k.startsWith('net.') || k.startsWith('fs.mqueue.'));
  if (!ok) throw new Error(`sysctl '${val}' is not allowed`);
}

/** opts.ValidateDNSSearch. */
export function validateDNSSearch(val: string): string {
  if (val === '.') return val;
  const ns = val.replace(/\.$/, '');
  const re = /^(:?(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))$/;
  if (!re.test(ns) || ns.length > 255) throw new Error(`${val} is not a valid domain`);
  return val;
}

/** opts.ValidateWeightDevice. */
export function parseWeightDevice(val: string): WeightDevice {
  const i = val.indexOf(':');
  const k = i === -1 ? '' : val.slice(0, i);
  if (i === -1 || k === '') throw new Error(`bad format: ${val}`);
  if (!k.startsWith('/dev/')) throw new Error(`bad format for device path: ${val}`);
  const v = val.slice(i + 1);
  const w = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(w <= 65535) || (w > 0 && (w < 10 || w > 1000))) throw new Error(`invalid weight for device: ${val}`);
  return { Path: k, Weight: w };
}

/** opts.ValidateThrottleBpsDevice / ValidateThrottleIOpsDevice. */
export function parseThrottleDevice(val: string, iops: boolean): ThrottleDevice {
  const i = val.indexOf(':');
  const k = i === -1 ? '' : val.slice(0, i);
  if (i === -1 || k === '') throw new Error(`bad format: ${val}`);
  if (!k.startsWith('/dev/')) throw new Error(`bad format for device path: ${val}`);
  const v = val.slice(i + 1);
  let rate: number;
  if (iops) {
    rate = /^\d+$/.test(v) ? Number(v) : NaN;
    if (Number.isNaN(rate)) throw new Error(`invalid rate for device: ${val}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  } else {
    try {
      rate = ramInBytes(v);
    } catch {
      throw new Error(`invalid rate for device: ${val}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
    }
  }
  return { Path: k, Rate: rate };
}

/** opts.ValidateLink. */
export function validateLink(val: string): void {
  if (val === '') throw new Error('empty string specified for links');
  if (val.split(':').length > 2) throw new Error(`bad format for links: ${val}`);
}

/** Go's encoding/csv for one record (the --mount and --network long syntax). */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q === -1) throw new Error(`parse error on line 1, column ${s.length + 1}: extraneous or missing " in quoted-field`);
        field += s.slice(i, q);
        i = q + 1;
        if (s[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        break;
      }
      if (i < s.length && s[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const c = s.indexOf(',', i);
      field = c === -1 ? s.slice(i) : s.slice(i, c);
      if (field.includes('"')) throw new Error(`parse error on line 1, column ${i + field.indexOf('"') + 1}: bare " in non-quoted-field`);
      i = c === -1 ? s.length : c;
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // the comma
  }
}

function parseBoolGo(key: string, val: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(val)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(val)) return false;
  throw new Error(`invalid value for ${key}: ${val}`);
}

/** opts.MountOpt.Set: one --mount value. */
export function parseMount(value: string, cwd = process.cwd()): MountSpec {
  const fields = csvFields(value);
  const m: MountSpec = { Type: 'volume', Target: '' };
  const volumeOptions = () => {
    m.VolumeOptions ??= { Labels: {} };
    m.VolumeOptions.DriverConfig ??= {};
    return m.VolumeOptions;
  };
  const bindOptions = () => (m.BindOptions ??= {});
  const tmpfsOptions = () => (m.TmpfsOptions ??= {});
  const imageOptions = () => (m.ImageOptions ??= {});
  const setOnMap = (target: Record<string, string>, v: string) => {
    const i = v.indexOf('=');
    const k = i === -1 ? v : v.slice(0, i);
    if (k !== '') target[k] = i === -1 ? '' : v.slice(i + 1);
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      if (key === 'readonly' || key === 'ro') m.ReadOnly = true;
      else if (key === 'volume-nocopy') volumeOptions().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOptions().NonRecursive = true;
      else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        m.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        m.Source = val === '.' || val.startsWith('./') ? resolve(cwd, val) : val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = parseBoolGo(key, val);
        break;
      case 'consistency':
        m.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = parseBoolGo(key, val);
        break;
      case 'bind-recursive':
        if (val === 'enabled') bindOptions();
        else if (val === 'disabled') bindOptions().NonRecursive = true;
        else if (val === 'writable') bindOptions().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bindOptions().ReadOnlyForceRecursive = true;
        else throw new Error(`invalid value for ${key}: ${val} (must "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'bind-create-src':
        bindOptions().CreateMountpoint = parseBoolGo(key, val);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = parseBoolGo(key, val);
        break;
      case 'volume-label':
        setOnMap(volumeOptions().Labels!, val);
        break;
      case 'volume-driver':
        volumeOptions().DriverConfig!.Name = val;
        break;
      case 'volume-opt': {
        const dc = volumeOptions().DriverConfig!;
        dc.Options ??= {};
        setOnMap(dc.Options, val);
        break;
      }
      case 'image-subpath':
        imageOptions().Subpath = val;
        break;
      case 'tmpfs-size':
        try {
          tmpfsOptions().SizeBytes = ramInBytes(val);
        } catch {
          throw new Error(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff) throw new Error(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = parseInt(val, 8);
        break;
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (m.Type === '') throw new Error('type is required');
  if (m.Target === '') throw new Error('target is required');
  if (m.VolumeOptions && m.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.ImageOptions && m.Type !== 'image') throw new Error(`cannot mix 'image-*' options with mount type '${m.Type}'`);
  if (m.BindOptions && m.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  if (m.BindOptions?.ReadOnlyNonRecursive && !m.ReadOnly) {
    throw new Error("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  }
  if (m.BindOptions?.ReadOnlyForceRecursive) {
    if (!m.ReadOnly) throw new Error("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (m.BindOptions.Propagation !== 'rprivate') throw new Error("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }
  // Field order as Go's encoder writes api/types/mount.Mount.
  const out: MountSpec = m.Source ? { Type: m.Type, Source: m.Source, Target: m.Target } : { Type: m.Type, Target: m.Target };
  if (m.ReadOnly) out.ReadOnly = true;
  if (m.Consistency) out.Consistency = m.Consistency;
  if (m.BindOptions) out.BindOptions = m.BindOptions;
  if (m.VolumeOptions) {
    // Labels is omitempty on the wire.
    if (m.VolumeOptions.Labels && Object.keys(m.VolumeOptions.Labels).length === 0) delete m.VolumeOptions.Labels;
    out.VolumeOptions = m.VolumeOptions;
  }
  if (m.ImageOptions) out.ImageOptions = m.ImageOptions;
  if (m.TmpfsOptions) out.TmpfsOptions = m.TmpfsOptions;
  return out;
}

// --- ports (go-connections/nat) ------------------------------------------------------------

function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  const u16 = (s: string) => {
    if (!/^\d+$/.test(s) || Number(s) > 65535) throw new Error('bad port');
    return Number(s);
  };
  if (!ports.includes('-')) {
    const p = u16(ports);
    return [p, p];
  }
  const parts = ports.split('-');
  const start = u16(parts[0]!);
  const end = u16(parts[1]!);
  if (end < start) throw new Error(`invalid range specified for port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: "80/udp" → ["udp", "80"]. */
export function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw.length === 0 || parts[0]!.length === 0) return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1]!.length === 0) return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** nat.ParsePortSpec: one -p value → (port, binding) pairs. */
export function parsePortSpec(raw: string): { port: string; binding: PortBinding }[] {
  const parts = raw.split(':');
  const n = parts.length;
  let containerPort = parts[n - 1]!;
  let ip = '';
  let hostPort = '';
  if (n === 2) hostPort = parts[0]!;
  else if (n === 3) [ip, hostPort] = [parts[0]!, parts[1]!];
  else if (n > 3) [ip, hostPort] = [parts.slice(0, n - 2).join(':'), parts[n - 2]!];
  let proto: string;
  [proto, containerPort] = splitProtoPort(containerPort);
  if (ip !== '' && ip[0] === '[') {
    const close = ip.indexOf(']');
    if (close === -1 || close !== ip.length - 1) throw new Error(`invalid IP address ${ip}: address ${ip}:: missing ']' in address`);
    ip = ip.slice(1, close);
  }
  if (ip !== '' && canonicalIP(ip) === undefined) throw new Error(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new Error(`no port specified: ${raw}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new Error(`invalid containerPort: ${containerPort}`);
  }
  let hStart = 0;
  let hEnd = 0;
  if (hostPort.length > 0) {
    try {
      [hStart, hEnd] = parsePortRange(hostPort);
    } catch {
      throw new Error(`invalid hostPort: ${hostPort}`);
    }
  }
  if (hostPort !== '' && end - start !== hEnd - hStart && end !== start) {
    throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const lproto = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(lproto)) throw new Error(`invalid proto: ${proto}`);
  const out: { port: string; binding: PortBinding }[] = [];
  for (let i = 0; i <= end - start; i++) {
    let hp = hostPort;
    if (hostPort.length > 0) hp = String(hStart + i);
    if (start === end && hStart !== hEnd) hp = `${hp}-${hEnd}`;
    out.push({ port: `${start + i}/${lproto}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/** convertToStandardNotation: the long --publish syntax (target=80,published=8080,protocol=udp). */
function standardPublish(publish: string): string {
  if (!publish.includes('=')) return publish;
  const params: Record<string, string> = { protocol: 'tcp' };
  for (const param of publish.split(',')) {
    const i = param.indexOf('=');
    if (i <= 0) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
    params[param.slice(0, i)] = param.slice(i + 1);
  }
  return `${params['published'] ?? ''}:${params['target'] ?? ''}/${params['protocol']}`;
}

// --- devices, volumes, networks --------------------------------------------------------------

function validDeviceMode(mode: string): boolean {
  if (mode === '') return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

/** validateLinuxPath + parseLinuxDevice: "/dev/sda[:/dev/xvda][:rwm]". */
export function parseDevice(val: string): DeviceMapping {
  if ((val.match(/:/g) ?? []).length > 2) throw new Error(`bad format for path: ${val}`);
  const split = val.split(':');
  if (split[0] === '') throw new Error(`bad format for path: ${val}`);
  let containerPath: string;
  let v = val;
  if (split.length === 1) {
    containerPath = split[0]!;
    v = posix.normalize(containerPath);
  } else if (split.length === 2) {
    if (validDeviceMode(split[1]!)) {
      containerPath = split[0]!;
      v = `${posix.normalize(containerPath)}:${split[1]}`;
    } else {
      containerPath = split[1]!;
      v = `${split[0]}:${posix.normalize(containerPath)}`;
    }
  } else {
    containerPath = split[1]!;
    if (!validDeviceMode(split[2]!)) throw new Error(`bad mode specified: ${split[2]}`);
  }
  if (!containerPath.startsWith('/')) throw new Error(`${containerPath} is not an absolute path`);
  const arr = v.split(':');
  const src = arr[0]!;
  let dst = '';
  let perms = 'rwm';
  if (arr.length === 3) perms = arr[2]!;
  if (arr.length >= 2) {
    if (validDeviceMode(arr[1]!)) perms = arr[1]!;
    else dst = arr[1]!;
  }
  if (arr.length > 3) throw new Error(`invalid device specification: ${v}`);
  if (dst === '') dst = src;
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}

/** CDI device names ("vendor.com/class=name") go to DeviceRequests instead. */
const isCDIName = (s: string) => /^[a-zA-Z0-9][a-zA-Z0-9._-]*\/[a-zA-Z0-9][a-zA-Z0-9._-]*=[a-zA-Z0-9_.:-]+$/.test(s);

interface VolumeSpec {
  source: string;
  target: string;
  type: 'bind' | 'volume';
}

/**
 * volumespec.Parse (compose's volume syntax), as far as run needs it: source,
 * target and type. Like docker's run, a malformed spec is not an error; what
 * was parsed before the problem decides (`error` says what it was).
 */
export function parseVolumeSpec(spec: string): VolumeSpec & { error?: string } {
  if (spec.length === 0) return { source: '', target: '', type: 'volume', error: 'invalid empty volume spec' };
  if (spec.length <= 2) return { source: '', target: spec, type: 'volume' };
  let source = '';
  let target = '';
  let buffer = '';
  let error: string | undefined;
  const end = '\u0000';
  const fill = (c: string) => {
    if (buffer.length === 0) return 'empty section between colons';
    if (source === '' && c === end) target = buffer;
    else if (source === '') source = buffer;
    else if (target === '') target = buffer;
    else if (c === ':') return 'too many colons';
    return undefined;
  };
  for (const c of spec + end) {
    if (c === ':' || c === end) {
      const why = fill(c);
      if (why) {
        error = `invalid spec: ${spec}: ${why}`;
        break;
      }
      buffer = '';
    } else buffer += c;
  }
  const isFilePath = source === '.' || source === '..' || ['.', '/', '~'].includes(source[0] ?? '');
  const out: VolumeSpec & { error?: string } = { source, target, type: source === '' ? 'volume' : isFilePath ? 'bind' : 'volume' };
  if (error) out.error = error;
  return out;
}

interface NetworkAttachment {
  target: string;
  aliases: string[];
  ipv4: string;
  ipv6: string;
  mac: string;
  linkLocalIPs: string[];
  driverOpts?: Record<string, string>;
  gwPriority: number;
}

/** opts.NetworkOpt.Set: "name" or "name=net,alias=a,ip=…". */
export function parseNetworkOpt(value: string): NetworkAttachment {
  const n: NetworkAttachment = { target: '', aliases: [], ipv4: '', ipv6: '', mac: '', linkLocalIPs: [], gwPriority: 0 };
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) {
    n.target = value;
    return n;
  }
  for (const field of csvFields(value)) {
    const lower = field.toLowerCase();
    const i = lower.indexOf('=');
    if (i <= 0) throw new Error(`invalid field ${field}`);
    const key = lower.slice(0, i).trim();
    const val = lower.slice(i + 1).trim();
    switch (key) {
      case 'name': n.target = val; break;
      case 'alias': n.aliases.push(val); break;
      case 'ip': n.ipv4 = val; break;
      case 'ip6': n.ipv6 = val; break;
      case 'mac-address': n.mac = val; break;
      case 'link-local-ip': n.linkLocalIPs.push(val); break;
      case 'driver-opt': {
        const j = val.indexOf('=');
        if (j === -1) throw new Error('invalid key value pair format in driver options');
        (n.driverOpts ??= {})[val.slice(0, j).trim()] = val.slice(j + 1).trim();
        break;
      }
      case 'gw-priority':
        n.gwPriority = parseIntGo(val);
        break;
      default:
        throw new Error(`invalid field key ${key}`);
    }
  }
  if (n.target.length === 0) throw new Error('network name/id is not specified');
  return n;
}

const isUserDefinedNetwork = (mode: string) =>
  !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');

const emptyEndpoint = (): EndpointSettings => ({
  IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, GwPriority: 0, NetworkID: '',
  EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0, DNSNames: null,
});

const MAC = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{2}[:-]){19}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/;

// --- flags --------------------------------------------------------------------------------------

/** Validators run as a flag is set, so their errors read like pflag's ("invalid argument …"). */

const sizeFlag = check(ramInBytes);
const durationFlag = check(parseDurationNs);
const uint16Flag = check((v) => {
  if (!/^\d+$/.test(v)) throw new Error(`strconv.ParseUint: parsing ${goQuote(v)}: invalid syntax`);
  if (Number(v) > 65535) throw new Error(`strconv.ParseUint: parsing ${goQuote(v)}: value out of range`);
});

/**
 * A repeatable flag shown under docker's own value name ("map", "ulimit", …):
 * the parser treats any type it does not know as a list, and help prints the name.
 */
const listNamed = (name: string) => name as unknown as FlagType;

/** The flags run and create share (addFlags in docker's opts.go). */
export const containerFlags: FlagSpec[] = [
  { name: 'add-host', type: 'list', usage: 'Add a custom host-to-IP mapping (host:ip)', validate: check(validateExtraHost) },
  { name: 'annotation', type: listNamed('map'), usage: 'Add an annotation to the container (passed through to the OCI runtime)' },
  {
    name: 'attach', short: 'a', type: 'list', usage: 'Attach to STDIN, STDOUT or STDERR',
    validate: (v) => (['stdin', 'stdout', 'stderr'].includes(v.toLowerCase()) ? undefined : 'valid streams are STDIN, STDOUT and STDERR'),
  },
  { name: 'blkio-weight', type: 'string', usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', validate: uint16Flag },
  { name: 'blkio-weight-device', type: 'list', usage: 'Block IO weight (relative device weight)', validate: check(parseWeightDevice) },
  { name: 'cap-add', type: 'list', usage: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', usage: 'Drop Linux capabilities' },
  { name: 'cgroup-parent', type: 'string', usage: 'Optional parent cgroup for the container' },
  {
    name: 'cgroupns', type: 'string',
    usage: "Cgroup namespace to use (host|private)\n'host':    Run the container in the Docker host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)",
  },
  { name: 'cidfile', type: 'string', usage: 'Write the container ID to the file' },
  { name: 'cpu-count', type: 'int', usage: 'CPU count (Windows only)' },
  { name: 'cpu-percent', type: 'int', usage: 'CPU percent (Windows only)' },
  { name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', type: 'int', usage: 'Limit CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'int', usage: 'Limit CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', usage: 'Number of CPUs', validate: check(parseCPUs) },
  { name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'device', type: 'list', usage: 'Add a host device to the container' },
  {
    name: 'device-cgroup-rule', type: 'list', usage: 'Add a rule to the cgroup allowed devices list',
    validate: (v) => (/^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$/.test(v) ? undefined : `invalid device cgroup format '${v}'`),
  },
  { name: 'device-read-bps', type: 'list', usage: 'Limit read rate (bytes per second) from a device', validate: check((v) => parseThrottleDevice(v, false)) },
  { name: 'device-read-iops', type: 'list', usage: 'Limit read rate (IO per second) from a device', validate: check((v) => parseThrottleDevice(v, true)) },
  { name: 'device-write-bps', type: 'list', usage: 'Limit write rate (bytes per second) to a device', validate: check((v) => parseThrottleDevice(v, false)) },
  { name: 'device-write-iops', type: 'list', usage: 'Limit write rate (IO per second) to a device', validate: check((v) => parseThrottleDevice(v, true)) },
  { name: 'dns', type: 'list', usage: 'Set custom DNS servers', validate: check(validateIPAddress) },
  { name: 'dns-opt', type: 'list', usage: 'Set DNS options', hidden: true },
  { name: 'dns-option', type: 'list', usage: 'Set DNS options' },
  { name: 'dns-search', type: 'list', usage: 'Set custom DNS search domains', validate: check(validateDNSSearch) },
  { name: 'domainname', type: 'string', usage: 'Container NIS domain name' },
  { name: 'entrypoint', type: 'string', usage: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'env', short: 'e', type: 'list', usage: 'Set environment variables', validate: (v) => (v === '' || v.startsWith('=') ? `invalid environment variable: ${v}` : undefined) },
  { name: 'env-file', type: 'list', usage: 'Read in a file of environment variables' },
  { name: 'expose', type: 'list', usage: 'Expose a port or a range of ports' },
  { name: 'gpus', type: listNamed('gpu-request'), usage: "GPU devices to add to the container ('all' to pass all GPUs)" },
  { name: 'group-add', type: 'list', usage: 'Add additional groups to join' },
  { name: 'health-cmd', type: 'string', usage: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', usage: 'Time between running the check (ms|s|m|h) (default 0s)', validate: durationFlag },
  {
    name: 'health-on-failure', type: 'string',
    usage: 'Action to take once the container turns unhealthy ("none", "kill", "restart", "stop")',
    validate: (v) => (['none', 'kill', 'restart', 'stop'].includes(v) ? undefined : `invalid on-failure action ${goQuote(v)} for health check: supported actions are: none,kill,restart,stop`),
  },
  { name: 'health-retries', type: 'int', usage: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-interval', type: 'string', usage: 'Time between running the check during the start period (ms|s|m|h) (default 0s)', validate: durationFlag },
  { name: 'health-start-period', type: 'string', usage: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)', validate: durationFlag },
  { name: 'health-timeout', type: 'string', usage: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', validate: durationFlag },
  { name: 'help', type: 'bool', usage: 'Print usage' },
  { name: 'hostname', short: 'h', type: 'string', usage: 'Container host name' },
  { name: 'init', type: 'bool', usage: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'interactive', short: 'i', type: 'bool', usage: 'Keep STDIN open even if not attached' },
  { name: 'io-maxbandwidth', type: 'string', usage: 'Maximum IO bandwidth limit for the system drive (Windows only)', validate: sizeFlag },
  { name: 'io-maxiops', type: 'int', usage: 'Maximum IOps limit for the system drive (Windows only)' },
  { name: 'ip', type: 'string', usage: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', usage: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'ipc', type: 'string', usage: 'IPC mode to use' },
  { name: 'isolation', type: 'string', usage: 'Container isolation technology' },
  { name: 'kernel-memory', type: 'string', usage: 'Kernel memory limit', validate: sizeFlag },
  { name: 'label', short: 'l', type: 'list', usage: 'Set meta data on a container', validate: check(validateLabel) },
  { name: 'label-file', type: 'list', usage: 'Read in a line delimited file of labels' },
  { name: 'link', type: 'list', usage: 'Add link to another container', validate: check(validateLink) },
  { name: 'link-local-ip', type: 'list', usage: 'Container IPv4/IPv6 link-local addresses' },
  { name: 'log-driver', type: 'string', usage: 'Logging driver for the container' },
  { name: 'log-opt', type: 'list', usage: 'Log driver options' },
  { name: 'mac-address', type: 'string', usage: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { name: 'memory', short: 'm', type: 'string', usage: 'Memory limit', validate: sizeFlag },
  { name: 'memory-reservation', type: 'string', usage: 'Memory soft limit', validate: sizeFlag },
  { name: 'memory-swap', type: 'string', usage: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", validate: (v) => (v === '-1' ? undefined : sizeFlag(v)) },
  { name: 'memory-swappiness', type: 'int', usage: 'Tune container memory swappiness (0 to 100)', default: -1 },
  { name: 'mount', type: listNamed('mount'), usage: 'Attach a filesystem mount to the container', validate: check(parseMount) },
  { name: 'name', type: 'string', usage: 'Assign a name to the container' },
  { name: 'net', type: listNamed('network'), usage: 'Connect a container to a network', hidden: true, validate: check(parseNetworkOpt) },
  { name: 'net-alias', type: 'list', usage: 'Add network-scoped alias for the container', hidden: true },
  { name: 'network', type: listNamed('network'), usage: 'Connect a container to a network', validate: check(parseNetworkOpt) },
  { name: 'network-alias', type: 'list', usage: 'Add network-scoped alias for the container' },
  { name: 'no-healthcheck', type: 'bool', usage: 'Disable any container-specified HEALTHCHECK' },
  { name: 'oom-kill-disable', type: 'bool', usage: 'Disable OOM Killer' },
  { name: 'oom-score-adj', type: 'int', usage: "Tune host's OOM preferences (-1000 to 1000)" },
  { name: 'pid', type: 'string', usage: 'PID namespace to use' },
  { name: 'pids-limit', type: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
  { name: 'privileged', type: 'bool', usage: 'Give extended privileges to this container' },
  { name: 'publish', short: 'p', type: 'list', usage: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', usage: 'Publish all exposed ports to random ports' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the pull output' },
  { name: 'read-only', type: 'bool', usage: "Mount the container's root filesystem as read only" },
  { name: 'restart', type: 'string', usage: 'Restart policy to apply when a container exits', default: 'no' },
  { name: 'rm', type: 'bool', usage: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { name: 'runtime', type: 'string', usage: 'Runtime to use for this container' },
  { name: 'security-opt', type: 'list', usage: 'Security Options' },
  { name: 'shm-size', type: 'string', usage: 'Size of /dev/shm', validate: sizeFlag },
  { name: 'stop-signal', type: 'string', usage: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', usage: 'Timeout (in seconds) to stop a container' },
  { name: 'storage-opt', type: 'list', usage: 'Storage driver options for the container' },
  { name: 'sysctl', type: listNamed('map'), usage: 'Sysctl options', validate: check(validateSysctl) },
  { name: 'tmpfs', type: 'list', usage: 'Mount a tmpfs directory' },
  { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
  { name: 'ulimit', type: listNamed('ulimit'), usage: 'Ulimit options', validate: check(parseUlimit) },
  { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'userns', type: 'string', usage: 'User namespace to use' },
  { name: 'uts', type: 'string', usage: 'UTS namespace to use' },
  { name: 'volume', short: 'v', type: 'list', usage: 'Bind mount a volume' },
  { name: 'volume-driver', type: 'string', usage: 'Optional volume driver for the container' },
  { name: 'volumes-from', type: 'list', usage: 'Mount volumes from the specified container(s)' },
  { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
  { name: 'disable-content-trust', type: 'bool', usage: 'Skip image verification', default: true },
];

/** `--pull` with run's and create's usage texts. */
export const pullFlag = (verb: 'running' | 'creating'): FlagSpec => ({
  name: 'pull', type: 'string', default: 'missing',
  usage: verb === 'running' ? 'Pull image before running ("always", "missing", "never")' : 'Pull image before creating ("always", "|missing", "never")',
});

/** The annotation carrying --health-on-failure (Pier's extension, Podman's flag). */
export const HEALTH_ON_FAILURE_ANNOTATION = 'io.pier.health-on-failure';

// --- parse --------------------------------------------------------------------------------------

export interface ParseContext {
  env: Record<string, string | undefined>;
  cwd?: string;
  /** The daemon's OS (from /_ping); device specs are validated for Linux. */
  serverOS?: string;
}

const list = (f: ParsedFlags, name: string) => (f.values[name] as string[] | undefined) ?? [];
const str = (f: ParsedFlags, name: string) => (f.values[name] as string | undefined) ?? '';
const int = (f: ParsedFlags, name: string) => (f.values[name] as number | undefined) ?? 0;
const bool = (f: ParsedFlags, name: string) => f.values[name] === true;

/** Unique values in first-seen order (docker keeps these in maps). */
const unique = (l: readonly string[]) => [...new Set(l)];

/**
 * The body of POST /containers/create for run/create flags and IMAGE [COMMAND…]
 * (docker's parse()). Throws OptsError with docker's message on invalid input.
 */
export function parseContainerFlags(f: ParsedFlags, image: string, args: string[], pc: ParseContext): ContainerCreateRequest {
  try {
    return parse(f, image, args, pc);
  } catch (e) {
    if (e instanceof OptsError) throw e;
    throw new OptsError((e as Error).message);
  }
}

function parse(f: ParsedFlags, image: string, args: string[], pc: ParseContext): ContainerCreateRequest {
  const cwd = pc.cwd ?? process.cwd();
  const attach = list(f, 'attach').map((s) => s.toLowerCase());
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');

  const mac = str(f, 'mac-address');
  if (mac !== '' && !MAC.test(mac.trim())) throw new OptsError(`${mac} is not a valid mac address`);
  if (bool(f, 'interactive')) attachStdin = true;
  if (attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
  }

  const swappiness = int(f, 'memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new OptsError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }

  // -v: anything with a source is a bind (or named volume); the rest are anonymous volumes.
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const bind of unique(list(f, 'volume'))) {
    const spec = parseVolumeSpec(bind);
    if (spec.source === '') {
      volumes[bind] = {};
      continue;
    }
    let toBind = bind;
    if (spec.type === 'bind') {
      const i = bind.indexOf(':');
      if (i !== -1) {
        let host = bind.slice(0, i);
        if (!isAbsolute(host) && host.startsWith('.')) host = resolve(cwd, host);
        toBind = `${host}:${bind.slice(i + 1)}`;
      }
    }
    binds.push(toBind);
  }

  const tmpfs: Record<string, string> = {};
  for (const t of list(f, 'tmpfs')) {
    const i = t.indexOf(':');
    if (i === -1) tmpfs[t] = '';
    else tmpfs[t.slice(0, i)] = t.slice(i + 1);
  }

  let entrypoint: string[] | null = null;
  if (str(f, 'entrypoint') !== '') entrypoint = [str(f, 'entrypoint')];
  else if (f.changed.has('entrypoint')) entrypoint = [''];

  // Ports: published ones are exposed too.
  const exposed: Record<string, Record<string, never>> = {};
  const portBindings: Record<string, PortBinding[]> = {};
  for (const p of list(f, 'publish')) {
    for (const { port, binding } of parsePortSpec(standardPublish(p))) {
      exposed[port] = {};
      (portBindings[port] ??= []).push(binding);
    }
  }
  for (const e of list(f, 'expose')) {
    if (e.includes(':')) throw new OptsError(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProtoPort(e);
    let range: [number, number];
    try {
      range = parsePortRange(port);
    } catch (err) {
      const why = (err as Error).message === 'bad port' ? `strconv.ParseUint: parsing ${goQuote(port.split('-')[0]!)}: invalid syntax` : (err as Error).message;
      throw new OptsError(`invalid range format for --expose: ${e}, error: ${why}`);
    }
    for (let i = range[0]; i <= range[1]; i++) exposed[`${i}/${proto}`] ??= {};
  }

  const devices: DeviceMapping[] = [];
  const cdi: string[] = [];
  for (const d of list(f, 'device')) {
    if (isCDIName(d)) cdi.push(d);
    else if ((pc.serverOS ?? 'linux') === 'windows') devices.push({ PathOnHost: d, PathInContainer: '', CgroupPermissions: '' });
    else devices.push(parseDevice(d));
  }

  // Environment: --env-file lines first, then -e (docker dedupes -e by name).
  const envVars = new Map<string, string>();
  for (const e of list(f, 'env')) {
    const v = validateEnv(e, pc.env);
    const i = v.indexOf('=');
    const k = i === -1 ? v : v.slice(0, i);
    envVars.delete(k);
    envVars.set(k, v);
  }
  const env: string[] = [];
  for (const file of list(f, 'env-file')) env.push(...parseKeyValueFile(file, (name) => pc.env[name]));
  env.push(...envVars.values());

  const labels: string[] = [];
  for (const file of list(f, 'label-file')) labels.push(...parseKeyValueFile(file));
  labels.push(...list(f, 'label'));

  const pidMode = str(f, 'pid');
  if (!(pidMode === '' || pidMode === 'host' || /^container:.+$/.test(pidMode))) throw new OptsError('--pid: invalid PID mode');
  const utsMode = str(f, 'uts');
  if (!(utsMode === '' || utsMode === 'host')) throw new OptsError('--uts: invalid UTS mode');
  const usernsMode = str(f, 'userns');
  if (!(usernsMode === '' || usernsMode === 'host')) throw new OptsError('--userns: invalid USER mode');
  const cgroupnsMode = str(f, 'cgroupns');
  if (!['', 'host', 'private'].includes(cgroupnsMode)) throw new OptsError('--cgroupns: invalid CGROUP mode');

  const restartPolicy = parseRestartPolicy(str(f, 'restart'));

  const logDriver = str(f, 'log-driver');
  const logOpts = list(f, 'log-opt');
  if (logDriver === 'none' && logOpts.length > 0) throw new OptsError(`invalid logging opts for driver ${logDriver}`);

  let securityOpts: string[] = [];
  for (const opt of list(f, 'security-opt')) {
    let i = opt.indexOf('=');
    let k = i === -1 ? opt : opt.slice(0, i);
    let v = i === -1 ? '' : opt.slice(i + 1);
    if (i === -1 && k !== 'no-new-privileges') {
      i = opt.indexOf(':');
      k = i === -1 ? opt : opt.slice(0, i);
      v = i === -1 ? '' : opt.slice(i + 1);
    }
    if ((i === -1 || v === '') && k !== 'no-new-privileges') throw new OptsError(`Invalid --security-opt: ${goQuote(opt)}`);
    if (k === 'seccomp' && v !== 'builtin' && v !== 'unconfined') {
      let text: string;
      try {
        text = readFileSync(v, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new OptsError(`opening seccomp profile (${v}) failed: open ${v}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      }
      try {
        securityOpts.push(`seccomp=${JSON.stringify(JSON.parse(text))}`);
      } catch (e) {
        throw new OptsError(`compacting json for seccomp profile (${v}) failed: ${(e as Error).message}`);
      }
      continue;
    }
    securityOpts.push(opt);
  }
  let maskedPaths: string[] | null = null;
  let readonlyPaths: string[] | null = null;
  if (securityOpts.includes('systempaths=unconfined')) {
    maskedPaths = [];
    readonlyPaths = [];
    securityOpts = securityOpts.filter((o) => o !== 'systempaths=unconfined');
  }

  const storageOpts: Record<string, string> = {};
  for (const o of list(f, 'storage-opt')) {
    const i = o.indexOf('=');
    if (i === -1) throw new OptsError('invalid storage option');
    storageOpts[o.slice(0, i)] = o.slice(i + 1);
  }

  // Healthcheck
  let health: HealthConfig | undefined;
  const hc = {
    cmd: str(f, 'health-cmd'),
    interval: str(f, 'health-interval') ? parseDurationNs(str(f, 'health-interval')) : 0,
    timeout: str(f, 'health-timeout') ? parseDurationNs(str(f, 'health-timeout')) : 0,
    startPeriod: str(f, 'health-start-period') ? parseDurationNs(str(f, 'health-start-period')) : 0,
    startInterval: str(f, 'health-start-interval') ? parseDurationNs(str(f, 'health-start-interval')) : 0,
    retries: int(f, 'health-retries'),
  };
  const haveHealth = hc.cmd !== '' || hc.interval !== 0 || hc.timeout !== 0 || hc.startPeriod !== 0 || hc.retries !== 0 || hc.startInterval !== 0;
  if (bool(f, 'no-healthcheck')) {
    if (haveHealth) throw new OptsError('--no-healthcheck conflicts with --health-* options');
    health = { Test: ['NONE'] };
  } else if (haveHealth) {
    if (hc.interval < 0) throw new OptsError('--health-interval cannot be negative');
    if (hc.timeout < 0) throw new OptsError('--health-timeout cannot be negative');
    if (hc.retries < 0) throw new OptsError('--health-retries cannot be negative');
    if (hc.startPeriod < 0) throw new OptsError('--health-start-period cannot be negative');
    if (hc.startInterval < 0) throw new OptsError('--health-start-interval cannot be negative');
    health = {};
    if (hc.cmd !== '') health.Test = ['CMD-SHELL', hc.cmd];
    if (hc.interval) health.Interval = hc.interval;
    if (hc.timeout) health.Timeout = hc.timeout;
    if (hc.startPeriod) health.StartPeriod = hc.startPeriod;
    if (hc.startInterval) health.StartInterval = hc.startInterval;
    if (hc.retries) health.Retries = hc.retries;
  }

  const deviceRequests: unknown[] = [];
  for (const gpus of list(f, 'gpus')) deviceRequests.push(parseGpus(gpus));
  if (cdi.length) deviceRequests.push({ Driver: 'cdi', Count: 0, DeviceIDs: cdi, Capabilities: null, Options: null });

  const ulimits = new Map<string, Ulimit>();
  for (const u of list(f, 'ulimit')) {
    const ul = parseUlimit(u);
    ulimits.set(ul.Name, ul);
  }
  const sysctls: Record<string, string> = {};
  for (const s of list(f, 'sysctl')) {
    const i = s.indexOf('=');
    sysctls[s.slice(0, i)] = s.slice(i + 1);
  }
  const annotations = kvMap(list(f, 'annotation'));
  const onFailure = str(f, 'health-on-failure');
  if (onFailure) annotations[HEALTH_ON_FAILURE_ANNOTATION] = onFailure;

  const nullIfEmpty = <T>(l: T[]): T[] | null => (l.length ? l : null);
  const caps = effectiveCaps(list(f, 'cap-add'), list(f, 'cap-drop'));
  const sizeOf = (name: string) => (str(f, name) ? ramInBytes(str(f, name)) : 0);
  const memSwap = str(f, 'memory-swap') === '-1' ? -1 : sizeOf('memory-swap');
  const mounts = list(f, 'mount').map((m) => parseMount(m, cwd));
  const networks = [...list(f, 'net'), ...list(f, 'network')].map(parseNetworkOpt);

  const config: ContainerConfig = {
    Hostname: str(f, 'hostname'),
    Domainname: str(f, 'domainname'),
    User: str(f, 'user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
  } as ContainerConfig;
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;
  Object.assign(config, {
    Tty: bool(f, 'tty'),
    OpenStdin: bool(f, 'interactive'),
    StdinOnce: false,
    Env: nullIfEmpty(env),
    Cmd: args.length ? args : null,
  });
  if (health) config.Healthcheck = health;
  Object.assign(config, {
    Image: image,
    Volumes: volumes,
    WorkingDir: str(f, 'workdir'),
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: kvMap(labels),
  });
  if (str(f, 'stop-signal')) config.StopSignal = str(f, 'stop-signal');
  if (f.changed.has('stop-timeout')) config.StopTimeout = int(f, 'stop-timeout');

  const host: HostConfig = {
    Binds: nullIfEmpty(binds),
    ContainerIDFile: str(f, 'cidfile'),
    LogConfig: { Type: logDriver, Config: kvMap(logOpts) },
    NetworkMode: networks[0]?.target ?? 'default',
    PortBindings: portBindings,
    RestartPolicy: restartPolicy,
    AutoRemove: bool(f, 'rm'),
    VolumeDriver: str(f, 'volume-driver'),
    VolumesFrom: nullIfEmpty(list(f, 'volumes-from')),
    ConsoleSize: [0, 0],
  } as HostConfig;
  if (Object.keys(annotations).length) host.Annotations = annotations;
  Object.assign(host, {
    CapAdd: nullIfEmpty(caps.add),
    CapDrop: nullIfEmpty(caps.drop),
    CgroupnsMode: cgroupnsMode,
    Dns: list(f, 'dns').map(validateIPAddress),
    DnsOptions: [...list(f, 'dns-opt'), ...list(f, 'dns-option')],
    DnsSearch: list(f, 'dns-search'),
    ExtraHosts: nullIfEmpty(list(f, 'add-host').map(validateExtraHost)),
    GroupAdd: nullIfEmpty(list(f, 'group-add')),
    IpcMode: str(f, 'ipc'),
    Cgroup: '',
    Links: nullIfEmpty(list(f, 'link')),
    OomScoreAdj: int(f, 'oom-score-adj'),
    PidMode: pidMode,
    Privileged: bool(f, 'privileged'),
    PublishAllPorts: bool(f, 'publish-all'),
    ReadonlyRootfs: bool(f, 'read-only'),
    SecurityOpt: nullIfEmpty(securityOpts),
  });
  if (Object.keys(storageOpts).length) host.StorageOpt = storageOpts;
  if (Object.keys(tmpfs).length) host.Tmpfs = tmpfs;
  Object.assign(host, { UTSMode: utsMode, UsernsMode: usernsMode, ShmSize: sizeOf('shm-size') });
  if (Object.keys(sysctls).length) host.Sysctls = sysctls;
  if (str(f, 'runtime')) host.Runtime = str(f, 'runtime');
  Object.assign(host, {
    Isolation: str(f, 'isolation'),
    CpuShares: int(f, 'cpu-shares'),
    Memory: sizeOf('memory'),
    NanoCpus: str(f, 'cpus') ? parseCPUs(str(f, 'cpus')) : 0,
    CgroupParent: str(f, 'cgroup-parent'),
    BlkioWeight: str(f, 'blkio-weight') ? Number(str(f, 'blkio-weight')) : 0,
    BlkioWeightDevice: list(f, 'blkio-weight-device').map(parseWeightDevice),
    BlkioDeviceReadBps: list(f, 'device-read-bps').map((d) => parseThrottleDevice(d, false)),
    BlkioDeviceWriteBps: list(f, 'device-write-bps').map((d) => parseThrottleDevice(d, false)),
    BlkioDeviceReadIOps: list(f, 'device-read-iops').map((d) => parseThrottleDevice(d, true)),
    BlkioDeviceWriteIOps: list(f, 'device-write-iops').map((d) => parseThrottleDevice(d, true)),
    CpuPeriod: int(f, 'cpu-period'),
    CpuQuota: int(f, 'cpu-quota'),
    CpuRealtimePeriod: int(f, 'cpu-rt-period'),
    CpuRealtimeRuntime: int(f, 'cpu-rt-runtime'),
    CpusetCpus: str(f, 'cpuset-cpus'),
    CpusetMems: str(f, 'cpuset-mems'),
    Devices: devices,
    DeviceCgroupRules: nullIfEmpty(list(f, 'device-cgroup-rule')),
    DeviceRequests: nullIfEmpty(deviceRequests),
    MemoryReservation: sizeOf('memory-reservation'),
    MemorySwap: memSwap,
    MemorySwappiness: swappiness,
    OomKillDisable: bool(f, 'oom-kill-disable'),
    PidsLimit: int(f, 'pids-limit'),
    Ulimits: [...ulimits.values()],
    CpuCount: int(f, 'cpu-count'),
    CpuPercent: int(f, 'cpu-percent'),
    IOMaximumIOps: int(f, 'io-maxiops'),
    IOMaximumBandwidth: sizeOf('io-maxbandwidth'),
  });
  if (mounts.length) host.Mounts = mounts;
  host.MaskedPaths = maskedPaths;
  host.ReadonlyPaths = readonlyPaths;

  if (host.AutoRemove && !(restartPolicy.Name === 'no' || restartPolicy.Name === '')) {
    throw new OptsError('conflicting options: cannot specify both --restart and --rm');
  }
  if (f.changed.has('init')) host.Init = bool(f, 'init');
  if (config.OpenStdin && config.AttachStdin) config.StdinOnce = true;

  return { ...config, HostConfig: host, NetworkingConfig: { EndpointsConfig: endpoints(f, networks, mac) } };
}

/** parseNetworkOpts: endpoint settings for each --network, with the legacy per-container flags on the first. */
function endpoints(f: ParsedFlags, networks: NetworkAttachment[], mac: string): Record<string, EndpointSettings> {
  const aliases = [...list(f, 'net-alias'), ...list(f, 'network-alias')];
  const links = list(f, 'link');
  const ip = str(f, 'ip');
  const ip6 = str(f, 'ip6');
  const linkLocal = list(f, 'link-local-ip');
  const apply = (n: NetworkAttachment) => {
    if (n.aliases.length && aliases.length) throw new Error('conflicting options: cannot specify both --network-alias and per-network alias');
    if (n.ipv4 && ip) throw new Error('conflicting options: cannot specify both --ip and per-network IPv4 address');
    if (n.ipv6 && ip6) throw new Error('conflicting options: cannot specify both --ip6 and per-network IPv6 address');
    if (n.mac && mac) throw new Error('conflicting options: cannot specify both --mac-address and per-network MAC address');
    if (n.linkLocalIPs.length && linkLocal.length) throw new Error('conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses');
    if (aliases.length) n.aliases = [...aliases];
    if (ip) n.ipv4 = ip;
    if (ip6) n.ipv6 = ip6;
    if (mac) n.mac = mac;
    if (linkLocal.length) n.linkLocalIPs = [...linkLocal];
  };
  const toEndpoint = (n: NetworkAttachment, withLinks: string[]): EndpointSettings | undefined => {
    if (n.target.trim() === '') throw new Error('no name set for network');
    if (!isUserDefinedNetwork(n.target)) {
      if (n.aliases.length) throw new Error('network-scoped aliases are only supported for user-defined networks');
      if (withLinks.length) throw new Error('links are only supported for user-defined networks');
    }
    const ep = emptyEndpoint();
    ep.GwPriority = n.gwPriority;
    if (n.aliases.length) ep.Aliases = n.aliases;
    if (n.driverOpts) ep.DriverOpts = n.driverOpts;
    if (withLinks.length) ep.Links = withLinks;
    if (n.ipv4 || n.ipv6 || n.linkLocalIPs.length) {
      ep.IPAMConfig = {};
      if (n.ipv4) ep.IPAMConfig.IPv4Address = n.ipv4;
      if (n.ipv6) ep.IPAMConfig.IPv6Address = n.ipv6;
      if (n.linkLocalIPs.length) ep.IPAMConfig.LinkLocalIPs = n.linkLocalIPs;
    }
    if (n.mac) {
      if (!MAC.test(n.mac.trim())) throw new Error(`${n.mac} is not a valid mac address`);
      ep.MacAddress = n.mac;
    }
    return ep;
  };
  const out: Record<string, EndpointSettings> = {};
  if (networks.length === 0) {
    const n: NetworkAttachment = { target: 'default', aliases: [], ipv4: '', ipv6: '', mac: '', linkLocalIPs: [], gwPriority: 0 };
    apply(n);
    out['default'] = toEndpoint(n, [])!;
    return out;
  }
  let userDefined = false;
  let nonUserDefined = false;
  networks.forEach((n, i) => {
    if (isUserDefinedNetwork(n.target)) userDefined = true;
    else nonUserDefined = true;
    const withLinks = i === 0 && isUserDefinedNetwork(n.target) ? links : [];
    if (i === 0) apply(n);
    const ep = toEndpoint(n, withLinks)!;
    if (n.target in out) throw new Error(`network ${goQuote(n.target)} is specified multiple times`);
    // A single network without options needs no endpoint settings (docker omits them).
    if (i === 0 && networks.length === 1 && JSON.stringify(ep) === JSON.stringify(emptyEndpoint())) return;
    out[n.target] = ep;
  });
  if (userDefined && nonUserDefined) throw new Error('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  return out;
}

/** opts.NormalizeCapability: "net_admin" → "CAP_NET_ADMIN"; ALL stays. */
export function normalizeCapability(c: string): string {
  c = c.trim().toUpperCase();
  if (c === 'ALL') return c;
  return c.startsWith('CAP_') ? c : `CAP_${c}`;
}

/** --cap-add / --cap-drop as docker 28 sends them: normalised, deduplicated, sorted. */
export function effectiveCaps(add: readonly string[], drop: readonly string[]): { add: string[]; drop: string[] } {
  const norm = (l: readonly string[]) => [...new Set(l.map(normalizeCapability))].sort();
  return { add: norm(add), drop: norm(drop) };
}

/** opts.GpuOpts: "all", a count, or "count=2,driver=nvidia,capabilities=…,device=…". */
function parseGpus(value: string): Record<string, unknown> {
  const req: { Driver: string; Count: number; DeviceIDs: string[] | null; Capabilities: string[][] | null; Options: Record<string, string> | null } = {
    Driver: '', Count: 0, DeviceIDs: null, Capabilities: null, Options: {},
  };
  let caps: string[] = [];
  for (const field of csvFields(value)) {
    const i = field.indexOf('=');
    const key = i === -1 ? field : field.slice(0, i);
    const val = i === -1 ? '' : field.slice(i + 1);
    if (i === -1) {
      if (field === 'all') req.Count = -1;
      else if (/^\d+$/.test(field)) req.Count = Number(field);
      else throw new Error(`invalid count (${field}): value must be either "all" or an integer`);
      continue;
    }
    switch (key) {
      case 'driver': req.Driver = val; break;
      case 'count':
        if (val === 'all') req.Count = -1;
        else if (/^\d+$/.test(val)) req.Count = Number(val);
        else throw new Error(`invalid count (${val}): value must be either "all" or an integer`);
        break;
      case 'device': req.DeviceIDs = val.split(','); break;
      case 'capabilities': caps = val.split(','); break;
      case 'options': Object.assign(req.Options!, kvMap(val.split(','))); break;
      default: throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (req.Count !== 0 && req.DeviceIDs) throw new Error('cannot set both Count and DeviceIDs on device request');
  req.Capabilities = [['gpu', ...caps.filter((c) => c !== 'gpu')]];
  return req;
}
