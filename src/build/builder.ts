/**
 * The classic builder: a Dockerfile's stages run step by step, each step
 * making an image from the one before (a layer for RUN, COPY, ADD and a new
 * WORKDIR; a config change for the rest), with the cache deciding which steps
 * need to run at all. Output is Docker's classic builder's, line for line:
 *
 *   Step 2/7 : RUN make
 *    ---> Running in 1f2e3d4c5b6a
 *   ...the command's output...
 *    ---> Removed intermediate container 1f2e3d4c5b6a
 *    ---> 9a8b7c6d5e4f
 *
 * or ` ---> Using cache` — and, beyond Docker, ` ---> Cache miss: <why>` when
 * a step that ran before on the same image had to run again.
 *
 * Stages the target does not need are not built; a stage runs when a later
 * one names it (COPY --from, FROM <stage>).
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { posix } from 'node:path';
import { EngineError, invalid } from '../base/errdefs.js';
import { detectArchiveCompression } from '../archive/compression.js';
import type { ContainerConfig, HealthConfig, HostConfig } from '../runtime/container-config.js';
import type { BuildBackend } from './backend.js';
import type { BuildCache, StepKey } from './cache.js';
import { checksum, copyTar, findSources, packDirs } from './context.js';
import { DirFS, type ContextFS } from './contextfs.js';
import type { Instruction, InstructionOf, Stage } from './dockerfile/instructions.js';
import { applyEnv, checkStageName, copyFromStage, expand, fromStage, parseTrigger, targetStage } from './dockerfile/instructions.js';
import { BuildArgs } from './dockerfile/build-args.js';

export interface BuildOptions {
  /** The build context (read in place from the uploaded tar). */
  context: ContextFS;
  tags: string[];
  buildArgs: Record<string, string | null>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  /** Remove intermediate containers after a successful step (default), and also after a failed one with forceRm. */
  rm: boolean;
  forceRm: boolean;
  labels: Record<string, string>;
  networkMode?: string;
  platform?: string;
  shmSize?: number;
  extraHosts?: string[];
  quiet: boolean;
  signal?: AbortSignal;
}

export type Emit = (m: { stream?: string; aux?: { ID: string }; error?: string; errorDetail?: { message: string; code?: number } }) => void;


interface StageState {
  image: string;
  config: ContainerConfig;
  /** The build args as this stage sees them. */
  args: BuildArgs;
  shell: string[];
  /** A CMD was given in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
/** The history text of a step that ran no command. */
const nop = (s: string) => `/bin/sh -c #(nop) ${s}`;

export class Builder {
  private readonly out: (s: string) => void;
  private stepNo = 0;
  private totalSteps = 0;
  private readonly built = new Map<number, string>();
  /** --build-arg values and the global ARGs, scoped per stage like moby's buildargs.go (dockerfile/build-args.ts). */
  private readonly args: BuildArgs;

  constructor(
    private readonly backend: BuildBackend,
    private readonly cache: BuildCache,
    private readonly imageExists: (id: string) => boolean,
    emit: Emit,
    private readonly o: BuildOptions,
  ) {
    this.out = (s) => {
      if (!o.quiet) emit({ stream: s });
    };
    this.args = BuildArgs.fromOptions(o.buildArgs);
  }

