/**
 * What pierd does on its own: restart policies (on-failure, always,
 * unless-stopped) and health checks, with Pier's --health-on-failure action
 * (the io.pier.health-on-failure annotation, through the API since the docker
 * CLI has no such flag).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { alive, busyboxImage, cli, containerSkip, create, endAll, inspect, pastEvents, waitFor, waitForEvents } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });
const MS = 1_000_000; // ns

describe('restart policies and health checks', { skip }, () => {
  let d: TestDaemon;
  const { dk, ok } = cli(() => d.host);
  const fmt = (f: string, name: string) => ok('inspect', '-f', f, name).trim();

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
    ok('run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3');
    await waitFor('two restarts and the final exit', () => fmt('{{.RestartCount}} {{.State.Status}}', 'flaky') === '2 exited', 15_000);
    assert.equal(fmt('{{.State.ExitCode}}', 'flaky'), '3');
    assert.equal(ok('logs', 'flaky'), 'run\nrun\nrun\n', 'three runs: the first and two restarts');
    const id = fmt('{{.Id}}', 'flaky');
    const actions = (await pastEvents(d, { container: [id] })).map((e) => e.Action);
    assert.equal(actions.filter((a) => a === 'start').length, 3);
    assert.equal(actions.filter((a) => a === 'die').length, 3);
    ok('rm', 'flaky');
  });

  it('on-failure does not restart a clean exit', async () => {
    ok('run', '-d', '--name', 'clean', '--restart', 'on-failure', 'busybox', 'true');
    assert.equal(ok('wait', 'clean').trim(), '0');
    await new Promise((r) => setTimeout(r, 400)); // a restart would come after 100 ms
    assert.equal(fmt('{{.RestartCount}} {{.State.Status}}', 'clean'), '0 exited');
    ok('rm', 'clean');
  });

  it('always restarts a container whose process was killed from the host', async () => {
    ok('run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '60');
    const pid = Number(fmt('{{.State.Pid}}', 'phoenix'));
    process.kill(pid, 'SIGKILL');
    await waitFor('a new process', () => {
      const [count, status, newPid] = fmt('{{.RestartCount}} {{.State.Status}} {{.State.Pid}}', 'phoenix').split(' ');
      return count === '1' && status === 'running' && Number(newPid) !== pid && alive(Number(newPid));
    });
    assert.ok(!alive(pid));
    // docker stop is a manual stop: no restart after it.
    ok('stop', '-t', '1', 'phoenix');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(fmt('{{.State.Status}} {{.RestartCount}}', 'phoenix'), 'exited 1');
    ok('rm', 'phoenix');
  });

  it('a restarting container can be stopped and removed', async () => {
    ok('run', '-d', '--name', 'looping', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 1');
    await waitFor('a few restarts', () => Number(fmt('{{.RestartCount}}', 'looping')) >= 2, 15_000);
    ok('stop', '-t', '1', 'looping');
    const st = fmt('{{.State.Status}}', 'looping');
    assert.equal(st, 'exited');
    const n = fmt('{{.RestartCount}}', 'looping');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(fmt('{{.RestartCount}} {{.State.Status}}', 'looping'), `${n} exited`, 'no more restarts after stop');
    ok('rm', 'looping');
  });

  it('--health-cmd: starting, healthy, unhealthy, in inspect, ps and events', async () => {
    const id = ok('run', '-d', '--name', 'checked', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2', '--health-timeout', '2s',
      'busybox', 'sh', '-c', 'touch /tmp/ok; sleep 60').trim();
    assert.match(fmt('{{.State.Health.Status}}', 'checked'), /^(starting|healthy)$/);
    await waitFor('healthy', () => fmt('{{.State.Health.Status}}', 'checked') === 'healthy');
    const h = JSON.parse(fmt('{{json .State.Health}}', 'checked'));
    assert.equal(h.FailingStreak, 0);
    assert.ok(h.Log.length >= 1 && h.Log.every((l: { ExitCode: number }) => l.ExitCode === 0));
    assert.match(ok('ps', '--filter', 'name=checked', '--format', '{{.Status}}'), /\(healthy\)/);
    assert.equal(ok('ps', '-q', '--filter', 'health=healthy').trim(), id.slice(0, 12));

    ok('exec', 'checked', 'rm', '/tmp/ok');
    await waitFor('unhealthy', () => fmt('{{.State.Health.Status}}', 'checked') === 'unhealthy');
    const bad = JSON.parse(fmt('{{json .State.Health}}', 'checked'));
    assert.ok(bad.FailingStreak >= 2);
    assert.equal(bad.Log.at(-1).ExitCode, 1);
    assert.ok(bad.Log.length <= 5, 'only the last five results are kept');
    assert.equal(fmt('{{.State.Status}}', 'checked'), 'running', 'Docker only reports; the container goes on');
    const actions = await waitForEvents(d, id, ['health_status: healthy', 'health_status: unhealthy']);
    assert.ok(actions.indexOf('health_status: healthy') < actions.indexOf('health_status: unhealthy'));
    assert.equal(actions.filter((a) => a.startsWith('exec_start')).length, 1, 'health checks are no exec events (only our rm is)');
    ok('rm', '-f', 'checked');
  });

  /** A container whose health check always fails, with the Pier on-failure action. */
  const failing = (name: string, action: string) =>
    create(d, {
      Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 0" TERM; echo started; while true; do sleep 0.1; done'], StopTimeout: 2,
      Healthcheck: { Test: ['CMD-SHELL', 'exit 1'], Interval: 200 * MS, Timeout: 2000 * MS, Retries: 1 },
      HostConfig: { Annotations: { 'io.pier.health-on-failure': action } },
    }, name);

  it('--health-on-failure=kill (API annotation) kills an unhealthy container', async () => {
    const id = await failing('hof-kill', 'kill');
    assert.equal((await api(d.sock, 'POST', `/containers/${id}/start`)).status, 204);
    await waitFor('killed', async () => !(await inspect(d, id)).State.Running, 10_000);
    const c = await inspect(d, id);
    assert.equal(c.State.ExitCode, 137);
    assert.equal(c.State.Health.Status, 'unhealthy');
    assert.deepEqual(c.HostConfig.Annotations, { 'io.pier.health-on-failure': 'kill' });
    await waitForEvents(d, id, ['health_status: unhealthy', 'kill', 'die']);
  });

  it('--health-on-failure=stop stops it with the stop signal', async () => {
    const id = await failing('hof-stop', 'stop');
    await api(d.sock, 'POST', `/containers/${id}/start`);
    await waitFor('stopped', async () => (await inspect(d, id)).State.Status === 'exited', 10_000);
    assert.equal((await inspect(d, id)).State.ExitCode, 0, 'SIGTERM ran the trap');
    await waitForEvents(d, id, ['health_status: unhealthy', 'stop']);
  });

  it('--health-on-failure=restart restarts it', async () => {
    const id = await failing('hof-restart', 'restart');
    await api(d.sock, 'POST', `/containers/${id}/start`);
    const first = (await inspect(d, id)).State;
    await waitForEvents(d, id, ['health_status: unhealthy', 'restart'], 10_000);
    await waitFor('running again', async () => {
      const s = (await inspect(d, id)).State;
      return s.Running && s.Pid !== first.Pid && s.StartedAt !== first.StartedAt;
    });
    assert.ok(!alive(first.Pid));
    await api(d.sock, 'DELETE', `/containers/${id}?force=1`);
  });

  it('an unknown --health-on-failure action is refused at create', async () => {
    const r = await api(d.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Annotations: { 'io.pier.health-on-failure': 'explode' } } });
    assert.equal(r.status, 400);
    assert.match(r.json().message, /invalid --health-on-failure "explode"/);
    assert.equal(dk('ps', '-aq', '--filter', 'ancestor=busybox', '--filter', 'status=created').stdout.trim(), '', 'nothing was created');
  });
});
