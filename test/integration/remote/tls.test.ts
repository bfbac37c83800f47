/**
 * pierd on a unix socket and a tcp:// host with mutual TLS, side by side: pier
 * and the real docker CLI reach it with their TLS flags and with
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, hijacked attach and exec included;
 * clients without a certificate from the daemon's CA (none, another CA's,
 * an expired one) get a failed handshake and no HTTP answer; bad TLS
 * configurations stop pierd at start with a message naming the file.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:tls';
import { mkdtempSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, PIER, PIERD, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip } from '../../harness/containers.js';
import { dockerCli } from '../../harness/dockerd.js';
import { expiredClientCert, freePort, generateCerts, pem, type CertSet } from '../../harness/certs.js';

const skip = containerSkip() || (spawnSync('openssl', ['version']).status !== 0 ? 'openssl is not installed' : false);

interface Out { code: number; stdout: string; stderr: string }
/** Run a CLI with exactly this environment (plus PATH/HOME), so no DOCKER_* of the runner leaks in. */
function runCli(cmd: string, args: string[], env: Record<string, string>, input?: string): Out {
  const r = spawnSync(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: env['HOME'] ?? '/nonexistent', ...env }, input, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('mutual TLS on a tcp:// host', { skip }, () => {
  let d: TestDaemon;
  let tmp: string;
  let certs: CertSet;
  let other: CertSet;
  let expired: { cert: string; key: string };
  let port: number;
  let host: string;
  let cfgDir: string;
  const pier = (args: string[], env: Record<string, string> = {}, input?: string) => runCli(process.execPath, [PIER, ...args], { DOCKER_CONFIG: cfgDir, ...env }, input);
  const docker = (args: string[], env: Record<string, string> = {}, input?: string) => runCli(dockerCli()!, args, { DOCKER_CONFIG: cfgDir, ...env }, input);
  const tlsFlags = (s: CertSet = certs) => ['--tlsverify', '--tlscacert', s.ca, '--tlscert', s.cert, '--tlskey', s.key];

  before(async () => {
    tmp = mkdtempSync('/tmp/pier-tls-');
    cfgDir = join(tmp, 'docker-config');
    mkdirSync(cfgDir);
    certs = generateCerts(join(tmp, 'certs'));
    other = generateCerts(join(tmp, 'other'));
    expired = expiredClientCert(certs, tmp);
    port = await freePort();
    host = `tcp://127.0.0.1:${port}`;
    d = await startDaemon({ args: ['-H', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey] });
    busyboxImage(d);
  });
  after(async () => {
    await d?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('pier reaches the daemon over mTLS with --tlsverify and the cert flags: ps, and run --rm (attach over TLS)', () => {
    const ps = pier(['-H', host, ...tlsFlags(), 'ps', '-a']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE/);
    const run = pier(['-H', host, ...tlsFlags(), 'run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hi\n');
    // stdin over the hijacked TLS connection, half-closed at its end: the output still arrives.
    const cat = pier(['-H', host, ...tlsFlags(), 'run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], {}, 'from stdin\n');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'from stdin\ndone\n');
  });

  it('pier takes DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH like docker', () => {
    const r = pier(['run', '--rm', 'busybox', 'echo', 'via-env'], { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'via-env\n');
    // PIER_HOST too, and the unix socket alongside, unencrypted as before.
    const p = pier(['version', '--format', '{{(index .Server.Components 0).Details.ApiVersion}}'], { PIER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.dir });
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout.trim(), '1.50');
    const u = pier(['version', '--format', '{{(index .Server.Components 0).Details.ApiVersion}}'], { PIER_HOST: d.host });
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout.trim(), '1.50');
  });

  it('the real docker CLI works over mTLS: flags, env, run --rm, run -i, exec', { skip: dockerCli() ? false : 'the docker CLI is not installed' }, () => {
    const ps = docker(['-H', host, ...tlsFlags(), 'ps']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID/);
    const env = { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.dir };
    const run = docker(['run', '--rm', 'busybox', 'echo', 'hi'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hi\n');
    const cat = docker(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], env, 'docker stdin\n');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'docker stdin\ndone\n');
    const c = docker(['run', '-d', '--name', 'tls-exec', 'busybox', 'sleep', '60'], env);
    assert.equal(c.code, 0, c.stderr);
    try {
      const ex = docker(['exec', '-i', 'tls-exec', 'sh', '-c', 'cat; echo exec-done'], env, 'exec stdin\n');
      assert.equal(ex.code, 0, ex.stderr);
      assert.equal(ex.stdout, 'exec stdin\nexec-done\n');
      const pex = pier(['exec', 'tls-exec', 'echo', 'pier-exec'], env);
      assert.equal(pex.code, 0, pex.stderr);
      assert.equal(pex.stdout, 'pier-exec\n');
    } finally {
      docker(['rm', '-f', 'tls-exec'], env);
    }
  });

  it('a client without a certificate gets a TLS error and no HTTP response', async () => {
    const logFrom = d.log().length;
    const r = pier(['-H', host, '--tlsverify', '--tlscacert', certs.ca, 'ps']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error during connect: Get "https:\/\/127\.0\.0\.1:\d+\/_ping": remote error: tls: certificate required/);
    // At the wire: the handshake may complete on the client's side (TLS 1.3), but the request gets no answer.
    const got = await new Promise<{ data: string; err?: string }>((resolve) => {
      let data = '';
      const s = connect({ host: '127.0.0.1', port, ca: pem(certs.ca), servername: 'localhost' }, () => s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', (b) => (data += b.toString()));
      s.on('error', (e) => resolve({ data, err: (e as NodeJS.ErrnoException).code ?? e.message }));
      s.on('close', () => resolve({ data }));
    });
    assert.equal(got.data, '', 'no HTTP bytes for a client without a certificate');
    assert.ok(got.err, 'the connection fails with an error');
    // The refused handshake is in the daemon's log (one that fails inside OpenSSL: no certificate at all).
    assert.match(d.log().slice(logFrom), /TLS handshake refused/);
  });

  it("a certificate from another CA is refused, by pier's daemon and reported by both CLIs", () => {
    // Trusting the right CA but presenting a stranger's client certificate.
    const r = pier(['-H', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', other.cert, '--tlskey', other.key, 'ps']);
    assert.equal(r.code, 1);
    // Node's TLS server checks the chain after the handshake and hangs up: no alert, no HTTP.
    assert.match(r.stderr, /^error during connect: Get "https:\/\/127\.0\.0\.1:\d+\/_ping": the daemon closed the connection without answering: it refused the TLS handshake or this client's certificate/);
    const dk = docker(['-H', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', other.cert, '--tlskey', other.key, 'ps']);
    assert.equal(dk.code, 1);
    // The daemon hangs up after the handshake: the client reads EOF, or a reset when its request was still on the way.
    assert.match(dk.stderr, /^error during connect: .*(EOF|tls: |connection reset by peer)/);
    assert.doesNotMatch(dk.stdout, /CONTAINER ID/);
    // Verifying the daemon against the other CA: the client refuses the server.
    const v = pier(['-H', host, ...tlsFlags(other), 'ps']);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /x509: certificate signed by unknown authority/);
  });

  it('an expired client certificate is refused', () => {
    const r = pier(['-H', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', expired.cert, '--tlskey', expired.key, 'ps']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the daemon closed the connection without answering: it refused the TLS handshake or this client's certificate/);
    const dk = docker(['-H', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', expired.cert, '--tlskey', expired.key, 'ps']);
    assert.equal(dk.code, 1);
    assert.doesNotMatch(dk.stdout, /CONTAINER ID/);
  });

  it('a plain-HTTP client is told the daemon closed without answering, and the daemon keeps serving', () => {
    const r = pier(['-H', host, 'ps']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /closed the connection without answering \(does it expect TLS\?/);
    const ok = pier(['-H', host, ...tlsFlags(), 'version', '--format', '{{.Server.Version}}']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('an unreachable daemon gives "Cannot connect", a missing cert file names it', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`;
    const r = pier(['-H', dead, ...tlsFlags(), 'ps']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Cannot connect to the Pier daemon at ${dead.replace(/\./g, '\\.')}\\. Is the pier daemon running\\?`));
    const m = pier(['-H', host, '--tlsverify', '--tlscacert', join(tmp, 'nope.pem'), 'ps']);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /Failed to initialize: unable to resolve pier endpoint: could not read CA certificate ".*nope\.pem": no such file or directory/);
  });
});

describe('pierd refuses bad TLS configurations at start', { skip }, () => {
  let tmp: string;
  let certs: CertSet;
  let other: CertSet;
  before(() => {
    tmp = mkdtempSync('/tmp/pier-tls-start-');
    certs = generateCerts(join(tmp, 'certs'));
    other = generateCerts(join(tmp, 'other'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** pierd with its own roots; resolves with its exit code and log (killed after 20 s). */
  const pierd = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; log: string }>((resolve) => {
      const root = mkdtempSync(join(tmp, 'root-'));
      const p = spawn(process.execPath, [PIERD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '-H', `unix://${join(root, 's.sock')}`, ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      p.stdout.on('data', (b: Buffer) => (log += b));
      p.stderr.on('data', (b: Buffer) => (log += b));
      const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code, log });
      });
    });

  it('a tcp:// host without --tls/--tlsverify is refused unless --tls=false is explicit', async () => {
    const port = await freePort();
    const r = await pierd(['-H', `tcp://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.log, /refusing to listen on tcp:\/\/127\.0\.0\.1:\d+ without TLS.*--tls=false/);
  });

  it('a key that does not belong to the certificate, or a missing file, stops pierd naming the file', async () => {
    const port = await freePort();
    const r = await pierd(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', other.serverKey]);
    assert.equal(r.code, 1);
    assert.ok(r.log.includes(`the TLS key ${other.serverKey} (--tlskey) does not belong to the certificate ${certs.serverCert}`), r.log);
    const m = await pierd(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(tmp, 'missing-ca.pem'), '--tlscert', certs.serverCert, '--tlskey', certs.serverKey]);
    assert.equal(m.code, 1);
    assert.ok(m.log.includes(`could not read the TLS CA certificate ${join(tmp, 'missing-ca.pem')} (--tlscacert): no such file`), m.log);
    // No files at all and none in the default place: told which flag to give.
    const n = await pierd(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify']);
    assert.equal(n.code, 1);
    assert.match(n.log, /TLS is on but no TLS certificate was given: pass --tlscert FILE/);
  });

  it('DOCKER_CERT_PATH supplies the default files and daemon.json takes the tls keys', async () => {
    // dockerd's defaults: ca.pem, cert.pem, key.pem in $DOCKER_CERT_PATH (else ~/.docker).
    const certDir = join(tmp, 'certpath');
    mkdirSync(certDir);
    copyFileSync(certs.ca, join(certDir, 'ca.pem'));
    copyFileSync(certs.serverCert, join(certDir, 'cert.pem'));
    copyFileSync(certs.serverKey, join(certDir, 'key.pem'));
    const port = await freePort();
    const saved = process.env['DOCKER_CERT_PATH'];
    process.env['DOCKER_CERT_PATH'] = certDir; // startDaemon's pierd inherits it
    let d: TestDaemon | undefined;
    try {
      d = await startDaemon({ args: ['-H', `tcp://127.0.0.1:${port}`], config: { tlsverify: true } });
    } finally {
      if (saved === undefined) delete process.env['DOCKER_CERT_PATH'];
      else process.env['DOCKER_CERT_PATH'] = saved;
    }
    try {
      const env = { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home') };
      const ok = spawnSync(process.execPath, [PIER, '-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.cert, '--tlskey', certs.key, 'version', '--format', '{{(index .Server.Components 0).Details.ApiVersion}}'], { env, encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
      const bad = spawnSync(process.execPath, [PIER, '-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', certs.ca, 'ps'], { env, encoding: 'utf8' });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /certificate required/);
    } finally {
      await d?.cleanup();
    }
  });

  it('--tls=false listens in the clear, with a loud warning in the log', async () => {
    const port = await freePort();
    const d = await startDaemon({ args: ['-H', `tcp://127.0.0.1:${port}`, '--tls=false'] });
    try {
      assert.match(d.log(), /LISTENING ON TCP WITHOUT TLS \(--tls=false\): anyone who can reach this address controls this machine as root/);
      const r = spawnSync(process.execPath, [PIER, '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{(index .Server.Components 0).Details.ApiVersion}}'], { env: { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home') }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), '1.50');
    } finally {
      await d.cleanup();
    }
  });

  it('SIGHUP reads the certificate files again: a renewed set serves new connections', async () => {
    const port = await freePort();
    const live = join(tmp, 'live');
    mkdirSync(live);
    const first = generateCerts(join(tmp, 'first'));
    const renewed = generateCerts(join(tmp, 'renewed'));
    const install = (s: CertSet) => {
      copyFileSync(s.ca, join(live, 'ca.pem'));
      copyFileSync(s.serverCert, join(live, 'server-cert.pem'));
      copyFileSync(s.serverKey, join(live, 'server-key.pem'));
    };
    install(first);
    const d = await startDaemon({ args: ['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(live, 'ca.pem'), '--tlscert', join(live, 'server-cert.pem'), '--tlskey', join(live, 'server-key.pem')] });
    const env = { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home') };
    const ping = (s: CertSet) => spawnSync(process.execPath, [PIER, '-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', s.ca, '--tlscert', s.cert, '--tlskey', s.key, 'version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8' });
    try {
      assert.equal(ping(first).status, 0);
      assert.notEqual(ping(renewed).status, 0);
      install(renewed);
      d.proc.kill('SIGHUP');
      await waitForLog(d, /TLS certificates reloaded/);
      const now = ping(renewed);
      assert.equal(now.status, 0, now.stderr);
      assert.notEqual(ping(first).status, 0);
      // A broken key at the same path is refused; the renewed set stays in use.
      copyFileSync(first.serverKey, join(live, 'server-key.pem'));
      d.proc.kill('SIGHUP');
      await waitForLog(d, /TLS certificates not reloaded/);
      assert.equal(ping(renewed).status, 0);
    } finally {
      await d.cleanup();
    }
  });
});

async function waitForLog(d: TestDaemon, re: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!re.test(d.log())) {
    if (Date.now() > deadline) throw new Error(`pierd did not log ${re} within 10 s:\n${d.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
