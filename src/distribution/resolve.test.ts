import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { domainOfServer, endpointsFor, isInsecure, validateInsecureRegistry, validateMirror } from './resolve.js';

const none = { insecureRegistries: [], mirrors: [] };

describe('registry endpoints', () => {
  it('docker.io goes to its mirrors (pulls only), then registry-1.docker.io', () => {
    const cfg = { insecureRegistries: [], mirrors: ['https://mirror.example.com', 'http://127.0.0.1:5001'] };
    assert.deepEqual(endpointsFor('docker.io', cfg).map((e) => [e.base, e.mirror, e.official, e.tlsVerify]), [
      ['https://mirror.example.com', true, false, true],
      ['http://127.0.0.1:5001', true, false, false],
      ['https://registry-1.docker.io', false, true, true],
    ]);
    assert.deepEqual(endpointsFor('docker.io', cfg, { push: true }).map((e) => e.base), ['https://registry-1.docker.io']);
  });

  it('a secure registry is https only, an insecure one https then http', () => {
    assert.deepEqual(endpointsFor('quay.io', none).map((e) => [e.base, e.tlsVerify]), [['https://quay.io', true]]);
    assert.deepEqual(endpointsFor('localhost:5000', none).map((e) => [e.base, e.tlsVerify]), [
      ['https://localhost:5000', false],
      ['http://localhost:5000', false],
    ]);
    assert.deepEqual(endpointsFor('registry.lan:443', { insecureRegistries: ['registry.lan:443'], mirrors: [] }).map((e) => e.base), ['https://registry.lan:443', 'http://registry.lan:443']);
  });

  it('insecure: localhost, 127.0.0.0/8, ::1, listed hosts and CIDRs', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.8.9.10', '[::1]:5000', '::1']) assert.ok(isInsecure(h, none), h);
    for (const h of ['example.com', '10.0.0.1:5000', '[2001:db8::1]:5000', '128.0.0.1', 'localhost.example.com']) assert.ok(!isInsecure(h, none), h);
    const cfg = { insecureRegistries: ['10.0.0.0/8', 'myreg:5000', 'plain', '2001:db8::/32'] };
    assert.ok(isInsecure('10.1.2.3:5000', cfg));
    assert.ok(isInsecure('myreg:5000', cfg));
    assert.ok(!isInsecure('myreg:5001', cfg), 'a host:port entry names that port only');
    assert.ok(isInsecure('plain:1234', cfg), 'a bare host entry names every port');
    assert.ok(isInsecure('[2001:db8::7]:5000', cfg));
    assert.ok(!isInsecure('11.0.0.1', cfg));
  });

  it('checks config entries like dockerd', () => {
    assert.equal(validateMirror('https://mirror.example.com/'), 'https://mirror.example.com');
    assert.throws(() => validateMirror('https://mirror.example.com/v2/'), /path, query, or fragment/);
    assert.throws(() => validateMirror('ftp://x'), /unsupported scheme "ftp"/);
    assert.throws(() => validateMirror('not a url'), /not a valid URI/);
    assert.equal(validateInsecureRegistry('10.0.0.0/8'), '10.0.0.0/8');
    assert.equal(validateInsecureRegistry('MyReg:5000'), 'myreg:5000');
    assert.throws(() => validateInsecureRegistry('http://myreg:5000'), /should not contain '::\/\/'|should not contain/);
  });

  it('login server addresses become domains', () => {
    assert.equal(domainOfServer(undefined), 'docker.io');
    assert.equal(domainOfServer('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(domainOfServer('registry-1.docker.io'), 'docker.io');
    assert.equal(domainOfServer('http://Localhost:5000/v2/'), 'localhost:5000');
    assert.equal(domainOfServer('127.0.0.1:5000'), '127.0.0.1:5000');
  });
});