  /** Builds the target stage (the last one by default); returns its image ID. */
  async build(stages: Stage[], metaArgs: InstructionOf<'ARG'>[]): Promise<string> {
    if (!stages.length) throw invalid('the Dockerfile has no FROM: a build needs at least one stage');
    this.args.processMetaArgs(metaArgs);
    const target = this.o.target ? targetStage(stages, this.o.target) : stages.length - 1;
    // --label: one LABEL step per label (sorted), at the end of the target stage, cached like the rest (Docker's buildLabelOptions).
    const labelSteps = Object.keys(this.o.labels).sort().map((k) => labelInstruction(k, this.o.labels[k]!));
    stages = stages.map((st, i) => (i === target && labelSteps.length ? { ...st, commands: [...st.commands, ...labelSteps] } : st));
    const needed = this.needed(stages, target);
    this.totalSteps = metaArgs.length + [...needed].reduce((n, i) => n + stages[i]!.commands.length + 1, 0);
    for (const a of metaArgs) this.step(a.original);
    for (const i of [...needed].sort((a, b) => a - b)) {
      checkStageName(stages, i);
      this.built.set(i, await this.runStage(stages, i));
    }
    const unused = this.args.unusedWarning();
    if (unused) this.out(unused);
    return this.built.get(target)!;
  }

  /** The stages the target depends on (FROM <stage>, COPY --from=<stage>), itself included. */
  private needed(stages: Stage[], target: number): Set<number> {
    const out = new Set<number>();
    const visit = (i: number) => {
      if (out.has(i)) return;
      out.add(i);
      const s = stages[i]!;
      const from = fromStage(stages, expand(s.from, this.args.metaEnv()).image, i);
      if (from !== undefined) visit(from);
      for (const ins of s.commands)
        if (ins.kind === 'COPY' && ins.from !== undefined) {
          const r = copyFromStage(stages, ins.from, i);
          if ('stage' in r) visit(r.stage);
        }
    };
    visit(target);
    return out;
  }

  private step(text: string): void {
    this.stepNo++;
    this.out(`Step ${this.stepNo}/${this.totalSteps} : ${text}\n`);
  }

