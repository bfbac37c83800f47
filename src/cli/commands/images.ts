// Image commands: images/image ls, image inspect, inspect, history, tag,
// rmi/image rm, load, save, import, image prune.

import { open, rename, rm, stat } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join, normalize } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ApiError, isNotFound } from '../../client/errors.js';
import { familiarName, parseAnyReference, parseReference as parseNormalizedNamed, type Reference , name as refName} from '../../image/reference.js';
import type { HistoryItem, ImageSummary } from '../../client/types.js';
import type { Client } from '../../client/client.js';
import type { HttpResponse } from '../../client/http.js';
import { formatHelp, goTime, StatusError, type CommandDef, type Ctx } from '../command.js';
import { toFilters, validateFilter, type ParsedFlags } from '../flags.js';
import { ellipsis, formatRows, isTable, parseTemplate, truncateID, writeInspect } from '../formatter.js';
import { displayJSONMessages } from '../jsonmessage.js';
import { humanDuration, humanSize, humanSizeWithPrecision } from '../units.js';

// --- shared helpers -----------------------------------------------------------

const strerror: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EPERM: 'operation not permitted',
};

/** Go's *PathError text: "open /x: no such file or directory". */
export function pathError(op: string, path: string, e: unknown): StatusError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return new StatusError(1, `${op} ${path}: ${strerror[code] ?? (e as Error).message}`);
}

async function openInput(path: string): Promise<Readable> {
  try {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return fh.createReadStream();
  } catch (e) {
    throw pathError('open', path, e);
  }
}

async function copyTo(src: Readable, out: Writable): Promise<void> {
  for await (const chunk of src) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
}

async function showStream(ctx: Ctx, res: HttpResponse): Promise<void> {
  const isTerminal = ctx.io.stdout.isTTY === true;
  // The terminal's width decides on the bar (> 110) and the time left (> 50).
  const width = isTerminal ? ctx.io.stdout.columns ?? 200 : 200;
  await displayJSONMessages(res.body, ctx.io.stdout, { isTerminal, width });
}

// --- images -------------------------------------------------------------------

export interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

export const imageHeaders: Record<string, string> = {
  Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', ID: 'IMAGE ID', CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT', Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};

function isDangling(i: ImageSummary): boolean {
  const tags = i.RepoTags ?? [];
  const digests = i.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

function tryParse(s: string): Reference | undefined {
  try {
    return parseNormalizedNamed(s);
  } catch {
    return undefined;
  }
}

/** One row per repository:tag (and per digest with --digests), as docker's imageFormat. */
export function imageRows(images: ImageSummary[], o: { trunc: boolean; digests: boolean; now?: number }): ImageRow[] {
  const now = o.now ?? Date.now();
  const rows: ImageRow[] = [];
  for (const img of images) {
    const row = (repo: string, tag: string, digest: string): ImageRow => ({
      Containers: img.Containers === -1 || img.Containers === undefined ? 'N/A' : String(img.Containers),
      CreatedAt: goTime(new Date(img.Created * 1000), 'string'),
      CreatedSince: `${humanDuration(now - img.Created * 1000)} ago`,
      Digest: digest,
      ID: o.trunc ? truncateID(img.Id) : img.Id,
      Repository: repo,
      SharedSize: img.SharedSize === -1 || img.SharedSize === undefined ? 'N/A' : humanSize(img.SharedSize),
      Size: humanSizeWithPrecision(img.Size, 3),
      Tag: tag,
      UniqueSize: img.Size === -1 || img.SharedSize === -1 || img.SharedSize === undefined ? 'N/A' : humanSize(img.Size - img.SharedSize),
      VirtualSize: humanSize(img.Size),
    });
    if (isDangling(img)) {
      rows.push(row('<none>', '<none>', '<none>'));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const t of img.RepoTags ?? []) {
      const r = tryParse(t);
      if (r?.tag && !r.digest) {
        const n = familiarName(r);
        repoTags.set(n, [...(repoTags.get(n) ?? []), r.tag]);
      }
    }
    for (const d of img.RepoDigests ?? []) {
      const r = tryParse(d);
      if (r?.digest) {
        const n = familiarName(r);
        repoDigests.set(n, [...(repoDigests.get(n) ?? []), r.digest]);
      }
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!o.digests) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(row(repo, tag, '<none>'));
        else for (const d of digests) rows.push(row(repo, tag, d));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (o.digests) for (const d of digests) rows.push(row(repo, '<none>', d));
      else rows.push(row(repo, '<none>', ''));
    }
  }
  return rows;
}

