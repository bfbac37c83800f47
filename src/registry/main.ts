/**
 * `pier registry serve|gc`: flags and config file → serveRegistry / collectGarbage.
 *
 *   pier registry serve --root /srv/registry --addr 0.0.0.0:5000 --htpasswd /etc/pier/htpasswd
 *   pier registry gc --root /srv/registry --dry-run
 *
 * A key given both as a flag and in --config is refused (as pierd does), and so
 * is an unknown key: a typo never silently falls back to a default.
 */
import { readFile } from 'node:fs/promises';
import { Logger, LEVELS, type Level } from '../base/log.js';
import { messageOf } from '../base/errdefs.js';
import type { Authenticator, PullThrough } from './hooks.js';
import { collectGarbage, DEFAULT_GRACE_MS } from './gc.js';
import { serveRegistry, type ServeOptions } from './server.js';

export interface RegistryIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** Stops `serve` like SIGTERM does (tests, embedding). */
  signal?: AbortSignal;
  /** Called once `serve` listens, with its URL. */
  onListening?: (url: string) => void;
}

export const DEFAULT_ADDR = '127.0.0.1:5000';
export const DEFAULT_ROOT = '/var/lib/pier-registry';

export const USAGE = `Usage:  pier registry COMMAND [OPTIONS]

Run an OCI distribution (Docker Registry v2) server.

Commands:
  serve   Serve the registry
  gc      Delete blobs and manifests nothing references

serve options:
      --addr HOST:PORT       Listen address (default ${DEFAULT_ADDR})
      --root DIR             Storage directory (default ${DEFAULT_ROOT})
      --config FILE          JSON config: addr, root, logLevel, auth {htpasswd, token},
                             proxy [{prefix, url, username, password, insecure}],
                             tls {cert, key}, limits {maxManifestBytes, maxBlobBytes, uploadTtlMs}
      --tls-cert FILE        TLS certificate (PEM); with --tls-key serves https
      --tls-key FILE         TLS private key (PEM)
      --htpasswd FILE        Require HTTP Basic auth against an htpasswd (bcrypt) file
      --proxy PREFIX=URL     Pull through from URL for repositories under PREFIX/ (repeatable)
      --log-level LEVEL      debug, info, warn, error (default info)
      --log-format FORMAT    json or text (default json)

gc options:
      --root DIR             Storage directory (default ${DEFAULT_ROOT})
      --dry-run              Report what would be deleted, delete nothing
      --delete-untagged      Also delete manifests no tag (or kept manifest) reaches
      --grace DURATION       Never delete what was written this recently (default 1h; e.g. 0, 90s, 10m)
      --log-level LEVEL      debug, info, warn, error (default warn)
`;

interface ProxyEntry {
  prefix: string;
  url: string;
  username?: string;
  password?: string;
  insecure?: boolean;
}

interface FileConfig {
  addr?: string;
  root?: string;
  logLevel?: Level;
  auth?: { htpasswd?: string; token?: Record<string, unknown> };
  proxy?: ProxyEntry[];
  tls?: { cert: string; key: string };
  limits?: { maxManifestBytes?: number; maxBlobBytes?: number; uploadTtlMs?: number };
}

class UsageError extends Error {}

/** Parses `--flag value`, `--flag=value` and boolean flags; repeatable flags collect. */
function parseFlags(argv: string[], spec: { values: string[]; bools: string[]; repeat?: string[] }): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (spec.bools.includes(name)) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      out.set(name, ['true']);
      continue;
    }
    if (!spec.values.includes(name)) throw new UsageError(`unknown flag --${name}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (out.has(name) && !spec.repeat?.includes(name)) throw new UsageError(`--${name} given twice`);
    out.set(name, [...(out.get(name) ?? []), value]);
  }
  return out;
}

export function parseDuration(s: string): number {
  const m = s.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m|h)?$/);
  if (!m) throw new UsageError(`invalid duration "${s}": expected e.g. 0, 500ms, 90s, 10m, 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * unit);
}

function level(s: string | undefined, dflt: Level): Level {
  if (s === undefined) return dflt;
  if (!LEVELS.includes(s as Level)) throw new UsageError(`invalid log level "${s}": one of ${LEVELS.join(', ')}`);
  return s as Level;
}

