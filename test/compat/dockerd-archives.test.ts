/**
 * Images round-trip between real Docker (Debian's dockerd) and Pier:
 * `docker save` from dockerd loads into Pier with the same image ID, and
 * Pier's save loads into dockerd with the same ID. Skipped when dockerd or
 * the docker CLI is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../harness/daemon.js';
import { docker, dockerCli, dockerdPath, startDockerd, type Dockerd } from '../harness/dockerd.js';
import { tarOf } from '../harness/tars.js';

const skip = !dockerdPath() ? 'dockerd (docker.io) is not installed' : !dockerCli() ? 'the docker CLI is not installed' : false;

describe('archives round-trip with real dockerd', { skip, timeout: 180000 }, () => {
  let pier: TestDaemon;
  let real: Dockerd;
  let rootfs: string;
  before(async () => {
    [pier, real] = await Promise.all([startDaemon(), startDockerd()]);
    rootfs = join(pier.root, 'rootfs.tar');
    writeFileSync(
      rootfs,
      await tarOf([
        { name: 'bin/', type: 'directory' },
        { name: 'bin/app', content: 'app', mode: 0o755 },
        { name: 'etc/', type: 'directory' },
        { name: 'etc/link', type: 'symlink', linkname: '../bin/app' },
      ]),
    );
  });
  after(async () => {
    await Promise.all([pier?.cleanup(), real?.stop()]);
  });

  const run = (host: string, ...args: string[]) => {
    const r = docker(host, args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  it('dockerd save → pier load keeps the image ID', () => {
    const id = run(real.host, 'import', '-c', 'CMD ["/bin/app"]', rootfs, 'roundtrip/from-docker:1');
    const file = join(pier.root, 'from-docker.tar');
    run(real.host, 'save', '-o', file, 'roundtrip/from-docker:1');
    assert.match(run(pier.host, 'load', '-i', file), /Loaded image: roundtrip\/from-docker:1/);
    assert.equal(run(pier.host, 'image', 'inspect', '-f', '{{.Id}}', 'roundtrip/from-docker:1'), id);
  });

  it('pier save → dockerd load keeps the image ID, and the layers read back the same', () => {
    const id = run(pier.host, 'import', '-c', 'ENV X=1', rootfs, 'roundtrip/from-pier:1');
    const file = join(pier.root, 'from-pier.tar');
    run(pier.host, 'save', '-o', file, 'roundtrip/from-pier:1');
    assert.match(run(real.host, 'load', '-i', file), /Loaded image: roundtrip\/from-pier:1/);
    assert.equal(run(real.host, 'image', 'inspect', '-f', '{{.Id}}', 'roundtrip/from-pier:1'), id);
    assert.equal(run(real.host, 'image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'roundtrip/from-pier:1'), run(pier.host, 'image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'roundtrip/from-pier:1'));
  });
});
