/**
 * The real docker CLI (28.x) and `pier` against pierd: volume create, ls,
 * inspect, rm and prune, `run -v/--mount/--volumes-from/--tmpfs`, `rm -v` and
 * `system df`; pier printing what docker prints for the same daemon state.
 * And volumes across a pierd restart with live restore: a tmpfs volume stays
 * mounted for the container that kept running and goes when it stops.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIER, startDaemon, testNet, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, cli, containerSkip, endAll, mountsUnder, waitFor } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });

describe('volumes with the docker CLI', { skip }, () => {
  let d: TestDaemon;
  let hostDir: string;
  const net = testNet(); // the same bridge across the restart below
  const { dk, ok } = cli(() => d.host);
  /** pier's CLI against the same daemon. */
  const pier = (...args: string[]) => {
    const r = spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host, DOCKER_CONFIG: '/tmp/pier-test-docker-config' }, encoding: 'utf8' });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  /** The same command through both CLIs: same output, same exit code. */
  const same = (...args: string[]) => {
    const a = dk(...args);
    const b = pier(...args);
    assert.equal(b.stdout, a.stdout, `stdout of ${args.join(' ')}`);
    assert.equal(b.stderr.replaceAll('pier', 'docker'), a.stderr, `stderr of ${args.join(' ')}`);
    assert.equal(b.code, a.code);
    return a;
  };

  before(async () => {
    d = await startDaemon({ net });
    busyboxImage(d);
    hostDir = mkdtempSync('/tmp/pier-volumes-cli-');
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  it('volume create, ls, inspect, rm; data shared between runs', () => {
    assert.equal(ok('volume', 'create', '--label', 'app=web', 'webdata').trim(), 'webdata');
    assert.equal(ok('volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=8m', 'ram').trim(), 'ram');
    assert.equal(ok('volume', 'ls'), 'DRIVER    VOLUME NAME\nlocal     ram\nlocal     webdata\n');
    same('volume', 'ls');
    same('volume', 'ls', '-q', '--filter', 'label=app=web');
    same('volume', 'ls', '--format', 'json');
    same('volume', 'inspect', 'webdata', 'ram');
    same('volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Mountpoint}} {{json .Options}}', 'ram');
    same('inspect', '--type', 'volume', 'webdata');
    const [v] = JSON.parse(ok('volume', 'inspect', 'webdata'));
    assert.deepEqual([v.Name, v.Driver, v.Labels, v.Options, v.Scope], ['webdata', 'local', { app: 'web' }, null, 'local']);
    assert.equal(v.Mountpoint, join(d.dataRoot, 'volumes', 'webdata', '_data'));

    ok('run', '--rm', '-v', 'webdata:/data', 'busybox', 'sh', '-c', 'echo from-the-first > /data/note');
    assert.equal(ok('run', '--rm', '-v', 'webdata:/data:ro', 'busybox', 'cat', '/data/note'), 'from-the-first\n');
    const ro = dk('run', '--rm', '-v', 'webdata:/data:ro', 'busybox', 'touch', '/data/x');
    assert.equal(ro.code, 1);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(ok('run', '--rm', '-v', 'ram:/r', 'busybox', 'sh', '-c', 'df -k /r | tail -1 | tr -s " " | cut -d" " -f1,2'), 'tmpfs 8192\n');

    const missing = dk('volume', 'inspect', 'nope');
    assert.deepEqual([missing.code, missing.stdout, missing.stderr], [1, '[]\n', 'Error response from daemon: get nope: no such volume\n']);
    same('volume', 'inspect', 'nope');
    const bad = dk('volume', 'create', '../x');
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'Error response from daemon: create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path\n');

    ok('create', '--name', 'holder', '-v', 'webdata:/w', 'busybox', 'true');
    const id = ok('inspect', '-f', '{{.Id}}', 'holder').trim();
    const inUse = dk('volume', 'rm', 'webdata');
    assert.deepEqual([inUse.code, inUse.stderr], [1, `Error response from daemon: remove webdata: volume is in use - [${id}]\n`]);
    ok('rm', 'holder');
    assert.equal(ok('volume', 'rm', 'webdata', 'ram'), 'webdata\nram\n');
    assert.equal(ok('volume', 'ls', '-q'), '');
  });

  it('run -v with host paths, --mount, --tmpfs and --volumes-from; rm -v', () => {
    writeFileSync(join(hostDir, 'in'), 'host file\n');
    assert.equal(ok('run', '--rm', '-v', `${hostDir}:/h`, 'busybox', 'sh', '-c', 'cat /h/in; echo out > /h/out'), 'host file\n');
    assert.equal(readFileSync(join(hostDir, 'out'), 'utf8'), 'out\n');
    const made = join(hostDir, 'new', 'dir');
    ok('run', '--rm', '-v', `${made}:/n`, 'busybox', 'true');
    assert.ok(existsSync(made), '-v makes a missing host directory');

    const nosrc = dk('run', '--rm', '--mount', `type=bind,src=${join(hostDir, 'absent')},dst=/x`, 'busybox', 'true');
    assert.equal(nosrc.code, 125);
    assert.match(nosrc.stderr, new RegExp(`invalid mount config for type "bind": bind source path does not exist: ${join(hostDir, 'absent')}`));
    assert.ok(!existsSync(join(hostDir, 'absent')));

    assert.equal(ok('run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/b,readonly`, 'busybox', 'sh', '-c', 'cat /b/in; touch /b/z 2>/dev/null || echo refused'), 'host file\nrefused\n');
    assert.equal(ok('run', '--rm', '--tmpfs', '/scratch:size=2m,mode=700', 'busybox', 'sh', '-c', 'df -k /scratch | tail -1 | tr -s " " | cut -d" " -f2; stat -c %a /scratch'), '2048\n700\n');
    assert.equal(ok('run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', 'busybox', 'sh', '-c', 'df -k /t | tail -1 | tr -s " " | cut -d" " -f2'), '1024\n');

    ok('run', '--name', 'src', '-v', '/anon', '-v', 'named-src:/named', 'busybox', 'sh', '-c', 'echo a > /anon/f; echo n > /named/f');
    assert.equal(ok('run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'sh', '-c', 'cat /anon/f /named/f; touch /anon/g 2>/dev/null || echo ro'), 'a\nn\nro\n');
    const mounts = JSON.parse(ok('inspect', '-f', '{{json .Mounts}}', 'src')) as { Name: string; Destination: string; Mode: string }[];
    const anon = mounts.find((m) => m.Destination === '/anon')!;
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    assert.equal(mounts.find((m) => m.Destination === '/named')!.Mode, 'z');
    const [name, list] = ok('ps', '-a', '--filter', 'volume=named-src', '--format', '{{.Names}} {{.Mounts}}').trim().split(' ');
    assert.equal(name, 'src');
    assert.deepEqual(list!.split(',').sort(), [`${anon.Name.slice(0, 14)}…`, 'named-src'], 'names, cut to 15 columns like docker');
    ok('rm', '-v', 'src');
    assert.equal(ok('volume', 'ls', '-q'), 'named-src\n', 'rm -v took the anonymous volume, not the named one');

    ok('run', '--rm', '-v', '/gone-with-rm', 'busybox', 'true');
    assert.equal(ok('volume', 'ls', '-q'), 'named-src\n', '--rm removes its anonymous volumes');
    ok('volume', 'rm', 'named-src');
  });

  it('volume prune and system df', () => {
    ok('volume', 'create', 'keepme');
    ok('run', '--name', 'anon-user', '-v', '/a', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /a/z');
    ok('volume', 'create');
    assert.match(ok('system', 'df', '-v'), /Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\n/);
    same('system', 'df');
    const pruned = ok('volume', 'prune', '-f');
    assert.match(pruned, /^Deleted Volumes:\n[0-9a-f]{64}\n\nTotal reclaimed space: 0B\n$/, 'only the unused anonymous one, which was empty');
    const anon = (JSON.parse(ok('inspect', '-f', '{{json .Mounts}}', 'anon-user')) as { Name: string }[])[0]!.Name;
    ok('rm', 'anon-user');
    assert.equal(ok('volume', 'prune', '-f'), `Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 5kB\n`);
    assert.equal(ok('volume', 'ls', '-q'), 'keepme\n');
    assert.equal(ok('volume', 'prune', '-a', '-f'), 'Deleted Volumes:\nkeepme\n\nTotal reclaimed space: 0B\n');
    same('volume', 'prune', '-f');
  });

  it('live restore: a tmpfs volume stays mounted for a container that kept running, and goes when it stops', async () => {
    ok('volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'live');
    const data = join(d.dataRoot, 'volumes', 'live', '_data');
    ok('run', '-d', '--name', 'lr1', '-v', 'live:/l', 'busybox', 'sh', '-c', 'echo here > /l/f; trap "exit 0" TERM; while true; do sleep 0.1; done');
    ok('run', '-d', '--name', 'lr2', '-v', 'live:/l', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done');
    await waitFor('the file on the tmpfs', () => existsSync(join(data, 'f')));
    assert.equal(await d.stop('SIGKILL'), null);
    d = await startDaemon({ root: d.root, net });
    assert.deepEqual(mountsUnder(data), [data], 'still mounted after the restart');
    const rm = dk('volume', 'rm', 'live');
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /volume is in use/);
    ok('stop', '-t', '1', 'lr1');
    assert.deepEqual(mountsUnder(data), [data], 'lr2 still uses it');
    assert.equal(readFileSync(join(data, 'f'), 'utf8'), 'here\n');
    ok('stop', '-t', '1', 'lr2');
    await waitFor('the last user gone: unmounted', () => mountsUnder(data).length === 0);
    ok('rm', 'lr1', 'lr2');
    assert.equal(ok('volume', 'rm', 'live'), 'live\n');
  });
});
