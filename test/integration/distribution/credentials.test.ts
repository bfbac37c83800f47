/**
 * Credentials stay with the registry that asked for them: an upload Location
 * (or any absolute URL a registry hands out) on another origin gets no
 * Authorization header, and its 401 cannot send the credentials to a realm.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nullLogger } from '../../../src/base/log.js';
import { Registries } from '../../../src/distribution/client.js';
import type { Endpoint } from '../../../src/distribution/resolve.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('registry client credentials', () => {
  let registry: { server: Server; base: string };
  let other: { server: Server; base: string };
  const seen: Array<{ server: string; path: string; authorization?: string }> = [];
  const record = (server: string, req: IncomingMessage) => seen.push({ server, path: req.url ?? '', authorization: req.headers.authorization });

  before(async () => {
    registry = await serve((req, res) => {
      req.resume();
      record('registry', req);
      if (!req.headers.authorization) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' }).end();
        return;
      }
      res.writeHead(202).end();
    });
    other = await serve((req, res) => {
      req.resume();
      record('other', req);
      if (req.url === '/upload/1') {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${other.base}/token"` }).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"t"}');
    });
  });
  after(() => {
    registry?.server.close();
    other?.server.close();
  });

  it('sends Basic credentials to the registry only, never to another origin', async () => {
    const regs = new Registries({ insecureRegistries: [], mirrors: [] }, nullLogger);
    const ep: Endpoint = { base: registry.base, domain: new URL(registry.base).host, tlsVerify: false, mirror: false, official: false };
    const repo = await regs.open(ep, 'r', { actions: ['pull', 'push'], auth: { username: 'u', password: 'secret' } });

    const own = await repo.request('PATCH', `${registry.base}/v2/r/blobs/uploads/1`, { body: Buffer.from('x') });
    own.resume();
    assert.equal(own.statusCode, 202);
    assert.match(seen.at(-1)!.authorization ?? '', /^Basic /, 'the registry itself gets the credentials');

    const res = await repo.request('PATCH', `${other.base}/upload/1`, { body: Buffer.from('x') });
    res.resume();
    assert.equal(res.statusCode, 401);
    const elsewhere = seen.filter((s) => s.server === 'other');
    assert.deepEqual(elsewhere.map((s) => s.path), ['/upload/1'], 'no token request to a realm the other origin named');
    assert.equal(elsewhere[0]!.authorization, undefined);
  });
});
