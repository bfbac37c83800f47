/**
 * Image endpoints against a real pierd over its socket: import, load, save,
 * list, inspect, history, tag, delete, prune, events, df.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { tarOf, dockerArchive, ociArchive, sha } from '../../harness/tars.js';
import tar from 'tar-stream';

const rootfs = () =>
  tarOf([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', content: 'welcome\n' },
  ]);

async function importImage(d: TestDaemon, repo: string, tag: string, changes: string[] = []): Promise<string> {
  const qs = new URLSearchParams({ fromSrc: '-', repo, tag });
  for (const c of changes) qs.append('changes', c);
  const r = await api(d.sock, 'POST', `/images/create?${qs}`, await rootfs());
  assert.equal(r.status, 200, r.text());
  const msgs = r.messages();
  assert.ok(!msgs.some((m) => m.error), r.text());
  return msgs.at(-1).status;
}

/** Lists the entry names of a tar. */
async function tarNames(buf: Buffer): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  const out = new Map<string, Buffer>();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.set(e.header.name, Buffer.concat(chunks));
    }
  })();
  Readable.from([buf]).pipe(ex);
  await done;
  return out;
}

describe('images API', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.cleanup();
  });

  it('answers /_ping (GET and HEAD) with the negotiation headers', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await api(d.sock, method, '/_ping');
      assert.equal(r.status, 200);
      assert.equal(r.headers['api-version'], '1.50');
      assert.equal(r.headers['ostype'], 'linux');
      assert.equal(r.headers['docker-experimental'], 'false');
      assert.equal(method === 'GET' ? r.text() : '', method === 'GET' ? 'OK' : '');
    }
  });

  it('serves versioned and unversioned paths and refuses versions out of range', async () => {
    const v = (await api(d.sock, 'GET', '/v1.41/version')).json();
    assert.equal(v.ApiVersion, '1.50');
    assert.equal(v.MinAPIVersion, '1.24');
    assert.equal((await api(d.sock, 'GET', '/version')).status, 200);
    const tooNew = await api(d.sock, 'GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match(tooNew.json().message, /client version 1.99 is too new. Maximum supported API version is 1.50/);
    const tooOld = await api(d.sock, 'GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(tooOld.json().message, /too old/);
    const missing = await api(d.sock, 'GET', '/nope');
    assert.equal(missing.status, 404);
  });

  it('imports a rootfs tarball with changes and shows it in list, inspect and history', async () => {
    const id = await importImage(d, 'pier-test/imp', 'v1', ['CMD ["/bin/hello"]', 'ENV A=1', 'LABEL team=core', 'EXPOSE 80']);
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    const list = (await api(d.sock, 'GET', '/images/json')).json();
    const mine = list.find((i: any) => i.Id === id);
    assert.deepEqual(mine.RepoTags, ['pier-test/imp:v1']);
    assert.ok(mine.Size > 0);
    const ins = (await api(d.sock, 'GET', '/images/pier-test/imp:v1/json')).json();
    assert.equal(ins.Id, id);
    assert.deepEqual(ins.Config.Cmd, ['/bin/hello']);
    assert.deepEqual(ins.Config.Env, ['A=1']);
    assert.deepEqual(ins.Config.Labels, { team: 'core' });
    assert.deepEqual(ins.Config.ExposedPorts, { '80/tcp': {} });
    assert.equal(ins.RootFS.Layers.length, 1);
    // The layer blob is the tar as given: its digest is the diff ID, as in Docker.
    assert.equal(ins.RootFS.Layers[0], sha(await rootfs()));
    const hist = (await api(d.sock, 'GET', '/images/pier-test/imp:v1/history')).json();
    assert.equal(hist[0].Id, id);
    assert.deepEqual(hist[0].Tags, ['pier-test/imp:v1']);
    assert.equal(hist[0].Comment, 'Imported from -');
    // By short ID and by sha256: prefix too.
    assert.equal((await api(d.sock, 'GET', `/images/${id.slice(7, 19)}/json`)).json().Id, id);
    assert.equal((await api(d.sock, 'GET', `/images/${id.slice(0, 20)}/json`)).json().Id, id);
    const info = (await api(d.sock, 'GET', '/info')).json();
    assert.ok(info.Images >= 1);
    assert.equal(info.DockerRootDir, d.dataRoot);
    assert.match(info.RuncCommit.ID, /^\d+\.\d+/, 'runc version read from runc --version');
  });

  it('filters the list by reference, label, dangling, before and since', async () => {
    const a = await importImage(d, 'pier-test/filter-a', 'latest', ['LABEL tier=a']);
    await new Promise((r) => setTimeout(r, 1100)); // Created has one-second resolution
    const b = await importImage(d, 'pier-test/filter-b', 'latest', ['LABEL tier=b']);
    const q = (f: object) => api(d.sock, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify(f))}`).then((r) => r.json().map((i: any) => i.Id));
    assert.deepEqual(await q({ reference: { 'pier-test/filter-a': true } }), [a]);
    assert.deepEqual(await q({ reference: ['pier-test/filter-*'] }).then((l: string[]) => l.sort()), [a, b].sort());
    assert.deepEqual(await q({ label: ['tier=b'] }), [b]);
    assert.ok((await q({ before: ['pier-test/filter-b'] })).includes(a));
    assert.ok(!(await q({ before: ['pier-test/filter-b'] })).includes(b));
    assert.deepEqual(await q({ since: ['pier-test/filter-a'], reference: ['pier-test/filter-*'] }), [b]);
    assert.deepEqual(await q({ dangling: ['true'] }), []);
    const bad = await api(d.sock, 'GET', `/images/json?filters=${encodeURIComponent('{not json')}`);
    assert.equal(bad.status, 400);
    const badGlob = await api(d.sock, 'GET', `/images/json?filters=${encodeURIComponent('{"reference":["[z-a]"]}')}`);
    assert.equal(badGlob.status, 400);
    const unknown = await api(d.sock, 'GET', `/images/json?filters=${encodeURIComponent('{"colour":["red"]}')}`);
    assert.equal(unknown.status, 400);
    assert.match(unknown.json().message, /invalid filter 'colour'/);
  });

  it('tags, untags and deletes like Docker', async () => {
    const id = await importImage(d, 'pier-test/del', 'one');
    assert.equal((await api(d.sock, 'POST', `/images/pier-test/del:one/tag?repo=pier-test/del&tag=two`)).status, 201);
    assert.equal((await api(d.sock, 'GET', '/images/pier-test/del:two/json')).json().Id, id);
    // By ID while two names point at it: refused without force.
    const refused = await api(d.sock, 'DELETE', `/images/${id.slice(7, 19)}`);
    assert.equal(refused.status, 409);
    assert.match(refused.json().message, /must be forced\) - image is referenced in multiple repositories/);
    // By name: only that name goes.
    assert.deepEqual((await api(d.sock, 'DELETE', '/images/pier-test/del:one')).json(), [{ Untagged: 'pier-test/del:one' }]);
    assert.equal((await api(d.sock, 'GET', `/images/${id}/json`)).status, 200);
    // The last name: untag and delete.
    const gone = (await api(d.sock, 'DELETE', '/images/pier-test/del:two')).json();
    assert.deepEqual(gone, [{ Untagged: 'pier-test/del:two' }, { Deleted: id }]);
    assert.equal((await api(d.sock, 'GET', `/images/${id}/json`)).status, 404);
  });

  it('refuses unknown images (404) and invalid references (400)', async () => {
    const r = await api(d.sock, 'GET', '/images/no-such-image:latest/json');
    assert.equal(r.status, 404);
    assert.match(r.json().message, /No such image: no-such-image:latest/);
    const t = await api(d.sock, 'POST', '/images/no-such-image/tag?repo=x');
    assert.equal(t.status, 404);
    await importImage(d, 'pier-test/ref', 'latest');
    const bad = await api(d.sock, 'POST', '/images/pier-test/ref/tag?repo=upper/Case');
    assert.equal(bad.status, 400);
    assert.match(bad.json().message, /invalid reference format/);
    const badTag = await api(d.sock, 'POST', `/images/pier-test/ref/tag?repo=x&tag=${encodeURIComponent('bad tag')}`);
    assert.equal(badTag.status, 400);
  });

  it('loads a docker-archive (plain and gzip) and saves one that loads again to the same ID', async () => {
    const layer1 = await tarOf([{ name: 'a.txt', content: 'A' }]);
    const layer2 = await tarOf([{ name: 'b.txt', content: 'B' }, { name: '.wh.a.txt' }]);
    const { tar: archive, id } = await dockerArchive({ layers: [layer1, layer2], repoTags: ['pier-test/loaded:1'] });
    const r = await api(d.sock, 'POST', '/images/load?quiet=1', archive);
    assert.equal(r.status, 200);
    assert.ok(r.messages().some((m) => m.stream === 'Loaded image: pier-test/loaded:1\n'), r.text());
    assert.equal((await api(d.sock, 'GET', '/images/pier-test/loaded:1/json')).json().Id, id);

    const gz = await dockerArchive({ layers: [layer1], repoTags: ['pier-test/loaded-gz:1'], gzip: true });
    const r2 = await api(d.sock, 'POST', '/images/load', gzipSync(gz.tar));
    assert.ok(r2.messages().some((m) => m.stream?.includes('Loaded image: pier-test/loaded-gz:1')), r2.text());
    assert.ok(r2.messages().some((m) => m.status === 'Loading layer'), 'progress messages without quiet');

    const saved = await api(d.sock, 'GET', '/images/get?names=pier-test/loaded:1');
    assert.equal(saved.status, 200);
    const files = await tarNames(saved.body);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    assert.deepEqual(manifest[0].RepoTags, ['pier-test/loaded:1']);
    assert.ok(files.has('index.json') && files.has('oci-layout'));
    assert.equal(sha(files.get(manifest[0].Config)!), id);

    // The single-image form of save gives the same archive contents.
    const single = await api(d.sock, 'GET', '/images/pier-test/loaded:1/get');
    assert.equal(single.status, 200);
    assert.deepEqual([...(await tarNames(single.body)).keys()].sort(), [...files.keys()].sort());

    const other = await startDaemon();
    try {
      const again = await api(other.sock, 'POST', '/images/load', saved.body);
      assert.ok(again.messages().some((m) => m.stream === 'Loaded image: pier-test/loaded:1\n'), again.text());
      assert.equal((await api(other.sock, 'GET', '/images/pier-test/loaded:1/json')).json().Id, id);
    } finally {
      await other.cleanup();
    }
  });

  it('loads an OCI image layout', async () => {
    const layer = await tarOf([{ name: 'oci.txt', content: 'from an OCI layout' }]);
    const { tar: archive, id } = await ociArchive([layer], { 'io.containerd.image.name': 'docker.io/pier-test/oci:1', 'org.opencontainers.image.ref.name': '1' });
    const r = await api(d.sock, 'POST', '/images/load', archive);
    assert.ok(r.messages().some((m) => m.stream === 'Loaded image: pier-test/oci:1\n'), r.text());
    assert.equal((await api(d.sock, 'GET', '/images/pier-test/oci:1/json')).json().Id, id);
  });

  it('prunes dangling images and reports the space', async () => {
    const id = await importImage(d, 'pier-test/prune', 'latest', ['LABEL prune=me']);
    await importImage(d, 'pier-test/prune', 'latest', ['LABEL prune=other']); // takes the tag: the first is dangling
    const dangling = (await api(d.sock, 'GET', `/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`)).json();
    assert.ok(dangling.some((i: any) => i.Id === id));
    const r = (await api(d.sock, 'POST', '/images/prune')).json();
    assert.ok(r.ImagesDeleted.some((x: any) => x.Deleted === id), JSON.stringify(r));
    assert.equal((await api(d.sock, 'GET', `/images/${id}/json`)).status, 404);
  });

  it('prunes tagged images too with dangling=false (docker image prune -a), honouring label filters', async () => {
    const keep = await importImage(d, 'pier-test/prune-all', 'keep', ['LABEL keep=yes']);
    const drop = await importImage(d, 'pier-test/prune-all', 'drop', ['LABEL keep=no']);
    const f = encodeURIComponent(JSON.stringify({ dangling: ['false'], label: ['keep=no'] }));
    const r = (await api(d.sock, 'POST', `/images/prune?filters=${f}`)).json();
    assert.ok(r.ImagesDeleted.some((x: any) => x.Deleted === drop), JSON.stringify(r));
    assert.ok(r.ImagesDeleted.some((x: any) => x.Untagged === 'pier-test/prune-all:drop'));
    assert.equal((await api(d.sock, 'GET', `/images/${drop}/json`)).status, 404);
    assert.equal((await api(d.sock, 'GET', `/images/${keep}/json`)).status, 200);
  });

  it('replays and filters events, and reports disk usage', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await importImage(d, 'pier-test/events', 'latest');
    const until = Math.floor(Date.now() / 1000) + 1;
    const f = encodeURIComponent(JSON.stringify({ type: ['image'], event: ['tag'] }));
    const r = await api(d.sock, 'GET', `/events?since=${since}&until=${until}&filters=${f}`);
    const evs = r.messages();
    assert.ok(evs.length >= 1);
    assert.ok(evs.every((e) => e.Type === 'image' && e.Action === 'tag'));
    assert.ok(evs.some((e) => e.Actor.Attributes.name === 'pier-test/events:latest'));
    const df = (await api(d.sock, 'GET', '/system/df')).json();
    assert.ok(df.LayersSize > 0);
    assert.ok(df.Images.length >= 1);
  });
});
