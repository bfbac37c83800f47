// Swarm commands: swarm init, inspect, update, leave, join-token, unlock-key, as
// docker 28's cli/command/swarm does them (with "pier" where docker names
// itself in the commands it tells you to run). `swarm inspect` is Pier's: it
// prints GET /swarm the way `docker inspect` prints any object.

import type { Client } from '../../client/client.js';
import type { SwarmInitRequest, SwarmSpec } from '../../client/types.js';
import { formatHelp, StatusError, type CommandDef, type Ctx } from '../command.js';
import { check, type FlagSpec, type ParsedFlags } from '../flags.js';
import { parseTemplate, writeInspect, writeInspectJson } from '../formatter.js';
import { parseDurationNs } from './container-opts.js';
import { parseUint } from './services-opts.js';

const P = 'pier';

/** The node ID of the daemon we talk to (GET /info's Swarm.NodeID). */
export async function selfNodeID(client: Client): Promise<string> {
  const info = (await client.info()) as { Swarm?: { NodeID?: string } };
  return info.Swarm?.NodeID ?? '';
}

/** printJoinCommand: the `swarm join` line for workers and/or managers, at the node's manager address. */
async function printJoinCommand(ctx: Ctx, nodeID: string, worker: boolean, manager: boolean): Promise<void> {
  const client = ctx.client();
  const node = await client.nodeInspect(nodeID);
  const sw = await client.swarmInspect();
  const addr = node.ManagerStatus?.Addr;
  if (!node.ManagerStatus) return;
  if (worker) ctx.out(`To add a worker to this swarm, run the following command:\n\n    ${P} swarm join --token ${sw.JoinTokens.Worker} ${addr}\n\n`);
  if (manager) ctx.out(`To add a manager to this swarm, run the following command:\n\n    ${P} swarm join --token ${sw.JoinTokens.Manager} ${addr}\n\n`);
}

function printUnlockCommand(ctx: Ctx, key: string): void {
  if (!key) return;
  ctx.out(`To unlock a swarm manager after it restarts, run the \`${P} swarm unlock\`\ncommand and provide the following key:\n\n    ${key}\n\n` +
    'Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n');
}

// --- the spec flags init and update share -------------------------------------------------------

function specFlags(): FlagSpec[] {
  return [
    { name: 'task-history-limit', type: 'int', usage: 'Task history retention limit', default: 5 },
    { name: 'dispatcher-heartbeat', type: 'string', usage: 'Dispatcher heartbeat period (ns|us|ms|s|m|h)', validate: check(parseDurationNs) },
    { name: 'cert-expiry', type: 'string', usage: 'Validity period for node certificates (ns|us|ms|s|m|h)', validate: check(parseDurationNs) },
    { name: 'snapshot-interval', type: 'string', usage: 'Number of log entries between Raft snapshots', validate: check(parseUint) },
    { name: 'max-snapshots', type: 'string', usage: 'Number of additional Raft snapshots to retain', validate: check(parseUint) },
    { name: 'autolock', type: 'bool', usage: 'Enable manager autolocking (requiring an unlock key to start a stopped manager)' },
  ];
}

/** swarmOptions.mergeSwarmSpec: the changed flags into `spec`. */
export function mergeSwarmSpec(spec: SwarmSpec, f: ParsedFlags): void {
  const c = (n: string) => f.changed.has(n);
  if (c('task-history-limit')) (spec.Orchestration ??= {}).TaskHistoryRetentionLimit = f.values['task-history-limit'] as number;
  if (c('dispatcher-heartbeat')) (spec.Dispatcher ??= {}).HeartbeatPeriod = parseDurationNs(f.values['dispatcher-heartbeat'] as string);
  if (c('cert-expiry')) (spec.CAConfig ??= {}).NodeCertExpiry = parseDurationNs(f.values['cert-expiry'] as string);
  if (c('snapshot-interval')) (spec.Raft ??= {}).SnapshotInterval = parseUint(f.values['snapshot-interval'] as string);
  if (c('max-snapshots')) (spec.Raft ??= {}).KeepOldSnapshots = parseUint(f.values['max-snapshots'] as string);
  if (c('autolock')) (spec.EncryptionConfig ??= {}).AutoLockManagers = f.values['autolock'] === true;
}

// --- init ---------------------------------------------------------------------------------------

/** The body of POST /swarm/init for the flags given (docker's runInit). */
export function initRequest(f: ParsedFlags): SwarmInitRequest {
  const v = f.values;
  const spec: SwarmSpec = {
    Labels: null, Orchestration: {}, Raft: { ElectionTick: 0, HeartbeatTick: 0 }, Dispatcher: {}, CAConfig: {}, TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  };
  mergeSwarmSpec(spec, f);
  const availability = f.changed.has('availability') ? (v['availability'] as string).toLowerCase() : '';
  if (availability && !['active', 'pause', 'drain'].includes(availability)) throw new Error(`invalid availability "${v['availability']}", only active, pause and drain are supported`);
  const pool = (v['default-addr-pool'] as string[]).flatMap((p) => p.split(',')).filter((p) => p !== '');
  return {
    ListenAddr: (v['listen-addr'] as string) || '0.0.0.0:2377',
    AdvertiseAddr: v['advertise-addr'] as string,
    DataPathAddr: v['data-path-addr'] as string,
    DataPathPort: f.changed.has('data-path-port') ? Number(v['data-path-port']) : 0,
    ForceNewCluster: v['force-new-cluster'] === true,
    Spec: spec,
    AutoLockManagers: v['autolock'] === true,
    Availability: availability,
    DefaultAddrPool: pool,
    SubnetSize: f.changed.has('default-addr-pool-mask-length') ? Number(v['default-addr-pool-mask-length']) : 24,
  };
}

