// Dispatch: global flags, the command table, help, and turning errors into
// docker's messages and exit codes. Command modules are imported only when their
// command runs, so `pier version` loads the client and one small module.

import { ApiError, ConnectError, StreamError } from '../client/errors.js';
import {
  checkArgs, groupHelpText, helpColumns, helpText, StatusError,
  type CommandDef, type CommandMeta, type Ctx, type IO,
} from './command.js';
import { build } from '../base/build.js';
import { FlagError, flagUsages, parseFlags, type FlagSpec } from './flags.js';
import { currentContextName, loadContext, type DefaultEndpoint, type ResolvedContext } from './contexts.js';

type Loader = () => Promise<{ commands: Record<string, CommandDef> }>;
const systemMod: Loader = () => import('./commands/system.js');
const imagesMod: Loader = () => import('./commands/images.js');
const eventsMod: Loader = () => import('./commands/events.js');
const baseMod: Loader = () => import('./commands/base.js');
const registryMod: Loader = () => import('./commands/registry.js');
const containersMod: Loader = () => import('./commands/containers.js');
const runMod: Loader = () => import('./commands/run.js');
const execMod: Loader = () => import('./commands/exec.js');
const statsMod: Loader = () => import('./commands/stats.js');
const cpMod: Loader = () => import('./commands/cp.js');
const networksMod: Loader = () => import('./commands/networks.js');
const volumesMod: Loader = () => import('./commands/volumes.js');
const buildMod: Loader = () => import('./commands/build.js');
const servicesMod: Loader = () => import('./commands/services.js');
const swarmMod: Loader = () => import('./commands/swarm.js');
const nodesMod: Loader = () => import('./commands/nodes.js');
const moveMod: Loader = () => import('./commands/move.js');
const contextsMod: Loader = () => import('./commands/contexts.js');
const tlsMod: Loader = () => import('./commands/tls.js');
const remoteMod: Loader = () => import('./commands/remote.js');

/**
 * `pier registry ...` runs the registry server, which is bundled on its own
 * (dist/registry.cjs, required only here) so that no other command parses it.
 */
async function runRegistryCommand(argv: string[], io: IO): Promise<number> {
  type RegistryModule = { runRegistry(argv: string[], io: IO): Promise<number> };
  let mod: RegistryModule;
  if (typeof __dirname === 'string' && typeof require === 'function') {
    const { join } = require('node:path') as typeof import('node:path');
    mod = require(join(__dirname, 'registry.cjs')) as RegistryModule;
  } else {
    mod = (await import(new URL('../registry/main.js', import.meta.url).href)) as RegistryModule;
  }
  return mod.runRegistry(argv, io);
}

interface Entry extends CommandMeta {
  load: Loader;
  key: string;
  /** Canonical parent path for usage lines ("image" for `pier image ls`). */
  parent?: string;
  hidden?: boolean;
}

const P = 'pier';
const imageCmds: Record<string, Entry> = {
  build: { short: 'Build an image from a Dockerfile', load: buildMod, key: 'build', parent: 'image', aliases: [`${P} image build`, `${P} build`] },
  busybox: { short: "Create a busybox base image from the host's busybox-static", load: baseMod, key: 'busybox', parent: 'image' },
  copy: { short: 'Copy an image to another daemon, sending only the layers it lacks', load: moveMod, key: 'image copy', parent: 'image' },
  history: { short: 'Show the history of an image', load: imagesMod, key: 'history', parent: 'image', aliases: [`${P} image history`, `${P} history`] },
  import: { short: 'Import the contents from a tarball to create a filesystem image', load: imagesMod, key: 'import', parent: 'image', aliases: [`${P} image import`, `${P} import`] },
  inspect: { short: 'Display detailed information on one or more images', load: imagesMod, key: 'image inspect', parent: 'image' },
  load: { short: 'Load an image from a tar archive or STDIN', load: imagesMod, key: 'load', parent: 'image', aliases: [`${P} image load`, `${P} load`] },
  ls: { short: 'List images', load: imagesMod, key: 'ls', parent: 'image', aliases: [`${P} image ls`, `${P} image list`, `${P} images`] },
  prune: { short: 'Remove unused images', load: imagesMod, key: 'prune', parent: 'image' },
  pull: { short: 'Download an image from a registry', load: registryMod, key: 'pull', parent: 'image', aliases: [`${P} image pull`, `${P} pull`] },
  push: { short: 'Upload an image to a registry', load: registryMod, key: 'push', parent: 'image', aliases: [`${P} image push`, `${P} push`] },
  rm: { short: 'Remove one or more images', load: imagesMod, key: 'rm', parent: 'image', aliases: [`${P} image rm`, `${P} image remove`, `${P} rmi`] },
  save: { short: 'Save one or more images to a tar archive (streamed to STDOUT by default)', load: imagesMod, key: 'save', parent: 'image', aliases: [`${P} image save`, `${P} save`] },
  tag: { short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: imagesMod, key: 'tag', parent: 'image', aliases: [`${P} image tag`, `${P} tag`] },
};
const imageAliases: Record<string, string> = { list: 'ls', remove: 'rm', rmi: 'rm' };

