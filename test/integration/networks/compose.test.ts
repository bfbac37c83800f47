/**
 * docker-compose 1.29 (Debian's, Python, docker-py) against pierd: a
 * two-service app on a user network with a named volume and a published
 * port. `web` serves a page from the volume on 127.0.0.1:<port>; `client`
 * fetches http://web/ by service name. `down -v` takes everything away.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxImage, containerSkip, endAll, waitFor } from '../../harness/containers.js';
import { bodyAt, dnatRules, dockerAsync, fetchText, freePort, linkExists, run, startNetDaemon, type NetDaemon } from './helpers.js';

const COMPOSE = '/usr/bin/docker-compose';
const skip = containerSkip({ docker: true }) || (!existsSync(COMPOSE) && 'docker-compose is not installed');

describe('docker-compose 1.29: a web service and a client on a user network', { skip }, () => {
  let d: NetDaemon;
  let file = '';
  const project = `pt${Math.random().toString(36).slice(2, 8)}`;
  const compose = (...args: string[]) =>
    run(COMPOSE, ['--no-ansi', '-p', project, '-f', file, ...args], { DOCKER_HOST: d.host, DOCKER_CONFIG: '/tmp/pier-test-docker-config', COMPOSE_HTTP_TIMEOUT: '60' }, 120_000);
  const dk = (...args: string[]) => dockerAsync(d.host, args);
  const ok = async (...args: string[]) => {
    const r = await dk(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await startNetDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('up -d: the published port answers from the host, the client reaches web by name; down -v removes it all', async () => {
    const port = await freePort();
    file = join(d.root, 'docker-compose.yml');
    // The web shell traps TERM (pid 1 ignores signals it has no handler for) so that `down` does not wait 10 s.
    writeFileSync(file, `version: "3.7"
services:
  web:
    image: busybox
    command: sh -c "trap 'exit 0' TERM; echo hello-compose > /www/index.html && httpd -p 80 -h /www; while true; do sleep 0.1; done"
    volumes: ["site:/www"]
    ports: ["127.0.0.1:${port}:80"]
    networks: [appnet]
  client:
    image: busybox
    command: sh -c "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do wget -qO- http://web/ && exit 0; sleep 0.25; done; exit 1"
    networks: [appnet]
    depends_on: [web]
networks:
  appnet: {}
volumes:
  site: {}
`);
    const up = await compose('up', '-d');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, new RegExp(`Creating network "${project}_appnet" with the default driver`));
    assert.match(up.stderr, new RegExp(`Creating volume "${project}_site" with default driver`));
    assert.match(up.stderr, new RegExp(`Creating ${project}_web_1 \\.\\.\\. done`));
    assert.match(up.stderr, new RegExp(`Creating ${project}_client_1 \\.\\.\\. done`));

    // From the host: the published port.
    assert.equal(await waitFor(`127.0.0.1:${port}`, () => bodyAt(port)), 'hello-compose\n');
    // The client fetched http://web/ by the service name.
    assert.equal((await ok('wait', `${project}_client_1`)).trim(), '0', (await dk('logs', `${project}_client_1`)).stderr);
    const logs = await compose('logs', 'client');
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /client_1\s+\| hello-compose$/m);

    // What compose made, as the daemon reports it.
    const net = `${project}_appnet`;
    assert.equal((await ok('network', 'inspect', '-f', '{{.Driver}} {{index .Labels "com.docker.compose.project"}} {{index .Labels "com.docker.compose.network"}}', net)).trim(), `bridge ${project} appnet`);
    const bridge = `br-${(await ok('network', 'inspect', '-f', '{{.Id}}', net)).trim().slice(0, 12)}`;
    assert.ok(linkExists(bridge));
    assert.match(await ok('inspect', '-f', `{{json (index .NetworkSettings.Networks "${net}").Aliases}}`, `${project}_web_1`), /"web"/);
    assert.match(await ok('port', `${project}_web_1`), new RegExp(`^80/tcp -> 127\\.0\\.0\\.1:${port}$`, 'm'));
    const mounts = JSON.parse(await ok('inspect', '-f', '{{json .Mounts}}', `${project}_web_1`)) as { Type: string; Name: string; Destination: string }[];
    assert.deepEqual(mounts.map((m) => `${m.Type} ${m.Name} ${m.Destination}`), [`volume ${project}_site /www`]);
    assert.equal(await ok('run', '--rm', '-v', `${project}_site:/data`, 'busybox', 'cat', '/data/index.html'), 'hello-compose\n', 'the page is in the named volume');

    const down = await compose('down', '-v');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, new RegExp(`Removing network ${net}`));
    assert.match(down.stderr, new RegExp(`Removing volume ${project}_site`));
    assert.equal((await ok('ps', '-aq', '--filter', `name=${project}`)).trim(), '');
    assert.equal((await dk('network', 'inspect', net)).code, 1, 'the network is gone');
    assert.ok(!linkExists(bridge), 'its bridge is gone');
    assert.equal((await dk('volume', 'inspect', `${project}_site`)).code, 1, 'the volume is gone');
    assert.deepEqual(dnatRules(d, port), []);
    assert.equal(((await fetchText(port)) as { error?: string }).error, 'ECONNREFUSED');
  });
});