  private async runStage(stages: Stage[], index: number): Promise<string> {
    const stage = stages[index]!;
    const from = expand(stage.from, this.args.metaEnv());
    this.step(stage.from.original);
    const ref = fromStage(stages, from.image, index);
    let image: string;
    let config: ContainerConfig;
    if (ref !== undefined) {
      image = this.built.get(ref)!;
      config = { ...((await this.backend.config(image)).config ?? {}) };
    } else if (from.image.toLowerCase() === 'scratch') {
      image = '';
      config = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] };
    } else {
      const img = await this.backend.image(from.image, { pull: this.o.pull, platform: from.platform ?? this.o.platform, progress: (l) => this.out(l), signal: this.o.signal });
      image = img.id;
      config = { ...(img.config.config ?? {}) };
    }
    if (image) this.out(` ---> ${short(image)}\n`);
    const st: StageState = { image, config, args: this.args.forStage(), shell: config.Shell?.length ? [...config.Shell] : ['/bin/sh', '-c'], cmdSet: false };
    // ONBUILD triggers of the base image run first.
    const triggers = config.OnBuild ?? [];
    config.OnBuild = null;
    if (triggers.length) this.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
    for (const t of triggers) await this.runInstruction(stages, index, st, parseTrigger(t), true);
    for (const ins of stage.commands) await this.runInstruction(stages, index, st, ins, false);
    this.args.mergeReferencedArgs(st.args);
    if (!st.image) throw invalid('the final stage has no layers: a stage from scratch needs at least one COPY or ADD');
    return st.image;
  }

  private async runInstruction(stages: Stage[], index: number, st: StageState, raw: Instruction, trigger: boolean): Promise<void> {
    if (!trigger) this.step(raw.original);
    const cfg = st.config;
    const ins = expand(raw, st.args.stepEnv(cfg.Env ?? []));
    const configStep = async (createdBy: string, change: () => void) => {
      change();
      // Build args are in a config step's key only through its substituted text (Docker's rule).
      await this.cached(st, { parent: st.image, instruction: createdBy, args: [], sources: '' }, () => this.backend.configOnly(st.image, cfg, createdBy));
    };
    switch (ins.kind) {
      case 'FROM':
        throw invalid('FROM inside a stage');
      case 'ARG':
        for (const a of ins.args) st.args.addArg(a.name, a.default);
        if (st.image) this.out(` ---> ${short(st.image)}\n`);
        return;
      case 'ENV':
        return configStep(nop(`ENV ${ins.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`), () => {
          cfg.Env = applyEnv(cfg.Env ?? [], ins.pairs);
        });
      case 'LABEL':
        return configStep(nop(`LABEL ${ins.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`), () => {
          cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(ins.pairs) };
        });
      case 'MAINTAINER':
        return configStep(nop(`MAINTAINER ${ins.name}`), () => undefined);
      case 'CMD':
        return configStep(nop(`CMD ${JSON.stringify(this.cmdOf(st, ins.cmd))}`), () => {
          cfg.Cmd = this.cmdOf(st, ins.cmd);
          st.cmdSet = true;
        });
      case 'ENTRYPOINT':
        return configStep(nop(`ENTRYPOINT ${JSON.stringify(this.cmdOf(st, ins.cmd))}`), () => {
          cfg.Entrypoint = Array.isArray(ins.cmd) && ins.cmd.length === 0 ? null : this.cmdOf(st, ins.cmd);
          // Docker: an ENTRYPOINT drops the CMD inherited from the base image (not one set in this stage).
          if (!st.cmdSet) cfg.Cmd = null;
        });
      case 'EXPOSE':
        return configStep(nop(`EXPOSE ${(ins.exposed ?? ins.ports).join(' ')}`), () => {
          cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
          for (const p of ins.exposed ?? ins.ports) cfg.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        });
      case 'USER':
        return configStep(nop(`USER ${ins.user}`), () => {
          cfg.User = ins.user;
        });
      case 'VOLUME':
        return configStep(nop(`VOLUME ${JSON.stringify(ins.paths)}`), () => {
          cfg.Volumes = { ...(cfg.Volumes ?? {}) };
          for (const p of ins.paths) cfg.Volumes[p] = {};
        });
      case 'STOPSIGNAL':
        return configStep(nop(`STOPSIGNAL ${ins.signal}`), () => {
          cfg.StopSignal = ins.signal;
        });
      case 'SHELL':
        return configStep(nop(`SHELL ${JSON.stringify(ins.cmd)}`), () => {
          cfg.Shell = [...ins.cmd];
          st.shell = [...ins.cmd];
        });
      case 'HEALTHCHECK': {
        const h = ins.health;
        const hc: HealthConfig = h.test[0] === 'NONE' ? { Test: ['NONE'] } : {
          Test: h.test, ...(h.interval ? { Interval: h.interval } : {}), ...(h.timeout ? { Timeout: h.timeout } : {}),
          ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}), ...(h.startInterval ? { StartInterval: h.startInterval } : {}), ...(h.retries ? { Retries: h.retries } : {}),
        };
        return configStep(nop(`HEALTHCHECK &{${JSON.stringify(h.test)} ${h.interval} ${h.timeout} ${h.startPeriod} ${h.startInterval} ${h.retries}}`), () => {
          cfg.Healthcheck = hc;
        });
      }
      case 'ONBUILD':
        return configStep(nop(`ONBUILD ${ins.expression}`), () => {
          cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression];
        });
      case 'WORKDIR': {
        const dir = posix.resolve(cfg.WorkingDir || '/', ins.path);
        const createdBy = nop(`WORKDIR ${dir}`);
        cfg.WorkingDir = dir;
        if (!st.image) {
          // From scratch there is no file system yet: Docker makes the directory when files arrive.
          return;
        }
        await this.cached(st, { parent: st.image, instruction: createdBy, args: [], sources: '' }, async () =>
          // The directory is made (root-owned, 0755) only when missing: a layer then, else just the config.
          this.withContainer(st, ['true'], async (id) => {
            const wanted = parentsOf(`${dir}/x`);
            const made = await this.backend.files(id, async (f) => {
              const existing = await f.dirs(wanted);
              if (existing.has(dir)) return false;
              await f.put('/', dirTar(wanted.filter((d) => !existing.has(d)), { uid: 0, gid: 0 }));
              return true;
            });
            return made ? this.backend.commit(id, cfg, createdBy) : this.backend.configOnly(st.image, cfg, createdBy);
          }),
        );
        return;
      }
      case 'RUN': {
        if (ins.flagsUsed.length) throw invalid(`the --${ins.flagsUsed[0]} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`);
        const cmd = this.cmdOf(st, ins.cmd, ins.heredocs);
        // The args in scope that no ENV overrides: in the RUN's environment and in its cache text (Docker's "|2 A=1 B=2 …").
        const env = st.args.filterAllowed(cfg.Env ?? []).sort();
        // Docker's cache text for RUN names the build args in effect: "|2 A=1 B=2 /bin/sh -c make".
        const createdBy = (env.length ? `|${env.length} ${env.join(' ')} ` : '') + cmd.join(' ');
        await this.cached(st, { parent: st.image, instruction: cmd.join(' '), args: env, sources: '' }, async () =>
          this.withContainer(st, cmd, async (id) => {
            const code = await this.backend.run(id, (chunk) => this.out(chunk.toString()), this.o.signal);
            if (this.o.signal?.aborted) throw new EngineError('unavailable', 'the build was cancelled: the client went away');
            if (code !== 0) throw new EngineError('invalid', `The command '${cmd.join(' ')}' returned a non-zero code: ${code}`);
            return this.backend.commit(id, cfg, createdBy);
          }, env),
        );
        return;
      }
      case 'COPY':
      case 'ADD':
        return this.withSources(stages, index, ins.kind === 'COPY' ? ins.from : undefined, (dir, scoped) => this.copy(st, ins, dir, scoped));
    }
  }

  /** fn with the directory COPY/ADD read from: the context, or a stage's or an image's file system (--from). */
  private async withSources<T>(stages: Stage[], index: number, from: string | undefined, fn: (cfs: ContextFS, scoped: boolean) => Promise<T>): Promise<T> {
    if (from === undefined) return fn(this.o.context, false);
    const ref = copyFromStage(stages, from, index);
    const img = 'stage' in ref ? this.built.get(ref.stage)! : (await this.backend.image(ref.image, { pull: false, progress: (l) => this.out(l), signal: this.o.signal })).id;
    const tmp = await this.backend.create(img, { Cmd: ['true'] }, { NetworkMode: 'none' });
    try {
      return await this.backend.withRootfs(tmp, (dir) => fn(new DirFS(dir), true));
    } finally {
      await this.backend.remove(tmp).catch(() => undefined);
    }
  }

  private async copy(st: StageState, ins: InstructionOf<'COPY'> | InstructionOf<'ADD'>, cfs: ContextFS, scoped: boolean): Promise<void> {
    const cfg = st.config;
    for (const src of ins.sources)
      if (ins.kind === 'ADD' && /^https?:\/\//.test(src))
        throw invalid(`ADD ${src}: downloading from a URL is not supported by Pier's builder (this daemon has no route to the Internet); download the file into the build context and ADD it from there`);
    const sources = ins.heredocs.length ? [] : await findSources(cfs, ins.sources, { rooted: scoped });
    const chmod = ins.chmod !== undefined ? parseChmod(ins.chmod) : undefined;
    const sum = ins.heredocs.length ? `heredoc:${ins.heredocs.map((h) => `${h.name}\0${h.content}`).join('\0')}` : await checksum(cfs, sources);
    const destAbs = posix.resolve(cfg.WorkingDir || '/', ins.dest);
    const createdBy = nop(`${ins.kind} ${sourcesText(sum, sources.some((x) => x.info.type === 'dir'))} in ${destAbs} `);
    const key = { parent: st.image, instruction: `${ins.kind} ${ins.flags.join(' ')} ${ins.sources.join(' ')} ${ins.dest}`.replace(/\s+/g, ' '), args: [], sources: sum };
    const wild = ins.sources.some((s) => /[*?[]/.test(s));
    const multi = sources.length > 1 || ins.sources.length > 1 || ins.heredocs.length > 1;
    if (multi && !ins.dest.endsWith('/')) throw invalid(`When using ${ins.kind} with more than one source file, the destination must be a directory and end with a /`);
    // The container's file system is opened once for the step: the owner, the directories on the way, the files.
    const work = async (id: string) => {
      await this.backend.files(id, async (f) => {
        const owner = ins.chown ? await f.ids(ins.chown) : { uid: 0, gid: 0 };
        const existing = await f.dirs(parentsOf(`${destAbs}/x`));
        let destIsDir = ins.dest.endsWith('/') || multi || wild;
        if (!destIsDir && sources.length === 1 && sources[0]!.info.type !== 'dir') destIsDir = existing.has(destAbs);
        // Only missing directories are made (0755, owned like the files with --chown); existing ones stay as they are.
        const missing = new Set(parentsOf(destIsDir ? `${destAbs}/x` : destAbs).filter((d) => !existing.has(d)).map((d) => d.replace(/^\/+/, '')));
        if (ins.heredocs.length) {
          await f.put('/', heredocTar(ins.heredocs, destAbs, destIsDir, owner, chmod, missing));
        } else if (ins.kind === 'ADD' && sources.length === 1 && sources[0]!.info.type === 'file' && (await isArchive(cfs.open(sources[0]!.rel)))) {
          // ADD of a local archive: unpacked at the destination, scoped to the container's root.
          const dirs = parentsOf(`${destAbs}/x`).filter((d) => !existing.has(d));
          if (dirs.length) await f.put('/', dirTar(dirs, owner));
          await f.put(destAbs, cfs.open(sources[0]!.rel));
        } else {
          await f.put('/', copyTar(cfs, sources, { dest: destAbs, destIsDir, uid: owner.uid, gid: owner.gid, mode: chmod, missing }));
        }
      });
      return this.backend.commit(id, cfg, createdBy);
    };
    if (!st.image) {
      // FROM scratch: the first files make the first layer, in a container of an empty image.
      await this.cached(st, key, async () => this.backend.fromScratch(cfg, work));
      return;
    }
    await this.cached(st, key, () => this.withContainer(st, ['true'], work));
  }

  /** A step through the cache: ` ---> Using cache` and the image, or the work, recorded. */
  private async cached(st: StageState, key: StepKey, work: () => Promise<string>): Promise<void> {
    const hit = this.o.noCache ? undefined : this.cache.lookup(key, this.imageExists);
    if (hit) {
      this.out(' ---> Using cache\n');
      st.image = hit;
    } else {
      if (!this.o.noCache && st.image) {
        const why = this.cache.whyMissed(key);
        if (why) this.out(` ---> Cache miss: ${why}\n`);
      }
      st.image = await work();
      this.cache.record(key, st.image);
    }
    this.out(` ---> ${short(st.image)}\n`);
  }

  /** Runs fn with an intermediate container of the stage's image, removed afterwards per rm/forceRm. */
  private async withContainer(st: StageState, cmd: string[], fn: (id: string) => Promise<string>, env: string[] = []): Promise<string> {
    if (!st.image) throw invalid('a stage from scratch has no file system to run a command in: COPY or ADD files into it first');
    const cfg = st.config;
    const host: HostConfig = {
      NetworkMode: this.o.networkMode || 'bridge',
      ...(this.o.shmSize ? { ShmSize: this.o.shmSize } : {}),
      ...(this.o.extraHosts?.length ? { ExtraHosts: this.o.extraHosts } : {}),
    };
    const id = await this.backend.create(st.image, {
      ...cfg, Cmd: cmd, Entrypoint: [''], Env: [...(cfg.Env ?? []), ...env], Healthcheck: null, Labels: cfg.Labels ?? {}, AttachStdout: true, AttachStderr: true, Tty: false, OpenStdin: false,
    }, host);
    if (cmd[0] !== 'true') this.out(` ---> Running in ${id.slice(0, 12)}\n`);
    let ok = false;
    try {
      const image = await fn(id);
      ok = true;
      return image;
    } finally {
      if (!ok || this.o.rm || this.o.forceRm) {
        await this.backend.remove(id).catch(() => undefined);
        if (cmd[0] !== 'true' && (ok || this.o.forceRm)) this.out(` ---> Removed intermediate container ${id.slice(0, 12)}\n`);
      }
    }
  }

  /** Shell form → the stage's SHELL around it; exec form as is. Heredocs become the script. */
  private cmdOf(st: StageState, cmd: string | string[], heredocs?: { name: string; content: string }[]): string[] {
    if (Array.isArray(cmd)) return [...cmd];
    let text = cmd;
    if (heredocs?.length) {
      // `RUN <<EOF` with only the heredoc: its content is the script; else the shell gets it on stdin-like files.
      const only = heredocs.length === 1 && new RegExp(`^<<-?["']?${heredocs[0]!.name}["']?$`).test(cmd.trim());
      if (only) text = heredocs[0]!.content;
      else text = `${cmd}\n${heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`;
    }
    return [...st.shell, text];
  }
}

function sourcesText(sum: string, dir: boolean): string {
  return sum.startsWith('heredoc:') ? 'heredoc' : `${dir ? 'dir' : 'file'}:${sum.replace(/^sha256:/, '')}`;
}

/** A LABEL step for --label k=v. */
function labelInstruction(k: string, v: string): Instruction {
  const original = `LABEL ${k}=${v}`;
  return { kind: 'LABEL', pairs: [[k, v]], original, flags: [], escape: '\\', span: { file: '--label', startLine: 0, endLine: 0, source: original } } as Instruction;
}

/** Whether a file is a tar archive, plain or compressed (ADD unpacks those): by its first 512 bytes. */
async function isArchive(s: Readable): Promise<boolean> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (n >= 512) break;
  }
  s.destroy();
  const b = Buffer.concat(chunks);
  if (detectArchiveCompression(b) !== 'none') return true;
  return b.length >= 262 && b.subarray(257, 262).toString() === 'ustar';
}

