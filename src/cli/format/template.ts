import { EngineError } from '../../base/errdefs.js';

/**
 * Go's text/template as the docker CLI uses it for --format: the full action
 * syntax (pipelines, if/else if/with/range/break/continue, variables,
 * define/template/block, trim markers, comments), Go's builtin functions,
 * docker's functions (json, join, split, lower, upper, title, pad, truncate),
 * Go's fmt rules for printing values, and docker's "table" layout through a
 * port of Go's text/tabwriter.
 *
 *   compile('{{.Name}}\t{{join .Names ","}}').execute(row)
 *   renderTable('table {{.ID}}\t{{.Image}}', rows, { ID: 'CONTAINER ID', Image: 'IMAGE' })
 *
 * Values are plain JS data. A plain object or a Map is a Go map: a missing
 * key prints "<no value>", it prints as map[k:v] with sorted keys. A class
 * instance, or an object passed through asStruct(), is a Go struct: a missing
 * field is an error ("can't evaluate field X in type T"), it prints as
 * {v1 v2}, and function-valued properties are methods. Integers print without
 * a fraction; other numbers print like Go's float64. undefined is Go's
 * invalid value (prints "<no value>"), null is nil.
 *
 * Errors are TemplateError, whose messages are Go's, starting "template: ".
 *
 * Where JS data lacks Go's static types, this errs on the side of printing:
 * a number takes both integer and float verbs (printf "%.1f" 3 is 3.0, where
 * Go refuses an int), join takes any array (Go refuses []interface{}), and
 * json keeps a plain object's key order (the API's struct order), sorting
 * only Map keys. Go 1.22's range over an integer and 1.23's else-with work.
 */

export type TemplateFunc = (...args: any[]) => unknown;

export interface TemplateOptions {
  /** Extra or overriding functions, called with already evaluated arguments. */
  funcs?: Readonly<Record<string, TemplateFunc>>;
}

export interface Template {
  execute(data: unknown, opts?: TemplateOptions): string;
}

export class TemplateError extends EngineError {
  constructor(
    message: string,
    readonly phase: 'parse' | 'exec',
  ) {
    super('invalid', message);
    this.name = 'TemplateError';
  }
}

/** Parses `src` as Go's template.New("").Funcs(docker's funcs).Parse(src) would. */
export function compile(src: string, opts?: TemplateOptions): Template {
  const extra = toSpecs(opts?.funcs);
  const parser = new Parser(src, lex(src), (n) => extra?.has(n) || DOCKER_FUNCS.has(n) || BUILTINS.has(n));
  const trees = parser.parse();
  return {
    execute(data, o) {
      const ex = new Exec(src, trees, chainLookup(toSpecs(o?.funcs), extra));
      ex.run(data);
      return ex.out;
    },
  };
}

/** Marks `value` as a Go struct named `typeName` (for error messages). */
export function asStruct<T extends object>(value: T, typeName: string): T {
  Object.defineProperty(value, STRUCT, { value: typeName, enumerable: false, configurable: true });
  return value;
}

// ---------------------------------------------------------------------------
// Lexer (text/template/parse/lex.go)

type TokKind =
  | 'text' | 'ldelim' | 'rdelim' | 'space' | 'field' | 'var' | 'ident' | 'dot' | 'bool' | 'nil'
  | 'number' | 'charconst' | 'string' | 'rawstring' | 'pipe' | 'lparen' | 'rparen' | 'assign'
  | 'declare' | 'char' | 'error' | 'eof'
  | 'block' | 'break' | 'continue' | 'define' | 'else' | 'end' | 'if' | 'range' | 'template' | 'with';

interface Tok {
  k: TokKind;
  v: string;
  pos: number;
}

const KEYWORDS = new Map<string, TokKind>([
  ['block', 'block'], ['break', 'break'], ['continue', 'continue'], ['define', 'define'], ['else', 'else'],
  ['end', 'end'], ['if', 'if'], ['range', 'range'], ['nil', 'nil'], ['template', 'template'], ['with', 'with'],
]);
const KEYWORD_KINDS = new Set<TokKind>([...KEYWORDS.values(), 'dot']);

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const ALNUM_RUN = /[\p{L}\p{Nd}_]*/uy;
const ALNUM_ONE = /^[\p{L}\p{Nd}_]/u;

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  const emit = (k: TokKind, v: string, pos: number) => void toks.push({ k, v, pos });
  const fail = (msg: string, pos: number) => {
    emit('error', msg, pos);
    emit('eof', '', src.length);
    return toks;
  };
  // 0: no right delimiter; 1: "}}"; 2: " -}}" (trims the following text).
  const rightDelim = (p: number) =>
    src.startsWith('}}', p) ? 1 : isSpace(src[p]) && src[p + 1] === '-' && src.startsWith('}}', p + 2) ? 2 : 0;
  const atTerminator = (p: number) => {
    const c = src[p];
    return c === undefined || isSpace(c) || '.,|:()'.includes(c) || src.startsWith('}}', p);
  };
  const skipSpaces = (p: number) => {
    while (isSpace(src[p])) p++;
    return p;
  };
  const alnumEnd = (p: number) => {
    ALNUM_RUN.lastIndex = p;
    ALNUM_RUN.test(src);
    return ALNUM_RUN.lastIndex;
  };
  const badChar = (p: number) => `bad character ${fmtU(src.codePointAt(p) ?? 0)}`;

  let pos = 0;
  for (;;) {
    const x = src.indexOf('{{', pos);
    if (x < 0) {
      if (pos < src.length) emit('text', src.slice(pos), pos);
      emit('eof', '', src.length);
      return toks;
    }
    const trimLeft = src[x + 2] === '-' && isSpace(src[x + 3]);
    const text = trimLeft ? src.slice(pos, x).replace(/[ \t\r\n]+$/, '') : src.slice(pos, x);
    if (text) emit('text', text, pos);
    let p = x + 2 + (trimLeft ? 2 : 0);
    if (src.startsWith('/*', p)) {
      const end = src.indexOf('*/', p + 2);
      if (end < 0) return fail('unclosed comment', x);
      p = end + 2;
      const d = rightDelim(p);
      if (!d) return fail('comment ends before closing delimiter', x);
      pos = d === 2 ? skipSpaces(p + 4) : p + 2;
      continue;
    }
    emit('ldelim', '{{', x);
    let depth = 0;
    for (;;) {
      const d = rightDelim(p);
      if (d) {
        if (depth) return fail('unclosed left paren', p);
        if (d === 2) p += 2;
        emit('rdelim', '}}', p);
        p = d === 2 ? skipSpaces(p + 2) : p + 2;
        break;
      }
      if (p >= src.length) return fail('unclosed action', p);
      const c = src[p]!;
      if (isSpace(c)) {
        let q = skipSpaces(p);
        // In " -}}" the space belongs to the delimiter.
        if (src[q] === '-' && src.startsWith('}}', q + 1)) q--;
        if (q > p) emit('space', src.slice(p, q), p);
        p = q;
        continue;
      }
      switch (c) {
        case '=':
          emit('assign', c, p++);
          continue;
        case ':':
          if (src[p + 1] !== '=') return fail('expected :=', p);
          emit('declare', ':=', p);
          p += 2;
          continue;
        case '|':
          emit('pipe', c, p++);
          continue;
        case '(':
          emit('lparen', c, p++);
          depth++;
          continue;
        case ')':
          emit('rparen', c, p);
          if (--depth < 0) return fail("unexpected right paren U+0029 ')'", p);
          p++;
          continue;
        case '`': {
          const e = src.indexOf('`', p + 1);
          if (e < 0) return fail('unterminated raw quoted string', p);
          emit('rawstring', src.slice(p, e + 1), p);
          p = e + 1;
          continue;
        }
        case '"':
        case "'": {
          let q = p + 1;
          for (;;) {
            const ch = src[q];
            if (ch === '\\' && src[q + 1] !== undefined && src[q + 1] !== '\n') q += 2;
            else if (ch === undefined || ch === '\n' || ch === '\\') {
              return fail(c === '"' ? 'unterminated quoted string' : 'unterminated character constant', p);
            } else if (ch === c) break;
            else q++;
          }
          emit(c === '"' ? 'string' : 'charconst', src.slice(p, q + 1), p);
          p = q + 1;
          continue;
        }
      }
      if (c === '$' || (c === '.' && p + 1 < src.length && !isDigit(src[p + 1]))) {
        if (atTerminator(p + 1)) {
          emit(c === '$' ? 'var' : 'dot', c, p++);
          continue;
        }
        const q = alnumEnd(p + 1);
        if (!atTerminator(q)) return fail(badChar(q), p);
        emit(c === '$' ? 'var' : 'field', src.slice(p, q), p);
        p = q;
        continue;
      }
      if (c === '+' || c === '-' || c === '.' || isDigit(c)) {
        let q = scanNumber(src, p);
        if (q < 0) return fail(`bad number syntax: ${goQuote(src.slice(p, -q))}`, p);
        if (src[q] === '+' || src[q] === '-') {
          // Only a complex constant (1+2i) may continue with a sign.
          const q2 = scanNumber(src, q);
          if (q2 < 0 || src[q2 - 1] !== 'i') return fail(`bad number syntax: ${goQuote(src.slice(p, Math.abs(q2)))}`, p);
          q = q2;
        }
        emit('number', src.slice(p, q), p);
        p = q;
        continue;
      }
      if (ALNUM_ONE.test(src.slice(p, p + 2))) {
        const q = alnumEnd(p);
        if (!atTerminator(q)) return fail(badChar(q), p);
        const word = src.slice(p, q);
        emit(KEYWORDS.get(word) ?? (word === 'true' || word === 'false' ? 'bool' : 'ident'), word, p);
        p = q;
        continue;
      }
      if (c >= ' ' && c <= '~') {
        emit('char', c, p++);
        continue;
      }
      return fail(`unrecognized character in action: ${fmtU(src.codePointAt(p)!)}`, p);
    }
    pos = p;
  }
}

