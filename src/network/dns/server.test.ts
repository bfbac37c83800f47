/**
 * The embedded DNS server in a network namespace of the test's own: queries
 * are sent from inside it to 127.0.0.11:53 (UDP from a socket the addon opens
 * there, TCP from `nsenter --net … node`, and one `busybox nslookup` as a real
 * client), and forwarded ones reach fake upstreams on the host's loopback.
 * Needs root (network namespaces) and, for the nslookup case, busybox.
 */
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, unlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import dnsPacket, { type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import { Logger } from '../../base/log.js';
import { MNT_DETACH, sys } from '../../base/sys.js';
import { EmbeddedDns, parseUpstreams, ptrAddress, type DnsScope } from './server.js';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : false;
const TIMEOUT_MS = 500; // per upstream, for the server under test

describe('ptrAddress and parseUpstreams', () => {
  it('reads reverse names, and only whole addresses', () => {
    assert.equal(ptrAddress('3.2.1.10.in-addr.arpa'), '10.1.2.3');
    assert.equal(ptrAddress('3.2.1.10.IN-ADDR.ARPA.'), '10.1.2.3');
    assert.equal(ptrAddress('2.1.10.in-addr.arpa'), undefined);
    assert.equal(ptrAddress('300.2.1.10.in-addr.arpa'), undefined);
    assert.equal(ptrAddress('03.2.1.10.in-addr.arpa'), undefined);
    const v6 = '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa';
    assert.equal(ptrAddress(v6), 'fd00::5');
    assert.equal(ptrAddress(v6.slice(2)), undefined);
  });
  it('parses ip, ip:port and [v6]:port, skipping junk, at most three', () => {
    assert.deepEqual(parseUpstreams(['1.1.1.1', '127.0.0.53:5353', 'junk', '::1', '[fd00::1]:54', '9.9.9.9']), [
      { host: '1.1.1.1', port: 53, family: 4 },
      { host: '127.0.0.53', port: 5353, family: 4 },
      { host: '::1', port: 53, family: 6 },
    ]);
    assert.deepEqual(parseUpstreams(['1.2.3.4:0', '1.2.3.4:70000', 'example.com']), []);
  });
});

// ---- fake upstream resolvers on the host's loopback ----

interface Fake {
  port: number;
  seen: { name: string; type: string; proto: 'udp' | 'tcp' }[];
  close(): void;
}

/** good: example.test A (192.0.2.1 over UDP, .2 over TCP), big.test (TC over UDP, 192.0.2.3 over TCP), slow* never, else NXDOMAIN.
 *  servfail: SERVFAIL to everything. blackhole: never answers. */
async function fakeUpstream(mode: 'good' | 'servfail' | 'blackhole'): Promise<Fake> {
  const seen: Fake['seen'] = [];
  const respond = (msg: Buffer, proto: 'udp' | 'tcp'): Buffer | undefined => {
    const q = dnsPacket.decode(msg);
    const qq = q.questions![0]!;
    const name = qq.name.toLowerCase();
    seen.push({ name, type: qq.type, proto });
    if (mode === 'blackhole' || name.startsWith('slow')) return undefined;
    const r: Packet = { type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions };
    const a = (ip: string) => [{ type: 'A' as const, name: qq.name, ttl: 60, data: ip }];
    if (mode === 'servfail') r.flags! |= 2;
    else if (name === 'example.test' && qq.type === 'A') r.answers = a(proto === 'udp' ? '192.0.2.1' : '192.0.2.2');
    else if (name === 'big.test' && proto === 'udp') r.flags! |= dnsPacket.TRUNCATED_RESPONSE;
    else if (name === 'big.test') r.answers = a('192.0.2.3');
    else r.flags! |= 3;
    return dnsPacket.encode(r);
  };
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((res) => udp.bind(0, '127.0.0.1', res));
    const port = udp.address().port;
    udp.on('message', (m, from) => {
      const r = respond(m, 'udp');
      if (r) udp.send(r, from.port, from.address);
    });
    const tcp = net.createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('error', () => {});
      c.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const r = respond(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp');
          if (r) c.end(Buffer.concat([Buffer.from([r.length >> 8, r.length & 0xff]), r]));
        }
      });
    });
    const ok = await new Promise<boolean>((res) => {
      tcp.once('error', () => res(false));
      tcp.listen(port, '127.0.0.1', () => res(true));
    });
    if (ok) return { port, seen, close: () => { udp.close(); tcp.close(); } };
    udp.close();
    if (attempt > 20) throw new Error('no port free for both UDP and TCP');
  }
}

