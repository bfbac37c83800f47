import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDaemonArgs, type DaemonConfig } from './config.js';
import { serverTlsOptions, tlsEnabled } from './tls.js';

const noOpenssl = spawnSync('openssl', ['version']).status !== 0 ? 'openssl is not installed' : false;

/** A self-signed EC certificate and its key. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  if (r.status !== 0) throw new Error(String(r.stderr));
  return { cert, key };
}

describe('pierd TLS configuration', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'pierd-tls-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const parse = (args: string[], env: Record<string, string> = { HOME: '/nonexistent' }, file?: object) =>
    parseDaemonArgs(file ? [...args, '--config-file', 'daemon.json'] : args, () => JSON.stringify(file), env) as DaemonConfig;

  it('refuses a tcp:// host without TLS unless --tls=false (or "tls": false) says so', () => {
    assert.throws(() => parse(['-H', 'tcp://0.0.0.0:2375']), /refusing to listen on tcp:\/\/0\.0\.0\.0:2375 without TLS.*--tlsverify.*--tls=false/);
    assert.equal(parse(['-H', 'tcp://0.0.0.0:2375', '--tls=false']).tls, false);
    assert.equal(parse(['-H', 'tcp://0.0.0.0:2375'], undefined, { tls: false }).tls, false);
    // A unix socket alone needs nothing.
    assert.equal(tlsEnabled(parse(['-H', 'unix:///run/x.sock'])), false);
  });

  it('takes dockerd\'s flags and daemon.json keys; --tlsverify implies TLS; a key in both places is refused', () => {
    const c = parse(['-H', 'tcp://127.0.0.1:2376', '--tlsverify', '--tlscacert', '/c/ca.pem', '--tlscert', '/c/cert.pem', '--tlskey', '/c/key.pem']);
    assert.equal(c.tlsVerify, true);
    assert.equal(tlsEnabled(c), true);
    assert.deepEqual([c.tlsCaCert, c.tlsCert, c.tlsKey], ['/c/ca.pem', '/c/cert.pem', '/c/key.pem']);
    const f = parse(['-H', 'tcp://127.0.0.1:2376'], undefined, { tlsverify: true, tlscacert: '/f/ca.pem', tlscert: '/f/cert.pem', tlskey: '/f/key.pem' });
    assert.deepEqual([f.tlsVerify, f.tlsCaCert, f.tlsCert, f.tlsKey], [true, '/f/ca.pem', '/f/cert.pem', '/f/key.pem']);
    assert.throws(() => parse(['--tlsverify'], undefined, { tlsverify: true }), /specified both as a flag and in the configuration file: tlsverify/);
    assert.throws(() => parse([], undefined, { tlsverify: 'yes' }), /invalid value for "tlsverify".*true or false/);
  });

  it('defaults the files to DOCKER_CERT_PATH/{ca,cert,key}.pem only when they exist', () => {
    writeFileSync(join(dir, 'ca.pem'), 'x');
    writeFileSync(join(dir, 'cert.pem'), 'x');
    const c = parse(['-H', 'tcp://127.0.0.1:2376', '--tlsverify'], { DOCKER_CERT_PATH: dir });
    assert.equal(c.tlsCaCert, join(dir, 'ca.pem'));
    assert.equal(c.tlsCert, join(dir, 'cert.pem'));
    assert.equal(c.tlsKey, undefined);
  });

  it('loads matching files; names the file that is missing, not PEM, or a key of another certificate', { skip: noOpenssl }, () => {
    const a = selfSigned(dir, 'a');
    const b = selfSigned(dir, 'b');
    const o = serverTlsOptions({ tlsVerify: true, tlsCaCert: a.cert, tlsCert: a.cert, tlsKey: a.key });
    assert.equal(o.requestCert, true);
    assert.equal(o.rejectUnauthorized, true);
    assert.equal(o.minVersion, 'TLSv1.2');
    // --tls alone: no client certificates asked for.
    assert.equal(serverTlsOptions({ tls: true, tlsVerify: false, tlsCert: a.cert, tlsKey: a.key }).requestCert, undefined);
    assert.throws(() => serverTlsOptions({ tlsVerify: true, tlsCaCert: a.cert, tlsCert: a.cert, tlsKey: b.key }), (e: Error) =>
      e.message === `the TLS key ${b.key} (--tlskey) does not belong to the certificate ${a.cert} (--tlscert): give the key the certificate was made for`);
    assert.throws(() => serverTlsOptions({ tlsVerify: true, tlsCaCert: join(dir, 'none.pem'), tlsCert: a.cert, tlsKey: a.key }), /could not read the TLS CA certificate .*none\.pem \(--tlscacert\): no such file/);
    assert.throws(() => serverTlsOptions({ tlsVerify: true, tlsCaCert: a.cert, tlsCert: a.key, tlsKey: a.key }), /the TLS certificate .*a-key\.pem \(--tlscert\) is not a PEM certificate/);
    assert.throws(() => serverTlsOptions({ tlsVerify: true, tlsCaCert: a.cert, tlsCert: a.cert, tlsKey: a.cert }), /the TLS key .*a-cert\.pem \(--tlskey\) is not a PEM private key/);
    assert.throws(() => serverTlsOptions({ tlsVerify: true, tlsCaCert: a.cert, tlsKey: a.key }), /no TLS certificate was given: pass --tlscert FILE/);
  });
});
