// Context commands: context create, ls, use, inspect, rm, show — docker 28's
// flags and output, on docker's own store (src/cli/contexts.ts), so a context
// made by either CLI is seen and used by the other.

import { createReadStream, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { parseHost } from '../../client/client.js';
import { formatHelp, StatusError, type CommandDef, type Ctx } from '../command.js';
import { parseBool, type ParsedFlags } from '../flags.js';
import { formatRows, goJSON, indentJSON, parseTemplate, writeInspect } from '../formatter.js';
import { exportContext, importContext, MAX_IMPORT_BYTES } from '../context-archive.js';
import {
  ContextNotFound, ContextStore, DEFAULT_CONTEXT, DEFAULT_DESCRIPTION, DEFAULT_HOST, NAME_RE, currentContextName, defaultHost, loadContext,
  type ContextMeta, type Env,
} from '../contexts.js';

/** The context in use: the one the run resolved, else what the environment and config.json say. */
const current = (ctx: Ctx) => currentContextName(ctx.io.env, { context: ctx.context });

/** The builtin "default" context as docker shows it: the host -H / PIER_HOST / DOCKER_HOST resolve to. */
function defaultMeta(ctx: Ctx): ContextMeta {
  let host = defaultHost(ctx.io.env);
  // With -H the run's context is "default" and its host is the flag's.
  if (ctx.context === DEFAULT_CONTEXT) {
    try {
      host = ctx.host;
    } catch {
      /* unresolvable: keep the environment's */
    }
  }
  return { Name: DEFAULT_CONTEXT, Metadata: { Description: DEFAULT_DESCRIPTION }, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } };
}

const envOverrides = (env: Env) => (env['PIER_HOST'] ? 'PIER_HOST' : env['DOCKER_HOST'] ? 'DOCKER_HOST' : '');

// --- create -------------------------------------------------------------------

const DOCKER_KEYS = ['from', 'host', 'ca', 'cert', 'key', 'skip-tls-verify'];

/** docker's --docker "host=tcp://…,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=bool". */
export function parseDockerOpt(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    if (part === '') continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new StatusError(125, `invalid argument "${s}" for "--docker" flag: ${part} must be formatted as key=value\nSee 'pier context create --help'.`);
    const k = part.slice(0, i);
    if (!DOCKER_KEYS.includes(k)) throw new StatusError(1, `unable to create docker endpoint config: unrecognized config key: ${k}`);
    out[k] = part.slice(i + 1);
  }
  return out;
}

/** unix://, tcp://, ssh:// (docker's schemes; ssh only reaches a daemon through `pier system dial-stdio`), as the client will read it. */
function checkHost(h: string): string {
  let ok = /^(unix|tcp|ssh):\/\/./.test(h);
  try {
    if (ok) parseHost(h);
  } catch {
    ok = false;
  }
  if (!ok) throw new StatusError(1, `unable to create docker endpoint config: unable to parse docker host \`${h}\`: use unix:///path, tcp://HOST:PORT or ssh://[USER@]HOST`);
  return h;
}

const expandHome = (p: string) => (p.startsWith('~/') ? homedir() + p.slice(1) : p);

type Tls = Partial<Record<'ca' | 'cert' | 'key', string>>;

/**
 * The docker endpoint a --docker option (or, with from, another context) gives:
 * its meta.json entry, its TLS files, and the source's description.
 */
