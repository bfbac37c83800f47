/**
 * Docker's own client against the registry: a private dockerd (test/harness)
 * pushes an image to 127.0.0.1 (insecure by default for loopback), pulls it
 * back after removing it, and pushes it to a second repository, where docker
 * mounts the layer across repositories instead of uploading it again.
 * Skipped without dockerd or root.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dockerCli, dockerdPath, startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { tarOf } from '../../harness/tars.js';
import { Logger } from '../../../src/base/log.js';
import { req, startRegistry, type TestRegistry, DOCKER_MANIFEST } from './oci-client.js';

const skip = !dockerdPath() || !dockerCli() ? 'dockerd is not installed' : process.getuid?.() !== 0 ? 'needs root for dockerd' : false;

/** The docker CLI, asynchronously (the registry answers from this very process). */
function docker(host: string, args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(dockerCli()!, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: '/tmp/pier-test-docker-config' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input);
  });
}

describe('docker push and pull against the registry', { skip }, () => {
  let d: Dockerd;
  let r: TestRegistry;
  const lines: string[] = [];
  before(async () => {
    r = await startRegistry({ log: new Logger({ write: (l) => void lines.push(l) }, 'info') });
    d = await startDockerd('vfs');
  });
  after(async () => {
    await d?.stop();
    await r?.cleanup();
  });

  it('pushes, pulls back, and mounts across repositories', { timeout: 120_000 }, async () => {
    const host = r.url.replace('http://', '');
    const ref = `${host}/dock/app:v1`;
    const ok = async (...args: string[]) => {
      const res = await docker(d.host, args);
      assert.equal(res.code, 0, `docker ${args.join(' ')}: ${res.stderr}`);
      return res.stdout;
    };
    const rootfs = await tarOf([{ name: 'hello.txt', content: 'hello from a pier registry\n' }, { name: 'etc/', type: 'directory' }]);
    const imp = await docker(d.host, ['import', '-', ref], rootfs);
    assert.equal(imp.code, 0, imp.stderr);
    const id = (await ok('image', 'inspect', '-f', '{{.Id}}', ref)).trim();

    await ok('push', ref);
    const m = await req(r.url, 'GET', '/v2/dock/app/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(m.status, 200);

    await ok('rmi', ref);
    await ok('pull', ref);
    assert.equal((await ok('image', 'inspect', '-f', '{{.Id}}', ref)).trim(), id, 'the same image comes back');

    const other = `${host}/dock/other:v1`;
    await ok('tag', ref, other);
    await ok('push', other);
    const mounted = lines
      .map((l) => JSON.parse(l))
      .some((l) => l.msg === 'request' && l.method === 'POST' && l.path.startsWith('/v2/dock/other/blobs/uploads/?') && /[?&]mount=/.test(l.path) && /[?&]from=dock%2Fapp/.test(l.path) && l.status === 201);
    assert.ok(mounted, 'docker mounted the layer from dock/app');
    assert.deepEqual((await req(r.url, 'GET', '/v2/_catalog')).json().repositories, ['dock/app', 'dock/other']);
  });
});
