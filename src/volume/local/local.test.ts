import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDb, type Db } from '../../base/db.js';
import { EngineError } from '../../base/errdefs.js';
import { NodeHost } from '../../base/host.js';
import { volumeDriverSuite } from '../testsuite.js';
import { LocalDriver, validateVolumeName, validateVolumeOptions } from './local.js';

const host = new NodeHost();
/** One database per root, as the daemon has one per data root. */
const dbs = new Map<string, Db>();
const dbOf = (root: string) => {
  let db = dbs.get(root);
  if (!db) dbs.set(root, (db = openDb(join(root, 'pier.db'), [])));
  return db;
};
const open = (root: string) => LocalDriver.open(join(root, 'volumes'), dbOf(root), host);

// Without mount options the local driver only makes directories: the suite runs without root too.
volumeDriverSuite('local', open);
volumeDriverSuite('local (tmpfs)', open, { needsRoot: true, mountOptions: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=0750' } });

const message = (fn: () => void): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof EngineError && e.kind === 'invalid', `an invalid error, got ${String(e)}`);
    return e.message;
  }
  assert.fail('no error');
};

describe('local volume names and options', () => {
  it('refuses names like Docker', () => {
    assert.equal(message(() => validateVolumeName('../x')),
      '"../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path');
    assert.equal(message(() => validateVolumeName('a')), 'volume name is too short, names should be at least two alphanumeric characters');
    for (const ok of ['ab', 'data_1', 'my.vol-2', '0abc']) validateVolumeName(ok);
  });
  it('refuses unknown and incomplete options like Docker', () => {
    assert.equal(message(() => validateVolumeOptions({ x: '1' })), 'invalid option: "x"');
    assert.equal(message(() => validateVolumeOptions({ type: 'tmpfs' })), 'missing required option: "device"');
    assert.equal(message(() => validateVolumeOptions({ device: 'tmpfs' })), 'missing required option: "type"');
    assert.equal(message(() => validateVolumeOptions({ o: 'size=1m' })), 'missing required option: "device"');
    assert.equal(message(() => validateVolumeOptions({ size: '10m' })), 'quota size requested but no quota support');
    assert.equal(message(() => validateVolumeOptions({ size: 'lots' })), "invalid size: 'lots'");
    validateVolumeOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    validateVolumeOptions({ size: '0' });
    validateVolumeOptions({});
    validateVolumeOptions(null);
  });
});

describe('local driver on disk', () => {
  const withRoot = async (fn: (root: string) => Promise<void>) => {
    const root = await mkdtemp(join(tmpdir(), 'pier-local-unit-'));
    try {
      await fn(root);
    } finally {
      dbs.get(root)?.close();
      dbs.delete(root);
      // A failed test may leave a mount: detach it rather than delete through it (or hide the failure).
      const mounted = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${root}/`));
      for (const m of mounted.sort((a, b) => b.length - a.length)) await host.unmount(m, { lazy: true });
      await rm(root, { recursive: true, force: true });
    }
  };

  it('lays volumes out as <root>/volumes/<name>/_data and refuses bad options before touching the disk', () =>
    withRoot(async (root) => {
      const d = await open(root);
      const v = await d.create('web-data');
      assert.equal(v.mountpoint, join(root, 'volumes', 'web-data', '_data'));
      await assert.rejects(d.create('opts', { options: { bogus: '1' } }), { message: 'invalid option: "bogus"' });
      assert.ok(!existsSync(join(root, 'volumes', 'opts')));
    }));

  it('adopts a directory without a record and drops a record without a directory', () =>
    withRoot(async (root) => {
      let d = await open(root);
      await d.create('recorded');
      await d.close();
      await rm(join(root, 'volumes', 'recorded'), { recursive: true });
      await mkdir(join(root, 'volumes', 'stray', '_data'), { recursive: true });
      await writeFile(join(root, 'volumes', 'stray', '_data', 'f'), 'kept');
      d = await open(root);
      assert.deepEqual((await d.list()).map((v) => v.name), ['stray']);
      assert.equal(await readFile(join(await d.mount('stray', 'c'), 'f'), 'utf8'), 'kept');
    }));

  it('type=none,o=bind,device=DIR shows the host directory while mounted', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () =>
    withRoot(async (root) => {
      const src = join(root, 'src');
      await mkdir(src);
      await writeFile(join(src, 'host-file'), 'from the host');
      const d = await open(root);
      await d.create('bound', { options: { type: 'none', o: 'bind', device: src } });
      const p = await d.mount('bound', 'c');
      assert.equal(await readFile(join(p, 'host-file'), 'utf8'), 'from the host');
      await writeFile(join(p, 'back'), 'to the host');
      await d.unmount('bound', 'c');
      assert.ok(!existsSync(join(p, 'host-file')), 'unmounted: the empty _data again');
      assert.equal(await readFile(join(src, 'back'), 'utf8'), 'to the host');
      await d.remove('bound');
      assert.ok(existsSync(join(src, 'host-file')), 'removing the volume leaves the bound directory alone');
    }));

  it('o= takes mount(8) flag words as flags and the rest as file-system data', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () =>
    withRoot(async (root) => {
      const d = await open(root);
      const v = await d.create('flags', { options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,noatime,nodev,nosuid,ro' } });
      await d.mount('flags', 'c');
      const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === v.mountpoint)!;
      const [opts, , , super_] = [line.split(' ')[5]!, ...line.split(' - ')[1]!.split(' ')];
      assert.deepEqual(opts!.split(',').sort(), ['noatime', 'nodev', 'nosuid', 'ro']);
      assert.match(super_!, /size=1024k/);
      await d.unmount('flags', 'c');
      await d.remove('flags');
    }));

  it('a failed mount says so and leaves no ref', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () =>
    withRoot(async (root) => {
      const d = await open(root);
      await d.create('broken', { options: { type: 'none', o: 'bind', device: join(root, 'missing') } });
      await assert.rejects(d.mount('broken', 'c'), /failed to mount local volume/);
      assert.deepEqual(d.refs('broken'), []);
      await d.remove('broken');
    }));
});
