/**
 * The build cache through a real pierd: it survives a restart of the daemon,
 * --no-cache bypasses it, it misses exactly where Docker's does (a changed
 * build arg at the RUN that uses it, a changed instruction at that
 * instruction) and says why, it ignores mtimes, and /build/prune empties it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip } from '../../harness/containers.js';
import { build, count, steps, type Entry } from './helpers.js';

const skip = containerSkip();

/** Every step after FROM said " ---> Using cache" and nothing ran. */
function allCached(text: string): void {
  assert.ok(count(text, /\n ---> Using cache\n/) > 0, `no step from the cache:\n${text}`);
  for (const s of steps(text).slice(1)) if (!/^Step \d+\/\d+ : (FROM|ARG) /.test(s)) assert.match(s, /\n ---> Using cache\n/, `not from the cache:\n${s}\n--- whole output ---\n${text}`);
  assert.doesNotMatch(text, /Running in/);
}

describe('build cache', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => d?.cleanup());

  const ctx = (df: string, files: Record<string, string> = {}, mtime?: Date): Entry[] => [
    { name: 'Dockerfile', content: df },
    ...Object.entries(files).map(([name, content]) => ({ name, content, ...(mtime ? { mtime } : {}) })),
  ];

  it('survives a daemon restart: every step from the cache, the same image ID', async () => {
    const df = 'FROM busybox\nENV WHERE=restart\nWORKDIR /srv\nCOPY app.txt ./\nRUN echo "ran once" && wc -c app.txt > size\nCMD ["cat", "size"]\n';
    const first = await build(d, ctx(df, { 'app.txt': 'restart test\n' }), 't=cache-restart');
    assert.equal(first.error, undefined, first.text);
    assert.match(first.text, /^ran once$/m);

    assert.equal(await d.stop('SIGTERM'), 0, d.log());
    d = await startDaemon({ root: d.root });
    const again = await build(d, ctx(df, { 'app.txt': 'restart test\n' }), 't=cache-restart');
    assert.equal(again.error, undefined, again.text);
    allCached(again.text);
    assert.doesNotMatch(again.text, /^ran once$/m);
    assert.equal(again.id, first.id);
  });

  it('--no-cache runs every step again (no "Using cache", the RUN output again)', async () => {
    const df = 'FROM busybox\nENV A=1\nRUN echo "no-cache run"\nCOPY f /f\n';
    const files = { f: 'x\n' };
    const first = await build(d, ctx(df, files));
    assert.equal(first.error, undefined, first.text);
    allCached((await build(d, ctx(df, files))).text);
    const fresh = await build(d, ctx(df, files), 'nocache=1');
    assert.equal(fresh.error, undefined, fresh.text);
    assert.equal(count(fresh.text, /Using cache/), 0, fresh.text);
    assert.doesNotMatch(fresh.text, /Cache miss/, 'nothing to explain when the cache was not asked');
    assert.match(fresh.text, /^no-cache run$/m);
    assert.notEqual(fresh.id, first.id);
  });

  it('a changed --build-arg misses from the RUN that uses it on, and says which arg', async () => {
    const df = 'FROM busybox\nARG NAME=default\nENV FIXED=1\nLABEL fixed=yes\nRUN echo "hello $NAME"\nCOPY f /f\n';
    const files = { f: 'same\n' };
    const one = await build(d, ctx(df, files), `buildargs=${encodeURIComponent(JSON.stringify({ NAME: 'one' }))}`);
    assert.equal(one.error, undefined, one.text);
    assert.match(one.text, /^hello one$/m);
    const two = await build(d, ctx(df, files), `buildargs=${encodeURIComponent(JSON.stringify({ NAME: 'two' }))}`);
    assert.equal(two.error, undefined, two.text);
    const s = steps(two.text);
    // ENV and LABEL do not use NAME: Docker keys only RUN on the build args ("|1 NAME=two /bin/sh -c ...").
    assert.match(s[3]!, /^Step 3\/6 : ENV FIXED=1\n ---> Using cache\n/, two.text);
    assert.match(s[4]!, /^Step 4\/6 : LABEL fixed=yes\n ---> Using cache\n/, two.text);
    assert.match(s[5]!, /^Step 5\/6 : RUN echo "hello \$NAME"\n ---> Cache miss: build args changed: NAME\n ---> Running in /, two.text);
    assert.match(s[5]!, /^hello two$/m);
    assert.doesNotMatch(s[6]!, /Using cache/, 'the steps after the miss run again');
    // Back to the first value: all cached again.
    const back = await build(d, ctx(df, files), `buildargs=${encodeURIComponent(JSON.stringify({ NAME: 'one' }))}`);
    allCached(back.text);
    assert.equal(back.id, one.id);
  });

  it('a changed instruction misses there, says "the instruction changed", and the steps before it stay cached', async () => {
    const base = (word: string) => `FROM busybox\nENV K=v\nRUN echo first\nRUN echo ${word}\nCMD ["true"]\n`;
    const a = await build(d, ctx(base('alpha')));
    assert.equal(a.error, undefined, a.text);
    const b = await build(d, ctx(base('beta')));
    assert.equal(b.error, undefined, b.text);
    const s = steps(b.text);
    assert.match(s[2]!, / ---> Using cache\n/);
    assert.match(s[3]!, / ---> Using cache\n/);
    assert.match(s[4]!, /^Step 4\/5 : RUN echo beta\n ---> Cache miss: the instruction changed\b/, b.text);
    assert.match(s[4]!, /^beta$/m);
    assert.doesNotMatch(s[5]!, /Using cache/);
  });

  it('a COPY source whose mtime alone changed still hits the cache', async () => {
    const df = 'FROM busybox\nCOPY data/ /data/\nRUN echo "copied" && cat /data/one.txt\n';
    const files = { 'data/one.txt': 'one\n', 'data/two.txt': 'two\n' };
    const first = await build(d, ctx(df, files, new Date('2020-01-01T00:00:00Z')));
    assert.equal(first.error, undefined, first.text);
    const touched = await build(d, ctx(df, files, new Date('2024-06-01T12:00:00Z')));
    assert.equal(touched.error, undefined, touched.text);
    allCached(touched.text);
    assert.equal(touched.id, first.id);
    // The content changing is a miss, though.
    const changed = await build(d, ctx(df, { ...files, 'data/two.txt': 'TWO\n' }, new Date('2024-06-01T12:00:00Z')));
    assert.match(changed.text, /COPY data\/ \/data\/\n ---> Cache miss: the source files changed/, changed.text);
  });

  it('POST /build/prune (what `docker builder prune -f` sends) empties the cache: the next build has no hits', async () => {
    const df = 'FROM busybox\nENV P=1\nRUN echo prune-me\n';
    await build(d, ctx(df));
    allCached((await build(d, ctx(df))).text);
    const r = await api(d.sock, 'POST', '/build/prune');
    assert.equal(r.status, 200, r.text());
    assert.ok(r.json<{ CachesDeleted: string[] | null }>().CachesDeleted?.length, `nothing deleted: ${r.text()}`);
    const after = await build(d, ctx(df));
    assert.equal(after.error, undefined, after.text);
    assert.equal(count(after.text, /Using cache/), 0, after.text);
    assert.match(after.text, /^prune-me$/m);
  });

  it('POST /build/prune?all=1 empties the cache: the next build has no hits', async () => {
    const df = 'FROM busybox\nENV P=2\nRUN echo prune-all\n';
    await build(d, ctx(df));
    allCached((await build(d, ctx(df))).text);
    const r = await api(d.sock, 'POST', '/build/prune?all=1');
    assert.equal(r.status, 200, r.text());
    const after = await build(d, ctx(df));
    assert.equal(after.error, undefined, after.text);
    assert.equal(count(after.text, /Using cache/), 0, after.text);
    assert.match(after.text, /^prune-all$/m);
  });
});