async function endpointFor(ctx: Ctx, opt: Record<string, string> | undefined, from: string): Promise<{ ep: NonNullable<ContextMeta['Endpoints']['docker']>; tls: Tls; description?: string }> {
  const tls: Tls = {};
  if (from) {
    // Copy another context's endpoint (docker's from=, and what create does with no --docker).
    let src;
    try {
      src = await loadContext(from, ctx.io.env);
      if (from === DEFAULT_CONTEXT) src.host = defaultMeta(ctx).Endpoints.docker!.Host!;
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    const description = from === DEFAULT_CONTEXT ? DEFAULT_DESCRIPTION : (await ContextStore.fromEnv(ctx.io.env).get(from)).Metadata.Description;
    if (src.tls) for (const k of ['ca', 'cert', 'key'] as const) if (src.tls[k] !== undefined) tls[k] = src.tls[k];
    return { ep: { Host: src.host, SkipTLSVerify: src.tls ? !src.tls.verify : false }, tls, ...(description ? { description } : {}) };
  }
  const o = opt ?? {};
  const skip = o['skip-tls-verify'] === undefined || o['skip-tls-verify'] === '' ? false : parseBool(o['skip-tls-verify']);
  if (skip === undefined) throw new StatusError(1, `unable to create docker endpoint config: invalid skip-tls-verify value "${o['skip-tls-verify']}": use true or false`);
  for (const k of ['ca', 'cert', 'key'] as const) {
    const p = o[k];
    if (!p) continue;
    try {
      tls[k] = readFileSync(expandHome(p), 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new StatusError(1, `unable to create docker endpoint config: open ${p}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    }
    if (!tls[k]!.includes('-----BEGIN')) throw new StatusError(1, `unable to create docker endpoint config: ${p} is not a PEM file (${k}=)`);
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new StatusError(1, 'unable to create docker endpoint config: give both cert= and key= (or neither)');
  return { ep: { Host: checkHost(o['host'] || DEFAULT_HOST), SkipTLSVerify: skip }, tls };
}

/** docker's rule for a context name that is to be stored. */
function checkName(name: string): void {
  if (name === DEFAULT_CONTEXT) throw new StatusError(1, `"${DEFAULT_CONTEXT}" is a reserved context name`);
  if (!NAME_RE.test(name)) throw new StatusError(1, `context name "${name}" is invalid, names are validated against regexp "${NAME_RE.source}"`);
}

async function runCreate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const name = f.args[0]!;
  checkName(name);
  const store = ContextStore.fromEnv(ctx.io.env);
  if (await store.exists(name)) throw new StatusError(1, `context "${name}" already exists`);
  const opt = f.changed.has('docker') ? parseDockerOpt(f.values['docker'] as string) : undefined;
  const from = (f.values['from'] as string) || opt?.['from'] || (opt ? '' : current(ctx));
  const { ep, tls, description: inherited } = await endpointFor(ctx, opt, from);
  const description = (f.values['description'] as string) || inherited;
  const meta: ContextMeta = { Name: name, Metadata: description ? { Description: description } : {}, Endpoints: { docker: ep } };
  await store.create(meta, tls);
  ctx.out(`${name}\n`);
  ctx.err(`Successfully created context "${name}"\n`);
  return 0;
}

// --- update, export, import ------------------------------------------------------

/** docker's update: a new description and/or a new docker endpoint (which replaces the old one's TLS files). */
async function runUpdate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const name = f.args[0]!;
  checkName(name);
  const store = ContextStore.fromEnv(ctx.io.env);
  let meta: ContextMeta;
  try {
    meta = await store.get(name);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  let tls: Tls | undefined;
  if (f.changed.has('description')) meta.Metadata.Description = f.values['description'] as string;
  if (f.changed.has('docker')) {
    const opt = parseDockerOpt(f.values['docker'] as string);
    const got = await endpointFor(ctx, opt, opt['from'] ?? '');
    meta.Endpoints.docker = got.ep;
    tls = got.tls;
  }
  await store.update(meta, tls);
  ctx.out(`${name}\n`);
  ctx.err(`Successfully updated context "${name}"\n`);
  return 0;
}

async function runExport(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const name = f.args[0]!;
  const dest = f.args[1] ?? `${name}.dockercontext`;
  let meta: ContextMeta;
  let tls: Tls;
  try {
    const resolved = await loadContext(name, ctx.io.env);
    if (name === DEFAULT_CONTEXT) meta = { Name: name, Metadata: {}, Endpoints: defaultMeta(ctx).Endpoints };
    else meta = await ContextStore.fromEnv(ctx.io.env).get(name);
    tls = {};
    for (const k of ['ca', 'cert', 'key'] as const) if (resolved.tls?.[k] !== undefined) tls[k] = resolved.tls[k];
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  const archive = await exportContext(meta, tls);
  if (dest === '-') {
    if (ctx.io.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to export to a terminal, specify a file path');
    await new Promise<void>((resolve, reject) => ctx.io.stdout.write(archive, (e) => (e ? reject(e) : resolve())));
    return 0;
  }
  try {
    await writeFile(dest, archive, { mode: 0o600 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new StatusError(1, `open ${dest}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  }
  ctx.err(`Written file ${JSON.stringify(dest)}\n`);
  return 0;
}

/** At most MAX_IMPORT_BYTES of a stream, refusing more. */
async function readLimited(r: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of r as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_IMPORT_BYTES) throw new StatusError(1, `the context archive is larger than ${MAX_IMPORT_BYTES >> 20} MiB: is this an exported context?`);
    parts.push(Buffer.from(c));
  }
  return Buffer.concat(parts);
}

async function runImport(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [name, src] = f.args as [string, string];
  checkName(name);
  const store = ContextStore.fromEnv(ctx.io.env);
  if (await store.exists(name)) throw new StatusError(1, `context "${name}" already exists`);
  let archive: Buffer;
  if (src === '-') archive = await readLimited(ctx.io.stdin);
  else {
    try {
      archive = await readLimited(createReadStream(src));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (e instanceof StatusError) throw e;
      throw new StatusError(1, `open ${src}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EISDIR' ? 'is a directory' : err.message}`);
    }
  }
  let got;
  try {
    got = await importContext(archive);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
  const ep = got.meta.Endpoints.docker;
  if (ep?.Host !== undefined && typeof ep.Host !== 'string') throw new StatusError(1, 'invalid context archive: its docker endpoint has no host');
  await store.create({ ...got.meta, Name: name }, got.tls);
  ctx.out(`${name}\n`);
  ctx.err(`Successfully imported context "${name}"\n`);
  return 0;
}

// --- ls -------------------------------------------------------------------------

interface Row {
  Current: boolean;
  Description: string;
  DockerEndpoint: string;
  Error: string;
  Name: string;
}

const LS_TABLE = 'table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}';
// Current is false in the header row, so no " *" after NAME.
const LS_HEADERS = { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR', Current: '' };

async function runLs(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const store = ContextStore.fromEnv(ctx.io.env);
  const cur = current(ctx);
  const metas = [defaultMeta(ctx), ...(await store.list())].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  const rows: Row[] = metas.map((m) => ({
    Current: m.Name === cur,
    Description: m.Metadata.Description ?? '',
    DockerEndpoint: m.Endpoints.docker?.Host ?? '',
    Error: m.Endpoints.docker?.Host ? '' : 'no docker endpoint',
    Name: m.Name,
  }));
  let format = f.values['format'] as string;
  if (f.values['quiet'] === true) format = '{{.Name}}';
  else if (!format || format === 'table') format = LS_TABLE;
  if (format === 'json' || format.trim() === '{{json .}}') {
    // docker marshals each row as a map: keys sorted.
    ctx.out(rows.map((r) => goJSON(r) + '\n').join(''));
  } else ctx.out(formatRows(format, rows, LS_HEADERS, { typeName: '*formatter.clientContextContext' }));
  const over = envOverrides(ctx.io.env);
  if (over)
    ctx.err(`Warning: ${over} environment variable overrides the active context. To use a context, either set the global --context flag, or unset ${over} environment variable.\n`);
  return 0;
}

// --- use / show -------------------------------------------------------------------

async function runUse(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const name = f.args[0]!;
  const store = ContextStore.fromEnv(ctx.io.env);
  if (name !== DEFAULT_CONTEXT) {
    try {
      await store.get(name);
    } catch (e) {
      throw new StatusError(1, e instanceof ContextNotFound ? `context "${name}" does not exist` : (e as Error).message);
    }
  }
  await store.setCurrentContext(name);
  ctx.out(`${name}\n`);
  ctx.err(`Current context is now "${name}"\n`);
  const over = envOverrides(ctx.io.env);
  if (over && name !== DEFAULT_CONTEXT)
    ctx.err(`Warning: ${over} environment variable overrides the active context. To use "${name}", either set the global --context flag, or unset ${over} environment variable.\n`);
  return 0;
}

async function runShow(ctx: Ctx): Promise<number> {
  ctx.out(`${current(ctx)}\n`);
  return 0;
}

// --- inspect ------------------------------------------------------------------------

/** docker's context inspect document: metadata, the names of its TLS files, where it is stored. */
export async function inspectDocument(store: ContextStore, name: string, dflt: () => ContextMeta): Promise<object> {
  if (name === DEFAULT_CONTEXT) {
    const m = dflt();
    return { Name: m.Name, Metadata: {}, Endpoints: m.Endpoints, TLSMaterial: {}, Storage: { MetadataPath: '<IN MEMORY>', TLSPath: '<IN MEMORY>' } };
  }
  const m = await store.get(name);
  const files = await store.tlsFiles(name);
  const ep = m.Endpoints.docker;
  return {
    Name: m.Name,
    Metadata: m.Metadata,
    Endpoints: ep ? { ...m.Endpoints, docker: { ...ep, Host: ep.Host ?? '', SkipTLSVerify: ep.SkipTLSVerify === true } } : m.Endpoints,
    TLSMaterial: files.length ? { docker: files } : {},
    Storage: { MetadataPath: store.metaDir(name), TLSPath: store.tlsDir(name) },
  };
}

async function runInspect(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const store = ContextStore.fromEnv(ctx.io.env);
  const names = f.args.length ? f.args : [current(ctx)];
  const format = f.values['format'] as string;
  const tmpl = format ? parseTemplate(format === 'json' ? '{{json .}}' : format) : undefined;
  const raws: string[] = [];
  const errs: string[] = [];
  for (const n of names) {
    try {
      raws.push(goJSON(await inspectDocument(store, n, () => defaultMeta(ctx))));
    } catch (e) {
      errs.push((e as Error).message);
    }
  }
  // Go's json encoder escapes <, > and & (the default context's "<IN MEMORY>").
  const esc = (s: string) => s.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  if (tmpl) writeInspect(ctx.out, tmpl, raws, errs);
  else {
    ctx.out(raws.length === 0 ? '[]\n' : esc(indentJSON(`[${raws.join(',')}]`)) + '\n');
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  }
  return 0;
}

// --- rm -------------------------------------------------------------------------------

async function runRm(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const store = ContextStore.fromEnv(ctx.io.env);
  const force = f.values['force'] === true;
  const cur = store.currentContext();
  const errs: string[] = [];
  for (const name of f.args) {
    if (name === DEFAULT_CONTEXT) {
      errs.push(`context "${DEFAULT_CONTEXT}" cannot be removed`);
      continue;
    }
    if (!(await store.exists(name))) {
      // docker: -f makes removing a context that is not there a success.
      if (force) ctx.out(`${name}\n`);
      else errs.push(`context "${name}" does not exist`);
      continue;
    }
    if (name === cur) {
      if (!force) {
        errs.push(`context "${name}" is in use, set -f flag to force remove`);
        continue;
      }
      await store.setCurrentContext(DEFAULT_CONTEXT);
    }
    await store.remove(name);
    ctx.out(`${name}\n`);
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
  return 0;
}

export const commands: Record<string, CommandDef> = {
  'context create': {
    use: 'create [OPTIONS] CONTEXT',
    flags: [
      { name: 'description', type: 'string', usage: 'Description of the context' },
      { name: 'docker', type: 'string', usage: 'set the docker endpoint: "host=tcp://HOST:2376,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=false"' },
      { name: 'from', type: 'string', usage: 'create context from a named context' },
    ],
    args: { exact: 1 },
    run: runCreate,
  },
  'context ls': {
    use: 'ls [OPTIONS]',
    flags: [
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show context names' },
    ],
    run: runLs,
  },
  'context update': {
    use: 'update [OPTIONS] CONTEXT',
    flags: [
      { name: 'description', type: 'string', usage: 'Description of the context' },
      { name: 'docker', type: 'string', usage: 'set the docker endpoint: "host=tcp://HOST:2376,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=false" (or from=CONTEXT)' },
    ],
    args: { exact: 1 },
    run: runUpdate,
  },
  'context export': { use: 'export [OPTIONS] CONTEXT [FILE|-]', flags: [], args: { min: 1, max: 2 }, run: runExport },
  'context import': { use: 'import CONTEXT FILE|-', flags: [], args: { exact: 2 }, run: runImport },
  'context use': { use: 'use CONTEXT', flags: [], args: { exact: 1 }, run: runUse },
  'context show': { use: 'show', flags: [], run: runShow },
  'context inspect': {
    use: 'inspect [OPTIONS] [CONTEXT] [CONTEXT...]',
    flags: [{ name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect }],
    args: { min: 0 },
    run: runInspect,
  },
  'context rm': {
    use: 'rm CONTEXT [CONTEXT...]',
    flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of a context in use' }],
    args: { min: 1 },
    run: runRm,
  },
};
