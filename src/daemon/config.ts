/**
 * pierd's configuration: command-line flags and a JSON file like dockerd's
 * daemon.json. Unknown keys and bad values are refused with a message naming
 * them; a setting given both as a flag and in the file is refused too, as
 * dockerd does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalid } from '../base/errdefs.js';
import { LEVELS, type Level } from '../base/log.js';
import { validateInsecureRegistry, validateMirror } from '../distribution/resolve.js';
import { DEFAULT_POOLS, parseCidr, parseIp } from '../network/ipam.js';
import { tlsEnabled } from './tls.js';

export const STORAGE_DRIVERS = ['overlay2', 'overlay', 'btrfs', 'vfs'] as const;
export type StorageDriver = (typeof STORAGE_DRIVERS)[number];

export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  pidfile?: string;
  debug: boolean;
  logLevel: Level;
  logFormat: 'json' | 'text';
  storageDriver?: StorageDriver;
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }>;
  defaultRuntime: string;
  liveRestore: boolean;
  /** Parent cgroup of every container ("pier" → /pier/<id>), like dockerd's --cgroup-parent. */
  cgroupParent: string;
  /** Static init for --init (Debian's tini-static). */
  initPath: string;
  labels: string[];
  group?: string;
  /** Largest uncompressed layer accepted on load/import/pull, in bytes (decompression bombs stop here). */
  maxLayerSize: number;
  /** Registries reachable over plain HTTP / unverified TLS besides localhost and 127.0.0.0/8 (host[:port] or CIDR). */
  insecureRegistries: string[];
  /** Pull mirrors of docker.io, tried in order before it. */
  registryMirrors: string[];
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  configFile?: string;
  /** The default bridge interface (dockerd's --bridge); it also names this daemon's iptables chains. */
  bridge: string;
  /** The default bridge's address/prefix (dockerd's --bip); free space is chosen when unset. */
  bip?: string;
  /** Where user networks' subnets come from (dockerd's --default-address-pool). */
  defaultAddressPools: { base: string; size: number }[];
  /** Manage iptables rules (NAT out, isolation, published ports). */
  iptables: boolean;
  /** DNS servers for containers (dockerd's --dns). */
  dns: string[];
  /** TLS on tcp:// listeners (dockerd's --tls); undefined when not given, false when explicitly off. */
  tls?: boolean;
  /** Mutual TLS on tcp:// listeners: clients need a certificate signed by tlsCaCert (dockerd's --tlsverify). */
  tlsVerify: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Default logging driver of new containers (dockerd's --log-driver): json-file or none. */
  logDriver: LogDriver;
  /** Default log options of new containers (dockerd's --log-opt); see effectiveLogOpts for Pier's rotation defaults. */
  logOpts: Record<string, string>;
  /** host:port of the Prometheus /metrics listener (dockerd's --metrics-addr); off when unset. */
  metricsAddr?: string;
}

export const LOG_DRIVERS = ['json-file', 'none'] as const;
export type LogDriver = (typeof LOG_DRIVERS)[number];
/** Pier rotates json-file logs unless told otherwise (dockerd never does, and fills disks). */
export const DEFAULT_LOG_OPTS = { 'max-size': '20m', 'max-file': '5' } as const;
const DAEMON_LOG_OPTS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];

export const DEFAULTS: DaemonConfig = {
  dataRoot: '/var/lib/pier',
  execRoot: '/run/pier',
  hosts: ['unix:///run/pier/pier.sock'],
  debug: false,
  logLevel: 'info',
  logFormat: 'json',
  runtimes: { runc: { path: 'runc' } },
  defaultRuntime: 'runc',
  liveRestore: true,
  cgroupParent: 'pier',
  initPath: '/usr/bin/tini-static',
  labels: [],
  maxLayerSize: 64 * 1024 ** 3,
  insecureRegistries: [],
  registryMirrors: [],
  maxConcurrentDownloads: 3,
  maxConcurrentUploads: 5,
  bridge: 'pier0',
  defaultAddressPools: DEFAULT_POOLS,
  iptables: true,
  dns: [],
  tlsVerify: false,
  logDriver: 'json-file',
  logOpts: {},
};

