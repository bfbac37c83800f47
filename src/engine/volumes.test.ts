import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { openDb, type Db } from '../base/db.js';
import { engineError } from '../base/errdefs.test-support.js';
import { NodeHost } from '../base/host.js';
import { Logger } from '../base/log.js';
import { LocalDriver } from '../volume/local/local.js';
import { EventBus, type EngineEvent } from './events.js';
import { parseFilters } from './filters.js';
import { ANONYMOUS_LABEL, VolumeService } from './volumes.js';
import { rfc3339Local as rfc3339 } from '../base/time.js';
import { matchKVList } from './filters.js';

const quiet = new Logger({ write: () => undefined }, 'fatal');
const f = (o: Record<string, string[]> = {}) => parseFilters(JSON.stringify(o));
const fails = engineError;

describe('VolumeService', () => {
  let root: string;
  let db: Db;
  let svc: VolumeService;
  let events: EngineEvent[];
  let users: Record<string, string[]>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pier-volume-service-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    const dir = await mkdtemp(join(root, 't-'));
    db = openDb(join(dir, 'pier.db'), []);
    const bus = new EventBus();
    events = [];
    bus.subscribe((e) => events.push(e));
    svc = new VolumeService({ local: await LocalDriver.open(join(dir, 'volumes'), db, new NodeHost()) }, bus, quiet);
    users = {};
    svc.users = { usersOf: (name) => users[name] ?? [] };
  });

  it('creates named volumes in Docker shape and returns an existing one unchanged', async () => {
    const v = await svc.create({ Name: 'data', Driver: 'local', DriverOpts: {}, Labels: { b: '2', a: '1' } });
    assert.deepEqual(Object.keys(v), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    assert.deepEqual(Object.keys(v.Labels!), ['a', 'b'], 'label keys sorted as Go encodes a map');
    assert.deepEqual(v.Options, {});
    assert.equal(v.Scope, 'local');
    assert.match(v.Mountpoint, /\/volumes\/data\/_data$/);
    const again = await svc.create({ Name: 'data', Labels: { other: 'x' } });
    assert.deepEqual(again, v);
    assert.deepEqual(events.map((e) => [e.Type, e.Action, e.Actor.ID, e.Actor.Attributes.driver]), [['volume', 'create', 'data', 'local']], 'one create event');
    const bare = await svc.create({ Name: 'bare' });
    assert.equal(bare.Labels, null);
    assert.equal(bare.Options, null);
  });

  it('names anonymous volumes with 64 hex digits and labels them', async () => {
    const v = await svc.create({});
    assert.match(v.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(v.Labels, { [ANONYMOUS_LABEL]: '' });
    const w = await svc.create({ Labels: { mine: 'yes' } });
    assert.deepEqual(w.Labels, { [ANONYMOUS_LABEL]: '', mine: 'yes' });
    assert.notEqual(v.Name, w.Name);
  });

  it("refuses bad names, options and drivers with Docker's messages", async () => {
    await assert.rejects(svc.create({ Name: '../x' }), fails('invalid',
      'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'));
    await assert.rejects(svc.create({ Name: 'a/b' }), fails('invalid', /^create a\/b: "a\/b" includes invalid characters/));
    await assert.rejects(svc.create({ Name: 'opts', DriverOpts: { x: '1' } }), fails('invalid', 'create opts: invalid option: "x"'));
    await assert.rejects(svc.create({ Name: 'v1', Driver: 'nfsplugin' }), fails('not-found', 'create v1: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found'));
    assert.deepEqual((await svc.list(f())).Volumes, []);
  });

  it('inspects, and says "no such volume" like Docker', async () => {
    await svc.create({ Name: 'there' });
    assert.equal((await svc.inspect('there')).Name, 'there');
    await assert.rejects(svc.inspect('nope'), fails('not-found', 'get nope: no such volume'));
  });

  it('lists with the name, driver, label and dangling filters', async () => {
    await svc.create({ Name: 'web-data', Labels: { app: 'web', tier: 'front' } });
    await svc.create({ Name: 'db-data', Labels: { app: 'db' } });
    await svc.create({ Name: 'scratch' });
    users['db-data'] = ['c1'];
    const names = async (o: Record<string, string[]>) => (await svc.list(f(o))).Volumes.map((v) => v.Name).sort();
    assert.deepEqual(await names({}), ['db-data', 'scratch', 'web-data']);
    assert.deepEqual(await names({ name: ['data'] }), ['db-data', 'web-data'], 'a name filter is a regular expression');
    assert.deepEqual(await names({ name: ['^scratch$'] }), ['scratch']);
    assert.deepEqual(await names({ driver: ['local'] }), ['db-data', 'scratch', 'web-data']);
    assert.deepEqual(await names({ driver: ['other'] }), []);
    assert.deepEqual(await names({ label: ['app'] }), ['db-data', 'web-data']);
    assert.deepEqual(await names({ label: ['app=web', 'tier'] }), ['web-data']);
    assert.deepEqual(await names({ dangling: ['true'] }), ['scratch', 'web-data']);
    assert.deepEqual(await names({ dangling: ['0'] }), ['db-data']);
    await assert.rejects(svc.list(f({ dangling: ['maybe'] })), fails('invalid', "invalid filter 'dangling=maybe'"));
    await assert.rejects(svc.list(f({ bogus: ['1'] })), fails('invalid', "invalid filter 'bogus'"));
    assert.equal((await svc.list(f())).Warnings, null);
  });

  it('removes: 404 for none, 409 naming the users while in use, force for a missing one', async () => {
    await svc.create({ Name: 'used' });
    users['used'] = ['aaa', 'bbb'];
    await assert.rejects(svc.remove('used'), fails('conflict', 'remove used: volume is in use - [aaa, bbb]'));
    await assert.rejects(svc.remove('used', { force: true }), fails('conflict', /in use/), 'force does not take a volume in use');
    users['used'] = [];
    await svc.remove('used');
    await assert.rejects(svc.inspect('used'), fails('not-found', 'get used: no such volume'));
    await assert.rejects(svc.remove('used'), fails('not-found', 'get used: no such volume'));
    await svc.remove('used', { force: true });
    assert.deepEqual(events.filter((e) => e.Action === 'destroy').map((e) => e.Actor.ID), ['used']);
  });

  it('a reservation holds a volume for a container being created', async () => {
    await svc.create({ Name: 'fresh' }, { reference: 'new-ctr' });
    await assert.rejects(svc.remove('fresh'), fails('conflict', 'remove fresh: volume is in use - [new-ctr]'));
    assert.deepEqual((await svc.list(f({ dangling: ['true'] }))).Volumes, []);
    svc.release('new-ctr');
    await svc.remove('fresh');
  });

  it('a mount ref keeps the volume in use until unmounted, with mount and unmount events', async () => {
    await svc.create({ Name: 'mounted' });
    const p = await svc.mount('mounted', 'c9', { container: 'c9', destination: '/data' });
    assert.match(p, /\/volumes\/mounted\/_data$/);
    await assert.rejects(svc.remove('mounted'), fails('conflict', 'remove mounted: volume is in use - [c9]'));
    await svc.unmount('mounted', 'c9', { container: 'c9' });
    await svc.remove('mounted');
    assert.deepEqual(events.filter((e) => e.Action.endsWith('mount')).map((e) => [e.Action, e.Actor.Attributes.container, e.Actor.Attributes.driver]),
      [['mount', 'c9', 'local'], ['unmount', 'c9', 'local']]);
    await assert.rejects(svc.mount('mounted', 'c9'), fails('not-found', 'get mounted: no such volume'));
  });

  it('prunes unused anonymous volumes by default, every unused one with all=true, and reports the space', async () => {
    const anon = await svc.create({});
    const anonUsed = await svc.create({});
    await svc.create({ Name: 'named', Labels: { keep: 'no' } });
    await svc.create({ Name: 'tmpfs-vol', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
    await writeFile(join(anon.Mountpoint, 'f'), Buffer.alloc(1000));
    users[anonUsed.Name] = ['c1'];
    const r1 = await svc.prune(f());
    assert.deepEqual(r1, { VolumesDeleted: [anon.Name], SpaceReclaimed: 1000 });
    assert.ok(events.some((e) => e.Action === 'prune' && e.Actor.Attributes.reclaimed === '1000'));
    const r2 = await svc.prune(f({ all: ['true'], 'label!': ['keep=no'] }));
    assert.deepEqual(r2.VolumesDeleted, [], 'label! keeps the labelled one');
    const r3 = await svc.prune(f({ all: ['1'] }));
    assert.deepEqual(r3.VolumesDeleted, ['named'], 'a volume with driver options is never pruned (nor one in use)');
    assert.deepEqual((await svc.list(f())).Volumes.map((v) => v.Name).sort(), [anonUsed.Name, 'tmpfs-vol'].sort());
    const old = await svc.create({ Name: 'old-api' });
    assert.deepEqual((await svc.prune(f(), { allByDefault: true })).VolumesDeleted, [old.Name], 'API < 1.42 prunes named ones too');
  });

  it('checks the prune filters like Docker', async () => {
    await assert.rejects(svc.prune(f({ until: ['1h'] })), fails('invalid', "invalid filter 'until'"));
    await assert.rejects(svc.prune(f({ all: ['1', '0'] })), fails('invalid', /^invalid filter 'all=\[(0 1|1 0)\]': only one value is expected$/));
    await assert.rejects(svc.prune(f({ all: ['maybe'] })), fails('invalid', `invalid filter 'all': strconv.ParseBool: parsing "maybe": invalid syntax`));
  });

  it('reports local volumes without options for system df, with sizes and reference counts', async () => {
    const v = await svc.create({ Name: 'sized' });
    await writeFile(join(v.Mountpoint, 'a'), 'x'.repeat(300));
    await svc.create({ Name: 'withopts', DriverOpts: { type: 'tmpfs', device: 'tmpfs' } });
    users['sized'] = ['c1', 'c2'];
    const u = await svc.usage();
    assert.deepEqual(u.map((x) => [x.Name, x.UsageData]), [['sized', { Size: 300, RefCount: 2 }]]);
  });
});

describe('volume helpers', () => {
  it("matchKVList is Docker's MatchKVList", () => {
    assert.equal(matchKVList([], null), true);
    assert.equal(matchKVList(['a'], null), false);
    assert.equal(matchKVList(['a'], { a: '' }), true);
    assert.equal(matchKVList(['a=1', 'b'], { a: '1', b: '2' }), true);
    assert.equal(matchKVList(['a=2'], { a: '1' }), false);
  });
  it('formats CreatedAt like Go RFC 3339 in the local zone', () => {
    const s = rfc3339(Date.UTC(2026, 10, 28, 4, 0, 0) * 1e6);
    assert.match(s, /^2026-11-2\dT\d\d:00:00(Z|[+-]\d\d:\d\d)$/);
    if (new Date().getTimezoneOffset() === 0) assert.equal(s, '2026-11-28T04:00:00Z');
  });
});
