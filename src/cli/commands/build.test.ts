import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerize, FakeEngine, haveDocker, pier, type CliResult, type Recorded } from './fake-engine.js';

// A tar entry as the daemon would read it (lenient like Go's tar.Reader: docker's
// CLI sends archives cut short after the last file when it adds a Dockerfile).
interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  content: string;
}

function tarEntries(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  const str = (b: Buffer) => b.toString('utf8').replace(/\0.*$/s, '');
  const num = (b: Buffer) => parseInt(str(b).trim() || '0', 8);
  for (let i = 0; i + 512 <= buf.length; ) {
    const h = buf.subarray(i, i + 512);
    if (h.every((b) => b === 0)) break;
    const prefix = str(h.subarray(345, 500));
    const size = num(h.subarray(124, 136));
    out.push({
      name: (prefix ? prefix + '/' : '') + str(h.subarray(0, 100)),
      type: String.fromCharCode(h[156]!),
      mode: num(h.subarray(100, 108)),
      uid: num(h.subarray(108, 116)),
      gid: num(h.subarray(116, 124)),
      size,
      mtime: num(h.subarray(136, 148)),
      linkname: str(h.subarray(157, 257)),
      uname: str(h.subarray(265, 297)),
      content: buf.subarray(i + 512, i + 512 + size).toString('latin1'),
    });
    i += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Entries with the random name of an added Dockerfile made constant. */
const RANDOM = /\.dockerfile\.[0-9a-f]{20}/g;
const stable = (es: TarEntry[]) => es.map((e) => ({ ...e, name: e.name.replace(RANDOM, '.dockerfile.X'), content: e.content.replace(RANDOM, '.dockerfile.X') }));
const brief = (es: TarEntry[]) => stable(es).map((e) => `${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.name}${e.linkname ? ' -> ' + e.linkname : ''}`);

const ENV = { DOCKER_BUILDKIT: '0' };
const NOTICE = `DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0
            environment-variable.

`;
const ID = 'sha256:4d7fd6b2c6f0b0e3f0e5d7e4f4b4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6';
const OK_STREAM = [
  { stream: 'Step 1/1 : FROM scratch\n' },
  { stream: ' ---> \n' },
  { aux: { ID } },
  { stream: `Successfully built ${ID.slice(7, 19)}\n` },
].map((m) => JSON.stringify(m)).join('\r\n') + '\r\n';

let root: string;
let ctx: string;
let engine: FakeEngine;
let reply: string = OK_STREAM;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'build-cli-')); // no "pier" in the name: dockerize() would rename it
  ctx = join(root, 'ctx');
  const w = (p: string, s: string, mode?: number) => {
    mkdirSync(join(ctx, p, '..'), { recursive: true });
    writeFileSync(join(ctx, p), s);
    if (mode !== undefined) chmodSync(join(ctx, p), mode);
  };
  w('Dockerfile', 'FROM scratch\nCOPY . /\n');
  w('.dockerignore', [
    '# build output and logs', '**/*.log', '!keep.log', '/build', 'docs', '!docs/README.md', 'node_modules',
    '*.tmp', '!important.tmp', 'Dockerfile', '.dockerignore', '',
  ].join('\n'));
  for (const f of ['a.txt', 'app.log', 'keep.log', 'src/main.c', 'src/debug.log', 'src/deep/x.log', 'src/deep/y.c', 'build/out.bin',
    'sub/build/x', 'docs/guide.md', 'docs/README.md', 'node_modules/m/index.js', 'x.tmp', 'important.tmp', 'hard1']) w(f, `${f}\n`);
  w('bin/run.sh', '#!/bin/sh\n', 0o755);
  mkdirSync(join(ctx, 'empty'));
  chmodSync(join(ctx, 'empty'), 0o700);
  linkSync(join(ctx, 'hard1'), join(ctx, 'hard2'));
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside/secret'), 'not to be sent\n');
  writeFileSync(join(root, 'outside/Dockerfile.other'), 'FROM busybox\n');
  symlinkSync('../outside/secret', join(ctx, 'link-out'));
  symlinkSync('/etc/passwd', join(ctx, 'link-abs'));
  // Fixed mtimes: docker and pier read the same files, and the test can name them.
  const t = new Date('2024-05-01T10:00:00.750Z');
  for (const p of ['.', 'Dockerfile', 'a.txt', 'bin', 'bin/run.sh', 'src', 'src/main.c']) utimesSync(join(ctx, p), t, t);
  mkdirSync(join(root, 'nodockerfile'));
  engine = await new FakeEngine((r) => (r.path === '/build' ? { text: reply, headers: { 'Content-Type': 'application/json' } } : undefined)).start();
});

