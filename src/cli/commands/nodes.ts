// Node commands: node ls, inspect, update, rm, ps, as docker 28's
// cli/command/node does them. "self" names the node of the daemon we talk to
// (GET /info's Swarm.NodeID).

import type { Client } from '../../client/client.js';
import type { SwarmNode } from '../../client/types.js';
import { formatHelp, StatusError, type CommandDef, type Ctx } from '../command.js';
import { toFilters, validateFilter, type ParsedFlags } from '../flags.js';
import { formatRows } from '../formatter.js';
import { bytesSize } from '../units.js';
import { validateLabel, kvMap } from './container-opts.js';
import { goTimeString } from './networks.js';
import { configFormat, natural, prettyPrint, printTasks, psFlags, runSwarmInspect } from './services.js';
import { errText } from '../../client/errors.js';
import { check } from '../flags.js';
import { selfNodeID } from './swarm.js';

/** node.Reference: "self" → this daemon's node ID. */
async function reference(client: Client, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const id = await selfNodeID(client);
  if (!id) throw new StatusError(1, 'node ID not found in /info');
  return id;
}

// --- ls -----------------------------------------------------------------------------------------

export const nodeHeaders: Record<string, string> = {
  ID: 'ID', Self: '', Hostname: 'HOSTNAME', Status: 'STATUS', Availability: 'AVAILABILITY', ManagerStatus: 'MANAGER STATUS',
  EngineVersion: 'ENGINE VERSION', TLSStatus: 'TLS STATUS',
};

export interface NodeRow {
  Availability: string;
  EngineVersion: string;
  Hostname: string;
  ID: string;
  ManagerStatus: string;
  Self: boolean;
  Status: string;
  TLSStatus: string;
}

type ClusterTLS = { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string } | undefined;

const sameTLS = (a: ClusterTLS, b: ClusterTLS) =>
  (a?.TrustRoot ?? '') === (b?.TrustRoot ?? '') && (a?.CertIssuerSubject ?? '') === (b?.CertIssuerSubject ?? '') && (a?.CertIssuerPublicKey ?? '') === (b?.CertIssuerPublicKey ?? '');

/** docker's nodeContext rows, sorted by hostname. */
export function nodeRows(nodes: readonly SwarmNode[], self: string, clusterTLS?: ClusterTLS): NodeRow[] {
  const sorted = [...nodes].sort((a, b) => natural(a.Description?.Hostname ?? '', b.Description?.Hostname ?? ''));
  return sorted.map((n) => {
    const ms = n.ManagerStatus;
    const tls = n.Description?.TLSInfo;
    const empty = (t: ClusterTLS) => sameTLS(t, undefined);
    return {
      Availability: prettyPrint(n.Spec.Availability),
      EngineVersion: n.Description?.Engine?.EngineVersion ?? '',
      Hostname: n.Description?.Hostname ?? '',
      ID: n.ID,
      ManagerStatus: prettyPrint(ms ? (ms.Leader ? 'Leader' : ms.Reachability ?? '') : ''),
      Self: n.ID === self,
      Status: prettyPrint(n.Status?.State),
      TLSStatus: !clusterTLS || empty(clusterTLS) || empty(tls) ? 'Unknown' : sameTLS(tls, clusterTLS) ? 'Ready' : 'Needs Rotation',
    };
  });
}

export function nodeFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : 'table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}';
  if (source === 'raw') return quiet ? 'node_id: {{.ID}}' : 'node_id: {{.ID}}\nhostname: {{.Hostname}}\nstatus: {{.Status}}\navailability: {{.Availability}}\nmanager_status: {{.ManagerStatus}}\n';
  return source;
}

async function runLs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const quiet = f.values['quiet'] === true;
  const client = ctx.client();
  const nodes = await client.nodeList(toFilters(f.values['filter'] as string[]));
  let self = '';
  let tls: ClusterTLS;
  if (nodes.length && !quiet) {
    const info = (await client.info()) as { Swarm?: { NodeID?: string; Cluster?: { TLSInfo?: ClusterTLS } } };
    self = info.Swarm?.NodeID ?? '';
    tls = info.Swarm?.Cluster?.TLSInfo;
  }
  let format = f.values['format'] as string;
  if (!format) format = (!quiet && configFormat(ctx.io.env, 'nodesFormat')) || 'table';
  ctx.out(formatRows(nodeFormat(format, quiet), nodeRows(nodes, self, tls), nodeHeaders, { typeName: '*node.nodeContext', marshalJSON: true }));
  return 0;
}

