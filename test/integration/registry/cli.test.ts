/**
 * `pier registry serve|gc` through runRegistry: flags, config file, exit codes;
 * a served registry in its own process that shuts down gracefully on SIGTERM
 * and keeps its memory bounded under 50 concurrent uploads.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRegistry } from '../../../src/registry/main.js';
import { req, pushBlob, pushImage } from './oci-client.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '../../../../src/registry/main.js');

function capture() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} as Record<string, string> },
    out: () => out,
    err: () => err,
  };
}

function backdate(dir: string): void {
  const past = new Date(Date.now() - 3 * 3600_000);
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else utimesSync(p, past, past);
    }
  };
  walk(dir);
}

/** `pier registry serve` in a child process; resolves with its URL once it listens. */
async function spawnServe(args: string[]): Promise<{ child: ChildProcess; url: string; exit: Promise<number | null>; stderr: () => string }> {
  const script = `
    import { runRegistry } from ${JSON.stringify(MAIN)};
    process.exitCode = await runRegistry(process.argv.slice(1), {
      stdout: process.stdout, stderr: process.stderr, env: process.env,
      onListening: (u) => process.stdout.write('LISTENING ' + u + '\\n'),
    });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (b) => {
      out += b;
      const m = out.match(/LISTENING (\S+)/);
      if (m) res(m[1]!);
    });
    child.on('exit', (code) => rej(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, url, exit, stderr: () => err };
}

describe('pier registry CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-registry-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serve runs until stopped; gc --dry-run reports, gc deletes', async () => {
    const root = join(dir, 'root1');
    const c = capture();
    const ac = new AbortController();
    let url = '';
    let ready!: () => void;
    const listening = new Promise<void>((res) => (ready = res));
    const done = runRegistry(['serve', '--addr', '127.0.0.1:0', '--root', root, '--log-level', 'warn'], {
      ...c.io,
      signal: ac.signal,
      onListening: (u) => {
        url = u;
        ready();
      },
    });
    await listening;
    const img = await pushImage(url, 'cli/app', 'v1');
    const orphan = await pushBlob(url, 'cli/app', 'orphan blob');
    ac.abort();
    assert.equal(await done, 0, c.err());

    backdate(root);
    const dry = capture();
    assert.equal(await runRegistry(['gc', '--root', root, '--dry-run'], dry.io), 0, dry.err());
    assert.match(dry.out(), new RegExp(`would delete blob ${orphan}`));
    assert.match(dry.out(), /1 repositories; manifests: 1 kept, 0 would delete; blobs: \d+ kept, 1 would delete/);

    const real = capture();
    assert.equal(await runRegistry(['gc', '--root', root, '--delete-untagged', '--grace', '0'], real.io), 0, real.err());
    assert.match(real.out(), new RegExp(`deleted blob ${orphan}`));
    for (const d of img.blobs) assert.ok(readdirSync(join(root, 'blobs', 'sha256')).includes(d.slice(7)));
  });

  it('reads a config file and refuses unknown keys and keys given twice', async () => {
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ root: join(dir, 'root2'), addr: '127.0.0.1:0', limits: { maxManifestBytes: 1024, uploadTtlMs: 60_000 } }));
    const c = capture();
    const ac = new AbortController();
    let url = '';
    const done = runRegistry(['serve', '--config', cfg, '--log-level', 'warn'], {
      ...c.io,
      signal: ac.signal,
      onListening: (u) => {
        url = u;
        ac.abort();
      },
    });
    assert.equal(await done, 0, c.err());
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const cases: Array<[string[], object | undefined, RegExp]> = [
      [['serve', '--bogus'], undefined, /unknown flag --bogus/],
      [['serve', '--config', cfg, '--root', '/x'], undefined, /root is set both as a flag and in the config file/],
      [['serve', '--config', join(dir, 'bad.json')], { root: '/x', colour: 'blue' }, /unknown key "colour"/],
      [['serve', '--config', join(dir, 'bad.json')], { limits: { maxManifestBytes: -1 } }, /limits.maxManifestBytes must be a positive number/],
      [['serve', '--proxy', 'nourl'], undefined, /expected PREFIX=URL/],
      [['serve', '--tls-cert', 'c.pem'], undefined, /--tls-cert and --tls-key go together/],
      [['gc', '--grace', 'soon'], undefined, /invalid duration/],
      [['frobnicate'], undefined, /unknown command "frobnicate"/],
    ];
    for (const [argv, file, want] of cases) {
      if (file) writeFileSync(join(dir, 'bad.json'), JSON.stringify(file));
      const e = capture();
      assert.equal(await runRegistry(argv, e.io), 125, argv.join(' '));
      assert.match(e.err(), want);
    }
    const h = capture();
    assert.equal(await runRegistry(['--help'], h.io), 0);
    assert.match(h.out(), /Usage:\s+pier registry COMMAND/);
  });

  it('--htpasswd and --proxy build the auth and pull-through hooks', async () => {
    const upstream = capture();
    const upAc = new AbortController();
    let upUrl = '';
    let upReady!: () => void;
    const upListening = new Promise<void>((res) => (upReady = res));
    const upDone = runRegistry(['serve', '--addr', '127.0.0.1:0', '--root', join(dir, 'up'), '--log-level', 'warn'], {
      ...upstream.io, signal: upAc.signal, onListening: (u) => { upUrl = u; upReady(); },
    });
    await upListening;
    const img = await pushImage(upUrl, 'lib/app', 'v1');

    const pw = join(dir, 'htpasswd');
    writeFileSync(pw, `bob:${(await import('bcryptjs')).default.hashSync('pw', 4)}\n`);
    const c = capture();
    const ac = new AbortController();
    let url = '';
    let ready!: () => void;
    const listening = new Promise<void>((res) => (ready = res));
    const done = runRegistry(['serve', '--addr', '127.0.0.1:0', '--root', join(dir, 'mirror'), '--htpasswd', pw, '--proxy', `up=${upUrl}`, '--log-level', 'warn'], {
      ...c.io, signal: ac.signal, onListening: (u) => { url = u; ready(); },
    });
    await listening;
    try {
      assert.equal((await req(url, 'GET', '/v2/')).status, 401);
      const auth = { Authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` };
      const m = await req(url, 'GET', '/v2/up/lib/app/manifests/v1', { headers: auth });
      assert.equal(m.status, 200, m.text());
      assert.equal(m.headers.get('docker-content-digest'), img.digest);
    } finally {
      ac.abort();
      upAc.abort();
    }
    assert.equal(await done, 0, c.err());
    assert.equal(await upDone, 0, upstream.err());
  });

  it('SIGTERM stops accepting, lets the request in flight finish, and exits 0', async () => {
    const s = await spawnServe(['--addr', '127.0.0.1:0', '--root', join(dir, 'root3')]);
    const data = randomBytes(2 * 1024 * 1024);
    const loc = (await req(s.url, 'POST', '/v2/sig/blobs/uploads/')).headers.get('location')!;
    let finish!: () => void;
    const inFlight = new Promise<number>((res, rej) => {
      const q = request(`${s.url}${loc}`, { method: 'PATCH', headers: { 'Content-Length': String(data.length) } }, (r) => {
        r.resume();
        res(r.statusCode!);
      });
      q.on('error', rej);
      q.write(data.subarray(0, 1024 * 1024));
      finish = () => q.end(data.subarray(1024 * 1024));
    });
    await new Promise((r) => setTimeout(r, 100));
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(() => req(s.url, 'GET', '/v2/'), 'no new connections once stopping');
    finish();
    assert.equal(await inFlight, 202, 'the request in flight completed');
    assert.equal(await s.exit, 0, s.stderr());
    assert.match(s.stderr(), /"signal":"SIGTERM"/);
  });

  it('keeps memory bounded with 50 concurrent uploads', { timeout: 120_000 }, async () => {
    const s = await spawnServe(['--addr', '127.0.0.1:0', '--root', join(dir, 'root4'), '--log-level', 'warn']);
    try {
      const PER = 24 * 1024 * 1024;
      const block = randomBytes(1024 * 1024);
      const upload = async (i: number) => {
        const loc = (await req(s.url, 'POST', `/v2/mem/u${i}/blobs/uploads/`)).headers.get('location')!;
        const h = createHash('sha256');
        const status = await new Promise<number>((res, rej) => {
          const q = request(`${s.url}${loc}`, { method: 'PATCH', headers: { 'Content-Length': String(PER) } }, (r) => {
            r.resume();
            res(r.statusCode!);
          });
          q.on('error', rej);
          let sent = 0;
          const pump = () => {
            while (sent < PER) {
              const chunk = Buffer.from(block);
              chunk.writeUInt32BE(i, 0); // a different blob per upload
              chunk.writeUInt32BE(sent, 4);
              h.update(chunk);
              sent += chunk.length;
              if (!q.write(chunk)) return void q.once('drain', pump);
            }
            q.end();
          };
          pump();
        });
        assert.equal(status, 202);
        const d = `sha256:${h.digest('hex')}`;
        assert.equal((await req(s.url, 'PUT', `${loc}?digest=${d}`)).status, 201);
        return d;
      };
      const digests = await Promise.all(Array.from({ length: 50 }, (_, i) => upload(i)));
      assert.equal(new Set(digests).size, 50);
      const status = readFileSync(`/proc/${s.child.pid}/status`, 'utf8');
      const peakKb = Number(status.match(/VmHWM:\s+(\d+) kB/)![1]);
      console.log(`registry peak RSS with 50 concurrent ${PER / 1024 / 1024} MiB uploads: ${(peakKb / 1024).toFixed(0)} MiB`);
      // 1.2 GiB went through; a server that buffered blobs would peak far above this.
      assert.ok(peakKb < 400 * 1024, `peak RSS ${peakKb} kB`);
    } finally {
      s.child.kill('SIGTERM');
      await s.exit;
    }
  });
});

