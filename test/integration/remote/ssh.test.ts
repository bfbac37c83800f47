/**
 * ssh:// hosts: pier runs `ssh … user@host pier system dial-stdio` for each
 * connection, and the far side's dial-stdio joins the ssh channel to its
 * daemon's socket. A private sshd on 127.0.0.1 (Debian's openssh-server, its
 * own host key, config and authorized key) stands in for the remote machine;
 * the key's forced command accepts only `pier system dial-stdio` and runs this
 * checkout's pier against the test daemon. Skipped when sshd is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, PIER, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, waitFor } from '../../harness/containers.js';
import { freePort } from '../../harness/certs.js';

const SSHD = '/usr/sbin/sshd';
const skip = containerSkip() || (!existsSync(SSHD) ? 'sshd is not installed (apt-get install openssh-server)' : spawnSync('ssh', ['-V']).status !== 0 ? 'ssh is not installed' : false);

describe('ssh:// hosts through pier system dial-stdio', { skip }, () => {
  let d: TestDaemon;
  let tmp: string;
  let sshd: ChildProcess | undefined;
  let port: number;
  let opts: string;
  let madeRunDir = false;
  const pier = (args: string[], input?: string, env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [PIER, ...args], { env: { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home'), DOCKER_CONFIG: join(tmp, 'cfg'), PIER_SSH_OPTS: opts, ...env }, input, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };

  before(async () => {
    tmp = mkdtempSync('/tmp/pier-ssh-');
    d = await startDaemon();
    busyboxImage(d);
    const gen = (f: string) => assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, f)]).status, 0);
    gen('hostkey');
    gen('userkey');
    port = await freePort();
    // Only `pier system dial-stdio` is allowed, run by this checkout against the test daemon.
    const forced = `case "$SSH_ORIGINAL_COMMAND" in 'pier system dial-stdio') PIER_HOST=${d.host} exec ${process.execPath} ${PIER} system dial-stdio;; *) echo "refused: $SSH_ORIGINAL_COMMAND" >&2; exit 1;; esac`;
    writeFileSync(join(tmp, 'authorized_keys'), `command="${forced.replace(/"/g, '\\"')}",no-pty,no-port-forwarding,no-agent-forwarding ${readFileSync(join(tmp, 'userkey.pub'), 'utf8')}`);
    writeFileSync(join(tmp, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(tmp, 'hostkey')}`, `AuthorizedKeysFile ${join(tmp, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', `PidFile ${join(tmp, 'sshd.pid')}`, '',
    ].join('\n'));
    writeFileSync(join(tmp, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(tmp, 'hostkey.pub'), 'utf8')}`);
    if (!existsSync('/run/sshd')) {
      mkdirSync('/run/sshd', { mode: 0o755 });
      madeRunDir = true;
    }
    let log = '';
    sshd = spawn(SSHD, ['-D', '-e', '-f', join(tmp, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr!.on('data', (b: Buffer) => (log += b));
    await waitFor(`sshd listening on ${port}: ${log}`, () => log.includes('Server listening'), 10_000);
    opts = `-F /dev/null -i ${join(tmp, 'userkey')} -o IdentitiesOnly=yes -o UserKnownHostsFile=${join(tmp, 'known_hosts')} -o StrictHostKeyChecking=yes -o BatchMode=yes`;
  });
  after(async () => {
    if (sshd && sshd.exitCode === null) {
      sshd.kill();
      await new Promise((r) => sshd!.once('exit', r));
    }
    if (madeRunDir) rmSync('/run/sshd', { recursive: true, force: true });
    await d?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('ps, run --rm and run -i reach the daemon through ssh', () => {
    const host = `ssh://root@127.0.0.1:${port}`;
    const ps = pier(['-H', host, 'ps', '-a']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID/);
    const run = pier(['-H', host, 'run', '--rm', 'busybox', 'echo', 'over-ssh']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'over-ssh\n');
    const cat = pier(['-H', host, 'run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], 'ssh stdin\n');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'ssh stdin\ndone\n');
  });

  it('an ssh:// context works like any other', () => {
    const c = pier(['context', 'create', 'viassh', '--docker', `host=ssh://root@127.0.0.1:${port}`]);
    assert.equal(c.code, 0, c.stderr);
    const v = pier(['--context', 'viassh', 'run', '--rm', 'busybox', 'echo', 'ctx-ssh']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, 'ctx-ssh\n');
  });

  it("ssh's failures are reported in its words: refused connection, refused key", async () => {
    const dead = await freePort();
    const r = pier(['-H', `ssh://root@127.0.0.1:${dead}`, 'ps']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error during connect: ssh root@127\\.0\\.0\\.1 exited with status 255: ssh: connect to host 127\\.0\\.0\\.1 port ${dead}: Connection refused`));
    const k = pier(['-H', `ssh://nobody@127.0.0.1:${port}`, 'ps']);
    assert.equal(k.code, 1);
    assert.match(k.stderr, /^error during connect: ssh nobody@127\.0\.0\.1 exited with status 255: nobody@127\.0\.0\.1: Permission denied \(publickey\)/);
  });
});
