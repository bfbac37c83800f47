import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../app.js';
import type { IO } from '../command.js';
import { sanEntry } from './tls.js';

const noOpenssl = spawnSync('openssl', ['version']).status !== 0 ? 'openssl is not installed' : false;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += String(c)));
  stderr.on('data', (c) => (err += String(c)));
  const io: IO = { stdin: Object.assign(Readable.from([]), { isTTY: false }), stdout, stderr, env: { PIER_HOST: 'unix:///nonexistent/pier.sock' } };
  return { code: await runCli(argv, io), out, err };
}

describe('pier tls generate', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'pier-tlsgen-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('puts names and addresses in the SAN list, and refuses anything else', () => {
    assert.equal(sanEntry('10.0.0.2'), 'IP:10.0.0.2');
    assert.equal(sanEntry('::1'), 'IP:::1');
    assert.equal(sanEntry('node-1.example.com'), 'DNS:node-1.example.com');
    assert.throws(() => sanEntry('bad name,'), /invalid --host "bad name,"/);
  });

  it('makes a CA, a server certificate (serverAuth+clientAuth, SANs) and a client certificate; keys 0600', { skip: noOpenssl }, async () => {
    const out = join(dir, 'a');
    const r = await run(['tls', 'generate', '--out', out, '--host', 'node1,10.1.2.3', '--days', '10']);
    assert.equal(r.code, 0, r.err);
    const cert = (n: string) => new X509Certificate(readFileSync(join(out, n)));
    const ca = cert('ca.pem');
    const server = cert('server-cert.pem');
    const client = cert('cert.pem');
    assert.ok(ca.ca);
    assert.ok(server.verify(ca.publicKey) && client.verify(ca.publicKey), 'both signed by the CA');
    assert.equal(server.subjectAltName, 'DNS:node1, IP Address:10.1.2.3');
    assert.deepEqual(server.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.ok(Date.parse(server.validTo) - Date.now() < 11 * 86400_000);
    for (const k of ['ca-key.pem', 'server-key.pem', 'key.pem']) assert.equal(statSync(join(out, k)).mode & 0o777, 0o600, k);

    // Again: nothing replaced without --force; with it, the CA is kept and the new certificates chain to it.
    const again = await run(['tls', 'generate', '--out', out, '--host', 'node1']);
    assert.equal(again.code, 1);
    assert.match(again.err, /already holds server-cert\.pem, server-key\.pem, cert\.pem, key\.pem: pass --force/);
    assert.equal(readFileSync(join(out, 'server-cert.pem'), 'utf8'), server.toString());
    const forced = await run(['tls', 'generate', '--out', out, '--host', 'node2', '--force']);
    assert.equal(forced.code, 0, forced.err);
    assert.match(forced.out, /^Reused the CA in /);
    assert.equal(cert('ca.pem').fingerprint256, ca.fingerprint256);
    assert.ok(cert('server-cert.pem').verify(ca.publicKey));
    assert.equal(cert('server-cert.pem').subjectAltName, 'DNS:node2');
  });

  it('refuses a bad --days before making anything', async () => {
    const r = await run(['tls', 'generate', '--out', join(dir, 'b'), '--days', '0']);
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid --days 0/);
  });
});
