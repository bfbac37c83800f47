/**
 * Service specs: the defaults swarm gives what a client leaves out, the
 * checks that turn bad input into clear `invalid` errors before anything is
 * stored, and the comparison that says whether a task still matches its
 * service's template (a task that does not needs replacing by an update).
 *
 * Two kinds of default: `normalizeSpec` fills what swarm stores (replicated
 * mode with 1 replica, vip endpoint mode, the deprecated service-level
 * Networks moved into the template); `updateConfigOf` and `restartPolicyOf`
 * give what swarm applies at run time without storing it.
 */
import { invalid } from '../base/errdefs.js';
import { parseConstraints } from './placement.js';
import type { NetworkAttachmentConfig, RestartPolicy, ServiceSpec, TaskSpec, UpdateConfig } from './types.js';

/**
 * Service names: swarm's rule (swarmkit controlapi isValidDNSName), letters
 * and digits with '-' or '_' only between them. No '.', which would make the
 * task names `<service>.<slot>.<task>` ambiguous.
 */
const NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
const NAME_MAX = 63;

/** Swarm's UpdateConfig and RollbackConfig defaults (swarmkit api/defaults). */
export const UPDATE_DEFAULTS: Required<UpdateConfig> = {
  Parallelism: 1,
  Delay: 0,
  FailureAction: 'pause',
  Monitor: 5e9,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};

/** ns a task may take to stop after SIGTERM before SIGKILL, when its spec gives none (swarm's 10 s). */
export const DEFAULT_STOP_GRACE = 10e9;

export function updateConfigOf(spec: ServiceSpec, rollback: boolean): Required<UpdateConfig> {
  const c = (rollback ? spec.RollbackConfig : spec.UpdateConfig) ?? {};
  const out = { ...UPDATE_DEFAULTS };
  for (const k of Object.keys(out) as (keyof UpdateConfig)[]) {
    if (c[k] !== undefined && c[k] !== null) (out as Record<string, unknown>)[k] = c[k];
  }
  return out;
}

/** Condition 'any' and unbounded attempts when unset; Delay stays undefined when unset (see controller.ts: restartDelay). */
export function restartPolicyOf(t: TaskSpec): { Condition: 'none' | 'on-failure' | 'any'; Delay?: number; MaxAttempts: number; Window: number } {
  const p: RestartPolicy = t.RestartPolicy ?? {};
  return {
    Condition: p.Condition ?? 'any',
    ...(p.Delay !== undefined && p.Delay !== null ? { Delay: p.Delay } : {}),
    MaxAttempts: p.MaxAttempts ?? 0,
    Window: p.Window ?? 0,
  };
}

export function replicasOf(spec: ServiceSpec): number {
  if (spec.Mode?.Global) return 1;
  return spec.Mode?.Replicated?.Replicas ?? 1;
}

export const isGlobal = (spec: ServiceSpec): boolean => !!spec.Mode?.Global;

export function stopGraceOf(t: TaskSpec): number {
  return t.ContainerSpec?.StopGracePeriod ?? DEFAULT_STOP_GRACE;
}

/** Network IDs (or names, as given) the service's tasks attach to. */
export function networksOf(spec: ServiceSpec): NetworkAttachmentConfig[] {
  return spec.TaskTemplate?.Networks?.length ? spec.TaskTemplate.Networks : (spec.Networks ?? []);
}