/** Go's scanNumber: the end of the number at p, or -(end) when it is malformed. */
function scanNumber(src: string, p: number): number {
  const run = (q: number, set: string) => {
    while (q < src.length && set.includes(src[q]!)) q++;
    return q;
  };
  let digits = '0123456789_';
  if (src[p] === '+' || src[p] === '-') p++;
  if (src[p] === '0') {
    p++;
    const b = src[p];
    if (b === 'x' || b === 'X') [p, digits] = [p + 1, '0123456789abcdefABCDEF_'];
    else if (b === 'o' || b === 'O') [p, digits] = [p + 1, '01234567_'];
    else if (b === 'b' || b === 'B') [p, digits] = [p + 1, '01_'];
  }
  p = run(p, digits);
  if (src[p] === '.') p = run(p + 1, digits);
  if (digits.length === 11 && (src[p] === 'e' || src[p] === 'E')) {
    p++;
    if (src[p] === '+' || src[p] === '-') p++;
    p = run(p, '0123456789_');
  }
  if (digits.length === 23 && (src[p] === 'p' || src[p] === 'P')) {
    p++;
    if (src[p] === '+' || src[p] === '-') p++;
    p = run(p, '0123456789_');
  }
  if (src[p] === 'i') p++;
  if (p < src.length && ALNUM_ONE.test(src.slice(p, p + 2))) return -(p + 1);
  return p;
}

function tokString(t: Tok): string {
  if (t.k === 'eof') return 'EOF';
  if (t.k === 'error') return t.v;
  if (KEYWORD_KINDS.has(t.k)) return `<${t.v}>`;
  if ([...t.v].length > 10) return `${goQuote([...t.v].slice(0, 10).join(''))}...`;
  return goQuote(t.v);
}

// ---------------------------------------------------------------------------
// Parse tree (text/template/parse/node.go)

interface TextNode { t: 'text'; pos: number; text: string }
interface ActionNode { t: 'action'; pos: number; pipe: PipeNode }
interface ControlNode { t: 'if' | 'with' | 'range'; pos: number; pipe: PipeNode; list: ListNode; elseList: ListNode | undefined }
interface TemplateNode { t: 'template'; pos: number; name: string; pipe: PipeNode | undefined }
interface LoopNode { t: 'break' | 'continue'; pos: number }
interface EndNode { t: 'end' | 'else'; pos: number }
type Node = TextNode | ActionNode | ControlNode | TemplateNode | LoopNode;
type ListNode = Node[];

interface PipeNode { t: 'pipe'; pos: number; decl: VarNode[]; assign: boolean; cmds: CmdNode[] }
interface CmdNode { t: 'cmd'; pos: number; args: ArgNode[] }
interface FieldNode { t: 'field'; pos: number; ident: string[] }
interface VarNode { t: 'var'; pos: number; ident: string[] }
interface ChainNode { t: 'chain'; pos: number; node: ArgNode; fields: string[] }
interface IdentNode { t: 'ident'; pos: number; name: string }
interface DotNode { t: 'dot'; pos: number }
interface NilNode { t: 'nil'; pos: number }
interface BoolNode { t: 'bool'; pos: number; v: boolean }
interface NumberNode { t: 'number'; pos: number; text: string; v: number | bigint; isInt: boolean; isFloat: boolean; overflow: boolean }
interface StringNode { t: 'string'; pos: number; text: string; v: string }
type ArgNode = FieldNode | VarNode | ChainNode | IdentNode | DotNode | NilNode | BoolNode | NumberNode | StringNode | PipeNode;
type AnyNode = Node | EndNode | ArgNode | CmdNode;

/** Node.String() in Go: the source, re-spelled. Used in error contexts. */
function str(n: AnyNode | ListNode): string {
  if (Array.isArray(n)) return n.map(str).join('');
  switch (n.t) {
    case 'text': return n.text;
    case 'action': return `{{${str(n.pipe)}}}`;
    case 'if': case 'with': case 'range':
      return `{{${n.t} ${str(n.pipe)}}}${str(n.list)}${n.elseList ? `{{else}}${str(n.elseList)}` : ''}{{end}}`;
    case 'template': return `{{template ${goQuote(n.name)}${n.pipe ? ` ${str(n.pipe)}` : ''}}}`;
    case 'break': case 'continue': case 'end': case 'else': return `{{${n.t}}}`;
    case 'pipe':
      return (n.decl.length ? `${n.decl.map(str).join(', ')}${n.assign ? ' = ' : ' := '}` : '') + n.cmds.map(str).join(' | ');
    case 'cmd': return n.args.map((a) => (a.t === 'pipe' ? `(${str(a)})` : str(a))).join(' ');
    case 'field': return `.${n.ident.join('.')}`;
    case 'var': return n.ident.join('.');
    case 'chain': return (n.node.t === 'pipe' ? `(${str(n.node)})` : str(n.node)) + n.fields.map((f) => `.${f}`).join('');
    case 'ident': return n.name;
    case 'dot': return '.';
    case 'nil': return 'nil';
    case 'bool': return String(n.v);
    case 'number': case 'string': return n.text;
  }
}

function lineAt(src: string, pos: number): number {
  let line = 1;
  for (let i = src.indexOf('\n'); i >= 0 && i < pos; i = src.indexOf('\n', i + 1)) line++;
  return line;
}

// ---------------------------------------------------------------------------
// Parser (text/template/parse/parse.go)

class Parser {
  private i = 0;
  private seen = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;
  private readonly trees = new Map<string, ListNode>();

  constructor(
    private readonly src: string,
    private readonly toks: Tok[],
    private readonly hasFunc: (name: string) => boolean,
  ) {}

  parse(): Map<string, ListNode> {
    const root: ListNode = [];
    while (this.peek().k !== 'eof') {
      if (this.peek().k === 'ldelim') {
        const save = this.i;
        this.next();
        if (this.nextNonSpace().k === 'define') {
          this.definition();
          continue;
        }
        this.i = save;
      }
      const n = this.textOrAction();
      if (isEnd(n)) throw this.err(`unexpected ${str(n)}`);
      root.push(n);
    }
    this.add('', root);
    return this.trees;
  }

