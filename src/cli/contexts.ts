// The context store, laid out exactly as docker's so that docker and pier share
// their contexts:
//
//   $DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json
//       {"Name":"x","Metadata":{"Description":"…"},"Endpoints":{"docker":{"Host":"tcp://…","SkipTLSVerify":false}}}
//   $DOCKER_CONFIG/contexts/tls/<sha256(name)>/docker/{ca.pem,cert.pem,key.pem}
//   $DOCKER_CONFIG/config.json  {"currentContext": "x", …}
//
// $DOCKER_CONFIG defaults to ~/.docker. The builtin "default" context is not
// stored: it is whatever -H / PIER_HOST / DOCKER_HOST and the TLS flags say.
//
//   const ctx = await loadContext('prod', process.env); // { name, host, tls?: { ca, cert, key, verify } }
//   new Client({ host: ctx.host, ...(ctx.tls ? { tls: ctx.tls } : {}) });

import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HOST } from '../client/client.js';

export type Env = Record<string, string | undefined>;

export const DEFAULT_CONTEXT = 'default';
export { DEFAULT_HOST };
export const DEFAULT_DESCRIPTION = 'Current DOCKER_HOST based configuration';
/** docker's context name rule. */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;
export const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;

/** PEM contents of a context's TLS material; verify false is docker's SkipTLSVerify. */
export interface ContextTls {
  ca?: string;
  cert?: string;
  key?: string;
  verify: boolean;
}

/** What a command needs to reach a context's daemon. */
export interface ResolvedContext {
  name: string;
  host: string;
  tls?: ContextTls;
}

/** meta.json, as docker writes it. */
export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string; [k: string]: unknown };
  Endpoints: { docker?: { Host?: string; SkipTLSVerify?: boolean; [k: string]: unknown }; [k: string]: unknown };
}

/** $DOCKER_CONFIG, else ~/.docker. */
export function configDir(env: Env): string {
  return env['DOCKER_CONFIG'] || join(env['HOME'] || homedir(), '.docker');
}

/** A context's directory name: the hex SHA-256 of its name. */
export const contextId = (name: string) => createHash('sha256').update(name).digest('hex');

export class ContextStore {
  readonly root: string;
  constructor(readonly configDir: string) {
    this.root = join(configDir, 'contexts');
  }

  static fromEnv(env: Env): ContextStore {
    return new ContextStore(configDir(env));
  }

  metaDir(name: string): string {
    return join(this.root, 'meta', contextId(name));
  }
  tlsDir(name: string): string {
    return join(this.root, 'tls', contextId(name));
  }

