// Human-readable sizes and durations, byte-for-byte like github.com/docker/go-units,
// because users (and scripts) compare `pier images` output with `docker images`.

const decimalAbbrs = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const binaryAbbrs = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, map: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < map.length - 1) {
    size /= base;
    i++;
  }
  return [size, map[i]!];
}

/** Go's `fmt.Sprintf("%.*g", prec, x)`: round half to even on the exact binary value,
 *  trailing zeros dropped, exponent form when exp < -4 || exp >= prec ("1e+03"). */
export function formatG(x: number, prec: number): string {
  if (prec === 0) prec = 1;
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  x = Math.abs(x);
  if (x === 0) return neg ? '-0' : '0';
  // Exact decimal expansion: a double can need hundreds of digits, but any value
  // printed here (sizes scaled below 1000) is exact within toPrecision's 100.
  let digits: string;
  let dp: number; // position of the decimal point relative to digits[0]
  {
    const s = x.toPrecision(100); // "d.ddd…e+N" or "ddd.ddd…"
    const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(s);
    if (!m) return String(x);
    const intPart = m[1]!;
    const frac = m[2] ?? '';
    const e = m[3] ? Number(m[3]) : 0;
    let all = intPart + frac;
    dp = intPart.length + e;
    const lead = all.length - all.replace(/^0+/, '').length;
    all = all.slice(lead);
    dp -= lead;
    digits = all.replace(/0+$/, '');
  }
  // Round to `prec` significant digits, half to even.
  if (digits.length > prec) {
    const next = digits.charCodeAt(prec) - 48;
    const rest = digits.slice(prec + 1);
    let up = next > 5 || (next === 5 && /[1-9]/.test(rest));
    if (next === 5 && !/[1-9]/.test(rest)) {
      const last = prec > 0 ? digits.charCodeAt(prec - 1) - 48 : 0;
      up = last % 2 === 1;
    }
    let kept = digits.slice(0, prec).split('').map((c) => c.charCodeAt(0) - 48);
    if (up) {
      let i = kept.length - 1;
      while (i >= 0 && kept[i] === 9) {
        kept[i] = 0;
        i--;
      }
      if (i < 0) {
        kept = [1, ...kept];
        dp++;
      } else {
        kept[i]!++;
      }
    }
    digits = kept.join('').replace(/0+$/, '');
    if (digits === '') digits = '0';
  }
  const exp = dp - 1;
  let eprec = prec;
  if (eprec > digits.length && digits.length >= dp) eprec = digits.length;
  let out: string;
  if (exp < -4 || exp >= eprec) {
    const mant = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const ae = Math.abs(exp);
    out = `${mant}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  } else if (dp <= 0) {
    out = '0.' + '0'.repeat(-dp) + digits;
  } else if (dp >= digits.length) {
    out = digits + '0'.repeat(dp - digits.length);
  } else {
    out = digits.slice(0, dp) + '.' + digits.slice(dp);
  }
  return neg ? '-' + out : out;
}

/** units.HumanSizeWithPrecision: decimal units, e.g. (4257792, 3) → "4.26MB". */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [s, unit] = sizeAndUnit(size, 1000, decimalAbbrs);
  return formatG(s, precision) + unit;
}

/** units.HumanSize: 4 significant digits, e.g. "2.746MB", "796kB". */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** units.BytesSize: binary units, e.g. "44KiB", "23.54GiB". */
export function bytesSize(size: number): string {
  const [s, unit] = sizeAndUnit(size, 1024, binaryAbbrs);
  return formatG(s, 4) + unit;
}

/** units.HumanDuration for a duration in milliseconds, e.g. "About a minute", "2 hours". */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** Go's time.Duration.String() for a duration in milliseconds ("1h2m3s", "1.5s", "0s"). */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  ms = Math.abs(ms);
  let out: string;
  if (ms < 1000) {
    out = `${formatG(ms, 12)}ms`;
  } else {
    const h = Math.floor(ms / 3_600_000);
    const m = Math.floor((ms % 3_600_000) / 60_000);
    const s = (ms % 60_000) / 1000;
    const secs = Number.isInteger(s) ? String(s) : String(Number(s.toFixed(9)));
    out = h > 0 ? `${h}h${m}m${secs}s` : m > 0 ? `${m}m${secs}s` : `${secs}s`;
  }
  return neg ? '-' + out : out;
}
