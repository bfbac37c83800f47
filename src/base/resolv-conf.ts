/**
 * The host's /etc/resolv.conf, parsed: what a container's resolv.conf starts
 * from, and where the embedded DNS server forwards. Read again at most every
 * 5 s, so starting containers in a burst does not read it once each.
 */
import { readFileSync } from 'node:fs';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

const MAX_AGE_MS = 5000;
let cached: { at: number; conf: ResolvConf } | undefined;

export function hostResolvConf(path = '/etc/resolv.conf'): ResolvConf {
  if (path === '/etc/resolv.conf' && cached && Date.now() - cached.at < MAX_AGE_MS) return cached.conf;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    /* none: no servers */
  }
  const conf = parseResolvConf(text);
  if (path === '/etc/resolv.conf') cached = { at: Date.now(), conf };
  return conf;
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const l of text.split('\n')) {
    const [k, ...v] = l.trim().split(/\s+/);
    if (k === 'nameserver' && v[0]) conf.nameservers.push(v[0]);
    else if (k === 'search' || k === 'domain') conf.search = v;
    else if (k === 'options') conf.options.push(...v);
  }
  return conf;
}
