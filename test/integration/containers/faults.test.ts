/**
 * Things going wrong, each on its own: commands that cannot run, operations in
 * the wrong state, bad names, cp escaping through `..` and symlinks, a memory
 * hog, a fork bomb and a runtime that fails. The daemon must answer after
 * each, and leave no mount, cgroup or runtime state behind.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { tarOf } from '../../harness/tars.js';
import { busyboxImage, cgroupDir, cli, containerSkip, create, docker, endAll, inspect, mountsUnder, pastEvents, readText, waitFor } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });

describe('container faults', { skip }, () => {
  let d: TestDaemon;
  let sentinel: string;
  const { dk, ok } = cli(() => d.host);
  const fmt = (f: string, name: string) => ok('inspect', '-f', f, name).trim();
  const pidOf = (name: string) => Number(fmt('{{.State.Pid}}', name));
  const ping = async () => assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200, 'the daemon answers');
  const post = (path: string, body?: unknown) => api(d.sock, 'POST', path, body);

  before(async () => {
    d = await startDaemon({ config: { runtimes: { broken: { path: '/bin/false' } } } });
    busyboxImage(d);
    // A host directory the containers name in their symlinks; nothing may ever be written to it.
    sentinel = mkdtempSync('/tmp/pier-sentinel-');
    writeFileSync(join(sentinel, 'secret'), 'host secret\n');
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
    if (sentinel) rmSync(sentinel, { recursive: true, force: true });
  });

  it('a missing executable: docker run exits 127', () => {
    const r = dk('run', '--name', 'nocmd', 'busybox', 'no-such-command');
    assert.equal(r.code, 127);
    assert.match(r.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'nocmd'), 'created 127');
    assert.match(fmt('{{.State.Error}}', 'nocmd'), /executable file not found/);
  });

  it('a missing executable with --rm: exits 127 and the container is removed', () => {
    const r = docker(d.host, ['run', '--rm', '--name', 'nocmd-rm', 'busybox', 'no-such-command'], { timeoutMs: 8000 });
    assert.equal(r.code, 127, r.stderr);
    assert.equal(dk('inspect', 'nocmd-rm').code, 1, 'removed');
  });

  it('a file that is not executable: docker run exits 126', () => {
    const r = dk('run', 'busybox', '/etc/passwd');
    assert.equal(r.code, 126);
    assert.match(r.stderr, /exec: "\/etc\/passwd": permission denied/);
  });

  it('stop of a stopped container: 304 from the API, exit 0 from the CLI', async () => {
    const id = await create(d, { Image: 'busybox', Cmd: ['true'] }, 'stopped-one');
    assert.equal((await post(`/containers/${id}/stop`)).status, 304);
    ok('start', 'stopped-one');
    ok('wait', 'stopped-one');
    assert.equal((await post(`/containers/${id}/stop?t=1`)).status, 304);
    assert.equal(ok('stop', 'stopped-one').trim(), 'stopped-one');
  });

  it('kill of a stopped container: 409', async () => {
    const id = await create(d, { Image: 'busybox', Cmd: ['true'] }, 'kill-stopped');
    const r = await post(`/containers/${id}/kill`);
    assert.equal(r.status, 409);
    assert.match(r.json().message, new RegExp(`Container ${id} is not running`));
    const cliKill = dk('kill', 'kill-stopped');
    assert.equal(cliKill.code, 1);
    assert.match(cliKill.stderr, /is not running/);
  });

  it('exec in a stopped container: 409', async () => {
    const id = await create(d, { Image: 'busybox', Cmd: ['true'] }, 'exec-stopped');
    const r = await post(`/containers/${id}/exec`, { Cmd: ['true'], AttachStdout: true });
    assert.equal(r.status, 409);
    assert.match(r.json().message, /is not running/);
    const cliExec = dk('exec', 'exec-stopped', 'true');
    assert.equal(cliExec.code, 1);
  });

  it('start of a running container: 304; pause/unpause in the wrong state: 409; rm of a running one: 409', async () => {
    const id = ok('run', '-d', '--name', 'running-one', 'busybox', 'sleep', '60').trim();
    assert.equal((await post(`/containers/${id}/start`)).status, 304);
    assert.equal(ok('start', 'running-one').trim(), 'running-one');
    assert.equal((await post(`/containers/${id}/unpause`)).status, 409);
    assert.equal((await post(`/containers/${id}/pause`)).status, 204);
    assert.equal((await post(`/containers/${id}/pause`)).status, 409);
    assert.equal((await post(`/containers/${id}/start`)).status, 409, 'a paused container cannot be started');
    assert.equal((await post(`/containers/${id}/unpause`)).status, 204);
    const rm = await api(d.sock, 'DELETE', `/containers/${id}`);
    assert.equal(rm.status, 409);
    assert.match(rm.json().message, /container is running: stop the container before removing or force remove/);
    assert.equal((await api(d.sock, 'DELETE', `/containers/${id}?force=1`)).status, 204);
    assert.equal((await api(d.sock, 'GET', `/containers/${id}/json`)).status, 404);
  });

  it('a container that does not exist: 404 everywhere', async () => {
    for (const [method, path] of [['GET', '/containers/nope/json'], ['POST', '/containers/nope/start'], ['POST', '/containers/nope/stop'], ['POST', '/containers/nope/kill'], ['DELETE', '/containers/nope'], ['GET', '/containers/nope/logs?stdout=1']] as const) {
      const r = await api(d.sock, method, path);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.json().message, /No such container: nope/);
    }
  });

  it('logs of a container run with --log-driver none: Docker\'s 501 "does not support reading"', async () => {
    ok('run', '-d', '--name', 'nolog', '--log-driver', 'none', 'busybox', 'echo', 'unlogged');
    ok('wait', 'nolog');
    const r = await api(d.sock, 'GET', '/containers/nolog/logs?stdout=1');
    assert.equal(r.status, 501);
    assert.match(r.json().message, /configured logging driver does not support reading/);
    const c = dk('logs', 'nolog');
    assert.equal(c.code, 1);
    assert.match(c.stderr, /configured logging driver does not support reading/);
  });

  it('invalid names: 400; taken names: 409 (create and rename)', async () => {
    for (const name of ['bad name', 'a', '-leading-dash', 'slash/inside', 'ünicode']) {
      const r = await post(`/containers/create?name=${encodeURIComponent(name)}`, { Image: 'busybox', Cmd: ['true'] });
      assert.equal(r.status, 400, name);
      assert.match(r.json().message, /Invalid container name/);
    }
    const first = await create(d, { Image: 'busybox', Cmd: ['true'] }, 'taken');
    const dup = await post('/containers/create?name=taken', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(dup.status, 409);
    assert.match(dup.json().message, new RegExp(`The container name "/taken" is already in use by container "${first}"`));
    await create(d, { Image: 'busybox', Cmd: ['true'] }, 'other');
    assert.equal((await post('/containers/other/rename?name=taken')).status, 409);
    assert.equal((await post('/containers/other/rename?name=bad%20name')).status, 400);
    const cliDup = dk('create', '--name', 'taken', 'busybox');
    assert.equal(cliDup.code, 1);
    assert.match(cliDup.stderr, /Conflict/);
  });

  describe('cp stays inside the container', () => {
    let pid: number;
    const payload = () => {
      const p = join(d.root, 'payload.txt');
      writeFileSync(p, 'payload\n');
      return p;
    };
    /** Host's sentinel dir untouched: only the secret. */
    const untouched = () => assert.deepEqual(readdirSync(sentinel), ['secret'], 'nothing landed in the host directory');
    const insideFile = (path: string) => readFileSync(`/proc/${pid}/root${path}`, 'utf8');

    before(async () => {
      // Inside: a directory with the sentinel's path (so the links resolve within the rootfs), absolute and
      // relative links to it, and a link to /.
      ok('run', '-d', '--name', 'jail', 'busybox', 'sh', '-c',
        `mkdir -p ${sentinel} /d && echo 'inside secret' > ${sentinel}/secret && ln -s ${sentinel} /evil && ln -s ../../../../../..${sentinel} /d/rel && ln -s / /rootlink && ` +
        'echo ready && sleep 600');
      await waitFor('the jail to be set up', () => ok('logs', 'jail').includes('ready'));
      pid = pidOf('jail');
    });

    it('into a symlink that names a host directory', () => {
      ok('cp', payload(), 'jail:/evil/escaped.txt');
      untouched();
      assert.equal(insideFile(`${sentinel}/escaped.txt`), 'payload\n');
    });

    it('into a relative symlink climbing out with ..', () => {
      ok('cp', payload(), 'jail:/d/rel/relative.txt');
      untouched();
      assert.equal(insideFile(`${sentinel}/relative.txt`), 'payload\n');
    });

    it('into /etc of a stopped container whose /etc is a symlink to a host directory', async () => {
      // An image whose /etc is that link (a running container cannot lose its /etc: hosts and resolv.conf are mounted there).
      const rootfs = join(d.root, 'etc-link.tar');
      writeFileSync(rootfs, await tarOf([
        { name: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
        { name: `${sentinel.slice(1)}/`, type: 'directory' },
        { name: 'etc', type: 'symlink', linkname: sentinel },
      ]));
      ok('import', rootfs, 'pier-test/etc-link:1');
      ok('create', '--name', 'etcjail', 'pier-test/etc-link:1', '/bin/busybox', 'true');
      ok('cp', payload(), 'etcjail:/etc/injected');
      untouched();
      const file = join(d.root, 'export.tar');
      ok('export', '-o', file, 'etcjail');
      const list = spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.split('\n');
      assert.ok(list.includes(`${sentinel.slice(1)}/injected`), `the file is in the container's rootfs: ${list.join(', ')}`);
      ok('cp', 'etcjail:/etc/injected', join(d.root, 'back.txt'));
      assert.equal(readFileSync(join(d.root, 'back.txt'), 'utf8'), 'payload\n');
    });

    it('into a path with .. beyond the root', () => {
      ok('cp', payload(), `jail:/d/../../../../..${sentinel}/dotdot.txt`);
      untouched();
      assert.equal(insideFile(`${sentinel}/dotdot.txt`), 'payload\n');
    });

    it('out of the container through the same links reads the container\'s file, not the host\'s', () => {
      for (const src of ['/evil/secret', '/d/rel/secret', `/../../..${sentinel}/secret`, `/rootlink/..${sentinel}/secret`]) {
        const out = join(d.root, 'out.txt');
        rmSync(out, { force: true });
        ok('cp', `jail:${src}`, out);
        assert.equal(readFileSync(out, 'utf8'), 'inside secret\n', src);
      }
    });

    it('a tar with ../ entries and a symlink entry, PUT over the API', async () => {
      const tar = await tarOf([
        { name: `../../../../..${sentinel}/tarslip.txt`, content: 'slip\n' },
        { name: 'hop', type: 'symlink', linkname: sentinel },
        { name: 'hop/via-link.txt', content: 'via link\n' },
      ]);
      const r = await api(d.sock, 'PUT', '/containers/jail/archive?path=/d', tar, { 'Content-Type': 'application/x-tar' });
      untouched();
      assert.ok(r.status === 200 || r.status === 400, `status ${r.status}: ${r.text()}`);
      if (r.status === 200) {
        assert.equal(insideFile(`${sentinel}/tarslip.txt`), 'slip\n', '.. is clamped at the container\'s root');
        assert.equal(insideFile(`${sentinel}/via-link.txt`), 'via link\n', 'the link resolves inside');
      }
      await ping();
    });

    it('into a directory that does not exist: Docker\'s 404 "Could not find the file"', async () => {
      const tar = await tarOf([{ name: 'x.txt', content: 'x\n' }]);
      const r = await api(d.sock, 'PUT', '/containers/jail/archive?path=/no/such/dir', tar, { 'Content-Type': 'application/x-tar' }).catch((e: Error) => e);
      assert.ok(!(r instanceof Error), `the request failed: ${(r as Error).message}`);
      assert.equal(r.status, 404);
      assert.match(r.json().message, /Could not find the file \/no\/such\/dir in container jail/);
      const c = dk('cp', payload(), 'jail:/no/such/dir/x.txt');
      assert.equal(c.code, 1);
      assert.match(c.stderr, /Could not find the file \/no\/such\/dir in container jail/);
    });
  });

  it('a memory hog under -m 20m is OOM-killed: OOMKilled, exit 137, an oom event, the daemon fine', async () => {
    const r = dk('run', '--name', 'hog', '-m', '20m', '--memory-swap', '20m', 'busybox', 'sh', '-c', 'x=0123456789; while true; do x=$x$x; done');
    assert.equal(r.code, 137, r.stderr);
    const c = await inspect(d, 'hog');
    assert.equal(c.State.OOMKilled, true);
    assert.equal(c.State.ExitCode, 137);
    assert.equal(c.State.Status, 'exited');
    const actions = (await pastEvents(d, { container: [c.Id] })).map((e) => e.Action);
    assert.ok(actions.includes('oom'), `events: ${actions.join(', ')}`);
    assert.ok(actions.indexOf('oom') < actions.lastIndexOf('die'), 'oom comes before die');
    await ping();
    // A clean run of the same container clears OOMKilled.
    ok('start', 'hog');
    assert.ok(['137', '0'].includes(ok('wait', 'hog').trim()));
  });

  it('a fork bomb under --pids-limit 20 is held, the daemon answers, and the container can be removed', async () => {
    // The bomb goes off in a subshell, forked before anything else: ash exits when one of its own forks
    // fails, and pid 1 forking the two sides of `f | f` itself lost that race now and then. Then
    // `exec sleep` (no fork) keeps the container running while the bomb holds every pid.
    const id = ok('run', '-d', '--name', 'bomb', '--pids-limit', '20', 'busybox', 'sh', '-c', '(f() { f | f & }; f) & exec sleep 60').trim();
    const dir = cgroupDir('pids', id);
    assert.equal(readText(join(dir, 'pids.max')).trim(), '20');
    let peak = 0;
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      peak = Math.max(peak, Number(readText(join(dir, 'pids.current'))));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(peak <= 20, `pids.current reached ${peak}`);
    assert.ok(peak >= 15, `the bomb ran (peak ${peak})`);
    if (existsSync(join(dir, 'pids.events'))) assert.match(readText(join(dir, 'pids.events')), /^max [1-9]\d*$/m, 'forks were refused');
    await ping();
    assert.equal(ok('ps', '-q', '--filter', 'name=bomb').trim(), id.slice(0, 12));
    const t0 = Date.now();
    ok('rm', '-f', 'bomb');
    assert.ok(Date.now() - t0 < 15_000);
    await waitFor('the cgroup to go', () => !existsSync(dir));
    assert.equal(dk('inspect', 'bomb').code, 1);
  });

  it('a runtime that fails (daemon.json runtimes → /bin/false): a clear error, nothing left behind', async () => {
    const r = dk('run', '--name', 'broken-rt', '--runtime', 'broken', 'busybox', 'true');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: .*OCI runtime create failed/);
    const c = await inspect(d, 'broken-rt');
    assert.equal(c.HostConfig.Runtime, 'broken');
    assert.equal(c.State.Running, false);
    assert.ok(c.State.Error.length > 0, 'the error is recorded');
    assert.deepEqual(mountsUnder(join(d.root, 'exec', 'containers', c.Id)), [], 'no rootfs mount left');
    assert.ok(!existsSync(cgroupDir('memory', c.Id)), 'no cgroup left');
    await ping();
    const unknown = dk('run', '--runtime', 'no-such-runtime', 'busybox', 'true');
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /unknown or invalid runtime name: no-such-runtime/);
  });

  it('runc refusing the config (an unknown sysctl): a clear error, no mount, no cgroup, no runc state', async () => {
    const r = dk('run', '--name', 'bad-sysctl', '--sysctl', 'net.ipv4.no_such_knob=1', 'busybox', 'true');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /OCI runtime create failed: .*no_such_knob/);
    const c = await inspect(d, 'bad-sysctl');
    assert.deepEqual(mountsUnder(join(d.root, 'exec', 'containers', c.Id)), []);
    for (const ctl of ['memory', 'pids', 'cpu']) assert.ok(!existsSync(cgroupDir(ctl, c.Id)), `no ${ctl} cgroup left`);
    assert.ok(!existsSync(join(d.root, 'exec', 'runtime', 'runc', c.Id)), 'runc has no state for it');
    // The container can be fixed up no further, but it can be removed.
    ok('rm', 'bad-sysctl');
    await ping();
  });
});
