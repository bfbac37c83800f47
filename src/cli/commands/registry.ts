// Registry commands: pull, push, login, logout.
//
// Credentials live where docker keeps them, $DOCKER_CONFIG/config.json or
// ~/.docker/config.json, as {"auths":{"localhost:5000":{"auth":"base64(user:pass)"}}}
// (Docker Hub under "https://index.docker.io/v1/"), and go to the daemon in the
// X-Registry-Auth header: base64url JSON {username, password, serveraddress}.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { familiarName, name as refName, parseReference, toString as refString, withDefaultTag, type Reference } from '../../image/reference.js';
import type { HttpResponse } from '../../client/http.js';
import { readAll } from '../../client/client.js';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';
import { displayJSONMessages } from '../jsonmessage.js';

export const INDEX_SERVER = 'https://index.docker.io/v1/';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

// --- credentials (docker's config.json) ---------------------------------------------------

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  [k: string]: unknown;
}
interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  [k: string]: unknown;
}

export function configPath(env: Ctx['io']['env']): string {
  return join(env['DOCKER_CONFIG'] || join(env['HOME'] || homedir(), '.docker'), 'config.json');
}

async function readConfig(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new StatusError(1, `loading config file: ${(e as Error).message}`);
  }
  if (text.trim() === '') return {};
  try {
    const c = JSON.parse(text) as ConfigFile;
    return c && typeof c === 'object' ? c : {};
  } catch (e) {
    throw new StatusError(1, `loading config file: ${path}: ${(e as Error).message}`);
  }
}

/** Written like docker's: tab-indented, mode 0600, through a temp file and a rename. */
async function writeConfig(path: string, c: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(c, null, '\t'), { mode: 0o600 });
  await rename(tmp, path);
}

