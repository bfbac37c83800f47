/**
 * The Dockerfile's surface syntax, as dockerd (Docker 28, which vendors
 * BuildKit's frontend/dockerfile/parser) reads it: lines into instructions.
 *
 *   parse('# escape=`\nFROM busybox\nRUN echo `\n  hi\n', { file: 'Dockerfile' })
 *   // { directives: { escape: '`' }, nodes: [
 *   //   { instruction: 'FROM', args: ['busybox'], startLine: 2, endLine: 2, … },
 *   //   { instruction: 'RUN', args: ['echo   hi'], rest: 'echo   hi', json: false, startLine: 3, endLine: 4, … } ] }
 *
 * The rules, each as Docker has them:
 * - Parser directives (`# syntax=…`, `# escape=\` or `` ` ``, `# check=…`) are
 *   read only at the very top; the first line that is not one — an instruction,
 *   any other comment, even an empty line — ends them. A directive given twice
 *   is an error. Unknown ones are plain comments.
 * - A line whose first non-blank character is `#` is a comment, also inside a
 *   continuation (it is dropped and the continuation goes on).
 * - The escape character as the last non-blank character of a line joins the
 *   next line to it, unless it is itself escaped (`c:\\` ends the line). Lines
 *   that are blank inside a continuation are skipped with a warning ("Empty
 *   continuation line found in: …"), so a blank line does not end an
 *   instruction. A continuation still open at the end of the file just ends.
 *   Leading white space goes from the first line of an instruction only.
 * - The first word is the instruction, any case. Words after it that start
 *   with `--` are flags (`--from=build`), kept as written minus quotes.
 * - The arguments are read per instruction: RUN/CMD/ENTRYPOINT/SHELL and
 *   HEALTHCHECK's command are exec form when the text is a JSON array of
 *   strings (a JSON array of anything else is an error; text that is not
 *   valid JSON, e.g. `["a", 'b']`, is shell form); COPY/ADD/VOLUME take a JSON
 *   array or white-space separated words; ENV/LABEL take `k=v …` (quotes kept
 *   for the expander) or the legacy `k v`; ARG takes words; FROM/EXPOSE take
 *   words; MAINTAINER/USER/WORKDIR/STOPSIGNAL take the whole text; ONBUILD
 *   takes another instruction. Unknown instructions parse and are refused later
 *   (instructions.ts), as Docker does.
 * - RUN, COPY and ADD in shell form (also behind ONBUILD) may name heredocs
 *   (`<<EOF`, `<<-EOF` strips leading tabs, `<<"EOF"`/`<<'EOF'` do not expand,
 *   several per line); their bodies follow the instruction line in order.
 *
 * Errors are Docker's: "failed to parse Dockerfile: <why>" (see error.ts).
 * Lines longer than 65535 bytes are refused, as Go's line scanner does.
 */
import { DockerfileError } from './error.js';
import { goQuote, goQuoteList, isSpace, trimLeftSpace, trimSpace } from './go-syntax.js';
import { EMPTY_ENV, ShellLex } from './shell-lex.js';

export interface Heredoc {
  /** The delimiter word, quotes removed: "EOF". */
  name: string;
  /** The body as written, line endings kept; `<<-` tab stripping is not applied here. */
  content: string;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body and the delimiter line. */
  chomp: boolean;
  /** The file descriptor in `3<<EOF`, 0 when none was given. */
  fd: number;
}

export interface Directives {
  syntax?: string;
  escape: '\\' | '`';
  check?: string;
}

export interface Node {
  /** Upper-cased: "RUN". */
  instruction: string;
  /** As written: "run". */
  keyword: string;
  /** ["--from=build", "--chown=1:1"], as Docker extracts them (quotes and escapes resolved). */
  flags: string[];
  /**
   * The arguments as the instruction's line parser reads them: the JSON items
   * in exec form; [text] for RUN/CMD/ENTRYPOINT/SHELL in shell form; words for
   * FROM/EXPOSE/COPY/ADD/VOLUME/ARG; [k1, v1, k2, v2…] for ENV/LABEL;
   * [type, …command] for HEALTHCHECK; [] for ONBUILD (see child).
   */
  args: string[];
  /** The argument text after the flags (the shell-form command). */
  rest: string;
  /** Exec (JSON) form. */
  json: boolean;
  heredocs: Heredoc[];
  /** 1-based, the first and last lines it took, heredoc bodies included. */
  startLine: number;
  endLine: number;
  /** The instruction joined into one line (continuations and comments removed): what "Step n/m :" prints. */
  original: string;
  /** The comment lines just above it. */
  comments: string[];
  /** ONBUILD's trigger instruction. */
  child?: Node;
}

