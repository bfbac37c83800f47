/**
 * `pier image copy` between two pierds in their own network namespaces, the
 * source sending to the target over mTLS (test/harness/remote.ts): the image
 * arrives whole (same ID, runnable), and a second image that shares the first
 * one's layers sends only its new layer — the bytes counted by the source.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../../harness/daemon.js';
import { containerSkip } from '../../harness/containers.js';
import { remoteSkip, startPair, type NsDaemon, type Pair } from '../../harness/remote.js';

const skip = containerSkip() || remoteSkip();

describe('image copy', { skip }, () => {
  let p: Pair;
  const ok = (d: NsDaemon, ...args: string[]) => {
    const r = p.pier(d, args);
    assert.equal(r.code, 0, `pier ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const to = () => ['--to', p.b.tcp, '--to-tlscacert', p.certs.ca, '--to-tlscert', p.certs.client.cert, '--to-tlskey', p.certs.client.key];
  /** The bytes the source reports having sent, from the command's last line. */
  const sent = (out: string) => {
    const m = /Copied image .*: (\d+) of (\d+) layers, (\d+) bytes sent/.exec(out);
    assert.ok(m, out);
    return { layers: Number(m[1]), of: Number(m[2]), bytes: Number(m[3]) };
  };
  const id = async (d: NsDaemon, name: string) => {
    const r = await api(d.sock, 'GET', `/images/${name}/json`);
    return r.status === 200 ? r.json<{ Id: string; RootFS: { Layers: string[] } }>() : undefined;
  };

  before(async () => {
    p = await startPair();
    ok(p.a, 'image', 'busybox', '--tag', 'busybox:latest');
    // A second image on the first: one more layer of 8 MiB of random bytes.
    ok(p.a, 'run', '--name', 'maker', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/payload bs=1M count=8 2>/dev/null; md5sum /payload > /payload.md5');
    ok(p.a, 'commit', 'maker', 'app:1');
    ok(p.a, 'rm', 'maker');
  });
  after(async () => {
    await p?.cleanup();
  });

  it('copies an image whole, then only the layer a second image adds', async (t) => {
    const base = await id(p.a, 'busybox');
    const app = await id(p.a, 'app:1');
    assert.ok(base && app);
    assert.equal(await id(p.b, 'busybox'), undefined);

    const first = sent(ok(p.a, 'image', 'copy', 'busybox', ...to()));
    assert.equal(first.layers, 1);
    const baseLayer = Number((await api(p.a.sock, 'GET', '/images/busybox/json')).json<{ Size: number }>().Size);
    assert.ok(first.bytes >= baseLayer, `${first.bytes} bytes sent for a ${baseLayer}-byte layer`);
    assert.equal((await id(p.b, 'busybox'))?.Id, base.Id);

    const out = ok(p.a, 'image', 'copy', 'app:1', ...to());
    const second = sent(out);
    assert.deepEqual([second.layers, second.of], [1, 2]);
    assert.match(out, /Layer already exists/);
    // The new layer is 8 MiB and a little tar framing; the shared base (about 2 MB) must not have gone again.
    const payload = 8 << 20;
    assert.ok(second.bytes >= payload, `${second.bytes} bytes: less than the new layer`);
    assert.ok(second.bytes < payload + (256 << 10), `${second.bytes} bytes sent: more than the new layer and metadata (the base layer went again?)`);
    assert.equal((await id(p.b, 'app:1'))?.Id, app.Id);
    // Complete and usable there.
    assert.match(ok(p.b, 'run', '--rm', 'app:1', 'md5sum', '-c', '/payload.md5'), /OK/);

    // Again: nothing but metadata.
    const again = sent(ok(p.a, 'image', 'copy', 'app:1', ...to()));
    t.diagnostic(`bytes sent: busybox ${first.bytes} (layer ${baseLayer}); app:1 ${second.bytes} (new layer ${payload} + tar); app:1 again ${again.bytes}`);
    assert.equal(again.layers, 0);
    assert.ok(again.bytes < 64 << 10, `${again.bytes} bytes for an image the target has`);
  });

  it('says what is wrong with an unknown image or target', async () => {
    const r = p.pier(p.a, ['image', 'copy', 'nosuch:1', ...to()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No such image: nosuch:1/);
    const u = p.pier(p.a, ['image', 'copy', 'busybox', '--to', 'nosuchcontext']);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /nosuchcontext/);
  });
});