const containerCmds: Record<string, Entry> = {
  attach: { short: 'Attach local standard input, output, and error streams to a running container', load: runMod, key: 'attach', parent: 'container', aliases: [`${P} container attach`, `${P} attach`] },
  commit: { short: "Create a new image from a container's changes", load: containersMod, key: 'commit', parent: 'container', aliases: [`${P} container commit`, `${P} commit`] },
  cp: { short: 'Copy files/folders between a container and the local filesystem', load: cpMod, key: 'cp', parent: 'container', aliases: [`${P} container cp`, `${P} cp`] },
  create: { short: 'Create a new container', load: runMod, key: 'create', parent: 'container', aliases: [`${P} container create`, `${P} create`] },
  diff: { short: "Inspect changes to files or directories on a container's filesystem", load: containersMod, key: 'diff', parent: 'container', aliases: [`${P} container diff`, `${P} diff`] },
  exec: { short: 'Execute a command in a running container', load: execMod, key: 'exec', parent: 'container', aliases: [`${P} container exec`, `${P} exec`] },
  export: { short: "Export a container's filesystem as a tar archive", load: containersMod, key: 'export', parent: 'container', aliases: [`${P} container export`, `${P} export`] },
  inspect: { short: 'Display detailed information on one or more containers', load: containersMod, key: 'inspect', parent: 'container' },
  kill: { short: 'Kill one or more running containers', load: containersMod, key: 'kill', parent: 'container', aliases: [`${P} container kill`, `${P} kill`] },
  logs: { short: 'Fetch the logs of a container', load: containersMod, key: 'logs', parent: 'container', aliases: [`${P} container logs`, `${P} logs`] },
  move: { short: 'Move a container to another daemon (cold: stopped here, started there)', load: moveMod, key: 'move', parent: 'container' },
  ls: { short: 'List containers', load: containersMod, key: 'ls', parent: 'container', aliases: [`${P} container ls`, `${P} container list`, `${P} container ps`, `${P} ps`] },
  pause: { short: 'Pause all processes within one or more containers', load: containersMod, key: 'pause', parent: 'container', aliases: [`${P} container pause`, `${P} pause`] },
  port: { short: 'List port mappings or a specific mapping for the container', load: containersMod, key: 'port', parent: 'container', aliases: [`${P} container port`, `${P} port`] },
  prune: { short: 'Remove all stopped containers', load: containersMod, key: 'prune', parent: 'container' },
  rename: { short: 'Rename a container', load: containersMod, key: 'rename', parent: 'container', aliases: [`${P} container rename`, `${P} rename`] },
  restart: { short: 'Restart one or more containers', load: containersMod, key: 'restart', parent: 'container', aliases: [`${P} container restart`, `${P} restart`] },
  rm: { short: 'Remove one or more containers', load: containersMod, key: 'rm', parent: 'container', aliases: [`${P} container rm`, `${P} container remove`, `${P} rm`] },
  run: { short: 'Create and run a new container from an image', load: runMod, key: 'run', parent: 'container', aliases: [`${P} container run`, `${P} run`] },
  start: { short: 'Start one or more stopped containers', load: runMod, key: 'start', parent: 'container', aliases: [`${P} container start`, `${P} start`] },
  stats: { short: 'Display a live stream of container(s) resource usage statistics', load: statsMod, key: 'stats', parent: 'container', aliases: [`${P} container stats`, `${P} stats`] },
  stop: { short: 'Stop one or more running containers', load: containersMod, key: 'stop', parent: 'container', aliases: [`${P} container stop`, `${P} stop`] },
  top: { short: 'Display the running processes of a container', load: containersMod, key: 'top', parent: 'container', aliases: [`${P} container top`, `${P} top`] },
  unpause: { short: 'Unpause all processes within one or more containers', load: containersMod, key: 'unpause', parent: 'container', aliases: [`${P} container unpause`, `${P} unpause`] },
  update: { short: 'Update configuration of one or more containers', load: containersMod, key: 'update', parent: 'container', aliases: [`${P} container update`, `${P} update`] },
  wait: { short: 'Block until one or more containers stop, then print their exit codes', load: containersMod, key: 'wait', parent: 'container', aliases: [`${P} container wait`, `${P} wait`] },
};
const containerAliases: Record<string, string> = { list: 'ls', ps: 'ls', remove: 'rm' };