  private next(): Tok {
    const t = this.toks[Math.min(this.i++, this.toks.length - 1)]!;
    this.seen = Math.max(this.seen, this.i);
    return t;
  }
  private backup(): void {
    this.i--;
  }
  private peek(): Tok {
    const t = this.next();
    this.backup();
    return t;
  }
  private nextNonSpace(): Tok {
    let t: Tok;
    do t = this.next();
    while (t.k === 'space');
    return t;
  }
  private peekNonSpace(): Tok {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private err(msg: string): TemplateError {
    // Like Go, report the line of the furthest token read.
    const t = this.toks[Math.min(this.seen, this.toks.length) - 1] ?? this.toks[0]!;
    return new TemplateError(`template: :${lineAt(this.src, t.pos)}: ${msg}`, 'parse');
  }
  private unexpected(t: Tok, context: string): TemplateError {
    if (t.k === 'error') {
      const line = lineAt(this.src, t.pos);
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== line) {
        extra = ` in action started at :${this.actionLine}`;
        if (t.v.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      return this.err(t.v + extra);
    }
    return this.err(`unexpected ${tokString(t)} in ${context}`);
  }
  private expect(k: TokKind, context: string): Tok {
    const t = this.nextNonSpace();
    if (t.k !== k) throw this.unexpected(t, context);
    return t;
  }

  private add(name: string, list: ListNode): void {
    const prev = this.trees.get(name);
    if (prev === undefined || isEmptyTree(prev)) this.trees.set(name, list);
    else if (!isEmptyTree(list)) throw this.err(`template: multiple definition of template ${goQuote(name)}`);
  }

  /** Parses a body in a fresh scope, as Go does for define and block. */
  private body(name: string, context: string): void {
    const [vars, depth] = [this.vars, this.rangeDepth];
    [this.vars, this.rangeDepth] = [['$'], 0];
    const [list, end] = this.itemList();
    if (end.t !== 'end') throw this.err(`unexpected ${str(end)} in ${context}`);
    this.add(name, list);
    [this.vars, this.rangeDepth] = [vars, depth];
  }

  private definition(): void {
    const context = 'define clause';
    const t = this.nextNonSpace();
    if (t.k !== 'string' && t.k !== 'rawstring') throw this.unexpected(t, context);
    const name = this.unquote(t);
    this.expect('rdelim', context);
    this.body(name, context);
  }

  private itemList(): [ListNode, EndNode] {
    const list: ListNode = [];
    while (this.peekNonSpace().k !== 'eof') {
      const n = this.textOrAction();
      if (isEnd(n)) return [list, n];
      list.push(n);
    }
    throw this.err('unexpected EOF');
  }

  private textOrAction(): Node | EndNode {
    const t = this.nextNonSpace();
    if (t.k === 'text') return { t: 'text', pos: t.pos, text: t.v };
    if (t.k !== 'ldelim') throw this.unexpected(t, 'input');
    this.actionLine = lineAt(this.src, t.pos);
    try {
      return this.action();
    } finally {
      this.actionLine = 0;
    }
  }

  private action(): Node | EndNode {
    const t = this.nextNonSpace();
    switch (t.k) {
      case 'block': return this.block();
      case 'break': case 'continue': {
        const name = `{{${t.k}}}`;
        const next = this.nextNonSpace();
        if (next.k !== 'rdelim') throw this.unexpected(next, name);
        if (this.rangeDepth === 0) throw this.err(`${name} outside {{range}}`);
        return { t: t.k, pos: t.pos };
      }
      case 'else': {
        // "else if" and "else with" leave the keyword for control() to see.
        const peek = this.peekNonSpace();
        if (peek.k === 'if' || peek.k === 'with') return { t: 'else', pos: peek.pos };
        return { t: 'else', pos: this.expect('rdelim', 'else').pos };
      }
      case 'end': return { t: 'end', pos: this.expect('rdelim', 'end').pos };
      case 'if': case 'with': case 'range': return this.control(t.k);
      case 'template': {
        const context = 'template clause';
        const nameTok = this.nextNonSpace();
        const name = this.templateName(nameTok, context);
        let pipe: PipeNode | undefined;
        if (this.nextNonSpace().k !== 'rdelim') {
          this.backup();
          pipe = this.pipeline(context, 'rdelim');
        }
        return { t: 'template', pos: nameTok.pos, name, pipe };
      }
    }
    this.backup();
    const pos = this.peek().pos;
    return { t: 'action', pos, pipe: this.pipeline('command', 'rdelim') };
  }

  private block(): TemplateNode {
    const context = 'block clause';
    const nameTok = this.nextNonSpace();
    const name = this.templateName(nameTok, context);
    const pipe = this.pipeline(context, 'rdelim');
    this.body(name, context);
    return { t: 'template', pos: nameTok.pos, name, pipe };
  }

  private templateName(t: Tok, context: string): string {
    if (t.k !== 'string' && t.k !== 'rawstring') throw this.unexpected(t, context);
    return this.unquote(t);
  }

  private control(context: 'if' | 'with' | 'range'): ControlNode {
    const nvars = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rdelim');
      if (context === 'range') this.rangeDepth++;
      let [list, next] = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | undefined;
      if (next.t === 'else') {
        if (context !== 'range' && this.peek().k === context) {
          // {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}.
          this.next();
          elseList = [this.control(context)];
        } else {
          [elseList, next] = this.itemList();
          if (next.t !== 'end') throw this.err(`expected end; found ${str(next)}`);
        }
      }
      return { t: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = nvars;
    }
  }

  private pipeline(context: string, end: 'rdelim' | 'rparen'): PipeNode {
    const pipe: PipeNode = { t: 'pipe', pos: this.peekNonSpace().pos, decl: [], assign: false, cmds: [] };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.k !== 'var') break;
      const at = this.i;
      this.next();
      const next = this.peekNonSpace();
      if (next.k === 'assign' || next.k === 'declare') {
        pipe.assign = next.k === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ t: 'var', pos: v.pos, ident: [v.v] });
        this.vars.push(v.v);
      } else if (next.k === 'char' && next.v === ',') {
        this.nextNonSpace();
        pipe.decl.push({ t: 'var', pos: v.pos, ident: [v.v] });
        this.vars.push(v.v);
        if (context === 'range' && pipe.decl.length < 2) {
          const k = this.peekNonSpace().k;
          if (k === 'var' || k === 'rdelim' || k === 'rparen') continue;
          throw this.err('range can only initialize variables');
        }
        throw this.err(`too many declarations in ${context}`);
      } else {
        this.i = at;
      }
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.k === end) {
        if (!pipe.cmds.length) throw this.err(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, i) => {
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.t)) {
            throw this.err(`non executable command in pipeline stage ${i + 2}`);
          }
        });
        return pipe;
      }
      switch (t.k) {
        case 'bool': case 'charconst': case 'dot': case 'field': case 'ident': case 'number':
        case 'nil': case 'rawstring': case 'string': case 'var': case 'lparen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          throw this.unexpected(t, context);
      }
    }
  }

  private command(): CmdNode {
    const cmd: CmdNode = { t: 'cmd', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const op = this.operand();
      if (op) cmd.args.push(op);
      const t = this.next();
      if (t.k === 'space') continue;
      if (t.k === 'rdelim' || t.k === 'rparen') this.backup();
      else if (t.k !== 'pipe') throw this.unexpected(t, 'operand');
      break;
    }
    if (!cmd.args.length) throw this.err('empty command');
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (!node || this.peek().k !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().k === 'field') fields.push(this.next().v.slice(1));
    switch (node.t) {
      case 'field': return { t: 'field', pos, ident: [...node.ident, ...fields] };
      case 'var': return { t: 'var', pos, ident: [...node.ident, ...fields] };
      case 'bool': case 'string': case 'number': case 'nil': case 'dot':
        throw this.err(`unexpected . after term ${goQuote(str(node))}`);
    }
    return { t: 'chain', pos, node, fields };
  }

  private term(): ArgNode | null {
    const t = this.nextNonSpace();
    switch (t.k) {
      case 'ident':
        if (!this.hasFunc(t.v)) throw this.err(`function ${goQuote(t.v)} not defined`);
        return { t: 'ident', pos: t.pos, name: t.v };
      case 'dot': return { t: 'dot', pos: t.pos };
      case 'nil': return { t: 'nil', pos: t.pos };
      case 'var':
        if (!this.vars.includes(t.v)) throw this.err(`undefined variable ${goQuote(t.v)}`);
        return { t: 'var', pos: t.pos, ident: [t.v] };
      case 'field': return { t: 'field', pos: t.pos, ident: [t.v.slice(1)] };
      case 'bool': return { t: 'bool', pos: t.pos, v: t.v === 'true' };
      case 'charconst': case 'number': return this.number(t);
      case 'lparen': return this.pipeline('parenthesized pipeline', 'rparen');
      case 'string': case 'rawstring': return { t: 'string', pos: t.pos, text: t.v, v: this.unquote(t) };
    }
    this.backup();
    return null;
  }

  private unquote(t: Tok): string {
    try {
      return unquoteGo(t.v);
    } catch {
      throw this.err('invalid syntax');
    }
  }

  private number(t: Tok): NumberNode {
    try {
      return { t: 'number', pos: t.pos, text: t.v, ...parseNumber(t.v, t.k === 'charconst') };
    } catch (e) {
      throw this.err(e instanceof Error ? e.message : String(e));
    }
  }
}

const isEnd = (n: Node | EndNode): n is EndNode => n.t === 'end' || n.t === 'else';

function isEmptyTree(list: ListNode): boolean {
  return list.every((n) => n.t === 'text' && n.text.trim() === '');
}

interface NumberValue { v: number | bigint; isInt: boolean; isFloat: boolean; overflow: boolean }

/** newNumber in parse/node.go, without complex constants. */
function parseNumber(text: string, charConst: boolean): NumberValue {
  if (charConst) {
    const [ch, tail] = unquoteChar(text.slice(1), "'");
    if (tail !== "'") throw new Error(`malformed character constant: ${text}`);
    return { v: ch.codePointAt(0)!, isInt: true, isFloat: false, overflow: false };
  }
  if (text.endsWith('i')) throw new Error(`complex constants are not supported: ${goQuote(text)}`);
  const big = parseGoInt(text);
  if (big !== null && big < 2n ** 64n && big >= -(2n ** 63n)) {
    const isInt = big < 2n ** 63n;
    const v = Number(big);
    return { v: Number.isSafeInteger(v) ? v : big, isInt, isFloat: false, overflow: !isInt };
  }
  const f = parseGoFloat(text);
  if (f === null) throw new Error(`illegal number syntax: ${goQuote(text)}`);
  if (!/[.eEpP]/.test(text)) throw new Error(`integer overflow: ${goQuote(text)}`);
  return { v: f, isInt: Number.isInteger(f) && Math.abs(f) < 2 ** 63, isFloat: true, overflow: false };
}

function underscoresOK(s: string, leadingOK: boolean): boolean {
  return !s.includes('__') && !s.endsWith('_') && (leadingOK || !s.startsWith('_'));
}

/** strconv.ParseInt(s, 0, 64) syntax, without the range check. */
function parseGoInt(text: string): bigint | null {
  let s = text;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') [neg, s] = [s[0] === '-', s.slice(1)];
  let base = 10;
  let prefixed = false;
  const p = s.slice(0, 2).toLowerCase();
  if (p === '0x' || p === '0o' || p === '0b') [base, s, prefixed] = [p === '0x' ? 16 : p === '0o' ? 8 : 2, s.slice(2), true];
  else if (s.length > 1 && s[0] === '0') [base, s, prefixed] = [8, s.slice(1), true];
  if (s.includes('_')) {
    if (!underscoresOK(s, prefixed)) return null;
    s = s.replace(/_/g, '');
  }
  const ok = { 16: /^[0-9a-fA-F]+$/, 10: /^[0-9]+$/, 8: /^[0-7]+$/, 2: /^[01]+$/ }[base]!;
  if (!ok.test(s)) return null;
  const n = BigInt(base === 10 ? s : `0${base === 16 ? 'x' : base === 8 ? 'o' : 'b'}${s}`);
  return neg ? -n : n;
}

