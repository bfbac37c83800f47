// The flags of `pier service create` and `pier service update` and what they do to
// a ServiceSpec, following docker 28's cli/command/service/opts.go and update.go:
// the same flags, the same defaults filled in when a policy is first set, and the
// same JSON document, so a daemon cannot tell the clients apart.
//
//   const spec = createSpec(f, 'busybox', ['sleep', '1d'], env);   // POST /services/create
//   applyUpdate(service.Spec, f, env);                            // POST /services/{id}/update

import type {
  HealthConfig, ServiceSpec, SwarmContainerSpec, SwarmNetworkAttachment, SwarmPortConfig, SwarmRestartPolicy, SwarmTaskSpec,
  SwarmUpdateConfig,
} from '../../client/types.js';
import { familiar, parseReference, withDefaultTag } from '../../image/reference.js';
import { check, goQuote, type FlagSpec, type FlagType, type ParsedFlags } from '../flags.js';
import {
  kvMap, parseCPUs, parseDurationNs, parseKeyValueFile, parseMount, parseNetworkOpt, parsePortSpec, ramInBytes, validateEnv, validateLabel,
} from './container-opts.js';

/** A usage error found while building the spec: docker prints it as is and exits 1. */
export class SpecError extends Error {}

// --- value parsers --------------------------------------------------------------------------------

/** A flag validator from a parser: its error message, or undefined when the value parses. */

