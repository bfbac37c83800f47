/**
 * Live restore: containers outlive pierd (their pier-monitors do), and a new
 * pierd on the same data root adopts them — after a crash (SIGKILL) and after
 * an orderly SIGTERM — and records the exits it missed. With
 * --live-restore=false a SIGTERM stops them instead.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { alive, busyboxImage, cli, containerSkip, dockerStart, endAll, waitFor } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });

describe('live restore', { skip }, () => {
  /** The current daemon: each restart replaces it on the same root. */
  let d: TestDaemon;
  const { dk, ok } = cli(() => d.host);
  const fmt = (f: string, name: string) => ok('inspect', '-f', f, name).trim();
  const pidOf = (name: string) => Number(fmt('{{.State.Pid}}', name));
  const TICKER = 'trap "exit 3" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done';

  /** Stops the daemon with a signal and starts a new one on the same root. */
  const restart = async (signal: NodeJS.Signals, args: string[] = []) => {
    const code = await d.stop(signal);
    if (signal === 'SIGTERM') assert.equal(code, 0, `pierd exited with ${code}:\n${d.log()}`);
    return { up: () => startDaemon({ root: d.root, args }).then((n) => (d = n)) };
  };

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('SIGKILL of pierd: containers keep running, a new pierd adopts them, logs -f, exec and stop work', async () => {
    ok('run', '-d', '--name', 'k-ticker', 'busybox', 'sh', '-c', TICKER);
    ok('run', '-d', '--name', 'k-ending', 'busybox', 'sh', '-c', 'sleep 1; exit 7');
    await waitFor('ticks', () => ok('logs', 'k-ticker').includes('tick 2\n'));
    const ticker = pidOf('k-ticker');
    const ending = pidOf('k-ending');

    const { up } = await restart('SIGKILL');
    assert.ok(alive(ticker), 'the container outlived pierd');
    // k-ending exits while no daemon runs.
    await waitFor('k-ending to exit while pierd is down', () => !alive(ending), 5000);
    const downAt = Date.now();
    await up();

    assert.equal(fmt('{{.State.Status}} {{.State.Pid}}', 'k-ticker'), `running ${ticker}`, 'adopted, not restarted');
    assert.match(ok('ps', '--filter', 'name=k-ticker', '--format', '{{.Status}}'), /^Up /);
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'k-ending'), 'exited 7', 'the missed exit is recorded');
    assert.ok(Date.parse(fmt('{{.State.FinishedAt}}', 'k-ending')) < downAt, 'with the time it happened, not the time pierd noticed');
    assert.match(ok('ps', '-a', '--filter', 'name=k-ending', '--format', '{{.Status}}'), /^Exited \(7\)/);

    // logs -f goes on with new lines from the adopted container.
    const seen = ok('logs', 'k-ticker').trim().split('\n').length;
    const f = dockerStart(d.host, ['logs', '-f', 'k-ticker']);
    await waitFor('new ticks after the restart', () => f.stdout().trim().split('\n').length >= seen + 5);

    const ex = dk('exec', 'k-ticker', 'sh', '-c', 'echo exec-after-restore; sleep 0.2');
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'exec-after-restore\n');

    ok('stop', '-t', '5', 'k-ticker');
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'k-ticker'), 'exited 3', 'the stop\'s exit code is recorded');
    assert.ok(!alive(ticker));
    const r = await f.done;
    assert.equal(r.code, 0, 'logs -f ended with the container');
  });

  it('SIGTERM with live restore: containers keep running and are adopted; exits while down are recorded', async () => {
    ok('run', '-d', '--name', 't-sleeper', 'busybox', 'sh', '-c', 'trap "exit 5" TERM; echo ready; while true; do sleep 0.1; done');
    ok('run', '-d', '--name', 't-ending', 'busybox', 'sh', '-c', 'sleep 1; exit 9');
    await waitFor('ready', () => ok('logs', 't-sleeper').includes('ready'));
    const sleeper = pidOf('t-sleeper');
    const ending = pidOf('t-ending');
    const { up } = await restart('SIGTERM');
    assert.ok(alive(sleeper), 'an orderly shutdown leaves containers running');
    await waitFor('t-ending to exit while pierd is down', () => !alive(ending), 5000);
    await up();
    assert.equal(fmt('{{.State.Status}} {{.State.Pid}}', 't-sleeper'), `running ${sleeper}`);
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 't-ending'), 'exited 9');
    ok('stop', '-t', '5', 't-sleeper');
    assert.equal(fmt('{{.State.ExitCode}}', 't-sleeper'), '5');
  });

  it('a --restart always container killed while pierd is down is restarted when it comes back', async () => {
    ok('run', '-d', '--name', 'a-always', '--restart', 'always', 'busybox', 'sleep', '600');
    const pid = pidOf('a-always');
    const { up } = await restart('SIGKILL');
    process.kill(pid, 'SIGKILL');
    await waitFor('the process to go', () => !alive(pid));
    await up();
    await waitFor('a new process', () => {
      const [status, p] = fmt('{{.State.Status}} {{.State.Pid}}', 'a-always').split(' ');
      return status === 'running' && Number(p) !== pid && alive(Number(p));
    }, 10_000);
    assert.equal(fmt('{{.RestartCount}}', 'a-always'), '1');
    ok('rm', '-f', 'a-always');
  });

  it('--live-restore=false: SIGTERM stops the containers, and they stay stopped', async () => {
    let { up } = await restart('SIGTERM', ['--live-restore=false']);
    await up();
    ok('run', '-d', '--name', 'n-sleeper', 'busybox', 'sh', '-c', 'trap "exit 6" TERM; echo ready; while true; do sleep 0.1; done');
    await waitFor('ready', () => ok('logs', 'n-sleeper').includes('ready'));
    const pid = pidOf('n-sleeper');
    ({ up } = await restart('SIGTERM', ['--live-restore=false']));
    assert.ok(!alive(pid), 'the container was stopped with the daemon');
    await up();
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'n-sleeper'), 'exited 6');
    assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200);
  });
});
