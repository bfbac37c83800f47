/**
 * A client's mistakes and departures against a real pierd: each gets an answer or a
 * closed stream, nothing stays open behind it, and no error goes unhandled.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { tarOf, dockerArchive, sha } from '../../harness/tars.js';

/** Writes a raw request and returns what came back before the server closed, or `null` if it kept the connection open for `ms`. */
function rawRequest(sock: string, text: string, ms = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const c = connect(sock);
    let out = '';
    const timer = setTimeout(() => {
      c.destroy();
      resolve(null);
    }, ms);
    c.on('data', (b: Buffer) => (out += b.toString()));
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    c.on('error', () => {});
    c.write(text);
  });
}

describe('client mistakes and departures', () => {
  let d: TestDaemon;
  let layer: Buffer;
  before(async () => {
    d = await startDaemon();
    layer = await tarOf([{ name: 'big.bin', content: randomBytes(24 << 20) }]);
    const { tar } = await dockerArchive({ layers: [layer], repoTags: ['mistakes/big:1'] });
    assert.equal((await api(d.sock, 'POST', '/images/load?quiet=1', tar)).status, 200);
  });
  after(async () => {
    await d?.cleanup();
  });
  const noUnhandled = () => assert.doesNotMatch(d.log(), /unhandled rejection|uncaught exception/);
  const openBlobs = () =>
    readdirSync(`/proc/${d.proc.pid}/fd`)
      .map((f) => {
        try {
          return readlinkSync(`/proc/${d.proc.pid}/fd/${f}`);
        } catch {
          return '';
        }
      })
      .filter((l) => l.includes('/content/blobs/'));

  it('answers a request target that is no URL with 400', async () => {
    const r = await rawRequest(d.sock, 'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok(r !== null, 'the request was left unanswered');
    assert.match(r, /^HTTP\/1\.1 400 /);
    assert.match(r, /"message":"invalid request URL/);
    noUnhandled();
  });

  it('follows events until a far `until` instead of ending at once', async () => {
    const until = Math.floor(Date.now() / 1000) + 60 * 24 * 3600; // beyond setTimeout's 24.8-day range
    const r = await rawRequest(d.sock, `GET /events?until=${until} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 1000);
    assert.equal(r, null, `the stream ended at once: ${JSON.stringify(r)}`);
  });

  it('closes the blobs of a save whose client went away', async () => {
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve) => {
        const req = request({ socketPath: d.sock, path: '/images/get?names=mistakes/big:1' }, (res) => {
          res.once('data', () => req.destroy());
          res.on('close', () => resolve());
          res.on('error', () => {});
        });
        req.on('error', () => {});
        req.end();
      });
    }
    // TODO: now and then (about 1 run in 10) a blob stays open for ~5 s after the client left; not
    // yet traced (the save's abort fires on the reader's close). The deadline allows for it.
    const deadline = Date.now() + 15000;
    while (openBlobs().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(openBlobs(), []);
    noUnhandled();
  });

  it('cuts a failing save short instead of leaving the response open', async () => {
    const { tar } = await dockerArchive({ layers: [await tarOf([{ name: 'gone.txt', content: 'gone' }])], repoTags: ['mistakes/broken:1'] });
    assert.equal((await api(d.sock, 'POST', '/images/load?quiet=1', tar)).status, 200);
    // A blob lost from the content store under the daemon: save starts, then fails on it.
    const gone = sha(await tarOf([{ name: 'gone.txt', content: 'gone' }]));
    rmSync(join(d.dataRoot, 'content', 'blobs', 'sha256', gone.slice(7)));
    const outcome = await Promise.race([
      api(d.sock, 'GET', '/images/get?names=mistakes/broken:1').then(
        (r) => `complete response ${r.status}`,
        (e: Error) => `cut short: ${e.message}`,
      ),
      new Promise<string>((r) => setTimeout(() => r('still open'), 5000)),
    ]);
    assert.match(outcome, /^cut short/);
    noUnhandled();
    assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200);
  });

  it('shuts down at once on SIGTERM with an upgraded connection open', async () => {
    const own = await startDaemon();
    try {
      const c = connect(own.sock);
      c.on('error', () => {});
      c.resume();
      c.write('GET /events HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      await new Promise((r) => c.once('data', r));
      const t0 = Date.now();
      assert.equal(await own.stop('SIGTERM'), 0);
      assert.ok(Date.now() - t0 < 5000, `shutdown took ${Date.now() - t0} ms`);
      c.destroy();
    } finally {
      await own.cleanup();
    }
  });
});
