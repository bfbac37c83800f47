import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client, compareVersions, encodeQuery, JSONValueSplitter, jsonMessages, parseHost } from './client.js';
import { ApiError, ConnectError } from './errors.js';

/** A fake daemon on a unix socket: records requests, answers from `routes`. */
async function fakeDaemon(sock: string, apiVersion: string | undefined, routes: Record<string, (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void>) {
  const seen: { method: string; url: string; body: string; headers: http.IncomingHttpHeaders }[] = [];
  const srv = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method!, url: req.url!, body: body.toString(), headers: req.headers });
    if (apiVersion) res.setHeader('Api-Version', apiVersion);
    const path = req.url!.split('?')[0]!.replace(/^\/v[\d.]+/, '');
    const h = routes[`${req.method} ${path}`];
    if (h) return h(req, body, res);
    res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `page not found: ${path}` }));
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  srv.unref(); // a failed assertion must not keep the test process alive
  return { srv, seen };
}

describe('client helpers', () => {
  it('parses hosts like docker', () => {
    assert.deepEqual(parseHost('unix:///run/pier/pier.sock'), { proto: 'unix', socketPath: '/run/pier/pier.sock' });
    assert.deepEqual(parseHost('tcp://127.0.0.1:2376'), { proto: 'tcp', hostname: '127.0.0.1', port: 2376 });
    assert.deepEqual(parseHost('tcp://[::1]'), { proto: 'tcp', hostname: '::1', port: 2375 });
    assert.deepEqual(parseHost('localhost:1234'), { proto: 'tcp', hostname: 'localhost', port: 1234 });
    assert.throws(() => parseHost('bogus://x'), /invalid bind address format: bogus:\/\/x/);
    assert.throws(() => parseHost('unix://'), /invalid bind address format/);
  });
  it('compares versions and encodes queries', () => {
    assert.equal(compareVersions('1.41', '1.50'), -1);
    assert.equal(compareVersions('1.9', '1.10'), -1);
    assert.equal(compareVersions('1.50', '1.50'), 0);
    assert.equal(encodeQuery({ all: true, q: false, names: ['a', 'b:c'], filters: { dangling: { true: true } }, empty: {}, skip: undefined }),
      '?all=1&q=0&names=a&names=b%3Ac&filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D');
    assert.equal(encodeQuery({}), '');
  });
  it('splits concatenated JSON values across chunk boundaries', () => {
    const s = new JSONValueSplitter();
    assert.deepEqual(s.push('{"a":"}{\\"",'), []);
    assert.deepEqual(s.push('"b":[1,{"c":2}]}\r\n{"d"'), ['{"a":"}{\\"","b":[1,{"c":2}]}']);
    assert.deepEqual(s.push(':1}{"e":2}\n'), ['{"d":1}', '{"e":2}']);
    assert.equal(s.rest(), '');
  });
  it('keeps timeNano exact', async () => {
    const msgs = [];
    for await (const m of jsonMessages(Readable.from(['{"Type":"image","timeNano":1704067200123456789}\n']))) msgs.push(m);
    assert.equal(msgs[0]!.timeNanoText, '1704067200123456789');
  });
});

