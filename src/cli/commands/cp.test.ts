import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import {
  cleanPath, getRebaseName, prepareArchiveCopy, preserveTrailingDotOrSeparator, rebaseArchiveEntries, splitCpArg,
  splitPathDirEntry, tarResource, untar,
} from './cp.js';
import { docker, dockerize, FakeEngine, haveDocker, pier, type Recorded } from './fake-engine.js';

async function tarNames(r: Readable): Promise<string[]> {
  const ex = tarStream.extract();
  r.pipe(ex as never);
  const names: string[] = [];
  for await (const e of ex) {
    names.push(`${e.header.type}:${e.header.name}${e.header.linkname ? `->${e.header.linkname}` : ''}`);
    e.resume();
  }
  return names;
}

/** A tree as text: one line per entry, with its type and content. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r}/ ${(st.mode & 0o777).toString(8)}`);
        walk(p, r);
      } else out.push(`${r} ${(st.mode & 0o777).toString(8)} ${readFileSync(p, 'utf8')}`);
    }
  };
  walk(root, '');
  return out;
}

describe('cp path semantics', () => {
  it('splits CONTAINER:PATH like docker', () => {
    assert.deepEqual(splitCpArg('ctr:/etc/hosts'), ['ctr', '/etc/hosts']);
    assert.deepEqual(splitCpArg('/abs/a:b'), ['', '/abs/a:b']);
    assert.deepEqual(splitCpArg('./file:name'), ['', './file:name']);
    assert.deepEqual(splitCpArg('plain'), ['', 'plain']);
    assert.deepEqual(splitCpArg('-'), ['', '-']);
  });
  it('keeps a trailing "/." or "/" through cleaning', () => {
    assert.equal(preserveTrailingDotOrSeparator(cleanPath('/a/b/.'), '/a/b/.'), '/a/b/.');
    assert.equal(preserveTrailingDotOrSeparator(cleanPath('/a/b/'), '/a/b/'), '/a/b/');
    assert.equal(preserveTrailingDotOrSeparator(cleanPath('/a//b'), '/a//b'), '/a/b');
    assert.deepEqual(splitPathDirEntry('/a/b/.'), ['/a/b', '.']);
    assert.deepEqual(splitPathDirEntry('/a/b/'), ['/a', 'b']);
    assert.deepEqual(getRebaseName('/x/link/', '/x/target'), ['/x/target/', 'link']);
    assert.deepEqual(getRebaseName('/x/link/.', '/x/target'), ['/x/target/.', '']);
  });
  it('decides where to extract and what to rename', () => {
    const info = (path: string, exists: boolean, isDir: boolean) => ({ path, exists, isDir, rebaseName: '' });
    assert.deepEqual(prepareArchiveCopy(info('/s/f', true, false), info('/d', true, true)), { dstDir: '/d' });
    assert.deepEqual(prepareArchiveCopy(info('/s/f', true, false), info('/d/new', false, false)), { dstDir: '/d', rebase: ['f', 'new'] });
    assert.deepEqual(prepareArchiveCopy(info('/s/dir', true, true), info('/d/new', false, false)), { dstDir: '/d', rebase: ['dir', 'new'] });
    assert.deepEqual(prepareArchiveCopy(info('/s/dir/.', true, true), info('/d/new', false, false)), { dstDir: '/d', rebase: ['.', 'new'] });
    assert.throws(() => prepareArchiveCopy(info('/s/dir', true, true), info('/d/file', true, false)), /cannot copy directory/);
    assert.throws(() => prepareArchiveCopy(info('/s/f', true, false), info('/d/new/', false, false)), /no such directory/);
  });
});

describe('cp archives', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-cp-'));
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/a.txt'), 'A');
    writeFileSync(join(dir, 'src/sub/b.txt'), 'B', { mode: 0o600 });
    symlinkSync('a.txt', join(dir, 'src/link'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('tars a directory, a "/." directory and a file as docker names them', async () => {
    assert.deepEqual(await tarNames(tarResource(join(dir, 'src'))), ['directory:src/', 'file:src/a.txt', 'symlink:src/link->a.txt', 'directory:src/sub/', 'file:src/sub/b.txt']);
    assert.deepEqual(await tarNames(tarResource(`${dir}/src/.`)), ['directory:./', 'file:./a.txt', 'symlink:./link->a.txt', 'directory:./sub/', 'file:./sub/b.txt']);
    assert.deepEqual(await tarNames(tarResource(join(dir, 'src/a.txt'), 'renamed')), ['file:renamed']);
    assert.deepEqual(await tarNames(rebaseArchiveEntries(tarResource(`${dir}/src/.`), '.', 'copy')), ['directory:copy/', 'file:copy/a.txt', 'symlink:copy/link->a.txt', 'directory:copy/sub/', 'file:copy/sub/b.txt']);
  });
  it('extracts with modes and links, refusing to replace a directory with a file', async () => {
    const out = join(dir, 'out1');
    mkdirSync(out);
    await untar(tarResource(join(dir, 'src')), out);
    assert.deepEqual(tree(out), ['src/ 755', 'src/a.txt 644 A', 'src/link -> a.txt', 'src/sub/ 755', 'src/sub/b.txt 600 B']);
    mkdirSync(join(dir, 'out2/a.txt'), { recursive: true });
    await assert.rejects(untar(tarResource(join(dir, 'src/a.txt')), join(dir, 'out2')), /cannot overwrite directory ".*out2\/a.txt" with non-directory/);
  });
  it('keeps every entry inside the destination', async () => {
    const evil = async (entries: { name: string; type?: 'file' | 'symlink' | 'link'; linkname?: string }[]) => {
      const pack = tarStream.pack();
      for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644 }, e.type === 'file' || !e.type ? 'x' : undefined as never);
      pack.finalize();
      const out = mkdtempSync(join(dir, 'evil-'));
      await untar(pack as unknown as Readable, out);
    };
    await assert.rejects(evil([{ name: '../escape' }]), /is outside of/);
    await assert.rejects(evil([{ name: 'l', type: 'symlink', linkname: '../../etc' }]), /invalid symlink/);
    await assert.rejects(evil([{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]), /invalid hardlink/);
    // An absolute symlink is kept (its target is read inside the destination's root), but nothing may be written through it.
    await assert.rejects(evil([{ name: 'abs', type: 'symlink', linkname: dir }, { name: 'abs/pwned' }]), /is outside of/);
    assert.throws(() => lstatSync(join(dir, 'pwned')));
  });
});

/** Go's os.FileMode bits for a stat header. */
function goMode(st: import("node:fs").Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += 2 ** 31;
  if (st.isSymbolicLink()) m += 2 ** 27;
  return m;
}