// --- inspect ------------------------------------------------------------------------------------

const labelLines = (m: Record<string, string> | null | undefined) =>
  Object.keys(m ?? {}).sort().map((k) => `\n - ${k}${m![k] ? `=${m![k]}` : ''}`).join('');

/** docker's nodeInspectPrettyTemplate for one node. */
export function prettyNode(n: SwarmNode): string {
  const d = n.Description ?? {};
  let o = `ID:\t\t\t${n.ID}`;
  if (n.Spec.Name) o += `\nName:\t\t\t${n.Spec.Name}`;
  if (Object.keys(n.Spec.Labels ?? {}).length) o += `\nLabels:${labelLines(n.Spec.Labels)}`;
  o += `\nHostname:              \t${d.Hostname ?? ''}`;
  o += `\nJoined at:             \t${goTimeString(n.CreatedAt).toLowerCase()}`;
  o += `\nStatus:\n State:\t\t\t${prettyPrint(n.Status?.State)}`;
  if (n.Status?.Message) o += `\n Message:              \t${prettyPrint(n.Status.Message)}`;
  o += `\n Availability:         \t${prettyPrint(n.Spec.Availability)}`;
  if (n.Status?.Addr) o += `\n Address:\t\t${n.Status.Addr}`;
  if (n.ManagerStatus) {
    o += `\nManager Status:\n Address:\t\t${n.ManagerStatus.Addr ?? ''}\n Raft Status:\t\t${prettyPrint(n.ManagerStatus.Reachability)}`;
    o += `\n Leader:\t\t${n.ManagerStatus.Leader ? 'Yes' : 'No'}`;
  }
  o += `\nPlatform:\n Operating System:\t${d.Platform?.OS ?? ''}\n Architecture:\t\t${d.Platform?.Architecture ?? ''}`;
  o += `\nResources:\n CPUs:\t\t\t${(d.Resources?.NanoCPUs ?? 0) / 1e9}\n Memory:\t\t${bytesSize(d.Resources?.MemoryBytes ?? 0)}`;
  const plugins = new Map<string, string[]>();
  for (const p of d.Engine?.Plugins ?? []) plugins.set(p.Type, [...(plugins.get(p.Type) ?? []), p.Name]);
  if (plugins.size) {
    o += '\nPlugins:';
    for (const k of [...plugins.keys()].sort()) o += `\n ${k}:\t\t${plugins.get(k)!.sort().join(', ')}`;
  }
  o += `\nEngine Version:\t\t${d.Engine?.EngineVersion ?? ''}`;
  if (Object.keys(d.Engine?.Labels ?? {}).length) o += `\nEngine Labels:${labelLines(d.Engine?.Labels)}`;
  if (d.TLSInfo?.TrustRoot) {
    o += `\nTLS Info:\n TrustRoot:\n${d.TLSInfo.TrustRoot}\n Issuer Subject:\t${d.TLSInfo.CertIssuerSubject ?? ''}\n Issuer Public Key:\t${d.TLSInfo.CertIssuerPublicKey ?? ''}`;
  }
  return o;
}

function runInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  return runSwarmInspect(
    ctx, f,
    async (ref) => {
      const client = ctx.client();
      return client.nodeInspectRaw(await reference(client, ref));
    },
    (_ref, e) => errText(e),
    (raws) => raws.map((r) => prettyNode(JSON.parse(r) as SwarmNode) + '\n').join('\n'),
  );
}

// --- update, rm, ps -----------------------------------------------------------------------------

