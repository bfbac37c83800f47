/**
 * Build args as the classic builder scopes them (moby builder/dockerfile
 * buildargs.go). Lifecycle, per build:
 *
 *   const args = BuildArgs.fromOptions(opts.buildArgs);   // --build-arg values
 *   args.processMetaArgs(metaArgs);                        // ARGs before the first FROM
 *   for each stage:
 *     expand(stage.from, args.metaEnv());                  // FROM sees only global args
 *     const st = args.forStage();                          // nothing declared yet in the stage
 *     for each instruction:
 *       const env = st.stepEnv(config.Env);                // ENV wins over an ARG of the same name
 *       const ins = expand(instruction, env);
 *       if (ins.kind === 'ARG') for (const a of ins.args) st.addArg(a.name, a.default);
 *       // RUN gets st.filterAllowed(config.Env) added to its environment
 *     args.mergeReferencedArgs(st);
 *   args.unusedWarning();  // "[Warning] One or more build-args [x] were not consumed"
 *
 * The rules that fall out: an ARG is visible from its line to the end of its
 * stage; a global ARG is visible in FROM lines, and inside a stage only once
 * redeclared (`ARG VERSION` with no value takes the global default); a
 * --build-arg value overrides any default; the predefined proxy args
 * (HTTP_PROXY … all_proxy) are usable without declaring them, but only when
 * given with --build-arg.
 *
 * The classic builder defines no automatic platform args: TARGETPLATFORM,
 * TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH and
 * BUILDVARIANT are BuildKit's only, and are unset here unless passed with
 * --build-arg (and then, like any arg, only where declared).
 */
import type { InstructionOf } from './instructions.js';
import { expand } from './instructions.js';
import { envFromList, envFromMap, type EnvGetter } from './shell-lex.js';

/** The predefined args: usable without ARG, and left out of the image history unless declared. */
export const PREDEFINED_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];
const BUILTIN = new Set(PREDEFINED_ARGS);

/** A declared arg: its default, or undefined when declared without one. */
type Declared = Map<string, string | undefined>;

export class BuildArgs {
  private allowed: Declared = new Map();
  private readonly meta: Declared = new Map();
  private readonly referenced = new Set<string>();

  private constructor(private readonly options: ReadonlyMap<string, string | undefined>) {}

  /** --build-arg values; null/undefined for a name given without a value (and not in the client's env). */
  static fromOptions(options: Readonly<Record<string, string | null | undefined>> = {}): BuildArgs {
    return new BuildArgs(new Map(Object.entries(options).map(([k, v]) => [k, v ?? undefined])));
  }

  clone(): BuildArgs {
    const c = new BuildArgs(this.options);
    for (const [k, v] of this.allowed) c.allowed.set(k, v);
    for (const [k, v] of this.meta) c.meta.set(k, v);
    for (const k of this.referenced) c.referenced.add(k);
    return c;
  }

  /** The args for a new stage: the same globals and options, nothing declared. */
  forStage(): BuildArgs {
    const c = this.clone();
    c.allowed = new Map();
    return c;
  }

  /** processMetaArg for each global ARG, in order: substituted with the args before it, then declared. */
  processMetaArgs(metaArgs: readonly InstructionOf<'ARG'>[]): void {
    for (const meta of metaArgs) {
      const ins = expand(meta, envFromMap(this.allAllowed()));
      for (const a of ins.args) {
        this.addArg(a.name, a.default);
        this.addMetaArg(a.name, a.default);
      }
    }
  }

  addMetaArg(name: string, value: string | undefined): void {
    this.meta.set(name, value);
  }

  /** An ARG in the stage (after substitution). */
  addArg(name: string, value: string | undefined): void {
    this.allowed.set(name, value);
    this.referenced.add(name);
  }

  mergeReferencedArgs(other: BuildArgs): void {
    for (const k of other.referenced) this.referenced.add(k);
  }

  /** Whether an arg belongs in the cache key and history: anything but an undeclared predefined one. */
  isReferencedOrNotBuiltin(name: string): boolean {
    return this.allowed.has(name) || !BUILTIN.has(name);
  }

  private value(name: string, declared: Declared): string | undefined {
    const option = this.options.get(name);
    if (option !== undefined) return option;
    const def = declared.get(name);
    if (def === undefined) return this.meta.get(name);
    return def;
  }

  private all(declared: Declared): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of [...declared.keys(), ...PREDEFINED_ARGS]) {
      if (out.has(name)) continue;
      const v = this.value(name, declared);
      if (v !== undefined) out.set(name, v);
    }
    return out;
  }

  /** GetAllAllowed: the stage's declared args (and predefined ones) that have a value. */
  allAllowed(): Map<string, string> {
    return this.all(this.allowed);
  }

  /** GetAllMeta: the global args (and predefined ones) that have a value. */
  allMeta(): Map<string, string> {
    return this.all(this.meta);
  }

  /** What FROM lines are substituted with. */
  metaEnv(): EnvGetter {
    return envFromMap(this.allMeta());
  }

  /** FilterAllowed: "k=v" for the args in scope that no ENV of the same name overrides. */
  filterAllowed(env: readonly string[]): string[] {
    const set = new Set(env.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
    return [...this.allAllowed()].filter(([k]) => !set.has(k)).map(([k, v]) => `${k}=${v}`);
  }

  /** A step's environment for substitution: the image's Env, then the args in scope. */
  stepEnv(env: readonly string[]): EnvGetter {
    return envFromList([...env, ...this.filterAllowed(env)]);
  }

  /** --build-arg names no stage declared (predefined ones aside), sorted. */
  unused(): string[] {
    return [...this.options.keys()].filter((k) => !this.referenced.has(k) && !BUILTIN.has(k)).sort();
  }

  /** WarnOnUnusedBuildArgs' line, or undefined. */
  unusedWarning(): string | undefined {
    const u = this.unused();
    return u.length > 0 ? `[Warning] One or more build-args [${u.join(' ')}] were not consumed\n` : undefined;
  }
}