export interface ParseWarning {
  message: string;
  startLine: number;
  endLine: number;
}

export interface ParseResult {
  file: string;
  directives: Directives;
  nodes: Node[];
  warnings: ParseWarning[];
  /** The file's lines, for pointing at errors found later. */
  lines: string[];
}

const MAX_LINE_BYTES = 65535;
const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_INSTRUCTIONS = new Set(['ADD', 'COPY', 'RUN']);
/** regexp `[\t\v\f\r ]+`: how Docker splits words (no other Unicode spaces). */
const WHITESPACE = /[\t\v\f\r ]+/;
const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;

/** Raised inside the parser, located by the caller. */
class SyntaxError_ extends Error {}

/** The state parser directives set: the escape character and what it continues lines with. */
class DirectiveState {
  escape: '\\' | '`' = '\\';
  continuation = DirectiveState.regexFor('\\');
  readonly values: Directives = { escape: '\\' };
  private done = false;
  private readonly seen = new Set<string>();

  private static regexFor(e: string): RegExp {
    const q = e === '\\' ? '\\\\' : e;
    // The escape as last non-blank character continues the line, unless escaped itself
    // (Go has no look-behind, hence the captured character before it).
    return new RegExp(`([^${q}])${q}[ \\t]*$|^${q}[ \\t]*$`);
  }

  /** Looks at a line for a directive; true when it was one. */
  possibleDirective(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/.exec(trimLeftSpace(line.slice(1)));
    const key = m?.[1]!.toLowerCase();
    if (!m || !VALID_DIRECTIVES.has(key!)) {
      this.done = true;
      return false;
    }
    if (this.seen.has(key!)) throw new SyntaxError_(`only one ${key} parser directive can be used`);
    this.seen.add(key!);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') throw new SyntaxError_(`invalid escape token '${value}' does not match \` or \\`);
      this.escape = value;
      this.continuation = DirectiveState.regexFor(value);
      this.values.escape = value;
    } else if (key === 'syntax') this.values.syntax = value;
    else this.values.check = value;
    return true;
  }
}

/** bufio.Scanner with Docker's scanLines: lines keep their "\n"; an over-long line stops the scan. */
class LineScanner {
  private i = 0;
  error?: string;
  constructor(private readonly lines: string[]) {}
  scan(): string | undefined {
    if (this.error !== undefined || this.i >= this.lines.length) return undefined;
    const line = this.lines[this.i]!;
    if (Buffer.byteLength(line.endsWith('\n') ? line.slice(0, -1) : line) > MAX_LINE_BYTES) {
      this.error = `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`;
      return undefined;
    }
    this.i++;
    return line;
  }
}

function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

const trimNewline = (s: string) => s.replace(/[\r\n]+$/, '');
const isComment = (line: string) => trimLeftSpace(line).startsWith('#');
const isEmptyContinuationLine = (line: string) => trimLeftSpace(trimNewline(line)).length === 0;

export interface ParseOptions {
  /** The Dockerfile's name, for messages: "failed to parse <file>: …". */
  file?: string;
  /** Messages without that prefix, as for ONBUILD triggers (which Docker parses on their own). */
  bare?: boolean;
}