/** strconv.ParseFloat(s, 64) syntax; null on error or overflow. */
function parseGoFloat(text: string): number | null {
  const hex = /^([+-]?)0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9_]+)$/.exec(text);
  let f: number;
  if (hex) {
    const [, sign, int = '', frac = '', exp = ''] = hex;
    const digits = (int + frac).replace(/_/g, '');
    if (!digits) return null;
    f = parseInt(digits, 16) * 2 ** (Number(exp.replace(/_/g, '')) - 4 * frac.replace(/_/g, '').length);
    if (sign === '-') f = -f;
  } else {
    if (text.includes('_') && (!underscoresOK(text, false) || /_[.eE]|[.eE]_/.test(text))) return null;
    const s = text.replace(/_/g, '');
    if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return null;
    f = Number(s);
  }
  return Number.isFinite(f) ? f : null;
}

const SYNTAX = 'invalid syntax';

/** strconv.Unquote for "…" and `…` literals. */
function unquoteGo(q: string): string {
  const quote = q[0];
  if (q.length < 2 || q[q.length - 1] !== quote) throw new Error(SYNTAX);
  if (quote === '`') return q.slice(1, -1).replace(/\r/g, '');
  let s = q.slice(1, -1);
  let out = '';
  while (s) {
    const [ch, rest] = unquoteChar(s, quote!);
    out += ch;
    s = rest;
  }
  return out;
}

/** strconv.UnquoteChar: the first (possibly escaped) character of s, and the rest. */
function unquoteChar(s: string, quote: string): [string, string] {
  const c = s[0];
  if (c === undefined || c === quote) throw new Error(SYNTAX);
  if (c !== '\\') {
    const ch = String.fromCodePoint(s.codePointAt(0)!);
    return [ch, s.slice(ch.length)];
  }
  const e = s[1];
  const rest = s.slice(2);
  switch (e) {
    case 'a': return ['\x07', rest];
    case 'b': return ['\b', rest];
    case 'f': return ['\f', rest];
    case 'n': return ['\n', rest];
    case 'r': return ['\r', rest];
    case 't': return ['\t', rest];
    case 'v': return ['\v', rest];
    case '\\': return ['\\', rest];
    case "'": case '"':
      if (e !== quote) throw new Error(SYNTAX);
      return [e, rest];
    case 'x': case 'u': case 'U': {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const h = rest.slice(0, n);
      if (h.length < n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(SYNTAX);
      const v = parseInt(h, 16);
      if (e === 'x') return [String.fromCharCode(v), rest.slice(n)];
      if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) throw new Error(SYNTAX);
      return [String.fromCodePoint(v), rest.slice(n)];
    }
  }
  const o = s.slice(1, 4);
  if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new Error(SYNTAX);
  return [String.fromCharCode(parseInt(o, 8)), s.slice(4)];
}

// ---------------------------------------------------------------------------
// Execution (text/template/exec.go)

/** How a function parameter is checked and converted, after Go's reflect types. */
type ParamKind = 'any' | 'value' | 'string' | 'int' | 'strings';
const PARAM_TYPE: Record<ParamKind, string> = {
  any: 'interface {}', value: 'reflect.Value', string: 'string', int: 'int', strings: '[]string',
};

interface FuncSpec {
  fn: TemplateFunc;
  /** Fixed parameters; when absent, any arguments are passed as they are. */
  params?: readonly ParamKind[];
  variadic?: ParamKind;
  lazy?: 'and' | 'or';
}
type Lookup = (name: string) => FuncSpec | undefined;

function toSpecs(funcs: Readonly<Record<string, TemplateFunc>> | undefined): Map<string, FuncSpec> | undefined {
  if (!funcs) return undefined;
  return new Map(Object.entries(funcs).map(([k, fn]) => [k, { fn }]));
}

function chainLookup(...maps: (Map<string, FuncSpec> | undefined)[]): Lookup {
  return (name) => {
    for (const m of maps) {
      const f = m?.get(name);
      if (f) return f;
    }
    return DOCKER_FUNCS.get(name) ?? BUILTINS.get(name);
  };
}

const MISSING = Symbol('missing');
const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');
/** Go's maxExecDepth is 100000; JS stacks are shallower. */
const MAX_DEPTH = 1000;

class Exec {
  out = '';
  private node: AnyNode | null = null;
  private vars: { name: string; value: unknown; iface: boolean }[] = [];
  /** Whether dot has Go's static type interface {} (an element of a map or slice). */
  private dotIface = false;
  private depth = 0;
  private name = '';

  constructor(
    private readonly src: string,
    private readonly trees: Map<string, ListNode>,
    private readonly lookup: Lookup,
  ) {}

  run(data: unknown): void {
    const dot = data === null ? undefined : data;
    this.vars = [{ name: '$', value: dot, iface: false }];
    const root = this.trees.get('');
    if (!root) throw this.err('"" is an incomplete or empty template');
    this.walkList(dot, root, false);
  }

  private err(msg: string): TemplateError {
    if (!this.node) return new TemplateError(`template: ${this.name}: ${msg}`, 'exec');
    const before = this.src.slice(0, this.node.pos);
    const col = Buffer.byteLength(before.slice(before.lastIndexOf('\n') + 1));
    const where = `:${lineAt(this.src, this.node.pos)}:${col}`;
    return new TemplateError(`template: ${where}: executing ${goQuote(this.name)} at <${str(this.node)}>: ${msg}`, 'exec');
  }

  private walkList(dot: unknown, list: ListNode, iface = this.dotIface): void {
    const saved = this.dotIface;
    this.dotIface = iface;
    try {
      for (const n of list) this.walk(dot, n);
    } finally {
      this.dotIface = saved;
    }
  }

