import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { receiveContext } from './context.js';
import { TarFS, TarIndexer } from './contextfs.js';

type E = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; content?: string | Buffer; mode?: number };

async function tarOf(entries: E[]): Promise<Buffer> {
  const p = tar.pack();
  for (const e of entries) {
    if (e.type && e.type !== 'file') p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: e.mode ?? 0o755 });
    else p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content ?? '');
  }
  p.finalize();
  const out: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) out.push(c);
  return Buffer.concat(out);
}

const read = async (s: Readable) => {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out).toString();
};
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
/** Feeds a buffer in small pieces, as the docker CLI sends it. */
const dribble = (b: Buffer, n = 700) => Readable.from((function* () {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
})());

describe('TarFS: the build context read in place', () => {
  const long = `${'d'.repeat(60)}/${'f'.repeat(80)}.txt`;
  const entries: E[] = [
    { name: 'Dockerfile', content: 'FROM busybox\n' },
    { name: 'src', type: 'directory' },
    { name: 'src/a.txt', content: 'alpha', mode: 0o640 },
    { name: long, content: 'long name' },
    { name: 'link', type: 'symlink', linkname: 'src/a.txt' },
    { name: 'hard', type: 'link', linkname: 'src/a.txt' },
    { name: '../escape', content: 'never' },
    { name: 'big.bin', content: Buffer.alloc(70_000, 7) },
  ];

  it('indexes names (long ones too), types, modes, links, and hashes contents as they pass, in any chunk size', async () => {
    for (const chunk of [1, 700, 1 << 20]) {
      const fs = await receiveContext(dribble(await tarOf(entries), chunk), '/nonexistent/never-written.tar');
      assert.deepEqual((await fs.readdir('')).sort(), ['Dockerfile', 'big.bin', 'd'.repeat(60), 'escape', 'hard', 'link', 'src']);
      assert.deepEqual(await fs.readdir('src'), ['a.txt']);
      assert.equal((await fs.lstat('src/a.txt'))!.mode, 0o640);
      assert.equal((await fs.lstat('link'))!.linkname, 'src/a.txt');
      assert.equal(await read(fs.open(long)), 'long name');
      assert.equal(await read(fs.open('hard')), 'alpha');
      assert.equal(await fs.hash('big.bin'), sha(Buffer.alloc(70_000, 7)));
      assert.equal(await fs.hash('src/a.txt'), sha('alpha'));
      // '../escape' cannot climb above the context's root: it is cleaned into it (nothing is ever written under these names).
      assert.equal(await read(fs.open('escape')), 'never');
    }
  });

  it('takes a gzipped context, and a tar that stops right after its last file (as the docker CLI sends with -f -)', async () => {
    const gz = await receiveContext(Readable.from([gzipSync(await tarOf(entries))]), '/nonexistent/x.tar');
    assert.equal(await read(gz.open('Dockerfile')), 'FROM busybox\n');
    const full = await tarOf([{ name: 'Dockerfile', content: 'FROM x\n' }]);
    const cut = full.subarray(0, 512 + 7); // header and content: no padding, no end blocks
    const t = await receiveContext(Readable.from([cut]), '/nonexistent/y.tar');
    assert.equal(await read(t.open('Dockerfile')), 'FROM x\n');
  });

  it('takes names from PAX records, and refuses a malformed one', async () => {
    const name = `${'p'.repeat(200)}/${'q'.repeat(120)}.txt`; // too long for ustar's name and prefix: a PAX path
    const t = await tarOf([{ name, content: 'pax' }]);
    const fs = await receiveContext(Readable.from([t]), '/nonexistent/p.tar');
    assert.equal(await read(fs.open(name)), 'pax');
    const i = t.indexOf(' path=');
    assert.ok(i > 0, 'tar-stream wrote a PAX path record');
    const bad = Buffer.from(t);
    bad.write('X', i); // the record's space after its length: no longer "<len> <key>=<value>"
    await assert.rejects(receiveContext(Readable.from([bad]), '/nonexistent/q.tar'), /malformed PAX/);
  });

  it('refuses what is not a tar, and hides files on request', async () => {
    await assert.rejects(receiveContext(Readable.from([Buffer.alloc(1024, 65)]), '/nonexistent/z.tar'), /not a valid tar archive/);
    const ix = new TarIndexer();
    ix.push(await tarOf(entries));
    const fs = new TarFS({ chunks: [await tarOf(entries)] }, ix.entries);
    fs.hide('Dockerfile');
    assert.equal(await fs.lstat('Dockerfile'), undefined);
    assert.ok(!(await fs.readdir('')).includes('Dockerfile'));
  });
});
