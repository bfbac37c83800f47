import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { httpRequest } from './http.js';
import { readAll } from './client.js';

/** A raw server: each connection gets the request text and answers with `reply(req)`. */
function rawServer(sock: string, reply: (req: string, c: net.Socket) => void): Promise<net.Server> {
  const srv = net.createServer((c) => {
    let req = '';
    c.on('data', (d) => {
      req += d.toString('latin1');
      const end = req.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = req.slice(0, end);
      const chunked = /transfer-encoding: chunked/i.test(head);
      const cl = /content-length: (\d+)/i.exec(head);
      const body = req.slice(end + 4);
      if (chunked ? body.endsWith('0\r\n\r\n') : body.length >= Number(cl?.[1] ?? 0)) reply(req, c);
    });
  });
  return new Promise((r) => srv.listen(sock, () => r(srv.unref())));
}

describe('httpRequest', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'pier-http-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a Content-Length body and sends a fixed body', async () => {
    const sock = join(dir, 'a.sock');
    let seen = '';
    const srv = await rawServer(sock, (req, c) => {
      seen = req;
      c.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nApi-Version: 1.50\r\n\r\nhello');
    });
    const res = await httpRequest({ socketPath: sock }, { method: 'POST', path: '/x?a=1', headers: { 'X-Test': 'y' }, body: '{"a":1}' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['api-version'], '1.50');
    assert.equal((await readAll(res.body)).toString(), 'hello');
    assert.match(seen, /^POST \/x\?a=1 HTTP\/1\.1\r\n/);
    assert.match(seen, /\r\nContent-Length: 7\r\n/);
    assert.match(seen, /\r\n\r\n\{"a":1\}$/);
    srv.close();
  });

  it('decodes chunked responses split anywhere, skipping 100 Continue', async () => {
    const sock = join(dir, 'b.sock');
    const srv = await rawServer(sock, (_req, c) => {
      const parts = ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', 'lo\r\n', '6;ext=1\r\n world\r', '\n0\r\n\r\n'];
      let i = 0;
      const next = () => (i < parts.length ? c.write(parts[i++]!, () => setTimeout(next, 5)) : c.end());
      next();
    });
    const res = await httpRequest({ socketPath: sock }, { method: 'GET', path: '/', headers: {} });
    assert.equal((await readAll(res.body)).toString(), 'hello world');
    srv.close();
  });

  it('streams a request body chunked and reads to close', async () => {
    const sock = join(dir, 'c.sock');
    let body = '';
    const srv = await rawServer(sock, (req, c) => {
      body = req.slice(req.indexOf('\r\n\r\n') + 4);
      c.end('HTTP/1.0 200 OK\r\n\r\nall of it');
    });
    const res = await httpRequest({ socketPath: sock }, { method: 'POST', path: '/load', headers: {}, body: Readable.from([Buffer.from('abc'), Buffer.from('defghijklmnopq')]) });
    assert.equal((await readAll(res.body)).toString(), 'all of it');
    assert.equal(body, '3\r\nabc\r\ne\r\ndefghijklmnopq\r\n0\r\n\r\n');
    srv.close();
  });

  it('fails on a truncated body and on refused connections', async () => {
    const sock = join(dir, 'd.sock');
    const srv = await rawServer(sock, (_req, c) => c.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const res = await httpRequest({ socketPath: sock }, { method: 'GET', path: '/', headers: {} });
    await assert.rejects(readAll(res.body), /unexpected EOF/);
    srv.close();
    await assert.rejects(httpRequest({ socketPath: join(dir, 'none.sock') }, { method: 'GET', path: '/', headers: {} }), { code: 'ENOENT' });
  });

  it('has no body for 204 and HEAD', async () => {
    const sock = join(dir, 'e.sock');
    const srv = await rawServer(sock, (_req, c) => c.write('HTTP/1.1 204 No Content\r\n\r\n'));
    const res = await httpRequest({ socketPath: sock }, { method: 'POST', path: '/', headers: {} });
    assert.equal(res.statusCode, 204);
    assert.equal((await readAll(res.body)).length, 0);
    srv.close();
  });
});
