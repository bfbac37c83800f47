/**
 * docker-compose 1.29 (Debian's: Python, docker-py, the classic builder's
 * API) building a service with `build: .` against pierd, then `up -d` of the
 * image it built, and `down --rmi local` taking it all away again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, waitFor } from '../../harness/containers.js';
import { docker, run, writeContext } from './helpers.js';

const COMPOSE = '/usr/bin/docker-compose';
const skip = containerSkip({ docker: true }) || (!existsSync(COMPOSE) && 'docker-compose is not installed');

describe('docker-compose 1.29: build: . then up -d', { skip }, () => {
  let d: TestDaemon;
  let dir = '';
  const project = `pb${Math.random().toString(36).slice(2, 8)}`;
  const compose = (...args: string[]) =>
    run(COMPOSE, ['--no-ansi', '-p', project, ...args], {
      cwd: dir, timeoutMs: 120_000,
      env: { DOCKER_HOST: d.host, DOCKER_CONFIG: '/tmp/pier-test-docker-config', DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0', COMPOSE_HTTP_TIMEOUT: '60' },
    });
  const ok = async (...args: string[]) => {
    const r = await docker(d, args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
    dir = join(d.root, 'app');
    mkdirSync(dir);
    writeContext(dir, {
      'docker-compose.yml': `version: "3.7"
services:
  web:
    build:
      context: .
      args:
        GREETING: hello-from-compose
    command: sh -c "trap 'exit 0' TERM; cat /greeting /srv/page.txt; while true; do sleep 0.1; done"
`,
      Dockerfile: 'FROM busybox\nARG GREETING=unset\nRUN echo "$GREETING" > /greeting\nCOPY page.txt /srv/\nLABEL built.by=compose\n',
      'page.txt': 'page from the context\n',
    });
  });
  after(async () => d?.cleanup());

  it('build: the classic output, the image tagged <project>_web; up -d runs it; down --rmi local removes both', async () => {
    const b = await compose('build', 'web');
    assert.equal(b.code, 0, `${b.stdout}\n${b.stderr}`);
    const out = b.stdout + b.stderr;
    assert.match(out, /Building web/);
    assert.match(out, /^Step 1\/5 : FROM busybox$/m);
    assert.match(out, /^Successfully built [0-9a-f]{12}$/m);
    assert.match(out, new RegExp(`^Successfully tagged ${project}_web:latest$`, 'm'));
    assert.equal((await ok('image', 'inspect', '-f', '{{index .Config.Labels "built.by"}}', `${project}_web`)).trim(), 'compose');

    // A second build is all cache.
    const again = await compose('build', 'web');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 3, again.stdout);

    const up = await compose('up', '-d');
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    assert.doesNotMatch(up.stdout + up.stderr, /Building web/, 'up uses the image build made');
    assert.match(up.stderr, new RegExp(`Creating ${project}_web_1 \\.\\.\\. done`));
    const name = `${project}_web_1`;
    assert.equal((await ok('inspect', '-f', '{{.State.Running}} {{.Config.Image}}', name)).trim(), `true ${project}_web`);
    await waitFor('the service\'s output', async () => /page from the context/.test((await docker(d, ['logs', name])).stdout));
    assert.equal((await docker(d, ['logs', name])).stdout, 'hello-from-compose\npage from the context\n');

    const down = await compose('down', '--rmi', 'local');
    assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
    assert.equal((await ok('ps', '-aq', '--filter', `name=${project}`)).trim(), '');
    assert.equal((await docker(d, ['image', 'inspect', `${project}_web`])).code, 1, 'the built image is gone');
  });
});