/** A loopback port with nothing behind it (UDP gets ICMP port unreachable). */
async function closedPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(res));
  return port;
}

// ---- the scope: names of a network "mynet" ----

const LB = ['10.89.0.10', '10.89.0.11', '10.89.0.12', '10.89.0.13', '10.89.0.14'];
const web = { ipv4: ['10.89.0.2'], ipv6: [] };
const db = { ipv4: ['10.89.0.3'], ipv6: ['fd00:89::3'] };
const names = new Map<string, { ipv4: string[]; ipv6: string[] }>([
  ['web', web], ['web.mynet', web], ['0123456789ab', web],
  ['db', db], ['db.mynet', db],
  ['lb', { ipv4: LB, ipv6: [] }],
]);
const reverse = new Map([['10.89.0.2', 'web.mynet'], ['fd00:89::3', 'db.mynet']]);
let upstreams: string[] = [];
const scope: DnsScope = {
  lookup: (n) => names.get(n),
  reverse: (ip) => reverse.get(ip),
  upstreams: () => upstreams,
};

/** A UDP client socket bound inside the namespace at nsPath (by the addon), sending to 127.0.0.11:53. */
function nsClient(nsPath: string) {
  const sock = dgram.createSocket('udp4');
  sock.bind({ fd: sys().netnsSocket(nsPath, 'udp', '127.0.0.1', 0) });
  const waiting = new Map<number, (p: DecodedPacket) => void>();
  let nextId = 1; // unique per client: answers are matched by id
  sock.on('message', (m) => {
    try {
      const p = dnsPacket.decode(m);
      waiting.get(p.id!)?.(p);
      waiting.delete(p.id!);
    } catch {
      /* the server must not send garbage; a missing answer fails the test */
    }
  });
  /** Sends msg; resolves with the answer carrying id, rejects when none comes in ms. */
  const raw = (msg: Buffer, id: number, ms = 2000, what = `id ${id}`) =>
    new Promise<DecodedPacket>((resolve, reject) => {
      const t = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`no answer to ${what}`));
      }, ms);
      waiting.set(id, (p) => {
        clearTimeout(t);
        resolve(p);
      });
      sock.send(msg, 53, '127.0.0.11');
    });
  /** One query; rejects when nothing comes back in ms. */
  const query = (name: string, type: RecordType | 'ANY', o: { ms?: number; edns?: number } = {}) => {
    const id = nextId++;
    const msg = dnsPacket.encode({
      type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as RecordType, class: 'IN' }],
      additionals: o.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    });
    return raw(msg, id, o.ms, `${name} ${type}`);
  };
  const send = (msg: Buffer) => sock.send(msg, 53, '127.0.0.11');
  return { query, raw, send, close: () => sock.close() };
}

/** Removes the namespace pinned at path (umount, then the file), whatever state it is in. */
const dropNetns = (path: string) => {
  try {
    sys().umount(path, MNT_DETACH);
  } catch {
    /* never mounted */
  }
  try {
    unlinkSync(path);
  } catch {
    /* never created */
  }
};

