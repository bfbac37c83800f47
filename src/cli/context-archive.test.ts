import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from 'tar-stream';
import { exportContext, importContext, MAX_IMPORT_BYTES } from './context-archive.js';

const meta = { Name: 'prod', Metadata: { Description: 'the prod box' }, Endpoints: { docker: { Host: 'tcp://10.1.2.3:2376', SkipTLSVerify: false } } };
const tls = { ca: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n', cert: 'CERT', key: 'KEY1234' };

/** A tar made of the given entries (files when body is a string, directories otherwise). */
async function tarOf(entries: Array<[string, string | undefined]>): Promise<Buffer> {
  const p = pack();
  const parts: Buffer[] = [];
  p.on('data', (c) => parts.push(c as Buffer));
  const end = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, body] of entries) {
    if (body === undefined) p.entry({ name, type: 'directory' });
    else p.entry({ name }, body);
  }
  p.finalize();
  await end;
  return Buffer.concat(parts);
}

describe('context archives (context export / import)', () => {
  it('round-trips the metadata and the TLS files', async () => {
    const tar = await exportContext(meta, tls);
    assert.equal(tar.length % 512, 0, 'a whole tar');
    assert.deepEqual(await importContext(tar), { meta, tls });
    const noTls = await importContext(await exportContext(meta, {}));
    assert.deepEqual(noTls.tls, {});
  });

  it("reads docker 28's unfinished tar: no padding after the last file, no end blocks", async () => {
    const whole = await exportContext(meta, tls);
    // The last entry is key.pem (7 bytes): its header ends 512 bytes before its data.
    const keyHeader = whole.lastIndexOf(Buffer.from('tls/docker/key.pem'));
    const cut = whole.subarray(0, keyHeader + 512 + tls.key.length);
    assert.notEqual(cut.length % 512, 0);
    assert.deepEqual(await importContext(cut), { meta, tls });
  });

  it('refuses what is not an exported context, saying why', async () => {
    await assert.rejects(importContext(Buffer.from('just some text')), /not a context archive/);
    await assert.rejects(importContext(Buffer.alloc(0)), /empty/);
    await assert.rejects(importContext(await tarOf([['etc/passwd', 'root']])), /etc\/passwd: unexpected context file/);
    await assert.rejects(importContext(await tarOf([['tls', undefined]])), /has no meta\.json/);
    await assert.rejects(importContext(await tarOf([['meta.json', '[1,2]']])), /meta\.json is not a JSON object/);
    await assert.rejects(importContext(await tarOf([['meta.json', '{oops']])), /meta\.json is not JSON/);
    await assert.rejects(importContext(await tarOf([['meta.json', '{}'], ['tls/docker/../../x.pem', 'x']])), /unexpected context file/);
    await assert.rejects(importContext(Buffer.alloc(MAX_IMPORT_BYTES + 1)), /larger than 10 MiB/);
  });

  it("keeps the docker endpoint's ca/cert/key and leaves other endpoints' files out", async () => {
    const tar = await tarOf([['meta.json', JSON.stringify(meta)], ['tls/docker/ca.pem', 'C'], ['tls/kubernetes/ca.pem', 'K']]);
    assert.deepEqual((await importContext(tar)).tls, { ca: 'C' });
  });
});
