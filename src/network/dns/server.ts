/**
 * The embedded DNS server: Docker's 127.0.0.11, answered by pierd itself.
 *
 * A container on a user-defined network gets `nameserver 127.0.0.11` in its
 * resolv.conf. For each such container, `attach` opens a UDP socket and a
 * listening TCP socket on 127.0.0.11:53 *inside the container's network
 * namespace* (the native addon enters the namespace only to create them, see
 * base/sys.ts), and serves them from the daemon's event loop. No process runs
 * in the container and no NAT rule is needed.
 *
 * Answers, as libnetwork/resolver.go does:
 * - A/AAAA for a name the container's DnsScope knows (container name, alias,
 *   short id, `name.network`; case-insensitive, trailing dot or not): its
 *   addresses of that family, shuffled per answer (round robin), TTL 600. An
 *   in-scope name with no address of the family asked gets NOERROR with no
 *   answers, never a forward, so network-internal names don't leak upstream.
 *   Other types (MX, TXT, …) for an in-scope name get the same empty NOERROR;
 *   Docker forwards those except MX, we keep every in-scope name local.
 * - PTR for an in-network address → `name.network`.
 * - Anything else is forwarded, byte for byte, to the scope's upstreams in
 *   order (at most 3, like resolv.conf): UDP queries over UDP, TCP over TCP,
 *   each with a timeout. No answer, SERVFAIL or REFUSED → the next upstream;
 *   NXDOMAIN and other answers are final; a UDP answer with TC set is passed
 *   on so the client retries over TCP. Nothing reachable → SERVFAIL. Forwards
 *   leave from the daemon's (host) namespace, so the host's loopback
 *   resolvers (systemd-resolved's 127.0.0.53) work.
 * - A packet that doesn't decode, or is a response, is dropped; a query with
 *   no or several questions gets FORMERR, an opcode other than QUERY NOTIMP.
 *
 * Per query the work is one decode and, for local names, one encode; a
 * container may have at most MAX_FORWARDS forwards in flight (more are
 * dropped, the client retries) and MAX_TCP_CONNS TCP connections, so one
 * container can't exhaust the daemon's sockets.
 *
 * Lifecycle: `attach(id, netnsPath, scope)` after the container's network is
 * set up (again with the same id and path only replaces the scope);
 * `detach(id)` when it stops. A socket holds a reference to its namespace,
 * so detach closes every socket, accepted TCP connections included, or the
 * namespace would outlive the container.
 *
 *   const dns = new EmbeddedDns({ log });
 *   await dns.attach(c.id, '/run/pier/netns/' + c.id, scope);
 *   dns.detach(c.id);
 */
import dgram from 'node:dgram';
import { setMaxListeners } from 'node:events';
import { closeSync } from 'node:fs';
import net from 'node:net';
// dns-packet: a small, well-kept library for the DNS wire format (names,
// compression pointers, EDNS); encoding it ourselves would be more code to get
// subtly wrong than it saves.
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import ipaddr from 'ipaddr.js';
import { EngineError, messageOf } from '../../base/errdefs.js';
import type { Logger } from '../../base/log.js';
import { sys } from '../../base/sys.js';

/** What one container may resolve locally, and where the rest goes. */
export interface DnsScope {
  /** Names this container may resolve: in-network names → addresses (Docker: container name, --network-alias, short id (12 hex), also `name.<network>`).
   *  The name arrives lowercased, without a trailing dot. undefined = not ours. */
  lookup(name: string): { ipv4: string[]; ipv6: string[] } | undefined;
  /** In-network reverse lookup: "10.1.2.3" (IPv6 in RFC 5952 form, "fd00::5") → "name.network", or undefined. */
  reverse(ip: string): string | undefined;
  /** Upstream resolvers for other names: "ip" or "ip:port" ("[v6]:port"); the container's --dns servers, else the host's resolv.conf ones. */
  upstreams(): string[];
}

