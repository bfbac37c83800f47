import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, decodePathStat } from './client.js';
import { ApiError, ConnectError } from './errors.js';
import { httpHijack, isHijacked } from './http.js';

/** A raw server: `respond` sees the request text and writes whatever it likes. */
async function rawServer(path: string, respond: (req: string, s: Socket) => void): Promise<Server> {
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const len = Number(/content-length: (\d+)/i.exec(buf)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      s.off('data', onData);
      if (buf.startsWith('GET /_ping') || buf.startsWith('HEAD /_ping')) {
        s.end('HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\nContent-Length: 2\r\n\r\nOK');
        return;
      }
      respond(buf, s);
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return srv;
}

describe('hijacked connections', () => {
  let dir: string;
  const servers: Server[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-hijack-client-'));
  });
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks to upgrade and hands over the stream, bytes after the head included', async () => {
    const sock = join(dir, 'a.sock');
    let seen = '';
    servers.push(await rawServer(sock, (req, s) => {
      seen = req;
      // Head and the first output in one write: the client must not lose the output.
      s.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst;');
      s.on('data', (c) => s.write(`got:${c}`));
      s.on('end', () => s.end(';bye'));
    }));
    const r = await httpHijack({ socketPath: sock }, { method: 'POST', path: '/v1.50/exec/x/start', headers: { 'Content-Type': 'application/json' }, body: '{"Detach":false,"Tty":true}' });
    assert.ok(isHijacked(r));
    assert.equal(r.statusCode, 101);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.match(seen, /^POST \/v1\.50\/exec\/x\/start HTTP\/1\.1\r\n/);
    assert.match(seen, /\r\nConnection: Upgrade\r\n/);
    assert.match(seen, /\r\nUpgrade: tcp\r\n/);
    assert.match(seen, /\r\n\r\n\{"Detach":false,"Tty":true\}$/);
    let out = '';
    r.socket.on('data', (c) => (out += String(c)));
    r.socket.resume(); // it comes paused
    r.socket.write('in');
    await new Promise((res) => setTimeout(res, 30));
    r.socket.end(); // half-close: the server still answers
    await new Promise((res) => r.socket.on('end', res));
    assert.equal(out, 'first;got:in;bye');
  });

  it('turns an error status into ApiError with the daemon message', async () => {
    const sock = join(dir, 'b.sock');
    servers.push(await rawServer(sock, (_req, s) => {
      const body = '{"message":"container abc is not running"}';
      s.end(`HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }));
    const c = new Client({ host: `unix://${sock}` });
    await assert.rejects(c.containerAttach('abc', { stdin: true, stdout: true }), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 409);
      assert.equal(e.toString(), 'Error response from daemon: container abc is not running');
      return true;
    });
  });

  it('accepts the old 200 answer followed by the stream', async () => {
    const sock = join(dir, 'c.sock');
    let url = '';
    servers.push(await rawServer(sock, (req, s) => {
      url = req.split(' ')[1]!;
      s.end('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nraw output');
    }));
    const c = new Client({ host: `unix://${sock}` });
    const r = await c.containerAttach('web', { stdout: true, stderr: true, detachKeys: 'ctrl-a' });
    let out = '';
    for await (const chunk of r.socket) out += String(chunk);
    assert.equal(out, 'raw output');
    assert.equal(url, '/v1.50/containers/web/attach?stream=1&stdout=1&stderr=1&detachKeys=ctrl-a');
  });

  it('reports an unreachable daemon like other requests', async () => {
    const c = new Client({ host: `unix://${join(dir, 'nothing.sock')}`, version: '1.50' });
    await assert.rejects(c.containerAttach('x', { stdout: true }), ConnectError);
  });

  it('decodes the archive stat header', () => {
    const h = Buffer.from('{"name":"etc","size":4096,"mode":2147484141,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}').toString('base64');
    assert.deepEqual(decodePathStat(h), { name: 'etc', size: 4096, mode: 2147484141, mtime: '2024-01-01T00:00:00Z', linkTarget: '' });
    assert.throws(() => decodePathStat(undefined), /unable to get resource stat/);
  });
});
