import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { openDb } from '../../base/db.js';
import { EngineError, notFound } from '../../base/errdefs.js';
import { NodeHost } from '../../base/host.js';
import { Logger } from '../../base/log.js';
import { LocalDriver } from '../../volume/local/local.js';
import { EventBus } from '../events.js';
import { parseFilters } from '../filters.js';
import { ANONYMOUS_LABEL, VolumeService } from '../volumes.js';
import { ContainerMounts, mountPointView, ociMount, parseBind, parseMountSpec, parseVolumesFrom, rootfsPropagation, tmpfsData, type MountPoint } from './mounts.js';
import type { ContainerRecord } from './record.js';

const invalid = (message: string) => (e: unknown) => {
  assert.ok(e instanceof EngineError, String(e));
  assert.equal(e.kind, 'invalid');
  assert.equal(e.message, message);
  return true;
};

describe('-v (HostConfig.Binds) syntax', () => {
  it('host paths are binds, rprivate unless a propagation is given', () => {
    const b = parseBind('/srv/www/:/usr/share/www/');
    assert.deepEqual([b.Type, b.Source, b.Destination, b.RW, b.Mode, b.Propagation], ['bind', '/srv/www', '/usr/share/www', true, '', 'rprivate']);
    const ro = parseBind('/srv:/srv:ro,rshared');
    assert.deepEqual([ro.RW, ro.Mode, ro.Propagation, ro.Spec.ReadOnly], [false, 'ro,rshared', 'rshared', true]);
    assert.equal(parseBind('/a:/b:z').RW, true);
    assert.equal(parseBind('/a:/b:rw,Z').Mode, 'rw,Z');
  });
  it('names are volumes, copied into unless nocopy; a lone path is an anonymous volume', () => {
    const v = parseBind('cache:/var/cache');
    assert.deepEqual([v.Type, v.Name, v.Destination, v.CopyData, v.Source, v.Spec.Source], ['volume', 'cache', '/var/cache', true, '', 'cache']);
    assert.equal(parseBind('cache:/c:nocopy').CopyData, false);
    const a = parseBind('/data');
    assert.deepEqual([a.Type, a.Name, a.Spec.Source], ['volume', '', undefined]);
    assert.equal(parseBind('x:/y', 'local').Driver, 'local');
  });
  it("refuses bad specs with Docker's messages", () => {
    assert.throws(() => parseBind('a:b'), invalid(`invalid volume specification: 'a:b': invalid mount config for type "volume": invalid mount path: 'b' mount path must be absolute`));
    assert.throws(() => parseBind('/foo:rw'), invalid(`invalid volume specification: '/foo:rw'`));
    assert.throws(() => parseBind(':/x'), invalid(`invalid volume specification: ':/x'`));
    assert.throws(() => parseBind('a:/b:c:d'), invalid(`invalid volume specification: 'a:/b:c:d'`));
    assert.throws(() => parseBind('a:/b:bogus'), invalid('invalid mode: bogus'));
    assert.throws(() => parseBind('a:/b:ro,rw'), invalid('invalid mode: ro,rw'));
    assert.throws(() => parseBind('/x:/'), invalid(`invalid volume specification: '/x:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`));
  });
});

describe('--mount (HostConfig.Mounts) checks', () => {
  it('a bind needs an existing absolute source', () => {
    assert.throws(() => parseMountSpec({ Type: 'bind', Source: '/no/such/dir', Target: '/x' }, { checkBindSource: true }),
      invalid('invalid mount config for type "bind": bind source path does not exist: /no/such/dir'));
    assert.throws(() => parseMountSpec({ Type: 'bind', Source: 'rel', Target: '/x' }), invalid(`invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`));
    assert.throws(() => parseMountSpec({ Type: 'bind', Target: '/x' }), invalid('invalid mount config for type "bind": field Source must not be empty'));
    assert.throws(() => parseMountSpec({ Type: 'bind', Source: '/tmp', Target: '/x', BindOptions: { Propagation: 'weird' } }), invalid('invalid mount config for type "bind": invalid propagation mode: weird'));
    const ok = parseMountSpec({ Type: 'bind', Source: '/tmp/', Target: '/x/', ReadOnly: true }, { checkBindSource: true });
    assert.deepEqual([ok.Source, ok.Destination, ok.RW, ok.Propagation], ['/tmp', '/x', false, 'rprivate']);
  });
  it('targets are absolute and not /', () => {
    assert.throws(() => parseMountSpec({ Type: 'volume', Target: 'data' }), invalid(`invalid mount config for type "volume": invalid mount path: 'data' mount path must be absolute`));
    assert.throws(() => parseMountSpec({ Type: 'tmpfs', Target: '/' }), invalid(`invalid mount config for type "tmpfs": invalid specification: destination can't be '/'`));
    assert.throws(() => parseMountSpec({ Type: 'volume' }), invalid('invalid mount config for type "volume": field Target must not be empty'));
  });
  it('each type refuses the fields of the others', () => {
    assert.throws(() => parseMountSpec({ Type: 'volume', Target: '/v', BindOptions: {} }), invalid('invalid mount config for type "volume": field BindOptions must not be specified'));
    assert.throws(() => parseMountSpec({ Type: 'volume', Target: '/v', ReadOnly: true }), invalid('invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes'));
    assert.throws(() => parseMountSpec({ Type: 'tmpfs', Source: 'x', Target: '/t' }), invalid('invalid mount config for type "tmpfs": field Source must not be specified'));
    assert.throws(() => parseMountSpec({ Type: 'npipe', Target: '/t' }), invalid('invalid mount config for type "npipe": mount type unknown'));
    assert.throws(() => parseMountSpec({ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { Subpath: '../etc' } }), invalid('invalid mount config for type "volume": subpath must be a relative path within the volume'));
  });
  it('volume options: nocopy and a subpath turn copy-up off, the driver is kept', () => {
    assert.equal(parseMountSpec({ Type: 'volume', Source: 'v', Target: '/v' }).CopyData, true);
    assert.equal(parseMountSpec({ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { NoCopy: true } }).CopyData, false);
    assert.equal(parseMountSpec({ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { Subpath: 'sub/dir' } }).CopyData, false);
    assert.equal(parseMountSpec({ Type: 'volume', Target: '/v', VolumeOptions: { DriverConfig: { Name: 'local' } } }).Driver, 'local');
  });
});