const networkCmds: Record<string, Entry> = {
  connect: { short: 'Connect a container to a network', load: networksMod, key: 'connect', parent: 'network' },
  create: { short: 'Create a network', load: networksMod, key: 'create', parent: 'network' },
  disconnect: { short: 'Disconnect a container from a network', load: networksMod, key: 'disconnect', parent: 'network' },
  inspect: { short: 'Display detailed information on one or more networks', load: networksMod, key: 'inspect', parent: 'network' },
  ls: { short: 'List networks', load: networksMod, key: 'ls', parent: 'network', aliases: [`${P} network ls`, `${P} network list`] },
  prune: { short: 'Remove all unused networks', load: networksMod, key: 'prune', parent: 'network' },
  rm: { short: 'Remove one or more networks', load: networksMod, key: 'rm', parent: 'network', aliases: [`${P} network rm`, `${P} network remove`] },
};
const networkAliases: Record<string, string> = { list: 'ls', remove: 'rm' };

const volumeCmds: Record<string, Entry> = {
  create: { short: 'Create a volume', load: volumesMod, key: 'create', parent: 'volume' },
  inspect: { short: 'Display detailed information on one or more volumes', load: volumesMod, key: 'inspect', parent: 'volume' },
  ls: { short: 'List volumes', load: volumesMod, key: 'ls', parent: 'volume', aliases: [`${P} volume ls`, `${P} volume list`] },
  prune: { short: 'Remove unused local volumes', load: volumesMod, key: 'prune', parent: 'volume' },
  rm: { short: 'Remove one or more volumes', long: 'Remove one or more volumes. You cannot remove a volume that is in use by a container.', load: volumesMod, key: 'rm', parent: 'volume', aliases: [`${P} volume rm`, `${P} volume remove`] },
  update: { short: 'Update a volume (cluster volumes only)', load: volumesMod, key: 'update', parent: 'volume' },
};
const volumeAliases: Record<string, string> = { list: 'ls', remove: 'rm' };

const serviceCmds: Record<string, Entry> = {
  create: { short: 'Create a new service', load: servicesMod, key: 'create', parent: 'service' },
  inspect: { short: 'Display detailed information on one or more services', load: servicesMod, key: 'inspect', parent: 'service' },
  logs: { short: 'Fetch the logs of a service or task', load: servicesMod, key: 'logs', parent: 'service' },
  ls: { short: 'List services', load: servicesMod, key: 'ls', parent: 'service', aliases: [`${P} service ls`, `${P} service list`] },
  ps: { short: 'List the tasks of one or more services', load: servicesMod, key: 'ps', parent: 'service' },
  rm: { short: 'Remove one or more services', load: servicesMod, key: 'rm', parent: 'service', aliases: [`${P} service rm`, `${P} service remove`] },
  rollback: { short: "Revert changes to a service's configuration", load: servicesMod, key: 'rollback', parent: 'service' },
  scale: { short: 'Scale one or multiple replicated services', load: servicesMod, key: 'scale', parent: 'service' },
  update: { short: 'Update a service', load: servicesMod, key: 'update', parent: 'service' },
};
const serviceAliases: Record<string, string> = { list: 'ls', remove: 'rm' };