export const DNS_ADDRESS = '127.0.0.11';
const DNS_PORT = 53;
const TTL = 600; // Docker's respTTL
const MAX_UPSTREAMS = 3; // resolv.conf's MAXNS; Docker's maxExtDNS
const DEFAULT_TIMEOUT_MS = 4000; // per upstream; Docker's extIOTimeout
const MAX_FORWARDS = 100; // per container, in flight
const MAX_TCP_CONNS = 64; // per container
const TCP_IDLE_MS = 10_000; // RFC 7766 asks servers to close idle connections after seconds
const UDP_MIN = 512; // RFC 1035's limit without EDNS
const UDP_MAX = 4096;
const DROP_LOG_MS = 5000;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NOTIMP: 4, REFUSED: 5 } as const;
const OPCODE_MASK = 0x7800;
const QR = 0x80; // in byte 2 of the header

interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
}

/** One container's sockets and scope. */
class Attachment {
  udp: dgram.Socket | undefined;
  tcp: net.Server | undefined;
  readonly conns = new Set<net.Socket>();
  readonly abort = new AbortController();
  forwards = 0;
  lastDropLog = 0;
  /** scope.upstreams() parsed, re-parsed only when it changes (so a bad entry is logged once, not per query). */
  private upstreamSpec = '';
  private upstreamList: Upstream[] = [];
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly netnsPath: string,
    public scope: DnsScope,
    readonly log: Logger,
  ) {
    setMaxListeners(MAX_FORWARDS + 10, this.abort.signal); // each forward in flight listens for detach
  }

  upstreams(): Upstream[] {
    const specs = this.scope.upstreams();
    const key = specs.join(' ');
    if (key !== this.upstreamSpec) {
      this.upstreamSpec = key;
      this.upstreamList = parseUpstreams(specs, this.log);
    }
    return this.upstreamList;
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  close(): void {
    this.abort.abort();
    try {
      this.udp?.close();
    } catch {
      /* already closed */
    }
    this.tcp?.close();
    for (const c of this.conns) c.destroy();
    this.conns.clear();
  }
}

export class EmbeddedDns {
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly attachments = new Map<string, Attachment>();

