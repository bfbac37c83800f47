/** pierd as a process: config file checks, the data-root lock, socket mode, clean shutdown. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, PIERD, api } from '../../harness/daemon.js';

function pierdOnce(args: string[]) {
  const r = spawnSync(process.execPath, [PIERD, ...args], { timeout: 20000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('pierd', () => {
  it('refuses unknown config keys, bad values and keys given twice', () => {
    const dir = mkdtempSync('/tmp/pier-cfg-');
    try {
      const run = (cfg: string, extra: string[] = []) => {
        writeFileSync(join(dir, 'daemon.json'), cfg);
        return pierdOnce(['--config-file', join(dir, 'daemon.json'), '--data-root', join(dir, 'data'), '-H', `unix://${dir}/s.sock`, ...extra]);
      };
      let r = run('{"colour": "blue", "debug": true}');
      assert.equal(r.code, 1);
      assert.match(r.out, /the following directives don't match any configuration option: colour/);
      r = run('{"debug": "yes"}');
      assert.equal(r.code, 1);
      assert.match(r.out, /invalid value for "debug".*true or false/);
      r = run('{"storage-driver": "zfs-of-dreams"}');
      assert.match(r.out, /invalid storage driver "zfs-of-dreams"/);
      r = run('{not json');
      assert.match(r.out, /is not valid JSON/);
      r = run('{"log-level": "debug"}', ['--log-level', 'info']);
      assert.match(r.out, /specified both as a flag and in the configuration file: log-level/);
      r = pierdOnce(['--no-such-flag']);
      assert.equal(r.code, 1);
      assert.match(r.out, /unknown flag: --no-such-flag/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never lets two daemons share a data root', async () => {
    const d = await startDaemon();
    try {
      const r = pierdOnce(['--data-root', d.dataRoot, '-H', `unix://${d.root}/second.sock`]);
      assert.equal(r.code, 1);
      assert.match(r.out, /is in use by another pierd/);
      assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200, 'the first daemon is unharmed');
    } finally {
      await d.cleanup();
    }
  });

  it('makes its socket 0660, writes its pidfile, and shuts down cleanly on SIGTERM', async () => {
    const d = await startDaemon({ args: ['--log-level', 'debug'] });
    try {
      assert.equal(statSync(d.sock).mode & 0o777, 0o660);
      const pidfile = join(d.root, 'pierd.pid');
      assert.equal(Number(readFileSync(pidfile, 'utf8')), d.proc.pid);
      assert.match(d.log(), /"level":"info","msg":"pierd started"/);
      const code = await d.stop('SIGTERM');
      assert.equal(code, 0);
      assert.ok(!existsSync(d.sock), 'socket removed');
      assert.ok(!existsSync(pidfile), 'pidfile removed');
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      assert.ok(!mounts.includes(d.root), 'no mounts left under the data root');
      // The lock went with the process: a new daemon takes the same data root.
      const again = await startDaemon({ root: d.root });
      await again.stop();
    } finally {
      await d.cleanup();
    }
  });

  it('shows its insecure registries and mirrors in /info', async () => {
    const d = await startDaemon({ config: { 'insecure-registries': ['registry.test:5000', '192.0.2.0/24'], 'registry-mirrors': ['http://127.0.0.1:5999'] } });
    try {
      const rc = (await api(d.sock, 'GET', '/info')).json().RegistryConfig;
      assert.deepEqual(rc.Mirrors, ['http://127.0.0.1:5999']);
      assert.ok(rc.InsecureRegistryCIDRs.includes('192.0.2.0/24') && rc.InsecureRegistryCIDRs.includes('127.0.0.0/8'));
      assert.equal(rc.IndexConfigs['registry.test:5000'].Secure, false);
      assert.deepEqual(rc.IndexConfigs['docker.io'].Mirrors, ['http://127.0.0.1:5999']);
    } finally {
      await d.cleanup();
    }
  });

  it('runs on the vfs storage driver when asked', async () => {
    const d = await startDaemon({ args: ['--storage-driver', 'vfs'] });
    try {
      const info = (await api(d.sock, 'GET', '/info')).json();
      assert.equal(info.Driver, 'vfs');
      const { tarOf } = await import('../../harness/tars.js');
      const r = await api(d.sock, 'POST', '/images/create?fromSrc=-&repo=vfs/img', await tarOf([{ name: 'f', content: 'on vfs' }]));
      assert.ok(!r.messages().some((m) => m.error), r.text());
      assert.equal((await api(d.sock, 'GET', '/images/vfs/img/json')).json().GraphDriver.Name, 'vfs');
      assert.ok(existsSync(join(d.dataRoot, 'snapshots', 'vfs')));
    } finally {
      await d.cleanup();
    }
  });

  it('keeps serving after a client sends garbage', async () => {
    const d = await startDaemon();
    try {
      const { connect } = await import('node:net');
      await new Promise<void>((resolve) => {
        const c = connect(d.sock, () => c.end('THIS IS NOT HTTP\r\n\r\n'));
        c.on('close', () => resolve());
        c.on('error', () => resolve());
        c.resume();
      });
      const r = await api(d.sock, 'POST', '/images/load', Buffer.from('not a tar at all'));
      assert.ok(r.messages().some((m) => m.error));
      assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200);
    } finally {
      await d.cleanup();
    }
  });
});
