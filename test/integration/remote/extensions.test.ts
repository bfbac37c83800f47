/**
 * The target side of `container move` and `image copy` against one real pierd:
 * the Pier extensions a source daemon calls (which layers are missing, a
 * partial load, a tar into a volume, a layer into a container's writable
 * layer) — their success paths, and crafted input that must stay inside the
 * volume or rootfs or be refused, with nothing half-made left behind.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, create } from '../../harness/containers.js';
import { dockerArchive, sha, tarOf } from '../../harness/tars.js';

const skip = containerSkip();

describe('daemon-to-daemon extensions (target side)', { skip }, () => {
  let d: TestDaemon;
  let outside: string;
  const put = (path: string, body: Buffer) => api(d.sock, 'PUT', path, body, { 'Content-Type': 'application/x-tar' });

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
    outside = mkdtempSync('/tmp/pier-ext-outside-');
  });
  after(async () => {
    await d?.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  it('says which layers it lacks, and loads an archive that leaves out the ones it has', async () => {
    const base = await tarOf([{ name: 'base.txt', content: 'base\n' }]);
    const top = await tarOf([{ name: 'top.txt', content: 'top\n' }]);
    const full = await dockerArchive({ layers: [base], repoTags: ['ext/base:1'] });
    assert.equal((await api(d.sock, 'POST', '/images/load', full.tar)).status, 200);

    const r = await api(d.sock, 'POST', '/images/layers/missing', { DiffIds: [sha(base), sha(top)] });
    assert.equal(r.status, 200, r.text());
    assert.deepEqual(r.json(), { Missing: [1] });
    assert.equal((await api(d.sock, 'POST', '/images/layers/missing', { DiffIds: ['nope'] })).status, 400);

    // The archive names the base layer but leaves its file out.
    const partial = await dockerArchive({ layers: [base, top], repoTags: ['ext/app:1'], omit: `blobs/sha256/${sha(base).slice(7)}` });
    const plain = await api(d.sock, 'POST', '/images/load', partial.tar);
    assert.match(plain.text(), /missing from the archive/, 'a plain load still refuses an incomplete archive');
    const ok = await api(d.sock, 'POST', '/images/load?pier-partial=1', partial.tar);
    assert.doesNotMatch(ok.text(), /error/, ok.text());
    assert.match(ok.text(), /Loaded image: ext\/app:1/);
    assert.equal((await api(d.sock, 'GET', '/images/ext/app:1/json')).json<{ Id: string }>().Id, partial.id);

    // A layer it does not have is not taken on trust.
    const other = await tarOf([{ name: 'other.txt', content: 'other\n' }]);
    const bad = await dockerArchive({ layers: [other, top], repoTags: ['ext/bad:1'], omit: `blobs/sha256/${sha(other).slice(7)}` });
    const refused = await api(d.sock, 'POST', '/images/load?pier-partial=1', bad.tar);
    assert.match(refused.text(), /incomplete image: layer [0-9a-f]{12} .*is neither in the archive nor on this daemon/);
    assert.equal((await api(d.sock, 'GET', '/images/ext/bad:1/json')).status, 404);
  });

  it('fills a volume from a tar, keeping every entry inside it', async () => {
    assert.equal((await api(d.sock, 'POST', '/volumes/create', { Name: 'extvol' })).status, 201);
    const mp = (await api(d.sock, 'GET', '/volumes/extvol')).json<{ Mountpoint: string }>().Mountpoint;
    let head = await api(d.sock, 'HEAD', '/volumes/extvol/archive');
    assert.equal(head.headers['x-pier-volume-empty'], '1');
    const good = await tarOf([{ name: 'dir/', type: 'directory' }, { name: 'dir/f', content: 'data\n' }]);
    assert.equal((await put('/volumes/extvol/archive', good)).status, 204);
    assert.equal(readFileSync(join(mp, 'dir/f'), 'utf8'), 'data\n');
    head = await api(d.sock, 'HEAD', '/volumes/extvol/archive');
    assert.equal(head.headers['x-pier-volume-empty'], '0');

    // A symlink out of the volume, then a file through it: resolved inside the volume.
    const evil = await tarOf([{ name: 'esc', type: 'symlink', linkname: outside }, { name: 'esc/pwned', content: 'x' }, { name: '../../../../pwned2', content: 'y' }]);
    const evilPut = await put('/volumes/extvol/archive', evil);
    assert.equal(existsSync(join(outside, 'pwned')), false, 'a tar entry wrote outside the volume');
    // Where "../../../../pwned2" would land if it were not kept inside: four levels above the volume's data.
    assert.equal(existsSync(resolve(mp, '../../../../pwned2')), false, 'a tar entry climbed out of the volume');
    assert.equal(evilPut.status, 400, 'the climbing entry is refused');
    assert.match(evilPut.text(), /"\.\.\/\.\.\/\.\.\/\.\.\/pwned2\\?" is outside of/);
    assert.equal((await put('/volumes/nosuchvol/archive', good)).status, 404);
  });

  it('applies a layer to a stopped container, whiteouts included, and refuses a running one', async () => {
    const id = await create(d, { Image: 'busybox', Cmd: ['sleep', '1000'] }, 'extctr');
    const layer = await tarOf([
      { name: 'root/', type: 'directory', mode: 0o700 },
      { name: 'root/moved', content: 'moved\n' },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.group', content: '' },
    ]);
    // A name that climbs out of the root is refused, and the container stays usable.
    const climb = await put(`/containers/${id}/rwlayer`, await tarOf([{ name: '../../outside-file', content: 'z' }]));
    assert.equal(climb.status, 400, climb.text());
    const r = await put(`/containers/${id}/rwlayer`, layer);
    assert.equal(r.status, 204, r.text());
    assert.equal((await api(d.sock, 'POST', `/containers/${id}/start`)).status, 204);
    const exec = async (cmd: string[]) => {
      const e = (await api(d.sock, 'POST', `/containers/${id}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: true })).json<{ Id: string }>().Id;
      const out = await api(d.sock, 'POST', `/exec/${e}/start`, { Detach: false, Tty: true });
      return out.text();
    };
    assert.match(await exec(['cat', '/root/moved']), /moved/);
    assert.match(await exec(['ls', '/etc/group']), /No such file/);
    const running = await put(`/containers/${id}/rwlayer`, await tarOf([{ name: 'x', content: 'x' }]));
    assert.equal(running.status, 409);
    assert.match(running.text(), /is running/);
  });
});