const swarmCmds: Record<string, Entry> = {
  init: { short: 'Initialize a swarm', load: swarmMod, key: 'init', parent: 'swarm' },
  inspect: { short: 'Display detailed information on the swarm', load: swarmMod, key: 'inspect', parent: 'swarm' },
  'join-token': { short: 'Manage join tokens', load: swarmMod, key: 'join-token', parent: 'swarm' },
  leave: { short: 'Leave the swarm', load: swarmMod, key: 'leave', parent: 'swarm' },
  'unlock-key': { short: 'Manage the unlock key', load: swarmMod, key: 'unlock-key', parent: 'swarm' },
  update: { short: 'Update the swarm', load: swarmMod, key: 'update', parent: 'swarm' },
};

const nodeCmds: Record<string, Entry> = {
  demote: { short: 'Demote one or more nodes from manager in the swarm', load: nodesMod, key: 'demote', parent: 'node' },
  inspect: { short: 'Display detailed information on one or more nodes', load: nodesMod, key: 'inspect', parent: 'node' },
  ls: { short: 'List nodes in the swarm', load: nodesMod, key: 'ls', parent: 'node', aliases: [`${P} node ls`, `${P} node list`] },
  promote: { short: 'Promote one or more nodes to manager in the swarm', load: nodesMod, key: 'promote', parent: 'node' },
  ps: { short: 'List tasks running on one or more nodes, defaults to current node', load: nodesMod, key: 'ps', parent: 'node' },
  rm: { short: 'Remove one or more nodes from the swarm', load: nodesMod, key: 'rm', parent: 'node', aliases: [`${P} node rm`, `${P} node remove`] },
  update: { short: 'Update a node', load: nodesMod, key: 'update', parent: 'node' },
};
const nodeAliases: Record<string, string> = { list: 'ls', remove: 'rm' };

const systemCmds: Record<string, Entry> = {
  df: { short: 'Show pier disk usage', load: systemMod, key: 'df', parent: 'system' },
  events: { short: 'Get real time events from the server', load: eventsMod, key: 'events', parent: 'system', aliases: [`${P} system events`, `${P} events`] },
  info: { short: 'Display system-wide information', load: systemMod, key: 'info', parent: 'system', aliases: [`${P} system info`, `${P} info`] },
  'dial-stdio': { short: "Proxy the stdio stream to the daemon connection (what ssh:// hosts run remotely)", load: remoteMod, key: 'dial-stdio', parent: 'system', hidden: true },
  prune: { short: 'Remove unused data', load: systemMod, key: 'prune', parent: 'system' },
};

const contextCmds: Record<string, Entry> = {
  create: { short: 'Create a context', load: contextsMod, key: 'context create', parent: 'context' },
  export: { short: 'Export a context to a tar archive FILE or a tar stream on STDOUT.', load: contextsMod, key: 'context export', parent: 'context' },
  import: { short: 'Import a context from a tar file', load: contextsMod, key: 'context import', parent: 'context' },
  inspect: { short: 'Display detailed information on one or more contexts', load: contextsMod, key: 'context inspect', parent: 'context' },
  ls: { short: 'List contexts', load: contextsMod, key: 'context ls', parent: 'context', aliases: [`${P} context ls`, `${P} context list`] },
  rm: { short: 'Remove one or more contexts', load: contextsMod, key: 'context rm', parent: 'context', aliases: [`${P} context rm`, `${P} context remove`] },
  show: { short: 'Print the name of the current context', load: contextsMod, key: 'context show', parent: 'context' },
  update: { short: 'Update a context', load: contextsMod, key: 'context update', parent: 'context' },
  use: { short: 'Set the current pier context', load: contextsMod, key: 'context use', parent: 'context' },
};
const contextAliases: Record<string, string> = { list: 'ls', remove: 'rm' };

const tlsCmds: Record<string, Entry> = {
  generate: {
    short: 'Make a CA, a server and a client certificate for a daemon reached over mutual TLS',
    long: 'Make a CA (ca.pem, ca-key.pem; reused when already in the directory), a server certificate (server-cert.pem, server-key.pem) for the --host names and addresses, and a client certificate (cert.pem, key.pem), with the openssl command.\n\nDaemon: pierd -H tcp://0.0.0.0:2376 --tlsverify --tlscacert DIR/ca.pem --tlscert DIR/server-cert.pem --tlskey DIR/server-key.pem\nClient: DOCKER_CERT_PATH=DIR pier -H tcp://HOST:2376 --tlsverify ps',
    load: tlsMod, key: 'tls generate', parent: 'tls',
  },
};