export function parse(text: string, o: ParseOptions = {}): ParseResult {
  const file = o.file ?? 'Dockerfile';
  const prefix = o.bare ? '' : `failed to parse ${file}: `;
  const allLines = splitLines(text);
  const rawLines = allLines.map(trimNewline);
  const fail = (message: string, line: number, endLine = line, cause?: unknown) => {
    const from = Math.max(line, 1);
    const to = Math.max(endLine, from);
    return new DockerfileError(`${prefix}${message}`, file, from, to, rawLines.slice(from - 1, to).join('\n'), cause === undefined ? undefined : { cause });
  };
  if (text.length === 0) throw new DockerfileError(`the Dockerfile (${file}) cannot be empty`, file, 1, 1, '');

  const d = new DirectiveState();
  const sc = new LineScanner(allLines);
  const nodes: Node[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let currentLine = 0;

  // Docker's processLine: strip the newline (and leading blanks on an instruction's first line),
  // look for a directive, and blank out a comment.
  const processLine = (token: string, stripLeft: boolean): [string, boolean] => {
    let t = trimNewline(token);
    if (stripLeft) t = trimLeftSpace(t);
    let directive: boolean;
    try {
      directive = d.possibleDirective(t);
    } catch (e) {
      if (e instanceof SyntaxError_) throw fail(e.message, currentLine + 1);
      throw e;
    }
    return [isComment(t) ? '' : t, directive];
  };
  const trimContinuation = (line: string): [string, boolean] => {
    if (d.continuation.test(line)) return [line.replace(d.continuation, '$1'), false];
    return [line, true];
  };

  for (let raw = sc.scan(); raw !== undefined; raw = sc.scan()) {
    let first = raw;
    if (currentLine === 0 && first.startsWith('\ufeff')) first = first.slice(1);
    if (isComment(first)) {
      const c = trimSpace(first.slice(1));
      if (c === '') comments = [];
      else comments.push(c);
    }
    const [processed, wasDirective] = processLine(first, true);
    if (wasDirective) comments.pop();
    currentLine++;
    const startLine = currentLine;
    let [line, isEnd] = trimContinuation(processed);
    if (isEnd && line.length === 0) continue;

    let hasEmptyContinuation = false;
    while (!isEnd) {
      const next = sc.scan();
      if (next === undefined) break;
      const [cont] = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue;
      if (isEmptyContinuationLine(cont)) {
        hasEmptyContinuation = true;
        continue;
      }
      let part: string;
      [part, isEnd] = trimContinuation(cont);
      line += part;
    }
    if (hasEmptyContinuation) warnings.push({ message: `Empty continuation line found in: ${line}`, startLine, endLine: currentLine });

    let node: Node;
    try {
      node = newNodeFromLine(line, d, comments);
    } catch (e) {
      if (e instanceof SyntaxError_) throw fail(e.message, startLine, currentLine);
      throw e;
    }

    if (canContainHeredoc(node) && line.includes('<<')) {
      let docs: Omit<Heredoc, 'content'>[];
      try {
        docs = heredocsFromLine(line);
      } catch (e) {
        throw fail(e instanceof Error ? e.message : String(e), startLine, currentLine, e);
      }
      for (const doc of docs) {
        let content = '';
        let terminated = false;
        for (let body = sc.scan(); body !== undefined; body = sc.scan()) {
          currentLine++;
          let candidate = trimNewline(body);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) throw fail('unterminated heredoc', startLine, currentLine);
        node.heredocs.push({ ...doc, content });
      }
    }

    node.startLine = startLine;
    node.endLine = currentLine;
    if (node.child) {
      node.child.startLine = startLine;
      node.child.endLine = currentLine;
    }
    nodes.push(node);
    comments = [];
  }

  if (nodes.length === 0) throw fail('file with no instructions', currentLine);
  if (sc.error !== undefined) throw fail(sc.error, currentLine + 1);
  return { file, directives: { ...d.values }, nodes, warnings, lines: rawLines };
}

/** What the classic builder prints for the parse warnings, on stderr. */
export function warningText(warnings: readonly ParseWarning[]): string {
  if (warnings.length === 0) return '';
  return warnings.map((w) => `[WARNING]: ${w.message}\n`).join('') + '[WARNING]: Empty continuation lines will become errors in a future release.\n';
}

function canContainHeredoc(node: Node): boolean {
  const n = node.instruction === 'ONBUILD' && node.child ? node.child : node;
  return HEREDOC_INSTRUCTIONS.has(n.instruction) && !n.json;
}

// ---- one logical line into a node ----------------------------------------------------------

interface LineParse {
  args: string[];
  json?: boolean;
  child?: Node;
}

type LineParser = (rest: string, d: DirectiveState) => LineParse;

const LINE_PARSERS: Record<string, LineParser> = {
  ADD: parseMaybeJSONToList,
  ARG: parseNameOrNameVal,
  CMD: parseMaybeJSON,
  COPY: parseMaybeJSONToList,
  ENTRYPOINT: parseMaybeJSON,
  ENV: (rest, d) => parseNameVal(rest, 'ENV', d),
  EXPOSE: parseStringsWhitespaceDelimited,
  FROM: parseStringsWhitespaceDelimited,
  HEALTHCHECK: parseHealthConfig,
  LABEL: (rest, d) => parseNameVal(rest, 'LABEL', d),
  MAINTAINER: parseString,
  ONBUILD: parseSubCommand,
  RUN: parseMaybeJSON,
  SHELL: parseMaybeJSON,
  STOPSIGNAL: parseString,
  USER: parseString,
  VOLUME: parseMaybeJSONToList,
  WORKDIR: parseString,
};

function newNodeFromLine(line: string, d: DirectiveState, comments: string[]): Node {
  const [keyword, flags, rest] = splitCommand(line, d);
  const instruction = keyword.toUpperCase();
  const fn = LINE_PARSERS[instruction] ?? (() => ({ args: [] }));
  const parsed = fn(rest, d);
  return {
    instruction,
    keyword,
    flags,
    args: parsed.args,
    rest,
    json: parsed.json ?? false,
    heredocs: [],
    startLine: 0,
    endLine: 0,
    original: line,
    comments: [...comments],
    ...(parsed.child ? { child: parsed.child } : {}),
  };
}

/** The instruction word, its flags, and the rest of the text. */
function splitCommand(line: string, d: DirectiveState): [string, string[], string] {
  const trimmed = trimSpace(line);
  const m = WHITESPACE.exec(trimmed);
  if (!m) return [trimmed, [], ''];
  const [rest, flags] = extractBuilderFlags(trimmed.slice(m.index + m[0].length), d);
  return [trimmed.slice(0, m.index), flags, trimSpace(rest)];
}

/** Leading `--words` are flags; a bare `--` ends them. Quotes and escapes in them are resolved. */
function extractBuilderFlags(line: string, d: DirectiveState): [string, string[]] {
  return scanWords(line, d, true);
}

/** Space-separated words; quotes and escapes are kept for the expander to resolve. */
function parseWords(rest: string, d: DirectiveState): string[] {
  return scanWords(rest, d, false)[1];
}

/**
 * The words of a line, split at unquoted spaces; returns what is left of the
 * line and the words. As flags (moby's extractBuilderFlags): only leading
 * `--words`, stopping at the first other word or a bare `--`, with quotes and
 * escapes resolved. Else (moby's parseWords): every word, with quotes and
 * escapes kept, and nothing escaping inside '…'.
 */
function scanWords(line: string, d: DirectiveState, flags: boolean): [string, string[]] {
  const chars = [...line];
  const n = chars.length;
  const words: string[] = [];
  const keep = !flags;
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= n; pos++) {
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === n) break;
      if (isSpace(ch)) continue;
      if (flags && (ch !== '-' || chars[pos + 1] !== '-')) return [chars.slice(pos).join(''), words];
      phase = 'word';
    }
    if (pos === n) {
      if (!(flags && word === '--') && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (flags && word === '--') return [chars.slice(pos).join(''), words];
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        if (keep) word += ch;
        continue;
      }
      if (ch === d.escape) {
        if (pos + 1 === n) continue; // an escape at the end of the line is dropped
        // Kept, the escape and what it escapes both stay, even a quote.
        if (keep) word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) {
      phase = 'word';
      if (keep) word += ch;
      continue;
    }
    // Inside '…' nothing escapes, except in flags.
    if (ch === d.escape && (flags || quote !== "'")) {
      if (pos + 1 === n) {
        phase = 'word';
        continue;
      }
      if (keep) word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  return ['', words];
}

function splitAll(rest: string): string[] {
  return rest === '' ? [] : rest.split(new RegExp(WHITESPACE.source, 'g'));
}

function splitTwo(rest: string): string[] {
  const m = WHITESPACE.exec(rest);
  return m ? [rest.slice(0, m.index), rest.slice(m.index + m[0].length)] : [rest];
}

function parseNameVal(rest: string, key: string, d: DirectiveState): LineParse {
  const words = parseWords(rest, d);
  if (words.length === 0) return { args: [] };
  // Legacy "KEY name value": the first word has no '='; the value is the rest of the line.
  if (!words[0]!.includes('=')) {
    const parts = splitTwo(rest);
    if (parts.length < 2) throw new SyntaxError_(`${key} must have two arguments`);
    return { args: parts };
  }
  const args: string[] = [];
  for (const word of words) {
    const i = word.indexOf('=');
    if (i < 0) throw new SyntaxError_(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    args.push(word.slice(0, i), word.slice(i + 1));
  }
  return { args };
}

function parseNameOrNameVal(rest: string, d: DirectiveState): LineParse {
  return { args: parseWords(rest, d) };
}

function parseStringsWhitespaceDelimited(rest: string): LineParse {
  return { args: splitAll(rest) };
}

function parseString(rest: string): LineParse {
  return { args: rest === '' ? [] : [rest] };
}

function parseSubCommand(rest: string, d: DirectiveState): LineParse {
  if (rest === '') return { args: [] };
  return { args: [], child: newNodeFromLine(rest, d, []) };
}

const NOT_JSON = Symbol('not json');
const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * Go's json.Decoder on the text: the first JSON value, which must be an array;
 * whatever follows it is ignored, as Docker ignores it.
 */
function parseJSON(rest: string): string[] | typeof NOT_JSON {
  const s = trimLeftSpace(rest);
  if (!s.startsWith('[')) return NOT_JSON;
  let depth = 0;
  let inString = false;
  let end = -1;
  for (let i = 0; i < s.length && end < 0; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) end = i + 1;
    }
  }
  if (end < 0) return NOT_JSON;
  let value: unknown;
  try {
    value = JSON.parse(s.slice(0, end));
  } catch {
    return NOT_JSON;
  }
  if (!Array.isArray(value)) return NOT_JSON;
  if (value.some((v) => typeof v !== 'string')) throw new SyntaxError_(NOT_STRINGS);
  return value as string[];
}

