// POST /build through a real pierd: steps, the cache, multi-stage builds,
// failures that leave nothing behind, and contexts that try to reach outside.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip } from '../../harness/containers.js';
import { build, type Entry } from './helpers.js';

const skip = containerSkip();

describe('build', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => d?.cleanup());

  const DF = (copyLine = 'COPY app.txt /app/') => `FROM busybox
ENV GREETING=hello
WORKDIR /work
RUN echo "$GREETING from run" > run.txt
${copyLine}
LABEL stage=final
CMD ["cat", "/work/run.txt"]
`;

  it('builds step by step; an identical rebuild is all cache and gives the same image ID', async () => {
    const ctx: Entry[] = [{ name: 'Dockerfile', content: DF() }, { name: 'app.txt', content: 'v1\n' }];
    const first = await build(d, ctx, 't=pt-build:1');
    assert.equal(first.error, undefined, first.text);
    assert.match(first.text, /^Step 1\/7 : FROM busybox\n/);
    assert.match(first.text, /Step 4\/7 : RUN echo "\$GREETING from run" > run\.txt\n ---> Running in [0-9a-f]{12}\n/);
    assert.match(first.text, /Successfully built [0-9a-f]{12}\nSuccessfully tagged pt-build:1\n$/);
    const again = await build(d, ctx, 't=pt-build:1');
    assert.equal(again.id, first.id);
    assert.equal((again.text.match(/ ---> Using cache/g) ?? []).length, 6, again.text);
    // The image runs as built.
    const c = (await api(d.sock, 'POST', '/containers/create', { Image: 'pt-build:1' })).json<{ Id: string }>();
    const inspect = (await api(d.sock, 'GET', `/images/pt-build:1/json`)).json<{ Config: { Env: string[]; WorkingDir: string; Labels: Record<string, string>; Cmd: string[] } }>();
    assert.ok(inspect.Config.Env.includes('GREETING=hello'));
    assert.equal(inspect.Config.WorkingDir, '/work');
    assert.equal(inspect.Config.Labels['stage'], 'final');
    assert.deepEqual(inspect.Config.Cmd, ['cat', '/work/run.txt']);
    await api(d.sock, 'POST', `/containers/${c.Id}/start`);
    await api(d.sock, 'POST', `/containers/${c.Id}/wait`);
    const logs = (await api(d.sock, 'GET', `/containers/${c.Id}/logs?stdout=1`)).body;
    assert.match(logs.toString(), /hello from run/);
    await api(d.sock, 'DELETE', `/containers/${c.Id}?force=1`);
  });

  it('a changed COPY source rebuilds that step and the later ones only, and says why', async () => {
    const base: Entry[] = [{ name: 'Dockerfile', content: DF() }, { name: 'app.txt', content: 'one\n' }];
    await build(d, base);
    const changed = await build(d, [{ name: 'Dockerfile', content: DF() }, { name: 'app.txt', content: 'two\n' }]);
    assert.equal(changed.error, undefined, changed.text);
    const steps = changed.text.split(/(?=Step \d+\/7)/);
    for (const n of [1, 2, 3]) assert.ok(!/Running in/.test(steps[n]!), `step ${n + 1} from cache:\n${steps[n]}`);
    assert.match(steps[1]!, /Using cache/);
    assert.match(steps[4]!, /Step 5\/7 : COPY app\.txt \/app\/\n ---> Cache miss: the source files changed/);
    assert.doesNotMatch(steps[5]!, /Using cache/);
  });

  it('multi-stage: --target builds only what it needs; COPY --from a stage', async () => {
    const df = `FROM busybox AS builder
RUN echo built > /out.txt
FROM busybox AS unused
RUN exit 1
FROM busybox
COPY --from=builder /out.txt /final.txt
RUN cat /final.txt
`;
    const r = await build(d, [{ name: 'Dockerfile', content: df }]);
    assert.equal(r.error, undefined, r.text);
    assert.doesNotMatch(r.text, /exit 1/);
    assert.match(r.text, /\nbuilt\n/);
    const t = await build(d, [{ name: 'Dockerfile', content: df }], 'target=builder');
    assert.equal(t.error, undefined, t.text);
    assert.match(t.text, /Step 2\/2 : RUN echo built/);
  });

  it('a failing RUN reports its command and code and leaves no container behind', async () => {
    const before = (await api(d.sock, 'GET', '/containers/json?all=1')).json<unknown[]>().length;
    const r = await build(d, [{ name: 'Dockerfile', content: 'FROM busybox\nRUN echo about to fail && exit 3\n' }]);
    assert.equal(r.error, "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
    assert.match(r.text, /about to fail/);
    assert.equal((await api(d.sock, 'GET', '/containers/json?all=1')).json<unknown[]>().length, before);
  });

  it('COPY of ../x and of a symlink out of the context are refused', async () => {
    const up = await build(d, [{ name: 'Dockerfile', content: 'FROM busybox\nCOPY ../etc/passwd /x\n' }]);
    assert.match(up.error ?? '', /forbidden path outside the build context: \.\.\/etc\/passwd/);
    const link = await build(d, [{ name: 'Dockerfile', content: 'FROM busybox\nCOPY secret /x\n' }, { name: 'secret', type: 'symlink', linkname: '/etc/shadow' }]);
    assert.match(link.error ?? '', /forbidden path outside the build context: secret/);
    const rel = await build(d, [{ name: 'Dockerfile', content: 'FROM busybox\nCOPY secret /x\n' }, { name: 'secret', type: 'symlink', linkname: '../../../../etc/shadow' }]);
    assert.match(rel.error ?? '', /forbidden path outside the build context: secret/);
  });

  it('bad input: syntax errors with file:line, an unknown instruction, a missing base image, a missing source', async () => {
    const unknown = await build(d, [{ name: 'Dockerfile', content: 'FROM busybox\nFORM x\n' }]);
    assert.match(unknown.text, /^Dockerfile:2\n-+\n {3}2 \| >>> FORM x\n/m);
    assert.equal(unknown.error, 'dockerfile parse error on line 2: unknown instruction: FORM (did you mean FROM?)');
    const missing = await build(d, [{ name: 'Dockerfile', content: 'FROM localhost:1/nope/nothing:here\n' }]);
    assert.ok(missing.error, missing.text);
    const nosrc = await build(d, [{ name: 'Dockerfile', content: 'FROM busybox\nCOPY nothere /x\n' }]);
    assert.match(nosrc.error ?? '', /nothere/);
  });
});
