import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, tlsFailure } from './client.js';

const noOpenssl = spawnSync('openssl', ['version']).status !== 0 ? 'openssl is not installed' : false;

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args);
  if (r.status !== 0) throw new Error(String(r.stderr));
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, PEM text. */
function makeCerts(dir: string, tag: string): Record<'ca' | 'caKey' | 'cert' | 'key' | 'serverCert' | 'serverKey', string> {
  const p = (n: string) => join(dir, `${tag}-${n}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', p('ca-key.pem'), '-out', p('ca.pem'), '-days', '2', '-subj', `/CN=${tag} CA`]);
  writeFileSync(p('ext'), '[s]\nsubjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n[c]\nextendedKeyUsage = clientAuth\n');
  for (const [n, ext] of [['server', 's'], ['client', 'c']] as const) {
    openssl(['req', '-new', ...ec, '-keyout', p(`${n}-key.pem`), '-out', p(`${n}.csr`), '-subj', `/CN=${n}`]);
    openssl(['x509', '-req', '-in', p(`${n}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca-key.pem'), '-set_serial', String(Date.now()), '-days', '2', '-extfile', p('ext'), '-extensions', ext, '-out', p(`${n}-cert.pem`)]);
  }
  const r = (n: string) => readFileSync(p(n), 'utf8');
  return { ca: r('ca.pem'), caKey: r('ca-key.pem'), cert: r('client-cert.pem'), key: r('client-key.pem'), serverCert: r('server-cert.pem'), serverKey: r('server-key.pem') };
}

describe('client over mutual TLS', { skip: noOpenssl }, () => {
  let dir: string;
  let srv: Server;
  let host: string;
  let certs: ReturnType<typeof makeCerts>;
  let other: ReturnType<typeof makeCerts>;
  const reused: boolean[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pier-client-tls-'));
    certs = makeCerts(dir, 'a');
    other = makeCerts(dir, 'b');
    srv = createServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true }, (req, res) => {
      reused.push((req.socket as TLSSocket).isSessionReused());
      res.writeHead(200, { 'Api-Version': '1.50', 'Content-Type': 'application/json' });
      res.end(req.url === '/_ping' ? 'OK' : JSON.stringify({ url: req.url }));
    });
    // An attach-like upgrade: echo what the client sends, and say "done" after its half-close.
    srv.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      socket.on('data', (b: Buffer) => socket.write(b));
      socket.on('end', () => socket.end('done'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    host = `tcp://127.0.0.1:${(srv.address() as { port: number }).port}`;
  });
  after(() => {
    srv?.close();
    srv?.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends requests with a client certificate, resuming the TLS session after the first', async () => {
    const c = new Client({ host, tls: { ca: certs.ca, cert: certs.cert, key: certs.key, verify: true } });
    reused.length = 0;
    assert.deepEqual(await c.json('GET', '/info'), { url: '/v1.50/info' });
    for (let i = 0; i < 3; i++) await c.json('GET', '/version');
    assert.equal(reused.length, 5); // the ping, then four requests
    assert.equal(reused[0], false);
    assert.ok(reused.slice(2).every(Boolean), `later connections resume the session: ${reused.join(',')}`);
  });

  it('hijacks over TLS, and a half-close still gets the rest of the stream', async () => {
    const c = new Client({ host, tls: { ca: certs.ca, cert: certs.cert, key: certs.key, verify: true } });
    const h = await c.hijack('/containers/x/attach', { query: { stream: true, stdin: true } });
    assert.equal(h.statusCode, 101);
    let got = '';
    h.socket.on('data', (b: Buffer) => (got += b.toString()));
    const ended = new Promise((r) => h.socket.on('end', r));
    h.socket.resume();
    h.socket.end('hello ');
    await ended;
    assert.equal(got, 'hello done');
  });

  it("refuses a daemon whose certificate is not from the CA, in docker's words", async () => {
    const c = new Client({ host, tls: { ca: other.ca, cert: certs.cert, key: certs.key, verify: true } });
    await assert.rejects(c.ping(), (e: Error) => e.message === `error during connect: Get "https://${host.slice(6)}/_ping": tls: failed to verify certificate: x509: certificate signed by unknown authority`);
    // verify: false (docker's --tls) skips the check.
    const skip = new Client({ host, tls: { cert: certs.cert, key: certs.key, verify: false } });
    assert.equal((await skip.ping()).apiVersion, '1.50');
  });

  it('reports the daemon refusing a client without a certificate', async () => {
    const c = new Client({ host, tls: { ca: certs.ca, verify: true } });
    await assert.rejects(c.ping(), /^Error: error during connect: Get "https:\/\/127\.0\.0\.1:\d+\/_ping": (remote error: tls: certificate required|.*closed the connection)/);
  });

  it('says what is wrong with unusable client files, and TLS needs a tcp:// host', async () => {
    const c = new Client({ host, tls: { ca: certs.ca, cert: certs.cert, key: 'not a key', verify: true } });
    await assert.rejects(c.ping(), /could not load the TLS client certificate, key or CA/);
    assert.throws(() => new Client({ host: 'unix:///run/x.sock', tls: { verify: true } }), /TLS needs a tcp:\/\/ host/);
  });

  it("maps OpenSSL's codes to Go's messages", () => {
    const e = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(tlsFailure(e('CERT_HAS_EXPIRED')), 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid');
    assert.equal(tlsFailure(e('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')), 'remote error: tls: certificate required');
    assert.equal(tlsFailure(e('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED')), 'remote error: tls: expired certificate');
    assert.equal(tlsFailure(e('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')), 'remote error: tls: unknown certificate authority');
    assert.equal(tlsFailure(e('ECONNREFUSED')), undefined);
  });
});