  constructor(o: { log: Logger; timeoutMs?: number }) {
    this.log = o.log.child({ component: 'dns' });
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Starts answering inside the namespace at netnsPath for this container. Idempotent per container id:
   *  again with the same path only replaces the scope; with another path (a restarted container's new namespace) it moves. */
  attach(containerId: string, netnsPath: string, scope: DnsScope): Promise<void> {
    const old = this.attachments.get(containerId);
    if (old && old.netnsPath === netnsPath) {
      old.scope = scope;
      return old.ready;
    }
    if (old) this.detach(containerId);
    const a = new Attachment(containerId, netnsPath, scope, this.log.child({ container: containerId }));
    this.attachments.set(containerId, a);
    a.ready = this.listen(a).catch((e: unknown) => {
      a.close();
      if (this.attachments.get(containerId) === a) this.attachments.delete(containerId);
      throw new EngineError('internal', `embedded DNS for container ${containerId}: ${messageOf(e)}`, { cause: e });
    });
    return a.ready;
  }

  /** Stops answering for it: closes its sockets and connections (releasing the namespace) and abandons its forwards. */
  detach(containerId: string): void {
    const a = this.attachments.get(containerId);
    if (!a) return;
    this.attachments.delete(containerId);
    a.close();
    a.log.debug('detached');
  }

  close(): void {
    for (const id of [...this.attachments.keys()]) this.detach(id);
  }

  private async listen(a: Attachment): Promise<void> {
    const udpFd = sys().netnsSocket(a.netnsPath, 'udp', DNS_ADDRESS, DNS_PORT);
    let tcpFd: number;
    try {
      tcpFd = sys().netnsSocket(a.netnsPath, 'tcp', DNS_ADDRESS, DNS_PORT);
    } catch (e) {
      closeSync(udpFd);
      throw e;
    }
    const udp = dgram.createSocket('udp4');
    try {
      udp.bind({ fd: udpFd }); // synchronous for an fd: the socket owns it from here, or this throws
    } catch (e) {
      closeSync(udpFd);
      closeSync(tcpFd);
      throw e;
    }
    a.udp = udp;
    udp.on('message', (msg, from) => {
      void this.answer(a, msg, false).then((resp) => {
        if (resp && !a.closed) udp.send(resp, from.port, from.address);
      });
    });
    udp.on('error', (e) => a.log.warn({ err: e }, 'udp socket'));
    const tcp = (a.tcp = net.createServer((c) => this.serveTcp(a, c)));
    tcp.maxConnections = MAX_TCP_CONNS;
    tcp.on('error', (e) => a.log.warn({ err: e }, 'tcp socket'));
    await new Promise<void>((resolve, reject) => {
      const signal = a.abort.signal;
      const onAbort = () => resolve(); // detached while starting: close() closed the server, 'listening' won't come
      signal.addEventListener('abort', onAbort, { once: true });
      tcp.once('error', reject);
      tcp.listen({ fd: tcpFd }, () => {
        tcp.off('error', reject);
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    if (a.closed) return;
    a.log.debug({ netns: a.netnsPath }, 'attached');
  }

  /** DNS over TCP: 2-byte length-prefixed messages, possibly pipelined; answers may come back out of order (RFC 7766). */
  private serveTcp(a: Attachment, c: net.Socket): void {
    if (a.closed) {
      c.destroy();
      return;
    }
    a.conns.add(c);
    let pending: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    c.on('close', () => a.conns.delete(c));
    c.on('error', () => c.destroy());
    c.setTimeout(TCP_IDLE_MS);
    // A listener of our own (setTimeout's callback fires once): with an answer pending, its write re-arms the timer.
    c.on('timeout', () => {
      if (inFlight === 0) c.destroy();
    });
    c.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const query = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        inFlight++;
        void this.answer(a, query, true).then((resp) => {
          inFlight--;
          if (c.destroyed) return;
          // No answer (garbage, or too many forwards) on a stream: close it, the client sees EOF.
          if (!resp) c.destroy();
          else c.write(frame(resp));
        });
      }
    });
  }

  /** The answer to one message, or undefined to send nothing. Never rejects. */
  private async answer(a: Attachment, msg: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    let q: DecodedPacket;
    try {
      if (msg.length < 12 || msg[2]! & QR) return undefined; // not a query: dropped (answering responses invites loops)
      q = dnsPacket.decode(msg);
    } catch (e) {
      if (a.log.enabled('debug')) a.log.debug({ err: e, bytes: msg.length }, 'malformed query dropped');
      return undefined;
    }
    try {
      const max = tcp ? 0xffff : udpLimit(q);
      if ((q.flags ?? 0) & OPCODE_MASK) return encode(reply(q, RCODE.NOTIMP), max);
      if (q.questions?.length !== 1) return encode(reply(q, RCODE.FORMERR), max);
      const local = localAnswer(a.scope, q);
      if (local) return encode(local, max);
      return await this.forward(a, q, msg, tcp);
    } catch (e) {
      a.log.warn({ err: e, name: q.questions?.[0]?.name }, 'query failed');
      try {
        return encode(reply(q, RCODE.SERVFAIL), UDP_MIN);
      } catch {
        return undefined; // a question we can't even echo
      }
    }
  }

  /** Sends the query as it came to each upstream in turn; the first usable answer, as it came. */
  private async forward(a: Attachment, q: DecodedPacket, msg: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    if (a.forwards >= MAX_FORWARDS) {
      const now = Date.now();
      if (now - a.lastDropLog > DROP_LOG_MS) {
        a.lastDropLog = now;
        a.log.warn({ limit: MAX_FORWARDS }, 'too many forwarded queries in flight; dropping');
      }
      return undefined;
    }
    a.forwards++;
    try {
      const name = q.questions![0]!.name;
      let last: Buffer | undefined;
      for (const u of a.upstreams()) {
        if (a.closed) return undefined;
        let resp: Buffer;
        try {
          resp = await (tcp ? tcpExchange : udpExchange)(u, msg, this.timeoutMs, a.abort.signal);
        } catch (e) {
          if (a.log.enabled('debug')) a.log.debug({ err: e, upstream: `${u.host}:${u.port}`, name }, 'upstream failed');
          continue;
        }
        const rcode = resp[3]! & 0xf;
        // SERVFAIL and REFUSED may be one server's trouble: ask the next (Docker does too).
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
          last = resp;
          continue;
        }
        return resp;
      }
      if (a.closed) return undefined;
      return last ?? encode(reply(q, RCODE.SERVFAIL), UDP_MIN);
    } finally {
      a.forwards--;
    }
  }
}

/** The local answer for q, or undefined when its name isn't ours (then it is forwarded). */
function localAnswer(scope: DnsScope, q: DecodedPacket): Packet | undefined {
  const question = q.questions![0]!;
  if ((question.class ?? 'IN') !== 'IN') return undefined;
  const name = question.name.replace(/\.$/, '').toLowerCase();
  // Answers repeat the question's name as asked: some resolvers check its case (DNS 0x20).
  const rr = (type: 'A' | 'AAAA' | 'PTR', data: string): Answer => ({ type, name: question.name, class: 'IN', ttl: TTL, data });
  if (question.type === 'PTR') {
    const ip = ptrAddress(name);
    const host = ip === undefined ? undefined : scope.reverse(ip);
    return host ? reply(q, RCODE.NOERROR, [rr('PTR', host)]) : undefined;
  }
  const hit = scope.lookup(name);
  if (!hit) return undefined;
  const answers: Answer[] = [];
  const any = (question.type as string) === 'ANY';
  if (question.type === 'A' || any) for (const ip of shuffled(hit.ipv4)) answers.push(rr('A', ip));
  if (question.type === 'AAAA' || any) for (const ip of shuffled(hit.ipv6)) answers.push(rr('AAAA', ip));
  return reply(q, RCODE.NOERROR, answers);
}

/** A response to q: its id, opcode, RD and CD echoed, RA set (we recurse, by forwarding), as Docker does. */
function reply(q: DecodedPacket, rcode: number, answers: Answer[] = []): Packet {
  const echoed = (q.flags ?? 0) & (OPCODE_MASK | dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED);
  return { type: 'response', id: q.id, flags: echoed | dnsPacket.RECURSION_AVAILABLE | rcode, questions: q.questions ?? [], answers };
}

/** Encodes p in at most max bytes: answers that don't fit are left off and TC set, so the client asks again over TCP. */
function encode(p: Packet, max: number): Buffer {
  const answers = p.answers ?? [];
  if (dnsPacket.encodingLength(p) <= max) return dnsPacket.encode(p);
  const base = dnsPacket.encodingLength({ ...p, answers: [] });
  const each = (dnsPacket.encodingLength(p) - base) / Math.max(answers.length, 1);
  let n = Math.max(0, Math.min(answers.length - 1, Math.floor((max - base) / each)));
  const cut = (k: number): Packet => ({ ...p, flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: answers.slice(0, k) });
  while (n > 0 && dnsPacket.encodingLength(cut(n)) > max) n--; // records may differ in size (ANY)
  return dnsPacket.encode(cut(n));
}

/** The UDP size the client accepts: 512, or its EDNS payload size (capped). */
function udpLimit(q: DecodedPacket): number {
  const opt = q.additionals?.find((r) => r.type === 'OPT');
  const size = opt && 'udpPayloadSize' in opt ? opt.udpPayloadSize : 0;
  return Math.min(Math.max(size, UDP_MIN), UDP_MAX);
}

/** Round robin, as Docker does it: a fresh random order per answer (Fisher–Yates on a copy). */
function shuffled<T>(xs: readonly T[]): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** "3.2.1.10.in-addr.arpa" → "10.1.2.3"; 32 nibbles under ip6.arpa → RFC 5952 text. Partial names (a whole subnet) → undefined. */
export function ptrAddress(name: string): string | undefined {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  const tail = labels.slice(-2).join('.');
  const head = labels.slice(0, -2).reverse();
  if (tail === 'in-addr.arpa' && head.length === 4 && head.every((l) => /^(0|[1-9]\d{0,2})$/.test(l) && Number(l) < 256)) {
    return head.join('.');
  }
  if (tail === 'ip6.arpa' && head.length === 32 && head.every((l) => /^[0-9a-f]$/.test(l))) {
    const bytes: number[] = [];
    for (let i = 0; i < 32; i += 2) bytes.push(parseInt(head[i]! + head[i + 1]!, 16));
    return ipaddr.fromByteArray(bytes).toString();
  }
  return undefined;
}

/** "1.1.1.1", "127.0.0.53:5353", "::1", "[fd00::1]:53" → upstreams; others are logged and skipped. At most MAX_UPSTREAMS. */
export function parseUpstreams(specs: readonly string[], log?: Logger): Upstream[] {
  const out: Upstream[] = [];
  for (const s of specs) {
    let host = s;
    let port = DNS_PORT;
    const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    const v4port = /^([\d.]+):(\d+)$/.exec(s);
    if (bracket) [host, port] = [bracket[1]!, bracket[2] ? Number(bracket[2]) : DNS_PORT];
    else if (v4port) [host, port] = [v4port[1]!, Number(v4port[2])];
    const family = net.isIPv4(host) ? 4 : net.isIPv6(host) ? 6 : 0;
    if (!family || !Number.isInteger(port) || port < 1 || port > 0xffff) {
      log?.warn({ upstream: s }, 'not an upstream resolver address; skipped');
      continue;
    }
    out.push({ host, port, family });
    if (out.length === MAX_UPSTREAMS) break;
  }
  return out;
}

/**
 * One exchange with an upstream, settled once: by `start`'s answer or error, by
 * the timeout, or by the container's detach; the socket is closed in every case.
 */
function exchange<S extends { close?(): void; destroy?(): void }>(
  timeoutMs: number,
  signal: AbortSignal,
  open: () => S,
  start: (s: S, finish: (err: Error | undefined, resp?: Buffer) => void) => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = open();
    let done = false;
    const finish = (err: Error | undefined, resp?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (s.destroy) s.destroy();
      else s.close!();
      if (err) reject(err);
      else resolve(resp!);
    };
    const onAbort = () => finish(new Error('detached'));
    const timer = setTimeout(() => finish(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort);
    start(s, finish);
  });
}

/** One query over UDP from a fresh socket (a random source port per query, against spoofed answers);
 *  connected, so the kernel takes answers only from the upstream and reports a closed port at once. */
function udpExchange(u: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  const id = query.readUInt16BE(0);
  return exchange(timeoutMs, signal, () => dgram.createSocket(u.family === 6 ? 'udp6' : 'udp4'), (s, finish) => {
    s.on('error', (e) => finish(e));
    s.on('message', (m) => {
      if (m.length >= 12 && m.readUInt16BE(0) === id && m[2]! & QR) finish(undefined, m); // TC answers too
    });
    s.connect(u.port, u.host, (err?: Error) => {
      if (err) finish(err);
      else {
        try {
          s.send(query, (e) => e && finish(e));
        } catch (e) {
          finish(e as Error); // closed meanwhile (timeout or detach): already settled
        }
      }
    });
  });
}

/** One query over a fresh TCP connection. */
function tcpExchange(u: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  return exchange(timeoutMs, signal, () => net.connect({ host: u.host, port: u.port }), (s, finish) => {
    let got: Buffer = Buffer.alloc(0);
    s.on('error', (e) => finish(e));
    s.on('connect', () => s.write(frame(query)));
    s.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        const resp = got.subarray(2, 2 + got.readUInt16BE(0));
        if (resp.length >= 12 && resp[2]! & QR) finish(undefined, resp);
        else finish(new Error('malformed answer'));
      }
    });
    s.on('end', () => finish(new Error('connection closed before an answer')));
  });
}

/** A message with its 2-byte length prefix, for TCP. */
function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}