  private walk(dot: unknown, node: Node): void {
    this.node = node;
    switch (node.t) {
      case 'text':
        this.out += node.text;
        return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (!node.pipe.decl.length) this.printValue(node, v);
        return;
      }
      case 'if': case 'with': {
        const mark = this.vars.length;
        try {
          const v = this.evalPipeline(dot, node.pipe);
          if (node.t === 'with' && isTrue(v)) this.walkList(v, node.list, false);
          else if (isTrue(v)) this.walkList(dot, node.list);
          else if (node.elseList) this.walkList(dot, node.elseList);
        } finally {
          this.vars.length = mark;
        }
        return;
      }
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
    }
  }

  private walkRange(dot: unknown, r: ControlNode): void {
    const mark0 = this.vars.length;
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.vars.length;
      const decl = r.pipe.decl;
      const one = (index: unknown, elem: unknown, iface: boolean) => {
        if (decl.length > 0) {
          if (r.pipe.assign) this.setVar(decl[0]!.ident[0]!, decl.length > 1 ? index : elem, decl.length === 1 && iface);
          else Object.assign(this.vars[this.vars.length - 1]!, { value: elem, iface });
        }
        if (decl.length > 1) {
          if (r.pipe.assign) this.setVar(decl[1]!.ident[0]!, elem, iface);
          else Object.assign(this.vars[this.vars.length - 2]!, { value: index, iface: false });
        }
        try {
          this.walkList(elem, r.list, iface);
        } catch (e) {
          if (e !== CONTINUE) throw e;
        } finally {
          this.vars.length = mark;
        }
      };
      let ran: boolean;
      try {
        ran = this.iterate(val, decl.length, one);
      } catch (e) {
        if (e === BREAK) return;
        throw e;
      }
      if (!ran && r.elseList) this.walkList(dot, r.elseList);
    } finally {
      this.vars.length = mark0;
    }
  }

  /** Calls `one` per element; false when there was nothing to iterate. */
  private iterate(val: unknown, nvars: number, one: (index: unknown, elem: unknown, iface: boolean) => void): boolean {
    switch (kindOf(val)) {
      case 'slice': {
        const a = val as unknown[];
        for (let i = 0; i < a.length; i++) one(i, a[i], true);
        return a.length > 0;
      }
      case 'map': {
        const entries = mapEntries(val as object);
        for (const [k, v] of entries) one(k, v, true);
        return entries.length > 0;
      }
      case 'invalid': case 'nil':
        return false;
      case 'number': case 'bigint':
        if (Number.isInteger(Number(val))) {
          if (nvars > 1) throw this.err(`can't use ${goFormat(val)} to iterate over more than one variable`);
          const n = Number(val);
          for (let i = 0; i < n; i++) one(undefined, i, false);
          return n > 0;
        }
    }
    throw this.err(`range can't iterate over ${goFormat(val)}`);
  }

  private walkTemplate(dot: unknown, t: TemplateNode): void {
    this.node = t;
    const tree = this.trees.get(t.name);
    if (!tree) throw this.err(`template ${goQuote(t.name)} not defined`);
    if (this.depth >= MAX_DEPTH) throw this.err(`exceeded maximum template depth (${MAX_DEPTH})`);
    const newDot = this.evalPipeline(dot, t.pipe);
    const [vars, name] = [this.vars, this.name];
    [this.vars, this.name] = [[{ name: '$', value: newDot, iface: false }], t.name];
    this.depth++;
    try {
      this.walkList(newDot, tree, false);
    } finally {
      [this.vars, this.name] = [vars, name];
      this.depth--;
    }
  }

  private setVar(name: string, value: unknown, iface = false): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        Object.assign(this.vars[i]!, { value, iface });
        return;
      }
    }
    throw this.err(`undefined variable: ${name}`);
  }

  private variable(name: string): { value: unknown; iface: boolean } {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!;
    throw this.err(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: unknown, pipe: PipeNode | undefined): unknown {
    if (!pipe) return undefined;
    this.node = pipe;
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go digs into interface values here, so a nil interface becomes the invalid value.
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.assign) this.setVar(v.ident[0]!, value);
      else this.vars.push({ name: v.ident[0]!, value, iface: false });
    }
    return value;
  }

  private notAFunction(args: ArgNode[], final: unknown): void {
    if (args.length > 1 || final !== MISSING) throw this.err(`can't give argument to non-function ${str(args[0]!)}`);
  }

  private evalCommand(dot: unknown, cmd: CmdNode, final: unknown): unknown {
    const first = cmd.args[0]!;
    switch (first.t) {
      case 'field': return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain': return this.evalChainNode(dot, first, cmd.args, final);
      case 'ident': return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'var': return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.node = first;
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case 'bool': return first.v;
      case 'dot': return dot;
      case 'nil': throw this.err('nil is not a command');
      case 'number': return this.idealConstant(first);
      case 'string': return first.v;
    }
  }

  private idealConstant(n: NumberNode): number | bigint {
    this.node = n;
    if (!n.isFloat && n.overflow) throw this.err(`${n.text} overflows int`);
    return n.v;
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: ArgNode[] | null, final: unknown): unknown {
    this.node = field;
    return this.evalFieldChain(dot, dot, this.dotIface, field, field.ident, args, final);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: ArgNode[] | null, final: unknown): unknown {
    this.node = chain;
    if (chain.node.t === 'nil') throw this.err(`indirection through explicit nil in ${str(chain)}`);
    const pipe = this.evalArg(dot, 'value', chain.node);
    return this.evalFieldChain(dot, pipe, false, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: unknown, v: VarNode, args: ArgNode[] | null, final: unknown): unknown {
    this.node = v;
    const { value, iface } = this.variable(v.ident[0]!);
    if (v.ident.length === 1) {
      if (args) this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, iface, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(
    dot: unknown, receiver: unknown, iface: boolean, node: AnyNode, ident: string[], args: ArgNode[] | null, final: unknown,
  ): unknown {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) {
      const next = this.evalField(dot, ident[i]!, node, null, MISSING, receiver, iface);
      // A map's elements are interface {}; a struct's fields have their own types.
      iface = kindOf(receiver) === 'map';
      receiver = next;
    }
    return this.evalField(dot, ident[n - 1]!, node, args, final, receiver, iface);
  }

  private evalField(
    dot: unknown, name: string, node: AnyNode, args: ArgNode[] | null, final: unknown, receiver: unknown, iface: boolean,
  ): unknown {
    if (receiver === undefined) return undefined;
    if (receiver === null) throw this.err(`nil pointer evaluating interface {}.${name}`);
    const typeName = () => (iface && kindOf(receiver) !== 'struct' ? 'interface {}' : goTypeName(receiver));
    const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
    const kind = kindOf(receiver);
    let value: unknown;
    if (kind === 'struct') {
      if (!hasField(receiver as object, name)) throw this.err(`can't evaluate field ${name} in type ${typeName()}`);
      value = (receiver as Record<string, unknown>)[name];
    } else if (kind === 'map') {
      value = receiver instanceof Map ? receiver.get(name) : Object.hasOwn(receiver as object, name) ? (receiver as Record<string, unknown>)[name] : undefined;
    } else {
      throw this.err(`can't evaluate field ${name} in type ${typeName()}`);
    }
    // A struct's function-valued property is a method: it gets the arguments.
    // A function in a map is only a value (for `call`), as in Go.
    if (kind === 'struct' && typeof value === 'function') {
      return this.evalCall(dot, { fn: value.bind(receiver) as TemplateFunc }, node, name, args, final);
    }
    if (hasArgs) throw this.err(kind === 'struct' ? `${name} has arguments but cannot be invoked as function` : `${name} is not a method but has arguments`);
    return value;
  }

  private evalFunction(dot: unknown, node: IdentNode, cmd: AnyNode, args: ArgNode[] | null, final: unknown): unknown {
    this.node = node;
    const spec = this.lookup(node.name);
    if (!spec) throw this.err(`${goQuote(node.name)} is not a defined function`);
    return this.evalCall(dot, spec, cmd, node.name, args, final);
  }

  private evalCall(dot: unknown, spec: FuncSpec, node: AnyNode, name: string, args: ArgNode[] | null, final: unknown): unknown {
    const argNodes = args ? args.slice(1) : [];
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    const params = spec.params;
    if (params) {
      if (spec.variadic !== undefined) {
        if (numIn < params.length) throw this.err(`wrong number of args for ${name}: want at least ${params.length} got ${argNodes.length}`);
      } else if (numIn !== params.length) {
        throw this.err(`wrong number of args for ${name}: want ${params.length} got ${numIn}`);
      }
    }
    const kindAt = (i: number): ParamKind => (params ? params[i] ?? spec.variadic ?? 'any' : 'any');
    if (spec.lazy) {
      // and/or stop at the first argument that decides the answer.
      let v: unknown;
      for (const a of argNodes) {
        v = this.evalArg(dot, 'value', a);
        if (isTrue(v) === (spec.lazy === 'or')) return v;
      }
      return final !== MISSING ? final : v;
    }
    const argv = argNodes.map((a, i) => this.evalArg(dot, kindAt(i), a));
    if (final !== MISSING) argv.push(this.validate(final, kindAt(numIn - 1)));
    try {
      return spec.fn(...argv);
    } catch (e) {
      if (e instanceof TemplateError || e === BREAK || e === CONTINUE) throw e;
      this.node = node;
      throw this.err(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private evalArg(dot: unknown, kind: ParamKind, n: ArgNode): unknown {
    this.node = n;
    switch (n.t) {
      case 'dot': return this.validate(dot, kind);
      case 'nil':
        if (kind === 'string' || kind === 'int') throw this.err(`cannot assign nil to ${PARAM_TYPE[kind]}`);
        return kind === 'strings' ? [] : kind === 'any' ? null : undefined;
      case 'field': return this.validate(this.evalFieldNode(dot, n, [n], MISSING), kind);
      case 'var': return this.validate(this.evalVariableNode(dot, n, null, MISSING), kind);
      case 'pipe': return this.validate(this.evalPipeline(dot, n), kind);
      case 'ident': return this.validate(this.evalFunction(dot, n, n, null, MISSING), kind);
      case 'chain': return this.validate(this.evalChainNode(dot, n, null, MISSING), kind);
    }
    switch (kind) {
      case 'string':
        if (n.t === 'string') return n.v;
        throw this.err(`expected string; found ${str(n)}`);
      case 'int':
        if (n.t === 'number' && n.isInt) return Number(n.v);
        throw this.err(`expected integer; found ${str(n)}`);
      case 'strings':
        throw this.err(`can't handle ${str(n)} for arg of type []string`);
    }
    return n.t === 'number' ? this.idealConstant(n) : n.v;
  }

  /** validateType: converts a value for a parameter, or fails as Go does. */
  private validate(value: unknown, kind: ParamKind): unknown {
    switch (kind) {
      case 'any': return value === undefined ? null : value;
      case 'value': return value;
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int':
        if (typeof value === 'number' && Number.isInteger(value)) return value;
        if (typeof value === 'bigint') return Number(value);
        break;
      case 'strings':
        if (value === undefined || value === null) return [];
        // JSON arrays are []interface{}; accept them where Go's typed data has []string.
        if (Array.isArray(value)) return value.map((e) => (typeof e === 'string' ? e : fmtArg(e, 'v', PLAIN, 1)));
        break;
    }
    if (value === undefined) throw this.err(`invalid value; expected ${PARAM_TYPE[kind]}`);
    throw this.err(`wrong type for value; expected ${PARAM_TYPE[kind]}; got ${goTypeName(value)}`);
  }

  private printValue(node: ActionNode, v: unknown): void {
    this.node = node;
    if (typeof v === 'function') throw this.err(`can't print ${str(node)} of type ${goTypeName(v)}`);
    this.out += goFormat(v);
  }
}

// ---------------------------------------------------------------------------
// Values

const STRUCT = Symbol.for('pier.template.struct');

type Kind = 'invalid' | 'nil' | 'string' | 'number' | 'bigint' | 'bool' | 'func' | 'slice' | 'map' | 'struct';

function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'undefined': return 'invalid';
    case 'string': case 'symbol': return 'string';
    case 'number': return 'number';
    case 'bigint': return 'bigint';
    case 'boolean': return 'bool';
    case 'function': return 'func';
  }
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof Map) return 'map';
  if (STRUCT in (v as object)) return 'struct';
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? 'map' : 'struct';
}

/** Own properties, getters and methods count; Object.prototype's and constructors do not. */
function hasField(obj: object, name: string): boolean {
  for (let o: object | null = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    if (Object.hasOwn(o, name)) return o === obj || name !== 'constructor';
  }
  return false;
}

/** Go's type name for a value, as it appears in error messages. */
function goTypeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid': case 'nil': return 'interface {}';
    case 'string': return 'string';
    case 'number': return Number.isInteger(v) && !Object.is(v, -0) ? 'int' : 'float64';
    case 'bigint': return 'int64';
    case 'bool': return 'bool';
    case 'func': return 'func()';
    case 'slice': return '[]interface {}';
    case 'map': return 'map[string]interface {}';
    case 'struct': {
      const o = v as Record<string | symbol, unknown>;
      return typeof o[STRUCT] === 'string' ? (o[STRUCT] as string) : (o.constructor as { name?: string } | undefined)?.name || 'struct {}';
    }
  }
}

/** Go's truth: false for false, 0, "", nil, and empty slices and maps. */
function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid': case 'nil': return false;
    case 'bool': return v as boolean;
    case 'number': return v !== 0;
    case 'bigint': return v !== 0n;
    case 'string': return (v as string).length > 0;
    case 'slice': return (v as unknown[]).length > 0;
    case 'map': return v instanceof Map ? v.size > 0 : Object.keys(v as object).length > 0;
    default: return true;
  }
}