after(async () => {
  await engine.stop();
  rmSync(root, { recursive: true, force: true });
});

interface RunOptions {
  stdin?: string | Buffer;
  env?: Record<string, string>;
  tty?: boolean;
}

/** Run a CLI against the fake daemon (docker in `root`, where the docker-side tests also chdir pier). */
async function run(cli: 'pier' | 'docker', args: string[], o: RunOptions = {}): Promise<CliResult & { reqs: Recorded[] }> {
  const n = engine.requests.length;
  const env = { ...ENV, ...o.env };
  const r = cli === 'pier' ? await pier(engine.host, args, { ...o, env }) : await docker(engine.host, args, { ...o, env, cwd: root });
  return { ...r, reqs: engine.since(n) };
}

/** The request as docker's client builds it: method, path, decoded query in order, the headers that matter. */
const request = (r: Recorded) => ({
  method: r.method,
  path: r.path,
  query: [...r.query].map(([k, v]) => [k, v.replace(RANDOM, '.dockerfile.X')]),
  contentType: r.headers['content-type'],
  registryConfig: r.headers['x-registry-config'],
  chunked: r.headers['transfer-encoding'],
});

describe('pier build', () => {
  it('sends the context to POST /build and renders the stream', async () => {
    const p = await run('pier', ['build', '-t', 'app:1', ctx]);
    assert.equal(p.code, 0, p.err);
    assert.equal(p.err, NOTICE);
    assert.equal(p.out, `Sending build context to Docker daemon   16.9kB\r\r\nStep 1/1 : FROM scratch\n ---> \nSuccessfully built ${ID.slice(7, 19)}\n`);
    assert.equal(p.reqs.length, 1);
    assert.deepEqual(request(p.reqs[0]!), {
      method: 'POST', path: '/build', query: [['dockerfile', 'Dockerfile'], ['t', 'app:1'], ['version', '1']],
      contentType: 'application/x-tar', registryConfig: 'e30=', chunked: 'chunked',
    });
  });

  it('applies .dockerignore like docker: **, ! exceptions, /, directories; Dockerfile and .dockerignore always sent', async () => {
    const p = await run('pier', ['build', ctx]);
    const entries = tarEntries(p.reqs[0]!.body);
    assert.deepEqual(brief(entries), [
      '0 644 0:0 .dockerignore',
      '0 644 0:0 Dockerfile',
      '0 644 0:0 a.txt',
      '5 755 0:0 bin/',
      '0 755 0:0 bin/run.sh',
      '0 644 0:0 docs/README.md', // an exception under an excluded directory: the file without its directory
      '5 700 0:0 empty/',
      '0 644 0:0 hard1',
      '1 644 0:0 hard2 -> hard1',
      '0 644 0:0 important.tmp',
      '0 644 0:0 keep.log',
      '2 777 0:0 link-abs -> /etc/passwd',
      '2 777 0:0 link-out -> ../outside/secret', // a symlink, never followed
      '5 755 0:0 src/',
      '5 755 0:0 src/deep/',
      '0 644 0:0 src/deep/y.c',
      '0 644 0:0 src/main.c',
      '5 755 0:0 sub/',
      '5 755 0:0 sub/build/', // "/build" is only the top-level one
      '0 644 0:0 sub/build/x',
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('Dockerfile')!.content, 'FROM scratch\nCOPY . /\n');
    assert.equal(byName.get('Dockerfile')!.mtime, Math.floor(Date.parse('2024-05-01T10:00:00Z') / 1000), 'mtime kept, cut to the second');
    assert.equal(byName.get('src/')!.mtime, Math.floor(Date.parse('2024-05-01T10:00:00Z') / 1000));
    assert.equal(byName.get('bin/run.sh')!.uname, '', 'no user names');
    assert.ok(!entries.some((e) => e.content.includes('not to be sent')));
  });

  it('-f - adds the Dockerfile from stdin under a random name and lists it in .dockerignore', async () => {
    const p = await run('pier', ['build', '-f', '-', ctx], { stdin: 'FROM busybox\n' });
    assert.equal(p.code, 0, p.err);
    const q = request(p.reqs[0]!).query;
    assert.deepEqual(q, [['dockerfile', '.dockerfile.X'], ['version', '1']]);
    assert.match(p.reqs[0]!.query.get('dockerfile')!, /^\.dockerfile\.[0-9a-f]{20}$/);
    const entries = stable(tarEntries(p.reqs[0]!.body));
    assert.ok(!entries.some((e) => e.name === 'Dockerfile'), 'the context\'s Dockerfile is excluded (stdin replaces it)');
    const ignore = entries.find((e) => e.name === '.dockerignore')!;
    assert.ok(ignore.content.endsWith('.dockerignore\n\n.dockerfile.X\n'));
    const added = entries.at(-1)!;
    assert.deepEqual([added.name, added.type, added.mode, added.uid, added.content], ['.dockerfile.X', '0', 0o600, 0, 'FROM busybox\n']);
  });

  it('-f outside the context sends that file under a random name', async () => {
    const p = await run('pier', ['build', '-f', join(root, 'outside/Dockerfile.other'), join(root, 'nodockerfile')]);
    assert.equal(p.code, 0, p.err);
    assert.deepEqual(brief(tarEntries(p.reqs[0]!.body)), ['0 600 0:0 .dockerignore', '0 600 0:0 .dockerfile.X']);
    assert.equal(stable(tarEntries(p.reqs[0]!.body))[0]!.content, '.dockerignore\n.dockerfile.X\n');
  });

  it('PATH -: a tar on stdin is sent as it is; a Dockerfile becomes a context of its own', async () => {
    const tar = (await run('pier', ['build', ctx])).reqs[0]!.body;
    const p = await run('pier', ['build', '-f', 'src/main.c', '-'], { stdin: tar });
    assert.equal(p.code, 0, p.err);
    assert.ok(p.reqs[0]!.body.equals(tar));
    assert.deepEqual(request(p.reqs[0]!).query, [['dockerfile', 'src/main.c'], ['version', '1']]);
    const d = await run('pier', ['build', '-'], { stdin: 'FROM scratch\n' });
    assert.equal(d.out.split('\n')[0], 'Sending build context to Docker daemon  2.048kB\r\r');
    const [e] = tarEntries(d.reqs[0]!.body);
    assert.deepEqual([e!.name, e!.type, e!.content, e!.uid], ['Dockerfile', '0', 'FROM scratch\n', process.getuid!()]);
    assert.deepEqual(request(d.reqs[0]!).query, [['dockerfile', 'Dockerfile'], ['version', '1']]);
  });

  it('--iidfile gets the ID from the aux message; -q prints only what the daemon said', async () => {
    const iid = join(root, 'iid');
    writeFileSync(iid, 'stale');
    let p = await run('pier', ['build', '--iidfile', iid, ctx]);
    assert.equal(p.code, 0, p.err);
    assert.equal(readFileSync(iid, 'utf8'), ID);
    reply = [{ stream: `${ID}\n` }, { aux: { ID } }].map((m) => JSON.stringify(m) + '\n').join('');
    try {
      p = await run('pier', ['build', '-q', ctx]);
      assert.deepEqual([p.code, p.out, p.err], [0, `${ID}\n`, NOTICE]);
      assert.equal(p.reqs[0]!.query.get('q'), '1');
      // No ID: the old file is gone and the build fails.
      reply = JSON.stringify({ stream: 'Successfully built\n' }) + '\n';
      p = await run('pier', ['build', '--iidfile', iid, ctx]);
      assert.equal(p.code, 1);
      assert.equal(p.err, `${NOTICE}Server did not provide an image ID. Cannot write ${iid}\n`);
      assert.equal(existsSync(iid), false);
    } finally {
      reply = OK_STREAM;
    }
  });

  it('an error in the stream ends the build with its code and text (-q shows what was held back)', async () => {
    reply = [{ stream: 'Step 1/2 : RUN false\n' }, { errorDetail: { message: "The command '/bin/sh -c false' returned a non-zero code: 1", code: 1 }, error: "The command '/bin/sh -c false' returned a non-zero code: 1" }]
      .map((m) => JSON.stringify(m) + '\n').join('');
    try {
      let p = await run('pier', ['build', ctx]);
      assert.deepEqual([p.code, p.out.split('\r\r\n')[1], p.err], [1, 'Step 1/2 : RUN false\n', `${NOTICE}The command '/bin/sh -c false' returned a non-zero code: 1\n`]);
      p = await run('pier', ['build', '-q', ctx]);
      assert.deepEqual([p.code, p.out], [1, '']);
      assert.equal(p.err, `${NOTICE}Sending build context to Docker daemon   16.9kB\r\r\nStep 1/2 : RUN false\nThe command '/bin/sh -c false' returned a non-zero code: 1\n`);
      reply = JSON.stringify({ errorDetail: { message: 'boom', code: 7 }, error: 'boom' }) + '\n';
      p = await run('pier', ['build', ctx]);
      assert.equal(p.code, 7);
    } finally {
      reply = OK_STREAM;
    }
  });

  it('fails to prepare the context with docker\'s messages', async () => {
    const cases: [string[], string][] = [
      [['build', join(ctx, 'a.txt')], `unable to prepare context: context must be a directory: ${join(ctx, 'a.txt')}`],
      [['build', join(root, 'nope')], `unable to prepare context: path ${JSON.stringify(join(root, 'nope'))} not found`],
      [['build', join(root, 'nodockerfile')], `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${join(root, 'nodockerfile/Dockerfile')}: no such file or directory`],
      [['build', '-f', '-', '-'], "invalid argument: can't use stdin for both build context and dockerfile"],
      [['build', '-f', 'x', '-'], 'unable to prepare context: ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles'],
    ];
    for (const [args, msg] of cases) {
      const p = await run('pier', args, { stdin: 'FROM scratch\n' });
      assert.deepEqual([p.code, p.err, p.reqs.length], [1, `${NOTICE}${msg}\n`, 0], args.join(' '));
    }
  });

  it('redraws the upload count in place on a terminal', async () => {
    const big = join(root, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(join(big, 'blob'), randomBytes(3_000_000));
    const p = await run('pier', ['build', big], { tty: true });
    const lines = p.out.split('\r\r\n')[0]!.split('\r');
    assert.ok(lines.length >= 2, JSON.stringify(p.out));
    for (const l of lines) assert.match(l, /^Sending build context to Docker daemon  +[\d.]+[kM]B$/);
    assert.equal(lines.at(-1), 'Sending build context to Docker daemon  3.003MB');
  });

  it('DOCKER_BUILDKIT: the notice only when BuildKit is turned off, an error when it is asked for', async () => {
    let p = await run('pier', ['build', ctx], { env: { DOCKER_BUILDKIT: '' } });
    assert.equal(p.err, '');
    p = await run('pier', ['build', ctx], { env: { DOCKER_BUILDKIT: '1' } });
    assert.deepEqual([p.code, p.reqs.length], [1, 0]);
    assert.match(p.err, /^ERROR: BuildKit is enabled but the buildx component is missing or broken\./);
    p = await run('pier', ['build', ctx], { env: { DOCKER_BUILDKIT: 'maybe' } });
    assert.equal(p.err, 'DOCKER_BUILDKIT environment variable expects boolean value: strconv.ParseBool: parsing "maybe": invalid syntax\n');
  });
});

describe('pier build and docker build (DOCKER_BUILDKIT=0) against the same daemon', { skip: haveDocker() ? false : 'the docker CLI is not installed' }, () => {
  let cwd: string;
  before(() => {
    cwd = process.cwd();
    process.chdir(root); // relative paths (-f is relative to the working directory)
  });
  after(() => process.chdir(cwd));

  /**
   * Run both and compare exit code, output, requests and the context sent.
   * `cutByDocker`: docker closes its pipe before its tar writer when it adds a
   * Dockerfile, so its archive lacks the last padding and the end blocks (and
   * the two added entries come in random order); pier sends a whole archive, so
   * only the upload count may differ.
   */
  async function compare(args: string[], o: RunOptions & { cutByDocker?: boolean; namesOnly?: boolean } = {}) {
    const d = await run('docker', args, o);
    const p = await run('pier', args, o);
    const count = (s: string) => (o.cutByDocker ? s.replace(/^Sending build context to Docker daemon +\S+\r\r\n/, '') : s);
    assert.equal(p.code, d.code, `exit code: ${p.err} / ${d.err}`);
    assert.equal(dockerize(p.err), d.err, 'stderr');
    assert.equal(count(p.out), count(d.out), 'stdout');
    assert.deepEqual(p.reqs.map(request), d.reqs.map(request), 'requests');
    const entries = (r: Recorded) => {
      // What was made now (the added Dockerfile, a new .dockerignore) has the mtime of the run.
      const es = stable(tarEntries(r.body)).map((e) => (e.name === '.dockerfile.X' || (e.name === '.dockerignore' && e.mode === 0o600) ? { ...e, mtime: 0 } : e));
      const sorted = o.cutByDocker ? es.sort((x, y) => (x.name < y.name ? -1 : 1)) : es;
      return o.namesOnly ? brief(sorted) : sorted;
    };
    assert.deepEqual(p.reqs.map(entries), d.reqs.map(entries), 'context');
    if (!o.cutByDocker && !o.namesOnly) assert.deepEqual(p.reqs.map((r) => r.body.length), d.reqs.map((r) => r.body.length), 'context size');
  }

  for (const args of [
    ['build', 'ctx'],
    ['build', '-t', 'a:1', '-t', 'b', '--build-arg', 'X=1', '--build-arg', 'FROMENV', '--build-arg', 'UNSET', '--label', 'l=1', '--label', 'm',
      '--target', 't1', '--no-cache', '--pull', '--network', 'host', '--rm=false', '--force-rm', '--cache-from', 'c1,c2', '--cache-from', 'c3',
      '--shm-size', '64m', '--add-host', 'h:1.2.3.4', '--add-host', 'g=[::1]', '--platform', 'linux/AMD64', '--isolation', 'process',
      '--cpu-shares', '5', '--cpu-period', '1000', '--cpu-quota', '500', '--cpuset-cpus', '0-1', '--cpuset-mems', '0', '-m', '100m', '-m', '200m',
      '--memory-swap', '-1', '--cgroup-parent', 'cg', '--ulimit', 'nofile=10:20', '--security-opt', 'seccomp=unconfined', '--iidfile', 'iid.txt', 'ctx'],
    ['build', '--network', 'default', '--isolation', 'default', '--rm', '--cpu-shares', '0', '--build-arg', 'X=<&>', 'ctx'],
    ['build', '-q', 'ctx'],
    ['build', '-f', 'ctx/src/main.c', 'ctx'],
    ['build', 'ctx/a.txt'], ['build', 'nope'], ['build', 'nodockerfile'], ['build', '-f', 'outside/nope', 'ctx'], ['build', '--squash', 'ctx'],
  ]) {
    it(args.slice(1).join(' '), async () => {
      await compare(args, { env: { FROMENV: 'from the environment' } });
    });
  }

  it('-f outside the context', async () => {
    await compare(['build', '-f', 'outside/Dockerfile.other', 'ctx'], { cutByDocker: true });
  });

  it('credentials and proxies of the config file go with the build', async () => {
    const cfg = join(root, 'cfg');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({
      auths: { 'localhost:5000': { auth: Buffer.from('u:p').toString('base64') }, 'https://index.docker.io/v1/': { auth: Buffer.from('alice:s<&>').toString('base64'), identitytoken: 'tok' }, 'reg.example': {} },
      proxies: { default: { httpProxy: 'http://proxy:3128', noProxy: 'localhost' } },
    }));
    await compare(['build', '--build-arg', 'http_proxy=mine', 'ctx'], { env: { DOCKER_CONFIG: cfg } });
  });

  it('-f - and PATH -', async () => {
    await compare(['build', '-f', '-', 'ctx'], { stdin: 'FROM busybox\n', cutByDocker: true });
    await compare(['build', '-'], { stdin: 'FROM scratch\n' });
    const tar = (await run('pier', ['build', 'ctx'])).reqs[0]!.body;
    await compare(['build', '-f', 'src/main.c', '-'], { stdin: tar });
    await compare(['build', '-f', '-', '-'], { stdin: 'x' });
    await compare(['build', '-f', 'x', '-'], { stdin: 'FROM scratch\n' });
  });

  it('.dockerignore edge cases where @balena/dockerignore and docker disagree', async () => {
    const cases: Record<string, [string, string[]]> = {
      plus: ['*.c++\n', ['a.c++', 'b.txt']],
      parens: ['a(b)\n', ['a(b)', 'ab']],
      parents: ['*\n!tmp/keep\ntmp\n!Dockerfile\n', ['tmp/keep', 'tmp/other', 'x']],
      suffix: ['**foo\n*.log\n', ['barfoo', 'foo', 'A.LOG']],
      classes: ['[a-c]?.txt\n\\*.md\n', ['ab.txt', 'dd.txt', '*.md', 'x.md']],
    };
    for (const [name, [ignore, files]] of Object.entries(cases)) {
      const dir = join(root, 'ig', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
      writeFileSync(join(dir, '.dockerignore'), ignore);
      for (const f of files) {
        mkdirSync(join(dir, f, '..'), { recursive: true });
        writeFileSync(join(dir, f), f);
      }
      await compare(['build', join('ig', name)]);
    }
  });

  it('reading the context fails like docker: bad .dockerignore patterns', async () => {
    for (const [name, ignore] of [['bang', '!\n'], ['bracket', 'a[\n']]) {
      const dir = join(root, 'bad', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
      writeFileSync(join(dir, '.dockerignore'), ignore);
      await compare(['build', join('bad', name)]);
    }
  });

  it('stream errors, aux messages and -q like docker', async () => {
    const replies = [
      [{ stream: 'Step 1/2 : FROM scratch\n' }, { errorDetail: { message: 'returned a non-zero code: 3', code: 3 }, error: 'returned a non-zero code: 3' }],
      [{ errorDetail: { message: 'unauthorized', code: 401 }, error: 'unauthorized' }], // exit status 401 is 145 for both
      [{ stream: `${ID}\n` }, { aux: { ID } }],
      [{ aux: 'str' }, { aux: { id: 'sha256:lower' } }, { aux: { ID: 5 } }, { stream: 'done\n' }],
    ];
    try {
      for (const msgs of replies) {
        reply = msgs.map((m) => JSON.stringify(m) + '\n').join('');
        for (const args of [['build', 'ctx'], ['build', '-q', 'ctx'], ['build', '-q', '--iidfile', 'iid2.txt', 'ctx']]) {
          rmSync(join(root, 'iid2.txt'), { force: true });
          await compare(args);
          const iid = join(root, 'iid2.txt');
          if (args.includes('--iidfile') && existsSync(iid)) assert.ok(statSync(iid).isFile());
        }
      }
    } finally {
      reply = OK_STREAM;
    }
  });

  it('URL contexts: a tar, a Dockerfile, a git repository (with ref and subdirectory)', async () => {
    const web = join(root, 'web');
    mkdirSync(web);
    writeFileSync(join(web, 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(join(web, 'big.Dockerfile'), 'FROM scratch\n'.repeat(400));
    writeFileSync(join(web, 'ctx.tar'), (await run('pier', ['build', 'ctx'])).reqs[0]!.body);
    const git = (cwd: string, ...a: string[]) => execFileSync('git', a, { cwd, stdio: 'ignore', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root } });
    let haveGit = true;
    try {
      const src = join(root, 'gitsrc');
      mkdirSync(join(src, 'sub'), { recursive: true });
      writeFileSync(join(src, 'Dockerfile'), 'FROM scratch\n');
      writeFileSync(join(src, 'sub/Dockerfile'), 'FROM busybox\n');
      git(src, 'init', '-q', '-b', 'master');
      git(src, 'add', '.');
      git(src, '-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'init');
      git(root, 'clone', '-q', '--bare', src, join(web, 'repo.git'));
      git(join(web, 'repo.git'), 'update-server-info'); // served by a plain (dumb) HTTP server
    } catch {
      haveGit = false;
    }
    const server = createServer((req, res) => {
      const path = join(web, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!path.startsWith(web) || !existsSync(path) || statSync(path).isDirectory()) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        return void res.end('not found\n');
      }
      // With a length: docker's last read of a chunked body brings EOF or not depending on how the bytes arrive.
      const body = readFileSync(path);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // docker leaves the clone behind when it builds a subdirectory of it: remove what appears meanwhile.
    const clones = () => new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('docker-build-git')));
    const before = clones();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await compare(['build', `${base}/ctx.tar`]);
      await compare(['build', '-q', `${base}/ctx.tar`]);
      await compare(['build', `${base}/Dockerfile`]);
      await compare(['build', `${base}/big.Dockerfile`]);
      await compare(['build', '-f', '-', `${base}/Dockerfile`], { stdin: 'FROM x\n' });
      await compare(['build', `${base}/missing`]);
      if (haveGit) {
        // Two clones differ in their .git (index timestamps) and mtimes: the same entries are enough.
        await compare(['build', `${base}/repo.git`], { namesOnly: true });
        await compare(['build', `${base}/repo.git#master:sub`], { namesOnly: true });
        await compare(['build', '-f', '../Dockerfile', `${base}/repo.git#:sub`]);
        await compare(['build', `${base}/repo.git#nope`]);
      }
    } finally {
      server.close();
      for (const n of clones()) if (!before.has(n)) rmSync(join(tmpdir(), n), { recursive: true, force: true });
    }
  });

  it('--help (pier has no `builder` command to list)', async () => {
    const d = await run('docker', ['build', '--help']);
    const p = await run('pier', ['build', '--help']);
    assert.equal(dockerize(p.out), d.out.replace(', docker builder build', ''));
  });
});
