/**
 * .dockerignore as Docker reads and matches it, ported from moby/patternmatcher
 * and moby/patternmatcher/ignorefile: Go's filepath.Match wildcards turned into
 * a regexp, `**` for any number of directories, `!` for exceptions, later lines
 * winning, a directory's result handed down to what is under it. One module
 * for both sides: `pier build` leaves ignored files out of the context it
 * sends, and the builder drops a Dockerfile or .dockerignore the file names
 * once it has read them (Docker's removeDockerfile). @balena/dockerignore ports
 * an older matcher and differs in details Docker 28 shows (case-insensitive by
 * default, `+()|{}` not escaped, `**foo` as a suffix, the parents' results).
 */
import { posix } from 'node:path';

/** filepath.Clean for '/'-separated paths. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

const BAD_PATTERN = 'syntax error in pattern';

/** ignorefile.ReadAll: comments and blank lines dropped, each pattern cleaned and made relative. */
export function parseDockerignore(content: Buffer | string): string[] {
  let text = typeof content === 'string' ? content : content.toString('utf8');
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const out: string[] = [];
  // bufio.ScanLines: split on \n, drop one trailing \r.
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.startsWith('#')) continue;
    let pattern = goTrimSpace(line);
    if (pattern === '') continue;
    const invert = pattern[0] === '!';
    if (invert) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern[0] === '/') pattern = pattern.slice(1);
    }
    out.push(invert ? '!' + pattern : pattern);
  }
  return out;
}

/** strings.TrimSpace: Unicode white space, as Go defines it. */
export function goTrimSpace(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

/** filepath.Match's syntax check: throws "syntax error in pattern" where Match would return ErrBadPattern. */
function checkGlobSyntax(p: string): void {
  const cps = [...p];
  let i = 0;
  const bad = () => new Error(BAD_PATTERN);
  // getEsc: one (possibly escaped) character of a class, which must be followed by more.
  const getEsc = () => {
    if (i >= cps.length || cps[i] === '-' || cps[i] === ']') throw bad();
    if (cps[i] === '\\') {
      i++;
      if (i >= cps.length) throw bad();
    }
    i++;
    if (i >= cps.length) throw bad();
  };
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === '\\') {
      i++;
      if (i >= cps.length) throw bad();
      i++;
    } else if (c === '[') {
      i++;
      if (i < cps.length && cps[i] === '^') i++;
      let nrange = 0;
      for (;;) {
        if (i < cps.length && cps[i] === ']' && nrange > 0) {
          i++;
          break;
        }
        getEsc();
        if (cps[i] === '-') {
          i++;
          getEsc();
        }
        nrange++;
      }
    } else i++;
  }
}

type MatchType = 'unknown' | 'exact' | 'prefix' | 'suffix' | 'regexp';
const ESCAPED = new Set([...'.+()|{}$']);

/** One pattern of a PatternMatcher: `cleaned` without its '!', `exclusion` when it had one. */
export class Pattern {
  readonly dirs: string[];
  private type: MatchType = 'unknown';
  private re?: RegExp;

  constructor(readonly cleaned: string, readonly exclusion: boolean) {
    this.dirs = cleaned.split('/');
  }

  toString(): string {
    return this.cleaned;
  }

  match(path: string): boolean {
    if (this.type === 'unknown') this.compile();
    switch (this.type) {
      case 'exact':
        return path === this.cleaned;
      case 'prefix':
        return path.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        // A leading "**" matched as a plain suffix (so "**foo" matches "barfoo", as in Docker).
        const suffix = this.cleaned.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix[0] === '/' && path === suffix.slice(1);
      }
      default:
        return this.re!.test(path);
    }
  }

  /**
   * Pattern.compile: Go's regexp text written for JavaScript: outside a class `.`
   * never matches \n and `?` is one code point, as in Go; inside a class Go's own
   * text is kept (it reads the same in both).
   */
  private compile(): void {
    let re = '^';
    let type: MatchType = 'exact';
    let inClass = false;
    const cps = [...this.cleaned];
    for (let i = 0, n = 0; i < cps.length; n++) {
      const ch = cps[i++]!;
      if (ch === '*') {
        if (cps[i] === '*') {
          i++;
          if (cps[i] === '/') i++; // "**/" is "**"
          if (i >= cps.length) {
            if (type === 'exact') type = 'prefix';
            else {
              re += inClass ? '.*' : '[^\\n]*';
              type = 'regexp';
            }
          } else {
            re += inClass ? '(.*/)?' : '(?:[^\\n]*/)?';
            type = 'regexp';
          }
          if (n === 0) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += inClass ? '[^/]' : '(?:[\\ud800-\\udbff][\\udc00-\\udfff]|[^/])';
        type = 'regexp';
      } else if (ESCAPED.has(ch)) {
        re += '\\' + ch;
      } else if (ch === '\\') {
        if (i < cps.length) {
          re += goEscape(cps[i++]!);
          type = 'regexp';
        } else re += '\\\\';
      } else if (ch === '[' || ch === ']') {
        if (ch === '[' && !inClass) inClass = true;
        else if (ch === ']' && inClass) inClass = false;
        re += ch;
        type = 'regexp';
      } else {
        re += ch;
      }
    }
    if (type === 'regexp') {
      try {
        this.re = new RegExp(re + '$');
      } catch {
        throw new Error(BAD_PATTERN);
      }
    }
    this.type = type;
  }
}