/** Every ancestor directory of an absolute path, outermost first ('/a/b/c' → '/a', '/a/b'). */
function parentsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

/** A tar of just these directories (absolute paths), 0755 and owned as given. */
function dirTar(dirs: string[], owner: { uid: number; gid: number }): Readable {
  const p = tar.pack();
  packDirs(p, dirs, owner);
  p.finalize();
  return p as unknown as Readable;
}

/** `COPY <<EOF /dest`: each heredoc a file (named after its delimiter when the destination is a directory). */
function heredocTar(docs: { name: string; content: string }[], dest: string, destIsDir: boolean, owner: { uid: number; gid: number }, mode: number | undefined, missing: Set<string>): Readable {
  const p = tar.pack();
  packDirs(p, missing, owner);
  for (const d of docs) {
    const name = (destIsDir ? posix.join(dest, d.name) : dest).replace(/^\/+/, '');
    const content = Buffer.from(d.content);
    p.entry({ name, mode: mode ?? 0o644, uid: owner.uid, gid: owner.gid, size: content.length }, content);
  }
  p.finalize();
  return p as unknown as Readable;
}

export const newBuildId = () => randomBytes(16).toString('hex');

/** --chmod=755 (octal only, as the classic builder's COPY takes it). */
function parseChmod(s: string): number {
  if (!/^[0-7]{3,4}$/.test(s)) throw invalid(`invalid --chmod=${s}: use an octal mode such as 755`);
  return parseInt(s, 8);
}