describe('EmbeddedDns in a network namespace', { skip }, () => {
  let dir = '';
  let nsPath = '';
  let dns: EmbeddedDns | undefined;
  let client: ReturnType<typeof nsClient> | undefined;
  let good: Fake, servfail: Fake, blackhole: Fake;
  const logLines: Record<string, unknown>[] = [];
  const helpers = new Set<ChildProcess>();
  const query = (...a: Parameters<ReturnType<typeof nsClient>['query']>) => client!.query(...a);
  // A rejected promise in the server would crash pierd (Node's default for unhandled rejections); the runner only reports it.
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);

  /** TCP from inside the namespace (nsenter + node): sends the queries over one connection, reports events. */
  function tcpHelper(queries: Buffer[], holdMs = 3000) {
    const script = `
      const net = require('node:net');
      const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
      const qs = process.argv[1] ? process.argv[1].split(',') : [];
      const s = net.connect(53, '127.0.0.11');
      let buf = Buffer.alloc(0);
      s.on('connect', () => {
        out({ ev: 'connected' });
        for (const h of qs) { const q = Buffer.from(h, 'hex'); s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q])); }
      });
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          out({ ev: 'answer', hex: buf.subarray(2, 2 + buf.readUInt16BE(0)).toString('hex') });
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
      });
      s.on('error', (e) => out({ ev: 'error', code: e.code }));
      s.on('close', () => { out({ ev: 'closed' }); process.exit(0); });
      setTimeout(() => { out({ ev: 'timeout' }); process.exit(0); }, Number(process.argv[2]));`;
    const child = spawn('nsenter', [`--net=${nsPath}`, process.execPath, '-e', script, queries.map((q) => q.toString('hex')).join(','), String(holdMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    helpers.add(child);
    child.on('exit', () => helpers.delete(child));
    const events: { ev: string; hex?: string; code?: string }[] = [];
    const listeners = new Set<() => void>();
    createInterface({ input: child.stdout! }).on('line', (l) => {
      events.push(JSON.parse(l));
      for (const f of listeners) f();
    });
    /** Resolves once pred holds over the events so far. */
    const until = (pred: (evs: typeof events) => boolean) =>
      new Promise<typeof events>((resolve) => {
        const check = () => {
          if (!pred(events)) return;
          listeners.delete(check);
          resolve(events);
        };
        listeners.add(check);
        check();
      });
    return { child, events, until, answers: () => events.filter((e) => e.ev === 'answer').map((e) => dnsPacket.decode(Buffer.from(e.hex!, 'hex'))) };
  }

  const q = (name: string, type: RecordType, id = 7) =>
    dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
  const addrs = (p: DecodedPacket) => (p.answers ?? []).map((a) => (a as { data: string }).data);
  const rcode = (p: DecodedPacket) => (p as { rcode?: string }).rcode; // decoded, missing from @types/dns-packet

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-dns-'));
    nsPath = join(dir, 'netns');
    sys().netnsCreate(nsPath);
    [good, servfail, blackhole] = await Promise.all([fakeUpstream('good'), fakeUpstream('servfail'), fakeUpstream('blackhole')]);
    upstreams = [`127.0.0.1:${good.port}`];
    const log = new Logger({ write: (l) => void logLines.push(JSON.parse(l)) }, 'debug');
    dns = new EmbeddedDns({ log, timeoutMs: TIMEOUT_MS });
    await dns.attach('c1', nsPath, scope);
    client = nsClient(nsPath);
    process.on('unhandledRejection', onUnhandled);
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    dns?.close();
    client?.close();
    for (const h of helpers) h.kill('SIGKILL');
    for (const f of [good, servfail, blackhole]) f?.close();
    if (dir) {
      dropNetns(join(dir, 'netns2'));
      dropNetns(nsPath);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers A for a container name with its address, TTL 600, id echoed, RA set', async () => {
    const r = await query('web', 'A');
    assert.equal(rcode(r), 'NOERROR');
    assert.deepEqual(addrs(r), ['10.89.0.2']);
    assert.equal(r.answers![0]!.type, 'A');
    assert.equal((r.answers![0] as { ttl: number }).ttl, 600);
    assert.ok(r.flag_qr && r.flag_ra && r.flag_rd);
    assert.ok(!good.seen.some((s) => s.name === 'web'), 'in-scope names are not forwarded');
  });

  it('names are case-insensitive, with or without the trailing dot; network-qualified and short-id names too', async () => {
    const r = await query('WeB.MyNet.', 'A');
    assert.deepEqual(addrs(r), ['10.89.0.2']);
    assert.equal(r.answers![0]!.name, 'WeB.MyNet', 'the answer repeats the name as asked');
    assert.deepEqual(addrs(await query('0123456789AB', 'A')), ['10.89.0.2']);
    assert.deepEqual(addrs(await query('db.', 'A')), ['10.89.0.3']);
  });

  it('shuffles a multi-address name per answer (round robin), always all addresses', async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const got = addrs(await query('lb', 'A'));
      assert.deepEqual([...got].sort(), [...LB].sort());
      orders.add(got.join(' '));
    }
    assert.ok(orders.size > 1, `20 answers, all in one order: ${[...orders]}`);
  });

  it('AAAA for a v4-only name: NOERROR, no answers, not forwarded; for a dual-stack name its v6 address', async () => {
    const r = await query('web', 'AAAA');
    assert.equal(rcode(r), 'NOERROR');
    assert.deepEqual(r.answers, []);
    assert.ok(!good.seen.some((s) => s.name === 'web'), 'AAAA for an in-scope name leaked upstream');
    assert.deepEqual(addrs(await query('db', 'AAAA')), ['fd00:89::3']);
    const mx = await query('web', 'MX');
    assert.equal(rcode(mx), 'NOERROR');
    assert.deepEqual(mx.answers, []);
    const any = await query('db', 'ANY');
    assert.deepEqual(addrs(any).sort(), ['10.89.0.3', 'fd00:89::3']);
  });

  it('answers PTR for in-network addresses, forwards others', async () => {
    const r = await query('2.0.89.10.in-addr.arpa', 'PTR');
    assert.equal(rcode(r), 'NOERROR');
    assert.deepEqual(addrs(r), ['web.mynet']);
    const v6 = '3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.0.0.0.0.d.f.ip6.arpa';
    assert.deepEqual(addrs(await query(v6, 'PTR')), ['db.mynet']);
    const other = await query('9.9.89.10.in-addr.arpa', 'PTR');
    assert.equal(rcode(other), 'NXDOMAIN', 'the fake upstream answers NXDOMAIN');
    assert.ok(good.seen.some((s) => s.name === '9.9.89.10.in-addr.arpa' && s.type === 'PTR'));
  });

  it('forwards other names to the upstream over UDP and passes its answer on', async () => {
    const r = await query('example.test', 'A');
    assert.deepEqual(addrs(r), ['192.0.2.1']);
    assert.ok(good.seen.some((s) => s.name === 'example.test' && s.proto === 'udp'));
    assert.equal(rcode(await query('nothing.test', 'A')), 'NXDOMAIN');
    // A container name under a (host's) search domain is just another name: forwarded, not stripped.
    assert.equal(rcode(await query('web.corp.example', 'A')), 'NXDOMAIN');
    assert.ok(good.seen.some((s) => s.name === 'web.corp.example'));
  });

  it('passes a truncated UDP answer on (TC set); over TCP the same name is forwarded over TCP', async () => {
    const r = await query('big.test', 'A');
    assert.ok(r.flag_tc, 'TC passed on');
    const h = tcpHelper([q('big.test', 'A', 1), q('web', 'A', 2)]);
    await h.until((evs) => evs.filter((e) => e.ev === 'answer').length === 2 || evs.some((e) => e.ev !== 'answer' && e.ev !== 'connected'));
    h.child.kill();
    const answers = new Map(h.answers().map((p) => [p.id, p]));
    assert.deepEqual(addrs(answers.get(1)!), ['192.0.2.3']);
    assert.deepEqual(addrs(answers.get(2)!), ['10.89.0.2']);
    assert.ok(good.seen.some((s) => s.name === 'big.test' && s.proto === 'tcp'));
  });

  it('truncates a local answer that exceeds the UDP size, and sends all of it over TCP', async () => {
    const many = Array.from({ length: 60 }, (_, i) => `10.90.0.${i + 1}`);
    names.set('many-addresses-service', { ipv4: many, ipv6: [] });
    try {
      const r = await query('many-addresses-service', 'A');
      assert.ok(r.flag_tc);
      assert.ok(r.answers!.length > 0 && r.answers!.length < 60, `${r.answers!.length} answers`);
      const big = await query('many-addresses-service', 'A', { edns: 4096 });
      assert.ok(!big.flag_tc);
      assert.equal(big.answers!.length, 60);
      const h = tcpHelper([q('many-addresses-service', 'A', 3)]);
      await h.until((evs) => evs.some((e) => e.ev !== 'connected'));
      h.child.kill();
      assert.equal(h.answers()[0]?.answers?.length, 60);
    } finally {
      names.delete('many-addresses-service');
    }
  });

  it('falls back past a closed port and a SERVFAIL upstream to one that answers', async () => {
    upstreams = [`127.0.0.1:${await closedPort()}`, `127.0.0.1:${servfail.port}`, `127.0.0.1:${good.port}`];
    try {
      const r = await query('example.test', 'A');
      assert.deepEqual(addrs(r), ['192.0.2.1']);
      assert.ok(servfail.seen.some((s) => s.name === 'example.test'));
    } finally {
      upstreams = [`127.0.0.1:${good.port}`];
    }
  });

  it('SERVFAIL when no upstream is reachable: a closed port at once, a silent one after the timeout, none configured', async () => {
    try {
      upstreams = [`127.0.0.1:${await closedPort()}`];
      let t0 = Date.now();
      assert.equal(rcode(await query('example.test', 'A')), 'SERVFAIL');
      assert.ok(Date.now() - t0 < TIMEOUT_MS, `closed port took ${Date.now() - t0} ms`);

      upstreams = [`127.0.0.1:${blackhole.port}`];
      t0 = Date.now();
      assert.equal(rcode(await query('example.test', 'A')), 'SERVFAIL');
      const took = Date.now() - t0;
      assert.ok(took >= TIMEOUT_MS - 50 && took < TIMEOUT_MS + 1000, `silent upstream took ${took} ms`);

      upstreams = [];
      assert.equal(rcode(await query('example.test', 'A')), 'SERVFAIL');
    } finally {
      upstreams = [`127.0.0.1:${good.port}`];
    }
  });

  it('caps forwards in flight per container at 100; the rest are dropped (and logged), not queued', async () => {
    upstreams = [`127.0.0.1:${blackhole.port}`];
    const before = blackhole.seen.length;
    try {
      const results = await Promise.allSettled(Array.from({ length: 130 }, (_, i) => query(`slow-${i}.test`, 'A', { ms: TIMEOUT_MS + 1500 })));
      const answered = results.filter((r) => r.status === 'fulfilled');
      assert.equal(blackhole.seen.length - before, 100, 'queries that reached the upstream');
      assert.equal(answered.length, 100);
      assert.ok(answered.every((r) => rcode(r.value) === 'SERVFAIL'));
      assert.ok(logLines.some((l) => l.component === 'dns' && l.container === 'c1' && l.level === 'warn' && /dropping/.test(String(l.msg))));
    } finally {
      upstreams = [`127.0.0.1:${good.port}`];
    }
    assert.deepEqual(addrs(await query('example.test', 'A')), ['192.0.2.1'], 'the slots came back');
  });

  it('drops malformed packets without dying; FORMERR to a query without a question, NOTIMP to other opcodes', async () => {
    for (const junk of [Buffer.from('hello, world, this is not dns'), Buffer.from([1, 2, 3]), Buffer.alloc(0),
      // a header claiming one question, then a label running past the end
      Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 60, 97, 98]),
      // a name that points at itself
      Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1])]) {
      client!.send(junk);
    }
    // A response (QR set) is not answered: answering responses invites loops.
    const response = dnsPacket.encode({ type: 'response', id: 9, questions: [{ name: 'web', type: 'A' }] });
    await assert.rejects(client!.raw(response, 9, 300), /no answer/);
    const noQuestion = await client!.raw(dnsPacket.encode({ type: 'query', id: 4242, questions: [] }), 4242);
    assert.equal(rcode(noQuestion), 'FORMERR');
    const status = await client!.raw(dnsPacket.encode({ type: 'query', id: 4243, flags: 2 << 11, questions: [{ name: 'web', type: 'A' }] }), 4243);
    assert.equal(rcode(status), 'NOTIMP', 'opcode STATUS');
    assert.deepEqual(addrs(await query('web', 'A')), ['10.89.0.2']);
    assert.deepEqual(unhandled, []);
    // Garbage on TCP closes that connection only.
    const h = tcpHelper([Buffer.from('0000', 'hex')]);
    const evs = await h.until((e) => e.some((x) => x.ev === 'closed' || x.ev === 'timeout'));
    assert.ok(evs.some((e) => e.ev === 'closed'));
    assert.deepEqual(addrs(await query('web', 'A')), ['10.89.0.2']);
    assert.deepEqual(unhandled, []);
  });

  it('answers a real resolver (busybox nslookup)', { skip: BUSYBOX ? false : 'needs busybox' }, async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile('nsenter', [`--net=${nsPath}`, BUSYBOX!, 'nslookup', 'web', '127.0.0.11'], { timeout: 10_000 }, (err, stdout, stderr) =>
        err && !stdout ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout)));
    assert.match(out, /Address:?\s+10\.89\.0\.2\b/);
  });

  it('attach again with the same id replaces the scope without a second server', async () => {
    const other: DnsScope = { ...scope, lookup: (n) => (n === 'fresh' ? { ipv4: ['10.89.0.99'], ipv6: [] } : scope.lookup(n)) };
    await dns!.attach('c1', nsPath, other);
    assert.deepEqual(addrs(await query('fresh', 'A')), ['10.89.0.99']);
  });

  it('detach: open TCP connections close, UDP queries go unanswered, TCP is refused', async () => {
    const h = tcpHelper([q('web', 'A')], 3000); // well within the server's 10 s idle timeout
    await h.until((e) => e.some((x) => x.ev === 'answer'));
    dns!.detach('c1');
    const evs = await h.until((e) => e.some((x) => x.ev === 'closed' || x.ev === 'timeout'));
    assert.ok(evs.some((e) => e.ev === 'closed'), 'the held connection was closed by detach');
    await assert.rejects(query('web', 'A', { ms: 1000 }), /no answer/);
    const h2 = tcpHelper([q('web', 'A')]);
    const evs2 = await h2.until((e) => e.some((x) => x.ev === 'error' || x.ev === 'timeout'));
    assert.ok(evs2.some((e) => e.ev === 'error' && e.code === 'ECONNREFUSED'), JSON.stringify(evs2));
    // And the namespace can be served again.
    await dns!.attach('c1', nsPath, scope);
    assert.deepEqual(addrs(await query('web', 'A')), ['10.89.0.2']);
  });

  it('attach with the same id and another namespace (a restarted container) moves the server there', async () => {
    const ns2 = join(dir, 'netns2');
    sys().netnsCreate(ns2);
    const client2 = nsClient(ns2);
    try {
      await dns!.attach('c1', ns2, scope);
      assert.deepEqual(addrs(await client2.query('web', 'A')), ['10.89.0.2']);
      await assert.rejects(query('web', 'A', { ms: 1000 }), /no answer/, 'the old namespace is no longer served');
      dns!.close();
      await assert.rejects(client2.query('web', 'A', { ms: 1000 }), /no answer/, 'close() stops everything');
      // Detached before the attach settled: it still settles, and nothing is left listening.
      const starting = dns!.attach('c2', ns2, scope);
      dns!.detach('c2');
      await starting;
      await assert.rejects(client2.query('web', 'A', { ms: 500 }), /no answer/);
      await dns!.attach('c2', ns2, scope); // the port is free again
      assert.deepEqual(addrs(await client2.query('web', 'A')), ['10.89.0.2']);
      dns!.detach('c2');
    } finally {
      client2.close();
    }
    assert.deepEqual(unhandled, []);
  });
});