describe('--volumes-from syntax', () => {
  it('container[:ro|rw]', () => {
    assert.deepEqual(parseVolumesFrom('data'), { id: 'data', mode: 'rw' });
    assert.deepEqual(parseVolumesFrom('data:ro'), { id: 'data', mode: 'ro' });
    assert.throws(() => parseVolumesFrom('data:rshared'), invalid('invalid mode: rshared'));
    assert.throws(() => parseVolumesFrom('data:nocopy'), invalid('invalid mode: nocopy'));
    assert.throws(() => parseVolumesFrom('data:bogus'), invalid('invalid mode: bogus'));
    assert.throws(() => parseVolumesFrom(''), invalid('volumes-from specification cannot be an empty string'));
  });
});

describe('OCI mounts and views', () => {
  const mp = (o: Partial<MountPoint>): MountPoint => ({ Type: 'bind', Source: '/h', Destination: '/c', RW: true, Mode: '', Propagation: 'rprivate', Spec: {}, ...o });
  it('binds are rbind with their propagation, volumes plain rbind, ro when asked', () => {
    assert.deepEqual(ociMount(mp({ RW: false }), '/h'), { destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'ro', 'rprivate'] });
    assert.deepEqual(ociMount(mp({ Type: 'volume', Propagation: '' }), '/v/_data'), { destination: '/c', type: 'bind', source: '/v/_data', options: ['rbind'] });
    assert.deepEqual(ociMount(mp({ Spec: { BindOptions: { NonRecursive: true } } }), '/h').options, ['bind', 'rprivate']);
  });
  it('tmpfs mounts take size and mode, noexec by default like Docker', () => {
    assert.equal(tmpfsData({ ReadOnly: true, TmpfsOptions: { SizeBytes: 64 << 20, Mode: 0o1770 } }), 'ro,mode=1770,size=64m');
    assert.equal(tmpfsData({ TmpfsOptions: { SizeBytes: 1000 } }), 'size=1000');
    assert.equal(tmpfsData({ TmpfsOptions: { SizeBytes: 3 * 2 ** 30 } }), 'size=3g');
    const m = ociMount(mp({ Type: 'tmpfs', Source: '', Propagation: '', Spec: { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o700 } } }), 'tmpfs');
    assert.deepEqual(m, { destination: '/c', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=700', 'size=1m'] });
  });
  it('shared and slave binds set the rootfs propagation', () => {
    assert.equal(rootfsPropagation([mp({})]), undefined);
    assert.equal(rootfsPropagation([mp({ Propagation: 'rslave' })]), 'rslave');
    assert.equal(rootfsPropagation([mp({ Propagation: 'rslave' }), mp({ Propagation: 'shared' })]), 'shared');
  });
  it("inspect's Mounts leave Name and Driver out when empty", () => {
    assert.deepEqual(JSON.stringify(mountPointView(mp({}))), '{"Type":"bind","Source":"/h","Destination":"/c","Mode":"","RW":true,"Propagation":"rprivate"}');
    assert.deepEqual(JSON.stringify(mountPointView(mp({ Type: 'volume', Name: 'v', Driver: 'local', Mode: 'z', Propagation: '' }))),
      '{"Type":"volume","Name":"v","Source":"/h","Destination":"/c","Driver":"local","Mode":"z","RW":true,"Propagation":""}');
  });
});