/** A map's entries in Go's (fmtsort) order. */
function mapEntries(m: object): [unknown, unknown][] {
  const entries: [unknown, unknown][] = m instanceof Map ? [...m.entries()] : Object.entries(m);
  return entries.sort(([a], [b]) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    const [x, y] = [String(a), String(b)];
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function isStringer(v: object): boolean {
  if (v instanceof Date) return true;
  const ts = (v as { toString?: unknown }).toString;
  return typeof ts === 'function' && ts !== Object.prototype.toString;
}

/** time.Time.String() for a UTC instant. */
function goTime(d: Date): string {
  if (Number.isNaN(d.getTime())) return 'Invalid Date';
  const iso = d.toISOString();
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? `.${ms}` : ''} +0000 UTC`;
}

/** fmt.Sprint of one value, except that undefined is "<no value>" as templates print it. */
export function goFormat(v: unknown): string {
  return v === undefined ? '<no value>' : fmtArg(v, 'v', PLAIN, 0);
}

// ---------------------------------------------------------------------------
// fmt

interface Fmt {
  minus: boolean;
  plus: boolean;
  /** %+v: struct field names (and no '+' on numbers). */
  plusV: boolean;
  sharp: boolean;
  zero: boolean;
  space: boolean;
  /** -1 when absent. */
  width: number;
  prec: number;
}
const PLAIN: Fmt = { minus: false, plus: false, plusV: false, sharp: false, zero: false, space: false, width: -1, prec: -1 };

/** fmt.Sprintf for the verbs templates use: v s d q t x X o O b c U e E f F g G T %. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argi = 0;
  let reordered = false;
  let badIndex = false;
  const n = format.length;
  // An explicit argument index, %[n]d or %[n]*d, picks the next argument.
  const argIndex = () => {
    if (format[i] !== '[') return;
    reordered = true;
    const m = /^\[(\d+)\]/.exec(format.slice(i));
    const k = m ? Number(m[1]) : 0;
    if (!m || k < 1 || k > args.length) {
      badIndex = true;
      const close = format.indexOf(']', i);
      i = close < 0 ? n : close + 1;
      return;
    }
    argi = k - 1;
    i += m[0].length;
  };
  let i = 0;
  while (i < n) {
    badIndex = false;
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f: Fmt = { ...PLAIN };
    for (; i < n; i++) {
      const c = format[i];
      if (c === '#') f.sharp = true;
      else if (c === '0') f.zero = !f.minus;
      else if (c === '+') f.plus = true;
      else if (c === '-') [f.minus, f.zero] = [true, false];
      else if (c === ' ') f.space = true;
      else break;
    }
    const number = (): number => {
      argIndex();
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        return typeof a === 'number' && Number.isInteger(a) ? a : NaN;
      }
      const m = /^\d+/.exec(format.slice(i, i + 7));
      if (!m) return -1;
      i += m[0].length;
      return Number(m[0]);
    };
    f.width = number();
    if (Number.isNaN(f.width)) {
      out += '%!(BADWIDTH)';
      f.width = -1;
    } else if (f.width < -1 || (format[i - 1] === '*' && f.width < 0)) {
      [f.minus, f.zero, f.width] = [true, false, -f.width];
    }
    if (format[i] === '.') {
      i++;
      f.prec = number();
      if (Number.isNaN(f.prec)) {
        out += '%!(BADPREC)';
        f.prec = -1;
      } else if (f.prec < 0) {
        f.prec = format[i - 1] === '*' ? -1 : 0;
      }
    }
    argIndex();
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === 'v') [f.plusV, f.plus] = [f.plus, false];
    if (verb === '%') out += '%';
    else if (badIndex) out += `%!${verb}(BADINDEX)`;
    else if (argi >= args.length) out += `%!${verb}(MISSING)`;
    else out += fmtArg(args[argi++], verb, f, 0);
  }
  if (!reordered && argi < args.length) {
    const extra = args.slice(argi).map((a) => (a == null ? '<nil>' : `${goTypeName(a)}=${fmtArg(a, 'v', PLAIN, 0)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

/** fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: readonly unknown[]): string {
  let out = '';
  let prevString = false;
  args.forEach((a, i) => {
    const isString = typeof a === 'string';
    if (i > 0 && !isString && !prevString) out += ' ';
    out += fmtArg(a, 'v', PLAIN, 0);
    prevString = isString;
  });
  return out;
}

const sprintln = (args: readonly unknown[]) => `${args.map((a) => fmtArg(a, 'v', PLAIN, 0)).join(' ')}\n`;

function fmtArg(v: unknown, verb: string, f: Fmt, depth: number): string {
  if (v === undefined || v === null) return depth === 0 && verb !== 'v' && verb !== 'T' ? `%!${verb}(<nil>)` : pad('<nil>', f);
  if (verb === 'T') return pad(goTypeName(v), f);
  switch (kindOf(v)) {
    case 'bool':
      return verb === 'v' || verb === 't' ? pad(String(v), f) : badVerb(verb, v);
    case 'number': {
      const x = v as number;
      return Number.isInteger(x) && Math.abs(x) < 2 ** 63 && !Object.is(x, -0) ? fmtInteger(BigInt(x), verb, f, x) : fmtFloat(x, verb, f);
    }
    case 'bigint':
      return fmtInteger(v as bigint, verb, f, v);
    case 'string':
      return fmtString(String(v), verb, f);
    case 'slice':
      return `[${(v as unknown[]).map((e) => fmtArg(e, verb, f, depth + 1)).join(' ')}]`;
    case 'map':
      return `map[${mapEntries(v as object).map(([k, x]) => `${fmtArg(k, verb, f, depth + 1)}:${fmtArg(x, verb, f, depth + 1)}`).join(' ')}]`;
    case 'struct': {
      const o = v as object;
      // A Stringer prints through String() for the string-ish verbs.
      if (isStringer(o) && 'vsxXq'.includes(verb)) return fmtString(o instanceof Date ? goTime(o) : String(o), verb, f);
      const fields = Object.entries(o).map(([k, x]) => (f.plusV ? `${k}:` : '') + fmtArg(x, verb, f, depth + 1));
      return `{${fields.join(' ')}}`;
    }
    default:
      return badVerb(verb, v);
  }
}

function badVerb(verb: string, v: unknown): string {
  return `%!${verb}(${goTypeName(v)}=${fmtArg(v, 'v', PLAIN, 1)})`;
}

function runeLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

function pad(s: string, f: Fmt): string {
  if (f.width < 0) return s;
  const n = runeLength(s);
  if (n >= f.width) return s;
  const padding = (f.zero ? '0' : ' ').repeat(f.width - n);
  return f.minus ? s + padding : padding + s;
}

function fmtInteger(n: bigint, verb: string, f: Fmt, orig: unknown): string {
  let base = 10;
  let upper = false;
  switch (verb) {
    case 'v': case 'd': break;
    case 'b': base = 2; break;
    case 'o': case 'O': base = 8; break;
    case 'x': base = 16; break;
    case 'X': [base, upper] = [16, true]; break;
    case 'c': return pad(runeOf(n), f);
    case 'q': return pad(goQuote(runeOf(n), "'"), f);
    case 'U': {
      const u = `U+${(n < 0n ? -n : n).toString(16).toUpperCase().padStart(4, '0')}`;
      return pad(f.sharp && n >= 0n && n <= 0x10ffffn && isPrintRune(runeOf(n)) ? `${u} '${runeOf(n)}'` : u, f);
    }
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
      // Go would refuse an int here; JS cannot tell 3 from 3.0, so accept it.
      return fmtFloat(Number(n), verb, f);
    default:
      return badVerb(verb, orig);
  }
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString(base);
  if (upper) digits = digits.toUpperCase();
  let prec = 0;
  if (f.prec >= 0) {
    prec = f.prec;
    if (prec === 0 && n === 0n) return pad('', { ...f, zero: false });
  } else if (f.zero && !f.minus && f.width >= 0) {
    prec = f.width - (neg || f.plus || f.space ? 1 : 0);
  }
  digits = digits.padStart(prec, '0');
  if (f.sharp) {
    if (base === 2) digits = `0b${digits}`;
    else if (base === 8 && digits[0] !== '0') digits = `0${digits}`;
    else if (base === 16) digits = (upper ? '0X' : '0x') + digits;
  }
  if (verb === 'O') digits = `0o${digits}`;
  const sign = neg ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  return pad(sign + digits, { ...f, zero: false });
}

function runeOf(n: bigint): string {
  return n < 0n || n > 0x10ffffn || (n >= 0xd800n && n < 0xe000n) ? '\ufffd' : String.fromCodePoint(Number(n));
}

function fmtFloat(v: number, verb: string, f: Fmt): string {
  let body: string;
  const a = Math.abs(v);
  switch (verb) {
    case 'v': case 'g': case 'G': body = formatG(a, f.prec, verb === 'G'); break;
    case 'e': case 'E': body = formatE(a, f.prec < 0 ? 6 : f.prec, verb); break;
    case 'f': case 'F': body = formatF(a, f.prec < 0 ? 6 : f.prec); break;
    default: return badVerb(verb, v);
  }
  if (Number.isNaN(v)) return pad(f.plus ? '+NaN' : f.space ? ' NaN' : 'NaN', { ...f, zero: false });
  const neg = v < 0 || Object.is(v, -0);
  if (!Number.isFinite(v)) return pad(`${neg ? '-' : f.space && !f.plus ? ' ' : '+'}Inf`, { ...f, zero: false });
  const sign = neg ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  if (f.zero && !f.minus && f.width > sign.length + body.length) return sign + body.padStart(f.width - sign.length, '0');
  return pad(sign + body, { ...f, zero: false });
}

/** Decimal digits (no trailing zeros) and decimal point position: value = 0.d × 10^dp. */
interface Decimal {
  d: string;
  dp: number;
}

/** The shortest digits that read back as a (a > 0), like strconv's shortest mode. */
function shortestDigits(a: number): Decimal {
  const s = a.toExponential();
  const e = s.indexOf('e');
  return { d: s.slice(0, e).replace('.', '').replace(/0+$/, ''), dp: Number(s.slice(e + 1)) + 1 };
}

/** The exact decimal expansion of a finite a >= 0. */
function exactDigits(a: number): Decimal {
  if (a === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  if (biased) mant |= 1n << 52n;
  const exp = (biased || 1) - 1075;
  // a = mant × 2^exp = mant × 5^-exp / 10^-exp when exp < 0.
  const digits = exp >= 0 ? (mant << BigInt(exp)).toString() : (mant * 5n ** BigInt(-exp)).toString();
  const dp = exp >= 0 ? digits.length : digits.length + exp;
  return { d: digits.replace(/0+$/, ''), dp };
}

/** strconv's decimal.Round(nd): to nd digits, halves to even. */
function roundDigits({ d, dp }: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= d.length) return { d, dp };
  const half = d[nd] === '5' && nd + 1 === d.length;
  const up = half ? nd > 0 && Number(d[nd - 1]) % 2 === 1 : d[nd]! >= '5';
  if (!up) {
    const r = d.slice(0, nd).replace(/0+$/, '');
    return { d: r, dp: r ? dp : 0 };
  }
  for (let i = nd - 1; i >= 0; i--) {
    if (d[i]! < '9') return { d: d.slice(0, i) + String.fromCharCode(d.charCodeAt(i) + 1), dp };
  }
  return { d: '1', dp: dp + 1 };
}

/** strconv.FormatFloat(a, 'g', prec, 64) for a >= 0; prec -1 is the shortest form. */
function formatG(a: number, prec: number, upper: boolean): string {
  if (!Number.isFinite(a)) return '';
  const shortest = prec < 0;
  if (prec === 0) prec = 1;
  const { d, dp } = a === 0 ? { d: '', dp: 0 } : shortest ? shortestDigits(a) : roundDigits(exactDigits(a), prec);
  const nd = d.length;
  let p = shortest ? nd : prec;
  let eprec = p;
  if (eprec > nd && nd >= dp) eprec = nd;
  if (shortest) eprec = 6;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (p > nd) p = nd;
    return digitsE(d, dp, p - 1, upper ? 'E' : 'e');
  }
  if (p > dp) p = nd;
  return digitsF(d, dp, Math.max(p - dp, 0));
}

function formatE(a: number, prec: number, verb: string): string {
  if (!Number.isFinite(a)) return '';
  const { d, dp } = roundDigits(exactDigits(a), prec + 1);
  return digitsE(d, dp, prec, verb === 'E' ? 'E' : 'e');
}

function formatF(a: number, prec: number): string {
  if (!Number.isFinite(a)) return '';
  const x = exactDigits(a);
  const { d, dp } = roundDigits(x, x.dp + prec);
  return digitsF(d, dp, prec);
}

function digitsE(d: string, dp: number, prec: number, ch: string): string {
  let s = d[0] ?? '0';
  if (prec > 0) s += `.${d.slice(1, prec + 1).padEnd(prec, '0')}`;
  const exp = d.length === 0 ? 0 : dp - 1;
  const ae = Math.abs(exp);
  return `${s}${ch}${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
}

function digitsF(d: string, dp: number, prec: number): string {
  let s = dp > 0 ? d.slice(0, dp).padEnd(dp, '0') : '0';
  if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) s += d[dp + i] ?? '0';
  }
  return s;
}

function fmtString(s: string, verb: string, f: Fmt): string {
  switch (verb) {
    case 'v': case 's':
      return pad(f.prec >= 0 ? [...s].slice(0, f.prec).join('') : s, f);
    case 'q':
      if (f.sharp && !/[`\x00-\x08\x0a-\x1f\x7f\ufeff]/.test(s)) return pad(`\`${s}\``, f);
      return pad(goQuote(f.prec >= 0 ? [...s].slice(0, f.prec).join('') : s, '"', f.plus), f);
    case 'x': case 'X': {
      let bytes = Buffer.from(s, 'utf8');
      if (f.prec >= 0) bytes = bytes.subarray(0, f.prec);
      let h = '';
      bytes.forEach((b, i) => {
        if (f.space && i > 0) h += ' ';
        if (f.sharp && (f.space || i === 0)) h += verb === 'X' ? '0X' : '0x';
        const x = b.toString(16).padStart(2, '0');
        h += verb === 'X' ? x.toUpperCase() : x;
      });
      return pad(h, f);
    }
    default:
      return badVerb(verb, s);
  }
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const isPrintRune = (ch: string) => ch === ' ' || PRINTABLE.test(ch);