/** What swarm stores for a spec: a copy with the stored defaults filled in. Validate first. */
export function normalizeSpec(input: ServiceSpec): ServiceSpec {
  const spec = structuredClone(input);
  if (!spec.Mode || (!spec.Mode.Global && !spec.Mode.Replicated)) spec.Mode = { Replicated: { Replicas: 1 } };
  if (spec.Mode.Replicated && spec.Mode.Replicated.Replicas === undefined) spec.Mode.Replicated.Replicas = 1;
  spec.EndpointSpec = { ...(spec.EndpointSpec ?? {}), Mode: spec.EndpointSpec?.Mode ?? 'vip' };
  if (spec.EndpointSpec.Ports) {
    spec.EndpointSpec.Ports = spec.EndpointSpec.Ports.map((p) => ({ ...p, Protocol: p.Protocol ?? 'tcp', PublishMode: p.PublishMode ?? 'ingress' }));
  }
  // Old clients put the networks on the service; swarm moves them into the template.
  if (spec.Networks?.length && !spec.TaskTemplate.Networks?.length) spec.TaskTemplate.Networks = spec.Networks;
  delete spec.Networks;
  return spec;
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

function checkDuration(what: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${what} must be a duration in nanoseconds, not ${JSON.stringify(v)}`);
  if (v < 0) throw invalid(`${what} cannot be negative`);
}

function checkEnum(what: string, v: unknown, allowed: readonly string[]): void {
  if (v === undefined || v === null || v === '') return;
  if (typeof v !== 'string' || !allowed.includes(v)) throw invalid(`invalid ${what} ${JSON.stringify(v)}: must be one of ${allowed.join(', ')}`);
}

export function validateName(name: unknown): void {
  if (typeof name !== 'string' || name === '') throw invalid('name must be provided');
  if (!NAME.test(name)) {
    throw invalid(`invalid name "${name}": name must be valid as a DNS name component (letters and digits, with '-' or '_' only between them)`);
  }
  if (name.length > NAME_MAX) throw invalid(`invalid name "${name}": name must be ${NAME_MAX} characters or fewer`);
}

function validateUpdateConfig(what: string, c: UpdateConfig | undefined, rollback: boolean): void {
  if (!c) return;
  if (c.Parallelism !== undefined && (!isInt(c.Parallelism) || c.Parallelism < 0)) throw invalid(`${what}: parallelism must be 0 or more, not ${JSON.stringify(c.Parallelism)}`);
  checkDuration(`${what}: delay`, c.Delay);
  checkDuration(`${what}: monitor`, c.Monitor);
  // A rollback that fails cannot roll back again.
  checkEnum(`${what} failure action`, c.FailureAction, rollback ? ['pause', 'continue'] : ['pause', 'continue', 'rollback']);
  checkEnum(`${what} order`, c.Order, ['stop-first', 'start-first']);
  if (c.MaxFailureRatio !== undefined && (typeof c.MaxFailureRatio !== 'number' || c.MaxFailureRatio < 0 || c.MaxFailureRatio > 1)) {
    throw invalid(`${what}: max failure ratio must be between 0 and 1, not ${JSON.stringify(c.MaxFailureRatio)}`);
  }
}

/** Throws `invalid` with a message naming the field for anything swarm would refuse. */
export function validateSpec(spec: ServiceSpec): void {
  if (!spec || typeof spec !== 'object') throw invalid('service spec must be an object');
  validateName(spec.Name);
  const t = spec.TaskTemplate;
  if (!t || typeof t !== 'object') throw invalid('TaskTemplate: ContainerSpec must be provided');
  checkContainerSpec(t.ContainerSpec);
  checkLabels('service labels', spec.Labels);
  const c = t.ContainerSpec;
  if (typeof c.Image !== 'string' || c.Image.trim() === '') throw invalid('ContainerSpec: image reference must be provided');
  checkDuration('ContainerSpec: stop grace period', c.StopGracePeriod);
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) checkDuration(`Healthcheck: ${k}`, c.Healthcheck?.[k]);
  if (c.Healthcheck?.Retries !== undefined && (!isInt(c.Healthcheck.Retries) || c.Healthcheck.Retries < 0)) throw invalid('Healthcheck: Retries must be 0 or more');
  for (const m of c.Mounts ?? []) {
    checkEnum('mount type', m.Type, ['bind', 'volume', 'tmpfs']);
    if (!m.Target || !m.Target.startsWith('/')) throw invalid(`invalid mount target ${JSON.stringify(m.Target ?? '')}: must be an absolute path`);
    if (m.Type === 'bind' && !m.Source) throw invalid(`invalid bind mount for ${m.Target}: source must be provided`);
  }
  const r = t.RestartPolicy;
  if (r) {
    checkEnum('restart condition', r.Condition, ['none', 'on-failure', 'any']);
    checkDuration('RestartPolicy: restart-delay', r.Delay);
    checkDuration('RestartPolicy: restart-window', r.Window);
    if (r.MaxAttempts !== undefined && r.MaxAttempts !== null && (!isInt(r.MaxAttempts) || r.MaxAttempts < 0)) {
      throw invalid(`RestartPolicy: max-attempts must be 0 or more, not ${JSON.stringify(r.MaxAttempts)}`);
    }
  }
  const lim = t.Resources?.Limits;
  const res = t.Resources?.Reservations;
  for (const [k, v] of Object.entries({ 'limit-cpu': lim?.NanoCPUs, 'limit-memory': lim?.MemoryBytes, 'limit-pids': lim?.Pids, 'reserve-cpu': res?.NanoCPUs, 'reserve-memory': res?.MemoryBytes })) {
    if (v !== undefined && v !== null && (typeof v !== 'number' || v < 0)) throw invalid(`Resources: ${k} cannot be negative`);
  }
  if (t.Placement?.Constraints !== undefined && t.Placement.Constraints !== null && !Array.isArray(t.Placement.Constraints)) throw invalid('Placement: Constraints must be a list such as ["node.role==manager"]');
  parseConstraints(t.Placement?.Constraints ?? []);
  const mode = spec.Mode;
  if (mode?.Global && mode?.Replicated) throw invalid('a service is either replicated or global, not both');
  const replicas = mode?.Replicated?.Replicas;
  if (replicas !== undefined && replicas !== null) {
    if (!isInt(replicas) || replicas < 0) throw invalid(`invalid replicas value ${JSON.stringify(replicas)}: replicas must be a non-negative integer`);
  }
  validateUpdateConfig('UpdateConfig', spec.UpdateConfig, false);
  validateUpdateConfig('RollbackConfig', spec.RollbackConfig, true);
  const ep = spec.EndpointSpec;
  if (ep) {
    checkEnum('endpoint mode', ep.Mode, ['vip', 'dnsrr']);
    const published = new Set<string>();
    for (const p of ep.Ports ?? []) {
      checkEnum('port protocol', p.Protocol, ['tcp', 'udp', 'sctp']);
      checkEnum('port publish mode', p.PublishMode, ['ingress', 'host']);
      if (!isInt(p.TargetPort) || p.TargetPort < 1 || p.TargetPort > 65535) throw invalid(`invalid target port ${JSON.stringify(p.TargetPort)}: must be between 1 and 65535`);
      if (p.PublishedPort !== undefined && p.PublishedPort !== null && (!isInt(p.PublishedPort) || p.PublishedPort < 0 || p.PublishedPort > 65535)) {
        throw invalid(`invalid published port ${JSON.stringify(p.PublishedPort)}: must be between 1 and 65535 (0 picks a free one)`);
      }
      const ingress = (p.PublishMode ?? 'ingress') === 'ingress';
      if (ingress && ep.Mode === 'dnsrr' && p.PublishedPort) throw invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
      if (p.PublishedPort) {
        const key = `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`;
        if (published.has(key)) throw invalid(`EndpointSpec: duplicate published ports provided (${key})`);
        published.add(key);
      }
    }
  }
  for (const n of [...(t.Networks ?? []), ...(spec.Networks ?? [])]) {
    if (!n || typeof n.Target !== 'string' || !n.Target) throw invalid('network attachment: Target (a network name or ID) must be provided');
  }
}

/**
 * JSON with sorted keys and without what means "unset" (undefined, null,
 * zero values, empty objects and arrays: Go clients send `ForceUpdate: 0` and
 * `ReadOnly: false` where others send nothing), so a spec read back and sent
 * again compares equal to the one stored.
 */
function canonical(v: unknown): unknown {
  if (v === null || v === undefined || v === 0 || v === false || v === '') return undefined;
  if (Array.isArray(v)) {
    const a = v.map(canonical);
    return a.length ? a : undefined;
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const c = canonical((v as Record<string, unknown>)[k]);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

/** True when a task made from `a` must be replaced to match `b` (ForceUpdate counts too). */
export function taskSpecsDiffer(a: TaskSpec | undefined, b: TaskSpec | undefined): boolean {
  return JSON.stringify(canonical(a) ?? null) !== JSON.stringify(canonical(b) ?? null);
}

/** The fields of a ContainerSpec the executor maps, checked for their JSON types (the controller checks their values). */
export function checkContainerSpec(cs: unknown): void {
  if (!cs || typeof cs !== 'object' || Array.isArray(cs)) throw invalid('TaskTemplate: ContainerSpec must be provided');
  const c = cs as Record<string, unknown>;
  const strList = (k: string) => {
    const v = c[k];
    if (v !== undefined && v !== null && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) throw invalid(`ContainerSpec.${k} must be a list of strings`);
  };
  for (const k of ['Command', 'Args', 'Env', 'Groups', 'Hosts', 'CapabilityAdd', 'CapabilityDrop']) strList(k);
  for (const k of ['Image', 'Hostname', 'Dir', 'User', 'StopSignal'])
    if (c[k] !== undefined && c[k] !== null && typeof c[k] !== 'string') throw invalid(`ContainerSpec.${k} must be a string`);
  checkLabels('ContainerSpec.Labels', c.Labels);
  checkLabels('ContainerSpec.Sysctls', c.Sysctls);
  for (const k of ['Mounts', 'Ulimits'])
    if (c[k] !== undefined && c[k] !== null && (!Array.isArray(c[k]) || (c[k] as unknown[]).some((x) => !x || typeof x !== 'object'))) throw invalid(`ContainerSpec.${k} must be a list of objects`);
  for (const k of ['DNSConfig', 'Healthcheck'])
    if (c[k] !== undefined && c[k] !== null && (typeof c[k] !== 'object' || Array.isArray(c[k]))) throw invalid(`ContainerSpec.${k} must be a JSON object`);
}

/** Labels (or sysctls): a JSON object of strings. */
export function checkLabels(what: string, l: unknown): void {
  if (l === undefined || l === null) return;
  if (typeof l !== 'object' || Array.isArray(l) || Object.values(l).some((v) => typeof v !== 'string')) throw invalid(`${what} must be an object of string values`);
}
