/**
 * Docker's variable substitution for Dockerfile instructions (BuildKit's
 * frontend/dockerfile/shell, which the classic builder of Docker 28 uses too).
 * It mimics a POSIX shell word, without running anything:
 *
 *   $name ${name}            the value, or '' when unset
 *   ${name:-word} ${name-word}   word when name is unset or empty (':-') / unset ('-')
 *   ${name:+word} ${name+word}   word when name is set and non-empty (':+') / set ('+')
 *   ${name:?msg}  ${name?msg}    an error "name: msg" when unset or empty / unset
 *   ${name#pat} ${name##pat}     remove the shortest / longest prefix matching pat
 *   ${name%pat} ${name%%pat}     remove the shortest / longest suffix matching pat
 *   ${name/pat/repl} ${name//pat/repl}  replace the first / every match of pat
 *
 * Patterns know `*`, `?` and backslash escapes (no bracket expressions). `word`
 * may itself hold substitutions. Single quotes are literal; in double quotes
 * only `$` and escapes of `"`, `$` and the escape character are special;
 * outside quotes the escape character (`\` or `` ` `` per `# escape=`) makes
 * the next character literal. Names are letters, digits and `_`; `$1`..`$9…`
 * and the special parameters `$@ $* $# $? $- $$ $! $0` are never set.
 * Anything else after `${name` is an error ("unsupported modifier (:=) in
 * substitution"), as are `${}` and `${:x}` ("bad substitution").
 *
 *   new ShellLex('\\').processWord('${FOO:-/bar}/x', envFromList(['FOO=']))   // '/bar/x'
 *   new ShellLex('\\').processWords('$PORTS 9000', envFromList(['PORTS=80 443']))  // ['80','443','9000']
 *
 * processWords splits on white space after substitution (a value's own spaces
 * split too; quoted text does not): EXPOSE uses it. Every other instruction
 * uses processWord, which keeps spaces.
 *
 * Divergence: BuildKit's processWords shares one word buffer between a word
 * and the `${…}` nested in it, so `a${X:-b}c` splits oddly there; here each
 * level has its own buffer (the evident intent, and what processWord gives).
 */
import { invalid } from '../../base/errdefs.js';
import { goQuote, isSpace } from './go-syntax.js';

/** The variables a word is expanded with. Keys compare exactly (Linux). */
export interface EnvGetter {
  get(name: string): string | undefined;
  keys(): string[];
}

/** shell.EnvsFromSlice: "KEY=value" entries (a bare "KEY" is set and empty); a later entry wins. */
export function envFromList(list: readonly string[]): EnvGetter {
  const m = new Map<string, string>();
  const keys: string[] = [];
  for (const e of list) {
    const i = e.indexOf('=');
    const k = i < 0 ? e : e.slice(0, i);
    keys.push(k);
    m.set(k, i < 0 ? '' : e.slice(i + 1));
  }
  return { get: (k) => m.get(k), keys: () => keys };
}

export function envFromMap(map: ReadonlyMap<string, string> | Readonly<Record<string, string>>): EnvGetter {
  const m = map instanceof Map ? new Map(map) : new Map(Object.entries(map));
  return { get: (k) => m.get(k), keys: () => [...m.keys()] };
}

export const EMPTY_ENV: EnvGetter = { get: () => undefined, keys: () => [] };

export interface LexOptions {
  /** Keep quote characters in the result (heredoc detection). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of ''. */
  skipUnsetEnv?: boolean;
}

export interface ProcessResult {
  result: string;
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

/** Raised for a malformed word; message "failed to process \"word\": …" as Docker says it. */
class LexError extends Error {}

const EOF = '';

export class ShellLex {
  constructor(
    readonly escapeToken: string = '\\',
    private readonly o: LexOptions = {},
  ) {}

  /** ProcessWord: the word with variables substituted and quotes/escapes resolved. */
  processWord(word: string, env: EnvGetter): string {
    return this.process(word, env).result;
  }

  /** ProcessWords: like processWord, then split into words on white space. */
  processWords(word: string, env: EnvGetter): string[] {
    return this.process(word, env).words;
  }

  /** ProcessWordWithMatches: also which variables were found and which were not. */
  process(word: string, env: EnvGetter): ProcessResult {
    const sw = new ShellWord(word, env, this.escapeToken, this.o);
    try {
      const [result, words] = sw.processStopOn(EOF, !!this.o.rawEscapes);
      return { result, words, matched: sw.matched, unmatched: sw.unmatched };
    } catch (e) {
      if (e instanceof LexError) throw invalid(`failed to process ${goQuote(word)}: ${e.message}`, e);
      throw e;
    }
  }
}

/** Splits into words the way ProcessWords does; quoted or escaped spaces stay in their word. */
class Words {
  private buf = '';
  private inWord = false;
  private readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) this.addRawChar(ch);
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  get(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

const isLetter = (ch: string) => /^\p{L}$/u.test(ch);
const isDigit = (ch: string) => /^\p{Nd}$/u.test(ch);
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
/** What Go prints for a rune that is not there (scanner.EOF formatted with %c). */
const printable = (ch: string) => (ch === EOF ? '\ufffd' : ch);

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    word: string,
    private readonly env: EnvGetter,
    private readonly escape: string,
    private readonly o: LexOptions,
  ) {
    this.chars = [...word];
    this.rawEscapes = !!o.rawEscapes;
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }
  private next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  processStopOn(stop: string, rawEscapes: boolean): [string, string[]] {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      while (this.peek() !== EOF) {
        let ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return [result, words.get()];
        }
        const quotes = !this.o.skipProcessQuotes;
        if (ch === '$' || (quotes && (ch === "'" || ch === '"'))) {
          const tmp = ch === '$' ? this.processDollar() : ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          if (ch === '$') words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        ch = this.next();
        if (ch === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += ch;
          }
          // The escape character escapes anything but the end of the word.
          ch = this.next();
          if (ch === EOF) break;
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += ch;
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return [result, words.get()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let result = '';
    let ch = this.next();
    if (this.o.rawQuotes) result += ch;
    for (;;) {
      ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.o.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except $, and the escape character before " $ or itself.
    let result = '';
    const open = this.next();
    if (this.o.rawQuotes) result += open;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const close = this.next();
        if (this.o.rawQuotes) result += close;
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const n = this.peek();
        if (n === EOF) continue; // an escape at the end of the word is dropped
        if (n === '"' || n === '$' || n === this.escape) ch = this.next();
      }
      result += ch;
    }
  }

  private getEnv(name: string): [string, boolean] {
    const v = this.env.get(name);
    if (v !== undefined) {
      this.matched.add(name);
      return [v, true];
    }
    this.unmatched.add(name);
    return ['', false];
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.o.skipUnsetEnv) return '$' + name;
      return value;
    }
    this.next(); // {
    const first = this.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let chs = printable(ch);