/**
 * The log options new containers get from the daemon: the configured ones,
 * with Pier's rotation defaults (max-size 20m, max-file 5) for the keys the
 * configuration leaves out. `"max-size": "-1"` turns rotation off.
 */
export function effectiveLogOpts(c: Pick<DaemonConfig, 'logDriver' | 'logOpts'>): Record<string, string> {
  if (c.logDriver !== 'json-file') return { ...c.logOpts };
  const out: Record<string, string> = { ...c.logOpts };
  if (out['max-size'] === undefined) out['max-size'] = DEFAULT_LOG_OPTS['max-size'];
  if (out['max-file'] === undefined && out['max-size'] !== '-1' && out['max-size'] !== '') out['max-file'] = DEFAULT_LOG_OPTS['max-file'];
  return out;
}

/** daemon.json keys → how to check and apply them. */
type Field = (c: DaemonConfig, v: unknown, key: string) => void;
const str = (f: (c: DaemonConfig, v: string) => void): Field => (c, v, k) => {
  if (typeof v !== 'string' || v === '') throw invalid(`invalid value for "${k}" in the configuration file: expected a non-empty string`);
  f(c, v);
};
const bool = (f: (c: DaemonConfig, v: boolean) => void): Field => (c, v, k) => {
  if (typeof v !== 'boolean') throw invalid(`invalid value for "${k}" in the configuration file: expected true or false`);
  f(c, v);
};
const strList = (f: (c: DaemonConfig, v: string[]) => void): Field => (c, v, k) => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`invalid value for "${k}" in the configuration file: expected a list of strings`);
  f(c, v);
};

const FILE_KEYS: Record<string, Field> = {
  'data-root': str((c, v) => (c.dataRoot = v)),
  'exec-root': str((c, v) => (c.execRoot = v)),
  hosts: strList((c, v) => (c.hosts = v.map(checkHost))),
  pidfile: str((c, v) => (c.pidfile = v)),
  debug: bool((c, v) => (c.debug = v)),
  'log-level': str((c, v) => (c.logLevel = checkLevel(v))),
  'log-format': str((c, v) => (c.logFormat = checkFormat(v))),
  'storage-driver': str((c, v) => (c.storageDriver = checkDriver(v))),
  'default-runtime': str((c, v) => (c.defaultRuntime = v)),
  'live-restore': bool((c, v) => (c.liveRestore = v)),
  'cgroup-parent': str((c, v) => (c.cgroupParent = checkCgroupParent(v))),
  'init-path': str((c, v) => (c.initPath = v)),
  labels: strList((c, v) => (c.labels = v)),
  group: str((c, v) => (c.group = v)),
  'max-layer-size': (c, v, k) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalid(`invalid value for "${k}" in the configuration file: expected a positive number of bytes`);
    c.maxLayerSize = v;
  },
  'insecure-registries': strList((c, v) => (c.insecureRegistries = v.map(validateInsecureRegistry))),
  'registry-mirrors': strList((c, v) => (c.registryMirrors = v.map(validateMirror))),
  'max-concurrent-downloads': (c, v, k) => (c.maxConcurrentDownloads = checkConcurrency(v, k)),
  'max-concurrent-uploads': (c, v, k) => (c.maxConcurrentUploads = checkConcurrency(v, k)),
  bridge: str((c, v) => (c.bridge = checkBridge(v))),
  bip: str((c, v) => (c.bip = checkBip(v))),
  iptables: bool((c, v) => (c.iptables = v)),
  dns: strList((c, v) => (c.dns = v.map(checkDns))),
  'log-driver': str((c, v) => (c.logDriver = checkLogDriver(v))),
  'log-opts': (c, v, k) => {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))
      throw invalid(`invalid value for "${k}" in the configuration file: expected {"max-size": "10m", "max-file": "5"} (string values)`);
    c.logOpts = { ...(v as Record<string, string>) };
  },
  'metrics-addr': (c, v, k) => {
    if (typeof v !== 'string') throw invalid(`invalid value for "${k}" in the configuration file: expected "host:port"`);
    c.metricsAddr = v === '' ? undefined : checkMetricsAddr(v);
  },
  tls: bool((c, v) => (c.tls = v)),
  tlsverify: bool((c, v) => (c.tlsVerify = v)),
  tlscacert: str((c, v) => (c.tlsCaCert = v)),
  tlscert: str((c, v) => (c.tlsCert = v)),
  tlskey: str((c, v) => (c.tlsKey = v)),
  'default-address-pools': (c, v, k) => {
    if (!Array.isArray(v)) throw invalid(`invalid value for "${k}" in the configuration file: expected [{"base": "10.89.0.0/16", "size": 24}]`);
    c.defaultAddressPools = v.map((p: { base?: unknown; size?: unknown }) => checkPool(`base=${String(p?.base)},size=${String(p?.size)}`));
  },
  runtimes: (c, v, k) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalid(`invalid value for "${k}" in the configuration file: expected {"name": {"path": "..."}}`);
    for (const [name, rt] of Object.entries(v as Record<string, unknown>)) {
      const r = rt as { path?: unknown; runtimeArgs?: unknown };
      if (!r || typeof r.path !== 'string') throw invalid(`invalid runtime "${name}" in the configuration file: "path" is required`);
      c.runtimes[name] = { path: r.path, ...(Array.isArray(r.runtimeArgs) ? { runtimeArgs: r.runtimeArgs.map(String) } : {}) };
    }
  },
};