/** strconv.Quote (QuoteRune with quote "'", QuoteToASCII with asciiOnly). */
function goQuote(s: string, quote = '"', asciiOnly = false): string {
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (c < 0x80 ? c >= 0x20 && c !== 0x7f : !asciiOnly && isPrintRune(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c < 0xe000) out += '\\ufffd';
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

/** Go's %#U: U+0041 'A'. */
function fmtU(cp: number): string {
  const ch = String.fromCodePoint(cp);
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}${isPrintRune(ch) ? ` '${ch}'` : ''}`;
}

// ---------------------------------------------------------------------------
// JSON: encoding/json with SetEscapeHTML(false), as docker's `json` function.

function encodeJSON(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid': case 'nil': return 'null';
    case 'string': return jsonString(String(v));
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${goFormat(v)}`);
      return JSON.stringify(v);
    case 'bigint': case 'bool': return String(v);
    case 'func': throw new Error('json: unsupported type: func()');
    case 'slice':
      return `[${(v as unknown[]).map((e) => (e === undefined || typeof e === 'function' ? 'null' : encodeJSON(e))).join(',')}]`;
  }
  if (v instanceof Date) {
    const iso = v.toISOString();
    const ms = iso.slice(20, 23).replace(/0+$/, '');
    return jsonString(`${iso.slice(0, 19)}${ms ? `.${ms}` : ''}Z`);
  }
  const o = v as { toJSON?: () => unknown };
  if (typeof o.toJSON === 'function') return encodeJSON(o.toJSON());
  // Go sorts map keys; plain objects keep their order, which is the API's (struct) order.
  const entries = v instanceof Map ? mapEntries(v) : Object.entries(v as object);
  const fields = entries
    .filter(([, x]) => x !== undefined && typeof x !== 'function')
    .map(([k, x]) => `${jsonString(String(k))}:${encodeJSON(x)}`);
  return `{${fields.join(',')}}`;
}

const jsonString = (s: string) => JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

// ---------------------------------------------------------------------------
// Functions: Go's builtins, then docker's (templates/templates.go).

type BasicKind = 'bool' | 'num' | 'string' | 'invalid';
const basicKind = (v: unknown): BasicKind =>
  typeof v === 'boolean' ? 'bool' : typeof v === 'number' || typeof v === 'bigint' ? 'num' : typeof v === 'string' ? 'string' : 'invalid';
const isNil = (v: unknown) => v === undefined || v === null;

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (!rest.length) throw new Error('missing argument for comparison');
  const ka = basicKind(a);
  for (const b of rest) {
    const kb = basicKind(b);
    let truth = false;
    if (ka !== kb) {
      if (!isNil(a) && !isNil(b)) throw new Error('incompatible types for comparison');
    } else if (ka === 'num') {
      truth = Number(a) === Number(b);
    } else if (ka !== 'invalid') {
      truth = a === b;
    } else if (isNil(a) || isNil(b)) {
      truth = isNil(a) && isNil(b);
    } else {
      const k = kindOf(b);
      if (k === 'slice' || k === 'map' || k === 'func') throw new Error(`non-comparable type ${fmtArg(b, 's', PLAIN, 0)}: ${goTypeName(b)}`);
      truth = a === b;
    }
    if (truth) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const [ka, kb] = [basicKind(a), basicKind(b)];
  if (ka === 'invalid' || kb === 'invalid') throw new Error('invalid type for comparison');
  if (ka !== kb) throw new Error('incompatible types for comparison');
  if (ka === 'bool') throw new Error('invalid type for comparison');
  return ka === 'num' ? Number(a) < Number(b) : (a as string) < (b as string);
}
const le = (a: unknown, b: unknown) => lt(a, b) || eq(a, b);

function length(v: unknown): number {
  if (v === undefined) throw new Error('reflect: call of reflect.Value.Type on zero Value');
  if (v === null) throw new Error('len of nil pointer');
  switch (kindOf(v)) {
    case 'string': return Buffer.byteLength(v as string);
    case 'slice': return (v as unknown[]).length;
    case 'map': return v instanceof Map ? v.size : Object.keys(v as object).length;
  }
  throw new Error(`len of type ${goTypeName(v)}`);
}