describe('ContainerMounts.resolve', () => {
  let root: string;
  let volumes: VolumeService;
  let mounts: ContainerMounts;
  let records: ContainerRecord[];
  const find = (ref: string) => {
    const c = records.find((r) => r.id === ref || r.name === ref);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  };
  const names = async () => (await volumes.list(parseFilters(''))).Volumes.map((v) => v.Name).sort();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pier-mounts-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    const dir = await mkdtemp(join(root, 't-'));
    const db = openDb(join(dir, 'pier.db'), []);
    volumes = new VolumeService({ local: await LocalDriver.open(join(dir, 'volumes'), db, new NodeHost()) }, new EventBus(), new Logger({ write: () => undefined }, 'fatal'));
    records = [];
    mounts = new ContainerMounts(volumes, () => records, new NodeHost(), new Logger({ write: () => undefined }, 'fatal'));
  });

  it('binds, named volumes made on demand, --mount and Config.Volumes, each destination once', async () => {
    const list = await mounts.resolve('c1', { Volumes: { '/data': {}, '/cache': {}, '/logs/': {} } }, {
      Binds: ['/tmp:/host-tmp:ro', 'named:/data'],
      Mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1 << 20 } }, { Type: 'volume', Target: '/cache', VolumeOptions: { Labels: { x: 'y' } } }],
    }, find);
    assert.deepEqual(list.map((m) => [m.Destination, m.Type, m.Mode]), [
      ['/host-tmp', 'bind', 'ro'], ['/data', 'volume', 'z'], ['/scratch', 'tmpfs', ''], ['/cache', 'volume', 'z'], ['/logs', 'volume', ''],
    ]);
    const cache = list.find((m) => m.Destination === '/cache')!;
    const logs = list.find((m) => m.Destination === '/logs')!;
    assert.match(cache.Name!, /^[0-9a-f]{64}$/, 'a --mount volume without a source is anonymous');
    assert.deepEqual((await volumes.inspect(cache.Name!)).Labels, { [ANONYMOUS_LABEL]: '', x: 'y' });
    assert.equal(logs.CopyData, true, "an image VOLUME gets the image's content");
    assert.equal(logs.Source, (await volumes.inspect(logs.Name!)).Mountpoint);
    assert.deepEqual(await names(), [cache.Name!, logs.Name!, 'named'].sort());
    await assert.rejects(volumes.remove('named'), /volume is in use - \[c1\]/, 'reserved until the record exists');
    mounts.committed('c1');
    await volumes.remove('named');
  });

  it('refuses duplicates and bad specs before making any volume', async () => {
    const dup = (hc: object, dest: string) => assert.rejects(mounts.resolve('c2', {}, hc, find), invalid(`Duplicate mount point: ${dest}`));
    await dup({ Binds: ['a1:/x', 'b1:/x'] }, '/x');
    await dup({ Binds: ['/tmp:/t'], Tmpfs: { '/t': '' } }, '/t');
    await dup({ Binds: ['/tmp:/m'], Mounts: [{ Type: 'tmpfs', Target: '/m/' }] }, '/m/');
    await assert.rejects(mounts.resolve('c2', {}, { Binds: ['fine:/ok'], Mounts: [{ Type: 'bind', Source: '/no/such/src', Target: '/b' }] }, find),
      invalid('invalid mount config for type "bind": bind source path does not exist: /no/such/src'));
    await assert.rejects(mounts.resolve('c2', {}, { Binds: ['fine:/ok', '../x:/y'] }, find), /includes invalid characters for a local volume name/);
    assert.deepEqual(await names(), ['fine'], 'only the named volume made before the failing one stays, as in Docker');
  });

  it('a failed create takes back the anonymous volumes it made', async () => {
    await mounts.resolve('c3', { Volumes: { '/a': {}, '/b': {} } }, {}, find);
    assert.equal((await names()).length, 2);
    await mounts.rollback('c3');
    assert.deepEqual(await names(), []);
  });

  it('--volumes-from copies the mount points, read-only when asked', async () => {
    const donorMounts = await mounts.resolve('donor', { Volumes: { '/shared': {} } }, { Binds: ['/tmp:/t'] }, find);
    mounts.committed('donor');
    records.push({ id: 'donor', name: 'donor', mounts: donorMounts } as ContainerRecord);
    const list = await mounts.resolve('c4', {}, { VolumesFrom: ['donor:ro'] }, find);
    assert.deepEqual(list.map((m) => [m.Destination, m.RW, m.CopyData ?? false]), [['/t', false, false], ['/shared', false, false]]);
    assert.equal(list[1]!.Name, donorMounts[1]!.Name);
    await assert.rejects(mounts.resolve('c5', {}, { VolumesFrom: ['ghost'] }, find), invalid('No such container: ghost'));
    assert.deepEqual(mounts.usersOf(donorMounts[1]!.Name!), ['donor']);
  });
});