const top: Record<string, Entry> = {
  attach: { ...containerCmds['attach']!, parent: '' },
  build: { ...imageCmds['build']!, parent: '' },
  commit: { ...containerCmds['commit']!, parent: '' },
  cp: { ...containerCmds['cp']!, parent: '' },
  create: { ...containerCmds['create']!, parent: '' },
  diff: { ...containerCmds['diff']!, parent: '' },
  events: { ...systemCmds['events']!, parent: '' },
  exec: { ...containerCmds['exec']!, parent: '' },
  export: { ...containerCmds['export']!, parent: '' },
  history: { ...imageCmds['history']!, parent: '' },
  images: { ...imageCmds['ls']!, key: 'images', parent: '' },
  import: { ...imageCmds['import']!, parent: '' },
  info: { ...systemCmds['info']!, parent: '' },
  inspect: { short: 'Return low-level information on Pier objects', load: imagesMod, key: 'inspect', parent: '' },
  kill: { ...containerCmds['kill']!, parent: '' },
  load: { ...imageCmds['load']!, parent: '' },
  login: { short: 'Authenticate to a registry', load: registryMod, key: 'login', parent: '' },
  logout: { short: 'Log out from a registry', load: registryMod, key: 'logout', parent: '' },
  logs: { ...containerCmds['logs']!, parent: '' },
  pause: { ...containerCmds['pause']!, parent: '' },
  port: { ...containerCmds['port']!, parent: '' },
  ps: { ...containerCmds['ls']!, key: 'ps', parent: '' },
  pull: { ...imageCmds['pull']!, parent: '' },
  push: { ...imageCmds['push']!, parent: '' },
  rename: { ...containerCmds['rename']!, parent: '' },
  restart: { ...containerCmds['restart']!, parent: '' },
  rm: { ...containerCmds['rm']!, parent: '' },
  rmi: { ...imageCmds['rm']!, key: 'rmi', parent: '' },
  run: { ...containerCmds['run']!, parent: '' },
  save: { ...imageCmds['save']!, parent: '' },
  start: { ...containerCmds['start']!, parent: '' },
  stats: { ...containerCmds['stats']!, parent: '' },
  stop: { ...containerCmds['stop']!, parent: '' },
  tag: { ...imageCmds['tag']!, parent: '' },
  top: { ...containerCmds['top']!, parent: '' },
  unpause: { ...containerCmds['unpause']!, parent: '' },
  update: { ...containerCmds['update']!, parent: '' },
  version: { short: 'Show the Pier version information', load: systemMod, key: 'version', parent: '' },
  wait: { ...containerCmds['wait']!, parent: '' },
};

const groups: Record<string, { short: string; subs: Record<string, Entry>; aliases?: Record<string, string> }> = {
  container: { short: 'Manage containers', subs: containerCmds, aliases: containerAliases },
  context: { short: 'Manage contexts', subs: contextCmds, aliases: contextAliases },
  image: { short: 'Manage images', subs: imageCmds, aliases: imageAliases },
  network: { short: 'Manage networks', subs: networkCmds, aliases: networkAliases },
  node: { short: 'Manage Swarm nodes', subs: nodeCmds, aliases: nodeAliases },
  service: { short: 'Manage Swarm services', subs: serviceCmds, aliases: serviceAliases },
  swarm: { short: 'Manage Swarm', subs: swarmCmds },
  system: { short: 'Manage Pier', subs: systemCmds },
  tls: { short: 'Make certificates for remote daemons (mutual TLS)', subs: tlsCmds },
  volume: { short: 'Manage volumes', subs: volumeCmds, aliases: volumeAliases },
};

