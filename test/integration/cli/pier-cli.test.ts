/** The pier CLI (bin/pier) against a real pierd: every command of the engine-foundation issue. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, PIER, type TestDaemon } from '../../harness/daemon.js';
import { tarOf } from '../../harness/tars.js';

const skip = existsSync('/bin/busybox') ? false : 'busybox-static is not installed';

describe('pier CLI against pierd', { skip }, () => {
  let d: TestDaemon;
  const pier = (args: string[], o: { input?: Buffer; env?: Record<string, string> } = {}) => {
    const r = spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host, ...o.env }, input: o.input, maxBuffer: 1 << 28 });
    return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const ok = (...args: string[]) => {
    const r = pier(args);
    assert.equal(r.code, 0, `pier ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.cleanup();
  });

  it('pier image busybox makes a base image that is deterministic', () => {
    const id = ok('image', 'busybox').trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    const layers = ok('image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'busybox');
    ok('image', 'busybox', '--tag', 'busybox:again');
    assert.equal(ok('image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'busybox:again'), layers, 'same layer digest twice');
    assert.deepEqual(JSON.parse(ok('image', 'inspect', '-f', '{{json .Config.Cmd}}', 'busybox')), ['sh']);
  });

  it('version, info and system df show the daemon', () => {
    assert.match(ok('version'), /Server: Pier Engine[\s\S]*API version:\s+1\.50 \(minimum version 1\.24\)/);
    const info = ok('info');
    assert.match(info, /Storage Driver: overlay2/);
    assert.match(info, /Images: [1-9]/);
    assert.match(ok('system', 'df'), /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+[1-9]/m);
  });

  it('images, --format, -q, history, tag and rmi', () => {
    const id = ok('images', '-q', '--no-trunc', 'busybox:latest').trim();
    assert.match(id, /^sha256:/);
    assert.match(ok('images'), /^busybox\s+latest\s+[a-f0-9]{12}\s/m);
    assert.equal(ok('images', '--format', '{{.Repository}}:{{.Tag}}', 'busybox:latest').trim(), 'busybox:latest');
    assert.equal(JSON.parse(ok('images', '--format', '{{json .}}', 'busybox:latest').trim()).Repository, 'busybox');
    assert.match(ok('history', 'busybox'), /Imported from -/);
    ok('tag', 'busybox', 'mine/bb:1');
    assert.equal(ok('inspect', '-f', '{{.Id}}', 'mine/bb:1').trim(), id);
    assert.equal(ok('rmi', 'mine/bb:1').trim(), 'Untagged: mine/bb:1');
    const r = pier(['rmi', 'mine/bb:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: No such image: mine\/bb:1/);
  });

  it('save -o and load -i round-trip, and save to stdout', () => {
    const file = join(d.root, 'bb.tar');
    ok('save', '-o', file, 'busybox:latest');
    assert.ok(statSync(file).size > 1_000_000);
    const out = spawnSync(process.execPath, [PIER, 'save', 'busybox:latest'], { env: { ...process.env, PIER_HOST: d.host }, maxBuffer: 1 << 28 });
    assert.equal(out.status, 0);
    assert.equal(out.stdout.length, statSync(file).size);
    ok('tag', 'busybox', 'keep/bb:1');
    ok('rmi', 'busybox:latest', 'busybox:again');
    assert.match(ok('load', '-i', file), /Loaded image: busybox:latest/);
    assert.match(pier(['load'], { input: out.stdout }).stdout, /Loaded image: busybox:latest/);
  });

  it('import with changes and a message, from a file and from stdin', async () => {
    const rootfs = await tarOf([{ name: 'hello.txt', content: 'hi' }]);
    const file = join(d.root, 'rootfs.tar');
    writeFileSync(file, rootfs);
    const id = ok('import', '-c', 'ENV GREETING=hi', '-m', 'from the test', file, 'imp/file:1').trim();
    assert.match(ok('inspect', '-f', '{{.Id}} {{json .Config.Env}} {{.Comment}}', 'imp/file:1').trim(), new RegExp(`^${id} \\["GREETING=hi"\\] from the test$`));
    const r = pier(['import', '-', 'imp/stdin:1'], { input: rootfs });
    assert.equal(r.code, 0, r.stderr);
    assert.match(ok('images', 'imp/stdin'), /imp\/stdin\s+1\s/);
  });

  it('image prune removes dangling images only', async () => {
    const rootfs = join(d.root, 'p.tar');
    writeFileSync(rootfs, await tarOf([{ name: 'p', content: 'p' }]));
    ok('import', '-c', 'LABEL x=1', rootfs, 'prune/me:1');
    ok('import', '-c', 'LABEL x=2', rootfs, 'prune/me:1');
    const out = ok('image', 'prune', '-f');
    assert.match(out, /deleted: sha256:[a-f0-9]{64}/);
    assert.match(out, /Total reclaimed space: /);
    assert.match(ok('images', 'prune/me'), /prune\/me\s+1\s/);
    assert.equal(ok('images', '-q', '-f', 'dangling=true').trim(), '');
  });

  it('events replays a window with filters and formats', () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    ok('tag', 'keep/bb:1', 'evt/bb:1');
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const out = ok('events', '--since', since, '--until', until, '-f', 'event=tag', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}');
    assert.match(out, /^image tag evt\/bb:1$/m);
  });

  it('reports an unreachable daemon and unknown commands like docker', () => {
    const r = spawnSync(process.execPath, [PIER, 'images'], { env: { ...process.env, PIER_HOST: 'unix:///nonexistent/pier.sock' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr.toString(), /Cannot connect to the Pier daemon at unix:\/\/\/nonexistent\/pier.sock\. Is the pier daemon running\?/);
    const u = pier(['frobnicate']);
    assert.notEqual(u.code, 0);
    assert.match(u.stderr, /'frobnicate' is not a pier command/);
  });
});
