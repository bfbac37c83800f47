// docker's formatter.Context around the Go-template engine: "table …" formats get
// a header and aligned columns, other formats print one executed line per row,
// "json" means {{json .}}.

import { asStruct, compile, renderTable, TemplateError, type Template } from './format/template.js';
import { StatusError } from './command.js';

export const TABLE = 'table';
export const JSON_FORMAT = '{{json .}}';

export const isTable = (format: string) => format.startsWith(TABLE);

/** docker's preFormat: literal "\t" and "\n" typed on the command line become real ones. */
export function unescapeFormat(format: string): string {
  return format.replaceAll('\\t', '\t').replaceAll('\\n', '\n');
}

export interface RowsOptions {
  /** Go type of a row, for "can't evaluate field X in type T" errors. */
  typeName?: string;
  /** docker's row contexts marshal with json.Marshal, which escapes <, > and &. */
  marshalJSON?: boolean;
}

/**
 * Render rows with a resolved format ("table …", "json" or a template), as docker's
 * formatter.Context does. Any template error reads "template parsing error: …", exit 1.
 */
export function formatRows(format: string, rows: object[], headers: Record<string, string>, o: RowsOptions = {}): string {
  if (format === 'json') format = JSON_FORMAT;
  if (o.marshalJSON && format.trim() === JSON_FORMAT) return rows.map((r) => goJSON(r) + '\n').join('');
  const data = o.typeName ? rows.map((r) => asStruct({ ...r }, o.typeName!)) : rows;
  try {
    return renderTable(format, data, headers);
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(1, `template parsing error: ${e.message}`);
    throw e;
  }
}

/** Parse a template; a syntax error exits `status` with "<prefix>: template: …". */
export function parseTemplate(src: string, prefix = 'template parsing error', status = 64): Template {
  try {
    return compile(src);
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(status, `${prefix}: ${e.message}`);
    throw e;
  }
}

/** Execute; an error exits `status` with `prefix` + Go's message. */
export function execute(t: Template, data: unknown, prefix = '', status = 1): string {
  try {
    return t.execute(data);
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(status, `${prefix}${e.message}`);
    throw e;
  }
}

/** A template named like docker's ("version"), for the names in its error messages. */
export function named(name: string, message: string): string {
  return message.replace(/^template: :/, `template: ${name}:`).replace('executing ""', `executing ${JSON.stringify(name)}`);
}

export { asStruct };

/** stringid.TruncateID: drop "sha256:" and keep 12 characters. */
export function truncateID(id: string): string {
  const i = id.indexOf(':');
  if (i !== -1) id = id.slice(i + 1);
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** formatter.Ellipsis: cut to `max` display columns, ending in "…". */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const rs = [...s];
  if (rs.length <= max) return s;
  if (max === 1) return rs[0]!;
  return rs.slice(0, max - 1).join('') + '…';
}

/** JSON as Go's json.Marshal writes it (HTML characters escaped). */
export function goJSON(v: unknown): string {
  return JSON.stringify(v)
    .replaceAll('<', '\\u003c').replaceAll('>', '\\u003e').replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
}

/** Go's json.Indent: re-indent raw JSON text without re-encoding its values. */
export function indentJSON(raw: string, indent = '    '): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let needIndent = false;
  const nl = () => '\n' + indent.repeat(depth);
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (inString) {
      out += c;
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      out += nl();
    }
    switch (c) {
      case '"':
        inString = true;
        out += c;
        break;
      case '{':
      case '[':
        out += c;
        needIndent = true;
        break;
      case ',':
        out += c + nl();
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (needIndent) {
          needIndent = false; // empty: "{}" / "[]"
        } else {
          depth--;
          out += nl();
        }
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

/** Go's json.Compact: whitespace outside strings dropped, every value kept as written. */
export function compactJSON(raw: string): string {
  let out = '';
  let inString = false;
  let escaped = false;
  for (const c of raw) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    else if (c === '"') inString = true;
    out += c;
  }
  return out;
}

/** `inspect -f json`: docker's JSON inspector prints the daemon's documents compacted, in one array. */
export function writeInspectJson(out: (s: string) => void, raws: readonly string[], errs: readonly string[]): void {
  out(`[${raws.map(compactJSON).join(',')}]\n`);
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}

/**
 * What `inspect` prints: each daemon document through the template, or all of
 * them as one indented JSON array; then the errors (exit 1), like docker's
 * inspect.Inspect.
 */
export function writeInspect(out: (s: string) => void, tmpl: Template | undefined, raws: readonly string[], errs: readonly string[]): void {
  if (tmpl) {
    for (const r of raws) {
      try {
        out(tmpl.execute(JSON.parse(r)) + '\n');
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        out('\n');
        throw new StatusError(1, `template parsing error: ${e.message}`);
      }
    }
  } else {
    out(raws.length === 0 ? '[]\n' : indentJSON(`[${raws.join(',')}]`) + '\n');
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}