function checkHost(h: string): string {
  if (h.startsWith('unix://')) {
    if (h.length <= 'unix://'.length) throw invalid(`invalid host "${h}": a unix socket needs a path`);
    return h;
  }
  if (h.startsWith('tcp://')) {
    const u = h.slice(6);
    if (!/^[^:]*:\d+$/.test(u) && !/^\[[0-9a-f:]+\]:\d+$/i.test(u)) throw invalid(`invalid host "${h}": expected tcp://ADDRESS:PORT`);
    return h;
  }
  if (h.startsWith('/')) return `unix://${h}`;
  throw invalid(`invalid host "${h}": use unix:///path/to/socket or tcp://ADDRESS:PORT`);
}
function checkBridge(v: string): string {
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(v) || v === 'docker0') throw invalid(`invalid bridge name "${v}": at most 15 letters, digits, '_', '.' or '-' (and not docker0, which is Docker's)`);
  return v;
}
function checkBip(v: string): string {
  const c = parseCidr(v);
  if (!c || c.family !== 4 || c.prefix > 30 || parseIp(v.split('/')[0]!)!.value === c.base) throw invalid(`invalid bip "${v}": give the bridge's address with a prefix length, such as 10.88.0.1/16`);
  return v;
}
function checkDns(v: string): string {
  if (!parseIp(v)) throw invalid(`invalid dns "${v}": expected an IP address`);
  return v;
}
/** "base=10.89.0.0/16,size=24". */
function checkPool(v: string): { base: string; size: number } {
  const kv = Object.fromEntries(v.split(',').map((p) => p.split('=', 2) as [string, string]));
  const base = parseCidr(kv['base'] ?? '');
  const size = Number(kv['size']);
  if (!base || base.family !== 4 || !Number.isInteger(size) || size < base.prefix || size > 30)
    throw invalid(`invalid default address pool "${v}": expected base=CIDR,size=N with N between the base's prefix length and 30`);
  return { base: kv['base']!, size };
}
function checkConcurrency(v: unknown, k: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 64) throw invalid(`invalid value for "${k}": expected a whole number from 1 to 64, got ${JSON.stringify(v)}`);
  return n;
}
function checkLogDriver(v: string): LogDriver {
  if (!(LOG_DRIVERS as readonly string[]).includes(v))
    throw invalid(`logging driver "${v}" is not supported by pierd as a default: use json-file (rotated, read by \`logs\`) or none`);
  return v as LogDriver;
}
/** Known keys, and max-size/max-file that parse ("10m", a whole number of files from 1). */
export function checkLogOpts(driver: LogDriver, opts: Record<string, string>): Record<string, string> {
  const keys = Object.keys(opts);
  if (driver === 'none' && keys.length) throw invalid(`invalid log opts for the none logging driver: ${keys.join(', ')} (it takes none)`);
  for (const k of keys) if (!DAEMON_LOG_OPTS.includes(k)) throw invalid(`unknown log opt '${k}' for json-file log driver: use ${DAEMON_LOG_OPTS.join(', ')}`);
  const size = opts['max-size'];
  if (size !== undefined && size !== '-1' && !/^\d+(\.\d+)?\s*[kmgt]?i?b?$/i.test(size)) throw invalid(`invalid max-size "${size}" in the log opts: use a size such as 10m, or -1 for no rotation`);
  const files = opts['max-file'];
  if (files !== undefined && !/^[1-9]\d*$/.test(files)) throw invalid(`invalid max-file "${files}" in the log opts: must be a whole number from 1`);
  return opts;
}
/** host:port (IPv6 in brackets); the port may be 0 for "any free one". */
export function checkMetricsAddr(v: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw invalid(`invalid metrics-addr "${v}": expected host:port, such as 127.0.0.1:9323`);
  return v;
}
function checkLevel(v: string): Level {
  if (v === 'warning') return 'warn';
  if (!(LEVELS as string[]).includes(v)) throw invalid(`invalid log level "${v}": use one of ${LEVELS.join(', ')}`);
  return v as Level;
}
function checkFormat(v: string): 'json' | 'text' {
  if (v !== 'json' && v !== 'text') throw invalid(`invalid log format "${v}": use json or text`);
  return v;
}
function checkDriver(v: string): StorageDriver {
  if (!(STORAGE_DRIVERS as readonly string[]).includes(v)) throw invalid(`invalid storage driver "${v}": use one of ${STORAGE_DRIVERS.join(', ')}`);
  return v as StorageDriver;
}

