/**
 * `pier container move` between two pierds, each in its own network namespace
 * with a veth between them, the source reaching the target over mTLS
 * (test/harness/remote.ts): a running container with a named volume, an
 * anonymous volume and changes in its writable layer ends up running there
 * with all of it (and its log history) and nothing is left here; refusals (a name taken there, host
 * binds, bad or expired certificates, no daemon at the address) change
 * nothing; and a target killed in the middle of the transfer leaves the
 * container here intact, running and usable (and held meanwhile: no client
 * can start, rename or remove it while it is being sent).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api } from '../../harness/daemon.js';
import { containerSkip, sleep, waitFor } from '../../harness/containers.js';
import { remoteSkip, startPair, type NsDaemon, type Pair } from '../../harness/remote.js';
import { spawn } from 'node:child_process';
import { PIER } from '../../harness/daemon.js';

const skip = containerSkip() || remoteSkip();

describe('container move', { skip }, () => {
  let p: Pair;
  let hostDir: string;
  /** --to flags for b's TLS address with the given client certificate. */
  const to = (pair: { cert: string; key: string } = p.certs.client, ca = p.certs.ca) => ['--to', p.b.tcp, '--to-tlscacert', ca, '--to-tlscert', pair.cert, '--to-tlskey', pair.key];
  const ok = (d: NsDaemon, ...args: string[]) => {
    const r = p.pier(d, args);
    assert.equal(r.code, 0, `pier ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const state = async (d: NsDaemon, name: string) => {
    const r = await api(d.sock, 'GET', `/containers/${name}/json`);
    return r.status === 404 ? undefined : r.json<{ Id: string; Name: string; State: { Running: boolean; Status: string } }>();
  };
  const volumes = async (d: NsDaemon) => (await api(d.sock, 'GET', '/volumes')).json<{ Volumes: { Name: string }[] }>().Volumes.map((v) => v.Name);
  /** The container here after a refused or failed move: still there, still running, and its data as before. */
  const intact = async (name: string, check: string, want: string) => {
    const s = await state(p.a, name);
    assert.ok(s, `${name} is gone from the source`);
    assert.equal(s.State.Running, true, `${name} is not running on the source`);
    assert.equal(ok(p.a, 'exec', name, 'sh', '-c', check), want);
    assert.equal(await state(p.b, name).then((x) => x?.Name), undefined, `${name} was left on the target`);
  };

  before(async () => {
    p = await startPair();
    hostDir = mkdtempSync('/tmp/pier-move-bind-');
    writeFileSync(join(hostDir, 'h'), 'host file\n');
    ok(p.a, 'image', 'busybox', '--tag', 'busybox:latest');
  });
  after(async () => {
    await p?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  // `sleep` as PID 1 ignores SIGTERM: --stop-timeout 1 keeps the cold stop short.
  it('moves a running container with its volumes and writable layer, through a context, and leaves nothing here', async () => {
    ok(p.a, 'network', 'create', 'appnet');
    ok(p.a, 'run', '-d', '--stop-timeout', '1', '--name', 'web', '--network', 'appnet', '--network-alias', 'api', '-v', 'appdata:/data', '-v', '/anon', '--restart', 'unless-stopped', 'busybox', 'sh', '-c', 'echo started-once; exec sleep 100000');
    await waitFor('its first log line', () => ok(p.a, 'logs', 'web') === 'started-once\n');
    ok(p.a, 'exec', 'web', 'sh', '-c', 'echo hello-volume > /data/f && mkdir -p /data/sub && echo deep > /data/sub/g && echo anon-data > /anon/a && echo rw > /root/layer && rm /etc/group');
    // The context store of the CLI holds b's address and the client certificate.
    ok(p.a, 'context', 'create', 'target-b', '--docker', `host=${p.b.tcp},ca=${p.certs.ca},cert=${p.certs.client.cert},key=${p.certs.client.key}`);
    const out = ok(p.a, 'container', 'move', 'web', '--to', 'target-b');
    assert.match(out, /The target confirmed container web running/);
    assert.match(out, /Moved container web to tcp:\/\//);

    // There: running, with the named volume's data, the anonymous volume's, and the writable layer (a whiteout too).
    const there = await state(p.b, 'web');
    assert.equal(there?.State.Running, true);
    assert.equal(ok(p.b, 'exec', 'web', 'cat', '/data/f', '/data/sub/g', '/anon/a', '/root/layer'), 'hello-volume\ndeep\nanon-data\nrw\n');
    assert.notEqual(p.pier(p.b, ['exec', 'web', 'ls', '/etc/group']).code, 0, '/etc/group was deleted in the writable layer and came back');
    const inspect = (await api(p.b.sock, 'GET', '/containers/web/json')).json<{ HostConfig: { RestartPolicy: { Name: string } }; Mounts: { Name?: string; Destination: string }[] }>();
    assert.equal(inspect.HostConfig.RestartPolicy.Name, 'unless-stopped');
    assert.ok(inspect.Mounts.some((m) => m.Name === 'appdata' && m.Destination === '/data'));
    assert.ok((await volumes(p.b)).includes('appdata'));
    // Its user network was made there too, and it joined it with its alias.
    const nets = (await api(p.b.sock, 'GET', '/containers/web/json')).json<{ NetworkSettings: { Networks: Record<string, { Aliases: string[] | null; IPAddress: string }> } }>().NetworkSettings.Networks;
    assert.deepEqual(Object.keys(nets), ['appnet']);
    assert.ok(nets['appnet']!.Aliases?.includes('api'), JSON.stringify(nets));
    assert.ok(nets['appnet']!.IPAddress);
    // The CLI reaches the target itself over mTLS and sees it there.
    const tls = ['-H', p.b.tcp, '--tlsverify', '--tlscacert', p.certs.ca, '--tlscert', p.certs.client.cert, '--tlskey', p.certs.client.key];
    const ps = p.pierInA([...tls, 'ps', '--format', '{{.Names}} {{.Status}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^web Up/m);
    // Its log came along: the line it wrote here, then the same line from its start there.
    await waitFor('the log there', () => ok(p.b, 'logs', 'web') === 'started-once\nstarted-once\n');
    const late = await api(p.b.sock, 'PUT', '/containers/web/log-history', Buffer.from('junk'));
    assert.equal(late.status, 409, 'a container that ran takes no log history');
    ok(p.b, 'create', '--name', 'fresh', 'busybox', 'true');
    const junk = await api(p.b.sock, 'PUT', '/containers/fresh/log-history', Buffer.from('this is no container log'));
    assert.equal(junk.status, 400, junk.text());
    assert.match(junk.text(), /not a container log/);
    ok(p.b, 'rm', 'fresh');

    // Here: nothing left: not the container, not its volumes.
    assert.equal(await state(p.a, 'web'), undefined);
    const left = await volumes(p.a);
    assert.ok(!left.includes('appdata'), `appdata is still here: ${left}`);
    assert.deepEqual(left, [], `volumes left here: ${left}`);
  });

  it('refuses a container whose name the target already uses, changing nothing', async () => {
    ok(p.a, 'run', '-d', '--name', 'dup', 'busybox', 'sh', '-c', 'echo here > /mark; sleep 100000');
    ok(p.b, 'image', 'busybox', '--tag', 'busybox:latest');
    ok(p.b, 'run', '-d', '--name', 'dup', 'busybox', 'sleep', '100000');
    const r = p.pier(p.a, ['container', 'move', 'dup', ...to()]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /already has a container named dup/);
    const s = await state(p.a, 'dup');
    assert.equal(s?.State.Running, true);
    assert.equal(ok(p.a, 'exec', 'dup', 'cat', '/mark'), 'here\n');
    ok(p.b, 'rm', '-f', 'dup');
    ok(p.a, 'rm', '-f', 'dup');
  });

  it('refuses host bind mounts unless forced', async () => {
    ok(p.a, 'run', '-d', '--stop-timeout', '1', '--name', 'binder', '-v', `${hostDir}:/h`, 'busybox', 'sleep', '100000');
    const r = p.pier(p.a, ['container', 'move', 'binder', ...to()]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`uses host bind mounts \\(${hostDir}:/h\\).*--force`));
    await intact('binder', 'cat /h/h', 'host file\n');
    // Forced: it moves, bound to the same path of the target's host (the same file system here).
    const f = p.pier(p.a, ['container', 'move', '--force', 'binder', ...to()]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(ok(p.b, 'exec', 'binder', 'cat', '/h/h'), 'host file\n');
    assert.equal(await state(p.a, 'binder'), undefined);
  });

  it('refuses bad, foreign and expired certificates and an address nobody answers, changing nothing', async () => {
    ok(p.a, 'run', '-d', '--name', 'stay', 'busybox', 'sh', '-c', 'echo kept > /k; sleep 100000');
    const cases: [string[], RegExp][] = [
      [to(p.certs.expired), /cannot reach the target daemon.*(TLS|tls|certificate)/],
      [to(p.certs.other), /cannot reach the target daemon.*(TLS|tls|certificate)/],
      [to(p.certs.client, p.certs.otherCa), /certificate signed by unknown authority/],
      [['--to', `tcp://${p.b.ip}:2399`, '--to-tlscacert', p.certs.ca, '--to-tlscert', p.certs.client.cert, '--to-tlskey', p.certs.client.key], /cannot reach the target daemon at tcp:\/\/.*:2399/],
      // No route to it from a's namespace (only the veth's /30 is there): no packet leaves.
      [['--to', 'tcp://192.0.2.1:2376', '--to-tlscacert', p.certs.ca, '--to-tlscert', p.certs.client.cert, '--to-tlskey', p.certs.client.key], /cannot reach the target daemon at tcp:\/\/192\.0\.2\.1:2376/],
    ];
    for (const [flags, want] of cases) {
      const r = p.pier(p.a, ['container', 'move', 'stay', ...flags]);
      assert.equal(r.code, 1, `${flags.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, want, flags.join(' '));
      await intact('stay', 'cat /k', 'kept\n');
    }
    ok(p.a, 'rm', '-f', 'stay');
  });

  // Last: it kills the target.
  it('leaves the container here intact when the target dies in the middle of the transfer', async () => {
    ok(p.a, 'run', '-d', '--stop-timeout', '1', '--name', 'big', '-v', 'bigdata:/data', 'busybox', 'sleep', '100000');
    ok(p.a, 'exec', 'big', 'sh', '-c', 'dd if=/dev/urandom of=/data/blob bs=1M count=200 2>/dev/null && dd if=/dev/urandom of=/layer.bin bs=1M count=50 2>/dev/null');
    const sums = ok(p.a, 'exec', 'big', 'md5sum', '/data/blob', '/layer.bin');
    const logStart = p.a.log().length;
    const mover = spawn(process.execPath, [PIER, 'container', 'move', 'big', ...to()], { env: { ...process.env, PIER_HOST: p.a.host, DOCKER_HOST: p.a.host } });
    let out = '';
    mover.stdout.on('data', (d: Buffer) => (out += d));
    mover.stderr.on('data', (d: Buffer) => (out += d));
    const exited = new Promise<number | null>((r) => mover.once('exit', (c) => r(c)));
    // Kill the target once the source says it is sending the volume's 200 MB.
    await waitFor('the source to send the volume', () => /"what":"volume bigdata".*move: sending/.test(p.a.log().slice(logStart)) || /move: sending.*volume bigdata/.test(p.a.log().slice(logStart)), 60_000, 5);
    // Meanwhile the container here is held: no client can start, rename or remove it.
    for (const [method, path] of [['POST', '/containers/big/start'], ['POST', '/containers/big/rename?name=big2'], ['DELETE', '/containers/big?force=1']] as const) {
      const r = await api(p.a.sock, method, path);
      assert.equal(r.status, 409, `${method} ${path}: ${r.text()}`);
      assert.match(r.text(), /container big: it is being moved to tcp:\/\/.*; wait for that to finish/);
    }
    await sleep(10);
    p.b.proc.kill('SIGKILL');
    const code = await exited;
    assert.equal(code, 1, out);
    assert.match(out, /moving container big failed: .*The container is unchanged here; it was started again here/s);
    // Intact here: running again, the same data, and usable.
    const s = await state(p.a, 'big');
    assert.equal(s?.State.Running, true);
    assert.equal(ok(p.a, 'exec', 'big', 'md5sum', '/data/blob', '/layer.bin'), sums);
    ok(p.a, 'stop', '-t', '1', 'big');
    ok(p.a, 'start', 'big');
    assert.equal(ok(p.a, 'exec', 'big', 'md5sum', '/data/blob', '/layer.bin'), sums);
    assert.ok((await volumes(p.a)).includes('bigdata'));
  });
});
