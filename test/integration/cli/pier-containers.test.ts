/** The pier CLI (bin/pier) against a real pierd: the container commands, end to end. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startDaemon, PIER, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, sleep, Tmux, waitFor } from '../../harness/containers.js';

describe('pier CLI: containers against pierd', { skip: containerSkip() }, () => {
  let d: TestDaemon;
  let tmp: string;
  const pier = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host }, input, maxBuffer: 1 << 26, timeout: 30_000 });
    return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const ok = (...args: string[]) => {
    const r = pier(args);
    assert.equal(r.code, 0, `pier ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
    tmp = mkdtempSync(join(tmpdir(), 'pier-cli-ct-'));
  });
  after(async () => {
    await d?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('run --rm prints the output and exits with the container code; stdin with -i', () => {
    assert.equal(ok('run', '--rm', 'busybox', 'echo', 'hello'), 'hello\n');
    const r = pier(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n']);
    assert.equal(pier(['run', '--rm', '-i', 'busybox', 'tr', 'a-z', 'A-Z'], 'shout\n').stdout, 'SHOUT\n');
    assert.equal(ok('ps', '-aq'), '', '--rm removed them');
  });

  it('a missing executable exits 127 with docker\'s message; -d prints the full ID', () => {
    const r = pier(['run', '--rm', 'busybox', 'nonexistent-cmd']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /executable file not found in \$PATH/);
    const id = ok('run', '-d', '--name', 'svc', '-e', 'GREETING=hi', '-l', 'tier=web', 'busybox', 'sh', '-c', 'echo started; echo $GREETING; sleep 300').trim();
    assert.match(id, /^[a-f0-9]{64}$/);
  });

  it('ps, logs, exec, top, inspect and stats see the running container', async () => {
    assert.match(ok('ps', '--filter', 'label=tier=web', '--format', '{{.Names}} {{.Status}}'), /^svc Up /);
    await waitFor('logs', () => ok('logs', 'svc') === 'started\nhi\n');
    assert.equal(ok('logs', '--tail', '1', 'svc'), 'hi\n');
    const ex = pier(['exec', '-e', 'X=1', '-w', '/tmp', 'svc', 'sh', '-c', 'echo $X $(pwd); exit 4']);
    assert.deepEqual([ex.code, ex.stdout], [4, '1 /tmp\n']);
    assert.match(ok('top', 'svc'), /sleep 300/);
    assert.equal(ok('inspect', '-f', '{{.State.Status}} {{.Config.Labels.tier}}', 'svc'), 'running web\n');
    const stats = ok('stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'svc');
    assert.match(stats, /^svc [1-9]\d*\n$/);
  });

  it('cp both ways, diff, commit and a container from the commit', () => {
    writeFileSync(join(tmp, 'note.txt'), 'from the host\n');
    ok('cp', join(tmp, 'note.txt'), 'svc:/tmp/note.txt');
    assert.equal(ok('exec', 'svc', 'cat', '/tmp/note.txt'), 'from the host\n');
    ok('exec', 'svc', 'sh', '-c', 'echo from the container > /root.txt');
    ok('cp', 'svc:/root.txt', join(tmp, 'back.txt'));
    assert.equal(readFileSync(join(tmp, 'back.txt'), 'utf8'), 'from the container\n');
    const diff = ok('diff', 'svc');
    assert.match(diff, /^A \/root\.txt$/m);
    assert.match(diff, /^A \/tmp\/note\.txt$/m);
    assert.doesNotMatch(diff, /etc\/hosts/, 'mount points are not changes');
    ok('commit', '-m', 'snap', '-c', 'CMD ["cat", "/root.txt"]', 'svc', 'snap:1');
    assert.equal(ok('run', '--rm', 'snap:1'), 'from the container\n');
  });

  it('pause, unpause, rename, update, restart, stop, wait, kill, rm', () => {
    ok('pause', 'svc');
    assert.match(ok('ps', '--format', '{{.Status}}', '-f', 'name=svc'), /\(Paused\)/);
    assert.equal(pier(['exec', 'svc', 'true']).code, 1, 'no exec in a paused container');
    ok('unpause', 'svc');
    ok('rename', 'svc', 'svc2');
    ok('update', '--memory', '64m', '--memory-swap', '128m', 'svc2');
    assert.equal(ok('inspect', '-f', '{{.HostConfig.Memory}}', 'svc2'), `${64 << 20}\n`);
    ok('restart', '-t', '1', 'svc2');
    assert.equal(ok('inspect', '-f', '{{.State.Running}}', 'svc2'), 'true\n');
    ok('stop', '-t', '1', 'svc2');
    assert.equal(ok('wait', 'svc2'), '137\n', 'sh as pid 1 ignores SIGTERM: killed after the timeout');
    const k = pier(['kill', 'svc2']);
    assert.equal(k.code, 1);
    assert.match(k.stderr, /is not running/);
    ok('rm', 'svc2');
    assert.equal(pier(['inspect', 'svc2']).code, 1);
  });

  it('create, start -a, export, container prune', () => {
    ok('create', '--name', 'later', 'busybox', 'sh', '-c', 'echo attached-start');
    assert.equal(ok('start', '-a', 'later'), 'attached-start\n');
    const tar = join(tmp, 'later.tar');
    ok('export', '-o', tar, 'later');
    const list = spawnSync('tar', ['tf', tar]).stdout.toString();
    assert.match(list, /^bin\/busybox$/m);
    const pruned = ok('container', 'prune', '-f');
    assert.match(pruned, /Total reclaimed space/);
    assert.equal(ok('ps', '-aq'), '');
  });

  it('run -it works in a real terminal (tmux), and detach keys leave it running', { skip: spawnSync('tmux', ['-V']).status === 0 ? false : 'tmux is not installed' }, async () => {
    const t = new Tmux({ PIER_HOST: d.host });
    try {
      t.open(`${process.execPath} ${PIER} run -it --name tty busybox sh`);
      await t.waitFor(/\/ #/);
      t.type('stty size; tty');
      t.send(['Enter']);
      // Both answers, whichever the terminal shows first (the screen may be read between the two lines).
      await t.waitFor(/30 100\s+\/dev\/pts\/\d+/);
      // One key press at a time, as a terminal delivers them (docker's escape proxy looks at single-byte reads).
      t.send(['C-p']);
      await sleep(150);
      t.send(['C-q']);
      await t.waitFor(/EXIT=0/);
      assert.equal(ok('inspect', '-f', '{{.State.Running}}', 'tty'), 'true\n', 'detached, still running');
    } finally {
      t.kill();
      pier(['rm', '-f', 'tty']);
    }
  });
});
