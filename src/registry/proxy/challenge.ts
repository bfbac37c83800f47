/**
 * WWW-Authenticate parsing (RFC 9110 §11.6.1): one header may hold several
 * challenges, `Basic realm="x", Bearer realm="y",service="z",scope="a b"`;
 * parameter values are tokens or quoted strings with backslash escapes.
 */
export interface Challenge {
  scheme: string; // lower-cased: 'bearer', 'basic', …
  params: Record<string, string>; // names lower-cased
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseChallenges(header: string | null | undefined): Challenge[] {
  const s = header ?? '';
  const out: Challenge[] = [];
  let i = 0;
  const skip = (chars: string) => {
    while (i < s.length && chars.includes(s[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skip(' \t,');
    const scheme = token();
    if (!scheme) {
      i++; // stray character: step over it
      continue;
    }
    const c: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(c);
    for (;;) {
      skip(' \t');
      const start = i;
      const name = token();
      skip(' \t');
      if (!name || s[i] !== '=') {
        i = start; // not a parameter: the next challenge begins here
        break;
      }
      i++;
      skip(' \t');
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++; // closing quote
      } else {
        const vs = i;
        while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
        value = s.slice(vs, i);
      }
      c.params[name.toLowerCase()] = value;
      skip(' \t');
      if (s[i] !== ',') break;
      i++;
    }
  }
  return out;
}