describe('cp against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let dir: string;
  let engine: FakeEngine;
  /** The "container's" root for the current case. */
  let root = '';
  before(async () => {
    // (No "pier" in this path: messages are compared with "pier" read as "docker".)
    dir = mkdtempSync(join(tmpdir(), 'cp-cmp-'));
    engine = await new FakeEngine(async (r: Recorded) => {
      if (!r.path.endsWith('/archive')) return undefined;
      const path = r.query.get('path') ?? '';
      const abs = join(root, path);
      let st;
      try {
        st = lstatSync(abs.replace(/\/\.?$/, '') || '/');
      } catch {
        return { status: 404, json: { message: `Could not find the file ${path} in container ctr` } };
      }
      const stat = Buffer.from(JSON.stringify({ name: path.split('/').filter(Boolean).pop() ?? '/', size: st.size, mode: goMode(st), mtime: st.mtime.toISOString(), linkTarget: st.isSymbolicLink() ? readlinkSync(abs) : '' })).toString('base64');
      const headers = { 'X-Docker-Container-Path-Stat': stat, 'Content-Type': 'application/x-tar' };
      if (r.method === 'HEAD') return { headers };
      if (r.method === 'GET') {
        const chunks: Buffer[] = [];
        for await (const c of tarResource(abs)) chunks.push(c as Buffer);
        return { headers, text: Buffer.concat(chunks) };
      }
      if (r.method === 'PUT') {
        if (!st.isDirectory()) return { status: 400, json: { message: 'extraction point is not a directory' } };
        // The daemon's side, played by GNU tar.
        await new Promise<void>((resolve, reject) => {
          const child = execFile('tar', ['-x', '-C', abs, '--no-same-owner'], (err) => (err ? reject(err) : resolve()));
          child.stdin!.end(r.body);
        });
        return { status: 200, text: '' };
      }
      return undefined;
    }).start();
  });
  after(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fresh local and container trees for one run. */
  function fixture(name: string): { local: string; ctr: string } {
    const base = join(dir, name);
    const local = join(base, 'local');
    const ctr = join(base, 'ctr');
    for (const t of [local, ctr]) {
      mkdirSync(join(t, 'dir/sub'), { recursive: true });
      mkdirSync(join(t, 'empty'), { recursive: true });
      writeFileSync(join(t, 'file'), `file in ${t === local ? 'local' : 'ctr'}`);
      writeFileSync(join(t, 'dir/a'), 'a');
      writeFileSync(join(t, 'dir/sub/b'), 'b', { mode: 0o640 });
      symlinkSync('dir', join(t, 'linkdir'));
      symlinkSync('file', join(t, 'linkfile'));
    }
    return { local, ctr };
  }

  const cases: [string, (l: string) => string[]][] = [
    ['file into an existing dir', (l) => [`${l}/file`, 'ctr:/empty']],
    ['file to a new name', (l) => [`${l}/file`, 'ctr:/newfile']],
    ['file over a file', (l) => [`${l}/dir/a`, 'ctr:/file']],
    ['dir into an existing dir', (l) => [`${l}/dir`, 'ctr:/empty']],
    ['dir to a new name', (l) => [`${l}/dir`, 'ctr:/newdir']],
    ['dir contents into an existing dir', (l) => [`${l}/dir/.`, 'ctr:/empty']],
    ['dir contents to a new dir', (l) => [`${l}/dir/.`, 'ctr:/newdir']],
    ['file to a missing dir', (l) => [`${l}/file`, 'ctr:/nodir/']],
    ['dir over a file', (l) => [`${l}/dir`, 'ctr:/file']],
    ['missing source', (l) => [`${l}/nope`, 'ctr:/empty']],
    ['into a symlinked dir', (l) => [`${l}/file`, 'ctr:/linkdir']],
    ['a symlink as is', (l) => [`${l}/linkfile`, 'ctr:/empty']],
    ['a symlink followed', (l) => ['-L', `${l}/linkfile`, 'ctr:/empty']],
    ['with -a', (l) => ['-a', `${l}/file`, 'ctr:/empty']],
    ['from: file into an existing dir', (l) => ['ctr:/file', `${l}/empty`]],
    ['from: file to a new name', (l) => ['ctr:/file', `${l}/newfile`]],
    ['from: dir to a new name', (l) => ['ctr:/dir', `${l}/newdir`]],
    ['from: dir into an existing dir', (l) => ['ctr:/dir', `${l}/empty`]],
    ['from: dir contents', (l) => ['ctr:/dir/.', `${l}/empty`]],
    ['from: dir over a file', (l) => ['ctr:/dir', `${l}/file`]],
    ['from: file to a missing dir', (l) => ['ctr:/file', `${l}/nodir/`]],
    ['from: missing source', (l) => ['ctr:/nope', `${l}/empty`]],
    ['from: missing parent', (l) => ['ctr:/file', `${l}/no/such/place`]],
    ['from: a symlink as is', (l) => ['ctr:/linkfile', `${l}/empty`]],
    ['from: a symlink followed', (l) => ['-L', 'ctr:/linkfile', `${l}/empty`]],
    ['between containers', () => ['ctr:/file', 'ctr2:/x']],
    ['no container', (l) => [`${l}/file`, `${l}/x`]],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const d = fixture(`d-${name}`);
      root = d.ctr;
      const dr = await docker(engine.host, ['cp', ...args(d.local)]);
      const p = fixture(`p-${name}`);
      root = p.ctr;
      const pr = await pier(engine.host, ['cp', ...args(p.local)]);
      assert.equal(pr.code, dr.code, `docker: ${dr.err} pier: ${pr.err}`);
      // docker also logs its own tar writer's complaints (logrus lines); the message proper is what counts.
      const dErr = dr.err.split('\n').filter((l) => !l.startsWith('time="')).join('\n');
      assert.equal(dockerize(pr.err).replaceAll(`p-${name}`, `d-${name}`), dErr);
      assert.equal(pr.out, dr.out);
      assert.deepEqual(tree(p.local), tree(d.local));
      assert.deepEqual(tree(p.ctr), tree(d.ctr));
    });
  }
  it('tar on stdout and from stdin', async () => {
    const d = fixture('d-stdio');
    root = d.ctr;
    const dOut = await docker(engine.host, ['cp', 'ctr:/dir', '-'], { binary: true });
    const p = fixture('p-stdio');
    root = p.ctr;
    const pOut = await pier(engine.host, ['cp', 'ctr:/dir', '-'], { binary: true });
    assert.equal(pOut.code, 0);
    assert.deepEqual(await tarNames(Readable.from([Buffer.from(pOut.out, 'latin1')])), await tarNames(Readable.from([Buffer.from(dOut.out, 'latin1')])));
    const tarball = Buffer.concat(await (async () => {
      const chunks: Buffer[] = [];
      for await (const c of tarResource(join(p.local, 'dir'), 'fromstdin')) chunks.push(c as Buffer);
      return chunks;
    })());
    root = d.ctr;
    const dIn = await docker(engine.host, ['cp', '-', 'ctr:/empty'], { stdin: tarball });
    root = p.ctr;
    const pIn = await pier(engine.host, ['cp', '-', 'ctr:/empty'], { stdin: tarball });
    assert.equal(pIn.code, dIn.code);
    assert.deepEqual(tree(p.ctr), tree(d.ctr));
    root = p.ctr;
    const pBad = await pier(engine.host, ['cp', '-', 'ctr:/file'], { stdin: '' });
    root = d.ctr;
    const dBad = await docker(engine.host, ['cp', '-', 'ctr:/file'], { stdin: '' });
    assert.equal(dockerize(pBad.err), dBad.err);
    assert.equal(pBad.code, dBad.code);
  });
});
