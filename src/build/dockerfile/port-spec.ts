/**
 * EXPOSE's port specs, read as the classic builder reads them (go-connections
 * nat.ParsePortSpecs): `80`, `80/udp`, `8000-8002/tcp`, even
 * `ip:hostPort:containerPort` (only the container port counts). Each becomes
 * one exposed port key, "80/tcp". Errors are nat's:
 *
 *   exposedPorts(['80', '53/udp', '7000-7001'])  // ['80/tcp', '53/udp', '7000/tcp', '7001/tcp']
 *   exposedPorts(['80/foo'])                     // throws "invalid proto: foo"
 */
import { isIP } from 'node:net';
import { invalid } from '../../base/errdefs.js';

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  const container = parts[n - 1]!;
  switch (n) {
    case 1:
      return ['', '', container];
    case 2:
      return ['', parts[0]!, container];
    case 3:
      return [parts[0]!, parts[1]!, container];
    default:
      return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, container];
  }
}

function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw.length === 0 || parts[0]!.length === 0) return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1]!.length === 0) return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** strconv.ParseUint(s, 10, 16). */
const parsePort = (s: string): number | undefined => (/^[0-9]+$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined);

function parsePortRange(ports: string): [number, number] | undefined {
  if (ports === '') return undefined;
  if (!ports.includes('-')) {
    const p = parsePort(ports);
    return p === undefined ? undefined : [p, p];
  }
  const parts = ports.split('-');
  const start = parsePort(parts[0]!);
  const end = parsePort(parts[1]!);
  if (start === undefined || end === undefined || end < start) return undefined;
  return [start, end];
}

/** One spec's exposed ports, "80/tcp"… */
export function exposedPortsOf(raw: string): string[] {
  const [ip0, hostPort, containerPart] = splitParts(raw);
  const [proto, containerPort] = splitProtoPort(containerPart);
  let ip = ip0;
  if (ip !== '' && ip.startsWith('[')) {
    const m = /^\[([^\]]*)\]$/.exec(ip);
    if (!m) throw invalid(`invalid IP address ${ip}: address ${ip}:: missing port in address`);
    ip = m[1]!;
  }
  if (ip !== '' && isIP(ip) === 0) throw invalid(`invalid IP address: ${ip}`);
  if (containerPort === '') throw invalid(`no port specified: ${raw}<empty>`);
  const range = parsePortRange(containerPort);
  if (!range) throw invalid(`invalid containerPort: ${containerPort}`);
  const [start, end] = range;
  if (hostPort !== '') {
    const host = parsePortRange(hostPort);
    if (!host) throw invalid(`invalid hostPort: ${hostPort}`);
    if (end - start !== host[1] - host[0] && end !== start) {
      throw invalid(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
  }
  const p = proto.toLowerCase();
  if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw invalid(`invalid proto: ${p}`);
  const out: string[] = [];
  for (let port = start; port <= end; port++) out.push(`${port}/${p}`);
  return out;
}

/** nat.ParsePortSpecs: every spec's exposed ports, each once, in order. */
export function exposedPorts(specs: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const s of specs) for (const p of exposedPortsOf(s)) seen.add(p);
  return [...seen];
}