describe('Client against a fake daemon', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'pier-client-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('negotiates down to an older daemon and prefixes paths', async () => {
    const sock = join(dir, 'old.sock');
    const d = await fakeDaemon(sock, '1.41', {
      'GET /_ping': (_q, _b, res) => res.end('OK'),
      'GET /images/json': (_q, _b, res) => res.end('[]'),
    });
    const c = new Client({ host: `unix://${sock}` });
    assert.deepEqual(await c.imageList({ all: true, filters: { dangling: { true: true } } }), []);
    assert.equal(c.apiVersion, '1.41');
    assert.deepEqual(d.seen.map((s) => s.url), ['/_ping', '/v1.41/images/json?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D&all=1']);
    d.srv.close();
  });

  it('caps the version at 1.50 and defaults to 1.24 without a header', async () => {
    const sock = join(dir, 'new.sock');
    const d = await fakeDaemon(sock, '1.99', { 'GET /_ping': (_q, _b, res) => res.end('OK'), 'GET /info': (_q, _b, res) => res.end('{"ID":"x"}') });
    const c = new Client({ host: `unix://${sock}` });
    assert.equal((await c.info()).ID, 'x');
    assert.equal(d.seen[1]!.url, '/v1.50/info');
    d.srv.close();
    const sock2 = join(dir, 'none.sock');
    const d2 = await fakeDaemon(sock2, undefined, { 'GET /_ping': (_q, _b, res) => res.end('OK'), 'GET /info': (_q, _b, res) => res.end('{}') });
    const c2 = new Client({ host: `unix://${sock2}` });
    await c2.info();
    assert.equal(d2.seen[1]!.url, '/v1.24/info');
    d2.srv.close();
  });

  it('uses a fixed version without pinging', async () => {
    const sock = join(dir, 'fixed.sock');
    const d = await fakeDaemon(sock, '1.50', { 'GET /version': (_q, _b, res) => res.end('{"Version":"1"}') });
    const c = new Client({ host: `unix://${sock}`, version: '1.43' });
    assert.equal((await c.serverVersion()).Version, '1');
    assert.deepEqual(d.seen.map((s) => s.url), ['/v1.43/version']);
    d.srv.close();
  });

  it('turns error bodies into ApiError', async () => {
    const sock = join(dir, 'err.sock');
    const d = await fakeDaemon(sock, '1.50', {
      'GET /_ping': (_q, _b, res) => res.end('OK'),
      'DELETE /images/nosuch': (_q, _b, res) => res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such image: nosuch:latest"}'),
      'POST /images/x/tag': (_q, _b, res) => res.writeHead(500).end('plain failure\n'),
    });
    const c = new Client({ host: `unix://${sock}` });
    await assert.rejects(c.imageRemove('nosuch'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.toString() === 'Error response from daemon: No such image: nosuch:latest');
    await assert.rejects(c.imageTag('x', 'docker.io/library/y', 'latest'), (e: unknown) => e instanceof ApiError && e.message === 'plain failure');
    assert.equal(d.seen.at(-1)!.url, '/v1.50/images/x/tag?repo=docker.io%2Flibrary%2Fy&tag=latest');
    d.srv.close();
  });

  it('streams an import body and the message stream back', async () => {
    const sock = join(dir, 'imp.sock');
    const d = await fakeDaemon(sock, '1.50', {
      'GET /_ping': (_q, _b, res) => res.end('OK'),
      'POST /images/create': (_q, body, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(`{"status":"size ${body.length}"}\r\n`);
        res.end('{"status":"sha256:abc"}\r\n');
      },
    });
    const c = new Client({ host: `unix://${sock}` });
    const res = await c.imageImport({ stream: Readable.from([Buffer.alloc(70000, 1), Buffer.alloc(30000, 2)]), name: '-' },
      { repo: 'busybox', tag: 'latest', changes: ['CMD ["sh"]', 'ENV A=1'], message: 'm' });
    const statuses = [];
    for await (const m of jsonMessages(res.body)) statuses.push(m.status);
    assert.deepEqual(statuses, ['size 100000', 'sha256:abc']);
    assert.equal(d.seen[1]!.url, '/v1.50/images/create?fromSrc=-&repo=busybox&tag=latest&message=m&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3D1');
    assert.equal(d.seen[1]!.headers['transfer-encoding'], 'chunked');
    d.srv.close();
  });

  it('reports an unreachable daemon as ConnectError', async () => {
    const c = new Client({ host: `unix://${join(dir, 'missing.sock')}` });
    await assert.rejects(c.info(), (e: unknown) =>
      e instanceof ConnectError && e.message === `Cannot connect to the Pier daemon at unix://${join(dir, 'missing.sock')}. Is the pier daemon running?`);
    const t = new Client({ host: 'tcp://127.0.0.1:1' });
    await assert.rejects(t.info(), ConnectError);
  });
});
