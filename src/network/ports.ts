/**
 * Published ports: what a container asks for (HostConfig.PortBindings, and
 * with -P every EXPOSEd port), and the host ports it gets. Traffic is
 * forwarded by the kernel (DNAT rules, firewall.ts) — no userland proxy in
 * the path, so throughput is the kernel's — but each host port is also held
 * by a socket of pierd's, bound like docker-proxy would: a port that another
 * program or container already uses is refused with a clear error, an
 * ephemeral port comes from the kernel's own choice (bind to port 0), and no
 * program can take a published port from under a container.
 */
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { conflict, invalid } from '../base/errdefs.js';
import type { PortMap, PortMapping } from './types.js';

export interface PortRequest {
  proto: PortMapping['proto'];
  containerPort: number;
  hostIp: string;
  /** Inclusive host port range; [0, 0] = any free port. */
  hostPorts: [number, number];
}

/** "80/tcp" → [80, 'tcp']. */
export function parsePortKey(key: string): { port: number; proto: PortMapping['proto'] } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw invalid(`invalid port specification: "${key}"`);
  return { port, proto: (m[2]?.toLowerCase() ?? 'tcp') as PortMapping['proto'] };
}

function parseHostPorts(s: string | undefined, key: string): [number, number] {
  if (!s) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s.trim());
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo < 0 || hi > 65535 || hi < lo) throw invalid(`invalid hostPort: ${s} (for ${key})`);
  return [lo, hi];
}

/** Every port a container publishes: its bindings, then (with -P) each exposed port not bound. */
export function portRequests(bindings: PortMap | null | undefined, exposed: Record<string, unknown> | null | undefined, publishAll: boolean): PortRequest[] {
  const out: PortRequest[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    for (const b of list?.length ? list : [{ HostIp: '', HostPort: '' }]) {
      const ip = (b.HostIp ?? '').replace(/^\[|\]$/g, '');
      if (ip && !/^[0-9.]+$/.test(ip)) {
        if (ip === '::') continue; // IPv6 wildcard: the IPv4 binding (Docker's default pair) serves it here
        throw invalid(`invalid host IP ${b.HostIp} for port ${key}: Pier publishes on IPv4 addresses`);
      }
      out.push({ proto, containerPort: port, hostIp: ip, hostPorts: parseHostPorts(b.HostPort, key) });
    }
  }
  if (publishAll)
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parsePortKey(key);
      if (out.some((r) => r.containerPort === port && r.proto === proto)) continue;
      out.push({ proto, containerPort: port, hostIp: '', hostPorts: [0, 0] });
    }
  return out;
}

/** NetworkSettings.Ports as inspect shows it: every exposed or published port, with its host bindings when running. */
export function portMapView(exposed: Record<string, unknown> | null | undefined, bindings: PortMap | null | undefined, active: PortMapping[] | undefined): PortMap {
  const out: PortMap = {};
  const keys = new Set([...Object.keys(exposed ?? {}), ...Object.keys(bindings ?? {})].map((k) => {
    const { port, proto } = parsePortKey(k);
    return `${port}/${proto}`;
  }));
  for (const k of keys) out[k] = null;
  for (const m of active ?? []) {
    const k = `${m.containerPort}/${m.proto}`;
    (out[k] ??= []).push({ HostIp: m.hostIp || '0.0.0.0', HostPort: String(m.hostPort) });
  }
  return out;
}

type Holder = Server | Socket;

/** The sockets that hold published host ports, by "proto/ip/port". */
export class PortReservations {
  private readonly held = new Map<string, Holder>();

  /** Binds a host port for the request; the mapping names the port the kernel gave when any was asked for. */
  async reserve(r: PortRequest, defaultIp: string, endpoint: string): Promise<PortMapping> {
    const ip = r.hostIp || defaultIp || '0.0.0.0';
    const [lo, hi] = r.hostPorts;
    const where = (p: number) => `${ip}:${p}/${r.proto}`;
    if (r.proto === 'sctp') throw invalid('publishing sctp ports is not supported by Pier');
    let lastErr: unknown;
    for (let p = lo; p <= hi; p++) {
      if (p !== 0 && this.held.has(`${r.proto}/${ip}/${p}`)) {
        lastErr = conflict(`driver failed programming external connectivity on endpoint ${endpoint}: Bind for ${ip}:${p} failed: port is already allocated`);
        continue;
      }
      try {
        const { holder, port } = await bind(r.proto, ip, p);
        this.held.set(`${r.proto}/${ip}/${port}`, holder);
        return { proto: r.proto, containerPort: r.containerPort, hostIp: r.hostIp || defaultIp || '', hostPort: port };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          lastErr = conflict(`driver failed programming external connectivity on endpoint ${endpoint}: failed to bind port ${where(p)}: listen ${r.proto}4 ${ip}:${p}: bind: address already in use`);
        else if (code === 'EADDRNOTAVAIL')
          lastErr = invalid(`driver failed programming external connectivity on endpoint ${endpoint}: failed to bind port ${where(p)}: listen ${r.proto}4 ${ip}:${p}: bind: cannot assign requested address`);
        else throw e;
      }
    }
    throw lastErr ?? conflict(`no free host port in ${lo}-${hi} for ${r.containerPort}/${r.proto}`);
  }

  /** A mapping's hostIp is the address it was bound to ('' for all). */
  release(m: PortMapping): void {
    const key = `${m.proto}/${m.hostIp || '0.0.0.0'}/${m.hostPort}`;
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    h.close();
  }

  /** Takes back a port a running container held before the daemon restarted; false when another program has it now. */
  async readopt(m: PortMapping): Promise<boolean> {
    const ip = m.hostIp || '0.0.0.0';
    try {
      const { holder } = await bind(m.proto, ip, m.hostPort);
      this.held.set(`${m.proto}/${ip}/${m.hostPort}`, holder);
      return true;
    } catch {
      return false;
    }
  }

  closeAll(): void {
    for (const h of this.held.values()) h.close();
    this.held.clear();
  }
}

function bind(proto: PortMapping['proto'], ip: string, port: number): Promise<{ holder: Holder; port: number }> {
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const s = createSocket({ type: 'udp4' });
      s.once('error', reject);
      s.bind({ address: ip, port, exclusive: true }, () => {
        s.removeListener('error', reject);
        s.on('error', () => undefined);
        s.unref();
        resolve({ holder: s, port: s.address().port });
      });
      return;
    }
    // Connections never reach this socket (the DNAT rules take them first); any that slip through are closed.
    const srv = createServer((c) => c.destroy());
    srv.once('error', reject);
    srv.listen({ host: ip, port, exclusive: true, backlog: 1 }, () => {
      srv.removeListener('error', reject);
      srv.on('error', () => undefined);
      srv.unref();
      resolve({ holder: srv, port: (srv.address() as { port: number }).port });
    });
  });
}
