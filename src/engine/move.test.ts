import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBody, imageRefOnTarget } from './move.js';
import { connectTarget, remoteError } from './image-copy.js';
import { throttled } from './progress.js';
import { engineError } from '../base/errdefs.test-support.js';
import { ApiError } from '../client/errors.js';
import { EngineError } from '../base/errdefs.js';
import type { ContainerRecord } from './containers/record.js';

describe('container move: the create request for the target', () => {
  const rec = {
    name: 'web', image: 'sha256:abc', imageName: 'app:1',
    config: { Image: 'app:1', Cmd: ['serve'], Env: ['A=1'], Hostname: 'h1' },
    hostConfig: { NetworkMode: 'front', Binds: ['data:/data'], RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } },
    networks: {
      front: {
        networkId: 'n1',
        config: { Aliases: ['api'], IPAMConfig: { IPv4Address: '10.9.0.5' }, IPAddress: '10.9.0.5', EndpointID: 'e1', NetworkID: 'n1', Gateway: '10.9.0.1' },
        endpoint: { ip: '10.9.0.5' },
      },
    },
  } as unknown as ContainerRecord;

  it('keeps what the user asked for and drops what this host gave it', () => {
    const b = createBody(rec, 'app:1');
    assert.equal(b.Image, 'app:1');
    assert.deepEqual(b.Cmd, ['serve']);
    assert.equal(b.Hostname, 'h1');
    assert.deepEqual(b.HostConfig.Binds, ['data:/data']);
    assert.equal(b.HostConfig.RestartPolicy?.Name, 'always');
    assert.deepEqual(b.NetworkingConfig.EndpointsConfig, { front: { Aliases: ['api'], IPAMConfig: { IPv4Address: '10.9.0.5' } } });
  });

  it('names the image by ID when the target knows the name as another image, or not at all', async () => {
    const target = (images: Record<string, string>) => ({
      imageInspect: async (ref: string) => {
        if (!(ref in images)) throw new ApiError(404, `No such image: ${ref}`);
        return { Id: images[ref]! } as never;
      },
    });
    assert.equal(await imageRefOnTarget(rec, target({ 'app:1': 'sha256:abc' })), 'app:1', 'the same image there: its name');
    assert.equal(await imageRefOnTarget(rec, target({ 'app:1': 'sha256:other' })), 'sha256:abc', 'another image there: the ID');
    assert.equal(await imageRefOnTarget(rec, target({})), 'sha256:abc', 'not there: the ID');
    assert.equal(createBody(rec, 'sha256:abc').Image, 'sha256:abc');
    assert.equal(rec.config.Image, 'app:1', 'the record is not changed');
  });
});

describe('errors from the target', () => {
  it('keep their kind and say where they come from', () => {
    const e = remoteError('tcp://10.0.0.2:2376', 'creating container web', new ApiError(409, 'Conflict. The container name "/web" is already in use'));
    assert.ok(e instanceof EngineError);
    assert.equal(e.kind, 'conflict');
    assert.match(e.message, /creating container web: the target daemon \(tcp:\/\/10\.0\.0\.2:2376\) answered: Conflict/);
    const c = remoteError('tcp://10.0.0.2:2376', 'sending volume x', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    assert.equal(c.kind, 'unavailable');
    assert.match(c.message, /the connection to the target daemon \(tcp:\/\/10\.0\.0\.2:2376\) failed: socket hang up/);
  });
});

describe('a transfer to a target that goes silent', () => {
  it('fails after the stall timeout instead of waiting for TCP to give up', { timeout: 20_000 }, async () => {
    const { createServer } = await import('node:net');
    const { Readable } = await import('node:stream');
    const { Client } = await import('../client/client.js');
    const { ByteCounter, sendStream } = await import('./image-copy.js');
    // Reads the request head and a little of the body, then neither reads nor answers: a cut link.
    const server = createServer((s) => {
      s.once('data', () => s.pause());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const target = new Client({ host: `tcp://127.0.0.1:${port}`, version: '1.50' });
    const body = new ByteCounter();
    Readable.from((function* () {
      for (let i = 0; i < 4096; i++) yield Buffer.alloc(64 << 10);
    })()).pipe(body);
    try {
      await assert.rejects(sendStream(target, 'PUT', '/volumes/x/archive', body, { stallMs: 400 }), (e: Error) => {
        assert.match(e.message, /nothing moved to or from the target for 0.4 s/);
        return true;
      });
      assert.ok(body.destroyed, 'the body is destroyed, so its source closes');
    } finally {
      server.close();
    }
  });
});

describe('the target address', () => {
  it('is tcp:// or unix://: the daemon does not dial ssh:// for a client', async () => {
    await assert.rejects(connectTarget({ Host: 'ssh://root@10.0.0.2' }), engineError('invalid', /not ssh:\/\//));
    await assert.rejects(connectTarget({ Host: '' }), engineError('invalid', /no target daemon given/));
  });
});

describe('progress while sending', () => {
  it('of unknown size is throttled too (one message per interval)', () => {
    const seen: number[] = [];
    const report = throttled((m) => seen.push((m as { progressDetail: { current: number } }).progressDetail.current), 'Sending', 'x', 0, 60_000);
    for (let n = 1; n <= 5; n++) report(n);
    assert.deepEqual(seen, [1]);
  });
});