async function runUpdate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const ref = f.args[0]!;
  const client = ctx.client();
  const node = await client.nodeInspect(ref);
  const spec = node.Spec;
  const v = f.values;
  if (f.changed.has('role')) spec.Role = (v['role'] as string).toLowerCase();
  if (f.changed.has('availability')) spec.Availability = (v['availability'] as string).toLowerCase();
  if (f.changed.has('label-add')) spec.Labels = { ...(spec.Labels ?? {}), ...kvMap(v['label-add'] as string[]) };
  if (f.changed.has('label-rm')) {
    for (const k of v['label-rm'] as string[]) {
      if (!spec.Labels || !(k in spec.Labels)) throw new StatusError(1, `key ${k} doesn't exist in node's labels`);
      delete spec.Labels[k];
    }
  }
  await client.nodeUpdate(node.ID, node.Version.Index, spec);
  ctx.out(`${ref}\n`);
  return 0;
}

/** promote/demote: set each node's role, unless it has it already (docker's updateNodes with a role). */
function roleChange(role: 'manager' | 'worker') {
  return async (ctx: Ctx, f: ParsedFlags): Promise<number> => {
    const client = ctx.client();
    const errs: string[] = [];
    for (const ref of f.args) {
      try {
        const node = await client.nodeInspect(ref);
        if (node.Spec.Role === role) {
          ctx.out(role === 'manager' ? `Node ${node.ID} is already a manager.\n` : `Node ${node.ID} is already a worker.\n`);
          continue;
        }
        node.Spec.Role = role;
        await client.nodeUpdate(node.ID, node.Version.Index, node.Spec);
        ctx.out(role === 'manager' ? `Node ${ref} promoted to a manager in the swarm.\n` : `Manager ${ref} demoted in the swarm.\n`);
      } catch (e) {
        errs.push(errText(e));
      }
    }
    if (errs.length) throw new StatusError(1, errs.join('\n'));
    return 0;
  };
}

async function runRm(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const errs: string[] = [];
  for (const ref of f.args) {
    try {
      await client.nodeRemove(ref, f.values['force'] === true);
      ctx.out(`${ref}\n`);
    } catch (e) {
      errs.push(errText(e));
    }
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

async function runPs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const refs = f.args.length ? f.args : ['self'];
  const tasks = [];
  const errs: string[] = [];
  for (const ref of refs) {
    try {
      const node = await client.nodeInspect(await reference(client, ref));
      const filters = toFilters(f.values['filter'] as string[]);
      filters['node'] = { ...(filters['node'] ?? {}), [node.ID]: true };
      tasks.push(...(await client.taskList(filters)));
    } catch (e) {
      errs.push(errText(e));
    }
  }
  if (tasks.length || !errs.length) await printTasks(ctx, f, tasks);
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

// --- definitions --------------------------------------------------------------------------------

export const commands: Record<string, CommandDef> = {
  ls: {
    use: 'ls [OPTIONS]',
    flags: [
      { name: 'filter', short: 'f', type: 'filter', usage: 'Filter output based on conditions provided', validate: validateFilter },
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' },
    ],
    run: runLs,
  },
  inspect: {
    use: 'inspect [OPTIONS] self|NODE [NODE...]',
    flags: [
      { name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect },
      { name: 'pretty', type: 'bool', usage: 'Print the information in a human friendly format' },
    ],
    args: { min: 1 },
    run: runInspect,
  },
  update: {
    use: 'update [OPTIONS] NODE',
    flags: [
      { name: 'availability', type: 'string', usage: 'Availability of the node ("active", "pause", "drain")' },
      { name: 'label-add', type: 'list', usage: 'Add or update a node label ("key=value")', validate: check(validateLabel) },
      { name: 'label-rm', type: 'list', usage: 'Remove a node label if exists' },
      { name: 'role', type: 'string', usage: 'Role of the node ("worker", "manager")' },
    ],
    args: { exact: 1 },
    run: runUpdate,
  },
  rm: {
    use: 'rm [OPTIONS] NODE [NODE...]',
    flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force remove a node from the swarm' }],
    args: { min: 1 },
    run: runRm,
  },
  ps: { use: 'ps [OPTIONS] [NODE...]', flags: psFlags, args: { min: 0 }, run: runPs },
  promote: { use: 'promote NODE [NODE...]', flags: [], args: { min: 1 }, run: roleChange('manager') },
  demote: { use: 'demote NODE [NODE...]', flags: [], args: { min: 1 }, run: roleChange('worker') },
};
