/**
 * POST /build with input meant to hurt or that is simply wrong: an ADDed tar
 * that tries to write outside the container, URLs, BuildKit-only flags, a
 * client that goes away mid-build, Dockerfile paths out of the context,
 * missing Dockerfiles and bodies that are not tars. Each fails clearly (or is
 * contained), leaves nothing behind, and the daemon keeps answering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, lstatSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { api, startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, demux, waitFor } from '../../harness/containers.js';
import { tarOf } from '../../harness/tars.js';
import { build, containerIds, contextTar, type Entry } from './helpers.js';

const skip = containerSkip();

/** Every path below dir whose name contains `part` (symlinks not followed). */
function findNamed(dir: string, part: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    let names: string[];
    try {
      names = readdirSync(p);
    } catch {
      return;
    }
    for (const n of names) {
      const q = join(p, n);
      if (n.includes(part)) out.push(q);
      try {
        if (lstatSync(q).isDirectory()) walk(q);
      } catch {
        /* gone meanwhile */
      }
    }
  };
  walk(dir);
  return out;
}

describe('build: bad input', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => d?.cleanup());

  const df = (text: string, files: Entry[] = []): Entry[] => [{ name: 'Dockerfile', content: text }, ...files];
  const alive = async () => {
    assert.equal((await api(d.sock, 'GET', '/_ping')).status, 200);
    const r = await build(d, df('FROM busybox\nRUN echo still-building\n'), 'nocache=1');
    assert.equal(r.error, undefined, r.text);
    assert.match(r.text, /^still-building$/m);
  };
  const runIn = async (image: string, script: string): Promise<string> => {
    const c = (await api(d.sock, 'POST', '/containers/create', { Image: image, Cmd: ['sh', '-c', script] })).json<{ Id: string }>();
    await api(d.sock, 'POST', `/containers/${c.Id}/start`);
    await api(d.sock, 'POST', `/containers/${c.Id}/wait`);
    const out = demux((await api(d.sock, 'GET', `/containers/${c.Id}/logs?stdout=1&stderr=1`)).body).map((f) => f.data).join('');
    await api(d.sock, 'DELETE', `/containers/${c.Id}?force=1`);
    return out;
  };

  it('ADD of a tar with ../, absolute and symlinked entries: each is refused or lands inside the image, nothing on the host', async () => {
    const tag = `x${Math.random().toString(36).slice(2, 10)}`;
    const cases: { what: string; entries: Parameters<typeof tarOf>[0]; host: string[] }[] = [
      { what: 'dot-dot', entries: [{ name: `../../escape-${tag}`, content: 'up\n' }, { name: `../../../../../../../../../escape-deep-${tag}`, content: 'up\n' }], host: [`/escape-${tag}`, `/escape-deep-${tag}`, `/tmp/escape-${tag}`, join(dirname(d.root), `escape-${tag}`)] },
      { what: 'absolute', entries: [{ name: `/abs-${tag}`, content: 'abs\n' }, { name: `/etc/abs-${tag}`, content: 'abs\n' }], host: [`/abs-${tag}`, `/etc/abs-${tag}`] },
      { what: 'symlink-to-root', entries: [{ name: 'evil', type: 'symlink', linkname: '/' }, { name: `evil/etc/pwned-${tag}`, content: 'pwned\n' }], host: [`/etc/pwned-${tag}`] },
      { what: 'symlink-up', entries: [{ name: 'up', type: 'symlink', linkname: '../../../../../../../../..' }, { name: `up/tmp/pwned-up-${tag}`, content: 'pwned\n' }], host: [`/tmp/pwned-up-${tag}`] },
    ];
    const before = await containerIds(d);
    for (const c of cases) {
      const evil = await tarOf(c.entries);
      const image = `evil-${c.what}-${tag}`;
      const r = await build(d, df('FROM busybox\nADD evil.tar /dst/\nRUN echo added\n', [{ name: 'evil.tar', content: evil }]), `t=${image}`);
      for (const p of c.host) assert.ok(!existsSync(p), `${c.what}: ${p} was written on the host`);
      if (r.error === undefined) {
        // Then the entries landed inside the image, under its root.
        const found = (await runIn(image, `find / -xdev -name '*${tag}*' | sort`)).trim().split('\n').filter(Boolean);
        assert.ok(found.length > 0, `${c.what}: the build succeeded but nothing of the tar is in the image:\n${r.text}`);
      } else {
        assert.match(r.error, /outside|invalid|forbidden|breakout|escape/i, `${c.what}: ${r.error}`);
      }
    }
    // In the daemon's root, only inside the snapshots' file systems (the image layers).
    for (const p of findNamed(d.root, tag)) assert.match(p.slice(d.root.length), /^\/data\/snapshots\/[^/]+\/snapshots\/[^/]+\/fs\//, `${p} is outside any snapshot's file system`);
    assert.deepEqual(await containerIds(d), before, 'no intermediate container left');
    await alive();
  });

  it('ADD of an http URL fails clearly, before any step runs', async () => {
    const r = await build(d, df('FROM busybox\nRUN echo before\nADD http://127.0.0.1:9/file.txt /f\n'));
    assert.ok(r.error, r.text);
    assert.match(r.error, /ADD http:\/\/127\.0\.0\.1:9\/file\.txt: downloading from a URL is not supported/);
  });

  it('RUN --mount (BuildKit only) fails with the classic builder\'s "requires BuildKit" error', async () => {
    const r = await build(d, df('FROM busybox\nRUN --mount=type=cache,target=/root/.cache echo hi\n'));
    assert.equal(r.error, 'the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled');
    const net = await build(d, df('FROM busybox\nRUN --network=none echo hi\n'));
    assert.match(net.error ?? '', /^the --network option requires BuildKit\./);
  });

  it('a client that goes away during RUN sleep 30: within seconds no container of the build remains, and the daemon still builds', async () => {
    const before = await containerIds(d);
    const body = await contextTar(df('FROM busybox\nRUN echo started && sleep 30\n'));
    const started = Date.now();
    let during: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request({ socketPath: d.sock, method: 'POST', path: '/build?nocache=1', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
        let seen = '';
        let aborted = false;
        res.on('data', (c: Buffer) => {
          seen += c.toString();
          // The RUN's own output (not the step line, which also says "started").
          if (!aborted && /"stream":"started\\n"/.test(seen)) {
            aborted = true;
            void containerIds(d).then((ids) => {
              during = ids;
              req.destroy();
              resolve();
            }, reject);
          }
        });
        res.on('error', () => undefined);
        res.on('end', () => {
          if (!aborted) reject(new Error(`the build ended before the RUN started: ${seen}`));
        });
      });
      req.on('error', () => undefined);
      req.end(body);
    });
    assert.equal(during.filter((id) => !before.includes(id)).length, 1, 'the RUN ran in a container of its own');
    // The RUN's container existed meanwhile; now it goes.
    await waitFor('the build\'s containers to be gone', async () => JSON.stringify(await containerIds(d)) === JSON.stringify(before), 8000, 100);
    assert.ok(Date.now() - started < 15_000, 'gone long before the sleep would have ended');
    const builds = join(d.dataRoot, 'builds');
    await waitFor('the build\'s context to be removed', () => !existsSync(builds) || readdirSync(builds).length === 0, 5000, 100);
    await alive();
  });

  it('a Dockerfile in a subdirectory (dockerfile=sub/Dockerfile); ../x and a symlink out are refused', async () => {
    const sub = await build(d, [
      { name: 'sub/Dockerfile', content: 'FROM busybox\nCOPY top.txt /\nRUN cat /top.txt\n' },
      { name: 'top.txt', content: 'context root file\n' },
    ], 'dockerfile=sub/Dockerfile');
    assert.equal(sub.error, undefined, sub.text);
    assert.match(sub.text, /^context root file$/m);

    const up = await build(d, df('FROM busybox\n'), `dockerfile=${encodeURIComponent('../x')}`);
    assert.match(up.error ?? '', /forbidden path outside the build context: \.\.\/x|Cannot locate specified Dockerfile: \.\.\/x/);
    const abs = await build(d, df('FROM busybox\n'), `dockerfile=${encodeURIComponent('/etc/passwd')}`);
    assert.match(abs.error ?? '', /Cannot locate specified Dockerfile: \/etc\/passwd/);
    const link = await build(d, [{ name: 'Dockerfile', type: 'symlink', linkname: '/etc/passwd' }]);
    assert.ok(link.error, link.text);
    assert.doesNotMatch(link.text + link.error, /root:x:0:0/, 'the host\'s /etc/passwd was read');
  });

  it('an empty context, and a context without the named Dockerfile: "Cannot locate specified Dockerfile"', async () => {
    const empty = await build(d, []);
    assert.equal(empty.error, 'Cannot locate specified Dockerfile: Dockerfile');
    const named = await build(d, df('FROM busybox\n'), 'dockerfile=Dockerfile.prod');
    assert.equal(named.error, 'Cannot locate specified Dockerfile: Dockerfile.prod');
  });

  it('a body that is not a tar: an error (status or message), no leftovers, the daemon still fine', async () => {
    const before = await containerIds(d);
    for (const body of [Buffer.from('FROM busybox\nRUN echo this is a Dockerfile, not a tar\n'.repeat(20)), Buffer.alloc(4096, 0x41)]) {
      const r = await build(d, body);
      assert.ok(r.error, `no error for a body that is not a tar: ${r.text}`);
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status}: ${r.error}`);
    }
    assert.deepEqual(await containerIds(d), before);
    const builds = join(d.dataRoot, 'builds');
    assert.deepEqual(existsSync(builds) ? readdirSync(builds) : [], [], 'no build directory left behind');
    await alive();
  });
});
