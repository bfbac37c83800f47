/**
 * Volumes over the Engine API against a real pierd on runc: the /volumes
 * endpoints and their errors, and volumes, binds and tmpfs mounts in
 * containers — each checked from inside the container (its output) and from
 * the host (files in the volume, the mount table).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, create, demux, endAll, inspect, mountsUnder, pastEvents, waitFor } from '../../harness/containers.js';

const skip = containerSkip();

interface Volume { Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null; Options: Record<string, string> | null; Scope: string; CreatedAt: string }

describe('volumes API', { skip }, () => {
  let d: TestDaemon;
  let hostDir: string;
  const post = (path: string, body?: unknown) => api(d.sock, 'POST', path, body);
  const get = (path: string) => api(d.sock, 'GET', path);
  const del = (path: string) => api(d.sock, 'DELETE', path);
  const q = (o: object) => encodeURIComponent(JSON.stringify(o));
  const volume = async (body: object) => {
    const r = await post('/volumes/create', body);
    assert.equal(r.status, 201, r.text());
    return r.json<Volume>();
  };
  const names = async (filters: object = {}) => (await get(`/volumes?filters=${q(filters)}`)).json<{ Volumes: Volume[] }>().Volumes.map((v) => v.Name).sort();
  /** Creates, starts and waits for a container; its exit code and output. */
  const run = async (cmd: string, hostConfig: object = {}, extra: object = {}, name?: string) => {
    const id = await create(d, { Image: 'busybox', Cmd: ['sh', '-c', cmd], HostConfig: hostConfig, ...extra }, name);
    const s = await post(`/containers/${id}/start`);
    assert.equal(s.status, 204, s.text());
    const code = (await post(`/containers/${id}/wait`)).json<{ StatusCode: number }>().StatusCode;
    const out = demux((await get(`/containers/${id}/logs?stdout=1&stderr=1`)).body).map((f) => f.data).join('');
    return { id, code, out };
  };
  const rmc = async (id: string, v = false) => assert.equal((await del(`/containers/${id}?force=1${v ? '&v=1' : ''}`)).status, 204);

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
    hostDir = mkdtempSync('/tmp/pier-volumes-host-');
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  it('create, inspect, list and remove, in Docker shape', async () => {
    const v = await volume({ Name: 'shape', Driver: 'local', DriverOpts: {}, Labels: { app: 'web' } });
    assert.deepEqual(Object.keys(v), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.deepEqual([v.Name, v.Driver, v.Scope, v.Labels, v.Options], ['shape', 'local', 'local', { app: 'web' }, {}]);
    assert.equal(v.Mountpoint, join(d.dataRoot, 'volumes', 'shape', '_data'));
    assert.ok(statSync(v.Mountpoint).isDirectory());
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    assert.deepEqual((await get('/volumes/shape')).json(), v);
    assert.deepEqual((await volume({ Name: 'shape', Labels: { other: '1' } })), v, 'an existing name returns that volume');
    const list = await get('/volumes');
    assert.equal(list.json<{ Warnings: unknown }>().Warnings, null);
    assert.ok(await names().then((n) => n.includes('shape')));
    assert.deepEqual(await names({ label: ['app=web'] }), ['shape']);
    const anon = await volume({});
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(anon.Labels, { 'com.docker.volume.anonymous': '' });
    for (const n of ['shape', anon.Name]) assert.equal((await del(`/volumes/${n}`)).status, 204);
    assert.ok(!existsSync(v.Mountpoint), 'the data directory went with it');
    const gone = await get('/volumes/shape');
    assert.deepEqual([gone.status, gone.json().message], [404, 'get shape: no such volume']);
    const again = await del('/volumes/shape');
    assert.deepEqual([again.status, again.json().message], [404, 'get shape: no such volume']);
    assert.equal((await del('/volumes/shape?force=1')).status, 204, 'force: a missing volume is no error');
    // Events, as Docker logs them.
    const ev = await pastEvents(d, { type: ['volume'], volume: ['shape'] });
    assert.deepEqual(ev.map((e) => [e.Action, e.Actor.Attributes.driver]), [['create', 'local'], ['destroy', 'local']]);
  });

  it('refuses bad names, unknown drivers and options, and cluster updates, like Docker', async () => {
    for (const [name, msg] of [
      ['../x', 'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      ['a/b', 'create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      ['x', 'create x: volume name is too short, names should be at least two alphanumeric characters'],
    ]) {
      const r = await post('/volumes/create', { Name: name });
      assert.deepEqual([r.status, r.json().message], [400, msg]);
    }
    const drv = await post('/volumes/create', { Name: 'vv', Driver: 'nfsplug' });
    assert.deepEqual([drv.status, drv.json().message], [404, 'create vv: error looking up volume plugin nfsplug: plugin "nfsplug" not found']);
    const opt = await post('/volumes/create', { Name: 'vv', DriverOpts: { bogus: '1' } });
    assert.deepEqual([opt.status, opt.json().message], [400, 'create vv: invalid option: "bogus"']);
    const put = await api(d.sock, 'PUT', '/volumes/vv?version=1', {});
    assert.deepEqual([put.status, put.json().message], [503, 'volume update only valid for cluster volumes, but swarm is unavailable']);
    assert.ok(!existsSync(join(d.dataRoot, 'volumes', 'vv')), 'nothing was made');
    assert.ok(!existsSync(join(d.dataRoot, 'x')) && !existsSync(join(d.dataRoot, 'volumes', '..', 'x')));
  });

  it("a named volume's data outlives its container; :ro refuses writes", async () => {
    const w = await run('echo kept > /data/file', { Binds: ['keep:/data'] });
    assert.equal(w.code, 0, w.out);
    await rmc(w.id, true);
    const r = await run('cat /data/file', { Binds: ['keep:/data:ro'] });
    assert.deepEqual([r.code, r.out], [0, 'kept\n']);
    const ro = await run('echo no > /data/other', { Binds: ['keep:/data:ro'] });
    assert.equal(ro.code, 1);
    assert.match(ro.out, /Read-only file system/);
    const mounts = (await inspect(d, ro.id)).Mounts;
    assert.deepEqual(mounts, [{ Type: 'volume', Name: 'keep', Source: join(d.dataRoot, 'volumes', 'keep', '_data'), Destination: '/data', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' }]);
    assert.equal(readFileSync(join(d.dataRoot, 'volumes', 'keep', '_data', 'file'), 'utf8'), 'kept\n');
    for (const id of [r.id, ro.id]) await rmc(id, true);
    assert.deepEqual(await names({ name: ['^keep$'] }), ['keep'], 'rm -v leaves named volumes');
    const ev = await pastEvents(d, { type: ['volume'], volume: ['keep'] });
    assert.deepEqual(ev.filter((e) => e.Action === 'mount').map((e) => [e.Actor.Attributes.destination, e.Actor.Attributes['read/write']]), [['/data', 'true'], ['/data', 'false'], ['/data', 'false']]);
    assert.equal(ev.filter((e) => e.Action === 'unmount').length, 3);
  });

  it("an anonymous volume from the image's VOLUME gets a copy of the image's files, owners, modes and links", async () => {
    const src = await run('mkdir -p /srv/data/sub && echo seed > /srv/data/sub/f && chmod 640 /srv/data/sub/f && chown 1000:1000 /srv/data/sub/f && ln -s sub/f /srv/data/link && chmod 750 /srv/data && chown 33:33 /srv/data');
    assert.equal(src.code, 0, src.out);
    const img = await post(`/commit?container=${src.id}&repo=pier-vol-image&tag=1&changes=${encodeURIComponent('VOLUME ["/srv/data"]')}`);
    assert.equal(img.status, 201, img.text());
    const c = await run('cat /srv/data/sub/f && echo more >> /srv/data/sub/f', {}, { Image: 'pier-vol-image:1' });
    assert.deepEqual([c.code, c.out], [0, 'seed\n']);
    const [m] = (await inspect(d, c.id)).Mounts;
    assert.deepEqual([m.Type, m.Destination, m.Mode, m.RW, m.Propagation, m.Driver], ['volume', '/srv/data', '', true, '', 'local']);
    assert.match(m.Name, /^[0-9a-f]{64}$/);
    const data = m.Source as string;
    assert.equal(readFileSync(join(data, 'sub/f'), 'utf8'), 'seed\nmore\n');
    const st = statSync(join(data, 'sub/f'));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o640, 1000, 1000]);
    assert.equal(readlinkSync(join(data, 'link')), 'sub/f');
    assert.ok(lstatSync(join(data, 'link')).isSymbolicLink());
    const root = statSync(data);
    assert.deepEqual([root.mode & 0o7777, root.uid, root.gid], [0o750, 33, 33], "the volume's root takes the directory's mode and owner");
    // Restarting does not copy again: the container's own change stays.
    assert.equal((await post(`/containers/${c.id}/start`)).status, 204);
    await post(`/containers/${c.id}/wait`);
    assert.equal(readFileSync(join(data, 'sub/f'), 'utf8'), 'seed\nmore\nmore\n');
    // nocopy: an empty volume.
    const nc = await run('ls -A /srv/data | wc -l', { Mounts: [{ Type: 'volume', Target: '/srv/data', VolumeOptions: { NoCopy: true } }] }, { Image: 'pier-vol-image:1' });
    assert.deepEqual([nc.code, nc.out.trim()], [0, '0']);
    // A named volume that already has files keeps them.
    const filler = await run('echo mine > /v/own', { Binds: ['prefilled:/v'] });
    const pf = await run('ls /srv/data', { Binds: ['prefilled:/srv/data'] }, { Image: 'pier-vol-image:1' });
    assert.deepEqual([pf.code, pf.out], [0, 'own\n']);
    // A bind gets no copy.
    const bindDir = mkdtempSync(join(hostDir, 'bind-'));
    const bd = await run('ls -A /srv/data | wc -l', { Binds: [`${bindDir}:/srv/data`] }, { Image: 'pier-vol-image:1' });
    assert.deepEqual([bd.code, bd.out.trim()], [0, '0']);
    // rm -v takes the anonymous volume; the image's VOLUME was only in this container.
    const anonName = m.Name as string;
    await rmc(c.id, true);
    assert.ok(!(await names()).includes(anonName), 'rm -v removed the anonymous volume');
    assert.ok(!existsSync(data));
    for (const id of [src.id, nc.id, pf.id, bd.id, filler.id]) await rmc(id, true);
    assert.ok((await names()).includes('prefilled'));
  });

  it('409 while any container (running or not) uses a volume, 204 once it is gone', async () => {
    await volume({ Name: 'busy' });
    const id = await create(d, { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: ['busy:/b'] } });
    const r = await del('/volumes/busy');
    assert.deepEqual([r.status, r.json().message], [409, `remove busy: volume is in use - [${id}]`]);
    assert.equal((await del('/volumes/busy?force=1')).status, 409, 'force does not take a volume in use');
    assert.deepEqual(await names({ dangling: ['false'], name: ['^busy$'] }), ['busy']);
    await rmc(id);
    assert.deepEqual(await names({ dangling: ['true'], name: ['^busy$'] }), ['busy']);
    assert.equal((await del('/volumes/busy')).status, 204);
  });

  it('binds a host directory both ways, and makes a missing -v source directory', async () => {
    writeFileSync(join(hostDir, 'from-host'), 'hello from the host\n');
    const b = await run('cat /h/from-host && echo back > /h/from-ctr', { Binds: [`${hostDir}:/h`] });
    assert.deepEqual([b.code, b.out], [0, 'hello from the host\n']);
    await rmc(b.id);
    assert.equal(readFileSync(join(hostDir, 'from-ctr'), 'utf8'), 'back\n');
    const missing = join(hostDir, 'made', 'by', 'pier');
    const m = await run('touch /m/x && echo ok', { Binds: [`${missing}:/m`] });
    assert.deepEqual([m.code, m.out], [0, 'ok\n']);
    assert.ok(existsSync(join(missing, 'x')));
    const view = (await inspect(d, m.id)).Mounts;
    assert.deepEqual(view, [{ Type: 'bind', Source: missing, Destination: '/m', Mode: '', RW: true, Propagation: 'rprivate' }]);
    // The mount point runc made is no change of the container's (nor what went into the bind).
    const changes = (await get(`/containers/${m.id}/changes`)).json<{ Path: string }[] | null>() ?? [];
    assert.ok(!changes.some((c) => c.Path === '/m' || c.Path.startsWith('/m/')), JSON.stringify(changes));
    await rmc(m.id);
  });

  it('--mount type=bind with a missing source is a 400 and creates nothing', async () => {
    const before = (await get('/containers/json?all=1')).json<unknown[]>().length;
    const volsBefore = await names();
    const r = await post('/containers/create?name=nobind', {
      Image: 'busybox', Volumes: { '/anon': {} }, HostConfig: { Binds: ['ondemand:/o'], Mounts: [{ Type: 'bind', Source: join(hostDir, 'nope'), Target: '/x' }] },
    });
    assert.deepEqual([r.status, r.json().message], [400, `invalid mount config for type "bind": bind source path does not exist: ${join(hostDir, 'nope')}`]);
    assert.equal((await get('/containers/json?all=1')).json<unknown[]>().length, before);
    assert.deepEqual(await names(), volsBefore, 'no volume was made');
    assert.ok(!existsSync(join(hostDir, 'nope')));
  });

  it('refuses duplicate and relative destinations, and bad volume names in -v', async () => {
    const cases: [object, string][] = [
      [{ Binds: ['/tmp:/x', 'v1:/x'] }, 'Duplicate mount point: /x'],
      [{ Binds: ['/tmp:/x'], Mounts: [{ Type: 'tmpfs', Target: '/x' }] }, 'Duplicate mount point: /x'],
      [{ Binds: ['/tmp:/t'], Tmpfs: { '/t': '' } }, 'Duplicate mount point: /t'],
      [{ Binds: ['a:b'] }, `invalid volume specification: 'a:b': invalid mount config for type "volume": invalid mount path: 'b' mount path must be absolute`],
      [{ Mounts: [{ Type: 'volume', Target: 'rel' }] }, `invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`],
      [{ Binds: ['../up:/x'] }, 'create ../up: "../up" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ Binds: ['a/b:/x'] }, 'create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
      [{ VolumesFrom: ['ghost'] }, 'No such container: ghost'],
    ];
    const volsBefore = await names();
    for (const [hc, msg] of cases) {
      const r = await post('/containers/create', { Image: 'busybox', HostConfig: hc });
      assert.deepEqual([r.status, r.json().message], [400, msg], JSON.stringify(hc));
    }
    assert.deepEqual(await names(), volsBefore);
  });

  it('tmpfs mounts: size and mode as asked, gone with the container', async () => {
    const t = await run('df -k /t | tail -1 && stat -c %a /t && grep " /t " /proc/mounts', { Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 3 << 20, Mode: 0o1770 } }] });
    assert.equal(t.code, 0, t.out);
    const [df, mode, mnt] = t.out.trim().split('\n');
    assert.match(df!, /^tmpfs\s+3072\s/);
    assert.equal(mode, '1770');
    assert.match(mnt!, /tmpfs \/t tmpfs rw,nosuid,nodev,noexec,.*size=3072k,mode=1770/);
    const info = await inspect(d, t.id);
    assert.deepEqual(info.Mounts, [{ Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' }]);
    assert.deepEqual(info.HostConfig.Mounts, [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 3 << 20, Mode: 0o1770 } }], 'HostConfig keeps the request');
    await rmc(t.id);
  });

  it('a local volume with tmpfs options is a tmpfs mounted while used, unmounted after', async () => {
    const v = await volume({ Name: 'ramdisk', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=2m,uid=1000' } });
    assert.deepEqual(v.Options, { device: 'tmpfs', o: 'size=2m,uid=1000', type: 'tmpfs' });
    assert.deepEqual(mountsUnder(v.Mountpoint), [], 'not mounted before a container uses it');
    const id = await create(d, { Image: 'busybox', Cmd: ['sh', '-c', 'df -k /r | tail -1; stat -c %u /r; echo x > /r/f; sleep 60'], HostConfig: { Binds: ['ramdisk:/r'] } });
    assert.equal((await post(`/containers/${id}/start`)).status, 204);
    await waitFor('the tmpfs volume mounted on the host', () => mountsUnder(v.Mountpoint).length === 1);
    const info = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === v.Mountpoint)!;
    assert.match(info, / - tmpfs tmpfs rw,.*size=2048k/);
    await waitFor('the file in the volume', () => existsSync(join(v.Mountpoint, 'f')));
    const out = await waitFor('the output', async () => demux((await get(`/containers/${id}/logs?stdout=1`)).body).map((f) => f.data).join('').match(/^tmpfs\s+2048\s.*\n(\d+)\n$/));
    assert.equal(out[1], '1000', 'uid=1000 from the volume options');
    assert.equal((await post(`/containers/${id}/kill`)).status, 204);
    await post(`/containers/${id}/wait`);
    await waitFor('the tmpfs volume unmounted after its last user stopped', () => mountsUnder(v.Mountpoint).length === 0);
    assert.ok(!existsSync(join(v.Mountpoint, 'f')), 'a tmpfs keeps nothing');
    await rmc(id);
    assert.equal((await del('/volumes/ramdisk')).status, 204);
  });

  it('--volumes-from shares the volumes (ro when asked); ps filters by volume', async () => {
    const donor = await create(d, { Image: 'busybox', Cmd: ['sh', '-c', 'echo shared > /shared/f'], Volumes: { '/shared': {} }, HostConfig: { Binds: ['fromvol:/named'] } }, 'donor');
    assert.equal((await post(`/containers/${donor}/start`)).status, 204);
    await post(`/containers/${donor}/wait`);
    const r = await run('cat /shared/f; ls /named >/dev/null && echo named; touch /shared/g 2>&1 | grep -o "Read-only file system"', { VolumesFrom: ['donor:ro'] });
    assert.deepEqual([r.code, r.out], [0, 'shared\nnamed\nRead-only file system\n']);
    const [dm, rm] = [(await inspect(d, donor)).Mounts, (await inspect(d, r.id)).Mounts];
    assert.deepEqual(rm.map((m: { Name: string }) => m.Name).sort(), dm.map((m: { Name: string }) => m.Name).sort());
    assert.ok(rm.every((m: { RW: boolean }) => !m.RW));
    const ps = async (f: string) => (await get(`/containers/json?all=1&filters=${q({ volume: [f] })}`)).json<{ Id: string }[]>().map((c) => c.Id).sort();
    assert.deepEqual(await ps('fromvol'), [donor, r.id].sort());
    assert.deepEqual(await ps('/shared'), [donor, r.id].sort());
    const list = (await get(`/containers/json?all=1&filters=${q({ id: [donor] })}`)).json<{ Mounts: unknown[] }[]>();
    assert.deepEqual(list[0]!.Mounts, dm, "ps shows the same Mounts as inspect");
    // The donor's anonymous volume stays while the other container uses it, even with rm -v.
    const anon = dm.find((m: { Destination: string }) => m.Destination === '/shared').Name;
    await rmc(donor, true);
    assert.ok((await names()).includes(anon), 'still used by the --volumes-from container');
    await rmc(r.id, true);
  });

  it('--rm removes the anonymous volumes but not the named ones', async () => {
    const id = await create(d, { Image: 'busybox', Cmd: ['true'], Volumes: { '/anon': {} }, HostConfig: { AutoRemove: true, Binds: ['rmkeep:/k'] } });
    const anon = (await inspect(d, id)).Mounts.find((m: { Destination: string }) => m.Destination === '/anon').Name;
    assert.ok((await names()).includes(anon));
    const removed = post(`/containers/${id}/wait?condition=removed`);
    assert.equal((await post(`/containers/${id}/start`)).status, 204);
    await removed;
    await waitFor('the anonymous volume removed', async () => !(await names()).includes(anon));
    assert.ok((await names()).includes('rmkeep'));
  });

  it('prune takes unused anonymous volumes by default, and named ones with all=true', async () => {
    for (const v of await names()) await del(`/volumes/${v}`); // a clean slate (volumes in use stay)
    const anonFree = await volume({});
    writeFileSync(join(anonFree.Mountpoint, 'bytes'), Buffer.alloc(4096));
    const anonUsed = await volume({});
    await volume({ Name: 'named-free', Labels: { keep: 'yes' } });
    await volume({ Name: 'named-free2' });
    const user = await create(d, { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: [`${anonUsed.Name}:/u`] } });
    const p1 = (await post('/volumes/prune')).json<{ VolumesDeleted: string[]; SpaceReclaimed: number }>();
    assert.deepEqual(p1, { VolumesDeleted: [anonFree.Name], SpaceReclaimed: 4096 });
    const p2 = (await post(`/volumes/prune?filters=${q({ all: ['true'], 'label!': ['keep=yes'] })}`)).json<{ VolumesDeleted: string[] }>();
    assert.deepEqual(p2.VolumesDeleted, ['named-free2']);
    const old = (await api(d.sock, 'POST', '/v1.41/volumes/prune')).json<{ VolumesDeleted: string[] }>();
    assert.deepEqual(old.VolumesDeleted, ['named-free'], 'before API 1.42 prune took every unused volume');
    assert.deepEqual(await names(), [anonUsed.Name]);
    const bad = await post(`/volumes/prune?filters=${q({ until: ['1h'] })}`);
    assert.deepEqual([bad.status, bad.json().message], [400, "invalid filter 'until'"]);
    await rmc(user);
  });

  it('system df lists local volumes with their size and links', async () => {
    const v = await volume({ Name: 'dfvol' });
    writeFileSync(join(v.Mountpoint, 'x'), Buffer.alloc(1234));
    const id = await create(d, { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: ['dfvol:/d'] } });
    const df = (await get('/system/df')).json<{ Volumes: (Volume & { UsageData: { Size: number; RefCount: number } })[] }>();
    const mine = df.Volumes.find((x) => x.Name === 'dfvol');
    assert.deepEqual(mine?.UsageData, { Size: 1234, RefCount: 1 });
    assert.equal((await get('/system/df?type=image')).json().Volumes, null);
    await rmc(id);
  });
});
