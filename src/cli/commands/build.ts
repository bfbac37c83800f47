// `pier build`: the client side of the classic builder, as docker 28's CLI runs
// it with DOCKER_BUILDKIT=0 (cli/command/image/build.go, RunBuild):
//
//   1. the context: a directory (tarred with its .dockerignore applied), a tar or
//      a Dockerfile on stdin, a git repository or a URL; a Dockerfile from stdin
//      (-f -) or from outside the context is added under a random name;
//   2. POST /build with the context streamed as the request body, while
//      "Sending build context to Docker daemon  2.048kB" counts it (redrawn on a
//      terminal, the last count only otherwise);
//   3. the daemon's JSON message stream, rendered like docker's; its `aux`
//      message carries the image ID (for --iidfile), and -q prints only what the
//      daemon sent in quiet mode (the ID).

import { readFileSync } from 'node:fs';
import { rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { StreamError } from '../../client/errors.js';
import type { Client } from '../../client/client.js';
import { parseReference } from '../../image/reference.js';
import {
  addDockerfileToBuildContext, getContextFromLocalDir, getContextFromReader, getDockerfileRelPath,
  getWithStatusError, gitClone, goChunks, goPathError, goReadAll, goReader, isGitURL, isURL, readDockerignore,
  resolveAndValidateContextPath, tarContext, trimBuildFilesFromExcludes, validateContextDirectory,
  type GoRead, type GoReader,
} from '../build-context.js';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import { check, goQuote, parseBool, type FlagSpec, type FlagType, type ParsedFlags } from '../flags.js';
import { displayJSONMessages, progressString } from '../jsonmessage.js';
import { kvMap, parseUlimit, ramInBytes, validateExtraHost, validateLabel } from './container-opts.js';
import { configPath } from './registry.js';

// --- DOCKER_BUILDKIT (cmd/docker/builder.go) ------------------------------------------------

const buildkitDisabledWarning = `DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0
            environment-variable.`;

const buildxMissingError = `ERROR: BuildKit is enabled but the buildx component is missing or broken.
       Install the buildx component to build images with BuildKit:
       https://docs.docker.com/go/buildx/`;

/**
 * docker's processBuilder, for a docker without the buildx plugin (pier has only
 * the classic builder): DOCKER_BUILDKIT=0 prints the deprecation notice on
 * stderr, DOCKER_BUILDKIT=1 fails, and unset says nothing (docker would suggest
 * installing buildx, which pier cannot use).
 */
function builderNotice(ctx: Ctx): void {
  const v = ctx.io.env['DOCKER_BUILDKIT'];
  if (!v) return; // empty is unset, as docker reads it
  const enabled = parseBool(v);
  if (enabled === undefined) {
    throw new StatusError(1, `DOCKER_BUILDKIT environment variable expects boolean value: strconv.ParseBool: parsing ${goQuote(v)}: invalid syntax`);
  }
  if (enabled) throw new StatusError(1, buildxMissingError);
  ctx.err(`${buildkitDisabledWarning}\n\n`);
}

// --- progress (pkg/progress.Reader, streamformatter's raw progress output) ------------------

/**
 * progress.NewProgressReader: counts the reads going through, with an update
 * every 512KiB (or 1% of a known size) at most every 100ms, one when a read
 * brings EOF, and the last one when a read brings EOF and nothing else. An update
 * is "action  size\r", the last one followed by "\r\n". `lastOnly` is docker's
 * lastProgressOutput (off a terminal).
 */
class ProgressReader implements GoReader {
  private current = 0;
  private lastUpdate = 0;
  private nextAllowed = 0;
  private readonly every: number;

  constructor(
    private readonly src: GoReader,
    private readonly write: (s: string) => void,
    private readonly size: number,
    private readonly action: string,
    private readonly lastOnly: boolean,
    private readonly width = 200,
  ) {
    this.every = size > 0 ? Math.min(512 * 1024, Math.trunc(0.01 * size)) : 512 * 1024;
  }

  async read(max: number): Promise<GoRead> {
    let r: GoRead;
    try {
      r = await this.src.read(max);
    } catch (e) {
      this.update(true);
      throw e;
    }
    this.current += r.data.length;
    if (this.current - this.lastUpdate > this.every || r.eof) {
      this.update(r.eof && r.data.length === 0);
      this.lastUpdate = this.current;
    }
    return r;
  }

  private update(last: boolean): void {
    const allow = () => {
      // rate.NewLimiter(rate.Every(100ms), 1).Allow()
      const now = Date.now();
      if (now < this.nextAllowed) return false;
      this.nextAllowed = now + 100;
      return true;
    };
    if (!(last || this.current === this.size || allow())) return;
    if (this.lastOnly && !last) return;
    const p = progressString({ current: this.current, total: this.size }, this.width);
    let s = `${this.action} ${p}\r${p === '' ? '\n' : ''}`;
    if (last) s += '\r\n';
    this.write(s);
  }
}

// --- the config file: credentials and proxies -------------------------------------------

interface ConfigFile {
  auths?: Record<string, { auth?: string; email?: string; identitytoken?: string; registrytoken?: string }>;
  proxies?: Record<string, { httpProxy?: string; httpsProxy?: string; noProxy?: string; ftpProxy?: string; allProxy?: string }>;
}

/** The client's config.json; docker goes on without it when it cannot be read. */
function loadConfig(ctx: Ctx): ConfigFile {
  try {
    const c = JSON.parse(readFileSync(configPath(ctx.io.env), 'utf8')) as ConfigFile;
    return c && typeof c === 'object' ? c : {};
  } catch {
    return {};
  }
}

type AuthConfigs = NonNullable<Parameters<Client['build']>[1]>['authConfigs'];

/** configFile.GetAllCredentials for the file store: every entry of `auths`, decoded. */
function allCredentials(c: ConfigFile): NonNullable<AuthConfigs> {
  const out: NonNullable<AuthConfigs> = {};
  for (const [server, e] of Object.entries(c.auths ?? {})) {
    if (!e || typeof e !== 'object') continue;
    const a: NonNullable<AuthConfigs>[string] = { serveraddress: server };
    if (e.auth) {
      const text = Buffer.from(e.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i <= 0) continue;
      a.username = text.slice(0, i);
      a.password = text.slice(i + 1).replace(/^\0+|\0+$/g, '');
    }
    if (e.email) a.email = e.email;
    if (e.identitytoken) a.identitytoken = e.identitytoken;
    if (e.registrytoken) a.registrytoken = e.registrytoken;
    out[server] = a;
  }
  return out;
}

/** configFile.ParseProxyConfig: the configured proxies become build args, unless already given. */
function withProxyArgs(c: ConfigFile, host: string, args: Record<string, string | null>): Record<string, string | null> {
  const p = c.proxies?.[host] ?? c.proxies?.['default'];
  if (!p) return args;
  const permitted: [string, string | undefined][] = [
    ['HTTP_PROXY', p.httpProxy], ['HTTPS_PROXY', p.httpsProxy], ['NO_PROXY', p.noProxy], ['FTP_PROXY', p.ftpProxy], ['ALL_PROXY', p.allProxy],
  ];
  for (const [k, v] of permitted) {
    if (!v) continue;
    if (!(k in args)) args[k] = v;
    if (!(k.toLowerCase() in args)) args[k.toLowerCase()] = v;
  }
  return args;
}

// --- options ----------------------------------------------------------------------------

/** A flag shown under docker's value name ("bytes", "ulimit"); repeated, the last value wins where pflag's does. */
const named = (name: string) => name as unknown as FlagType;


/** opts.ValidateEnv as a flag check; the value from the environment is taken when the build runs. */
const validateBuildArg = (v: string) => (v.split('=')[0] === '' ? `invalid environment variable: ${v}` : undefined);

const buildFlags: FlagSpec[] = [
  { name: 'add-host', type: 'list', usage: 'Add a custom host-to-IP mapping ("host:ip")', validate: check(validateExtraHost) },
  { name: 'build-arg', type: 'list', usage: 'Set build-time variables', validate: validateBuildArg },
  { name: 'cache-from', type: 'strings', usage: 'Images to consider as cache sources' },
  { name: 'cgroup-parent', type: 'string', usage: 'Set the parent cgroup for the "RUN" instructions during build' },
  { name: 'compress', type: 'bool', usage: 'Compress the build context using gzip' },
  { name: 'cpu-period', type: 'int', usage: 'Limit the CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', usage: 'Limit the CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' },
  { name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
  // Content trust (notary) is not supported: the flag is accepted and changes nothing.
  { name: 'disable-content-trust', type: 'bool', usage: 'Skip image verification', default: true },
  { name: 'file', short: 'f', type: 'string', usage: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
  { name: 'force-rm', type: 'bool', usage: 'Always remove intermediate containers' },
  { name: 'iidfile', type: 'string', usage: 'Write the image ID to the file' },
  { name: 'isolation', type: 'string', usage: 'Container isolation technology' },
  { name: 'label', type: 'list', usage: 'Set metadata for an image', validate: check(validateLabel) },
  { name: 'memory', short: 'm', type: named('bytes'), usage: 'Memory limit', validate: check(ramInBytes) },
  { name: 'memory-swap', type: named('bytes'), usage: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', validate: check((v) => v === '-1' || ramInBytes(v)) },
  { name: 'network', type: 'string', usage: 'Set the networking mode for the RUN instructions during build', default: 'default' },
  { name: 'no-cache', type: 'bool', usage: 'Do not use cache when building the image' },
  { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
  { name: 'pull', type: 'bool', usage: 'Always attempt to pull a newer version of the image' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the build output and print image ID on success' },
  { name: 'rm', type: 'bool', usage: 'Remove intermediate containers after a successful build', default: true },
  { name: 'security-opt', type: 'strings', usage: 'Security options' },
  { name: 'shm-size', type: named('bytes'), usage: 'Size of "/dev/shm"', validate: check(ramInBytes) },
  // Experimental in docker, and hidden unless the daemon is.
  { name: 'squash', type: 'bool', usage: 'Squash newly built layers into a single new layer', hidden: true },
  { name: 'tag', short: 't', type: 'list', usage: 'Name and optionally a tag in the "name:tag" format', validate: check(parseReference) },
  { name: 'target', type: 'string', usage: 'Set the target build stage to build.' },
  { name: 'ulimit', type: named('ulimit'), usage: 'Ulimit options (default [])', validate: check(parseUlimit) },
];

const lastOf = (f: ParsedFlags, name: string) => (f.values[name] as string[]).at(-1);
const bytesOf = (f: ParsedFlags, name: string) => {
  const v = lastOf(f, name);
  if (v === undefined) return 0;
  return name === 'memory-swap' && v === '-1' ? -1 : ramInBytes(v);
};

/** opts.ConvertKVStringsToMapWithNil: "k" alone is null (the daemon then takes it from the Dockerfile's ARG). */
function argsMap(list: readonly string[], env: Ctx['io']['env']): Record<string, string | null> {
  const m: Record<string, string | null> = {};
  for (let kv of list) {
    if (!kv.includes('=') && env[kv] !== undefined) kv = `${kv}=${env[kv]}`;
    const i = kv.indexOf('=');
    if (i === -1) m[kv] = null;
    else m[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return m;
}

/** os.Remove: a file, or an empty directory; "remove <path>: <why>" otherwise. */
async function goRemove(path: string): Promise<void> {
  try {
    await unlink(path);
    return;
  } catch (e) {
    try {
      await rmdir(path);
      return;
    } catch (e1) {
      throw goPathError('remove', path, (e1 as NodeJS.ErrnoException).code === 'ENOTDIR' ? e : e1);
    }
  }
}

/** A Writable collecting text into a string (docker's bytes.Buffer for -q). */
function collector(): { w: Writable; text: () => string } {
  let s = '';
  const w = new Writable({
    write(c, _e, cb) {
      s += String(c);
      cb();
    },
  });
  return { w, text: () => s };
}

// --- run --------------------------------------------------------------------------------

async function runBuild(ctx: Ctx, f: ParsedFlags): Promise<number> {
  builderNotice(ctx);
  const v = f.values;
  if (v['squash'] === true && !(await ctx.client().ping()).experimental) {
    throw new StatusError(1, '"--squash" is only supported on a Docker daemon with experimental features enabled');
  }
  const specified = f.args[0]!;
  const dockerfileName = v['file'] as string;
  const quiet = v['quiet'] === true;
  const isTerminal = ctx.io.stdout.isTTY === true;
  const dockerfileFromStdin = dockerfileName === '-';
  if (dockerfileFromStdin && specified === '-') {
    throw new StatusError(1, "invalid argument: can't use stdin for both build context and dockerfile");
  }

  // With -q, the upload progress and the build output are kept, and shown only on failure.
  let progBuff = '';
  const progOut = quiet ? (s: string) => void (progBuff += s) : ctx.out;
  const buildBuff = quiet ? collector() : undefined;

  const iidfile = v['iidfile'] as string;
  if (iidfile) {
    // No stale ID left behind if the build fails.
    try {
      await goRemove(iidfile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StatusError(1, `Removing image ID file: ${(e as Error).message}`);
    }
  }

  let context: GoReader | undefined;
  let contextDir = '';
  let relDockerfile = '';
  let tempDir = '';
  let dockerfileOutside = false;
  try {
    try {
      if (specified === '-') {
        ({ context, relDockerfile } = await getContextFromReader(goReader(ctx.io.stdin), dockerfileName));
      } else if (await exists(specified)) {
        ({ contextDir, relDockerfile } = await getContextFromLocalDir(specified, dockerfileName));
        dockerfileOutside = relDockerfile.startsWith('../');
      } else if (isGitURL(specified)) {
        ({ contextDir, relDockerfile, tempDir } = await contextFromGit(specified, dockerfileName));
      } else if (isURL(specified)) {
        // The bar's width: JSONProgress asks fd 0 (stdin) for its terminal's size.
        const width = ctx.io.stdin.isTTY ? ctx.io.stdout.columns ?? 200 : 200;
        ({ context, relDockerfile } = await contextFromURL(specified, dockerfileName, progOut, width));
      } else {
        throw new StatusError(1, `unable to prepare context: path ${goQuote(specified)} not found`);
      }
    } catch (e) {
      if (e instanceof StatusError) throw e;
      if (quiet && isURL(specified)) ctx.err(progBuff + '\n');
      throw new StatusError(1, `unable to prepare context: ${(e as Error).message}`);
    }

    // The Dockerfile outside the context is read from where -f named it.
    let dockerfile: Buffer | undefined;
    if (dockerfileOutside) {
      try {
        dockerfile = readFileSync(dockerfileName);
      } catch (e) {
        throw new StatusError(1, `unable to open Dockerfile: ${goPathError('open', dockerfileName, e).message}`);
      }
    }

    if (contextDir) {
      let excludes: string[];
      try {
        excludes = await readDockerignore(contextDir);
      } catch (e) {
        throw new StatusError(1, (e as Error).message);
      }
      try {
        await validateContextDirectory(contextDir, excludes);
      } catch (e) {
        throw new StatusError(1, `error checking context: ${(e as Error).message}`);
      }
      excludes = trimBuildFilesFromExcludes(excludes, relDockerfile, dockerfileFromStdin);
      context = goReader(tarContext(contextDir, excludes));
    }

    if (dockerfileFromStdin) dockerfile = await goReadAll(goReader(ctx.io.stdin));
    if (dockerfile && context) ({ context, relDockerfile } = addDockerfileToBuildContext(dockerfile, context));

    if (v['compress'] === true && context) context = goReader(Readable.from(goChunks(context)).pipe(createGzip()));

    const body = context ? Readable.from(goChunks(new ProgressReader(context, progOut, 0, 'Sending build context to Docker daemon', !isTerminal))) : undefined;

    const config = loadConfig(ctx);
    let platform = v['platform'] as string;
    if (!f.changed.has('platform')) platform = ctx.io.env['DOCKER_DEFAULT_PLATFORM'] ?? '';
    let res;
    try {
      res = await ctx.client().build(body, {
        tags: v['tag'] as string[],
        dockerfile: relDockerfile,
        buildArgs: withProxyArgs(config, ctx.host, argsMap(v['build-arg'] as string[], ctx.io.env)),
        labels: kvMap(v['label'] as string[]),
        target: v['target'] as string,
        quiet,
        noCache: v['no-cache'] === true,
        remove: v['rm'] === true,
        forceRemove: v['force-rm'] === true,
        pull: v['pull'] === true,
        squash: v['squash'] === true,
        networkMode: v['network'] as string,
        isolation: v['isolation'] as string,
        platform,
        cacheFrom: v['cache-from'] as string[],
        securityOpt: v['security-opt'] as string[],
        extraHosts: (v['add-host'] as string[]).map(validateExtraHost),
        ulimits: (v['ulimit'] as string[]).map(parseUlimit),
        cgroupParent: v['cgroup-parent'] as string,
        cpuSetCpus: v['cpuset-cpus'] as string,
        cpuSetMems: v['cpuset-mems'] as string,
        cpuShares: v['cpu-shares'] as number,
        cpuQuota: v['cpu-quota'] as number,
        cpuPeriod: v['cpu-period'] as number,
        memory: bytesOf(f, 'memory'),
        memorySwap: bytesOf(f, 'memory-swap'),
        shmSize: bytesOf(f, 'shm-size'),
        version: '1',
        authConfigs: allCredentials(config),
      });
    } catch (e) {
      if (quiet) ctx.err(progBuff);
      throw e;
    }

    let imageID = '';
    const aux = (m: { aux?: unknown }) => {
      // json.Unmarshal into build.Result{ID string}: field names match case-insensitively.
      const a = m.aux;
      if (a === null || typeof a !== 'object' || Array.isArray(a)) {
        ctx.err(`Failed to parse aux message: json: cannot unmarshal ${goJSONType(a)} into Go value of type build.Result`);
        return;
      }
      const rec = a as Record<string, unknown>;
      const key = 'ID' in rec ? 'ID' : Object.keys(rec).find((k) => k.toLowerCase() === 'id');
      const id = key === undefined ? undefined : rec[key];
      if (id !== undefined && id !== null && typeof id !== 'string') {
        ctx.err(`Failed to parse aux message: json: cannot unmarshal ${goJSONType(id)} into Go struct field Result.ID of type string`);
        return;
      }
      imageID = (id as string | null | undefined) ?? '';
    };
    try {
      // -q renders into the buffer as if it were the terminal it replaces.
      await displayJSONMessages(res.body, buildBuff?.w ?? ctx.io.stdout, { isTerminal, width: isTerminal ? ctx.io.stdout.columns ?? 200 : 200, aux });
    } catch (e) {
      if (e instanceof StreamError) {
        if (quiet) ctx.err(progBuff + buildBuff!.text());
        // The error's code is the exit status, 1 when it has none (as the OS keeps it: a byte).
        throw new StatusError((e.code || 1) & 0xff, e.message);
      }
      throw e;
    }

    // What the daemon said in quiet mode is the image ID.
    if (quiet) {
      imageID = buildBuff!.text();
      ctx.out(imageID);
    }
    if (iidfile) {
      if (imageID === '') throw new StatusError(1, `Server did not provide an image ID. Cannot write ${iidfile}`);
      try {
        await writeFile(iidfile, imageID, { mode: 0o666 });
      } catch (e) {
        throw new StatusError(1, goPathError('open', iidfile, e).message);
      }
    }
    return 0;
  } finally {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

/** isLocalDir: anything os.Stat finds (a file gets "context must be a directory" later). */
async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** The name Go's json gives a JSON value's type in an unmarshal error. */
function goJSONType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : 'object';
}

/** build.GetContextFromGitURL: a clone in a temporary directory; the Dockerfile must be in it. */
async function contextFromGit(url: string, dockerfileName: string): Promise<{ contextDir: string; relDockerfile: string; tempDir: string }> {
  let clone: { dir: string; root: string };
  try {
    clone = await gitClone(url);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`unable to find 'git': exec: "git": executable file not found in $PATH`);
    throw new Error(`unable to 'git clone' to temporary context directory: ${(e as Error).message}`);
  }
  try {
    const contextDir = await resolveAndValidateContextPath(clone.dir);
    const relDockerfile = await getDockerfileRelPath(contextDir, dockerfileName);
    if (relDockerfile.startsWith('../')) throw new Error(`the Dockerfile (${dockerfileName}) must be within the build context`);
    return { contextDir, relDockerfile, tempDir: clone.root };
  } catch (e) {
    await rm(clone.root, { recursive: true, force: true });
    throw e;
  }
}

/**
 * build.GetContextFromURL: the download, with its own progress (every update,
 * terminal or not), read as a tar or as a Dockerfile.
 */
async function contextFromURL(url: string, dockerfileName: string, out: (s: string) => void, width: number): Promise<{ context: GoReader; relDockerfile: string }> {
  let res: Response;
  try {
    res = await getWithStatusError(url);
  } catch (e) {
    throw new Error(`unable to download remote context ${url}: ${(e as Error).message}`);
  }
  const header = res.headers.get('content-length');
  const length = header !== null && /^\d+$/.test(header) ? Number(header) : -1;
  const body = res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]);
  // A response body ends with its last bytes and EOF in the same read, and its first
  // read gets what followed the head in net/http's 4096-byte connection buffer.
  let head = `HTTP/1.1 ${res.status} ${res.statusText}\r\n\r\n`.length;
  res.headers.forEach((value, name) => (head += Buffer.byteLength(`${name}: ${value}\r\n`)));
  const download = new ProgressReader(goReader(body, true, head < 4096 ? 4096 - head : Infinity), out, length, `Downloading build context from remote url: ${url}`, false, width);
  return getContextFromReader(download, dockerfileName);
}

export const commands: Record<string, CommandDef> = {
  build: { use: 'build [OPTIONS] PATH | URL | -', flags: buildFlags, args: { exact: 1 }, run: runBuild },
};