  /** The stored context, or an error worded as docker's when there is none. */
  async get(name: string): Promise<ContextMeta> {
    const file = join(this.metaDir(name), 'meta.json');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new ContextNotFound(name, `context "${name}": context not found: open ${file}: no such file or directory`);
      throw new Error(`context "${name}": ${err.message}`);
    }
    try {
      return normalizeMeta(JSON.parse(text) as ContextMeta);
    } catch (e) {
      throw new Error(`context "${name}": the metadata in ${file} is not valid JSON (${(e as Error).message}); remove it with "pier context rm -f ${name}"`);
    }
  }

  async exists(name: string): Promise<boolean> {
    return existsSync(join(this.metaDir(name), 'meta.json'));
  }

  /** Every stored context, sorted by name (directories without a readable meta.json are skipped). */
  async list(): Promise<ContextMeta[]> {
    let ids: string[];
    try {
      ids = await fs.readdir(join(this.root, 'meta'));
    } catch {
      return [];
    }
    const out: ContextMeta[] = [];
    for (const id of ids) {
      try {
        out.push(normalizeMeta(JSON.parse(await fs.readFile(join(this.root, 'meta', id, 'meta.json'), 'utf8')) as ContextMeta));
      } catch {
        /* a half-written or foreign directory: docker skips it too */
      }
    }
    return out.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  /** The names of the TLS files stored for a context's docker endpoint. */
  async tlsFiles(name: string): Promise<string[]> {
    try {
      return (await fs.readdir(join(this.tlsDir(name), 'docker'))).sort();
    } catch {
      return [];
    }
  }

  /** PEM contents of a context's TLS files (those that exist). */
  async tlsData(name: string): Promise<Partial<Record<'ca' | 'cert' | 'key', string>>> {
    const out: Partial<Record<'ca' | 'cert' | 'key', string>> = {};
    for (const f of TLS_FILES) {
      try {
        out[f.slice(0, -4) as 'ca' | 'cert' | 'key'] = await fs.readFile(join(this.tlsDir(name), 'docker', f), 'utf8');
      } catch {
        /* not stored */
      }
    }
    return out;
  }

  /**
   * Write a context: meta.json (mode 0644 in 0755 directories, as docker) and its
   * TLS files (0600 in 0700 directories). The metadata goes last, through a
   * rename, so a context either exists whole or not at all.
   */
  async create(meta: ContextMeta, tls: Partial<Record<'ca' | 'cert' | 'key', string | Buffer>> = {}): Promise<void> {
    const name = meta.Name;
    if (Object.keys(tls).length) {
      const dir = join(this.tlsDir(name), 'docker');
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      for (const [k, v] of Object.entries(tls)) if (v !== undefined) await fs.writeFile(join(dir, `${k}.pem`), v, { mode: 0o600 });
    }
    const dir = this.metaDir(name);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const tmp = join(dir, `.meta.json.${process.pid}`);
    await fs.writeFile(tmp, JSON.stringify(meta), { mode: 0o644 });
    await fs.rename(tmp, join(dir, 'meta.json'));
  }

  /** Rewrite a context's metadata and, when tls is given, replace all its TLS files with those. */
  async update(meta: ContextMeta, tls?: Partial<Record<'ca' | 'cert' | 'key', string | Buffer>>): Promise<void> {
    if (tls) await fs.rm(join(this.tlsDir(meta.Name), 'docker'), { recursive: true, force: true });
    await this.create(meta, tls ?? {});
  }

  async remove(name: string): Promise<void> {
    await fs.rm(this.metaDir(name), { recursive: true, force: true });
    await fs.rm(this.tlsDir(name), { recursive: true, force: true });
  }

  /** config.json's currentContext ('' when unset). */
  currentContext(): string {
    return readConfig(this.configDir)['currentContext'] as string | undefined ?? '';
  }

  /** Set (or, for "default" / '', clear) config.json's currentContext, keeping every other key. */
  async setCurrentContext(name: string): Promise<void> {
    const file = join(this.configDir, 'config.json');
    const cfg = readConfig(this.configDir);
    if (!name || name === DEFAULT_CONTEXT) delete cfg['currentContext'];
    else cfg['currentContext'] = name;
    await fs.mkdir(this.configDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    // docker writes config.json with tabs; keep its mode (it may hold credentials).
    let mode = 0o600;
    try {
      mode = (await fs.stat(file)).mode & 0o777;
    } catch {
      /* new file */
    }
    await fs.writeFile(tmp, JSON.stringify(cfg, null, '\t'), { mode });
    await fs.rename(tmp, file);
  }
}

export class ContextNotFound extends Error {
  constructor(readonly context: string, message: string) {
    super(message);
    this.name = 'ContextNotFound';
  }
}

function readConfig(dir: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(join(dir, 'config.json'), 'utf8');
  } catch {
    return {};
  }
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new Error(`${join(dir, 'config.json')} is not a valid JSON object: fix or remove it`);
}

function normalizeMeta(m: ContextMeta): ContextMeta {
  if (!m || typeof m !== 'object' || typeof m.Name !== 'string') throw new Error('no "Name"');
  return { Name: m.Name, Metadata: m.Metadata && typeof m.Metadata === 'object' ? m.Metadata : {}, Endpoints: m.Endpoints && typeof m.Endpoints === 'object' ? m.Endpoints : {} };
}

