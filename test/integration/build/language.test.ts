/**
 * The Dockerfile language through POST /build on a real pierd, each feature
 * observed in the result: files and modes inside the image (read by running
 * it), its config in GET /images/{name}/json, and the build's output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api, startDaemon, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, containerSkip, demux } from '../../harness/containers.js';
import { build, steps, type BuildResult, type Entry } from './helpers.js';

const skip = containerSkip();

interface ImageConfig {
  Env?: string[]; Cmd?: string[] | null; Entrypoint?: string[] | null; WorkingDir?: string; User?: string; Labels?: Record<string, string> | null;
  Volumes?: Record<string, object> | null; ExposedPorts?: Record<string, object> | null; StopSignal?: string; Shell?: string[];
  OnBuild?: string[] | null; Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
}

describe('Dockerfile language', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => d?.cleanup());

  const df = (text: string, files: Entry[] = []): Entry[] => [{ name: 'Dockerfile', content: text }, ...files];
  /** A build that must succeed. */
  const ok = async (entries: Entry[], query = ''): Promise<BuildResult & { id: string }> => {
    const r = await build(d, entries, query);
    assert.equal(r.error, undefined, `${r.error}\n${r.text}`);
    assert.ok(r.id, r.text);
    return r as BuildResult & { id: string };
  };
  const config = async (image: string): Promise<ImageConfig> => {
    const r = await api(d.sock, 'GET', `/images/${encodeURIComponent(image)}/json`);
    assert.equal(r.status, 200, r.text());
    return r.json<{ Config: ImageConfig }>().Config;
  };
  /** Runs the image (its own command, or cmd) to its end: exit code and output. */
  const runImage = async (image: string, cmd?: string[], extra: object = {}): Promise<{ code: number; out: string }> => {
    const c = await api(d.sock, 'POST', '/containers/create', { Image: image, ...(cmd ? { Cmd: cmd } : {}), ...extra });
    assert.equal(c.status, 201, c.text());
    const id = c.json<{ Id: string }>().Id;
    try {
      const s = await api(d.sock, 'POST', `/containers/${id}/start`);
      assert.equal(s.status, 204, s.text());
      const w = await api(d.sock, 'POST', `/containers/${id}/wait`);
      const logs = await api(d.sock, 'GET', `/containers/${id}/logs?stdout=1&stderr=1`);
      return { code: w.json<{ StatusCode: number }>().StatusCode, out: demux(logs.body).map((f) => f.data).join('') };
    } finally {
      await api(d.sock, 'DELETE', `/containers/${id}?force=1`);
    }
  };
  const sh = async (image: string, script: string) => {
    const r = await runImage(image, ['sh', '-c', script], { User: '0', Entrypoint: [''] });
    assert.equal(r.code, 0, r.out);
    return r.out;
  };

  it('heredocs: RUN <<EOF runs the script; COPY <<EOF writes the file', async () => {
    await ok(df(`FROM busybox
RUN <<EOF
echo "line one" > /h
for i in 2 3; do echo "line $i" >> /h; done
EOF
COPY <<EOF /etc/x.conf
key=value
other=2
EOF
`), 't=lang-heredoc');
    assert.equal(await sh('lang-heredoc', 'cat /h'), 'line one\nline 2\nline 3\n');
    assert.equal(await sh('lang-heredoc', 'cat /etc/x.conf'), 'key=value\nother=2\n');
  });

  it('SHELL ["/bin/sh","-ec"]: later RUNs use it (a failing command stops the script), and the image keeps it', async () => {
    const good = await ok(df('FROM busybox\nSHELL ["/bin/sh", "-ec"]\nRUN echo "$0 $-" | grep -q e && echo shell-has-e\n'), 't=lang-shell');
    assert.match(good.text, /^shell-has-e$/m);
    assert.deepEqual((await config('lang-shell')).Shell, ['/bin/sh', '-ec']);
    const bad = await build(d, df('FROM busybox\nSHELL ["/bin/sh", "-ec"]\nRUN echo reached; false; echo not-reached\n'));
    assert.equal(bad.error, "The command '/bin/sh -ec echo reached; false; echo not-reached' returned a non-zero code: 1");
    assert.match(bad.text, /^reached$/m);
    assert.doesNotMatch(bad.text, /^not-reached$/m);
  });

  it('ENTRYPOINT + CMD: both in the config, run together; an ENTRYPOINT drops the CMD inherited from the base', async () => {
    await ok(df('FROM busybox\nENTRYPOINT ["/bin/echo", "ep"]\nCMD ["c1", "c2"]\n'), 't=lang-ep');
    const c = await config('lang-ep');
    assert.deepEqual(c.Entrypoint, ['/bin/echo', 'ep']);
    assert.deepEqual(c.Cmd, ['c1', 'c2']);
    assert.deepEqual(await runImage('lang-ep'), { code: 0, out: 'ep c1 c2\n' });
    await ok(df('FROM busybox\nENTRYPOINT ["/bin/echo", "only"]\n'), 't=lang-ep-only');
    const only = await config('lang-ep-only');
    assert.ok(!only.Cmd?.length, `busybox's CMD ["sh"] is dropped: ${JSON.stringify(only.Cmd)}`);
    assert.deepEqual(await runImage('lang-ep-only'), { code: 0, out: 'only\n' });
  });

  it('RUN after an ENTRYPOINT runs the command itself, not through the entrypoint (Docker: Entrypoint [""] for RUN)', async () => {
    const r = await ok(df('FROM busybox\nENTRYPOINT ["/bin/echo", "via-entrypoint"]\nRUN touch /made-by-run && echo run-output\n'), 't=lang-ep-run');
    const runStep = r.text.slice(r.text.indexOf('Step 3/3'));
    assert.doesNotMatch(runStep, /via-entrypoint/, r.text);
    assert.match(runStep, /^run-output$/m);
    assert.equal(await sh('lang-ep-run', 'ls /made-by-run'), '/made-by-run\n');
  });

  it('ONBUILD: the trigger is kept in the base and runs when another build starts FROM it', async () => {
    await ok(df('FROM busybox\nONBUILD RUN echo triggered > /t\nCMD ["cat", "/t"]\n'), 't=lang-onbuild-base');
    assert.deepEqual((await config('lang-onbuild-base')).OnBuild, ['RUN echo triggered > /t']);
    assert.equal((await runImage('lang-onbuild-base')).code, 1, 'the trigger did not run in the base itself');
    const child = await ok(df('FROM lang-onbuild-base\nRUN test -f /t && echo child-sees-t\n'), 't=lang-onbuild-child');
    assert.match(child.text, /^Step 1\/2 : FROM lang-onbuild-base\n[\s\S]*# Executing 1 build trigger\n/);
    assert.match(child.text, /^child-sees-t$/m);
    assert.deepEqual(await runImage('lang-onbuild-child'), { code: 0, out: 'triggered\n' });
    assert.ok(!(await config('lang-onbuild-child')).OnBuild?.length, 'triggers are not inherited further');
  });

  it('ARG before FROM names the base image (its default, or --build-arg)', async () => {
    await ok(df('FROM busybox\nRUN echo alt > /which\n'), 't=lang-alt-base');
    const text = 'ARG BASE=busybox\nFROM $BASE\nRUN cat /which 2>/dev/null || echo default-base\n';
    const def = await ok(df(text));
    assert.match(def.text, /^default-base$/m);
    const alt = await ok(df(text), `buildargs=${encodeURIComponent(JSON.stringify({ BASE: 'lang-alt-base' }))}`);
    assert.match(alt.text, /^alt$/m);
    assert.doesNotMatch(alt.text, /were not consumed/);
  });

  it('a global ARG is a step of the output, as Docker prints it ("Step 1/3 : ARG BASE=busybox")', async () => {
    const r = await ok(df('ARG BASE=busybox\nFROM $BASE\nENV X=1\n'));
    assert.match(r.text, /^Step 1\/3 : ARG BASE=busybox\nStep 2\/3 : FROM \$BASE\n/, r.text);
  });

  it('ENV substitution: a pair sees the values from before its instruction (ENV a=bye b=$a gives b=hello)', async () => {
    const r = await ok(df('FROM busybox\nENV a=hello\nENV a=bye b=$a\nENV c="${a}-${b:-none}-${zz:-dflt}"\nRUN echo "a=$a b=$b c=$c"\n'), 't=lang-env');
    assert.match(r.text, /^a=bye b=hello c=bye-hello-dflt$/m);
    const env = (await config('lang-env')).Env ?? [];
    for (const e of ['a=bye', 'b=hello', 'c=bye-hello-dflt']) assert.ok(env.includes(e), `${e} in ${JSON.stringify(env)}`);
  });

  it('COPY --chown=1000:1000 and --chmod=751 set the owner and mode inside the image', async () => {
    await ok(df('FROM busybox\nCOPY --chown=1000:1000 a.txt /own/a.txt\nCOPY --chmod=751 run.sh /bin/run.sh\nCOPY --chown=1000:1000 --chmod=640 a.txt /both\n', [
      { name: 'a.txt', content: 'A\n', mode: 0o644 },
      { name: 'run.sh', content: '#!/bin/sh\necho ran\n', mode: 0o644 },
    ]), 't=lang-chown');
    assert.equal(await sh('lang-chown', 'stat -c "%a %u:%g %n" /own/a.txt /bin/run.sh /both'), '644 1000:1000 /own/a.txt\n751 0:0 /bin/run.sh\n640 1000:1000 /both\n');
    assert.equal(await sh('lang-chown', '/bin/run.sh'), 'ran\n');
  });

  it('COPY --chown: a destination directory the COPY makes belongs to that owner too (Docker: MkdirAllAndChownNew)', async () => {
    await ok(df('FROM busybox\nCOPY --chown=1000:1000 a.txt /newdir/\nCOPY --chown=1000:1000 a.txt /other/sub/b.txt\n', [{ name: 'a.txt', content: 'A\n' }]), 't=lang-chown-dir');
    assert.equal(await sh('lang-chown-dir', 'stat -c "%a %u:%g %n" /newdir /newdir/a.txt /other /other/sub /other/sub/b.txt'),
      '755 1000:1000 /newdir\n644 1000:1000 /newdir/a.txt\n755 1000:1000 /other\n755 1000:1000 /other/sub\n644 1000:1000 /other/sub/b.txt\n');
  });

  it('COPY of a directory copies its contents; COPY *.txt copies what matches', async () => {
    await ok(df('FROM busybox\nCOPY conf /etc/app/\nCOPY *.txt /dst/\n', [
      { name: 'conf/a.conf', content: 'a\n' },
      { name: 'conf/sub/b.conf', content: 'b\n' },
      { name: 'one.txt', content: '1\n' },
      { name: 'two.txt', content: '2\n' },
      { name: 'three.md', content: '3\n' },
    ]), 't=lang-copy');
    assert.equal(await sh('lang-copy', 'cd /etc/app && find . | sort'), '.\n./a.conf\n./sub\n./sub/b.conf\n');
    assert.equal(await sh('lang-copy', 'ls /dst'), 'one.txt\ntwo.txt\n');
  });

  it('COPY leaves directories that exist alone: the destination and its parents keep their mode and owner', async () => {
    await ok(df(`FROM busybox
RUN mkdir -p /opt/data && chmod 1777 /opt/data && chown 1000:1000 /opt /opt/data && chmod 1777 /tmp
COPY f.txt /opt/data/app/
COPY f.txt /tmp/
COPY private /etc/
`, [{ name: 'f.txt', content: 'f\n' }, { name: 'private', type: 'directory', mode: 0o700 }, { name: 'private/p.conf', content: 'p\n' }]), 't=lang-parents');
    assert.equal(await sh('lang-parents', 'stat -c "%a %u:%g %n" /opt /opt/data /tmp /etc'), '755 1000:1000 /opt\n1777 1000:1000 /opt/data\n1777 0:0 /tmp\n755 0:0 /etc\n');
  });

  it('COPY of a 0700 directory to a new path: the new directory is 0755 (Docker does not copy the source directory\'s own mode)', async () => {
    await ok(df('FROM busybox\nCOPY private /newconf\n', [{ name: 'private', type: 'directory', mode: 0o700 }, { name: 'private/p.conf', content: 'p\n' }]), 't=lang-newdir');
    assert.equal(await sh('lang-newdir', 'stat -c "%a %n" /newconf /newconf/p.conf'), '755 /newconf\n644 /newconf/p.conf\n');
  });

  it('COPY --from=busybox copies from an image (not a stage)', async () => {
    await ok(df('FROM busybox\nCOPY --from=busybox /bin/busybox /copied/busybox\nRUN /copied/busybox echo from-image\n'), 't=lang-from-image');
    assert.equal(await sh('lang-from-image', 'cmp /bin/busybox /copied/busybox && echo same'), 'same\n');
  });

  it('WORKDIR makes the directory and is where RUN and the container start; USER runs later steps and the container as that user', async () => {
    const r = await ok(df('FROM busybox\nWORKDIR /made/here\nRUN pwd\nWORKDIR rel\nUSER 1234:5678\nRUN id\n'), 't=lang-workdir');
    assert.match(r.text, /^\/made\/here$/m);
    assert.match(r.text, /^uid=1234 gid=5678/m);
    const c = await config('lang-workdir');
    assert.equal(c.WorkingDir, '/made/here/rel');
    assert.equal(c.User, '1234:5678');
    assert.deepEqual(await runImage('lang-workdir', ['sh', '-c', 'pwd; id -u']), { code: 0, out: '/made/here/rel\n1234\n' });
  });

  it('VOLUME, EXPOSE, HEALTHCHECK, STOPSIGNAL, LABEL land in the image config', async () => {
    await ok(df(`FROM busybox
VOLUME /data
VOLUME ["/logs", "/cache"]
EXPOSE 80 443/tcp 53/udp
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
STOPSIGNAL SIGUSR1
LABEL "com.example.vendor"="ACME" version="1.0" multi="a b"
`), 't=lang-meta');
    const c = await config('lang-meta');
    assert.deepEqual(c.Volumes, { '/data': {}, '/logs': {}, '/cache': {} });
    assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '443/tcp': {}, '53/udp': {} });
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'wget -q -O- http://localhost/ || exit 1'], Interval: 5e9, Timeout: 2e9, StartPeriod: 1e9, Retries: 4 });
    assert.equal(c.StopSignal, 'SIGUSR1');
    assert.deepEqual(c.Labels, { 'com.example.vendor': 'ACME', version: '1.0', multi: 'a b' });
  });

  it('FROM scratch + COPY of a static binary: the image has just that and runs it', async () => {
    const bin = readFileSync('/bin/busybox');
    const r = await ok(df('FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "from-scratch"]\n', [{ name: 'busybox', content: bin, mode: 0o755 }]), 't=lang-scratch');
    assert.match(steps(r.text)[2]!, /^Step 2\/3 : COPY busybox \/bin\/busybox\n/);
    assert.deepEqual(await runImage('lang-scratch'), { code: 0, out: 'from-scratch\n' });
    const ls = await runImage('lang-scratch', ['/bin/busybox', 'ls', '/bin']);
    assert.equal(ls.out, 'busybox\n');
    const img = (await api(d.sock, 'GET', '/images/lang-scratch/json')).json<{ RootFS: { Layers: string[] } }>();
    assert.equal(img.RootFS.Layers.length, 1);
  });
});
