import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detectArchiveReader, evalSymlinks, getContextFromLocalDir, goChunks, goReader, isArchive, packStream,
  trimBuildFilesFromExcludes, type GoReader,
} from './build-context.js';
import { parseDockerignore, PatternMatcher } from '../build/dockerignore.js';

/** What docker 28 sends for `patterns` (checked against the real CLI: see build.test.ts). */
function excluded(patterns: string[], path: string): boolean {
  return new PatternMatcher(patterns).matchesOrParentMatches(path);
}

describe('.dockerignore patterns (moby/patternmatcher)', () => {
  it('reads the file as ignorefile.ReadAll does', () => {
    const text = '\ufeff# comment\n  *.log  \r\n\n!/keep.log\n/build/\n./a/../b\n #not a comment\n! spaced\n';
    assert.deepEqual(parseDockerignore(text), ['*.log', '!keep.log', 'build', 'b', '#not a comment', '!spaced']);
  });
  it('matches * within a directory and ** across directories', () => {
    assert.equal(excluded(['*.log'], 'a.log'), true);
    assert.equal(excluded(['*.log'], 'sub/a.log'), false);
    assert.equal(excluded(['**/*.log'], 'sub/deep/a.log'), true);
    assert.equal(excluded(['**/*.log'], 'a.log'), true);
    assert.equal(excluded(['**/deep'], 'sub/deep/x'), true, 'a directory excludes what is under it');
    assert.equal(excluded(['src/**'], 'src'), false);
    assert.equal(excluded(['src/**'], 'src/a/b'), true);
    assert.equal(excluded(['?.txt'], 'a.txt'), true);
    assert.equal(excluded(['?.txt'], 'ab.txt'), false);
    assert.equal(excluded(['[a-c].txt'], 'b.txt'), true);
    assert.equal(excluded(['[^a-c].txt'], 'b.txt'), false);
  });
  it('lets later lines win, ! making exceptions', () => {
    assert.equal(excluded(['*.md', '!README.md'], 'README.md'), false);
    assert.equal(excluded(['*.md', '!README.md', 'README*'], 'README.md'), true);
    assert.equal(excluded(['docs', '!docs/keep'], 'docs/keep'), false);
    assert.equal(excluded(['docs', '!docs/keep'], 'docs/other'), true);
  });
  it('is case-sensitive and escapes what Go escapes (where @balena/dockerignore differs)', () => {
    assert.equal(excluded(['*.log'], 'A.LOG'), false);
    assert.equal(excluded(['*.c++'], 'a.c++'), true);
    assert.equal(excluded(['a(b)'], 'a(b)'), true);
    assert.equal(excluded(['a(b)'], 'ab'), false);
    assert.equal(excluded(['**foo'], 'barfoo'), true, 'a leading ** is a plain suffix');
    assert.equal(excluded(['\\*'], '*'), true);
    assert.equal(excluded(['\\*'], 'x'), false);
  });
  it('hands a directory\'s results down (MatchesUsingParentResults)', () => {
    const pm = new PatternMatcher(['*', '!tmp/keep', 'tmp']);
    const [dirSkip, info] = pm.matchesUsingParentResults('tmp');
    assert.equal(dirSkip, true);
    // "tmp" was not tried for the directory (already excluded), so it does not count for tmp/keep.
    assert.equal(pm.matchesUsingParentResults('tmp/keep', info)[0], false);
    assert.equal(pm.matchesOrParentMatches('tmp/keep'), true);
  });
  it('refuses what docker refuses', () => {
    assert.throws(() => new PatternMatcher(['!']), { message: 'illegal exclusion pattern: "!"' });
    for (const p of ['a[', '[]', 'a\\', '[a-]', '[-a]']) assert.throws(() => new PatternMatcher([p]), { message: 'syntax error in pattern' }, p);
    assert.doesNotThrow(() => new PatternMatcher(['a]', '[*]', '[\\]]', '[a-z]*.go']));
  });
  it('keeps the Dockerfile and .dockerignore (unless the Dockerfile comes from stdin)', () => {
    assert.deepEqual(trimBuildFilesFromExcludes(['*'], 'Dockerfile', false), ['*', '!.dockerignore', '!Dockerfile']);
    assert.deepEqual(trimBuildFilesFromExcludes(['*'], '-', true), ['*', '!.dockerignore']);
    assert.deepEqual(trimBuildFilesFromExcludes(['*.md'], 'Dockerfile', false), ['*.md']);
    assert.deepEqual(trimBuildFilesFromExcludes(['sub'], 'sub/Dockerfile', false), ['sub', '!sub/Dockerfile']);
  });
});