export const USAGE = `Usage:	pierd [OPTIONS]

A self-sufficient runtime for containers, speaking the Docker Engine API.

Options:
      --config-file string      Daemon configuration file (JSON, like dockerd's daemon.json)
      --data-root string        Root directory of persistent state (default "/var/lib/pier")
      --exec-root string        Root directory for execution state (default "/run/pier")
  -D, --debug                   Enable debug mode
  -H, --host list               Daemon socket(s) to listen on (default unix:///run/pier/pier.sock)
  -l, --log-level string        Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
      --log-format string       Log format: json or text (default "json")
  -p, --pidfile string          Path to use for the daemon PID file
  -s, --storage-driver string   Storage driver to use (overlay2, btrfs, vfs)
      --default-runtime string  Default OCI runtime for containers (default "runc")
      --live-restore            Keep containers running while the daemon is down (default true)
      --group string            Group for the unix socket
      --label list              Set key=value labels on the daemon
      --insecure-registry list  Registry that may be reached over plain HTTP (host[:port] or CIDR)
      --registry-mirror list    Preferred Docker Hub mirror (URL)
      --max-concurrent-downloads int  Maximum concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int    Maximum concurrent uploads for each push (default 5)
  -b, --bridge string           The default bridge network's interface (default "pier0")
      --bip string              The default bridge's address and prefix (default: 10.88.0.1/16 when free)
      --default-address-pool    Subnets for user networks: base=CIDR,size=N (default base=10.89.0.0/16,size=24)
      --dns list                DNS servers for containers
      --iptables                Manage iptables rules for networks and published ports (default true)
      --log-driver string       Default driver for container logs: json-file or none (default "json-file")
      --log-opt map             Default log driver options for containers (default max-size=20m max-file=5)
      --metrics-addr string     Set default address and port to serve the Prometheus metrics API on
      --tls                     Use TLS on tcp:// hosts; implied by --tlsverify (--tls=false: listen in the clear)
      --tlsverify               Use TLS and require client certificates signed by --tlscacert
      --tlscacert string        Trust certs signed only by this CA (default "~/.docker/ca.pem" if it exists)
      --tlscert string          Path to TLS certificate file (default "~/.docker/cert.pem" if it exists)
      --tlskey string           Path to TLS key file (default "~/.docker/key.pem" if it exists)
  -v, --version                 Print version information and quit
  -h, --help                    Print usage
`;

