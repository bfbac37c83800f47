import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextStore, currentContextName, defaultHost, defaultTls, loadContext } from './contexts.js';

const PEM = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;

describe('context store (docker layout)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-ctx-'));
    env = { DOCKER_CONFIG: dir, HOME: join(dir, 'home') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes meta.json under the sha256 of the name and TLS files 0600, and reads them back', async () => {
    const store = ContextStore.fromEnv(env);
    await store.create(
      { Name: 'prod', Metadata: { Description: 'the prod box' }, Endpoints: { docker: { Host: 'tcp://10.0.0.2:2376', SkipTLSVerify: false } } },
      { ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') },
    );
    const id = createHash('sha256').update('prod').digest('hex');
    const meta = JSON.parse(readFileSync(join(dir, 'contexts', 'meta', id, 'meta.json'), 'utf8'));
    assert.deepEqual(meta, { Name: 'prod', Metadata: { Description: 'the prod box' }, Endpoints: { docker: { Host: 'tcp://10.0.0.2:2376', SkipTLSVerify: false } } });
    assert.equal(statSync(join(dir, 'contexts', 'tls', id, 'docker', 'key.pem')).mode & 0o777, 0o600);
    assert.deepEqual(await store.tlsFiles('prod'), ['ca.pem', 'cert.pem', 'key.pem']);
    assert.deepEqual((await store.list()).map((m) => m.Name), ['prod']);

    const c = await loadContext('prod', env);
    assert.deepEqual(c, { name: 'prod', host: 'tcp://10.0.0.2:2376', tls: { ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY'), verify: true } });

    await store.remove('prod');
    assert.deepEqual(await store.list(), []);
    await assert.rejects(loadContext('prod', env), /context "prod": context not found: open .*meta\.json: no such file or directory/);
  });

  it('a context without TLS files is plain TCP; SkipTLSVerify alone means TLS without verification', async () => {
    const store = ContextStore.fromEnv(env);
    await store.create({ Name: 'plain', Metadata: {}, Endpoints: { docker: { Host: 'tcp://h:2375', SkipTLSVerify: false } } });
    await store.create({ Name: 'skip', Metadata: {}, Endpoints: { docker: { Host: 'tcp://h:2376', SkipTLSVerify: true } } });
    assert.deepEqual(await loadContext('plain', env), { name: 'plain', host: 'tcp://h:2375' });
    assert.deepEqual(await loadContext('skip', env), { name: 'skip', host: 'tcp://h:2376', tls: { verify: false } });
  });

  it('setCurrentContext keeps the other config.json keys; "default" clears it', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: 'eA==' } } }), { mode: 0o600 });
    const store = ContextStore.fromEnv(env);
    await store.setCurrentContext('prod');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), { auths: { 'r.example': { auth: 'eA==' } }, currentContext: 'prod' });
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
    assert.equal(store.currentContext(), 'prod');
    await store.setCurrentContext('default');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), { auths: { 'r.example': { auth: 'eA==' } } });
  });

  it('a broken config.json is reported, naming the file', () => {
    writeFileSync(join(dir, 'config.json'), '{nope');
    assert.throws(() => ContextStore.fromEnv(env).currentContext(), /config\.json is not a valid JSON object/);
  });

  it("chooses the context as docker does: --context, -H/PIER_HOST/DOCKER_HOST, DOCKER_CONTEXT, config.json, default", async () => {
    await ContextStore.fromEnv(env).setCurrentContext('fromconfig');
    assert.equal(currentContextName(env), 'fromconfig');
    assert.equal(currentContextName({ ...env, DOCKER_CONTEXT: 'fromenv' }), 'fromenv');
    assert.equal(currentContextName({ ...env, DOCKER_CONTEXT: 'fromenv', DOCKER_HOST: 'tcp://x:1' }), 'default');
    assert.equal(currentContextName({ ...env, PIER_HOST: 'unix:///s' }), 'default');
    assert.equal(currentContextName(env, { hosts: ['unix:///s'] }), 'default');
    assert.equal(currentContextName({ ...env, DOCKER_HOST: 'tcp://x:1' }, { context: 'flag' }), 'flag');
    assert.throws(() => currentContextName(env, { context: 'flag', hosts: ['unix:///s'] }), /conflicting options: cannot specify both --host and --context/);
    rmSync(join(dir, 'config.json'));
    assert.equal(currentContextName(env), 'default');
  });

  it('the default context: -H, then PIER_HOST, then DOCKER_HOST, then the default socket', async () => {
    assert.equal(defaultHost({}), 'unix:///run/pier/pier.sock');
    assert.equal(defaultHost({ DOCKER_HOST: 'tcp://d:1' }), 'tcp://d:1');
    assert.equal(defaultHost({ DOCKER_HOST: 'tcp://d:1', PIER_HOST: 'tcp://p:1' }), 'tcp://p:1');
    assert.equal(defaultHost({ PIER_HOST: 'tcp://p:1' }, ['tcp://h:1']), 'tcp://h:1');
    assert.deepEqual(await loadContext('default', { ...env, DOCKER_HOST: 'tcp://d:1' }), { name: 'default', host: 'tcp://d:1' });
  });

  it('default TLS: DOCKER_TLS_VERIFY (any value) with DOCKER_CERT_PATH files; flags override; a missing CA is an error when verifying', () => {
    const certs = join(dir, 'certs');
    mkdirSync(certs);
    writeFileSync(join(certs, 'ca.pem'), PEM('CERTIFICATE'));
    writeFileSync(join(certs, 'cert.pem'), PEM('CERTIFICATE'));
    writeFileSync(join(certs, 'key.pem'), PEM('PRIVATE KEY'));
    assert.equal(defaultTls(env), undefined);
    assert.equal(defaultTls({ ...env, DOCKER_TLS_VERIFY: '' }), undefined);
    assert.deepEqual(defaultTls({ ...env, DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: certs }), { verify: true, ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') });
    // --tls alone: encrypted, not verified; the client certificate is still offered.
    assert.deepEqual(defaultTls({ ...env, DOCKER_CERT_PATH: certs }, { tls: true }), { verify: false, ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') });
    // --tlsverify=false given explicitly wins over the environment.
    assert.equal(defaultTls({ ...env, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }, { tlsVerify: false, tls: false }), undefined);
    // No files in ~/.docker: verifying needs a CA.
    assert.throws(() => defaultTls({ ...env, DOCKER_TLS_VERIFY: '1' }), /could not read CA certificate ".*ca\.pem": no such file or directory/);
    assert.deepEqual(defaultTls({ ...env, DOCKER_TLS: '1' }), { verify: false });
    assert.throws(() => defaultTls(env, { tlsVerify: true, tlsCaCert: join(certs, 'ca.pem'), tlsCert: join(dir, 'missing.pem') }), /could not read client certificate ".*missing\.pem": no such file or directory/);
  });
});
