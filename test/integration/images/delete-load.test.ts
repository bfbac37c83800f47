/**
 * rmi and load cases where Pier once answered unlike dockerd: deleting a pushed image by ID,
 * a legacy archive whose layer is a hard link, an OCI layout whose ref.name is a bare tag.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { startPierRegistry, type PierRegistry } from '../../harness/pier-registry.js';
import { tarOf, sha, ociArchive } from '../../harness/tars.js';

describe('rmi and load like dockerd', () => {
  let d: TestDaemon;
  let reg: PierRegistry;
  before(async () => {
    [d, reg] = await Promise.all([startDaemon(), startPierRegistry()]);
  });
  after(async () => {
    await Promise.all([d?.cleanup(), reg?.stop()]);
  });

  it('deletes by ID an image with one tag and its digest reference (pushed or pulled)', async () => {
    const repo = `${reg.host}/rmi/app`;
    const imp = await api(d.sock, 'POST', `/images/create?fromSrc=-&repo=${repo}&tag=v1`, await tarOf([{ name: 'rmi.txt', content: 'rmi by id' }]));
    const id = imp.messages().at(-1).status as string;
    const push = await api(d.sock, 'POST', `/images/${repo}/push?tag=v1`);
    assert.equal(push.status, 200, push.text());
    assert.ok(!push.messages().some((m) => m.error), push.text());
    const digests = (await api(d.sock, 'GET', `/images/${id}/json`)).json().RepoDigests as string[];
    assert.equal(digests.length, 1);

    const del = await api(d.sock, 'DELETE', `/images/${id.slice(7, 19)}`);
    assert.equal(del.status, 200, del.text());
    assert.deepEqual(del.json(), [{ Untagged: `${repo}:v1` }, { Untagged: digests[0] }, { Deleted: id }]);
    assert.equal((await api(d.sock, 'GET', `/images/${id}/json`)).status, 404);
  });

  it('still refuses by ID, without force, an image tagged in two repositories', async () => {
    const imp = await api(d.sock, 'POST', '/images/create?fromSrc=-&repo=rmi/one&tag=a', await tarOf([{ name: 'two.txt', content: 'two repos' }]));
    const id = imp.messages().at(-1).status as string;
    assert.equal((await api(d.sock, 'POST', `/images/rmi/one:a/tag?repo=rmi/two&tag=b`)).status, 201);
    const del = await api(d.sock, 'DELETE', `/images/${id}`);
    assert.equal(del.status, 409);
    assert.match(del.json().message, /referenced in multiple repositories/);
  });

  it('loads a legacy archive whose layer.tar is a hard link to another directory\'s', async () => {
    const layer = await tarOf([{ name: 'linked.txt', content: 'through a hard link' }]);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] }, config: {} });
    const archive = await tarOf([
      { name: 'aaa/', type: 'directory' },
      { name: 'aaa/layer.tar', content: layer },
      { name: 'bbb/', type: 'directory' },
      { name: 'bbb/layer.tar', type: 'link', linkname: 'aaa/layer.tar' },
      { name: 'config.json', content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['load/hardlink:1'], Layers: ['bbb/layer.tar'] }]) },
    ]);
    const r = await api(d.sock, 'POST', '/images/load?quiet=1', archive);
    assert.ok(r.messages().some((m) => m.stream === 'Loaded image: load/hardlink:1\n'), r.text());
    assert.equal((await api(d.sock, 'GET', '/images/load/hardlink:1/json')).json().Id, sha(config));
  });

  it('loads untagged an OCI layout whose ref.name is only a tag', async () => {
    const layer = await tarOf([{ name: 'bare.txt', content: 'bare tag' }]);
    const { tar: archive, id } = await ociArchive([layer], { 'org.opencontainers.image.ref.name': 'latest' });
    const r = await api(d.sock, 'POST', '/images/load', archive);
    assert.ok(r.messages().some((m) => m.stream === `Loaded image ID: ${id}\n`), r.text());
    assert.deepEqual((await api(d.sock, 'GET', `/images/${id}/json`)).json().RepoTags, []);
    assert.equal((await api(d.sock, 'GET', '/images/latest:latest/json')).status, 404);
  });
});