/** The settings that make the builtin "default" context (docker's -H and TLS flags, or their environment). */
export interface DefaultEndpoint {
  /** -H values given on the command line. */
  hosts?: string[];
  /** TLS from the command line, overriding the environment: undefined means "as the environment says". */
  tls?: boolean;
  tlsVerify?: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** -H, then PIER_HOST, then DOCKER_HOST, then the default socket. */
export function defaultHost(env: Env, hosts: readonly string[] = []): string {
  if (hosts.length > 1) throw new Error('Specify only one -H');
  return hosts[0] || env['PIER_HOST'] || env['DOCKER_HOST'] || DEFAULT_HOST;
}

/** $DOCKER_CERT_PATH, else ~/.docker: where --tlscacert/--tlscert/--tlskey default to. */
export const certPath = (env: Env) => env['DOCKER_CERT_PATH'] || configDir(env);

/**
 * docker's TLS options for the default context: on with --tls, --tlsverify,
 * DOCKER_TLS or DOCKER_TLS_VERIFY (any non-empty value); each file is the flag's,
 * else ca.pem/cert.pem/key.pem in the cert path. Files are read here, so a wrong
 * path is reported naming it.
 */
export function defaultTls(env: Env, o: DefaultEndpoint = {}): ContextTls | undefined {
  const verify = o.tlsVerify ?? (env['DOCKER_TLS_VERIFY'] ?? '') !== '';
  const on = verify || (o.tls ?? (env['DOCKER_TLS'] ?? '') !== '');
  if (!on) return undefined;
  const dir = certPath(env);
  // As docker: a missing default client certificate means "none"; a missing CA is an
  // error when the daemon is to be verified (there would be nothing to verify against).
  const pick = (flag: string | undefined, file: string, what: string, optional = true): string | undefined => {
    const p = flag || join(dir, file);
    if (!flag && optional && !existsSync(p)) return undefined;
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new Error(`could not read ${what} "${p}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  };
  const tls: ContextTls = { verify };
  const ca = pick(o.tlsCaCert, 'ca.pem', 'CA certificate', !verify);
  const cert = pick(o.tlsCert, 'cert.pem', 'client certificate');
  const key = pick(o.tlsKey, 'key.pem', 'client key');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if ((cert === undefined) !== (key === undefined)) throw new Error('Could not load X509 key pair: give both --tlscert and --tlskey (or neither)');
  return tls;
}

/**
 * Which context a command uses, as docker decides: --context, else "default"
 * when -H or DOCKER_HOST (or PIER_HOST) names a daemon, else DOCKER_CONTEXT,
 * else config.json's currentContext, else "default".
 */
export function currentContextName(env: Env, o: { context?: string; hosts?: readonly string[] } = {}): string {
  if (o.context) {
    if (o.hosts?.length) throw new Error('conflicting options: cannot specify both --host and --context');
    return o.context;
  }
  if (o.hosts?.length || env['PIER_HOST'] || env['DOCKER_HOST']) return DEFAULT_CONTEXT;
  if (env['DOCKER_CONTEXT']) return env['DOCKER_CONTEXT'];
  return ContextStore.fromEnv(env).currentContext() || DEFAULT_CONTEXT;
}

/** A stored context's host and TLS (docker uses TLS when it has TLS files or skips verification). */
export async function resolveStored(store: ContextStore, name: string): Promise<ResolvedContext> {
  const meta = await store.get(name);
  const ep = meta.Endpoints.docker;
  if (!ep?.Host) throw new Error(`context "${name}" has no docker endpoint: recreate it with --docker host=…`);
  const files = await store.tlsData(name);
  const skip = ep.SkipTLSVerify === true;
  const out: ResolvedContext = { name, host: ep.Host };
  if (Object.keys(files).length || skip) out.tls = { ...files, verify: !skip };
  return out;
}

/**
 * The daemon a context names, with its TLS material as PEM text. "default" is the
 * host and TLS the environment gives (PIER_HOST/DOCKER_HOST, DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH); any other name is read from the store.
 */
export async function loadContext(name: string, env: Env, dflt: DefaultEndpoint = {}): Promise<ResolvedContext> {
  if (name === DEFAULT_CONTEXT) {
    const out: ResolvedContext = { name, host: defaultHost(env, dflt.hosts) };
    const tls = defaultTls(env, dflt);
    if (tls) out.tls = tls;
    return out;
  }
  return resolveStored(ContextStore.fromEnv(env), name);
}