/** formatter.NewImageFormat. */
export function imageFormat(source: string, quiet: boolean, digests: boolean): string {
  if (source === 'table') {
    if (quiet) return '{{.ID}}';
    return digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  }
  if (source === 'json') return '{{json .}}';
  if (isTable(source) && digests && !source.includes('{{.Digest}}')) {
    return source.replace('{{.Tag}}', '{{.Tag}}\t{{.Digest}}');
  }
  return source;
}

async function runImages(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const v = f.values;
  const filters = toFilters(v['filter'] as string[]);
  if (f.args[0]) (filters['reference'] ??= {})[f.args[0]] = true;
  const images = await ctx.client().imageList({ all: v['all'] === true, filters });
  const digests = v['digests'] === true;
  const format = imageFormat((v['format'] as string) || 'table', v['quiet'] === true, digests);
  const rows = imageRows(images, { trunc: v['no-trunc'] !== true, digests });
  ctx.out(formatRows(format, rows, imageHeaders, { typeName: '*formatter.imageContext', marshalJSON: true }));
  return 0;
}

// --- inspect ------------------------------------------------------------------

interface Inspector {
  type: string;
  /** Raw JSON of the object; throws the daemon's error (404 when there is no such object of this type). */
  raw(client: Client, ref: string, size: boolean): Promise<string>;
}

const imageInspector: Inspector = { type: 'image', raw: (client, ref) => client.imageInspectRaw(ref) };
const containerInspector: Inspector = { type: 'container', raw: (client, ref, size) => client.containerInspectRaw(ref, { size }) };

// Docker tries container, image, network, volume, … in that order.
const networkInspector: Inspector = { type: 'network', raw: (client, ref) => client.networkInspectRaw(ref) };
const volumeInspector: Inspector = { type: 'volume', raw: (client, ref) => client.volumeInspectRaw(ref) };
const inspectors: Inspector[] = [containerInspector, imageInspector, networkInspector, volumeInspector];
const validTypes = ['config', 'container', 'image', 'node', 'network', 'plugin', 'secret', 'service', 'task', 'volume'];

async function runInspect(ctx: Ctx, f: ParsedFlags, only?: string): Promise<number> {
  const format = f.values['format'] as string;
  const type = only ?? (f.values['type'] as string | undefined) ?? '';
  if (type && !validTypes.includes(type)) throw new StatusError(1, `${JSON.stringify(type)} is not a valid value for --type`);
  const tmpl = format ? parseTemplate(format === 'json' ? '{{json .}}' : format) : undefined;
  const client = ctx.client();
  const raws: string[] = [];
  const errs: string[] = [];
  for (const ref of f.args) {
    let found: string | undefined;
    try {
      for (const ins of inspectors) {
        if (type && ins.type !== type) continue;
        try {
          found = await ins.raw(client, ref, f.values['size'] === true);
          break;
        } catch (e) {
          // Without --type a missing object only means "try the next type"; with
          // --type docker reports the daemon's own error ("No such container: x").
          if (!isNotFound(e) || (type && !only)) throw e;
        }
      }
      if (found === undefined) errs.push(only === 'image' ? `Error: No such image: ${ref}` : `Error: No such object: ${ref}`);
      else raws.push(found.trim());
    } catch (e) {
      if (e instanceof ApiError) errs.push(e.toString());
      else throw e;
    }
  }
  writeInspect(ctx.out, tmpl, raws, errs);
  return 0;
}

// --- history ------------------------------------------------------------------

export const historyHeaders: Record<string, string> = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};

export function historyRows(items: HistoryItem[], o: { human: boolean; trunc: boolean; now?: number }) {
  const now = o.now ?? Date.now();
  return items.map((h) => {
    const createdBy = h.CreatedBy.replaceAll('\t', ' ');
    const createdAt = goTime(new Date(h.Created * 1000), 'rfc3339');
    return {
      Comment: h.Comment,
      CreatedAt: createdAt,
      CreatedBy: o.trunc ? ellipsis(createdBy, 45) : createdBy,
      CreatedSince: o.human ? `${humanDuration(now - h.Created * 1000)} ago` : createdAt,
      ID: o.trunc ? truncateID(h.Id) : h.Id,
      Size: o.human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size),
    };
  });
}

export function historyFormat(source: string, quiet: boolean, human: boolean): string {
  if (source === 'table') {
    if (quiet) return '{{.ID}}';
    return human
      ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
      : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
  }
  return source === 'json' ? '{{json .}}' : source;
}