async function runInit(ctx: Ctx, f: ParsedFlags): Promise<number> {
  let body: SwarmInitRequest;
  try {
    body = initRequest(f);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  const client = ctx.client();
  const nodeID = await client.swarmInit(body);
  ctx.out(`Swarm initialized: current node (${nodeID}) is now a manager.\n\n`);
  await printJoinCommand(ctx, nodeID, true, false);
  ctx.out(`To add a manager to this swarm, run '${P} swarm join-token manager' and follow the instructions.\n`);
  if (body.AutoLockManagers) {
    const key = await client.swarmUnlockKey();
    printUnlockCommand(ctx, key.UnlockKey);
  }
  return 0;
}

// --- inspect, update, leave ---------------------------------------------------------------------

async function runInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const format = f.values['format'] as string;
  const raw = (await ctx.client().text('GET', '/swarm')).trim();
  if (format === 'json') writeInspectJson(ctx.out, [raw], []);
  else writeInspect(ctx.out, format ? parseTemplate(format) : undefined, [raw], []);
  return 0;
}

async function runUpdate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  const sw = await client.swarmInspect();
  const before = sw.Spec.EncryptionConfig?.AutoLockManagers === true;
  try {
    mergeSwarmSpec(sw.Spec, f);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  await client.swarmUpdate(sw.Version.Index, sw.Spec);
  ctx.out('Swarm updated.\n');
  const after = sw.Spec.EncryptionConfig?.AutoLockManagers === true;
  if (after && !before) printUnlockCommand(ctx, (await client.swarmUnlockKey()).UnlockKey);
  return 0;
}

async function runLeave(ctx: Ctx, f: ParsedFlags): Promise<number> {
  await ctx.client().swarmLeave(f.values['force'] === true);
  ctx.out('Node left the swarm.\n');
  return 0;
}

// --- join-token, unlock-key ---------------------------------------------------------------------

async function runJoinToken(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const role = f.args[0]!;
  const worker = role === 'worker';
  const manager = role === 'manager';
  if (!worker && !manager) throw new StatusError(1, `unknown role ${role}`);
  const client = ctx.client();
  if (f.values['rotate'] === true) {
    const sw = await client.swarmInspect();
    await client.swarmUpdate(sw.Version.Index, sw.Spec, { rotateWorkerToken: worker, rotateManagerToken: manager });
    if (f.values['quiet'] !== true) ctx.out(`Successfully rotated ${role} join token.\n\n`);
  }
  const sw = await client.swarmInspect();
  if (f.values['quiet'] === true) {
    ctx.out(`${worker ? sw.JoinTokens.Worker : sw.JoinTokens.Manager}\n`);
    return 0;
  }
  const self = await selfNodeID(client);
  await printJoinCommand(ctx, self, worker, manager);
  return 0;
}

async function runUnlockKey(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const client = ctx.client();
  if (f.values['rotate'] === true) {
    const sw = await client.swarmInspect();
    if (sw.Spec.EncryptionConfig?.AutoLockManagers !== true) throw new StatusError(1, 'cannot rotate because autolock is not turned on');
    await client.swarmUpdate(sw.Version.Index, sw.Spec, { rotateManagerUnlockKey: true });
    if (f.values['quiet'] !== true) ctx.out('Successfully rotated manager unlock key.\n\n');
  }
  const key = (await client.swarmUnlockKey()).UnlockKey;
  if (!key) throw new StatusError(1, 'no unlock key is set');
  if (f.values['quiet'] === true) {
    ctx.out(`${key}\n`);
    return 0;
  }
  printUnlockCommand(ctx, key);
  return 0;
}

// --- definitions --------------------------------------------------------------------------------

export const commands: Record<string, CommandDef> = {
  init: {
    use: 'init [OPTIONS]',
    flags: [
      { name: 'advertise-addr', type: 'string', usage: 'Advertised address (format: "<ip|interface>[:port]")' },
      { name: 'availability', type: 'string', usage: 'Availability of the node ("active", "pause", "drain")', default: 'active' },
      { name: 'data-path-addr', type: 'string', usage: 'Address or interface to use for data path traffic (format: "<ip|interface>")' },
      { name: 'data-path-port', type: 'int', usage: 'Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.' },
      { name: 'default-addr-pool', type: 'list', usage: 'default address pool in CIDR format' },
      { name: 'default-addr-pool-mask-length', type: 'int', usage: 'default address pool subnet mask length', default: 24 },
      { name: 'force-new-cluster', type: 'bool', usage: 'Force create a new cluster from current state' },
      { name: 'listen-addr', type: 'string', usage: 'Listen address (format: "<ip|interface>[:port]")', default: '0.0.0.0:2377' },
      ...specFlags(),
    ],
    run: runInit,
  },
  inspect: {
    use: 'inspect [OPTIONS]',
    flags: [{ name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect }],
    run: runInspect,
  },
  update: { use: 'update [OPTIONS]', flags: specFlags(), run: runUpdate },
  leave: {
    use: 'leave [OPTIONS]',
    flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force this node to leave the swarm, ignoring warnings' }],
    run: runLeave,
  },
  'join-token': {
    use: 'join-token [OPTIONS] (worker|manager)',
    flags: [
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display token' },
      { name: 'rotate', type: 'bool', usage: 'Rotate join token' },
    ],
    args: { exact: 1 },
    run: runJoinToken,
  },
  'unlock-key': {
    use: 'unlock-key [OPTIONS]',
    flags: [
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display token' },
      { name: 'rotate', type: 'bool', usage: 'Rotate unlock key' },
    ],
    run: runUnlockKey,
  },
};
