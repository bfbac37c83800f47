import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../app.js';
import type { IO } from '../command.js';
import { parseDockerOpt } from './contexts.js';

describe('pier context', () => {
  let dir: string;
  const run = async (argv: string[], env: Record<string, string> = {}) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c) => (out += String(c)));
    stderr.on('data', (c) => (err += String(c)));
    const io: IO = { stdin: Object.assign(Readable.from([]), { isTTY: false }), stdout, stderr, env: { DOCKER_CONFIG: dir, HOME: join(dir, 'home'), ...env } };
    return { code: await runCli(argv, io), out, err };
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-ctxcmd-'));
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('parses --docker like docker, refusing unknown keys', () => {
    assert.deepEqual(parseDockerOpt('host=tcp://h:2376,ca=/c.pem,skip-tls-verify=true'), { host: 'tcp://h:2376', ca: '/c.pem', 'skip-tls-verify': 'true' });
    assert.throws(() => parseDockerOpt('foo=bar'), /unrecognized config key: foo/);
    assert.throws(() => parseDockerOpt('host'), /must be formatted as key=value/);
  });

  it('create, ls, use, show, inspect, rm', async () => {
    const c = await run(['context', 'create', 'box', '--description', 'a box', '--docker', `host=tcp://10.9.9.9:2376,ca=${join(dir, 'ca.pem')}`]);
    assert.deepEqual([c.code, c.out, c.err], [0, 'box\n', 'Successfully created context "box"\n']);
    const ls = await run(['context', 'ls']);
    assert.equal(ls.out, [
      'NAME        DESCRIPTION                               DOCKER ENDPOINT              ERROR',
      'box         a box                                     tcp://10.9.9.9:2376          ',
      'default *   Current DOCKER_HOST based configuration   unix:///run/pier/pier.sock   ',
      '',
    ].join('\n'));
    assert.equal((await run(['context', 'ls', '-q'])).out, 'box\ndefault\n');
    assert.equal((await run(['context', 'ls', '--format', 'json'])).out.split('\n')[0], '{"Current":false,"Description":"a box","DockerEndpoint":"tcp://10.9.9.9:2376","Error":"","Name":"box"}');

    const use = await run(['context', 'use', 'box']);
    assert.deepEqual([use.code, use.out, use.err], [0, 'box\n', 'Current context is now "box"\n']);
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).currentContext, 'box');
    assert.equal((await run(['context', 'show'])).out, 'box\n');
    // DOCKER_HOST overrides the current context, with docker's warning.
    const over = await run(['context', 'ls', '-q'], { DOCKER_HOST: 'unix:///x.sock' });
    assert.match(over.err, /^Warning: DOCKER_HOST environment variable overrides the active context/);

    const insp = JSON.parse((await run(['context', 'inspect'])).out);
    assert.equal(insp[0].Name, 'box');
    assert.deepEqual(insp[0].Endpoints, { docker: { Host: 'tcp://10.9.9.9:2376', SkipTLSVerify: false } });
    assert.deepEqual(insp[0].TLSMaterial, { docker: ['ca.pem'] });
    assert.match((await run(['context', 'inspect', 'default'])).out, /"MetadataPath": "\\u003cIN MEMORY\\u003e"/);

    const rm = await run(['context', 'rm', 'box', 'default']);
    assert.equal(rm.code, 1);
    assert.equal(rm.err, 'context "box" is in use, set -f flag to force remove\ncontext "default" cannot be removed\n');
    const rmf = await run(['context', 'rm', '-f', 'box']);
    assert.deepEqual([rmf.code, rmf.out], [0, 'box\n']);
    assert.equal((await run(['context', 'show'])).out, 'default\n');
  });

  it('create without --docker copies the current context; --from copies another', async () => {
    const a = await run(['context', 'create', 'ca', '--docker', 'host=tcp://1.2.3.4:2375,skip-tls-verify=true']);
    assert.equal(a.code, 0, a.err);
    await run(['context', 'use', 'ca']);
    assert.equal((await run(['context', 'create', 'cb'])).code, 0);
    assert.equal((await run(['context', 'create', 'cc', '--from', 'default'], {})).code, 0);
    const insp = JSON.parse((await run(['context', 'inspect', 'cb', 'cc'])).out);
    assert.deepEqual(insp[0].Endpoints.docker, { Host: 'tcp://1.2.3.4:2375', SkipTLSVerify: true });
    assert.deepEqual(insp[1].Endpoints.docker, { Host: 'unix:///run/pier/pier.sock', SkipTLSVerify: false });
    const bad = await run(['context', 'create', 'cd', '--docker', 'host=bogus://x']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /unable to parse docker host `bogus:\/\/x`/);
    const reserved = await run(['context', 'create', 'default']);
    assert.equal(reserved.err, '"default" is a reserved context name\n');
  });
});
