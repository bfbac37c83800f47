/**
 * The whole chain the registry issue names: the real docker CLI → pierd →
 * `pier registry serve` (started as a user would start it, its own process),
 * push and pull, then the same with the pier CLI; all on 127.0.0.1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startDaemon, api, PIER, type TestDaemon } from '../../harness/daemon.js';
import { startPierRegistry, type PierRegistry } from '../../harness/pier-registry.js';
import { docker, dockerCli } from '../../harness/dockerd.js';
import { tarOf } from '../../harness/tars.js';

describe('docker CLI → pierd → pier registry', () => {
  let a: TestDaemon;
  let b: TestDaemon;
  let reg: PierRegistry;
  before(async () => {
    [a, b, reg] = await Promise.all([startDaemon(), startDaemon(), startPierRegistry()]);
  });
  after(async () => {
    await Promise.all([a?.cleanup(), b?.cleanup(), reg?.stop()]);
  });

  it('docker push through one pierd, docker pull through another: same image', { skip: dockerCli() ? false : 'the docker CLI is not installed' }, async () => {
    const ref = `${reg.host}/chain/app:v1`;
    const rootfs = await tarOf([{ name: 'app.txt', content: 'through pierd into pier registry\n' }]);
    const imp = docker(a.host, ['import', '-', ref], rootfs);
    assert.equal(imp.code, 0, imp.stderr);
    const id = imp.stdout.trim();
    const push = docker(a.host, ['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /v1: digest: sha256:[a-f0-9]{64} size: \d+/);
    const pull = docker(b.host, ['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}`));
    assert.equal(docker(b.host, ['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), id);
  });

  it('pier push and pier pull against the same registry', async () => {
    const ref = `${reg.host}/chain/pier:v2`;
    const r = await api(a.sock, 'POST', `/images/create?fromSrc=-&repo=${reg.host}/chain/pier&tag=v2`, await tarOf([{ name: 'p.txt', content: 'pier' }]));
    const id = r.messages().at(-1).status as string;
    const pier = (d: TestDaemon, ...args: string[]) => spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host } });
    const push = pier(a, 'push', ref);
    assert.equal(push.status, 0, push.stderr.toString());
    const pull = pier(b, 'pull', '-q', ref);
    assert.equal(pull.status, 0, pull.stderr.toString());
    assert.equal(pull.stdout.toString().trim(), ref);
    assert.equal((await api(b.sock, 'GET', `/images/${ref}/json`)).json().Id, id);
  });
});