    if (ch === '}') {
      const [value, set] = this.getEnv(name);
      if (!set && this.o.skipUnsetEnv) return `\${${name}}`;
      return value;
    }
    if (ch === '/') return this.processReplace(name);

    let nullIsUnset = false;
    if (ch === ':') {
      // ${name:X…}: whatever X is, it is read as a modifier (and refused below if unknown).
      nullIsUnset = true;
      ch = this.next();
      chs += printable(ch);
    } else if (!['+', '-', '?', '#', '%'].includes(ch)) {
      throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
    const trims = ch === '#' || ch === '%';
    if (nullIsUnset && trims) throw new LexError(`unsupported modifier (${chs}) in substitution`);
    // Patterns keep their escapes: the pattern syntax reads them.
    const word = this.wordUntil('}', trims, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    if (this.o.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
    switch (ch) {
      case '-':
        return !set || (nullIsUnset && value === '') ? word : value;
      case '+':
        return !set || (nullIsUnset && value === '') ? '' : word;
      case '?':
        if (!set) throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // # and % match the shortest text, ## and %% the longest.
        let pattern = word;
        let greedy = false;
        if (pattern.startsWith(ch)) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return ch === '%' ? trimSuffix(pattern, value, greedy) : trimPrefix(pattern, value, greedy);
      }
      default:
        throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  /** processStopOn's text, failing with `missing` when the input ends before `stop`. */
  private wordUntil(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes)[0];
    } catch (e) {
      if (e instanceof LexError && this.peek() === EOF) throw new LexError(missing);
      throw e;
    }
  }

  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.wordUntil('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.wordUntil('}', true, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    if (this.o.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
    const re = compilePattern(pattern, true, false);
    if (all) {
      // Regexp.ReplaceAllString: $0 in the replacement is the match, $$ a dollar.
      return value.replace(new RegExp(re.source, 'gu'), (m) => expandTemplate(replacement, m));
    }
    const m = re.exec(value);
    if (!m) return value;
    return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
  }

  private processName(): string {
    // Letters, digits and _, or all the digits of a positional parameter, or one special parameter.
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }
}

/**
 * A shell pattern as a RegExp (convertShellPatternToRegex): `*` any text
 * (shortest unless greedy), `?` one character, `\*` `\?` `\\` themselves, `\}`
 * and `\/` the character; any other escape is an error. Go's `.` matches
 * anything but a newline, hence [^\n].
 */
function compilePattern(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = [...pattern];
  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    switch (tok) {
      case '*':
        out += star;
        continue;
      case '?':
        out += '[^\\n]';
        continue;
      case '\\': {
        const n = chars[i + 1];
        if (n === '}' || n === '/') continue; // the escape belongs to ${…}, not the pattern
        if (n !== '*' && n !== '?' && n !== '\\') {
          throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? '\ufffd'}'`);
        }
        out += '\\' + n;
        i++;
        continue;
      }
      case '[':
      case ']':
      case '{':
      case '}':
      case '.':
      case '+':
      case '(':
      case ')':
      case '|':
      case '^':
      case '$':
        out += '\\' + tok;
        continue;
    }
    out += tok;
  }
  return new RegExp(out, 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = compilePattern(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverse a pattern keeping escapes in front of what they escape: a\*c → c\*a. */
function reversePattern(pattern: string): string {
  const p = [...pattern];
  const out: string[] = new Array(p.length);
  const last = p.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = p[i]!;
    const o = last - i;
    if (tok === '\\' && i !== last) {
      out[o - 1] = tok;
      out[o] = p[i + 1]!;
      i += 2;
    } else {
      out[o] = tok;
      i++;
    }
  }
  return out.join('');
}

const reverse = (s: string) => [...s].reverse().join('');

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // A regexp cannot find the shortest rightmost match, so match the reversed pattern from the left.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** Regexp.Expand for a regexp without groups: $0/${0} the match, $$ a dollar, other names ''. */
function expandTemplate(template: string, match: string): string {
  let out = '';
  for (let i = 0; i < template.length; ) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    const m = /^\{([A-Za-z0-9_]+)\}|^([A-Za-z0-9_]+)/.exec(template.slice(i + 1));
    if (!m) {
      out += '$';
      i++;
      continue;
    }
    const name = m[1] ?? m[2]!;
    if (name === '0') out += match; // the only group there is; leading zeros make a name, not a number
    i += 1 + m[0].length;
  }
  return out;
}