/** credentials.ConvertToHostname: "https://host:5000/v2/" → "host:5000". */
export function convertToHostname(server: string): string {
  return server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** The config.json key of a registry domain (references say "docker.io"; docker stores the Hub under its v1 index URL). */
export const authKey = (domain: string) => (HUB_ALIASES.has(domain) ? INDEX_SERVER : domain);

/** Keys of `auths` that mean `domain`, the exact key first. */
function matchingKeys(c: ConfigFile, domain: string): string[] {
  const keys = Object.keys(c.auths ?? {});
  const hub = HUB_ALIASES.has(domain);
  const matches = (k: string) => (hub ? k === INDEX_SERVER || HUB_ALIASES.has(convertToHostname(k)) : convertToHostname(k) === domain);
  const key = authKey(domain);
  return [...keys.filter((k) => k === key), ...keys.filter((k) => k !== key && matches(k))];
}

export interface AuthConfig {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress: string;
}

/** The stored credentials for a registry domain, if any. */
export async function storedAuth(env: Ctx['io']['env'], domain: string): Promise<AuthConfig | undefined> {
  const c = await readConfig(configPath(env));
  for (const k of matchingKeys(c, domain)) {
    const e = c.auths![k]!;
    const a: AuthConfig = { serveraddress: authKey(domain) };
    if (e.auth) {
      const text = Buffer.from(e.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i < 0) throw new StatusError(1, `invalid auth configuration file: the "auth" of ${k} is not base64 user:password`);
      a.username = text.slice(0, i);
      a.password = text.slice(i + 1);
    }
    if (e.identitytoken) a.identitytoken = e.identitytoken;
    return a;
  }
  return undefined;
}

/** X-Registry-Auth: base64url (padded, like Go's URLEncoding) of the JSON AuthConfig. */
export function encodeAuth(a: AuthConfig | undefined): string {
  return Buffer.from(JSON.stringify(a ?? {})).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

// --- output -------------------------------------------------------------------------------

async function showStream(ctx: Ctx, res: HttpResponse, quiet: boolean): Promise<void> {
  if (quiet) {
    // Errors in the stream still fail the command; the progress itself is dropped.
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await displayJSONMessages(res.body, sink, {});
    return;
  }
  const isTerminal = ctx.io.stdout.isTTY === true;
  const width = isTerminal ? ctx.io.stdout.columns ?? 200 : 200;
  await displayJSONMessages(res.body, ctx.io.stdout, { isTerminal, width });
}

function parseRef(s: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
}

// --- pull ---------------------------------------------------------------------------------

async function runPull(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const all = f.values['all-tags'] === true;
  const quiet = f.values['quiet'] === true;
  let ref = parseRef(f.args[0]!);
  if (all && (ref.tag !== undefined || ref.digest !== undefined)) throw new StatusError(1, "tag can't be used with --all-tags/-a");
  if (!all && ref.tag === undefined && ref.digest === undefined) {
    ref = withDefaultTag(ref);
    if (!quiet) ctx.out(`Using default tag: ${ref.tag}\n`);
  }
  const query: Record<string, string> = { fromImage: refName(ref) };
  if (!all) query['tag'] = ref.digest ?? ref.tag!;
  const platform = f.values['platform'] as string;
  if (platform) query['platform'] = platform.toLowerCase();
  const auth = await storedAuth(ctx.io.env, ref.domain);
  const res = await ctx.client().request('POST', '/images/create', { query, headers: { 'X-Registry-Auth': encodeAuth(auth) } });
  await showStream(ctx, res, quiet);
  ctx.out(`${refString(ref)}\n`);
  return 0;
}

// --- push ---------------------------------------------------------------------------------

async function runPush(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const all = f.values['all-tags'] === true;
  const quiet = f.values['quiet'] === true;
  let ref = parseRef(f.args[0]!);
  if (ref.digest !== undefined) throw new StatusError(1, 'cannot push a digest reference');
  if (all && ref.tag !== undefined) throw new StatusError(1, "tag can't be used with --all-tags/-a");
  if (!all && ref.tag === undefined) {
    ref = withDefaultTag(ref);
    if (!quiet) ctx.out(`Using default tag: ${ref.tag}\n`);
  }
  const auth = await storedAuth(ctx.io.env, ref.domain);
  const path = `/images/${familiarName(ref).split('/').map(encodeURIComponent).join('/')}/push`;
  const query: Record<string, string> = {};
  if (!all) query['tag'] = ref.tag!;
  const res = await ctx.client().request('POST', path, { query, headers: { 'X-Registry-Auth': encodeAuth(auth) } });
  await showStream(ctx, res, quiet);
  if (quiet) ctx.out(`${refString(ref)}\n`);
  return 0;
}

// --- login / logout -----------------------------------------------------------------------

/** Reads one line from stdin; with `hidden`, a terminal does not echo it. */
async function readLine(ctx: Ctx, prompt: string, hidden = false): Promise<string> {
  const stdin = ctx.io.stdin as NodeJS.ReadStream;
  ctx.out(prompt);
  const raw = hidden && stdin.isTTY && typeof stdin.setRawMode === 'function';
  if (raw) stdin.setRawMode(true);
  let line = '';
  try {
    for await (const chunk of stdin) {
      const s = String(chunk);
      let done = false;
      for (const ch of s) {
        if (ch === '\n' || ch === '\r') {
          done = true;
          break;
        }
        if (raw && ch === '\u0003') throw new StatusError(130, '');
        if (raw && (ch === '\u007f' || ch === '\b')) line = line.slice(0, -1);
        else line += ch;
      }
      if (done) break;
    }
  } finally {
    if (raw) {
      stdin.setRawMode(false);
      ctx.out('\n');
    }
    stdin.pause();
  }
  return line;
}

async function runLogin(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const given = f.args[0];
  const domain = given ? (HUB_ALIASES.has(convertToHostname(given)) ? 'docker.io' : convertToHostname(given)) : 'docker.io';
  const server = authKey(domain);
  let username = (f.values['username'] as string).trim();
  let password = f.values['password'] as string;
  const fromStdin = f.values['password-stdin'] === true;
  if (password && fromStdin) throw new StatusError(1, '--password and --password-stdin are mutually exclusive');
  if (fromStdin) {
    if (!username) throw new StatusError(1, 'Must provide --username with --password-stdin');
    password = (await readAll(ctx.io.stdin)).toString('utf8').replace(/\r?\n$/, '');
  } else if (password) {
    ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  const tty = ctx.io.stdin.isTTY === true;
  if ((!username || !password) && !tty) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
  if (!username) username = (await readLine(ctx, 'Username: ')).trim();
  if (!username) throw new StatusError(1, 'Error: Non-null Username Required');
  if (!password) password = await readLine(ctx, 'Password: ', true);
  if (!password) throw new StatusError(1, 'Error: Password Required');

  const res = await ctx.client().json<{ Status?: string; IdentityToken?: string }>('POST', '/auth', { body: { username, password, serveraddress: server } });
  const path = configPath(ctx.io.env);
  const c = await readConfig(path);
  c.auths ??= {};
  for (const k of matchingKeys(c, domain)) delete c.auths[k];
  c.auths[server] = res?.IdentityToken
    ? { auth: Buffer.from(`${username}:`).toString('base64'), identitytoken: res.IdentityToken }
    : { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  try {
    await writeConfig(path, c);
  } catch (e) {
    throw new StatusError(1, `Error saving credentials: ${(e as Error).message}`);
  }
  ctx.err(`WARNING! Your credentials are stored unencrypted in '${path}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
  ctx.out(`${res?.Status || 'Login Succeeded'}\n`);
  return 0;
}

async function runLogout(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const given = f.args[0];
  const domain = given ? (HUB_ALIASES.has(convertToHostname(given)) ? 'docker.io' : convertToHostname(given)) : 'docker.io';
  const server = authKey(domain);
  const path = configPath(ctx.io.env);
  const c = await readConfig(path);
  const keys = matchingKeys(c, domain);
  if (keys.length === 0) {
    ctx.out(`Not logged in to ${server}\n`);
    return 0;
  }
  ctx.out(`Removing login credentials for ${server}\n`);
  for (const k of keys) delete c.auths![k];
  await writeConfig(path, c);
  return 0;
}

// --- definitions ----------------------------------------------------------------------------

const pullDef: CommandDef = {
  use: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', usage: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: 'bool', usage: 'Skip image verification', default: true, hidden: true },
    { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
  ],
  args: { exact: 1 },
  run: runPull,
};

const pushDef: CommandDef = {
  use: 'push [OPTIONS] NAME[:TAG]',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', usage: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', usage: 'Skip image signing', default: true, hidden: true },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
  ],
  args: { exact: 1 },
  run: runPush,
};

export const commands: Record<string, CommandDef> = {
  pull: pullDef,
  push: pushDef,
  login: {
    use: 'login [OPTIONS] [SERVER]',
    flags: [
      { name: 'password', short: 'p', type: 'string', usage: 'Password or Personal Access Token (PAT)' },
      { name: 'password-stdin', type: 'bool', usage: 'Take the Password or Personal Access Token (PAT) from stdin' },
      { name: 'username', short: 'u', type: 'string', usage: 'Username' },
    ],
    args: { max: 1 },
    run: runLogin,
  },
  logout: { use: 'logout [SERVER]', flags: [], args: { max: 1 }, run: runLogout },
};
