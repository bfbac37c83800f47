/**
 * The few pieces of Go's value syntax that Docker's Dockerfile front end
 * exposes to users: which characters are white space (unicode.IsSpace), how a
 * string is quoted in messages (strconv.Quote, i.e. `%q`), and how durations
 * (time.ParseDuration) and integers (strconv.ParseInt) are read, with Go's
 * error texts. They live here so that the parser, the lexer and the
 * instructions print exactly what dockerd prints.
 */

/** unicode.IsSpace: Go's notion of white space (Latin-1 spaces plus Unicode's Z categories). */
export function isSpace(ch: string): boolean {
  switch (ch) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case '\u0085':
    case '\u00a0':
      return true;
  }
  return ch.length > 0 && ch.charCodeAt(0) > 0xff && /^[\p{Zs}\p{Zl}\p{Zp}]$/u.test(ch);
}

/** strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  const cps = [...s];
  while (i < cps.length && isSpace(cps[i]!)) i++;
  return cps.slice(i).join('');
}

/** strings.TrimSpace. */
export function trimSpace(s: string): string {
  const cps = [...trimLeftSpace(s)];
  let j = cps.length;
  while (j > 0 && isSpace(cps[j - 1]!)) j--;
  return cps.slice(0, j).join('');
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const NAMED_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** strconv.Quote, which is what `%q` and `%#v` print for a string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (PRINTABLE.test(ch)) out += ch;
    else if (NAMED_ESCAPES[ch]) out += NAMED_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

const NS_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n, // µs, MICRO SIGN
  '\u03bcs': 1_000n, // μs, GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/**
 * time.ParseDuration, in nanoseconds. Throws Go's messages:
 * `time: invalid duration "x"`, `time: missing unit in duration "5"`,
 * `time: unknown unit "d" in duration "5d"`.
 */
export function parseDuration(text: string): number {
  const invalidDuration = () => new Error(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalidDuration();
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalidDuration();
    // The integer part; Go's leadingInt fails past 1<<63.
    let i = 0;
    let v = 0n;
    while (isDigit(s[i])) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > 1n << 63n) throw invalidDuration();
      i++;
    }
    const pre = i > 0;
    s = s.slice(i);
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      while (isDigit(s[j])) {
        if (!overflow) {
          if (f > MAX_INT64 / 10n) overflow = true;
          else {
            const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
            if (y > 1n << 63n) overflow = true;
            else {
              f = y;
              scale *= 10;
            }
          }
        }
        j++;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalidDuration();
    let u = 0;
    while (u < s.length && !(s[u] === '.' || isDigit(s[u]))) u++;
    if (u === 0) throw new Error(`time: missing unit in duration ${goQuote(text)}`);
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = NS_UNITS[unitName];
    if (unit === undefined) throw new Error(`time: unknown unit ${goQuote(unitName)} in duration ${goQuote(text)}`);
    if (v > (1n << 63n) / unit) throw invalidDuration();
    v *= unit;
    if (f > 0n) {
      // Go does this part in float64.
      v += BigInt(Math.floor(Number(f) * (Number(unit) / scale)));
      if (v > 1n << 63n) throw invalidDuration();
    }
    d += v;
    if (d > 1n << 63n) throw invalidDuration();
  }
  if (neg) return -Number(d);
  if (d > MAX_INT64) throw invalidDuration();
  return Number(d);
}

/** strconv.ParseInt(s, 10, bits), with Go's messages. */
export function parseInt10(s: string, bits: 32 | 64 = 64): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const v = BigInt(s);
  const max = (1n << BigInt(bits - 1)) - 1n;
  if (v > max || v < -max - 1n) throw new Error(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return Number(v);
}