async function runHistory(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const v = f.values;
  const items = await ctx.client().imageHistory(f.args[0]!);
  const human = v['human'] !== false;
  const format = historyFormat((v['format'] as string) || 'table', v['quiet'] === true, human);
  const rows = historyRows(items, { human, trunc: v['no-trunc'] !== true });
  ctx.out(formatRows(format, rows, historyHeaders, { typeName: '*image.historyContext', marshalJSON: true }));
  return 0;
}

// --- tag, rmi -----------------------------------------------------------------

function refError(s: string, e: unknown): StatusError {
  return new StatusError(1, `Error parsing reference: ${JSON.stringify(s)} is not a valid repository/tag: ${(e as Error).message}`);
}

async function runTag(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [source, target] = f.args as [string, string];
  try {
    parseAnyReference(source);
  } catch (e) {
    throw refError(source, e);
  }
  let ref: Reference;
  try {
    ref = parseNormalizedNamed(target);
  } catch (e) {
    throw refError(target, e);
  }
  if (ref.digest) throw new StatusError(1, 'refusing to create a tag with a digest reference');
  await ctx.client().imageTag(source, refName(ref), ref.tag ?? 'latest');
  return 0;
}

async function runRmi(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const force = f.values['force'] === true;
  const client = ctx.client();
  const errs: string[] = [];
  let fatal = false;
  for (const name of f.args) {
    try {
      const dels = await client.imageRemove(name, { force, noPrune: f.values['no-prune'] === true });
      for (const d of dels) ctx.out(d.Deleted ? `Deleted: ${d.Deleted}\n` : `Untagged: ${d.Untagged ?? ''}\n`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (!isNotFound(e) || !force) fatal = true;
      errs.push(e.toString());
    }
  }
  if (errs.length) {
    if (!force || fatal) throw new StatusError(1, errs.join('\n'));
    ctx.err(errs.join('\n') + '\n');
  }
  return 0;
}

// --- load, save, import -------------------------------------------------------

async function runLoad(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const input = f.values['input'] as string;
  let body: Readable;
  if (input) body = await openInput(input);
  else {
    if (ctx.io.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
    body = ctx.io.stdin;
  }
  // Off a terminal docker always asks for the quiet form (no progress bars).
  const quiet = f.values['quiet'] === true || ctx.io.stdout.isTTY !== true;
  const res = await ctx.client().imageLoad(body, { quiet });
  if (String(res.headers['content-type'] ?? '').includes('application/json')) await showStream(ctx, res);
  else await copyTo(res.body, ctx.io.stdout);
  return 0;
}

/** docker's command.ValidateOutputPath. */
async function validateOutputPath(path: string): Promise<void> {
  const dir = dirname(normalize(path));
  if (dir !== '' && dir !== '.') {
    try {
      await stat(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`invalid output path: stat ${dir}: no such file or directory`);
      }
    }
  }
  try {
    const st = await stat(path);
    if (!st.isDirectory() && !st.isFile()) {
      throw new Error(`invalid output path: ${JSON.stringify(path)} must be a directory or a regular file`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

async function runSave(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const output = f.values['output'] as string;
  if (!output && ctx.io.stdout.isTTY) {
    throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }
  if (output) {
    try {
      await validateOutputPath(output);
    } catch (e) {
      throw new StatusError(1, `failed to save image: ${(e as Error).message}`);
    }
  }
  const res = await ctx.client().imageSave(f.args);
  if (!output) {
    await copyTo(res.body, ctx.io.stdout);
    return 0;
  }
  // Like docker's CopyToFile: write a temp file beside the target, then rename.
  const tmp = join(dirname(output), `.pier_temp_${basename(output)}_${process.pid}`);
  try {
    const ws = createWriteStream(tmp, { mode: 0o600 });
    await copyTo(res.body, ws);
    ws.end();
    await once(ws, 'close');
    await rename(tmp, output);
  } catch (e) {
    await rm(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).syscall) throw pathError('open', output, e);
    throw e;
  }
  return 0;
}

async function runImport(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const [src, ref] = f.args as [string, string | undefined];
  if (ref) {
    try {
      parseNormalizedNamed(ref);
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
  }
  let source: { stream?: Readable; name: string };
  if (src === '-') source = { stream: ctx.io.stdin, name: '-' };
  else if (src.startsWith('http://') || src.startsWith('https://')) source = { name: src };
  else source = { stream: await openInput(src), name: '-' };
  const o: { repo?: string; message?: string; changes?: string[] } = { changes: f.values['change'] as string[] };
  if (ref) o.repo = ref;
  if (f.values['message']) o.message = f.values['message'] as string;
  const res = await ctx.client().imageImport(source, o);
  await showStream(ctx, res);
  return 0;
}

// --- prune --------------------------------------------------------------------

/** command.PromptForConfirmation: true only for "y"/"Y". */
export async function confirm(ctx: Ctx, message: string): Promise<boolean> {
  ctx.out(`${message} [y/N] `);
  const stdin = ctx.io.stdin;
  let line = '';
  for await (const chunk of stdin) {
    line += String(chunk);
    const nl = line.indexOf('\n');
    if (nl !== -1) {
      line = line.slice(0, nl);
      break;
    }
  }
  stdin.pause();
  return line.trim().toLowerCase() === 'y';
}

async function runPrune(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const all = f.values['all'] === true;
  const filters = toFilters(f.values['filter'] as string[]);
  filters['dangling'] = { [String(!all)]: true };
  if (f.values['force'] !== true) {
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?'
      : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
    if (!(await confirm(ctx, warning))) return 0;
  }
  const report = await ctx.client().imagesPrune(filters);
  let reclaimed = 0;
  const deleted = report.ImagesDeleted ?? [];
  if (deleted.length > 0) {
    let s = 'Deleted Images:\n';
    for (const d of deleted) s += d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`;
    ctx.out(s + '\n');
    reclaimed = report.SpaceReclaimed;
  }
  ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

// --- definitions ----------------------------------------------------------------

const lsFlags: CommandDef['flags'] = [
  { name: 'all', short: 'a', type: 'bool', usage: 'Show all images (default hides intermediate images)' },
  { name: 'digests', type: 'bool', usage: 'Show digests' },
  { name: 'filter', short: 'f', type: 'filter', usage: 'Filter output based on conditions provided', validate: validateFilter },
  { name: 'format', type: 'string', usage: formatHelp.table },
  { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
];

const rmFlags: CommandDef['flags'] = [
  { name: 'force', short: 'f', type: 'bool', usage: 'Force removal of the image' },
  { name: 'no-prune', type: 'bool', usage: 'Do not delete untagged parents' },
];

export const commands: Record<string, CommandDef> = {
  images: { use: 'images [OPTIONS] [REPOSITORY[:TAG]]', flags: lsFlags, args: { max: 1 }, run: runImages },
  ls: { use: 'ls [OPTIONS] [REPOSITORY[:TAG]]', flags: lsFlags, args: { max: 1 }, run: runImages },
  'image inspect': {
    use: 'inspect [OPTIONS] IMAGE [IMAGE...]',
    flags: [{ name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect }],
    args: { min: 1 },
    run: (ctx, f) => runInspect(ctx, f, 'image'),
  },
  inspect: {
    use: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
    flags: [
      { name: 'format', short: 'f', type: 'string', usage: formatHelp.inspect },
      { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes if the type is container' },
      { name: 'type', type: 'string', usage: 'Only inspect objects of the given type' },
    ],
    args: { min: 1 },
    run: (ctx, f) => runInspect(ctx, f),
  },
  history: {
    use: 'history [OPTIONS] IMAGE',
    flags: [
      { name: 'format', type: 'string', usage: formatHelp.table },
      { name: 'human', short: 'H', type: 'bool', usage: 'Print sizes and dates in human readable format', default: true },
      { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
    ],
    args: { exact: 1 },
    run: runHistory,
  },
  tag: { use: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', flags: [], args: { exact: 2 }, run: runTag },
  rm: { use: 'rm [OPTIONS] IMAGE [IMAGE...]', flags: rmFlags, args: { min: 1 }, run: runRmi },
  rmi: { use: 'rmi [OPTIONS] IMAGE [IMAGE...]', flags: rmFlags, args: { min: 1 }, run: runRmi },
  load: {
    use: 'load [OPTIONS]',
    flags: [
      { name: 'input', short: 'i', type: 'string', usage: 'Read from tar archive file, instead of STDIN' },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the load output' },
    ],
    run: runLoad,
  },
  save: {
    use: 'save [OPTIONS] IMAGE [IMAGE...]',
    flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
    args: { min: 1 },
    run: runSave,
  },
  import: {
    use: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
    flags: [
      { name: 'change', short: 'c', type: 'list', usage: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', type: 'string', usage: 'Set commit message for imported image' },
    ],
    args: { min: 1, max: 2 },
    run: runImport,
  },
  prune: {
    use: 'prune [OPTIONS]',
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused images, not just dangling ones' },
      { name: 'filter', type: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")', validate: validateFilter },
      { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
    ],
    run: runPrune,
  },
};