const globalFlags: FlagSpec[] = [
  { name: 'config', type: 'string', usage: 'Location of client config files', hidden: true },
  { name: 'context', short: 'c', type: 'string', usage: 'Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "pier context use")' },
  { name: 'debug', short: 'D', type: 'bool', usage: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', usage: 'Daemon socket to connect to' },
  { name: 'log-level', short: 'l', type: 'string', usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default: 'info' },
  { name: 'tls', type: 'bool', usage: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', type: 'string', usage: 'Trust certs signed only by this CA', default: '~/.docker/ca.pem' },
  { name: 'tlscert', type: 'string', usage: 'Path to TLS certificate file', default: '~/.docker/cert.pem' },
  { name: 'tlskey', type: 'string', usage: 'Path to TLS key file', default: '~/.docker/key.pem' },
  { name: 'tlsverify', type: 'bool', usage: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: 'bool', usage: 'Print version information and quit' },
];

/**
 * The daemon this run talks to, as docker resolves it: the context named by
 * --context / DOCKER_CONTEXT / config.json, unless -H, PIER_HOST or DOCKER_HOST
 * name a daemon (the "default" context, with TLS from --tls* flags or
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH).
 */
async function resolveEndpoint(g: { values: Record<string, unknown>; changed: Set<string> }, env: IO['env']): Promise<ResolvedContext> {
  const hosts = g.values['host'] as string[];
  const name = currentContextName(env, { context: g.values['context'] as string, hosts });
  if (name !== 'default') return loadContext(name, env);
  const flag = (n: string) => (g.changed.has(n) ? (g.values[n] as string) : undefined);
  const dflt: DefaultEndpoint = { hosts };
  // Given at all, --tlsverify turns TLS on (even --tlsverify=false, as docker); its value says whether to verify.
  if (g.changed.has('tlsverify')) dflt.tlsVerify = g.values['tlsverify'] === true;
  if (g.changed.has('tls') || g.changed.has('tlsverify')) dflt.tls = g.values['tls'] === true || g.changed.has('tlsverify');
  for (const [k, n] of [['tlsCaCert', 'tlscacert'], ['tlsCert', 'tlscert'], ['tlsKey', 'tlskey']] as const) {
    const v = flag(n);
    if (v !== undefined) dflt[k] = v;
  }
  return loadContext(name, env, dflt);
}

function rootHelp(cols: number): string {
  const common = ['run', 'exec', 'ps', 'build', 'pull', 'push', 'images', 'login', 'logout', 'version', 'info'];
  const mgmt = Object.entries(groups).map(([n, g]) => [n, g.short] as const);
  const cmds = Object.entries(top).filter(([n]) => !common.includes(n)).map(([n, e]) => [n, e.short] as const);
  const pad = (n: string) => n.padEnd(11);
  let s = `Usage:  ${P} [OPTIONS] COMMAND\n\nA container engine with the Docker Engine API\n\nCommon Commands:\n`;
  for (const n of common) s += `  ${pad(n)} ${top[n]!.short}\n`;
  s += '\nManagement Commands:\n';
  for (const [n, d] of mgmt) s += `  ${pad(n)} ${d}\n`;
  s += `  ${pad('registry')} Run an image registry (serve, gc)\n`;
  s += '\nCommands:\n';
  for (const [n, d] of cmds) s += `  ${pad(n)} ${d}\n`;
  s += `\nGlobal Options:\n${flagUsages(globalFlags, cols).trimEnd()}\n`;
  s += `\nRun '${P} COMMAND --help' for more information on a command.\n`;
  return s;
}

/** Resolve the daemon address: -H, then PIER_HOST, then DOCKER_HOST, then the default socket. */
export function resolveHost(hosts: string[], env: IO['env']): string {
  if (hosts.length > 1) throw new StatusError(1, 'Specify only one -H');
  return hosts[0] || env['PIER_HOST'] || env['DOCKER_HOST'] || 'unix:///run/pier/pier.sock';
}

/** Run the CLI; resolves with the exit code. */
export async function runCli(argv: string[], io: IO): Promise<number> {
  const err = (s: string) => void io.stderr.write(s.endsWith('\n') ? s : s + '\n');
  let debug = false;
  try {
    let g;
    try {
      g = parseFlags(argv, globalFlags, { interspersed: false });
    } catch (e) {
      if (e instanceof FlagError) throw new StatusError(125, `${e.message}\nSee '${P} --help'.`);
      throw e;
    }
    debug = g.values['debug'] === true;
    if (g.values['version'] === true) {
      io.stdout.write(`Pier version ${build.version}, build ${build.commit}\n`);
      return 0;
    }
    let [name, ...rest] = g.args;
    // `pier help images` is `pier images --help`.
    if (name === 'help' && rest.length > 0) [name, ...rest] = [...rest, '--help'];
    if (g.help || name === undefined || name === 'help') {
      io.stdout.write(rootHelp(helpColumns(io)));
      return 0;
    }
    if (name === 'registry') return await runRegistryCommand(rest, io);
    if ((g.values['host'] as string[]).length > 1) throw new StatusError(1, 'Specify only one -H');
    // Resolved now, reported when a command needs the daemon: `pier context use default`
    // must work even while the current context is broken.
    let endpoint: ResolvedContext | undefined;
    let endpointErr: unknown;
    try {
      endpoint = await resolveEndpoint(g, io.env);
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('conflicting options')) throw new StatusError(1, e.message);
      endpointErr = e;
    }
    const failedInit = () => new StatusError(1, `Failed to initialize: unable to resolve pier endpoint: ${(endpointErr as Error).message ?? String(endpointErr)}`);

    let entry: Entry | undefined;
    let args = rest;
    const group = groups[name];
    if (group) {
      const groupPath = `${P} ${name}`;
      const subName = rest[0];
      const subList = Object.entries(group.subs).filter(([, e]) => !e.hidden).map(([n, e]) => [n, e.short] as [string, string]);
      if (subName === undefined || subName === '--help' || subName === '-h') {
        // docker prints a group's help to stderr when run bare, stdout for --help.
        (subName === undefined ? io.stderr : io.stdout).write(groupHelpText(groupPath, group.short, subList));
        return 0;
      }
      entry = group.subs[group.aliases?.[subName] ?? subName];
      if (!entry) {
        throw new StatusError(1, `\n${groupHelpText(groupPath, group.short, subList).trimEnd()}`);
      }
      args = rest.slice(1);
    } else {
      entry = top[name];
      if (!entry) throw new StatusError(1, `${P}: '${name}' is not a ${P} command.\nSee '${P} --help'`);
    }

    const parentPath = entry.parent ? `${P} ${entry.parent}` : P;
    const mod = await entry.load();
    const def = mod.commands[entry.key]!;
    const path = `${parentPath} ${def.use.split(' ')[0]}`;
    let f;
    try {
      // run, create, exec and top stop at their first argument: what follows is the container's command.
      f = parseFlags(args, def.flags, { interspersed: (def as CommandDef & { interspersed?: boolean }).interspersed !== false });
    } catch (e) {
      if (e instanceof FlagError) throw new StatusError(125, `${e.message}\nSee '${path} --help'.`);
      throw e;
    }
    if (f.help) {
      io.stdout.write(helpText(parentPath, def, entry, helpColumns(io)));
      return 0;
    }
    const argErr = checkArgs(path, parentPath, def, entry.short, f.args.length);
    if (argErr) throw new StatusError(1, argErr);

    const { Client } = await import('../client/client.js');
    let client: InstanceType<typeof Client> | undefined;
    const ctx: Ctx = {
      io, path, debug,
      get host(): string {
        if (!endpoint) throw failedInit();
        return endpoint.host;
      },
      ...(endpoint ? { context: endpoint.name } : {}),
      client() {
        if (!client) {
          if (!endpoint) throw failedInit();
          try {
            const version = io.env['PIER_API_VERSION'] || io.env['DOCKER_API_VERSION'];
            const userAgent = `Pier-Client/${build.version} (${process.platform})`;
            const o: ConstructorParameters<typeof Client>[0] = { host: endpoint.host, userAgent };
            if (version) o.version = version;
            if (endpoint.tls) o.tls = endpoint.tls;
            // ssh:// hosts: extra ssh arguments (a key, a config file, options), split on spaces.
            if (io.env['PIER_SSH_OPTS']) o.sshOptions = io.env['PIER_SSH_OPTS'].split(/\s+/).filter(Boolean);
            client = new Client(o);
          } catch (e) {
            throw new StatusError(1, `Failed to initialize: unable to resolve pier endpoint: ${(e as Error).message}`);
          }
        }
        return client;
      },
      out: (s) => void io.stdout.write(s),
      err: (s) => void io.stderr.write(s),
    };
    try {
      const code = await def.run(ctx, f);
      return code ?? 0;
    } finally {
      client?.close();
    }
  } catch (e) {
    return report(e, err, debug);
  }
}

function report(e: unknown, err: (s: string) => void, debug: boolean): number {
  if (e instanceof StatusError) {
    if (e.message) err(e.message);
    return e.status;
  }
  if (e instanceof ApiError) {
    err(e.toString());
    return 1;
  }
  if (e instanceof ConnectError || e instanceof StreamError) {
    err(e.message);
    return 1;
  }
  if (e instanceof Error) {
    err(debug && e.stack ? e.stack : e.message);
    return 1;
  }
  err(String(e));
  return 1;
}