/** Parses argv (without node and script) into a config; reads the config file if one is named. */
export function parseDaemonArgs(
  argv: readonly string[],
  readFile: (p: string) => string = (p) => readFileSync(p, 'utf8'),
  env: Record<string, string | undefined> = process.env,
): DaemonConfig | 'help' | 'version' {
  const c: DaemonConfig = structuredClone(DEFAULTS);
  const fromFlags = new Set<string>();
  const flagHosts: string[] = [];
  const labels: string[] = [];
  const insecure: string[] = [];
  const mirrors: string[] = [];
  const dns: string[] = [];
  const pools: { base: string; size: number }[] = [];
  const logOpts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw invalid(`flag needs an argument: ${a}`);
      return v;
    };
    const boolValue = (): boolean => (value === undefined ? true : value !== 'false' && value !== '0');
    switch (a) {
      case '-h': case '--help': return 'help';
      case '-v': case '--version': return 'version';
      case '--data-root': c.dataRoot = next(); fromFlags.add('data-root'); break;
      case '--exec-root': c.execRoot = next(); fromFlags.add('exec-root'); break;
      case '-H': case '--host': flagHosts.push(checkHost(next())); fromFlags.add('hosts'); break;
      case '-p': case '--pidfile': c.pidfile = next(); fromFlags.add('pidfile'); break;
      case '--config-file': c.configFile = next(); break;
      case '-D': case '--debug': c.debug = boolValue(); fromFlags.add('debug'); break;
      case '-l': case '--log-level': c.logLevel = checkLevel(next()); fromFlags.add('log-level'); break;
      case '--log-format': c.logFormat = checkFormat(next()); fromFlags.add('log-format'); break;
      case '-s': case '--storage-driver': c.storageDriver = checkDriver(next()); fromFlags.add('storage-driver'); break;
      case '--default-runtime': c.defaultRuntime = next(); fromFlags.add('default-runtime'); break;
      case '--live-restore': c.liveRestore = boolValue(); fromFlags.add('live-restore'); break;
      case '--cgroup-parent': c.cgroupParent = checkCgroupParent(next()); fromFlags.add('cgroup-parent'); break;
      case '--init-path': c.initPath = next(); fromFlags.add('init-path'); break;
      case '--add-runtime': {
        const v = next();
        const i = v.indexOf('=');
        if (i <= 0 || i === v.length - 1) throw invalid(`invalid runtime ${v}: expected name=path`);
        c.runtimes[v.slice(0, i)] = { path: v.slice(i + 1) };
        break;
      }
      case '--group': c.group = next(); fromFlags.add('group'); break;
      case '-b': case '--bridge': c.bridge = checkBridge(next()); fromFlags.add('bridge'); break;
      case '--bip': c.bip = checkBip(next()); fromFlags.add('bip'); break;
      case '--iptables': c.iptables = boolValue(); fromFlags.add('iptables'); break;
      case '--dns': dns.push(checkDns(next())); fromFlags.add('dns'); break;
      case '--default-address-pool': pools.push(checkPool(next())); fromFlags.add('default-address-pools'); break;
      case '--label': labels.push(next()); fromFlags.add('labels'); break;
      case '--tls': c.tls = boolValue(); fromFlags.add('tls'); break;
      case '--tlsverify': c.tlsVerify = boolValue(); fromFlags.add('tlsverify'); break;
      case '--tlscacert': c.tlsCaCert = next(); fromFlags.add('tlscacert'); break;
      case '--tlscert': c.tlsCert = next(); fromFlags.add('tlscert'); break;
      case '--tlskey': c.tlsKey = next(); fromFlags.add('tlskey'); break;
      case '--log-driver': c.logDriver = checkLogDriver(next()); fromFlags.add('log-driver'); break;
      case '--log-opt': {
        const v = next();
        const i = v.indexOf('=');
        if (i <= 0) throw invalid(`invalid log opt ${v}: expected key=value, such as max-size=10m`);
        logOpts[v.slice(0, i)] = v.slice(i + 1);
        fromFlags.add('log-opts');
        break;
      }
      case '--metrics-addr': c.metricsAddr = checkMetricsAddr(next()); fromFlags.add('metrics-addr'); break;
      case '--insecure-registry': insecure.push(validateInsecureRegistry(next())); fromFlags.add('insecure-registries'); break;
      case '--registry-mirror': mirrors.push(validateMirror(next())); fromFlags.add('registry-mirrors'); break;
      case '--max-concurrent-downloads': c.maxConcurrentDownloads = checkConcurrency(next(), 'max-concurrent-downloads'); fromFlags.add('max-concurrent-downloads'); break;
      case '--max-concurrent-uploads': c.maxConcurrentUploads = checkConcurrency(next(), 'max-concurrent-uploads'); fromFlags.add('max-concurrent-uploads'); break;
      default:
        throw invalid(`unknown flag: ${a}\nSee 'pierd --help'.`);
    }
  }
  if (flagHosts.length) c.hosts = flagHosts;
  if (labels.length) c.labels = labels;
  if (insecure.length) c.insecureRegistries = insecure;
  if (mirrors.length) c.registryMirrors = mirrors;
  if (dns.length) c.dns = dns;
  if (pools.length) c.defaultAddressPools = pools;
  if (Object.keys(logOpts).length) c.logOpts = logOpts;
  if (c.configFile) {
    let text: string;
    try {
      text = readFile(c.configFile);
    } catch (e) {
      throw invalid(`unable to read the configuration file ${c.configFile}: ${(e as Error).message}`);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw invalid(`the configuration file ${c.configFile} is not valid JSON: ${(e as Error).message}`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw invalid(`the configuration file ${c.configFile} must hold a JSON object`);
    const keys = Object.keys(obj);
    const unknown = keys.filter((k) => !(k in FILE_KEYS));
    if (unknown.length) throw invalid(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
    const both = keys.filter((k) => fromFlags.has(k));
    if (both.length) throw invalid(`the following directives are specified both as a flag and in the configuration file: ${both.join(', ')}`);
    for (const k of keys) FILE_KEYS[k]!(c, (obj as Record<string, unknown>)[k], k);
  }
  if (c.debug) c.logLevel = 'debug';
  checkTcpTls(c, env);
  checkLogOpts(c.logDriver, c.logOpts);
  if (!c.runtimes[c.defaultRuntime]) throw invalid(`default runtime "${c.defaultRuntime}" is not among the configured runtimes (${Object.keys(c.runtimes).join(', ')})`);
  return c;
}

/**
 * dockerd's rules for tcp:// hosts: TLS unless --tls=false says otherwise (then
 * listen() logs a loud warning). With TLS on, unset files default to
 * $DOCKER_CERT_PATH (else ~/.docker)/{ca,cert,key}.pem when those exist; the
 * files themselves are read and checked when the daemon starts (daemon/tls.ts).
 */
function checkTcpTls(c: DaemonConfig, env: Record<string, string | undefined>): void {
  const on = tlsEnabled(c);
  if (on) {
    const dir = env['DOCKER_CERT_PATH'] || join(env['HOME'] || homedir(), '.docker');
    const dflt = (f: string) => (existsSync(join(dir, f)) ? join(dir, f) : undefined);
    c.tlsCaCert ??= dflt('ca.pem');
    c.tlsCert ??= dflt('cert.pem');
    c.tlsKey ??= dflt('key.pem');
  }
  const tcp = c.hosts.filter((h) => h.startsWith('tcp://'));
  if (tcp.length && !on && c.tls !== false)
    throw invalid(
      `refusing to listen on ${tcp.join(', ')} without TLS: anyone who can reach it would control this machine as root. ` +
        'Use --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY (`pier tls generate` makes them), or pass --tls=false to listen unencrypted and unauthenticated anyway',
    );
}

function checkCgroupParent(v: string): string {
  const p = v.replace(/^\/+|\/+$/g, '');
  if (!p || p.split('/').some((x) => x === '..' || x === '.')) throw invalid(`invalid cgroup-parent "${v}": give a relative path such as "pier"`);
  return p;
}