/** `\c` of a Go (RE2) regexp in JavaScript: punctuation is literal, the letters RE2 knows keep their meaning. */
function goEscape(c: string): string {
  if (/[dDwWbB]/.test(c)) return '\\' + c;
  const map: Record<string, string> = { s: '[\\t\\n\\f\\r ]', S: '[^\\t\\n\\f\\r ]', a: '\\x07', f: '\\f', t: '\\t', n: '\\n', r: '\\r', v: '\\v', A: '^', z: '$' };
  if (map[c]) return map[c]!;
  if (/[0-9A-Za-z]/.test(c)) throw new Error(BAD_PATTERN); // RE2 refuses unknown escapes
  return c.length === 1 ? '\\' + c : c;
}

/** The result of matching a directory, handed down to what is under it. */
export type MatchInfo = boolean[];

/** patternmatcher.PatternMatcher. */
export class PatternMatcher {
  readonly patterns: Pattern[] = [];
  readonly exclusions: boolean = false;

  /** patternmatcher.New: throws for a lone "!" and for patterns filepath.Match refuses. */
  constructor(patterns: readonly string[]) {
    for (let p of patterns) {
      p = goTrimSpace(p);
      if (p === '') continue;
      p = goClean(p);
      let exclusion = false;
      if (p[0] === '!') {
        if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
        this.exclusions = true;
      }
      checkGlobSyntax(p);
      this.patterns.push(new Pattern(p, exclusion));
    }
  }

  /** Matches (deprecated in Docker, still what TrimBuildFilesFromExcludes uses): one parent tried per pattern. */
  matches(file: string): boolean {
    let matched = false;
    const parentPath = posix.dirname(file);
    const parentDirs = parentPath.split('/');
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let match = p.match(file);
      if (!match && parentPath !== '.' && p.dirs.length <= parentDirs.length) {
        match = p.match(parentDirs.slice(0, p.dirs.length).join('/'));
      }
      if (match) matched = !p.exclusion;
    }
    return matched;
  }

  /** MatchesOrParentMatches: the file, or any of its parents. */
  matchesOrParentMatches(file: string): boolean {
    return this.matchesUsingParentResults(file)[0];
  }

  /**
   * MatchesUsingParentResults: with the parent directory's MatchInfo, a pattern
   * the parent matched counts as matched and only the file itself is tried
   * otherwise; without it, the parents are tried too.
   */
  matchesUsingParentResults(file: string, parent?: MatchInfo): [boolean, MatchInfo] {
    let matched = false;
    const info: MatchInfo = new Array<boolean>(this.patterns.length).fill(false);
    this.patterns.forEach((p, i) => {
      let match = parent ? parent[i]! : false;
      if (!match) {
        // An inclusion that already matched, or an exclusion with nothing to undo, changes nothing.
        if (p.exclusion !== matched) return;
        match = p.match(file);
        if (!match && !parent) {
          const parentPath = posix.dirname(file);
          if (parentPath !== '.') {
            const dirs = parentPath.split('/');
            for (let j = 0; j < dirs.length && !match; j++) match = p.match(dirs.slice(0, j + 1).join('/'));
          }
        }
      }
      info[i] = match;
      if (match) matched = !p.exclusion;
    });
    return [matched, info];
  }
}
