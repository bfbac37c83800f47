/**
 * The real docker CLI (28.x) against pierd, unchanged: every command of the
 * engine-foundation issue. Skipped (and reported so) when docker is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { docker, dockerCli } from '../../harness/dockerd.js';
import { tarOf } from '../../harness/tars.js';

const skip = dockerCli() ? false : 'the docker CLI is not installed';

describe('real docker CLI against pierd', { skip }, () => {
  let d: TestDaemon;
  let rootfsTar: string;
  const dk = (...args: string[]) => docker(d.host, args);
  const ok = (...args: string[]) => {
    const r = dk(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await startDaemon();
    rootfsTar = join(d.root, 'rootfs.tar');
    writeFileSync(rootfsTar, await tarOf([{ name: 'bin/', type: 'directory' }, { name: 'bin/tool', content: 'tool', mode: 0o755 }]));
  });
  after(async () => {
    await d?.cleanup();
  });

  it('docker version shows the server and API versions', () => {
    const out = ok('version');
    assert.match(out, /Server: Pier Engine/);
    assert.match(out, /API version:\s+1\.50 \(minimum version 1\.24\)/);
  });

  it('docker info shows real figures', () => {
    const out = ok('info');
    assert.match(out, /Storage Driver: overlay2/);
    assert.match(out, new RegExp(`Docker Root Dir: ${d.dataRoot}`));
    assert.match(out, /Cgroup Version: [12]/);
    assert.match(out, /Default Runtime: runc/);
  });

  it('docker import, images, image inspect, history, tag, rmi', () => {
    const id = ok('import', '-c', 'CMD ["/bin/tool"]', '-m', 'made by a test', rootfsTar, 'pier-cli/one:v1').trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    const images = ok('images');
    assert.match(images, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m);
    assert.match(images, new RegExp(`^pier-cli/one\\s+v1\\s+${id.slice(7, 19)}\\s`, 'm'));
    assert.equal(ok('image', 'inspect', '-f', '{{.Id}} {{json .Config.Cmd}}', 'pier-cli/one:v1').trim(), `${id} ["/bin/tool"]`);
    assert.match(ok('history', 'pier-cli/one:v1'), /made by a test/);
    ok('tag', 'pier-cli/one:v1', 'pier-cli/two:latest');
    assert.equal(ok('images', '-q', 'pier-cli/two').trim(), id.slice(7, 19));
    assert.equal(ok('rmi', 'pier-cli/two').trim(), 'Untagged: pier-cli/two:latest');
    const missing = dk('image', 'inspect', 'pier-cli/two');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image: pier-cli\/two/);
  });

  it('docker save and load round-trip', () => {
    const id = ok('import', rootfsTar, 'pier-cli/saved:1').trim();
    const file = join(d.root, 'saved.tar');
    ok('save', '-o', file, 'pier-cli/saved:1');
    assert.ok(existsSync(file) && statSync(file).size > 0);
    assert.match(ok('rmi', 'pier-cli/saved:1'), new RegExp(`Deleted: ${id}`));
    assert.match(ok('load', '-i', file), /Loaded image: pier-cli\/saved:1/);
    assert.equal(ok('image', 'inspect', '-f', '{{.Id}}', 'pier-cli/saved:1').trim(), id);
  });

  it('docker image prune and system df', () => {
    ok('import', '-c', 'LABEL v=1', rootfsTar, 'pier-cli/dangle:1');
    ok('import', '-c', 'LABEL v=2', rootfsTar, 'pier-cli/dangle:1');
    assert.match(ok('images', '-f', 'dangling=true'), /<none>\s+<none>/);
    assert.match(ok('image', 'prune', '-f'), /Deleted Images:\ndeleted: sha256:[a-f0-9]{64}[\s\S]*Total reclaimed space:/);
    assert.doesNotMatch(ok('images', '-f', 'dangling=true'), /<none>/);
    assert.match(ok('system', 'df'), /^Images\s+\d+\s+\d+\s+\S+/m);
  });

  it('docker events replays a time window', () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    ok('tag', 'pier-cli/one:v1', 'pier-cli/evt:x');
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const out = ok('events', '--since', since, '--until', until, '--filter', 'type=image');
    assert.match(out, /image tag sha256:[a-f0-9]{64} \(name=pier-cli\/evt:x\)/);
  });

  it('errors look like Docker\'s: exit 1 and "Error response from daemon"', () => {
    const r = dk('rmi', 'no-such-image-anywhere');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: No such image: no-such-image-anywhere/);
  });
});
