/**
 * Streams into and out of containers: docker attach, docker run -i, docker
 * exec (-i -d -e -w -u --privileged), and `-it` in a real terminal (a private
 * tmux server), including detaching with ctrl-p ctrl-q and attaching again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, cli, containerSkip, demux, docker, dockerEnv, dockerStart, endAll, inspect, Tmux, waitFor, waitForEvents } from '../../harness/containers.js';

const skip = containerSkip({ docker: true, tmux: true });

describe('attach, exec and terminals', { skip }, () => {
  let d: TestDaemon;
  const { dk, ok } = cli(() => d.host);
  const fmt = (f: string, name: string) => ok('inspect', '-f', f, name).trim();
  const pidOf = (name: string) => Number(fmt('{{.State.Pid}}', name));
  const terminals: Tmux[] = [];
  const terminal = () => {
    const t = new Tmux(dockerEnv(d));
    terminals.push(t);
    return t;
  };

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
    ok('run', '-d', '--name', 'box', 'busybox', 'sh', '-c', 'mkdir -p /work && sleep 600');
  });
  after(async () => {
    for (const t of terminals) t.kill();
    await endAll();
    await d?.cleanup();
  });

  it('docker attach joins a running container\'s stdin, stdout and stderr', async () => {
    ok('run', '-d', '-i', '--name', 'reader', 'busybox', 'sh', '-c', 'echo ready; read line; echo got:$line; echo err:$line >&2; exit 4');
    await waitFor('ready', () => ok('logs', 'reader').includes('ready'));
    const r = docker(d.host, ['attach', 'reader'], { input: 'hello\n', timeoutMs: 15_000 });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'got:hello\n');
    assert.equal(r.stderr, 'err:hello\n');
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'reader'), 'exited 4');
  });

  it('docker run -i feeds stdin and closes it at EOF', () => {
    const r = docker(d.host, ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo eof-seen'], { input: 'line one\nline two\n', timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line one\nline two\neof-seen\n');
  });

  it('docker run (attached) gets all output of a short-lived container, also when many run at once', async () => {
    const runs = Array.from({ length: 12 }, (_, i) => dockerStart(d.host, ['run', '--rm', 'busybox', 'echo', `hello ${i}`]));
    const results = await Promise.all(runs.map((r) => r.done));
    const lost = results.map((r, i) => (r.stdout === `hello ${i}\n` ? undefined : i)).filter((i) => i !== undefined);
    assert.deepEqual(lost, [], `output lost for runs ${lost.join(', ')}`);
  });

  it('exec passes -e, -w and -u', () => {
    const r = dk('exec', '-e', 'GREETING=hi there', '-w', '/work', '-u', '1000:1000', 'box', 'sh', '-c', `echo "$GREETING"; pwd; id`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi there\n/work\nuid=1000 gid=1000\n');
  });

  it('docker exec exits with the process\'s exit code', () => {
    const codes = Array.from({ length: 8 }, () => dk('exec', 'box', 'sh', '-c', 'exit 7').code);
    assert.deepEqual(codes, Array(8).fill(7));
  });

  it('an exec\'s exit code is recorded by the time its stream ends', async () => {
    const seen: unknown[] = [];
    for (let i = 0; i < 8; i++) {
      const c = await api(d.sock, 'POST', '/containers/box/exec', { Cmd: ['sh', '-c', 'exit 7'], AttachStdout: true });
      const execId = c.json().Id;
      await api(d.sock, 'POST', `/exec/${execId}/start`, { Detach: false, Tty: false });
      const info = (await api(d.sock, 'GET', `/exec/${execId}/json`)).json();
      seen.push(`${info.Running}/${info.ExitCode}`);
    }
    assert.deepEqual(seen, Array(8).fill('false/7'));
  });

  it('exec --privileged gets every capability; a plain exec keeps the container\'s', () => {
    const capBnd = (out: string) => out.match(/^CapBnd:\s+(\S+)$/m)?.[1];
    const hostCaps = capBnd(readFileSync('/proc/self/status', 'utf8'));
    assert.equal(capBnd(ok('exec', 'box', 'sh', '-c', `cat /proc/self/status`)), '00000000a80425fb');
    assert.equal(capBnd(ok('exec', '--privileged', 'box', 'sh', '-c', `cat /proc/self/status`)), hostCaps);
  });

  it('exec -d runs in the background', async () => {
    const t0 = Date.now();
    ok('exec', '-d', 'box', 'sh', '-c', 'sleep 0.5; echo detached > /tmp/bg');
    assert.ok(Date.now() - t0 < 450, 'exec -d did not wait for the process');
    const file = `/proc/${pidOf('box')}/root/tmp/bg`;
    await waitFor('the background exec to write', () => existsSync(file) && readFileSync(file, 'utf8') === 'detached\n', 5000);
  });

  it('exec -i pipes stdin through', () => {
    const r = docker(d.host, ['exec', '-i', 'box', 'sh', '-c', `cat; echo done`], { input: 'piped data\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /piped data\ndone\n$/);
  });

  it('exec -i: the process\'s stdin is exactly what the client sent', () => {
    const r = docker(d.host, ['exec', '-i', 'box', 'sh', '-c', `cat`], { input: 'only this\n' });
    assert.equal(r.stdout, 'only this\n');
  });

  it('exec gets all output of a process that exits at once, also when many run at once', async () => {
    const runs = Array.from({ length: 12 }, (_, i) => dockerStart(d.host, ['exec', 'box', 'echo', `out ${i}`]));
    const results = await Promise.all(runs.map((r) => r.done));
    const lost = results.map((r, i) => (r.stdout === `out ${i}\n` ? undefined : i)).filter((i) => i !== undefined);
    assert.deepEqual(lost, [], `output lost for execs ${lost.join(', ')}`);
  });

  it('exec over the API: multiplexed output, inspect and events', async () => {
    const id = fmt('{{.Id}}', 'box');
    const c = await api(d.sock, 'POST', '/containers/box/exec', { Cmd: ['sh', '-c', `echo out; echo err >&2; exit 3`], AttachStdout: true, AttachStderr: true });
    assert.equal(c.status, 201);
    const execId = c.json().Id;
    // Without an Upgrade header the connection is taken over after a 200 header.
    const r = await api(d.sock, 'POST', `/exec/${execId}/start`, { Detach: false, Tty: false });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    assert.deepEqual(demux(r.body), [{ stream: 1, data: 'out\n' }, { stream: 2, data: 'err\n' }]);
    const info = (await api(d.sock, 'GET', `/exec/${execId}/json`)).json();
    assert.equal(info.ExitCode, 3);
    assert.equal(info.Running, false);
    assert.equal(info.ContainerID, id);
    assert.deepEqual(info.ProcessConfig.arguments, ['-c', `echo out; echo err >&2; exit 3`]);
    assert.ok((await inspect(d, 'box')).ExecIDs.includes(execId));
    // Starting it again: Docker's 409 when detached; attached, the error is in the (already 200) stream.
    const again = await api(d.sock, 'POST', `/exec/${execId}/start`, { Detach: true });
    assert.equal(again.status, 409);
    assert.match(again.json().message, /has already run/);
    const attached = await api(d.sock, 'POST', `/exec/${execId}/start`, { Detach: false });
    assert.match(demux(attached.body).map((f) => f.data).join(''), /has already run/);
    await waitForEvents(d, id, ['exec_create', 'exec_start', 'exec_die']);
  });

  it('docker run -it: a shell in a terminal, detach with ctrl-p ctrl-q, attach again', async () => {
    const t = terminal();
    t.open('docker run -it --name tty1 busybox sh');
    await t.waitFor(/^\/ #\s*$/m);
    t.type('echo $((6*7)); tty; stty size');
    t.send(['Enter']);
    await t.waitFor(/^42\n\/dev\/pts\/0\n30 100$/m);
    assert.equal(fmt('{{.Config.Tty}} {{.Config.OpenStdin}}', 'tty1'), 'true true');
    t.send(['C-p', 'C-q']);
    await t.waitFor(/EXIT=0/);
    assert.equal(fmt('{{.State.Status}}', 'tty1'), 'running', 'detaching leaves the container running');

    const t2 = terminal();
    t2.open('docker attach tty1');
    t2.send(['Enter']);
    await t2.waitFor(/^\/ #\s*$/m);
    t2.type('echo back-$((1+1))');
    t2.send(['Enter']);
    await t2.waitFor(/^back-2$/m);
    t2.type('exit 5');
    t2.send(['Enter']);
    await t2.waitFor(/EXIT=5/);
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'tty1'), 'exited 5');
  });

  it('docker exec -it: a second shell in the running container\'s terminal', async () => {
    ok('exec', 'box', 'sh', '-c', `echo marker > /tmp/seen-by-exec`);
    const t = terminal();
    t.open('docker exec -it box sh');
    await t.waitFor(/^\/ #\s*$/m);
    await t.settle();
    t.type('cat /tmp/seen-by-exec; tty; stty size');
    t.send(['Enter']);
    await t.waitFor(/^marker\n\/dev\/pts\/\d+\n30 100$/m);
    t.type('exit 3');
    t.send(['Enter']);
    await t.waitFor(/EXIT=3/);
    assert.equal(fmt('{{.State.Status}}', 'box'), 'running', 'the container goes on');
  });

  it('an exec with a tty gets TERM=xterm, as Docker sets it', async () => {
    const c = await api(d.sock, 'POST', '/containers/box/exec', { Cmd: ['sh', '-c', `echo "term=$TERM"`], AttachStdout: true, Tty: true });
    const r = await api(d.sock, 'POST', `/exec/${c.json().Id}/start`, { Detach: false, Tty: true });
    assert.equal(r.text().replace(/\r/g, ''), 'term=xterm\n');
  });

  it('docker exec -it: nothing but what the user typed reaches the shell', async () => {
    const t = terminal();
    t.open('docker exec -it box sh');
    await t.waitFor(/^\/ #\s*$/m);
    await t.settle();
    t.type('echo clean');
    t.send(['Enter']);
    await t.waitFor(/^clean$/m);
    assert.doesNotMatch(t.screen(), /Detach|not found/);
  });

  it('docker exec -it detaches with ctrl-p ctrl-q and the process goes on', async () => {
    const t = terminal();
    t.open('docker exec -it box sh -c "echo in-exec; while true; do sleep 0.1; done"');
    await t.waitFor(/^in-exec$/m);
    t.send(['C-p', 'C-q']);
    // As with Docker: the CLI reports the escape and exits 1.
    await t.waitFor(/read escape sequence\s+EXIT=1/);
    // The shell loop still runs in the container.
    const top = ok('top', 'box');
    assert.match(top, /while true; do sleep 0\.1; done/);
  });
});