const CONFIG_KEYS = ['addr', 'root', 'logLevel', 'auth', 'proxy', 'tls', 'limits'];
const LIMIT_KEYS = ['maxManifestBytes', 'maxBlobBytes', 'uploadTtlMs'];

async function readConfig(path: string): Promise<FileConfig> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`config ${path}: ${messageOf(e)}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`config ${path}: expected a JSON object`);
  const c = doc as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!CONFIG_KEYS.includes(k)) throw new UsageError(`config ${path}: unknown key "${k}"`);
  for (const k of ['addr', 'root', 'logLevel'] as const) if (c[k] !== undefined && typeof c[k] !== 'string') throw new UsageError(`config ${path}: ${k} must be a string`);
  if (c.limits !== undefined) {
    if (!c.limits || typeof c.limits !== 'object') throw new UsageError(`config ${path}: limits must be an object`);
    for (const [k, v] of Object.entries(c.limits)) {
      if (!LIMIT_KEYS.includes(k)) throw new UsageError(`config ${path}: unknown key "limits.${k}"`);
      if (typeof v !== 'number' || !(v > 0)) throw new UsageError(`config ${path}: limits.${k} must be a positive number`);
    }
  }
  if (c.tls !== undefined) {
    const t = c.tls as Record<string, unknown>;
    if (!t || typeof t.cert !== 'string' || typeof t.key !== 'string') throw new UsageError(`config ${path}: tls needs cert and key file paths`);
  }
  if (c.proxy !== undefined) {
    if (!Array.isArray(c.proxy)) throw new UsageError(`config ${path}: proxy must be a list of {prefix, url}`);
    c.proxy = c.proxy.map((p: Record<string, unknown>, i) => {
      // `upstream` is accepted as another name for `url`.
      const url = p?.url ?? p?.upstream;
      if (typeof p?.prefix !== 'string' || typeof url !== 'string') throw new UsageError(`config ${path}: proxy[${i}] needs prefix and url`);
      for (const k of Object.keys(p)) if (!['prefix', 'url', 'upstream', 'username', 'password', 'insecure'].includes(k)) throw new UsageError(`config ${path}: unknown key "proxy[${i}].${k}"`);
      return { prefix: p.prefix, url, username: p.username, password: p.password, insecure: p.insecure } as ProxyEntry;
    });
  }
  if (c.auth !== undefined) {
    const a = c.auth as Record<string, unknown>;
    if (!a || typeof a !== 'object') throw new UsageError(`config ${path}: auth must be an object`);
    for (const k of Object.keys(a)) if (!['htpasswd', 'token'].includes(k)) throw new UsageError(`config ${path}: unknown key "auth.${k}"`);
  }
  return c as FileConfig;
}

/** One value from a flag or the config file, never both. */
function pick<T>(flag: T | undefined, file: T | undefined, name: string): T | undefined {
  if (flag !== undefined && file !== undefined) throw new UsageError(`${name} is set both as a flag and in the config file`);
  return flag ?? file;
}

export async function runRegistry(argv: string[], io: RegistryIO): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help' || rest.includes('--help')) {
      io.stdout.write(USAGE);
      return cmd ? 0 : 1;
    }
    if (cmd === 'serve') return await serve(rest, io);
    if (cmd === 'gc') return await gc(rest, io);
    throw new UsageError(`unknown command "${cmd}"`);
  } catch (e) {
    io.stderr.write(`pier registry: ${messageOf(e)}\n`);
    if (e instanceof UsageError) io.stderr.write(`See 'pier registry --help'.\n`);
    return e instanceof UsageError ? 125 : 1;
  }
}

async function serve(argv: string[], io: RegistryIO): Promise<number> {
  const f = parseFlags(argv, {
    values: ['addr', 'root', 'config', 'tls-cert', 'tls-key', 'htpasswd', 'proxy', 'log-level', 'log-format'],
    bools: [],
    repeat: ['proxy'],
  });
  const one = (k: string) => f.get(k)?.[0];
  const file: FileConfig = one('config') ? await readConfig(one('config')!) : {};
  const format = one('log-format') ?? 'json';
  if (format !== 'json' && format !== 'text') throw new UsageError(`invalid log format "${format}": json or text`);
  const log = new Logger(io.stderr, level(pick(one('log-level'), file.logLevel, 'log level'), 'info'), { component: 'registry' }, format);

  const flagTls = one('tls-cert') || one('tls-key') ? { cert: one('tls-cert')!, key: one('tls-key')! } : undefined;
  if (flagTls && (!flagTls.cert || !flagTls.key)) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = pick(flagTls, file.tls, 'tls');

  const flagProxy = f.get('proxy')?.map((p): ProxyEntry => {
    const eq = p.indexOf('=');
    if (eq < 0) throw new UsageError(`invalid --proxy "${p}": expected PREFIX=URL`);
    return { prefix: p.slice(0, eq), url: p.slice(eq + 1) };
  });
  const proxyCfg = pick(flagProxy, file.proxy, 'proxy');
  const htpasswd = pick(one('htpasswd'), file.auth?.htpasswd, 'htpasswd');
  const authCfg = htpasswd || file.auth?.token ? { htpasswd, token: file.auth?.token } : undefined;

  let auth: Authenticator | undefined;
  let proxy: (PullThrough & { close?(): void }) | undefined;
  // Loaded only when configured: they pull in crypto libraries a plain registry does not need.
  if (authCfg) {
    const { createAuthenticator } = await import('./auth/index.js');
    auth = await createAuthenticator(authCfg as Parameters<typeof createAuthenticator>[0], { log });
  }
  if (proxyCfg?.length) {
    const { createProxy } = await import('./proxy/index.js');
    proxy = createProxy(proxyCfg, { log });
  }

  const opts: ServeOptions = {
    addr: pick(one('addr'), file.addr, 'addr') ?? DEFAULT_ADDR,
    root: pick(one('root'), file.root, 'root') ?? io.env.PIER_REGISTRY_ROOT ?? DEFAULT_ROOT,
    auth,
    proxy,
    tls,
    maxManifestBytes: file.limits?.maxManifestBytes,
    maxBlobBytes: file.limits?.maxBlobBytes,
    uploadTtlMs: file.limits?.uploadTtlMs,
    log,
  };
  const server = await serveRegistry(opts);
  io.onListening?.(server.url);

  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      io.signal?.removeEventListener('abort', onAbort);
      log.info({ signal: why }, 'shutting down');
      resolve();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    const onAbort = () => stop('abort');
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);
    if (io.signal?.aborted) return stop('abort');
    io.signal?.addEventListener('abort', onAbort, { once: true });
  });
  await server.close();
  proxy?.close?.();
  return 0;
}

async function gc(argv: string[], io: RegistryIO): Promise<number> {
  const f = parseFlags(argv, { values: ['root', 'grace', 'log-level', 'config'], bools: ['dry-run', 'delete-untagged'] });
  const one = (k: string) => f.get(k)?.[0];
  const file: FileConfig = one('config') ? await readConfig(one('config')!) : {};
  const root = pick(one('root'), file.root, 'root') ?? io.env.PIER_REGISTRY_ROOT ?? DEFAULT_ROOT;
  const log = new Logger(io.stderr, level(one('log-level'), 'warn'), { component: 'registry-gc' }, 'text');
  const dryRun = f.has('dry-run');
  const r = await collectGarbage(root, {
    dryRun,
    deleteUntagged: f.has('delete-untagged'),
    graceMs: one('grace') !== undefined ? parseDuration(one('grace')!) : DEFAULT_GRACE_MS,
    log,
  });
  const verb = dryRun ? 'would delete' : 'deleted';
  for (const m of r.manifestsDeleted) io.stdout.write(`${verb} manifest ${m.repo}@${m.digest}\n`);
  for (const d of r.blobsDeleted) io.stdout.write(`${verb} blob ${d}\n`);
  io.stdout.write(
    `${r.repositories} repositories; manifests: ${r.manifestsKept} kept, ${r.manifestsDeleted.length} ${verb}; ` +
      `blobs: ${r.blobsKept} kept, ${r.blobsDeleted.length} ${verb} (${humanBytes(r.bytesFreed)}${dryRun ? ' would be freed' : ' freed'})\n`,
  );
  return 0;
}

function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}
