import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithDocker, docker, dockerize, FakeEngine, haveDocker, pier } from './fake-engine.js';
import { volumeDocument, volumeFormat, volumeRows } from './volumes.js';

const vol = (name: string, o: object = {}) => ({
  CreatedAt: '2026-11-28T04:00:00Z', Driver: 'local', Labels: { app: 'web' }, Mountpoint: `/var/lib/pier/volumes/${name}/_data`, Name: name, Options: null, Scope: 'local', ...o,
});

describe('volume rows', () => {
  it('fills docker volumeContext fields, N/A without usage data', () => {
    const [row] = volumeRows([{ ...vol('v1'), UsageData: { Size: 2048, RefCount: 3 } }]);
    assert.deepEqual({ ...row }, {
      Availability: 'N/A', Driver: 'local', Group: 'N/A', Labels: 'app=web', Links: '3', Mountpoint: '/var/lib/pier/volumes/v1/_data',
      Name: 'v1', Scope: 'local', Size: '2.048kB', Status: 'N/A', Label: (row as unknown as { Label: unknown }).Label,
    });
    assert.equal((row as unknown as { Label(n: string): string }).Label('app'), 'web');
    assert.equal(volumeRows([vol('v2', { Labels: null })])[0]!.Links, 'N/A');
  });
  it('has the default formats', () => {
    assert.equal(volumeFormat('table', false), 'table {{.Driver}}\t{{.Name}}');
    assert.equal(volumeFormat('table', true), '{{.Name}}');
    assert.equal(volumeFormat('{{.Mountpoint}}', true), '{{.Mountpoint}}');
  });
  it('re-encodes inspect documents in Go field order with map keys sorted', () => {
    const raw = JSON.stringify({ Scope: 'local', Name: 'x', Labels: { b: '1', a: '2' }, Options: { o: 'size=1m', type: 'tmpfs', device: 'tmpfs' }, Mountpoint: '/m', Driver: 'local', CreatedAt: 't' });
    assert.equal(volumeDocument(raw), '{"CreatedAt":"t","Driver":"local","Labels":{"a":"2","b":"1"},"Mountpoint":"/m","Name":"x","Options":{"device":"tmpfs","o":"size=1m","type":"tmpfs"},"Scope":"local"}');
  });
});

describe('volume commands against a fake daemon, pier and docker side by side', { skip: haveDocker() ? false : 'the docker CLI is not installed' }, () => {
  let engine: FakeEngine;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pier-volumes-cli-'));
    engine = await new FakeEngine((r) => {
      const p = r.path;
      if (p === '/info') return { json: { Swarm: { LocalNodeState: 'inactive', ControlAvailable: false } } };
      if (p === '/volumes/create') {
        const body = JSON.parse(r.body.toString() || '{}') as { Name?: string };
        if (body.Name === '../x') return { status: 400, json: { message: 'create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path' } };
        return { status: 201, json: vol(body.Name || 'f'.repeat(64)) };
      }
      if (p === '/volumes') return { json: { Volumes: [vol('v1'), vol('v10', { Labels: null }), vol('v2', { Options: { type: 'tmpfs', device: 'tmpfs' } })], Warnings: null } };
      if (p === '/volumes/prune') return { json: { VolumesDeleted: r.query.get('filters')?.includes('all') ? ['named', 'b'.repeat(64)] : ['b'.repeat(64)], SpaceReclaimed: 123456 } };
      const m = /^\/volumes\/(.+)$/.exec(p);
      if (m) {
        const name = m[1]!;
        if (name === 'busy' && r.method === 'DELETE') return { status: 409, json: { message: `remove busy: volume is in use - [${'c'.repeat(64)}]` } };
        if (['v1', 'v2', 'busy'].includes(name)) return r.method === 'DELETE' ? { status: 204 } : { json: vol(name) };
        return { status: 404, json: { message: `get ${name}: no such volume` } };
      }
      if (p.startsWith('/containers/') || p.startsWith('/images/') || p.startsWith('/networks/')) return { status: 404, json: { message: `No such object: ${p.split('/')[2]}` } };
      return undefined;
    }).start();
  });
  after(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const compare = (args: string[], o: { stdin?: string; env?: Record<string, string>; ignoreRequests?: boolean } = {}) =>
    compareWithDocker(engine, args, { ...o, anyQueryOrder: true });

  for (const args of [
    ['volume', 'create'], ['volume', 'create', 'data'], ['volume', 'create', '--name', 'data2'], ['volume', 'create', '--name', 'a', 'b'],
    ['volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=100m,uid=1000', '--label', 'app=web', '--label', 'tier', 'web'],
    ['volume', 'create', '../x'], ['volume', 'create', '--group', 'g', 'cv'],
    ['volume', 'ls'], ['volume', 'list', '-q'], ['volume', 'ls', '-f', 'dangling=true', '-f', 'label=app'], ['volume', 'ls', '--format', 'json'],
    ['volume', 'ls', '--format', 'table {{.Name}}\t{{.Mountpoint}}\t{{.Labels}}\t{{.Scope}}\t{{.Links}}\t{{.Size}}'], ['volume', 'ls', '--format', '{{.Name}} {{.Label "app"}}'],
    ['volume', 'ls', '--format', '{{.Name}}: {{.Driver}}'], ['volume', 'ls', '--cluster'], ['volume', 'ls', '--format', '{{.Nope}}'],
    ['volume', 'inspect', 'v1'], ['volume', 'inspect', 'v1', 'v2'], ['volume', 'inspect', 'v1', 'nope'], ['volume', 'inspect', '-f', '{{.Name}} {{.Mountpoint}} {{json .Labels}}', 'v1'],
    ['volume', 'inspect', ' '],
    ['volume', 'rm', 'v1', 'nope', 'busy'], ['volume', 'remove', '-f', 'nope'], ['volume', 'rm', '-f', 'v2'],
    ['volume', 'prune', '-f'], ['volume', 'prune', '-a', '-f', '--filter', 'label=x'], ['volume', 'prune', '-a', '--filter', 'all=1'],
    ['volume', 'update', 'v1'], ['volume', 'update', 'nope'], ['volume', 'update', '--availability', 'drain', 'v1'],
    ['volume'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args);
    });
  }

  for (const args of [['volume', '--help'], ['volume', 'create', '--help'], ['volume', 'ls', '--help'], ['volume', 'inspect', '--help'], ['volume', 'rm', '--help'], ['volume', 'prune', '--help'], ['volume', 'update', '--help']]) {
    it(`${args.join(' ')} (pier says pier where docker says docker)`, async () => {
      const d = await docker(engine.host, args);
      const p = await pier(engine.host, args);
      assert.equal(dockerize(p.out), d.out);
      assert.equal(p.code, d.code);
    });
  }

  it('prune asks first: n keeps everything, y prunes', async () => {
    await compare(['volume', 'prune'], { stdin: 'n\n' });
    await compare(['volume', 'prune'], { stdin: 'y\n' });
    await compare(['volume', 'prune', '--all'], { stdin: 'y\n' });
  });

  it('inspect and ls of volumes through the generic inspect and the config file', async () => {
    await compare(['inspect', 'v1'], { ignoreRequests: true });
    await compare(['inspect', '--type', 'volume', 'nope'], { ignoreRequests: true });
    const cfg = join(dir, 'config');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({ volumesFormat: 'table {{.Name}}\t{{.Scope}}' }));
    await compare(['volume', 'ls'], { env: { DOCKER_CONFIG: cfg } });
    await compare(['volume', 'ls', '-q'], { env: { DOCKER_CONFIG: cfg } });
  });
});
