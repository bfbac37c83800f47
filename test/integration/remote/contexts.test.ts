/**
 * Contexts shared with the real docker CLI: pier writes them where and as
 * docker does ($DOCKER_CONFIG/contexts/meta/<sha256>/meta.json, tls/<sha256>/docker/*.pem,
 * config.json's currentContext), so each CLI lists, inspects and uses the
 * other's, against a pierd reached over mutual TLS.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, PIER, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip } from '../../harness/containers.js';
import { dockerCli } from '../../harness/dockerd.js';
import { freePort, generateCerts, type CertSet } from '../../harness/certs.js';

const skip = containerSkip({ docker: true }) || (spawnSync('openssl', ['version']).status !== 0 ? 'openssl is not installed' : false);

interface Out { code: number; stdout: string; stderr: string }

describe('contexts, shared with the docker CLI', { skip }, () => {
  let d: TestDaemon;
  let tmp: string;
  let certs: CertSet;
  let cfg: string;
  let host: string;
  const run = (cmd: string, args: string[], env: Record<string, string> = {}): Out => {
    const r = spawnSync(cmd, args, { env: { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home'), DOCKER_CONFIG: cfg, ...env }, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const pier = (args: string[], env?: Record<string, string>) => run(process.execPath, [PIER, ...args], env);
  const docker = (args: string[], env?: Record<string, string>) => run(dockerCli()!, args, env);
  const ok = (r: Out, what: string) => {
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    return r.stdout;
  };
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  before(async () => {
    tmp = mkdtempSync('/tmp/pier-ctx-');
    cfg = join(tmp, 'docker-config');
    mkdirSync(cfg);
    certs = generateCerts(join(tmp, 'certs'));
    host = `tcp://127.0.0.1:${await freePort()}`;
    d = await startDaemon({ args: ['-H', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey] });
    busyboxImage(d);
  });
  after(async () => {
    await d?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("pier context create stores docker's layout, and docker lists, inspects and uses it", () => {
    const c = pier(['context', 'create', 'pier-tls', '--description', 'made by pier', '--docker', `host=${host},ca=${certs.ca},cert=${certs.cert},key=${certs.key}`]);
    assert.equal(ok(c, 'context create'), 'pier-tls\n');
    assert.equal(c.stderr, 'Successfully created context "pier-tls"\n');
    const meta = join(cfg, 'contexts', 'meta', sha('pier-tls'), 'meta.json');
    assert.deepEqual(JSON.parse(readFileSync(meta, 'utf8')), { Name: 'pier-tls', Metadata: { Description: 'made by pier' }, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } });
    const tlsDir = join(cfg, 'contexts', 'tls', sha('pier-tls'), 'docker');
    assert.equal(readFileSync(join(tlsDir, 'ca.pem'), 'utf8'), readFileSync(certs.ca, 'utf8'));
    assert.equal(statSync(join(tlsDir, 'key.pem')).mode & 0o777, 0o600);

    const ls = ok(docker(['context', 'ls', '--format', '{{.Name}}|{{.Description}}|{{.DockerEndpoint}}']), 'docker context ls');
    assert.ok(ls.split('\n').includes(`pier-tls|made by pier|${host}`), ls);
    const insp = JSON.parse(ok(docker(['context', 'inspect', 'pier-tls']), 'docker context inspect'));
    assert.deepEqual(insp[0].TLSMaterial, { docker: ['ca.pem', 'cert.pem', 'key.pem'] });
    assert.equal(ok(docker(['--context', 'pier-tls', 'run', '--rm', 'busybox', 'echo', 'docker-via-pier-context']), 'docker --context run'), 'docker-via-pier-context\n');
  });

  it("docker context create is listed by pier and used with --context, DOCKER_CONTEXT and context use", () => {
    ok(docker(['context', 'create', 'docker-tls', '--docker', `host=${host},ca=${certs.ca},cert=${certs.cert},key=${certs.key}`]), 'docker context create');
    const ls = ok(pier(['context', 'ls', '--format', '{{.Name}}|{{.DockerEndpoint}}|{{.Current}}']), 'pier context ls');
    assert.ok(ls.split('\n').includes(`docker-tls|${host}|false`), ls);
    assert.ok(ls.split('\n').includes('default|unix:///run/pier/pier.sock|true'), ls);
    assert.match(ok(pier(['--context', 'docker-tls', 'ps']), 'pier --context ps'), /^CONTAINER ID/);
    assert.equal(ok(pier(['run', '--rm', 'busybox', 'echo', 'via-DOCKER_CONTEXT'], { DOCKER_CONTEXT: 'docker-tls' }), 'DOCKER_CONTEXT run'), 'via-DOCKER_CONTEXT\n');

    const use = pier(['context', 'use', 'docker-tls']);
    assert.equal(ok(use, 'context use'), 'docker-tls\n');
    assert.equal(use.stderr, 'Current context is now "docker-tls"\n');
    assert.equal(JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8')).currentContext, 'docker-tls');
    assert.equal(ok(docker(['context', 'show']), 'docker context show'), 'docker-tls\n');
    assert.equal(ok(pier(['context', 'show']), 'pier context show'), 'docker-tls\n');
    assert.equal(ok(pier(['run', '--rm', 'busybox', 'echo', 'current-context']), 'run in current context'), 'current-context\n');
    // The table marks the current context as docker's does.
    assert.match(ok(pier(['context', 'ls']), 'ls'), /^NAME\s+DESCRIPTION\s+DOCKER ENDPOINT\s+ERROR\n(.*\n)*docker-tls \*\s+tcp:\/\/127\.0\.0\.1:\d+/);
    // -H (and PIER_HOST/DOCKER_HOST) override the context; -H with --context is refused, as docker.
    assert.equal(ok(pier(['-H', d.host, 'version', '--format', '{{.Client.Version}}']), '-H over context').trim().length > 0, true);
    // …and it is -H that is used, not the context: an address nobody answers fails, naming it.
    const dead = pier(['-H', 'tcp://127.0.0.1:1', 'ps']);
    assert.equal(dead.code, 1);
    assert.match(dead.stderr, /127\.0\.0\.1:1\b/);
    const both = pier(['-H', d.host, '--context', 'docker-tls', 'ps']);
    assert.equal(both.code, 1);
    assert.equal(both.stderr, 'conflicting options: cannot specify both --host and --context\n');
    ok(pier(['context', 'use', 'default']), 'use default');
    assert.equal(JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8')).currentContext, undefined);
  });

  it('pier and docker print the same context inspect documents', () => {
    assert.equal(ok(pier(['context', 'inspect', 'pier-tls', 'docker-tls']), 'pier inspect'), ok(docker(['context', 'inspect', 'pier-tls', 'docker-tls']), 'docker inspect'));
    const env = { DOCKER_HOST: host };
    assert.equal(ok(pier(['context', 'inspect', 'default'], env), 'pier inspect default'), ok(docker(['context', 'inspect', 'default'], env), 'docker inspect default'));
    assert.equal(ok(pier(['context', 'inspect', '-f', '{{.Endpoints.docker.Host}}', 'pier-tls']), 'inspect -f'), `${host}\n`);
  });

  it('context export and import carry a context between pier and docker, TLS files included; the imported one reaches pierd', () => {
    // docker's export (an unfinished tar, as docker 28 writes it) imported by pier.
    const fromDocker = join(tmp, 'docker-tls.dockercontext');
    ok(docker(['context', 'export', 'docker-tls', fromDocker]), 'docker export');
    assert.equal(ok(pier(['context', 'import', 'via-docker', fromDocker]), 'pier import'), 'via-docker\n');
    assert.deepEqual(readdirSync(join(cfg, 'contexts', 'tls', sha('via-docker'), 'docker')).sort(), ['ca.pem', 'cert.pem', 'key.pem']);
    assert.match(ok(pier(['--context', 'via-docker', 'ps', '--format', '{{.ID}}', '-a']), 'ps through the imported context'), /^$|^[0-9a-f]{12}\n/);
    assert.equal(ok(pier(['--context', 'via-docker', 'version', '-f', '{{.Server.Os}}']), 'version'), 'linux\n');

    // pier's export, to a file and to stdout, imported by docker and used by it.
    const fromPier = join(tmp, 'pier-tls.dockercontext');
    const ex = pier(['context', 'export', 'pier-tls', fromPier]);
    assert.equal(ex.stderr, `Written file ${JSON.stringify(fromPier)}\n`);
    const list = spawnSync('tar', ['tvf', fromPier], { encoding: 'utf8' }).stdout;
    assert.match(list, /^-rw-r--r-- 0\/0 .* meta\.json$/m);
    assert.match(list, /^-rw------- 0\/0 .* tls\/docker\/key\.pem$/m);
    ok(docker(['context', 'import', 'via-pier', fromPier]), 'docker import');
    assert.equal(ok(docker(['--context', 'via-pier', 'version', '-f', '{{.Server.Os}}']), 'docker through pier\'s export'), 'linux\n');
    const piped = spawnSync(process.execPath, [PIER, 'context', 'export', 'pier-tls', '-'], { env: { PATH: process.env.PATH ?? '', DOCKER_CONFIG: cfg } });
    assert.equal(piped.status, 0);
    assert.deepEqual(piped.stdout, readFileSync(fromPier), 'the same archive on stdout');
    const strip = (s: string) => s.replace(/"(Name|MetadataPath|TLSPath)": "[^"]*"/g, '');
    assert.equal(strip(ok(docker(['context', 'inspect', 'via-pier']), 'inspect')), strip(ok(pier(['context', 'inspect', 'pier-tls']), 'inspect')));

    // update: a new description keeps the TLS files; a new endpoint replaces them, as docker.
    ok(pier(['context', 'update', '--description', 'renamed', 'via-docker']), 'update description');
    assert.match(ok(docker(['context', 'inspect', '-f', '{{json .Metadata}} {{len .TLSMaterial.docker}}', 'via-docker']), 'inspect'), /"Description":"renamed".* 3\n$/);
    ok(pier(['context', 'update', '--docker', 'host=tcp://127.0.0.1:1', 'via-docker']), 'update endpoint');
    assert.equal(ok(pier(['context', 'inspect', '-f', '{{.Endpoints.docker.Host}} {{json .TLSMaterial}}', 'via-docker']), 'inspect'), 'tcp://127.0.0.1:1 {}\n');
    const upd = pier(['context', 'update', '--description', 'x', 'nope']);
    assert.equal(upd.code, 1);
    assert.match(upd.stderr, /context "nope": context not found/);

    // Bad archives: a clear error and no context made.
    writeFileSync(join(tmp, 'junk'), 'not a tar at all');
    const junk = pier(['context', 'import', 'junk', join(tmp, 'junk')]);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /not a context archive/);
    assert.ok(!existsSync(join(cfg, 'contexts', 'meta', sha('junk'))));
    const taken = pier(['context', 'import', 'via-pier', fromPier]);
    assert.equal(taken.stderr, 'context "via-pier" already exists\n');
    for (const n of ['via-docker', 'via-pier']) ok(docker(['context', 'rm', n]), 'rm');
  });

  it('context rm refuses the current context without -f; bad names and unknown contexts get clear errors', () => {
    ok(pier(['context', 'use', 'pier-tls']), 'use');
    const rm = pier(['context', 'rm', 'pier-tls']);
    assert.equal(rm.code, 1);
    assert.equal(rm.stderr, 'context "pier-tls" is in use, set -f flag to force remove\n');
    assert.ok(existsSync(join(cfg, 'contexts', 'meta', sha('pier-tls'), 'meta.json')), 'nothing removed');
    assert.equal(ok(pier(['context', 'rm', '-f', 'pier-tls']), 'rm -f'), 'pier-tls\n');
    assert.ok(!existsSync(join(cfg, 'contexts', 'meta', sha('pier-tls'))));
    assert.ok(!existsSync(join(cfg, 'contexts', 'tls', sha('pier-tls'))));
    assert.equal(ok(docker(['context', 'show']), 'docker show'), 'default\n');
    assert.doesNotMatch(ok(docker(['context', 'ls', '-q']), 'docker ls'), /pier-tls/);

    const dup = pier(['context', 'create', 'docker-tls', '--docker', `host=${host}`]);
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr, 'context "docker-tls" already exists\n');
    const bad = pier(['context', 'create', 'bad name']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /context name "bad name" is invalid/);
    const miss = pier(['context', 'create', 'x1', '--docker', `host=${host},ca=${join(tmp, 'nope.pem')}`]);
    assert.equal(miss.code, 1);
    assert.match(miss.stderr, /unable to create docker endpoint config: open .*nope\.pem: no such file or directory/);
    assert.ok(!existsSync(join(cfg, 'contexts', 'meta', sha('x1'))), 'no half-made context');
    const use = pier(['context', 'use', 'nope']);
    assert.equal(use.code, 1);
    assert.equal(use.stderr, 'context "nope" does not exist\n');
    const run = pier(['--context', 'nope', 'ps']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^Failed to initialize: unable to resolve pier endpoint: context "nope": context not found: open .*meta\.json: no such file or directory/);
  });

  it('a context whose daemon is unreachable gives "Cannot connect"; its certificate files are not lost', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`;
    ok(pier(['context', 'create', 'dead', '--docker', `host=${dead},ca=${certs.ca},cert=${certs.cert},key=${certs.key}`]), 'create dead');
    const r = pier(['--context', 'dead', 'ps']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Cannot connect to the Pier daemon at ${dead}. Is the pier daemon running?\n`);
    assert.ok(existsSync(join(cfg, 'contexts', 'tls', sha('dead'), 'docker', 'cert.pem')));
    ok(pier(['context', 'rm', 'dead', 'docker-tls']), 'rm two');
    assert.equal(ok(pier(['context', 'ls', '-q']), 'ls -q'), 'default\n');
  });
});
