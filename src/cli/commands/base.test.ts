import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { extract } from 'tar-stream';
import { buildTar, GROUP, isDynamicELF, PASSWD, rootfsEntries } from './base.js';

async function entries(buf: Buffer) {
  const ex = extract();
  const out: { name: string; type: string; mode: number; linkname: string | null; mtime: number; uid: number; data: string }[] = [];
  const done = (async () => {
    for await (const e of ex) {
      let data = '';
      for await (const c of e) data += String(c);
      const h = e.header;
      out.push({ name: h.name, type: h.type, mode: h.mode, linkname: h.linkname ?? null, mtime: h.mtime.getTime(), uid: h.uid, data });
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

describe('busybox rootfs', () => {
  const fakeBusybox = Buffer.from('\x7fELF fake busybox');
  const applets = ['bin/sh', 'bin/ls', 'usr/bin/wget', 'sbin/ifconfig', 'usr/local/bin/odd', 'bin/busybox', '', 'linuxrc'];

  it('has the directories, files and one symlink per applet', async () => {
    const es = await entries(await buildTar(rootfsEntries(fakeBusybox, applets)));
    const byName = new Map(es.map((e) => [e.name, e]));
    for (const d of ['bin/', 'etc/', 'tmp/', 'root/', 'proc/', 'sys/', 'dev/', 'var/', 'home/', 'usr/bin/', 'usr/sbin/', 'sbin/', 'usr/local/', 'usr/local/bin/']) {
      assert.equal(byName.get(d)?.type, 'directory', d);
    }
    assert.equal(byName.get('tmp/')!.mode, 0o1777);
    assert.equal(byName.get('root/')!.mode, 0o700);
    assert.equal(byName.get('bin/busybox')!.type, 'file');
    assert.equal(byName.get('bin/busybox')!.mode, 0o755);
    assert.equal(byName.get('etc/passwd')!.data, PASSWD);
    assert.equal(byName.get('etc/group')!.data, GROUP);
    assert.match(PASSWD, /^root:x:0:0:root:\/root:\/bin\/sh\nnobody:x:65534:65534:nobody:\/nonexistent:\/bin\/false\n$/);
    for (const l of ['bin/sh', 'bin/ls', 'usr/bin/wget', 'sbin/ifconfig', 'usr/local/bin/odd', 'linuxrc']) {
      assert.equal(byName.get(l)?.type, 'symlink', l);
      assert.equal(byName.get(l)!.linkname, '/bin/busybox');
    }
    assert.equal(es.filter((e) => e.name === 'bin/busybox').length, 1);
    // Parents come before children, and everything is root-owned with a fixed mtime.
    const names = es.map((e) => e.name);
    assert.ok(names.indexOf('usr/') < names.indexOf('usr/bin/') && names.indexOf('usr/bin/') < names.indexOf('usr/bin/wget'));
    assert.ok(es.every((e) => e.uid === 0 && e.mtime === Date.UTC(2000, 0, 1)));
  });

  it('is deterministic', async () => {
    const a = await buildTar(rootfsEntries(fakeBusybox, applets));
    const b = await buildTar(rootfsEntries(fakeBusybox, [...applets].reverse()));
    assert.equal(createHash('sha256').update(a).digest('hex'), createHash('sha256').update(b).digest('hex'));
  });
});

describe('isDynamicELF', () => {
  function elf64(types: number[]): Buffer {
    const b = Buffer.alloc(64 + 56 * types.length);
    b.writeUInt32BE(0x7f454c46, 0);
    b[4] = 2; // 64-bit
    b[5] = 1; // little endian
    b.writeBigUInt64LE(64n, 0x20);
    b.writeUInt16LE(56, 0x36);
    b.writeUInt16LE(types.length, 0x38);
    types.forEach((t, i) => b.writeUInt32LE(t, 64 + i * 56));
    return b;
  }
  it('spots a PT_INTERP segment', () => {
    assert.equal(isDynamicELF(elf64([6, 3, 1])), true);
    assert.equal(isDynamicELF(elf64([1, 1, 4])), false);
    assert.equal(isDynamicELF(Buffer.from('#!/bin/sh\n')), false);
  });
});