/** strconv.ParseUint(s, 0, 64) for the decimal forms people type. */
export function parseUint(s: string): number {
  if (!/^\+?\d+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  return Number(s);
}

/** strconv.ParseFloat(s, 32). */
function parseFloat32(s: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`);
  return Math.fround(Number(s));
}

/** PositiveDurationOpt: a Go duration that may not be negative. */
function positiveDuration(s: string): number {
  const ns = parseDurationNs(s);
  if (ns < 0) throw new Error('duration cannot be negative');
  return ns;
}

/** flynn-archive/go-shlex as docker's ShlexOpt uses it: words, quotes and backslashes. */
export function shlexSplit(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) throw new Error('EOF found after escape character');
      cur += s[++i];
      inWord = true;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new Error('EOF found when expecting closing quote');
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length && '"\\$`\n'.includes(s[j + 1]!)) j++;
        cur += s[j];
      }
      if (j >= s.length) throw new Error('EOF found when expecting closing quote');
      i = j;
      inWord = true;
    } else if (' \t\r\n'.includes(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const PROTOCOLS = ['tcp', 'udp', 'sctp'];

/** opts.PortOpt.Set: "8080:80[/udp]" or "published=8080,target=80,protocol=udp,mode=host". */
export function parsePortOpt(value: string): SwarmPortConfig[] {
  if (/\w+=\w+(,\w+=\w+)*/.test(value)) {
    const p: SwarmPortConfig = {};
    for (const field of value.split(',')) {
      const lower = field.toLowerCase();
      const i = lower.indexOf('=');
      const key = i === -1 ? '' : lower.slice(0, i);
      const val = i === -1 ? '' : lower.slice(i + 1);
      if (i === -1 || key === '') throw new Error(`invalid field: ${field}`);
      switch (key) {
        case 'protocol':
          if (!PROTOCOLS.includes(val)) throw new Error(`invalid protocol value '${val}'`);
          p.Protocol = val;
          break;
        case 'mode':
          if (val !== 'ingress' && val !== 'host') throw new Error(`invalid publish mode value (${val}): must be either 'ingress' or 'host'`);
          p.PublishMode = val;
          break;
        case 'target':
        case 'published': {
          if (!/^\d+$/.test(val)) throw new Error(`strconv.ParseUint: parsing ${goQuote(val)}: invalid syntax`);
          if (Number(val) > 65535) throw new Error(`strconv.ParseUint: parsing ${goQuote(val)}: value out of range`);
          if (key === 'target') p.TargetPort = Number(val);
          else p.PublishedPort = Number(val);
          break;
        }
        default:
          throw new Error(`invalid field key: ${key}`);
      }
    }
    if (!p.TargetPort) throw new Error("missing mandatory field 'target'");
    // Go field order: Protocol, TargetPort, PublishedPort, PublishMode.
    return [{ Protocol: p.Protocol ?? 'tcp', TargetPort: p.TargetPort, ...(p.PublishedPort ? { PublishedPort: p.PublishedPort } : {}), PublishMode: p.PublishMode ?? 'ingress' }];
  }
  const specs = parsePortSpec(value);
  if (specs.some((s) => s.binding.HostIp !== '')) throw new Error('hostip is not supported');
  const out: SwarmPortConfig[] = [];
  for (const { port, binding } of specs) {
    const [num, proto] = port.split('/') as [string, string];
    let start = 0;
    let end = 0;
    if (binding.HostPort !== '') {
      const m = /^(\d+)(?:-(\d+))?$/.exec(binding.HostPort);
      if (!m) throw new Error(`invalid hostport binding (${binding.HostPort}) for port (${num})`);
      start = Number(m[1]);
      end = m[2] ? Number(m[2]) : start;
    }
    for (let i = start; i <= end; i++) {
      out.push({ Protocol: proto, TargetPort: Number(num), ...(i ? { PublishedPort: i } : {}), PublishMode: 'ingress' });
    }
  }
  return out;
}

/** opts.ReadKVEnvStrings + docker's de-duplication: files first, then -e; a later key replaces an earlier one. */
export function serviceEnv(files: readonly string[], env: readonly string[], lookup: (k: string) => string | undefined): string[] {
  const all: string[] = [];
  for (const file of files) all.push(...parseKeyValueFile(file, lookup));
  all.push(...env);
  const out: string[] = [];
  for (const e of all) {
    const k = e.split('=', 1)[0]!;
    for (let i = out.length - 1; i >= 0; i--) {
      if (out[i] !== e && out[i]!.startsWith(`${k}=`)) out.splice(i, 1);
    }
    out.push(e);
  }
  return out;
}

/** client.imageWithTagString: a name without tag or digest gets ":latest" (what the daemon would pull). */
export function taggedImage(image: string): string {
  try {
    return familiar(withDefaultTag(parseReference(image)));
  } catch {
    return image;
  }
}

// --- flags ---------------------------------------------------------------------------------------

/** A repeatable flag shown under docker's value name ("port", "mount"): the parser treats a type it does not know as a list. */
const named = (name: string) => name as unknown as FlagType;

const D = '(ns|us|ms|s|m|h)';
const durationFlag = check(parseDurationNs);
const positiveFlag = check(positiveDuration);
const uintFlag = check(parseUint);
const floatFlag = check(parseFloat32);
const cpuFlag = check(parseCPUs);
const sizeFlag = check(ramInBytes);
const portFlag = check(parsePortOpt);
const mountFlag = check((v) => parseMount(v));
const labelFlag = check(validateLabel);
const commandFlag = check(shlexSplit);
const networkFlag = check(parseNetworkOpt);
const envFlag = check((v) => validateEnv(v, {}));

/** The flags create and update share (addServiceFlags); `update` drops the defaults docker shows only for create. */
function sharedFlags(update: boolean): FlagSpec[] {
  const def = <T>(v: T): { default?: T } => (update ? {} : { default: v });
  return [
    { name: 'detach', short: 'd', type: 'bool', usage: 'Exit immediately instead of waiting for the service to converge' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output' },
    { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
    { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: <name|uid>[:<group|gid>])' },
    { name: 'hostname', type: 'string', usage: 'Container hostname' },
    { name: 'entrypoint', type: 'string', usage: 'Overwrite the default ENTRYPOINT of the image', validate: commandFlag },
    { name: 'init', type: 'bool', usage: 'Use an init inside each service container to forward signals and reap processes' },
    { name: 'limit-cpu', type: 'string', usage: 'Limit CPUs', validate: cpuFlag },
    { name: 'limit-memory', type: 'string', usage: 'Limit Memory', validate: sizeFlag },
    { name: 'limit-pids', type: 'int', usage: 'Limit maximum number of processes (default 0 = unlimited)' },
    { name: 'reserve-cpu', type: 'string', usage: 'Reserve CPUs', validate: cpuFlag },
    { name: 'reserve-memory', type: 'string', usage: 'Reserve Memory', validate: sizeFlag },
    { name: 'stop-grace-period', type: 'string', usage: `Time to wait before force killing a container ${D}`, validate: durationFlag },
    { name: 'replicas', type: 'string', usage: 'Number of tasks', validate: uintFlag },
    { name: 'replicas-max-per-node', type: 'string', usage: 'Maximum number of tasks per node (default 0 = unlimited)', validate: uintFlag },
    { name: 'restart-condition', type: 'string', usage: `Restart when condition is met ("none", "on-failure", "any")`, ...def('any') },
    { name: 'restart-delay', type: 'string', usage: `Delay between restart attempts ${D}`, validate: durationFlag },
    { name: 'restart-max-attempts', type: 'string', usage: 'Maximum number of restarts before giving up', validate: uintFlag },
    { name: 'restart-window', type: 'string', usage: `Window used to evaluate the restart policy ${D}`, validate: durationFlag },
    { name: 'update-parallelism', type: 'string', usage: 'Maximum number of tasks updated simultaneously (0 to update all at once)', validate: uintFlag },
    { name: 'update-delay', type: 'string', usage: `Delay between updates ${D}`, validate: durationFlag },
    { name: 'update-monitor', type: 'string', usage: `Duration after each task update to monitor for failure ${D}`, validate: durationFlag },
    { name: 'update-failure-action', type: 'string', usage: 'Action on update failure ("pause", "continue", "rollback")', ...def('pause') },
    { name: 'update-max-failure-ratio', type: 'string', usage: 'Failure rate to tolerate during an update', validate: floatFlag },
    { name: 'update-order', type: 'string', usage: 'Update order ("start-first", "stop-first")', ...def('stop-first') },
    { name: 'rollback-parallelism', type: 'string', usage: 'Maximum number of tasks rolled back simultaneously (0 to roll back all at once)', validate: uintFlag },
    { name: 'rollback-delay', type: 'string', usage: `Delay between task rollbacks ${D}`, validate: durationFlag },
    { name: 'rollback-monitor', type: 'string', usage: `Duration after each task rollback to monitor for failure ${D}`, validate: durationFlag },
    { name: 'rollback-failure-action', type: 'string', usage: 'Action on rollback failure ("pause", "continue")', ...def('pause') },
    { name: 'rollback-max-failure-ratio', type: 'string', usage: 'Failure rate to tolerate during a rollback', validate: floatFlag },
    { name: 'rollback-order', type: 'string', usage: 'Rollback order ("start-first", "stop-first")', ...def('stop-first') },
    { name: 'endpoint-mode', type: 'string', usage: 'Endpoint mode (vip or dnsrr)', ...def('vip') },
    { name: 'no-resolve-image', type: 'bool', usage: 'Do not query the registry to resolve image digest and supported platforms' },
    { name: 'health-cmd', type: 'string', usage: 'Command to run to check health' },
    { name: 'health-interval', type: 'string', usage: 'Time between running the check (ms|s|m|h)', validate: positiveFlag },
    { name: 'health-timeout', type: 'string', usage: 'Maximum time to allow one check to run (ms|s|m|h)', validate: positiveFlag },
    { name: 'health-retries', type: 'int', usage: 'Consecutive failures needed to report unhealthy' },
    { name: 'health-start-period', type: 'string', usage: 'Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)', validate: positiveFlag },
    { name: 'health-start-interval', type: 'string', usage: 'Time between running the check during the start period (ms|s|m|h)', validate: positiveFlag },
    { name: 'no-healthcheck', type: 'bool', usage: 'Disable any container-specified HEALTHCHECK' },
    { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
    { name: 'read-only', type: 'bool', usage: "Mount the container's root filesystem as read only" },
    { name: 'stop-signal', type: 'string', usage: 'Signal to stop the container' },
    { name: 'log-driver', type: 'string', usage: 'Logging driver for service' },
    { name: 'log-opt', type: 'list', usage: 'Logging driver options' },
    { name: 'with-registry-auth', type: 'bool', usage: 'Send registry authentication details to swarm agents' },
  ];
}

export const createFlags: FlagSpec[] = [
  ...sharedFlags(false),
  { name: 'name', type: 'string', usage: 'Service name' },
  { name: 'mode', type: 'string', usage: 'Service mode ("replicated", "global", "replicated-job", "global-job")', default: 'replicated' },
  { name: 'label', short: 'l', type: 'list', usage: 'Service labels', validate: labelFlag },
  { name: 'container-label', type: 'list', usage: 'Container labels', validate: labelFlag },
  { name: 'env', short: 'e', type: 'list', usage: 'Set environment variables', validate: envFlag },
  { name: 'env-file', type: 'list', usage: 'Read in a file of environment variables' },
  { name: 'mount', type: named('mount'), usage: 'Attach a filesystem mount to the service', validate: mountFlag },
  { name: 'constraint', type: 'list', usage: 'Placement constraints' },
  { name: 'network', type: named('network'), usage: 'Network attachments', validate: networkFlag },
  { name: 'publish', short: 'p', type: named('port'), usage: 'Publish a port as a node port', validate: portFlag },
  { name: 'group', type: 'list', usage: 'Set one or more supplementary user groups for the container' },
  { name: 'host', type: 'list', usage: 'Set one or more custom host-to-IP mappings (host:ip)' },
  { name: 'dns', type: 'list', usage: 'Set custom DNS servers' },
  { name: 'dns-option', type: 'list', usage: 'Set DNS options' },
  { name: 'dns-search', type: 'list', usage: 'Set custom DNS search domains' },
  { name: 'cap-add', type: 'list', usage: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', usage: 'Drop Linux capabilities' },
  { name: 'sysctl', type: 'list', usage: 'Sysctl options' },
];

export const updateFlags: FlagSpec[] = [
  ...sharedFlags(true),
  { name: 'image', type: 'string', usage: 'Service image tag' },
  { name: 'args', type: 'string', usage: 'Service command args', validate: commandFlag },
  { name: 'force', type: 'bool', usage: 'Force update even if no changes require it' },
  { name: 'rollback', type: 'bool', usage: 'Rollback to previous specification' },
  { name: 'label-add', type: 'list', usage: 'Add or update a service label', validate: labelFlag },
  { name: 'label-rm', type: 'list', usage: 'Remove a label by its key' },
  { name: 'container-label-add', type: 'list', usage: 'Add or update a container label', validate: labelFlag },
  { name: 'container-label-rm', type: 'list', usage: 'Remove a container label by its key' },
  { name: 'env-add', type: 'list', usage: 'Add or update an environment variable', validate: envFlag },
  { name: 'env-rm', type: 'list', usage: 'Remove an environment variable' },
  { name: 'mount-add', type: named('mount'), usage: 'Add or update a mount on a service', validate: mountFlag },
  { name: 'mount-rm', type: 'list', usage: 'Remove a mount by its target path' },
  { name: 'constraint-add', type: 'list', usage: 'Add or update a placement constraint' },
  { name: 'constraint-rm', type: 'list', usage: 'Remove a constraint' },
  { name: 'network-add', type: named('network'), usage: 'Add a network', validate: networkFlag },
  { name: 'network-rm', type: 'list', usage: 'Remove a network' },
  { name: 'publish-add', type: named('port'), usage: 'Add or update a published port', validate: portFlag },
  { name: 'publish-rm', type: named('port'), usage: 'Remove a published port by its target port', validate: portFlag },
  { name: 'group-add', type: 'list', usage: 'Add an additional supplementary user group to the container' },
  { name: 'group-rm', type: 'list', usage: 'Remove a previously added supplementary user group from the container' },
  { name: 'host-add', type: 'list', usage: 'Add a custom host-to-IP mapping ("host:ip")' },
  { name: 'host-rm', type: 'list', usage: 'Remove a custom host-to-IP mapping ("host:ip")' },
  { name: 'cap-add', type: 'list', usage: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', usage: 'Drop Linux capabilities' },
];

// --- create ------------------------------------------------------------------------------------

const str = (f: ParsedFlags, n: string) => f.values[n] as string;
const list = (f: ParsedFlags, n: string) => (f.values[n] as string[] | undefined) ?? [];
const has = (f: ParsedFlags, ...names: string[]) => names.some((n) => f.changed.has(n));

/** The swarmkit defaults docker fills in when the first of a policy's flags is given. */
const DEFAULT_UPDATE: SwarmUpdateConfig = { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
const DEFAULT_RESTART: SwarmRestartPolicy = { Condition: 'any', Delay: 5e9, MaxAttempts: 0 };

/** Set the changed fields of an update or rollback config (prefix "update" or "rollback"). */
function applyUpdateConfig(f: ParsedFlags, prefix: 'update' | 'rollback', base: SwarmUpdateConfig): SwarmUpdateConfig {
  const c = { ...base };
  const n = (s: string) => `${prefix}-${s}`;
  if (f.changed.has(n('parallelism'))) c.Parallelism = parseUint(str(f, n('parallelism')));
  if (f.changed.has(n('delay'))) c.Delay = parseDurationNs(str(f, n('delay')));
  if (f.changed.has(n('monitor'))) c.Monitor = parseDurationNs(str(f, n('monitor')));
  if (f.changed.has(n('failure-action'))) c.FailureAction = str(f, n('failure-action'));
  if (f.changed.has(n('max-failure-ratio'))) c.MaxFailureRatio = parseFloat32(str(f, n('max-failure-ratio')));
  if (f.changed.has(n('order'))) c.Order = str(f, n('order'));
  // Go field order, Delay left out when zero (omitempty).
  const out: SwarmUpdateConfig = { Parallelism: c.Parallelism ?? 0 };
  if (c.Delay) out.Delay = c.Delay;
  Object.assign(out, { FailureAction: c.FailureAction ?? '', Monitor: c.Monitor ?? 0, MaxFailureRatio: c.MaxFailureRatio ?? 0, Order: c.Order ?? '' });
  if (!out.Monitor) delete out.Monitor;
  return out;
}

const policyChanged = (f: ParsedFlags, prefix: string) =>
  has(f, ...['parallelism', 'delay', 'monitor', 'failure-action', 'max-failure-ratio', 'order'].map((s) => `${prefix}-${s}`));

function applyRestart(f: ParsedFlags, base: SwarmRestartPolicy): SwarmRestartPolicy {
  const r = { ...base };
  if (f.changed.has('restart-condition')) r.Condition = str(f, 'restart-condition');
  if (f.changed.has('restart-delay')) r.Delay = parseDurationNs(str(f, 'restart-delay'));
  if (f.changed.has('restart-max-attempts')) r.MaxAttempts = parseUint(str(f, 'restart-max-attempts'));
  if (f.changed.has('restart-window')) r.Window = parseDurationNs(str(f, 'restart-window'));
  const out: SwarmRestartPolicy = {};
  if (r.Condition) out.Condition = r.Condition;
  if (r.Delay !== undefined) out.Delay = r.Delay;
  if (r.MaxAttempts !== undefined) out.MaxAttempts = r.MaxAttempts;
  if (r.Window !== undefined) out.Window = r.Window;
  return out;
}

/** healthCheckOptions.toHealthConfig; undefined when no health flag is given. */
export function healthConfig(f: ParsedFlags): HealthConfig | undefined {
  const set = (n: string) => f.changed.has(n);
  const have = str(f, 'health-cmd') !== '' || set('health-interval') || set('health-timeout') || (f.values['health-retries'] as number) !== 0 || set('health-start-period') || set('health-start-interval');
  if (f.values['no-healthcheck'] === true) {
    if (have) throw new SpecError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!have) return undefined;
  const h: HealthConfig = {};
  if (str(f, 'health-cmd')) h.Test = ['CMD-SHELL', str(f, 'health-cmd')];
  const d = (n: string) => (set(n) ? positiveDuration(str(f, n)) : 0);
  if (d('health-interval')) h.Interval = d('health-interval');
  if (d('health-timeout')) h.Timeout = d('health-timeout');
  if (d('health-start-period')) h.StartPeriod = d('health-start-period');
  if (d('health-start-interval')) h.StartInterval = d('health-start-interval');
  if (f.values['health-retries']) h.Retries = f.values['health-retries'] as number;
  return h;
}

/** opts.NetworkOpt for a service: "net" or "name=net,alias=a,driver-opt=k=v". */
export function networkAttachment(value: string): SwarmNetworkAttachment {
  const n = parseNetworkOpt(value);
  const a: SwarmNetworkAttachment = { Target: n.target };
  if (n.aliases.length) a.Aliases = n.aliases;
  if (n.driverOpts) a.DriverOpts = n.driverOpts;
  return a;
}

/** convertExtraHostsToSwarmHosts: "host:ip" → "ip host". */
const swarmHosts = (hosts: readonly string[]) => hosts.map((h) => {
  const i = h.indexOf(':');
  return `${h.slice(i + 1)} ${h.slice(0, i)}`;
});

/**
 * The ServiceSpec of `service create` (docker's ToService). Networks are left as
 * given: the caller resolves them to IDs (`network inspect`), as docker does.
 */
export function createSpec(f: ParsedFlags, image: string, args: readonly string[], env: Record<string, string | undefined>): ServiceSpec {
  const mode = str(f, 'mode');
  let serviceMode: ServiceSpec['Mode'];
  if (mode === 'global') {
    if (f.changed.has('replicas')) throw new SpecError('replicas can only be used with replicated or replicated-job mode');
    serviceMode = { Global: {} };
  } else if (mode === 'replicated') {
    serviceMode = { Replicated: f.changed.has('replicas') ? { Replicas: parseUint(str(f, 'replicas')) } : {} };
  } else {
    throw new SpecError(`Unknown mode: ${mode}, only replicated and global supported`);
  }
  const lookup = (k: string) => env[k];
  let envList: string[];
  try {
    envList = serviceEnv(list(f, 'env-file'), list(f, 'env').map((e) => validateEnv(e, env)), lookup);
  } catch (e) {
    throw new SpecError((e as Error).message);
  }

  // Go field order of swarm.ContainerSpec; empty optional fields left out as Go's omitempty does.
  const cs: SwarmContainerSpec = { Image: image };
  const labels = kvMap(list(f, 'container-label'));
  if (Object.keys(labels).length) cs.Labels = labels;
  if (str(f, 'entrypoint')) cs.Command = shlexSplit(str(f, 'entrypoint'));
  if (args.length) cs.Args = [...args];
  if (str(f, 'hostname')) cs.Hostname = str(f, 'hostname');
  if (envList.length) cs.Env = envList;
  if (str(f, 'workdir')) cs.Dir = str(f, 'workdir');
  if (str(f, 'user')) cs.User = str(f, 'user');
  if (list(f, 'group').length) cs.Groups = list(f, 'group');
  cs.Init = f.values['init'] === true;
  if (str(f, 'stop-signal')) cs.StopSignal = str(f, 'stop-signal');
  if (f.values['tty'] === true) cs.TTY = true;
  if (f.values['read-only'] === true) cs.ReadOnly = true;
  const mounts = list(f, 'mount').map((m) => parseMount(m));
  if (mounts.length) cs.Mounts = mounts;
  if (f.changed.has('stop-grace-period')) cs.StopGracePeriod = parseDurationNs(str(f, 'stop-grace-period'));
  const health = healthConfig(f);
  if (health) cs.Healthcheck = health;
  if (list(f, 'host').length) cs.Hosts = swarmHosts(list(f, 'host'));
  const dns: NonNullable<SwarmContainerSpec['DNSConfig']> = {};
  if (list(f, 'dns').length) dns.Nameservers = list(f, 'dns');
  if (list(f, 'dns-search').length) dns.Search = list(f, 'dns-search');
  if (list(f, 'dns-option').length) dns.Options = list(f, 'dns-option');
  cs.DNSConfig = dns;
  if (list(f, 'sysctl').length) cs.Sysctls = kvMap(list(f, 'sysctl'));
  if (list(f, 'cap-add').length) cs.CapabilityAdd = list(f, 'cap-add');
  if (list(f, 'cap-drop').length) cs.CapabilityDrop = list(f, 'cap-drop');

  const task: SwarmTaskSpec = { ContainerSpec: cs, Resources: resources(f, {}) };
  if (has(f, 'restart-condition', 'restart-delay', 'restart-max-attempts', 'restart-window')) task.RestartPolicy = applyRestart(f, DEFAULT_RESTART);
  const placement: NonNullable<SwarmTaskSpec['Placement']> = {};
  if (list(f, 'constraint').length) placement.Constraints = list(f, 'constraint');
  if (f.changed.has('replicas-max-per-node')) placement.MaxReplicas = parseUint(str(f, 'replicas-max-per-node'));
  task.Placement = placement;
  if (list(f, 'network').length) task.Networks = list(f, 'network').map(networkAttachment);
  if (str(f, 'log-driver')) task.LogDriver = { Name: str(f, 'log-driver'), Options: kvMap(list(f, 'log-opt')) };
  task.ForceUpdate = 0;

  const out: ServiceSpec = str(f, 'name') ? { Name: str(f, 'name'), Labels: kvMap(list(f, 'label')), TaskTemplate: task } : { Labels: kvMap(list(f, 'label')), TaskTemplate: task };
  out.Mode = serviceMode;
  if (policyChanged(f, 'update')) out.UpdateConfig = applyUpdateConfig(f, 'update', DEFAULT_UPDATE);
  if (policyChanged(f, 'rollback')) out.RollbackConfig = applyUpdateConfig(f, 'rollback', { ...DEFAULT_UPDATE, Parallelism: 1 });
  const ports = list(f, 'publish').flatMap(parsePortOpt);
  out.EndpointSpec = ports.length ? { Mode: str(f, 'endpoint-mode').toLowerCase(), Ports: ports } : { Mode: str(f, 'endpoint-mode').toLowerCase() };
  return out;
}

/** Limits and Reservations as docker builds them: every changed value, zero values left out. */
function resources(f: ParsedFlags, base: NonNullable<SwarmTaskSpec['Resources']>): NonNullable<SwarmTaskSpec['Resources']> {
  const limits = { ...(base.Limits ?? {}) };
  const res = { ...(base.Reservations ?? {}) };
  if (f.changed.has('limit-cpu')) limits.NanoCPUs = parseCPUs(str(f, 'limit-cpu'));
  if (f.changed.has('limit-memory')) limits.MemoryBytes = ramInBytes(str(f, 'limit-memory'));
  if (f.changed.has('limit-pids')) limits.Pids = f.values['limit-pids'] as number;
  if (f.changed.has('reserve-cpu')) res.NanoCPUs = parseCPUs(str(f, 'reserve-cpu'));
  if (f.changed.has('reserve-memory')) res.MemoryBytes = ramInBytes(str(f, 'reserve-memory'));
  const nz = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v)) as T;
  return { Limits: nz(limits), Reservations: nz(res) };
}

// --- update ------------------------------------------------------------------------------------

const envKey = (e: string) => e.split('=', 1)[0]!;

/** updateEnvironment: drop --env-rm keys, then add/replace --env-add ones (kept sorted: docker's order is a Go map's). */
function updateEnv(f: ParsedFlags, current: readonly string[] | undefined, env: Record<string, string | undefined>): string[] | undefined {
  const rm = new Set(list(f, 'env-rm').map(envKey));
  let out = (current ?? []).filter((e) => !rm.has(envKey(e)));
  if (f.changed.has('env-add')) {
    const m = new Map(out.map((e) => [envKey(e), e]));
    for (const e of list(f, 'env-add')) {
      const v = validateEnv(e, env);
      m.set(envKey(v), v);
    }
    out = [...m.values()].sort();
  }
  return out.length || current ? out : undefined;
}

/** updateLabels: remove keys, then add/replace. */
function updateLabels(f: ParsedFlags, add: string, rm: string, current: Record<string, string> | null | undefined): Record<string, string> | undefined {
  if (!has(f, add, rm)) return current ?? undefined;
  const m: Record<string, string> = { ...(current ?? {}) };
  Object.assign(m, kvMap(list(f, add)));
  for (const k of list(f, rm)) delete m[k];
  return m;
}

/** updateList: a string list with its -add and -rm flags. */
function updateList(f: ParsedFlags, add: string, rm: string, current: string[] | undefined): string[] | undefined {
  if (!has(f, add, rm)) return current;
  const removed = new Set(list(f, rm));
  const out = (current ?? []).filter((v) => !removed.has(v));
  for (const v of list(f, add)) if (!out.includes(v)) out.push(v);
  return out;
}

const portKey = (p: SwarmPortConfig) => `${p.PublishedPort ?? 0}:${p.TargetPort ?? 0}/${p.Protocol ?? ''}/${p.PublishMode ?? ''}`;

/** updatePorts: remove by target port (and protocol, mode), add new ones, sort as docker does. */
export function updatePorts(current: readonly SwarmPortConfig[], add: readonly SwarmPortConfig[], rm: readonly SwarmPortConfig[]): SwarmPortConfig[] {
  const set = new Map<string, SwarmPortConfig>();
  for (const p of current) if (!set.has(portKey(p))) set.set(portKey(p), p);
  const proto = (p: SwarmPortConfig) => p.Protocol || 'tcp';
  const pmode = (p: SwarmPortConfig) => p.PublishMode || 'ingress';
  const out = [...set.values()].filter((p) => !rm.some((r) => proto(r) === proto(p) && r.TargetPort === p.TargetPort && pmode(r) === pmode(p)));
  for (const p of add) if (!set.has(portKey(p))) out.push(p);
  return out.sort((a, b) => (portKey(a) < portKey(b) ? -1 : portKey(a) > portKey(b) ? 1 : 0));
}

/**
 * docker's updateService: change `spec` (the service's current spec, as read)
 * by the flags given. --network-add/--network-rm need the daemon (names become
 * IDs): the caller does those.
 */
export function applyUpdate(spec: ServiceSpec, f: ParsedFlags, env: Record<string, string | undefined>): void {
  const task = (spec.TaskTemplate ??= {});
  const cs = (task.ContainerSpec ??= { Image: '' });
  const setStr = (flag: string, key: keyof SwarmContainerSpec) => {
    if (f.changed.has(flag)) (cs as Record<string, unknown>)[key] = str(f, flag);
  };

  const labels = updateLabels(f, 'label-add', 'label-rm', spec.Labels);
  if (labels) spec.Labels = labels;
  const clabels = updateLabels(f, 'container-label-add', 'container-label-rm', cs.Labels);
  if (clabels) cs.Labels = clabels;
  if (f.changed.has('image')) cs.Image = taggedImage(str(f, 'image'));
  if (f.changed.has('args')) cs.Args = shlexSplit(str(f, 'args'));
  if (f.changed.has('entrypoint')) cs.Command = shlexSplit(str(f, 'entrypoint'));
  if (has(f, 'env-add', 'env-rm')) {
    const e = updateEnv(f, cs.Env, env);
    if (e) cs.Env = e;
  }
  setStr('workdir', 'Dir');
  setStr('user', 'User');
  setStr('hostname', 'Hostname');
  setStr('stop-signal', 'StopSignal');
  if (f.changed.has('init')) cs.Init = f.values['init'] === true;
  if (f.changed.has('tty')) cs.TTY = f.values['tty'] === true;
  if (f.changed.has('read-only')) cs.ReadOnly = f.values['read-only'] === true;
  if (f.changed.has('stop-grace-period')) cs.StopGracePeriod = parseDurationNs(str(f, 'stop-grace-period'));
  if (has(f, 'mount-add', 'mount-rm')) {
    const added = list(f, 'mount-add').map((m) => parseMount(m));
    const targets = new Set([...list(f, 'mount-rm'), ...added.map((m) => m.Target)]);
    cs.Mounts = [...(cs.Mounts ?? []).filter((m) => !targets.has(m.Target)), ...added];
  }
  const groups = updateList(f, 'group-add', 'group-rm', cs.Groups);
  if (groups) cs.Groups = groups;
  if (has(f, 'host-add', 'host-rm')) {
    const rm = new Set(swarmHosts(list(f, 'host-rm')));
    cs.Hosts = [...(cs.Hosts ?? []).filter((h) => !rm.has(h)), ...swarmHosts(list(f, 'host-add'))];
  }
  if (f.changed.has('cap-add')) cs.CapabilityAdd = [...new Set([...(cs.CapabilityAdd ?? []), ...list(f, 'cap-add')])];
  if (f.changed.has('cap-drop')) cs.CapabilityDrop = [...new Set([...(cs.CapabilityDrop ?? []), ...list(f, 'cap-drop')])];
  if (has(f, 'health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval', 'no-healthcheck')) {
    const h = updateHealth(f, cs.Healthcheck);
    if (h) cs.Healthcheck = h;
    else delete cs.Healthcheck;
  }

  if (has(f, 'limit-cpu', 'limit-memory', 'limit-pids', 'reserve-cpu', 'reserve-memory')) task.Resources = resources(f, task.Resources ?? {});
  if (has(f, 'restart-condition', 'restart-delay', 'restart-max-attempts', 'restart-window')) task.RestartPolicy = applyRestart(f, task.RestartPolicy ?? DEFAULT_RESTART);
  if (has(f, 'constraint-add', 'constraint-rm', 'replicas-max-per-node')) {
    const p = (task.Placement ??= {});
    const c = updateList(f, 'constraint-add', 'constraint-rm', p.Constraints);
    if (c) p.Constraints = c;
    if (f.changed.has('replicas-max-per-node')) p.MaxReplicas = parseUint(str(f, 'replicas-max-per-node'));
  }
  if (f.changed.has('log-driver')) task.LogDriver = { Name: str(f, 'log-driver'), Options: kvMap(list(f, 'log-opt')) };
  if (f.values['force'] === true) task.ForceUpdate = (task.ForceUpdate ?? 0) + 1;

  if (f.changed.has('replicas')) {
    if (!spec.Mode?.Replicated) throw new SpecError('replicas can only be used with replicated or replicated-job mode');
    spec.Mode.Replicated.Replicas = parseUint(str(f, 'replicas'));
  }
  if (policyChanged(f, 'update')) spec.UpdateConfig = applyUpdateConfig(f, 'update', spec.UpdateConfig ?? DEFAULT_UPDATE);
  if (policyChanged(f, 'rollback')) spec.RollbackConfig = applyUpdateConfig(f, 'rollback', spec.RollbackConfig ?? DEFAULT_UPDATE);
  if (has(f, 'endpoint-mode', 'publish-add', 'publish-rm')) {
    const ep = (spec.EndpointSpec ??= {});
    if (f.changed.has('endpoint-mode')) ep.Mode = str(f, 'endpoint-mode').toLowerCase();
    if (has(f, 'publish-add', 'publish-rm')) {
      ep.Ports = updatePorts(ep.Ports ?? [], list(f, 'publish-add').flatMap(parsePortOpt), list(f, 'publish-rm').flatMap(parsePortOpt));
    }
  }
}

/** updateHealthcheck: the changed fields over the current config; --no-healthcheck sets NONE. */
function updateHealth(f: ParsedFlags, current: HealthConfig | undefined): HealthConfig | undefined {
  const set = (n: string) => f.changed.has(n);
  if (f.values['no-healthcheck'] === true) {
    if (has(f, 'health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval')) {
      throw new SpecError('--no-healthcheck conflicts with --health-* options');
    }
    return { Test: ['NONE'] };
  }
  const h: HealthConfig = { ...(current ?? {}) };
  if (h.Test?.[0] === 'NONE') delete h.Test;
  if (set('health-cmd')) {
    if (str(f, 'health-cmd')) h.Test = ['CMD-SHELL', str(f, 'health-cmd')];
    else delete h.Test;
  }
  if (set('health-interval')) h.Interval = positiveDuration(str(f, 'health-interval'));
  if (set('health-timeout')) h.Timeout = positiveDuration(str(f, 'health-timeout'));
  if (set('health-start-period')) h.StartPeriod = positiveDuration(str(f, 'health-start-period'));
  if (set('health-start-interval')) h.StartInterval = positiveDuration(str(f, 'health-start-interval'));
  if (set('health-retries')) h.Retries = f.values['health-retries'] as number;
  return h;
}
