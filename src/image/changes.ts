/**
 * Dockerfile instructions applied to an image config, as `docker import -c`
 * and `docker commit -c` take them: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
 * ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (Docker allows exactly these).
 */
import { invalid } from '../base/errdefs.js';
import type { ContainerConfig } from './oci.js';

const ALLOWED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

/** JSON array form when it parses as an array of strings, else the shell form wrapped in /bin/sh -c. */
function execOrShell(arg: string): string[] {
  const t = arg.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      /* not JSON: shell form, like Docker */
    }
  }
  return ['/bin/sh', '-c', t];
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))) {
    return s.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return s.replace(/\\(.)/g, '$1');
}

/** Splits `a=b "c=d e"` into words, honouring quotes and backslashes. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (quote) throw invalid(`unterminated quote in "${s}"`);
  if (cur || any) out.push(cur);
  return out;
}

/** Parses `key=value ...` pairs, or the legacy single `key value` form. */
function pairs(instr: string, arg: string): [string, string][] {
  const ws = words(arg);
  if (ws.length === 0) throw invalid(`${instr} requires at least one argument`);
  if (!ws[0]!.includes('=')) {
    const sp = arg.trim().match(/^(\S+)\s+(.*)$/s);
    if (!sp) throw invalid(`${instr} requires at least two arguments`);
    return [[sp[1]!, unquote(sp[2]!.trim())]];
  }
  return ws.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw invalid(`${instr} names can not be blank and need a value: "${w}"`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

export function applyChanges(cfg: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const out: ContainerConfig = structuredClone(cfg);
  for (const raw of changes) {
    const line = raw.trim();
    if (!line) continue;
    const m = line.match(/^(\S+)\s*(.*)$/s)!;
    const instr = m[1]!.toUpperCase();
    const arg = m[2]!;
    if (!ALLOWED.includes(instr)) throw invalid(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD': out.Cmd = execOrShell(arg); break;
      case 'ENTRYPOINT': out.Entrypoint = execOrShell(arg); break;
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of pairs(instr, arg)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL':
        out.Labels = { ...(out.Labels ?? {}) };
        for (const [k, v] of pairs(instr, arg)) out.Labels[k] = v;
        break;
      case 'EXPOSE':
        out.ExposedPorts = { ...(out.ExposedPorts ?? {}) };
        for (const p of words(arg)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw invalid(`invalid containerPort: ${p}`);
          out.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        break;
      case 'VOLUME': {
        out.Volumes = { ...(out.Volumes ?? {}) };
        const t = arg.trim();
        const list = t.startsWith('[') ? (JSON.parse(t) as string[]) : words(t);
        for (const v of list) out.Volumes[v] = {};
        break;
      }
      case 'USER': out.User = arg.trim(); break;
      case 'WORKDIR': out.WorkingDir = arg.trim(); break;
      case 'STOPSIGNAL': out.StopSignal = arg.trim(); break;
      case 'ONBUILD': out.OnBuild = [...(out.OnBuild ?? []), arg.trim()]; break;
    }
  }
  return out;
}