function parseMaybeJSON(rest: string): LineParse {
  if (rest === '') return { args: [] };
  const json = parseJSON(rest);
  if (json !== NOT_JSON) return { args: json, json: true };
  return { args: [rest] };
}

function parseMaybeJSONToList(rest: string): LineParse {
  const json = parseJSON(rest);
  if (json !== NOT_JSON) return { args: json, json: true };
  return parseStringsWhitespaceDelimited(rest);
}

/** HEALTHCHECK: a type word (CMD, NONE, …), then a command like CMD's. */
function parseHealthConfig(rest: string): LineParse {
  const chars = [...rest];
  let sep = 0;
  while (sep < chars.length && !isSpace(chars[sep]!)) sep++;
  let next = sep;
  while (next < chars.length && isSpace(chars[next]!)) next++;
  if (sep === 0) return { args: [] };
  const cmd = parseMaybeJSON(chars.slice(next).join(''));
  return { args: [chars.slice(0, sep).join(''), ...cmd.args], json: cmd.json ?? false };
}

// ---- heredocs -------------------------------------------------------------------------------

/** The heredocs a shell-form line names, in order: each word like `<<EOF`, `<<-"EOF"`, `3<<EOF`. */
function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  const lex = new ShellLex('\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  let words: string[];
  try {
    words = lex.processWords(line, EMPTY_ENV);
  } catch {
    words = [];
  }
  const docs: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    const doc = parseHeredoc(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** A heredoc word (`<<EOF`, `<<-'EOF'`), or undefined when the word is not one. */
export function parseHeredoc(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return undefined;
  const rest = m[3]!;
  // Lex the delimiter with and without quotes: if they differ, part of it was quoted.
  const plain = new ShellLex('\\', { skipUnsetEnv: true }).processWords(rest, EMPTY_ENV);
  if (plain.length !== 1) return undefined;
  const raw = new ShellLex('\\', { skipUnsetEnv: true, rawQuotes: true }).processWords(rest, EMPTY_ENV);
  if (raw.length !== plain.length) throw new Error(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: plain[0]!,
    expand: quotes(plain[0]!) === quotes(raw[0]!),
    chomp: m[2] === '-',
    fd: m[1] === '' ? 0 : Number(m[1]),
  };
}

/** ChompHeredocContent: what `<<-` does to a body. */
export function chompHeredocContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/** Docker's AST dump, `(run "echo hi")`: handy to compare with BuildKit's parser test files. */
export function dump(node: Node): string {
  let s = node.keyword.toLowerCase();
  if (node.flags.length > 0) s += ' ' + goQuoteList(node.flags);
  if (node.child) s += ` (${dump(node.child)})`;
  for (const a of node.args) s += ' ' + goQuote(a);
  return s.trim();
}
