/**
 * `docker build` (the real docker 28 CLI, DOCKER_BUILDKIT=0: the classic
 * builder's API) against pierd: the output the CLI prints, its exit codes,
 * -q and --iidfile, .dockerignore, and what `docker image inspect`,
 * `docker history` and `docker run` then show of the image.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip } from '../../harness/containers.js';
import { containerIds, count, docker, steps, writeContext } from './helpers.js';

const skip = containerSkip({ docker: true });

const DOCKERFILE = `FROM busybox AS base
ARG GREETING=hi
ENV APP_ENV=prod
WORKDIR /app
COPY . /app/
RUN echo "$GREETING from $APP_ENV" > /greeting
EXPOSE 8080 9090/udp
LABEL org.example.from=dockerfile
USER 1000:1000
CMD ["cat", "/greeting"]

FROM base AS never-built
RUN exit 9
`;

describe('docker build (classic builder) with the real CLI', { skip }, () => {
  let d: TestDaemon;
  let ctx = '';
  const dk = (...args: string[]) => docker(d, args, { cwd: ctx });
  const ok = async (...args: string[]) => {
    const r = await dk(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const BASE = ['-t', 'cli-x', '--build-arg', 'GREETING=hello', '-f', 'build/app.Dockerfile', '--target', 'base'];
  // --label is tested on its own too (its step is not cached: see the --label test), so the cache tests build without it.
  const FLAGS = [...BASE, '--label', 'org.example.by=cli'];

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
    ctx = join(d.root, 'ctx');
    mkdirSync(ctx);
    writeContext(ctx, {
      'build/app.Dockerfile': DOCKERFILE,
      'kept.txt': 'kept\n',
      'secret.txt': 'do not send\n',
      'logs/a.log': 'log\n',
      'logs/keep.me': 'kept too\n',
      '.dockerignore': '# build output and secrets\nsecret.txt\nlogs/*.log\n',
    });
  });
  after(async () => d?.cleanup());

  it('prints the classic output; a rebuild is all cache and gives the same image', async () => {
    const first = await dk('build', ...BASE, '.');
    assert.equal(first.code, 0, first.stderr);
    const out = first.stdout;
    assert.match(out, /^Sending build context to Docker daemon\s+\d+(\.\d+)?k?B\r*\n/);
    assert.match(out, /^Step 1\/\d+ : FROM busybox AS base$/m);
    assert.match(out, /^Step 6\/\d+ : RUN echo "\$GREETING from \$APP_ENV" > \/greeting\n ---> Running in [0-9a-f]{12}\n/m);
    assert.doesNotMatch(out, /exit 9/, 'the stage after the target is not built');
    assert.doesNotMatch(out, /Using cache/);
    const built = out.match(/^Successfully built ([0-9a-f]{12})$/m)?.[1];
    assert.ok(built, out);
    assert.match(out, /^Successfully tagged cli-x:latest$/m);
    assert.equal((await ok('image', 'inspect', '-f', '{{.Id}}', 'cli-x')).trim().slice(7, 19), built);

    const again = await dk('build', ...BASE, '.');
    assert.equal(again.code, 0, again.stderr);
    // Every step after FROM (and ARG, which makes no image here) comes from the cache.
    for (const s of steps(again.stdout).slice(1)) if (!/^Step \d+\/\d+ : (FROM|ARG) /.test(s)) assert.match(s, /\n ---> Using cache\n/, s);
    assert.doesNotMatch(again.stdout, /Running in/);
    assert.match(again.stdout, new RegExp(`^Successfully built ${built}$`, 'm'));
  });

  it('--iidfile gets the image ID; --no-cache runs every step again', async () => {
    const iid = join(d.root, 'iid');
    const r = await dk('build', ...BASE, '--no-cache', '--iidfile', iid, '.');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(count(r.stdout, /Using cache/), 0, r.stdout);
    assert.match(r.stdout, /Running in [0-9a-f]{12}\n/);
    const id = readFileSync(iid, 'utf8').trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.match(r.stdout, new RegExp(`^Successfully built ${id.slice(7, 19)}$`, 'm'));
    assert.equal((await ok('image', 'inspect', '-f', '{{.Id}}', 'cli-x')).trim(), id);
  });

  it('-q prints only the image ID (the daemon streams it: Docker\'s quiet output), and --iidfile works with it', async () => {
    const iid = join(d.root, 'iid-q');
    const r = await dk('build', ...BASE, '-q', '.');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal((await ok('image', 'inspect', '-f', '{{.Id}}', 'cli-x')).trim(), r.stdout.trim());
    const withFile = await dk('build', ...BASE, '-q', '--iidfile', iid, '.');
    assert.equal(withFile.code, 0, withFile.stderr);
    assert.equal(readFileSync(iid, 'utf8').trim(), r.stdout.trim());
  });

  it('a --label is a step of its own (Docker: "LABEL k=v" on the target), cached like the rest: a rebuild gives the same image', async () => {
    const a = await dk('build', ...FLAGS, '.');
    const b = await dk('build', ...FLAGS, '.');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const idOf = (s: string) => s.match(/^Successfully built ([0-9a-f]{12})$/m)?.[1];
    assert.equal(idOf(b.stdout), idOf(a.stdout), `the same build twice made two images:\n${a.stdout}\n---\n${b.stdout}`);
    assert.match(b.stdout, /^Step (\d+)\/\1 : LABEL org\.example\.by=cli\n ---> Using cache\n/m);
  });

  it('image inspect shows what the Dockerfile set; history lists the steps', async () => {
    await ok('build', ...FLAGS, '.');
    const cfg = JSON.parse(await ok('image', 'inspect', '-f', '{{json .Config}}', 'cli-x')) as {
      Env: string[]; Cmd: string[]; Labels: Record<string, string>; ExposedPorts: Record<string, object>; WorkingDir: string; User: string;
    };
    assert.ok(cfg.Env.includes('APP_ENV=prod'), JSON.stringify(cfg.Env));
    assert.ok(!cfg.Env.some((e) => e.startsWith('GREETING=')), 'a build arg is not kept in the image');
    assert.deepEqual(cfg.Cmd, ['cat', '/greeting']);
    assert.deepEqual(cfg.Labels, { 'org.example.from': 'dockerfile', 'org.example.by': 'cli' });
    assert.deepEqual(cfg.ExposedPorts, { '8080/tcp': {}, '9090/udp': {} });
    assert.equal(cfg.WorkingDir, '/app');
    assert.equal(cfg.User, '1000:1000');

    const history = await ok('history', '--no-trunc', '--format', '{{.CreatedBy}}', 'cli-x');
    const lines = history.trim().split('\n');
    for (const want of [/#\(nop\) ENV APP_ENV=prod/, /#\(nop\) WORKDIR \/app/, /#\(nop\) COPY (dir|file):[0-9a-f]+ in \/app\/?/, /^\|1 GREETING=hello \/bin\/sh -c echo "\$GREETING from \$APP_ENV" > \/greeting$/, /#\(nop\) EXPOSE/, /#\(nop\) USER 1000:1000/, /#\(nop\) CMD \["cat","\/greeting"\]/])
      assert.ok(lines.some((l) => want.test(l)), `${want} in:\n${history}`);
    // Newest first: the last Dockerfile step is above the RUN, which is above the COPY.
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/CMD \["cat"/) < at(/GREETING=hello/) && at(/GREETING=hello/) < at(/COPY /), history);
  });

  it('the image runs: its CMD as its USER; the build arg reached the RUN', async () => {
    await ok('build', ...FLAGS, '.');
    assert.equal(await ok('run', '--rm', 'cli-x'), 'hello from prod\n');
    assert.equal(await ok('run', '--rm', 'cli-x', 'id', '-u'), '1000\n');
  });

  it('.dockerignore is honoured: ignored files are not in the image, the rest is', async () => {
    await ok('build', ...FLAGS, '.');
    const ls = await ok('run', '--rm', '-u', '0', 'cli-x', 'ls', '-aR', '/app');
    assert.match(ls, /^kept\.txt$/m);
    assert.match(ls, /^keep\.me$/m);
    assert.doesNotMatch(ls, /secret\.txt/);
    assert.doesNotMatch(ls, /a\.log/);
  });

  it('COPY . into a WORKDIR leaves it 0755 like Docker: the image\'s non-root USER can list it', async () => {
    await ok('build', ...FLAGS, '.');
    assert.equal(await ok('run', '--rm', '-u', '0', 'cli-x', 'stat', '-c', '%a %u:%g', '/app'), '755 0:0\n');
    const ls = await dk('run', '--rm', 'cli-x', 'ls', '/app');
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^kept\.txt$/m);
  });

  it('a Dockerfile and .dockerignore that .dockerignore names are read, then left out of the context (Docker\'s removeDockerfile)', async () => {
    const dir = join(d.root, 'ctx-self-ignored');
    writeContext(dir, {
      Dockerfile: 'FROM busybox\nCOPY . /src/\n',
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
      'main.txt': 'main\n',
    });
    const r = await docker(d, ['build', '-t', 'cli-self-ignored', '.'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await ok('run', '--rm', 'cli-self-ignored', 'ls', '-A', '/src'), 'main.txt\n');
  });

  it('a failing RUN: exit 1, the command and its code on stderr, no container left', async () => {
    const before = await containerIds(d);
    const dir = join(d.root, 'ctx-fail');
    writeContext(dir, { Dockerfile: 'FROM busybox\nRUN echo before the failure\nRUN echo failing && exit 42\n' });
    const r = await docker(d, ['build', '-t', 'cli-fail', dir]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^failing$/m);
    assert.match(r.stdout + r.stderr, /The command '\/bin\/sh -c echo failing && exit 42' returned a non-zero code: 42/);
    assert.doesNotMatch(r.stdout, /Successfully built/);
    assert.equal((await dk('image', 'inspect', 'cli-fail')).code, 1, 'nothing was tagged');
    assert.deepEqual(await containerIds(d), before);
  });
});
