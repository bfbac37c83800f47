import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsOptions } from './index.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('tlsOptions', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-tls-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('names a missing or non-PEM file', async () => {
    await assert.rejects(tlsOptions(join(dir, 'no.crt'), join(dir, 'no.key')), /TLS certificate .*no\.crt: no such file/);
    await writeFile(join(dir, 'junk.crt'), 'junk');
    await writeFile(join(dir, 'junk.key'), 'junk');
    await assert.rejects(tlsOptions(join(dir, 'junk.crt'), join(dir, 'junk.key')), /junk\.crt: not PEM/);
  });

  it('reads a matching pair and refuses a key that does not match', { skip: !hasOpenssl && 'needs openssl to make a certificate' }, async () => {
    const crt = join(dir, 'c.crt');
    const key = join(dir, 'c.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const o = await tlsOptions(crt, key);
    assert.match(o.cert.toString(), /BEGIN CERTIFICATE/);
    assert.match(o.key.toString(), /PRIVATE KEY/);
    const other = join(dir, 'other.key');
    await writeFile(other, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(tlsOptions(crt, other), /TLS key .*other\.key does not match the certificate/);
  });
});
