/**
 * Pull, push and login against real registries: Debian's docker-registry
 * (distribution 2.8) on 127.0.0.1, two pierds, the pier CLI and the docker
 * CLI; a tiny fake registry for what a real one never does (corrupt and cut
 * blobs); and docker.io, which this machine cannot reach.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';
import { startDaemon, api, PIER, type TestDaemon } from '../../harness/daemon.js';
import { docker, dockerCli } from '../../harness/dockerd.js';
import { dockerArchive, tarOf, sha } from '../../harness/tars.js';
import { startRegistry, REGISTRY_BIN, type TestRegistry } from '../../harness/docker-registry.js';

const skip = existsSync(REGISTRY_BIN) ? false : 'docker-registry is not installed';

const layer = (name: string, content: string) => tarOf([{ name: 'data/', type: 'directory' }, { name: `data/${name}`, content }]);

async function importImage(d: TestDaemon, repo: string, tag: string, files: { name: string; content: string }[]): Promise<string> {
  const tar = await tarOf([{ name: 'etc/', type: 'directory' }, ...files.map((f) => ({ name: `etc/${f.name}`, content: f.content }))]);
  const r = await api(d.sock, 'POST', `/images/create?${new URLSearchParams({ fromSrc: '-', repo, tag })}`, tar);
  assert.equal(r.status, 200, r.text());
  return r.messages().at(-1).status;
}

async function loadImage(d: TestDaemon, layers: Buffer[], repoTags: string[]): Promise<string> {
  const { tar, id } = await dockerArchive({ layers, repoTags });
  const r = await api(d.sock, 'POST', '/images/load?quiet=1', tar);
  assert.equal(r.status, 200, r.text());
  assert.ok(!r.messages().some((m) => m.error), r.text());
  return id;
}

const statuses = (msgs: { status?: string; id?: string }[]) => msgs.filter((m) => m.status).map((m) => (m.id ? `${m.id}: ${m.status}` : m.status!));

function pierCli(d: TestDaemon, args: string[], env: Record<string, string> = {}, input?: string) {
  const r = spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host, ...env }, input, maxBuffer: 1 << 28, timeout: 60000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('pull and push against docker-registry', { skip }, () => {
  let reg: TestRegistry;
  let a: TestDaemon;
  let b: TestDaemon;

  before(async () => {
    [reg, a, b] = await Promise.all([startRegistry(), startDaemon(), startDaemon()]);
  });
  after(async () => {
    await Promise.all([a?.cleanup(), b?.cleanup(), reg?.stop()]);
  });

  it('pushes an imported image and pulls it into another pierd with the same ID', async () => {
    const name = `${reg.host}/test/imported`;
    const id = await importImage(a, name, 'v1', [{ name: 'motd', content: 'pushed\n' }]);
    const push = await api(a.sock, 'POST', `/images/${name}/push?tag=v1`);
    assert.equal(push.status, 200, push.text());
    const pm = push.messages();
    assert.ok(!pm.some((m) => m.error), push.text());
    const ps = statuses(pm);
    assert.equal(ps[0], `The push refers to repository [${name}]`);
    assert.ok(ps.some((s) => /^[a-f0-9]{12}: Preparing$/.test(s)));
    assert.ok(ps.some((s) => /^[a-f0-9]{12}: Pushed$/.test(s)));
    assert.match(ps.at(-1)!, /^v1: digest: sha256:[a-f0-9]{64} size: \d+$/);
    const aux = pm.find((m) => m.aux)?.aux;
    assert.equal(aux.Tag, 'v1');
    const digest = aux.Digest as string;

    // The manifest in the registry lists the layer gzipped, the config keeps the uncompressed diff ID.
    const man = JSON.parse(await (await fetch(`http://${reg.host}/v2/test/imported/manifests/v1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).text());
    assert.equal(man.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(man.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.equal(man.config.digest, id);

    const pull = await api(b.sock, 'POST', `/images/create?fromImage=${name}&tag=v1`);
    assert.equal(pull.status, 200, pull.text());
    const ls = statuses(pull.messages());
    assert.deepEqual(ls[0], 'v1: Pulling from test/imported');
    for (const s of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']) {
      assert.ok(ls.some((l) => l.endsWith(`: ${s}`)), `${s} missing in ${ls.join('\n')}`);
    }
    assert.equal(ls.at(-2), `Digest: ${digest}`);
    assert.equal(ls.at(-1), `Status: Downloaded newer image for ${name}:v1`);
    const inspect = (await api(b.sock, 'GET', `/images/${name}:v1/json`)).json();
    assert.equal(inspect.Id, id);
    assert.deepEqual(inspect.RepoDigests, [`${name}@${digest}`]);
    assert.deepEqual(inspect.RepoTags, [`${name}:v1`]);
    // The pushing side knows the image by its digest now too.
    assert.deepEqual((await api(a.sock, 'GET', `/images/${name}:v1/json`)).json().RepoDigests, [`${name}@${digest}`]);

    const again = await api(b.sock, 'POST', `/images/create?fromImage=${name}&tag=v1`);
    assert.deepEqual(statuses(again.messages()), ['v1: Pulling from test/imported', `Digest: ${digest}`, `Status: Image is up to date for ${name}:v1`]);

    // A second push reuses the gzip copy made by the first: the registry has it already.
    const push2 = statuses((await api(a.sock, 'POST', `/images/${name}/push?tag=v1`)).messages());
    assert.ok(push2.some((s) => /: Layer already exists$/.test(s)), push2.join('\n'));
    assert.equal(push2.at(-1), `v1: digest: ${digest} size: ${aux.Size}`);

    const events = (await api(b.sock, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["pull"]}')}`)).messages();
    assert.ok(events.some((e) => e.Action === 'pull' && e.Actor.Attributes.name === `${name}:v1`));
    const pushEvents = (await api(a.sock, 'GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["push"]}')}`)).messages();
    assert.ok(pushEvents.some((e) => e.Action === 'push'));

    // Removing the last tag of a repository takes its digest references along, and then the image (Docker's rule).
    const rmi = (await api(b.sock, 'DELETE', `/images/${name}:v1`)).json();
    assert.deepEqual(rmi, [{ Untagged: `${name}:v1` }, { Untagged: `${name}@${digest}` }, { Deleted: id }]);
    assert.equal((await api(b.sock, 'GET', `/images/${id}/json`)).status, 404);
  });

  it('pulls by digest, and a related image finds its shared layer already there', async () => {
    const base = await layer('base', 'shared base layer\n'.repeat(1000));
    const top = await layer('top', 'only in the second image\n');
    const name1 = `${reg.host}/test/base`;
    const name2 = `${reg.host}/test/derived`;
    await loadImage(a, [base], [`${name1}:1`]);
    const derivedId = await loadImage(a, [base, top], [`${name2}:1`]);
    for (const n of [name1, name2]) {
      const r = await api(a.sock, 'POST', `/images/${n}/push?tag=1`);
      assert.ok(!r.messages().some((m) => m.error), r.text());
    }
    const digest = (await api(a.sock, 'GET', `/images/${name2}:1/json`)).json().RepoDigests[0].split('@')[1];

    const p1 = await api(b.sock, 'POST', `/images/create?fromImage=${name1}&tag=1`);
    assert.ok(!p1.messages().some((m) => m.error), p1.text());
    // By digest: verified against it, recorded as a RepoDigest and not as a tag.
    const p2 = await api(b.sock, 'POST', `/images/create?fromImage=${name2}&tag=${digest}`);
    const s2 = statuses(p2.messages());
    assert.equal(s2[0], `${digest}: Pulling from test/derived`);
    assert.equal(s2.filter((s) => s.endsWith(': Already exists')).length, 1, s2.join('\n'));
    assert.equal(s2.filter((s) => s.endsWith(': Pull complete')).length, 1, s2.join('\n'));
    assert.equal(s2.at(-1), `Status: Downloaded newer image for ${name2}@${digest}`);
    const img = (await api(b.sock, 'GET', `/images/${name2}@${digest}/json`)).json();
    assert.equal(img.Id, derivedId);
    assert.deepEqual(img.RepoTags, []);
    assert.deepEqual(img.RepoDigests, [`${name2}@${digest}`]);

    // A wrong digest is refused before anything is stored.
    const wrong = await api(b.sock, 'POST', `/images/create?fromImage=${name2}&tag=sha256:${'0'.repeat(64)}`);
    assert.equal(wrong.status, 404, wrong.text());
    assert.match(wrong.json().message, /manifest for .*test\/derived@sha256:0+ not found: manifest unknown/);
  });

  it('mounts layers from another repository of the same registry', async () => {
    const name = `${reg.host}/test/imported`;
    const other = `${reg.host}/other/copy`;
    const t = await api(a.sock, 'POST', `/images/${name}:v1/tag?repo=${other}&tag=v1`);
    assert.equal(t.status, 201, t.text());
    const r = statuses((await api(a.sock, 'POST', `/images/${other}/push?tag=v1`)).messages());
    assert.ok(r.some((s) => /: Mounted from test\/imported$/.test(s)), r.join('\n'));
  });

  it('pushes all tags of a repository when no tag is given, and pulls them all with -a', async () => {
    const name = `${reg.host}/test/alltags`;
    await importImage(a, name, 'one', [{ name: 'x', content: '1' }]);
    await importImage(a, name, 'two', [{ name: 'x', content: '2' }]);
    const r = statuses((await api(a.sock, 'POST', `/images/${name}/push`)).messages());
    assert.ok(r.some((s) => s.startsWith('one: digest:')) && r.some((s) => s.startsWith('two: digest:')), r.join('\n'));
    const p = statuses((await api(b.sock, 'POST', `/images/create?fromImage=${name}`)).messages());
    assert.ok(p.includes('one: Pulling from test/alltags') && p.includes('two: Pulling from test/alltags'), p.join('\n'));
    assert.equal(p.at(-1), `Status: Downloaded newer image for ${name}`);
    const tags = (await api(b.sock, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: [name] }))}`)).json().flatMap((i: { RepoTags: string[] }) => i.RepoTags).sort();
    assert.deepEqual(tags, [`${name}:one`, `${name}:two`]);
  });

  it('pulls an index by picking this machine\'s platform, or fails clearly for a platform it lacks', async () => {
    const name = `${reg.host}/test/imported`;
    const manifest = await (await fetch(`http://${reg.host}/v2/test/imported/manifests/v1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).arrayBuffer();
    const desc = { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha(Buffer.from(manifest)), size: manifest.byteLength };
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...desc, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { ...desc, platform: { os: 'linux', architecture: 'amd64' } },
        { ...desc, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      ],
    });
    const put = await fetch(`http://${reg.host}/v2/test/imported/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index });
    assert.equal(put.status, 201, await put.text());
    const r = await api(b.sock, 'POST', `/images/create?fromImage=${name}&tag=multi`);
    const s = statuses(r.messages());
    assert.equal(s.at(-2), `Digest: ${sha(index)}`, s.join('\n'));
    const img = (await api(b.sock, 'GET', `/images/${name}:multi/json`)).json();
    assert.ok(img.RepoDigests.includes(`${name}@${sha(index)}`), 'the index digest is the RepoDigest');
    const none = await api(b.sock, 'POST', `/images/create?fromImage=${name}&tag=multi&platform=linux/s390x`);
    assert.equal(none.status, 404);
    assert.equal(none.json().message, 'no matching manifest for linux/s390x in the manifest list entries');
  });

  it('the pier CLI pulls and pushes like docker', async () => {
    const name = `${reg.host}/cli/img`;
    await importImage(a, name, 'latest', [{ name: 'cli', content: 'from the cli\n' }]);
    const push = pierCli(a, ['push', name]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /^Using default tag: latest\nThe push refers to repository \[127\.0\.0\.1:\d+\/cli\/img\]\n/);
    assert.match(push.stdout, /: Pushed\n/);
    assert.match(push.stdout, /latest: digest: sha256:[a-f0-9]{64} size: \d+\n$/);
    const pull = pierCli(b, ['pull', name]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /^Using default tag: latest\nlatest: Pulling from cli\/img\n/);
    assert.match(pull.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/cli\/img:latest\n127\.0\.0\.1:\d+\/cli\/img:latest\n$/);
    const q = pierCli(b, ['pull', '-q', name]);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, `${name}:latest\n`);
    const missing = pierCli(b, ['pull', `${reg.host}/cli/none:1`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error response from daemon: manifest for 127\.0\.0\.1:\d+\/cli\/none:1 not found: manifest unknown: manifest unknown/);
    const noLocal = pierCli(a, ['push', `${reg.host}/cli/none:1`]);
    assert.equal(noLocal.code, 1);
    assert.match(noLocal.stderr, /An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/cli\/none/);
  });

  it('pulls docker.io images from a registry mirror', async () => {
    // What the mirror holds under library/mirrored is docker.io/library/mirrored to a pierd that uses it.
    await importImage(a, `${reg.host}/library/mirrored`, '1', [{ name: 'm', content: 'mirrored\n' }]);
    const push = await api(a.sock, 'POST', `/images/${reg.host}/library/mirrored/push?tag=1`);
    assert.ok(!push.messages().some((m) => m.error), push.text());
    const c = await startDaemon({ config: { 'registry-mirrors': [`http://${reg.host}`] } });
    try {
      const r = await api(c.sock, 'POST', '/images/create?fromImage=mirrored&tag=1');
      assert.equal(r.status, 200, r.text());
      const s = statuses(r.messages());
      assert.equal(s[0], '1: Pulling from library/mirrored');
      assert.equal(s.at(-1), 'Status: Downloaded newer image for mirrored:1');
      const img = (await api(c.sock, 'GET', '/images/mirrored:1/json')).json();
      assert.deepEqual(img.RepoTags, ['mirrored:1']);
      assert.match(img.RepoDigests[0], /^mirrored@sha256:[a-f0-9]{64}$/);
      // Not on the mirror: the Hub is tried next, and it is out of reach here.
      const missing = await api(c.sock, 'POST', '/images/create?fromImage=notmirrored&tag=1');
      assert.equal(missing.status, 503, missing.text());
      assert.match(missing.json().message, /cannot reach docker\.io/);
    } finally {
      await c.cleanup();
    }
  });

  it('the docker CLI pushes to and pulls from localhost:PORT through pierd', { skip: dockerCli() ? false : 'the docker CLI is not installed' }, async () => {
    // "localhost" is insecure by default: HTTPS is tried first and HTTP used when it cannot connect.
    const name = `localhost:${reg.port}/docker/cli`;
    await importImage(a, name, 'v2', [{ name: 'docker', content: 'from docker\n' }]);
    const push = docker(a.host, ['push', `${name}:v2`]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /The push refers to repository \[localhost:\d+\/docker\/cli\]/);
    assert.match(push.stdout, /v2: digest: sha256:[a-f0-9]{64} size: \d+/);
    const pull = docker(b.host, ['pull', `${name}:v2`]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /v2: Pulling from docker\/cli[\s\S]*Pull complete[\s\S]*Status: Downloaded newer image for localhost:\d+\/docker\/cli:v2\nlocalhost:\d+\/docker\/cli:v2\n$/);
    const ids = [a, b].map((d) => docker(d.host, ['image', 'inspect', '-f', '{{.Id}}', `${name}:v2`]).stdout.trim());
    assert.equal(ids[0], ids[1]);
    const digests = docker(b.host, ['images', '--digests', '--format', '{{.Digest}}', name]).stdout.trim();
    assert.match(digests, /^sha256:[a-f0-9]{64}$/);
  });
});

describe('registry login with htpasswd', { skip }, () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let cfgDir: string;

  before(async () => {
    const hash = bcrypt.hashSync('s3cret', 8);
    [reg, d] = await Promise.all([startRegistry({ htpasswd: `tester:${hash}\n` }), startDaemon()]);
    cfgDir = mkdtempSync('/tmp/pier-docker-config-');
  });
  after(async () => {
    await Promise.all([d?.cleanup(), reg?.stop()]);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  const xAuth = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

  it('refuses without credentials, checks them on POST /auth, and works with them', async () => {
    const name = `${reg.host}/private/img`;
    await importImage(d, name, 'v1', [{ name: 'secret', content: 'classified\n' }]);
    const denied = await api(d.sock, 'POST', `/images/${name}/push?tag=v1`);
    assert.match(denied.text(), /unauthorized: authentication required/);

    const bad = await api(d.sock, 'POST', '/auth', { username: 'tester', password: 'wrong', serveraddress: reg.host });
    assert.equal(bad.status, 401);
    assert.match(bad.json().message, /unauthorized: incorrect username or password/);
    const good = await api(d.sock, 'POST', '/auth', { username: 'tester', password: 's3cret', serveraddress: reg.host });
    assert.equal(good.status, 200, good.text());
    assert.deepEqual(good.json(), { Status: 'Login Succeeded', IdentityToken: '' });

    const header = { 'X-Registry-Auth': xAuth({ username: 'tester', password: 's3cret', serveraddress: reg.host }) };
    const push = await api(d.sock, 'POST', `/images/${name}/push?tag=v1`, undefined, header);
    assert.ok(!push.messages().some((m) => m.error), push.text());
    await api(d.sock, 'DELETE', `/images/${name}:v1`);
    const pullDenied = await api(d.sock, 'POST', `/images/create?fromImage=${name}&tag=v1`);
    assert.equal(pullDenied.status, 401, pullDenied.text());
    assert.match(pullDenied.json().message, /pull access denied for 127\.0\.0\.1:\d+\/private\/img, repository does not exist or may require 'docker login': unauthorized: authentication required/);
    const pull = await api(d.sock, 'POST', `/images/create?fromImage=${name}&tag=v1`, undefined, header);
    assert.equal(pull.status, 200, pull.text());
    assert.ok(!pull.messages().some((m) => m.error), pull.text());
  });

  it('pier login stores docker-style credentials that pull and push then use; logout removes them', async () => {
    const env = { DOCKER_CONFIG: cfgDir };
    const name = `${reg.host}/private/cli`;
    await importImage(d, name, 'latest', [{ name: 'c', content: 'cli secret\n' }]);
    const before = pierCli(d, ['push', name], env);
    assert.equal(before.code, 1);
    const wrong = pierCli(d, ['login', '-u', 'tester', '--password-stdin', reg.host], env, 'nope\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^Error response from daemon: .*unauthorized: incorrect username or password/);
    const login = pierCli(d, ['login', '-u', 'tester', '--password-stdin', reg.host], env, 's3cret\n');
    assert.equal(login.code, 0, login.stderr);
    assert.equal(login.stdout, 'Login Succeeded\n');
    assert.match(login.stderr, /WARNING! Your credentials are stored unencrypted/);
    const stored = JSON.parse(readFileSync(join(cfgDir, 'config.json'), 'utf8'));
    assert.deepEqual(stored, { auths: { [reg.host]: { auth: Buffer.from('tester:s3cret').toString('base64') } } });
    const push = pierCli(d, ['push', name], env);
    assert.equal(push.code, 0, push.stderr);
    pierCli(d, ['rmi', name], env);
    const pull = pierCli(d, ['pull', '-q', name], env);
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(pull.stdout, `${name}:latest\n`);
    assert.equal(pierCli(d, ['logout', reg.host], env).stdout, `Removing login credentials for ${reg.host}\n`);
    assert.deepEqual(JSON.parse(readFileSync(join(cfgDir, 'config.json'), 'utf8')), { auths: {} });
    assert.equal(pierCli(d, ['logout', reg.host], env).stdout, `Not logged in to ${reg.host}\n`);
  });

  it('docker login through pierd, then docker push', { skip: dockerCli() ? false : 'the docker CLI is not installed' }, async () => {
    const name = `${reg.host}/private/docker`;
    await importImage(d, name, 'v1', [{ name: 'd', content: 'docker secret\n' }]);
    const denied = docker(d.host, ['push', `${name}:v1`]);
    assert.notEqual(denied.code, 0);
    const login = docker(d.host, ['login', '-u', 'tester', '--password-stdin', reg.host], 's3cret\n');
    try {
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded/);
      const push = docker(d.host, ['push', `${name}:v1`]);
      assert.equal(push.code, 0, push.stderr);
    } finally {
      docker(d.host, ['logout', reg.host]);
    }
  });
});

describe('pull from a registry that misbehaves', () => {
  let d: TestDaemon;
  let server: Server;
  let host: string;
  let good: Buffer;
  let cutFirst = true;
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, Buffer>();

  before(async () => {
    d = await startDaemon();
    // Two images: "corrupt" serves a layer whose bytes do not match its digest; "flaky" cuts its layer short once.
    const tarBytes = await layer('payload', 'x'.repeat(200_000));
    good = gzipSync(tarBytes);
    const bad = Buffer.from(good);
    bad[bad.length - 20] ^= 0xff;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(tarBytes)] } }));
    blobs.set(sha(config), config);
    blobs.set(sha(good), good);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha(good), size: good.length }],
    }));
    manifests.set('corrupt', manifest);
    manifests.set('flaky', manifest);
    server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/') return res.writeHead(200).end('{}');
      const m = /^\/v2\/(corrupt|flaky)\/img\/(manifests|blobs)\/(.+)$/.exec(url);
      if (m?.[2] === 'manifests' && manifests.has(m[1]!)) {
        return res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' }).end(manifests.get(m[1]!));
      }
      if (m?.[2] === 'blobs' && blobs.has(m[3]!)) {
        const body = blobs.get(m[3]!)!;
        if (m[3] === sha(good) && m[1] === 'corrupt') return res.writeHead(200, { 'Content-Length': bad.length }).end(bad);
        if (m[3] === sha(good) && m[1] === 'flaky' && cutFirst) {
          cutFirst = false;
          res.writeHead(200, { 'Content-Length': body.length });
          res.write(body.subarray(0, body.length >> 1));
          return setTimeout(() => res.destroy(), 20);
        }
        return res.writeHead(200, { 'Content-Length': body.length }).end(body);
      }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND","message":"not here"}]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await d?.cleanup();
  });

  const blobsOnDisk = () => readdirSync(join(d.dataRoot, 'content', 'blobs', 'sha256'));
  const ingestOnDisk = () => readdirSync(join(d.dataRoot, 'content', 'ingest'));

  it('a corrupt blob fails the pull, naming its digest, and nothing of it is stored', async () => {
    const r = await api(d.sock, 'POST', `/images/create?fromImage=${host}/corrupt/img&tag=latest`);
    const msgs = r.messages();
    const err = msgs.find((m) => m.error);
    assert.ok(err, r.text());
    assert.match(err.error, new RegExp(`filesystem layer verification failed for digest ${sha(good)}`));
    assert.ok(!blobsOnDisk().includes(sha(good).slice(7)), 'the corrupt blob is not in the content store');
    assert.deepEqual(ingestOnDisk(), []);
    assert.deepEqual((await api(d.sock, 'GET', '/images/json')).json(), []);
  });

  it('a blob cut short fails the pull, and a retry succeeds', async () => {
    const first = await api(d.sock, 'POST', `/images/create?fromImage=${host}/flaky/img&tag=latest`);
    assert.ok(first.messages().some((m) => m.error), first.text());
    assert.ok(!blobsOnDisk().includes(sha(good).slice(7)));
    assert.deepEqual(ingestOnDisk(), []);
    const retry = await api(d.sock, 'POST', `/images/create?fromImage=${host}/flaky/img&tag=latest`);
    assert.ok(!retry.messages().some((m) => m.error), retry.text());
    assert.equal(statuses(retry.messages()).at(-1), `Status: Downloaded newer image for ${host}/flaky/img:latest`);
  });

  it('an unreachable registry is a clear error, not a hang', async () => {
    const t0 = Date.now();
    const r = await api(d.sock, 'POST', '/images/create?fromImage=127.0.0.1:1/nothing/here&tag=latest');
    assert.equal(r.status, 503);
    assert.equal(r.json().message, 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused');
    assert.ok(Date.now() - t0 < 5000);
  });

  it('docker.io out of reach says so within 15 s', async () => {
    const t0 = Date.now();
    const r = await api(d.sock, 'POST', '/images/create?fromImage=busybox&tag=latest');
    assert.ok(Date.now() - t0 < 15000, 'answered within 15 s');
    assert.equal(r.status, 503, r.text());
    assert.match(r.json().message, /^Get "https:\/\/registry-1\.docker\.io\/v2\/": cannot reach docker\.io \(.+\)\. Pull from a local registry \(localhost:5000\/\.\.\.\) or set registry-mirrors in the daemon config$/);
    const cli = pierCli(d, ['pull', 'busybox']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^Error response from daemon: Get "https:\/\/registry-1\.docker\.io\/v2\/": cannot reach docker\.io/);
  });
});
