/**
 * Placement: whether a task may be scheduled on a node, as swarm's scheduler
 * decides it, with swarm's words for why not (`docker service ps` shows them
 * as the task's error: "no suitable node (1 node not available for new
 * tasks)").
 *
 * Three filters apply, in swarm's order of meaning:
 *   - ready: the node is ready and its availability is active (pause and
 *     drain take no new tasks; drain also shuts down what runs there, which
 *     is the controller's part);
 *   - constraints: `--constraint 'node.labels.zone==a'`, `node.role!=worker`…
 *     (keys node.id, node.hostname, node.ip (an address or a CIDR),
 *     node.role, node.platform.os, node.platform.arch, node.labels.<k>,
 *     engine.labels.<k>; operators == and !=; values compared ignoring case,
 *     label names not);
 *   - platform: Placement.Platforms (the docker CLI fills them in from the
 *     image's manifest), x86_64 counted as amd64.
 *
 *   parseConstraints(['node.role == manager']);           // throws `invalid` on bad syntax
 *   unschedulableReason(task.Spec, node);                 // undefined, or "1 node not available for new tasks"
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { invalid } from '../base/errdefs.js';
import type { Node, TaskSpec } from './types.js';

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

const KEY = /^[a-z_][a-z0-9\-_.]+$/i;
// Values may not hold other (current or future) operators such as <, > or ~.
const VALUE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;

/** Swarm's constraint syntax, "key op value" each; errors as swarm words them. */
export function parseConstraints(list: readonly string[] | undefined): Constraint[] {
  const out: Constraint[] = [];
  for (const expr of list ?? []) {
    if (typeof expr !== 'string') throw invalid('placement constraints must be strings such as "node.role==manager"');
    const op = (['==', '!='] as const).find((o) => expr.includes(o));
    if (!op) throw invalid(`constraint expected one operator from ==, !=: ${JSON.stringify(expr)}`);
    const at = expr.indexOf(op);
    const key = expr.slice(0, at).trim();
    const value = expr.slice(at + op.length).trim();
    if (!KEY.test(key)) throw invalid(`constraint key '${key}' is invalid: use node.id, node.hostname, node.ip, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>`);
    if (!VALUE.test(value)) throw invalid(`constraint value '${value}' is invalid`);
    out.push({ key, op, value });
  }
  return out;
}

const eqFold = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function holds(c: Constraint, actual: string): boolean {
  return eqFold(c.value, actual) === (c.op === '==');
}

/** Whether the node's address is (or is in) the constraint's address or CIDR; a malformed one matches nothing. */
function ipHolds(c: Constraint, addr: string): boolean {
  let within: boolean;
  try {
    const node = ipaddr.process(addr);
    if (isIP(c.value)) within = ipaddr.process(c.value).toString() === node.toString();
    else {
      const [net, bits] = ipaddr.parseCIDR(c.value);
      within = node.kind() === net.kind() && node.match(net, bits);
    }
  } catch {
    return false;
  }
  return within === (c.op === '==');
}

const LABEL_PREFIXES = [
  ['node.labels.', (n: Node) => n.Spec.Labels ?? {}],
  ['engine.labels.', (n: Node) => n.Description?.Engine?.Labels ?? {}],
] as const;

/** Whether the node satisfies every constraint (an unknown key satisfies none, as in swarm). */
export function nodeMatches(constraints: readonly Constraint[], n: Node): boolean {
  return constraints.every((c) => {
    const k = c.key.toLowerCase();
    if (k === 'node.id') return holds(c, n.ID);
    if (k === 'node.hostname') return holds(c, n.Description?.Hostname ?? '');
    if (k === 'node.ip') return ipHolds(c, n.Status?.Addr ?? '');
    if (k === 'node.role') return holds(c, n.Spec.Role);
    if (k === 'node.platform.os') return holds(c, n.Description?.Platform?.OS ?? '');
    if (k === 'node.platform.arch') return holds(c, n.Description?.Platform?.Architecture ?? '');
    for (const [prefix, labels] of LABEL_PREFIXES) {
      // The prefix ignores case; the label's own name does not.
      if (k.length > prefix.length && k.startsWith(prefix)) return holds(c, labels(n)[c.key.slice(prefix.length)] ?? '');
    }
    return false;
  });
}

const arch = (a: string) => (a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a);

function platformOk(t: TaskSpec, n: Node): boolean {
  const wanted = (t.Placement?.Platforms ?? []) as { OS?: string; Architecture?: string }[];
  if (!wanted.length) return true;
  const p = n.Description?.Platform;
  if (!p) return false;
  return wanted.some((w) => (!w.Architecture || arch(w.Architecture) === arch(p.Architecture)) && (!w.OS || w.OS === p.OS));
}

/**
 * Why the task cannot be scheduled on the node (swarm's explanation for one
 * node), or undefined when it can.
 */
export function unschedulableReason(t: TaskSpec, n: Node): string | undefined {
  if (n.Status?.State !== 'ready' || n.Spec.Availability !== 'active') return '1 node not available for new tasks';
  let constraints: Constraint[];
  try {
    constraints = parseConstraints(t.Placement?.Constraints);
  } catch {
    constraints = []; // checked when the service was stored; swarm ignores what does not parse here
  }
  if (!nodeMatches(constraints, n)) return 'scheduling constraints not satisfied on 1 node';
  if (!platformOk(t, n)) return 'unsupported platform on 1 node';
  return undefined;
}

/** Whether a task already on the node must leave it: the node drains, or no longer meets the task's constraints. */
export function mustLeave(t: TaskSpec, n: Node): boolean {
  if (n.Spec.Availability === 'drain') return true;
  let constraints: Constraint[];
  try {
    constraints = parseConstraints(t.Placement?.Constraints);
  } catch {
    return false;
  }
  return !nodeMatches(constraints, n);
}