describe('context paths', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-build-context-'));
    mkdirSync(join(dir, 'ctx/sub'), { recursive: true });
    writeFileSync(join(dir, 'ctx/sub/Dockerfile.real'), 'FROM scratch\n');
    symlinkSync('sub/Dockerfile.real', join(dir, 'ctx/Dockerfile'));
    symlinkSync('ctx', join(dir, 'link'));
    writeFileSync(join(dir, 'file'), '');
    mkdirSync(join(dir, 'low'));
    writeFileSync(join(dir, 'low/dockerfile'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('evaluates symlinks like Go, naming the component that failed', async () => {
    assert.equal(await evalSymlinks(join(dir, 'link/Dockerfile')), join(dir, 'ctx/sub/Dockerfile.real'));
    await assert.rejects(evalSymlinks(join(dir, 'nope/x')), { message: `lstat ${join(dir, 'nope')}: no such file or directory` });
    await assert.rejects(evalSymlinks(join(dir, 'file/x')), { message: 'not a directory' });
  });
  it('resolves the context and the Dockerfile in it', async () => {
    assert.deepEqual(await getContextFromLocalDir(join(dir, 'link'), ''), { contextDir: join(dir, 'ctx'), relDockerfile: 'sub/Dockerfile.real' });
    assert.deepEqual(await getContextFromLocalDir(join(dir, 'low'), ''), { contextDir: join(dir, 'low'), relDockerfile: 'dockerfile' });
    assert.deepEqual(await getContextFromLocalDir(join(dir, 'ctx'), join(dir, 'file')), { contextDir: join(dir, 'ctx'), relDockerfile: '../file' });
    await assert.rejects(getContextFromLocalDir(join(dir, 'file'), ''), { message: `context must be a directory: ${join(dir, 'file')}` });
  });
});

describe('reads as Go sees them', () => {
  const chunks = (...c: string[]) => (async function* () {
    for (const s of c) yield Buffer.from(s);
  })();
  const reads = async (r: GoReader, max: number, n: number) => {
    const out: [string, boolean][] = [];
    for (let i = 0; i < n; i++) {
      const { data, eof } = await r.read(max);
      out.push([data.toString(), eof]);
    }
    return out;
  };
  it('gives EOF on its own read, or with the last bytes (net/http)', async () => {
    assert.deepEqual(await reads(goReader(chunks('ab', 'c')), 10, 3), [['ab', false], ['c', false], ['', true]]);
    assert.deepEqual(await reads(goReader(chunks('ab', 'c'), true), 10, 3), [['ab', false], ['c', true], ['', true]]);
    assert.deepEqual(await reads(goReader(chunks('abcde'), true), 2, 3), [['ab', false], ['cd', false], ['e', true]]);
  });
  it('peeks through bufio, dropping an EOF met while peeking', async () => {
    const { isArchive: a, rest } = await detectArchiveReader(goReader(chunks('FROM scratch\n'), true));
    assert.equal(a, false);
    assert.deepEqual(await reads(rest, 32768, 2), [['FROM scratch\n', false], ['', true]]);
  });
  it('recognises tars and compressed streams, not Dockerfiles', async () => {
    const tar = Buffer.concat(await collect(goChunks(goReader(packStream([{ header: { name: 'x', type: 'file', mode: 0o100644 }, data: Buffer.from('x') }])))));
    assert.equal(isArchive(tar.subarray(0, 1024)), true);
    assert.equal(isArchive(Buffer.from([0x1f, 0x8b, 0x08, 0])), true);
    assert.equal(isArchive(Buffer.from('FROM scratch\n')), false);
    assert.equal(isArchive(Buffer.alloc(1024)), false, 'zero blocks are not an archive to docker');
  });
});

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}
