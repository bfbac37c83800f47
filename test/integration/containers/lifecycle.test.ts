/**
 * A container's life with the real docker CLI against pierd on runc: create,
 * start, stop, restart, kill, wait, rm, ps, logs, top, stats, pause, rename,
 * update, diff, export, cp, commit, prune and inspect — each checked against
 * what the host sees (pids, cgroup files, tar contents).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { alive, busyboxImage, cli, cgroupDir, containerSkip, dockerStart, endAll, readText, waitFor } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });

/** An RFC 3339 timestamp with nanoseconds as ns since the epoch. */
const stampNs = (ts: string) => BigInt(Date.parse(ts.slice(0, 19) + 'Z')) * 1_000_000n + BigInt(ts.slice(20, 29));
/** ns since the epoch as Docker's "seconds.nanoseconds". */
const unixNs = (ns: bigint) => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;

describe('container lifecycle with the docker CLI', { skip }, () => {
  let d: TestDaemon;
  const { dk, ok } = cli(() => d.host);
  const fmt = (f: string, name: string) => ok('inspect', '-f', f, name).trim();
  const pidOf = (name: string) => Number(fmt('{{.State.Pid}}', name));
  /** A file of a running container, read from the host through its init's root. */
  const inside = (name: string, path: string) => readFileSync(`/proc/${pidOf(name)}/root${path}`, 'utf8');
  const LOOP = 'trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done';
  /** Waits for the n-th "ready" line: the shell has set its traps (pid 1 ignores signals it has no handler for). */
  const ready = (name: string, n = 1) => waitFor(`${name} ready (${n})`, () => (ok('logs', name).match(/^ready$/gm) ?? []).length >= n);

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('create, start, restart, stop, kill, wait and rm -f', async () => {
    const id = ok('create', '--name', 'life', 'busybox', 'sh', '-c', LOOP).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(fmt('{{.State.Status}} {{.State.Pid}}', 'life'), 'created 0');
    assert.equal(ok('start', 'life').trim(), 'life');
    await ready('life', 1);
    const pid1 = pidOf('life');
    assert.ok(pid1 > 0 && alive(pid1), 'the container\'s process runs on the host');
    assert.equal(fmt('{{.State.Status}}', 'life'), 'running');
    const started1 = fmt('{{.State.StartedAt}}', 'life');

    assert.equal(ok('restart', '-t', '1', 'life').trim(), 'life');
    await ready('life', 2);
    const pid2 = pidOf('life');
    assert.notEqual(pid2, pid1);
    assert.ok(alive(pid2) && !alive(pid1));
    assert.notEqual(fmt('{{.State.StartedAt}}', 'life'), started1);
    assert.equal(fmt('{{.RestartCount}}', 'life'), '0', 'a manual restart is not counted');

    assert.equal(ok('stop', '-t', '1', 'life').trim(), 'life');
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}', 'life'), 'exited 0 0', 'the TERM trap ran: exit 0');
    assert.ok(!alive(pid2));
    assert.notEqual(fmt('{{.State.FinishedAt}}', 'life'), '0001-01-01T00:00:00Z');

    ok('start', 'life');
    assert.equal(ok('kill', 'life').trim(), 'life');
    assert.equal(ok('wait', 'life').trim(), '137');
    assert.equal(fmt('{{.State.Status}} {{.State.ExitCode}}', 'life'), 'exited 137');

    ok('start', 'life');
    const pid3 = pidOf('life');
    assert.equal(ok('rm', '-f', 'life').trim(), 'life');
    assert.ok(!alive(pid3), 'rm -f killed the process');
    const gone = dk('inspect', 'life');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: life|No such container: life/);
  });

  it('kill -s delivers the signal; wait returns the exit code', async () => {
    ok('run', '-d', '--name', 'sig', 'busybox', 'sh', '-c', 'trap "exit 42" USR2; echo ready; while true; do sleep 0.1; done');
    await ready('sig');
    ok('kill', '-s', 'USR2', 'sig');
    assert.equal(ok('wait', 'sig').trim(), '42');
    ok('run', '-d', '--name', 'code4', 'busybox', 'sh', '-c', 'sleep 0.3; exit 4');
    assert.equal(ok('wait', 'code4').trim(), '4');
    ok('rm', 'sig', 'code4');
  });

  it('ps: -a, -q, --no-trunc, -n, -l, -s, --filter and --format', () => {
    const up = ok('run', '-d', '--name', 'ps-up', '-l', 'role=web', 'busybox', 'sh', '-c', `dd if=/dev/zero of=/big bs=1024 count=300 2>/dev/null; ${LOOP}`).trim();
    const ex = ok('run', '-d', '--name', 'ps-exited', 'busybox', 'sh', '-c', 'exit 2').trim();
    ok('wait', 'ps-exited');
    const cr = ok('create', '--name', 'ps-created', 'busybox', 'true').trim();

    const running = ok('ps');
    assert.match(running, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
    assert.match(running, new RegExp(`^${up.slice(0, 12)}\\s+busybox\\s+"sh -c dd if=/dev/ze…"\\s+.*\\s+Up .*\\s+ps-up$`, 'm'));
    assert.doesNotMatch(running, /ps-exited|ps-created/);
    const all = ok('ps', '-a');
    assert.match(all, /Exited \(2\) .* ago\s+ps-exited$/m);
    assert.match(all, /Created\s+ps-created$/m);

    assert.deepEqual(ok('ps', '-q').trim().split('\n'), [up.slice(0, 12)]);
    assert.deepEqual(ok('ps', '-aq', '--no-trunc').trim().split('\n'), [cr, ex, up]);
    assert.deepEqual(ok('ps', '-n', '2', '-q').trim().split('\n'), [cr.slice(0, 12), ex.slice(0, 12)]);
    assert.equal(ok('ps', '-l', '-q').trim(), cr.slice(0, 12));

    assert.equal(ok('ps', '-aq', '--filter', 'status=exited').trim(), ex.slice(0, 12));
    assert.equal(ok('ps', '-aq', '--filter', 'exited=2').trim(), ex.slice(0, 12));
    assert.equal(ok('ps', '-aq', '--filter', 'label=role=web').trim(), up.slice(0, 12));
    assert.equal(ok('ps', '-aq', '--filter', 'name=ps-cr').trim(), cr.slice(0, 12));
    assert.equal(ok('ps', '-aq', '--filter', 'status=created').trim(), cr.slice(0, 12));

    assert.equal(ok('ps', '-a', '--filter', 'name=ps-', '--format', '{{.Names}}|{{.State}}').trim(), 'ps-created|created\nps-exited|exited\nps-up|running');
    const json = JSON.parse(ok('ps', '--filter', 'name=ps-up', '--format', '{{json .}}'));
    assert.equal(json.ID, up.slice(0, 12));
    assert.equal(json.Labels, 'role=web');

    // The 300 KiB file is in the writable layer.
    const sized = ok('ps', '-s', '--filter', 'name=ps-up', '--format', '{{.Size}}').trim();
    const m = sized.match(/^([\d.]+)([kMG]?B) \(virtual ([\d.]+)([kMG]?B)\)$/);
    assert.ok(m, `size column: ${sized}`);
    const kb = Number(m[1]) * ({ B: 1e-3, kB: 1, MB: 1e3, GB: 1e6 } as Record<string, number>)[m[2]!]!;
    assert.ok(kb >= 300 && kb < 400, `SizeRw ${sized}`);
    ok('rm', '-f', 'ps-up', 'ps-exited', 'ps-created');
  });

  it('logs: stdout and stderr, --tail, -t, --since and --until', () => {
    ok('run', '-d', '--name', 'talk', 'busybox', 'sh', '-c', 'echo one; echo two; echo oops >&2; sleep 0.3; echo three; sleep 0.05; echo four');
    ok('wait', 'talk');
    const all = dk('logs', 'talk');
    assert.equal(all.stdout, 'one\ntwo\nthree\nfour\n');
    assert.equal(all.stderr, 'oops\n');
    assert.equal(ok('logs', '--tail', '2', 'talk'), 'three\nfour\n');
    assert.equal(dk('logs', '--tail', '0', 'talk').stdout, '');

    const stamped = ok('logs', '-t', 'talk').trim().split('\n');
    assert.equal(stamped.length, 4);
    for (const l of stamped) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|two|three|four)$/);
    // Half-way between two and three (300 ms apart): unix seconds with nanoseconds, as the CLI sends them.
    const ns = (word: string) => stampNs(stamped.find((l) => l.endsWith(` ${word}`))!.split(' ')[0]!);
    const mid = unixNs((ns('two') + ns('three')) / 2n);
    assert.equal(ok('logs', '--since', mid, 'talk'), 'three\nfour\n');
    assert.equal(ok('logs', '--until', mid, 'talk'), 'one\ntwo\n');
    assert.equal(ok('logs', '--since', mid, '--until', unixNs(ns('three') + 1_000_000n), 'talk'), 'three\n');
    ok('rm', 'talk');
  });

  it('logs --since and --until are inclusive to the nanosecond', () => {
    ok('run', '-d', '--name', 'exact', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do echo line$i; done');
    ok('wait', 'exact');
    const stamped = ok('logs', '-t', 'exact').trim().split('\n');
    for (const l of stamped) {
      const [ts, text] = l.split(' ');
      const at = unixNs(stampNs(ts!));
      assert.match(ok('logs', '--since', at, '--until', at, 'exact'), new RegExp(`^${text}$`, 'm'), `the line stamped ${ts} (${at}) is in its own window`);
    }
    ok('rm', 'exact');
  });

  it('logs -f follows new output and ends when the container stops', async () => {
    ok('run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'trap "echo bye; exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done');
    await waitFor('tick 3 in the log', () => ok('logs', 'ticker').includes('tick 3\n'));
    const f = dockerStart(d.host, ['logs', '-f', '--tail', '1', 'ticker']);
    await waitFor('tick 5 in logs -f', () => /tick 5\n/.test(f.stdout()));
    ok('stop', '-t', '5', 'ticker');
    const r = await f.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bye\n$/, 'the last line before the stop came through, then logs -f ended');
    assert.doesNotMatch(r.stdout, /tick 0\n/, '--tail 1 skipped old lines');
    ok('rm', 'ticker');
  });

  it('top lists the container\'s processes with their host pids', () => {
    ok('run', '-d', '--name', 'topped', 'busybox', 'sh', '-c', 'sleep 31 & sleep 32 & wait');
    const pid = pidOf('topped');
    const out = ok('top', 'topped');
    assert.match(out, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/m);
    assert.match(out, new RegExp(`^root\\s+${pid}\\s+\\d+\\s+.*sh -c sleep 31 & sleep 32 & wait$`, 'm'));
    assert.match(out, new RegExp(`^root\\s+\\d+\\s+${pid}\\s+.*sleep 31$`, 'm'));
    assert.match(out, new RegExp(`^root\\s+\\d+\\s+${pid}\\s+.*sleep 32$`, 'm'));
    assert.match(ok('top', 'topped', '-o', 'pid,comm'), new RegExp(`^\\s*${pid}\\s+sh$`, 'm'));
    ok('rm', '-f', 'topped');
  });

  it('stats --no-stream shows memory against the limit and the pid count', () => {
    ok('run', '-d', '--name', 'statted', '-m', '64m', 'busybox', 'sh', '-c', 'sleep 30 & sleep 31 & wait');
    const line = ok('stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}', 'statted').trim();
    const [name, mem, pids, cpu] = line.split('|');
    assert.equal(name, 'statted');
    assert.match(mem!, /^[\d.]+[KMG]?i?B \/ 64MiB$/);
    assert.equal(pids, '3');
    assert.match(cpu!, /^\d+\.\d\d%$/);
    const table = ok('stats', '--no-stream', 'statted');
    assert.match(table, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/m);
    ok('rm', '-f', 'statted');
  });

  it('pause freezes the cgroup and unpause thaws it', async () => {
    const id = ok('run', '-d', '--name', 'frozen', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done').trim();
    ok('pause', 'frozen');
    assert.equal(fmt('{{.State.Status}} {{.State.Paused}}', 'frozen'), 'paused true');
    const v1 = existsSync(join(cgroupDir('freezer', id), 'freezer.state'));
    if (v1) assert.equal(readText(join(cgroupDir('freezer', id), 'freezer.state')).trim(), 'FROZEN');
    else assert.equal(readText(join(cgroupDir('freezer', id), 'cgroup.freeze')).trim(), '1');
    assert.match(ok('ps', '--filter', 'name=frozen', '--format', '{{.Status}}'), /\(Paused\)/);
    const exec = dk('exec', 'frozen', 'true');
    assert.equal(exec.code, 1);
    assert.match(exec.stderr, /is paused, unpause the container before exec/);
    ok('unpause', 'frozen');
    assert.equal(fmt('{{.State.Status}} {{.State.Paused}}', 'frozen'), 'running false');
    if (v1) assert.equal(readText(join(cgroupDir('freezer', id), 'freezer.state')).trim(), 'THAWED');
    const a = Number(inside('frozen', '/tmp/count'));
    assert.ok(a > 0);
    await waitFor('the loop to go on', () => Number(inside('frozen', '/tmp/count')) > a);
    ok('rm', '-f', 'frozen');
  });

  it('rename changes the name, not the container', () => {
    const id = ok('create', '--name', 'old-name', 'busybox', 'true').trim();
    ok('rename', 'old-name', 'new-name');
    assert.equal(fmt('{{.Id}} {{.Name}}', 'new-name'), `${id} /new-name`);
    assert.equal(dk('inspect', 'old-name').code, 1);
    ok('rm', 'new-name');
  });

  it('update changes limits in the running container\'s cgroup and the restart policy', () => {
    const id = ok('run', '-d', '--name', 'upd', '-m', '32m', 'busybox', 'sleep', '30').trim();
    ok('update', '--memory', '96m', '--memory-swap', '128m', '--cpus', '1.5', '--pids-limit', '77', '--restart', 'on-failure:3', 'upd');
    if (existsSync(join(cgroupDir('memory', id), 'memory.limit_in_bytes'))) {
      assert.equal(readText(join(cgroupDir('memory', id), 'memory.limit_in_bytes')).trim(), String(96 << 20));
      assert.equal(readText(join(cgroupDir('cpu', id), 'cpu.cfs_quota_us')).trim(), '150000');
    } else {
      assert.equal(readText(join(cgroupDir('memory', id), 'memory.max')).trim(), String(96 << 20));
    }
    assert.equal(readText(join(cgroupDir('pids', id), 'pids.max')).trim(), '77');
    assert.equal(fmt('{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'upd'),
      `${96 << 20} ${128 << 20} 1500000000 77 on-failure:3`);
    ok('rm', '-f', 'upd');
  });

  it('diff and export show the writable layer and the whole tree', () => {
    ok('run', '-d', '--name', 'changed', 'busybox', 'sh', '-c', 'echo new > /etc/added && rm /bin/vi && mkdir -p /opt/app && echo x > /opt/app/f');
    ok('wait', 'changed');
    const diff = ok('diff', 'changed').trim().split('\n');
    for (const want of ['C /etc', 'A /etc/added', 'C /bin', 'D /bin/vi', 'A /opt', 'A /opt/app', 'A /opt/app/f']) assert.ok(diff.includes(want), `diff lacks "${want}": ${diff.join(', ')}`);
    const file = join(d.root, 'export.tar');
    ok('export', '-o', file, 'changed');
    const list = spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.split('\n');
    assert.ok(list.includes('etc/added') && list.includes('opt/app/f') && list.includes('bin/busybox'), 'export has the files');
    assert.ok(!list.includes('bin/vi'), 'deleted files are not exported');
    assert.equal(spawnSync('tar', ['-xOf', file, 'etc/added'], { encoding: 'utf8' }).stdout, 'new\n');
    ok('rm', 'changed');
  });

  it('cp copies files and directories both ways, to running and stopped containers', () => {
    const src = join(d.root, 'cp-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'a.txt'), 'alpha\n', { mode: 0o640 });
    writeFileSync(join(d.root, 'single.txt'), 'single\n');
    ok('run', '-d', '--name', 'cpy', 'busybox', 'sleep', '30');
    ok('cp', src, 'cpy:/data');
    ok('cp', join(d.root, 'single.txt'), 'cpy:/tmp/');
    assert.equal(inside('cpy', '/data/sub/a.txt') + inside('cpy', '/tmp/single.txt'), 'alpha\nsingle\n');
    assert.equal((statSync(`/proc/${pidOf('cpy')}/root/data/sub/a.txt`).mode & 0o777).toString(8), '640');
    ok('exec', 'cpy', 'sh', '-c', 'mkdir -p /out/deep && echo from-inside > /out/deep/b.txt');
    ok('cp', 'cpy:/out', join(d.root, 'out'));
    assert.equal(readFileSync(join(d.root, 'out', 'deep', 'b.txt'), 'utf8'), 'from-inside\n');
    // To stdout as a tar.
    const tar = spawnSync('sh', ['-c', `docker cp cpy:/out/deep/b.txt - | tar -xOf - b.txt`], { env: { ...process.env, DOCKER_HOST: d.host, PATH: `/usr/local/bin:${process.env.PATH}` }, encoding: 'utf8' });
    assert.equal(tar.stdout, 'from-inside\n');
    // A stopped container is mounted for the copy.
    ok('stop', '-t', '1', 'cpy');
    ok('cp', join(d.root, 'single.txt'), 'cpy:/stopped.txt');
    ok('cp', 'cpy:/stopped.txt', join(d.root, 'back.txt'));
    assert.equal(readFileSync(join(d.root, 'back.txt'), 'utf8'), 'single\n');
    assert.ok(statSync(join(d.root, 'back.txt')).isFile());
    ok('rm', 'cpy');
  });

  it('commit -c -m makes an image of the writable layer with changed config', () => {
    ok('run', '-d', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo committed-content > /etc/marker');
    ok('wait', 'tocommit');
    const id = ok('commit', '-c', 'ENV COMMITTED=yes', '-c', 'CMD ["cat", "/etc/marker"]', '-m', 'made in a test', 'tocommit', 'pier-test/committed:1').trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok('image', 'inspect', '-f', '{{.Comment}} {{json .Config.Cmd}}', 'pier-test/committed:1').trim(), 'made in a test ["cat","/etc/marker"]');
    assert.match(ok('image', 'inspect', '-f', '{{json .Config.Env}}', 'pier-test/committed:1'), /"COMMITTED=yes"/);
    assert.equal(ok('image', 'inspect', '-f', '{{len .RootFS.Layers}}', 'pier-test/committed:1').trim(), '2');
    ok('run', '--name', 'fromcommit', '-d', 'pier-test/committed:1');
    assert.equal(ok('wait', 'fromcommit').trim(), '0');
    assert.equal(ok('logs', 'fromcommit'), 'committed-content\n');
    assert.match(ok('history', 'pier-test/committed:1'), /made in a test/);
    ok('rm', 'tocommit', 'fromcommit');
  });

  it('container prune removes stopped containers only', () => {
    const a = ok('run', '-d', '--name', 'prune-a', 'busybox', 'true').trim();
    ok('wait', 'prune-a');
    const b = ok('create', '--name', 'prune-b', 'busybox', 'true').trim();
    ok('run', '-d', '--name', 'prune-keep', 'busybox', 'sleep', '30');
    const out = ok('container', 'prune', '-f');
    assert.match(out, /^Deleted Containers:$/m);
    assert.match(out, new RegExp(`^${a}$`, 'm'));
    assert.match(out, new RegExp(`^${b}$`, 'm'));
    assert.match(out, /^Total reclaimed space: /m);
    assert.equal(ok('ps', '-aq', '--filter', 'name=prune-').trim(), ok('inspect', '-f', '{{.Id}}', 'prune-keep').trim().slice(0, 12));
    ok('rm', '-f', 'prune-keep');
  });

  it('inspect shows state, config, host config and paths that exist', () => {
    const id = ok('run', '-d', '--name', 'inspected', '-e', 'K=V', '--restart', 'unless-stopped', 'busybox', 'sleep', '30').trim();
    const c = JSON.parse(ok('inspect', 'inspected'))[0];
    assert.equal(c.Id, id);
    assert.equal(c.Name, '/inspected');
    assert.equal(c.Path, 'sleep');
    assert.deepEqual(c.Args, ['30']);
    assert.equal(c.State.Status, 'running');
    assert.ok(alive(c.State.Pid));
    assert.equal(c.Config.Image, 'busybox');
    assert.ok(c.Config.Env.includes('K=V'));
    assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'unless-stopped', MaximumRetryCount: 0 });
    assert.equal(c.GraphDriver.Name, 'overlay2');
    assert.match(c.Image, /^sha256:/);
    for (const p of [c.LogPath, c.HostsPath, c.HostnamePath, c.ResolvConfPath]) assert.ok(existsSync(p), `${p} exists`);
    assert.equal(readFileSync(c.HostnamePath, 'utf8').trim(), id.slice(0, 12));
    assert.ok(existsSync(c.GraphDriver.Data.MergedDir + '/bin/busybox'), 'the merged dir is the mounted rootfs');
    ok('rm', '-f', 'inspected');
  });
});