function indexArg(i: unknown, cap: number): number {
  if (isNil(i)) throw new Error('cannot index slice/array with nil');
  if (!(typeof i === 'number' && Number.isInteger(i)) && typeof i !== 'bigint') {
    throw new Error(`cannot index slice/array with type ${goTypeName(i)}`);
  }
  const x = Number(i);
  if (x < 0 || x > cap) throw new Error(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (isNil(item)) throw new Error('index of untyped nil');
  let cur: unknown = item;
  for (const ix of indexes) {
    if (isNil(cur)) throw new Error('index of nil pointer');
    switch (kindOf(cur)) {
      case 'string': {
        const bytes = Buffer.from(cur as string);
        const x = indexArg(ix, bytes.length);
        if (x === bytes.length) throw new Error('reflect: string index out of range');
        cur = bytes[x];
        break;
      }
      case 'slice': {
        const a = cur as unknown[];
        const x = indexArg(ix, a.length);
        if (x === a.length) throw new Error('reflect: slice index out of range');
        cur = a[x];
        break;
      }
      case 'map':
        if (cur instanceof Map) {
          cur = cur.has(ix) ? cur.get(ix) : null;
        } else {
          if (isNil(ix)) throw new Error('value is nil; should be of type string');
          if (typeof ix !== 'string') throw new Error(`value has type ${goTypeName(ix)}; should be string`);
          cur = Object.hasOwn(cur as object, ix) ? (cur as Record<string, unknown>)[ix] : null;
        }
        break;
      default:
        throw new Error(`can't index item of type ${goTypeName(cur)}`);
    }
  }
  return cur;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (isNil(item)) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const k = kindOf(item);
  if (k === 'string' && indexes.length === 3) throw new Error('cannot 3-index slice a string');
  if (k !== 'string' && k !== 'slice') throw new Error(`can't slice item of type ${goTypeName(item)}`);
  const bytes = k === 'string' ? Buffer.from(item as string) : undefined;
  const len = bytes ? bytes.length : (item as unknown[]).length;
  const idx = [0, len, len];
  indexes.forEach((ix, i) => (idx[i] = indexArg(ix, len)));
  if (idx[0]! > idx[1]!) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) throw new Error(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  return bytes ? bytes.subarray(idx[0], idx[1]).toString() : (item as unknown[]).slice(idx[0], idx[1]);
}

function call(fn: unknown, ...args: unknown[]): unknown {
  if (isNil(fn)) throw new Error('call of nil');
  if (typeof fn !== 'function') throw new Error(`non-function of type ${goTypeName(fn)}`);
  return (fn as TemplateFunc)(...args);
}

/** evalArgs for html/js/urlquery: a lone string as is, anything else through Sprint. */
const argString = (args: unknown[]) =>
  args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args.map((a) => (a === null ? '<no value>' : a)));

const HTML_ESCAPES: Record<string, string> = { '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\0': '\ufffd' };
const JS_ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D' };

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (JS_ESCAPES[ch]) out += JS_ESCAPES[ch];
    else if (c < 0x20) out += `\\u00${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (c < 0x80 || isPrintRune(ch)) out += ch;
    else out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s)) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const BUILTINS = new Map<string, FuncSpec>([
  ['and', { fn: () => undefined, params: ['value'], variadic: 'value', lazy: 'and' }],
  ['or', { fn: () => undefined, params: ['value'], variadic: 'value', lazy: 'or' }],
  ['not', { fn: (v: unknown) => !isTrue(v), params: ['value'] }],
  ['len', { fn: length, params: ['value'] }],
  ['index', { fn: index, params: ['value'], variadic: 'value' }],
  ['slice', { fn: slice, params: ['value'], variadic: 'value' }],
  ['call', { fn: call, params: ['value'], variadic: 'value' }],
  ['print', { fn: (...a: unknown[]) => sprint(a), params: [], variadic: 'any' }],
  ['printf', { fn: (f: string, ...a: unknown[]) => sprintf(f, a), params: ['string'], variadic: 'any' }],
  ['println', { fn: (...a: unknown[]) => sprintln(a), params: [], variadic: 'any' }],
  ['html', { fn: (...a: unknown[]) => argString(a).replace(/["'&<>\0]/g, (c) => HTML_ESCAPES[c]!), params: [], variadic: 'any' }],
  ['js', { fn: (...a: unknown[]) => jsEscape(argString(a)), params: [], variadic: 'any' }],
  ['urlquery', { fn: (...a: unknown[]) => queryEscape(argString(a)), params: [], variadic: 'any' }],
  ['eq', { fn: eq, params: ['value'], variadic: 'value' }],
  ['ne', { fn: (a: unknown, b: unknown) => !eq(a, b), params: ['value', 'value'] }],
  ['lt', { fn: lt, params: ['value', 'value'] }],
  ['le', { fn: le, params: ['value', 'value'] }],
  ['gt', { fn: (a: unknown, b: unknown) => !le(a, b), params: ['value', 'value'] }],
  ['ge', { fn: (a: unknown, b: unknown) => !lt(a, b), params: ['value', 'value'] }],
]);

/** strings.Title: upper-cases letters that begin words. */
function title(s: string): string {
  let out = '';
  let prev = ' ';
  for (const ch of s) {
    const sep = prev < '\x80' ? !/[0-9A-Za-z_]/.test(prev) : !/[\p{L}\p{Nd}]/u.test(prev) && /\s/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

const DOCKER_FUNCS = new Map<string, FuncSpec>([
  ['json', {
    fn: (v: unknown) => {
      try {
        return encodeJSON(v);
      } catch {
        return ''; // docker ignores the encoder's error and prints nothing
      }
    },
    params: ['any'],
  }],
  ['split', { fn: (s: string, sep: string) => (sep === '' ? [...s] : s.split(sep)), params: ['string', 'string'] }],
  ['join', { fn: (a: string[], sep: string) => a.join(sep), params: ['strings', 'string'] }],
  ['title', { fn: title, params: ['string'] }],
  ['lower', { fn: (s: string) => s.toLowerCase(), params: ['string'] }],
  ['upper', { fn: (s: string) => s.toUpperCase(), params: ['string'] }],
  ['pad', {
    fn: (s: string, prefix: number, suffix: number) => {
      if (s === '') return s;
      if (prefix < 0 || suffix < 0) throw new Error('strings: negative Repeat count');
      return ' '.repeat(prefix) + s + ' '.repeat(suffix);
    },
    params: ['string', 'int', 'int'],
  }],
  ['truncate', {
    fn: (s: string, n: number) => {
      // Go slices bytes, not characters.
      const b = Buffer.from(s);
      if (b.length < n) return s;
      if (n < 0) throw new Error(`runtime error: slice bounds out of range [:${n}]`);
      return b.subarray(0, n).toString();
    },
    params: ['string', 'int'],
  }],
]);

/** docker's HeaderFunctions: the header row shows column names untouched (pad still pads). */
const HEADER_FUNCS = new Map<string, FuncSpec>([
  ['json', { fn: (v: string) => v, params: ['string'] }],
  ['split', { fn: (v: string) => v, params: ['string', 'string'] }],
  ['join', { fn: (v: string) => v, params: ['string', 'string'] }],
  ['title', { fn: (v: string) => v, params: ['string'] }],
  ['lower', { fn: (v: string) => v, params: ['string'] }],
  ['upper', { fn: (v: string) => v, params: ['string'] }],
  ['truncate', { fn: (v: string) => v, params: ['string', 'int'] }],
]);

// ---------------------------------------------------------------------------
// Tables

/**
 * Go's text/tabwriter with docker's settings (minwidth 10, tabwidth 1,
 * padding 3, padchar ' ', no flags). Cells are '\t'-terminated; a column is
 * as wide as its widest cell in each block of consecutive lines that have it,
 * plus padding, and at least minwidth. The last cell of a line is not padded.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  const out: string[] = [];
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      let s = '';
      lines[i]!.forEach((cell, j) => {
        s += cell;
        if (j < widths.length) s += ' '.repeat(Math.max(0, widths[j]! - runeLength(cell)));
      });
      out.push(s);
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let th = line0; th < line1; th++) {
      if (column >= lines[th]!.length - 1) continue;
      writeLines(line0, th);
      line0 = th;
      let width = minwidth;
      for (; th < line1; th++) {
        const line = lines[th]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, runeLength(line[column]!) + padding);
      }
      widths.push(width);
      format(line0, th);
      widths.pop();
      line0 = th;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join('\n');
}

/**
 * Docker's formatter: `format` may start with "table" (header row, aligned
 * columns) or be "json" ({{json .}} per row). Literal "\t" and "\n" in the
 * format become tab and newline; surrounding spaces are trimmed. Each row is
 * followed by a newline. The header row is the template run on `headers`
 * (field name → column title) with docker's header functions; as in docker,
 * an error there only cuts the header short. An empty "table" format is the
 * caller's to replace with its default.
 */
export function renderTable(format: string, rows: readonly unknown[], headers: Readonly<Record<string, string>>): string {
  const table = format.startsWith('table');
  let f = table ? format.slice('table'.length) : format.trim() === 'json' ? '{{json .}}' : format;
  f = f.replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tmpl = new Parser(f, lex(f), (n) => DOCKER_FUNCS.has(n) || BUILTINS.has(n)).parse();
  let body = '';
  for (const row of rows) {
    const ex = new Exec(f, tmpl, chainLookup());
    ex.run(row);
    body += `${ex.out}\n`;
  }
  if (!table) return body;
  const hx = new Exec(f, tmpl, chainLookup(HEADER_FUNCS));
  try {
    hx.run(headers);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
  }
  return tabwrite(`${hx.out}\n${body}`);
}
