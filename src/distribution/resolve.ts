/**
 * Where a repository lives: a registry domain from a reference becomes the
 * list of endpoints to try, in order, like dockerd's registry service.
 *
 *   docker.io        → each of `registry-mirrors` (pulls only), then https://registry-1.docker.io
 *   localhost:5000   → https://localhost:5000 (TLS unverified), then http://localhost:5000
 *   quay.io          → https://quay.io
 *
 * A registry is insecure (plain HTTP allowed, TLS not verified) when it is
 * localhost, an address in 127.0.0.0/8 or ::1, or is named by
 * `insecure-registries` (host, host:port or CIDR). For an insecure registry
 * HTTPS is still tried first, and HTTP only when HTTPS cannot connect.
 */
import { isIP } from 'node:net';
import { invalid } from '../base/errdefs.js';

export const DOCKER_IO = 'docker.io';
export const DOCKER_IO_ENDPOINT = 'https://registry-1.docker.io';
/** The key Docker stores Hub credentials under, and what the CLI sends as serveraddress. */
export const DOCKER_INDEX_SERVER = 'https://index.docker.io/v1/';

export interface RegistryConfig {
  /** host, host:port or CIDR entries (daemon.json `insecure-registries`). */
  insecureRegistries: readonly string[];
  /** Pull mirrors of docker.io (daemon.json `registry-mirrors`), as URLs. */
  mirrors: readonly string[];
}

export interface Endpoint {
  /** scheme://host[:port], no trailing slash. */
  base: string;
  /** The registry domain the reference named ('docker.io' for the Hub and its mirrors). */
  domain: string;
  /** Verify the server's TLS certificate (https only). */
  tlsVerify: boolean;
  mirror: boolean;
  /** The Hub itself, whose unreachability gets its own message. */
  official: boolean;
}

/** Checks registry-mirrors entries like dockerd: http(s) URLs without path, query or fragment. */
export function validateMirror(m: string): string {
  let u: URL;
  try {
    u = new URL(m);
  } catch {
    throw invalid(`invalid mirror: "${m}" is not a valid URI`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`invalid mirror: unsupported scheme "${u.protocol.replace(/:$/, '')}" in "${m}"`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) throw invalid(`invalid mirror: path, query, or fragment at end of the URI "${m}"`);
  return `${u.protocol}//${u.host}`;
}

/** Checks an insecure-registries entry: a CIDR, or host[:port] without scheme. */
export function validateInsecureRegistry(s: string): string {
  if (/^[a-z]+:\/\//i.test(s)) throw invalid(`insecure registry ${s} should not contain '://'`);
  if (parseCidr(s)) return s;
  if (s.includes('/') || s === '') throw invalid(`insecure registry ${s} is not a valid host[:port] or CIDR`);
  return s.toLowerCase();
}

/** Endpoints for a domain, in the order to try them. Mirrors serve pulls only, as in Docker. */
export function endpointsFor(domain: string, cfg: RegistryConfig, o: { push?: boolean } = {}): Endpoint[] {
  if (domain === DOCKER_IO || domain === 'index.docker.io' || domain === 'registry-1.docker.io') {
    const mirrors = o.push ? [] : cfg.mirrors.map((m) => {
      const base = validateMirror(m);
      return { base, domain: DOCKER_IO, tlsVerify: !isInsecure(new URL(base).host, cfg), mirror: true, official: false };
    });
    return [...mirrors, { base: DOCKER_IO_ENDPOINT, domain: DOCKER_IO, tlsVerify: true, mirror: false, official: true }];
  }
  if (isInsecure(domain, cfg)) {
    return [
      { base: `https://${domain}`, domain, tlsVerify: false, mirror: false, official: false },
      { base: `http://${domain}`, domain, tlsVerify: false, mirror: false, official: false },
    ];
  }
  return [{ base: `https://${domain}`, domain, tlsVerify: true, mirror: false, official: false }];
}

/** Normalises a login server address ("https://index.docker.io/v1/", "http://host:5000/v2/", "host:5000") to a registry domain. */
export function domainOfServer(server: string | undefined): string {
  const s = (server ?? '').trim();
  if (s === '') return DOCKER_IO;
  const host = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === DOCKER_IO || host === '') return DOCKER_IO;
  return host;
}

/** True when plain HTTP and unverified TLS are allowed for host[:port]. */
export function isInsecure(hostPort: string, cfg: Pick<RegistryConfig, 'insecureRegistries'>): boolean {
  const { host } = splitHostPort(hostPort);
  const lower = hostPort.toLowerCase();
  if (host === 'localhost') return true;
  for (const entry of cfg.insecureRegistries) {
    const e = entry.toLowerCase();
    if (e === lower || e === host) return true;
  }
  const ip = parseIp(host);
  if (!ip) return false;
  if (inCidr(ip, parseCidr('127.0.0.0/8')!) || inCidr(ip, parseCidr('::1/128')!)) return true;
  for (const entry of cfg.insecureRegistries) {
    const c = parseCidr(entry);
    if (c && inCidr(ip, c)) return true;
  }
  return false;
}

export function splitHostPort(hostPort: string): { host: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return { host: v6[1]!.toLowerCase(), ...(v6[2] ? { port: Number(v6[2]) } : {}) };
  const i = hostPort.lastIndexOf(':');
  if (i > 0 && hostPort.indexOf(':') === i && /^\d+$/.test(hostPort.slice(i + 1))) return { host: hostPort.slice(0, i).toLowerCase(), port: Number(hostPort.slice(i + 1)) };
  return { host: hostPort.toLowerCase() };
}

// ---- IP and CIDR matching -------------------------------------------------------------------

interface Cidr {
  bytes: number[];
  bits: number;
}

function parseIp(s: string): number[] | undefined {
  const kind = isIP(s);
  if (kind === 4) return s.split('.').map(Number);
  if (kind === 6) return ipv6Bytes(s);
  return undefined;
}

function ipv6Bytes(s: string): number[] {
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  // An embedded IPv4 tail: ::ffff:127.0.0.1
  if (text.slice(lastColon + 1).includes('.')) {
    tail = text.slice(lastColon + 1).split('.').map(Number);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (p: string) => (p === '' ? [] : p.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function parseCidr(s: string): Cidr | undefined {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const bytes = parseIp(m[1]!);
  const bits = Number(m[2]);
  if (!bytes || bits > bytes.length * 8) return undefined;
  return { bytes, bits };
}

function inCidr(ip: number[], c: Cidr): boolean {
  let a = ip;
  // An IPv4-mapped IPv6 address matches IPv4 ranges, as in Go's net.IPNet.Contains.
  if (a.length === 16 && c.bytes.length === 4 && a.slice(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff) a = a.slice(12);
  if (a.length !== c.bytes.length) return false;
  for (let bit = 0; bit < c.bits; bit++) {
    const i = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((a[i]! & mask) !== (c.bytes[i]! & mask)) return false;
  }
  return true;
}
