import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../base/errdefs.js';
import { BuildArgs, PREDEFINED_ARGS } from './build-args.js';
import { DockerfileError } from './error.js';
import {
  applyEnv,
  checkStageName,
  copyFromStage,
  expand,
  fromStage,
  parseTrigger,
  targetStage,
  toStages,
  type Instruction,
  type InstructionOf,
} from './instructions.js';
import { parse } from './parser.js';
import { envFromList } from './shell-lex.js';

const stagesOf = (text: string) => toStages(parse(text));
/** The instructions of a one-stage Dockerfile, FROM first. */
const all = (text: string): Instruction[] => {
  const { stages } = stagesOf(text);
  return stages.flatMap((s) => [s.from, ...s.commands]);
};
/** The one instruction after `FROM scratch`. */
function one<K extends Instruction['kind']>(line: string, kind: K): InstructionOf<K> {
  const ins = all(`FROM scratch\n${line}\n`)[1]!;
  assert.equal(ins.kind, kind);
  return ins as InstructionOf<K>;
}

const refuses = (text: string, message: string, line?: number) =>
  assert.throws(
    () => stagesOf(text),
    (e: unknown) => {
      assert.ok(e instanceof DockerfileError, `not a DockerfileError: ${String(e)}`);
      assert.equal(e.kind, 'invalid');
      assert.equal(e.message, message);
      if (line !== undefined) assert.equal(e.line, line);
      return true;
    },
  );
/** An instruction error on line 2 (after FROM scratch). */
const refusesLine = (line: string, message: string) => refuses(`FROM scratch\n${line}\n`, `dockerfile parse error on line 2: ${message}`, 2);

const invalidError = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EngineError, `not an EngineError: ${String(e)}`);
    assert.equal(e.kind, 'invalid');
    assert.equal(e.message, message);
    return true;
  });

describe('instructions: each one typed', () => {
  it('FROM image [AS name] with --platform', () => {
    const { stages } = stagesOf('FROM --platform=linux/arm64 golang:1.22 AS Build\nFROM scratch\n');
    assert.deepEqual(
      stages.map((s) => [s.index, s.name, s.from.image, s.from.as, s.from.platform]),
      [
        [0, 'build', 'golang:1.22', 'build', 'linux/arm64'],
        [1, '', 'scratch', undefined, undefined],
      ],
    );
    assert.equal(stages[0]!.from.original, 'FROM --platform=linux/arm64 golang:1.22 AS Build');
  });

  it('RUN shell and exec form, with flags and heredocs', () => {
    assert.equal(one('RUN apt-get update && apt-get install -y curl', 'RUN').cmd, 'apt-get update && apt-get install -y curl');
    assert.deepEqual(one('RUN ["/bin/bash", "-c", "echo hello"]', 'RUN').cmd, ['/bin/bash', '-c', 'echo hello']);
    const r = one('RUN --mount=type=cache,target=/root/.cache --network=none --security=insecure pip install x', 'RUN');
    assert.deepEqual([r.mounts, r.network, r.security, r.flagsUsed], [['type=cache,target=/root/.cache'], 'none', 'insecure', ['mount', 'network', 'security']]);
    const h = all('FROM x\nRUN <<-EOF bash\n\techo $HOME\n\tEOF\n')[1] as InstructionOf<'RUN'>;
    assert.equal(h.cmd, '<<-EOF bash');
    assert.deepEqual(h.heredocs, [{ name: 'EOF', content: 'echo $HOME\n', expand: true, chomp: true }]);
  });

  it('CMD and ENTRYPOINT', () => {
    assert.deepEqual(one('CMD ["/usr/bin/wc","--help"]', 'CMD').cmd, ['/usr/bin/wc', '--help']);
    assert.equal(one('CMD echo "This is a test." | wc -', 'CMD').cmd, 'echo "This is a test." | wc -');
    assert.deepEqual(one('ENTRYPOINT ["top", "-b"]', 'ENTRYPOINT').cmd, ['top', '-b']);
    assert.deepEqual(one('ENTRYPOINT []', 'ENTRYPOINT').cmd, []);
  });

  it('ENV, LABEL pairs (quotes kept until expand), legacy form', () => {
    assert.deepEqual(one('ENV MY_NAME="John Doe" MY_CAT=fluffy', 'ENV').pairs, [['MY_NAME', '"John Doe"'], ['MY_CAT', 'fluffy']]);
    assert.deepEqual(one('ENV ONE TWO= THREE=world', 'ENV').pairs, [['ONE', 'TWO= THREE=world']]);
    assert.deepEqual(one('LABEL version="1.0" description="x y"', 'LABEL').pairs, [['version', '"1.0"'], ['description', '"x y"']]);
  });

  it('ARG name[=default], several per line', () => {
    assert.deepEqual(one('ARG user1=someuser buildno', 'ARG').args, [{ name: 'user1', default: 'someuser' }, { name: 'buildno' }]);
    assert.deepEqual(one('ARG empty=', 'ARG').args, [{ name: 'empty', default: '' }]);
  });

  it('EXPOSE (sorted, as Docker stores them), WORKDIR, USER, VOLUME, STOPSIGNAL, SHELL, MAINTAINER', () => {
    assert.deepEqual(one('EXPOSE 8080 80/udp 443', 'EXPOSE').ports, ['443', '80/udp', '8080']);
    assert.equal(one('WORKDIR /path/to/workdir', 'WORKDIR').path, '/path/to/workdir');
    assert.equal(one('USER patrick:staff', 'USER').user, 'patrick:staff');
    assert.deepEqual(one('VOLUME ["/data", "/logs"]', 'VOLUME').paths, ['/data', '/logs']);
    assert.deepEqual(one('VOLUME /var/log /var/db', 'VOLUME').paths, ['/var/log', '/var/db']);
    assert.equal(one('STOPSIGNAL SIGKILL', 'STOPSIGNAL').signal, 'SIGKILL');
    assert.deepEqual(one('SHELL ["powershell", "-command"]', 'SHELL').cmd, ['powershell', '-command']);
    assert.equal(one('MAINTAINER Sven <sven@example.com>', 'MAINTAINER').name, 'Sven <sven@example.com>');
  });

  it('COPY and ADD, with their flags and heredoc sources', () => {
    const c = one('COPY --from=build --chown=55:mygroup --chmod=644 --link files* /somedir/', 'COPY');
    assert.deepEqual([c.sources, c.dest, c.from, c.chown, c.chmod, c.link], [['files*'], '/somedir/', 'build', '55:mygroup', '644', true]);
    const a = one('ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d --keep-git-dir=true https://x/y.tar /z', 'ADD');
    assert.deepEqual([a.sources, a.dest, a.checksum, a.keepGitDir, a.link], [['https://x/y.tar'], '/z', 'sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d', true, false]);
    assert.deepEqual(one('COPY ["a b", "c"]', 'COPY').sources, ['a b']);
    const h = all('FROM x\nCOPY <<-"EOT" /app/run.sh\n\t#!/bin/sh\n\techo $X\n\tEOT\n')[1] as InstructionOf<'COPY'>;
    assert.deepEqual([h.sources, h.dest, h.heredocs], [[], '/app/run.sh', [{ name: 'EOT', content: '#!/bin/sh\necho $X\n', expand: false, chomp: true }]]);
  });

  it('HEALTHCHECK: NONE, CMD in both forms, durations in nanoseconds', () => {
    assert.deepEqual(one('HEALTHCHECK NONE', 'HEALTHCHECK').health.test, ['NONE']);
    const h = one('HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1', 'HEALTHCHECK');
    assert.deepEqual(h.health, {
      test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      interval: 300e9,
      timeout: 3e9,
      startPeriod: 90e9,
      startInterval: 500e6,
      retries: 3,
    });
    assert.deepEqual(one('HEALTHCHECK CMD ["foo"]', 'HEALTHCHECK').health.test, ['CMD', 'foo']);
    assert.deepEqual(one('HEALTHCHECK --timeout=0s --retries=0 CMD ["foo"]', 'HEALTHCHECK').health.timeout, 0);
  });

  it('ONBUILD keeps the trigger text, heredocs appended', () => {
    const o = one('ONBUILD ADD . /app/src', 'ONBUILD');
    assert.deepEqual([o.expression, o.trigger], ['ADD . /app/src', 'ADD']);
    const h = all('FROM x\nonbuild RUN <<EOF\necho hi\nEOF\n')[1] as InstructionOf<'ONBUILD'>;
    assert.equal(h.expression, 'RUN <<EOF\necho hi\nEOF');
  });

  it('original is the trimmed logical line, what "Step n/m :" prints', () => {
    const run = all('FROM x\nRUN /bin/bash -c \'source $HOME/.bashrc; \\\necho $HOME\'\n')[1]!;
    assert.equal(run.original, "RUN /bin/bash -c 'source $HOME/.bashrc; echo $HOME'");
    assert.deepEqual([run.span.startLine, run.span.endLine, run.span.file], [2, 3, 'Dockerfile']);
  });
});

describe('instructions: errors, located', () => {
  it('unknown instructions, with Docker’s suggestion in the case written', () => {
    refuses('FORM busybox\n', 'dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)', 1);
    refuses('FROM x\nrunn echo\n', 'dockerfile parse error on line 2: unknown instruction: runn (did you mean run?)', 2);
    refuses('FROM x\nCOPPY a b\n', 'dockerfile parse error on line 2: unknown instruction: COPPY (did you mean COPY?)');
    refuses('FROM x\nFROBNICATE a\n', 'dockerfile parse error on line 2: unknown instruction: FROBNICATE');
  });

  it('carries file, line range and text', () => {
    assert.throws(
      () => toStages(parse('FROM x\nRUN \\\n  --chown=1 \\\n  echo\n', { file: 'ci/Dockerfile' })),
      (e: unknown) => {
        assert.ok(e instanceof DockerfileError);
        assert.equal(e.message, 'dockerfile parse error on line 2: Unknown flag: chown');
        assert.deepEqual([e.file, e.line, e.endLine, e.where], ['ci/Dockerfile', 2, 4, 'ci/Dockerfile:2-4']);
        assert.equal(e.source, 'RUN \\\n  --chown=1 \\\n  echo');
        return true;
      },
    );
  });

  it('flags an instruction does not take, or takes wrongly', () => {
    refusesLine('RUN --chown=1 echo', 'Unknown flag: chown');
    refusesLine('ENV --foo=bar a=b', 'Unknown flag: foo');
    refusesLine('COPY --exclude=*.md . /app', 'Unknown flag: exclude');
    refusesLine('COPY --from=a --from=b x y', 'Duplicate flag specified: from');
    refusesLine('COPY --from x y', 'Missing a value on flag: from');
    refusesLine('COPY --link= x y', 'Missing a value on flag: link');
    refusesLine('COPY --link=yes x y', 'Expecting boolean value for flag link, not: yes');
    refusesLine('RUN --network=bridge echo', 'invalid network mode "bridge"');
    refusesLine('RUN --security=root echo', 'security "root" is not valid');
  });

  it('argument counts', () => {
    refuses('FROM\n', 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    refuses('FROM a b\n', 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    refuses('FROM a AS 1st\n', 'dockerfile parse error on line 1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols');
    refuses('FROM a AS b!\n', 'dockerfile parse error on line 1: invalid name for build stage: "b!", name can\'t start with a number or contain symbols');
    refusesLine('ENV', 'ENV requires at least one argument');
    refusesLine('ENV =x', 'ENV names can not be blank');
    refusesLine('LABEL', 'LABEL requires at least one argument');
    refusesLine('ARG', 'ARG requires at least one argument');
    refusesLine('ARG =x', 'ARG names can not be blank');
    refusesLine('EXPOSE', 'EXPOSE requires at least one argument');
    refusesLine('VOLUME', 'VOLUME requires at least one argument');
    refusesLine('VOLUME ["/data", ""]', 'VOLUME specified can not be an empty string');
    refusesLine('WORKDIR', 'WORKDIR requires exactly one argument');
    refusesLine('USER', 'USER requires exactly one argument');
    refusesLine('STOPSIGNAL', 'STOPSIGNAL requires exactly one argument');
    refusesLine('MAINTAINER', 'MAINTAINER requires exactly one argument');
    refusesLine('COPY onlyone', 'COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    refusesLine('ADD onlyone', 'ADD requires at least two arguments, but only one was provided. Destination could not be determined');
    refusesLine('SHELL', 'SHELL requires at least one argument');
    refusesLine('SHELL []', 'SHELL requires at least one argument');
    refusesLine('SHELL powershell -command', 'SHELL requires the arguments to be in JSON form');
    refuses('FROM x\nCOPY a <<EOF\nhi\nEOF\n', 'dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination', 2);
  });

  it('HEALTHCHECK: types, durations and retries', () => {
    refusesLine('HEALTHCHECK', 'HEALTHCHECK requires at least one argument');
    refusesLine('HEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments');
    refusesLine('HEALTHCHECK CONNECT TCP 7000', 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)');
    refusesLine('HEALTHCHECK CMD', 'Missing command after HEALTHCHECK CMD');
    refusesLine('HEALTHCHECK --interval=5 CMD true', 'time: missing unit in duration "5"');
    refusesLine('HEALTHCHECK --interval=five CMD true', 'time: invalid duration "five"');
    refusesLine('HEALTHCHECK --timeout=3d CMD true', 'time: unknown unit "d" in duration "3d"');
    refusesLine('HEALTHCHECK --start-period=10us CMD true', 'Interval "start-period" cannot be less than 1ms');
    refusesLine('HEALTHCHECK --interval=-1s CMD true', 'Interval "interval" cannot be less than 1ms');
    refusesLine('HEALTHCHECK --retries=-1 CMD true', '--retries cannot be negative (-1)');
    refusesLine('HEALTHCHECK --retries=x CMD true', 'strconv.ParseInt: parsing "x": invalid syntax');
    refusesLine('HEALTHCHECK --grace=4s CMD true', 'Unknown flag: grace');
  });

  it('ONBUILD restrictions', () => {
    refusesLine('ONBUILD ONBUILD RUN x', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    refusesLine('ONBUILD FROM busybox', "FROM isn't allowed as an ONBUILD trigger");
    refusesLine('ONBUILD maintainer me', "MAINTAINER isn't allowed as an ONBUILD trigger");
    refusesLine('ONBUILD', 'ONBUILD requires at least one argument');
  });

  it('an instruction before the first FROM (other than ARG) has no stage', () => {
    refuses('ARG V=1\nRUN echo\nFROM x\n', 'no build stage in current context', 2);
    refuses('RUN echo\n', 'no build stage in current context', 1);
  });
});

describe('stages', () => {
  const text = 'ARG  CODE_VERSION=latest\nFROM base:${CODE_VERSION} AS Base\nCMD  /code/run-app\n\nFROM extras:${CODE_VERSION}\nCMD  /code/run-extras\nFROM base AS test\nCOPY --from=0 /a /b\n';

  it('splits at each FROM; ARGs before the first FROM are global', () => {
    const { metaArgs, stages } = stagesOf(text);
    assert.deepEqual(metaArgs.map((a) => a.args), [[{ name: 'CODE_VERSION', default: 'latest' }]]);
    assert.deepEqual(stages.map((s) => [s.name, s.from.image, s.commands.map((c) => c.kind)]), [
      ['base', 'base:${CODE_VERSION}', ['CMD']],
      ['', 'extras:${CODE_VERSION}', ['CMD']],
      ['test', 'base', ['COPY']],
    ]);
  });

  it('finds --target case-insensitively, or says it cannot', () => {
    const { stages } = stagesOf(text);
    assert.equal(targetStage(stages, 'TEST'), 2);
    assert.equal(targetStage(stages, 'base'), 0);
    invalidError(() => targetStage(stages, 'prod'), 'failed to reach build target prod in Dockerfile');
  });

  it('resolves FROM <stage> and COPY --from=<name|index> among earlier stages', () => {
    const { stages } = stagesOf(text);
    assert.equal(fromStage(stages, 'BASE', 2), 0);
    assert.equal(fromStage(stages, 'base', 0), undefined); // not yet built: an image
    assert.deepEqual(copyFromStage(stages, 'Base', 2), { stage: 0 });
    assert.deepEqual(copyFromStage(stages, '1', 2), { stage: 1 });
    assert.deepEqual(copyFromStage(stages, 'nginx:latest', 2), { image: 'nginx:latest' });
    assert.deepEqual(copyFromStage(stages, 'test', 1), { image: 'test' });
    invalidError(() => copyFromStage(stages, '2', 2), 'invalid from flag value 2: refers to current build stage');
    invalidError(() => copyFromStage(stages, '5', 2), 'invalid from flag value 5: index out of bounds');
    invalidError(() => copyFromStage(stages, '-1', 2), 'invalid from flag value -1: index out of bounds');
  });

  it('refuses a stage name used twice when that stage begins', () => {
    const { stages } = stagesOf('FROM a AS x\nFROM b AS X\n');
    checkStageName(stages, 0);
    invalidError(() => checkStageName(stages, 1), 'x stage name already used');
  });
});

describe('expand: environment replacement', () => {
  const env = (list: string[]) => envFromList(list);

  it('the reference example: WORKDIR ${FOO}, ADD . $FOO, COPY \\$FOO /quux', () => {
    const [, e, w, a, c] = all('FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}   # WORKDIR /bar\nADD . $FOO\nCOPY \\$FOO /quux\n');
    const vars = applyEnv([], expand(e as InstructionOf<'ENV'>, env([])).pairs);
    assert.deepEqual(vars, ['FOO=/bar']);
    // Comments after an instruction are part of it: WORKDIR gets the text, as Docker does.
    assert.equal(expand(w as InstructionOf<'WORKDIR'>, env(vars)).path, '/bar   # WORKDIR /bar');
    assert.equal(expand(a as InstructionOf<'ADD'>, env(vars)).dest, '/bar');
    assert.deepEqual(expand(c as InstructionOf<'COPY'>, env(vars)).sources, ['$FOO']);
  });

  it('the same value for a variable throughout one instruction: ENV abc=hello; ENV abc=bye def=$abc; ENV ghi=$abc', () => {
    const ins = all('FROM x\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n').slice(1) as InstructionOf<'ENV'>[];
    let vars: string[] = [];
    for (const i of ins) vars = applyEnv(vars, expand(i, env(vars)).pairs);
    assert.deepEqual(vars, ['abc=bye', 'def=hello', 'ghi=bye']);
  });

  it('resolves quotes and escapes in ENV values', () => {
    const e = one('ENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog MY_CAT=fluffy', 'ENV');
    assert.deepEqual(expand(e, env([])).pairs, [['MY_NAME', 'John Doe'], ['MY_DOG', 'Rex The Dog'], ['MY_CAT', 'fluffy']]);
  });

  it('substitutes with the escape character of the Dockerfile', () => {
    const w = all('# escape=`\nFROM x\nWORKDIR c:\\app\\$V`$V\n')[1] as InstructionOf<'WORKDIR'>;
    assert.equal(expand(w, env(['V=1'])).path, 'c:\\app\\1$V');
  });

  it('leaves RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD alone', () => {
    for (const line of ['RUN echo $HOME', 'CMD echo $HOME', 'ENTRYPOINT ["$X"]', 'SHELL ["$X"]', 'HEALTHCHECK CMD $X', 'ONBUILD RUN $X', 'MAINTAINER $X']) {
      const ins = all(`FROM x\n${line}\n`)[1]!;
      assert.deepEqual(expand(ins, env(['HOME=/root', 'X=y'])), ins, line);
    }
  });

  it('COPY: sources, dest and --chown; --from is left as written, as the classic builder does', () => {
    const c = one('COPY --from=$STAGE --chown=${U}:${G} $SRC ${DEST}/', 'COPY');
    const x = expand(c, env(['STAGE=build', 'U=1', 'G=2', 'SRC=a', 'DEST=/d']));
    assert.deepEqual([x.from, x.chown, x.sources, x.dest], ['$STAGE', '1:2', ['a'], '/d/']);
  });

  it('FROM: image and platform; an image that substitutes to nothing is refused', () => {
    const f = all('ARG V\nFROM --platform=$P base:${V:-latest}\n')[0] as InstructionOf<'FROM'>;
    const x = expand(f, env(['P=linux/amd64']));
    assert.deepEqual([x.image, x.platform], ['base:latest', 'linux/amd64']);
    const blank = all('FROM $NOTHING\n')[0]!;
    assert.throws(() => expand(blank, env([])), (e: unknown) => e instanceof DockerfileError && e.message === 'base name ($NOTHING) should not be blank' && e.line === 1);
  });

  it('EXPOSE: $FOO with FOO="80 443" exposes both; bad ports are refused', () => {
    const x = expand(one('EXPOSE $FOO 53/UDP 7000-7001', 'EXPOSE'), env(['FOO=80 443']));
    // Docker sorts the words as written ("$FOO" before "53/UDP"), then substitutes.
    assert.deepEqual(x.ports, ['80', '443', '53/UDP', '7000-7001']);
    assert.deepEqual(x.exposed, ['80/tcp', '443/tcp', '53/udp', '7000/tcp', '7001/tcp']);
    for (const [port, message] of [
      ['80x', 'invalid containerPort: 80x'],
      ['65536', 'invalid containerPort: 65536'],
      ['80/foo', 'invalid proto: foo'],
      ['/tcp', 'no port specified: /tcp<empty>'],
    ] as const) {
      assert.throws(() => expand(one(`EXPOSE ${port}`, 'EXPOSE'), env([])), (e: unknown) => e instanceof DockerfileError && e.message === message && e.line === 2, port);
    }
  });

  it('STOPSIGNAL: substituted, then checked', () => {
    assert.equal(expand(one('STOPSIGNAL $S', 'STOPSIGNAL'), env(['S=SIGRTMIN+3'])).signal, 'SIGRTMIN+3');
    assert.equal(expand(one('STOPSIGNAL 9', 'STOPSIGNAL'), env([])).signal, '9');
    for (const bad of ['SIGFOO', '0']) {
      assert.throws(() => expand(one(`STOPSIGNAL ${bad}`, 'STOPSIGNAL'), env([])), (e: unknown) => e instanceof DockerfileError && e.message === `Invalid signal: ${bad}`);
    }
  });

  it('reports a malformed substitution where it is', () => {
    assert.throws(
      () => expand(one('WORKDIR ${x', 'WORKDIR'), env([])),
      (e: unknown) => e instanceof DockerfileError && e.message === 'failed to process "${x": unsupported modifier (\ufffd) in substitution' && e.line === 2,
    );
  });
});

describe('build args: ARG scoping (classic builder)', () => {
  /** Runs a Dockerfile's ARG/ENV steps the way the classic builder does; returns each USER/WORKDIR value and the stage's RUN env. */
  function simulate(text: string, options: Record<string, string | null> = {}) {
    const { metaArgs, stages } = stagesOf(text);
    const args = BuildArgs.fromOptions(options);
    args.processMetaArgs(metaArgs);
    const seen: string[] = [];
    const runEnv: string[][] = [];
    for (const stage of stages) {
      seen.push(expand(stage.from, args.metaEnv()).image);
      const st = args.forStage();
      let config: string[] = [];
      for (const ins of stage.commands) {
        const x = expand(ins, st.stepEnv(config));
        if (x.kind === 'ARG') for (const a of x.args) st.addArg(a.name, a.default);
        if (x.kind === 'ENV') config = applyEnv(config, x.pairs);
        if (x.kind === 'USER') seen.push(x.user);
        if (x.kind === 'WORKDIR') seen.push(x.path);
        if (x.kind === 'RUN') runEnv.push([...config, ...st.filterAllowed(config)].sort());
      }
      args.mergeReferencedArgs(st);
    }
    return { seen, runEnv, unused: args.unusedWarning() };
  }

  it('an ARG is in effect from its line on (the reference: USER ${user:-some_user})', () => {
    const r = simulate('FROM busybox\nUSER ${user:-some_user}\nARG user\nUSER $user\n', { user: 'what_user' });
    assert.deepEqual(r.seen, ['busybox', 'some_user', 'what_user']);
  });

  it('a global ARG is seen by FROM, and inside a stage only once redeclared', () => {
    const r = simulate('ARG VERSION=latest\nFROM busybox:$VERSION\nWORKDIR /a$VERSION\nARG VERSION\nWORKDIR /b$VERSION\n');
    assert.deepEqual(r.seen, ['busybox:latest', '/a', '/blatest']);
    const o = simulate('ARG VERSION=latest\nFROM busybox:$VERSION\nARG VERSION\nWORKDIR /$VERSION\n', { VERSION: '1.36' });
    assert.deepEqual(o.seen, ['busybox:1.36', '/1.36']);
  });

  it('goes out of scope at the end of its stage', () => {
    const r = simulate('FROM busybox\nARG SETTINGS=x\nWORKDIR /$SETTINGS\nFROM busybox\nWORKDIR /$SETTINGS\n');
    assert.deepEqual(r.seen, ['busybox', '/x', 'busybox', '/']);
  });

  it('a global ARG default can use an earlier global ARG', () => {
    const r = simulate('ARG A=1\nARG B=${A}2\nFROM img:$B\n');
    assert.deepEqual(r.seen, ['img:12']);
  });

  it('ENV overrides an ARG of the same name (the reference: CONT_IMG_VER)', () => {
    const r = simulate('FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=v1.0.0\nRUN echo $CONT_IMG_VER\n', { CONT_IMG_VER: 'v2.0.1' });
    assert.deepEqual(r.runEnv, [['CONT_IMG_VER=v1.0.0']]);
    const d = simulate('FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\nRUN echo\n');
    assert.deepEqual(d.runEnv, [['CONT_IMG_VER=v1.0.0']]);
  });

  it('predefined proxy args need no ARG, and are only set when given', () => {
    assert.equal(PREDEFINED_ARGS.length, 10);
    const r = simulate('FROM ubuntu\nWORKDIR /$HTTP_PROXY$no_proxy\nRUN x\n', { HTTP_PROXY: 'p' });
    assert.deepEqual(r.seen, ['ubuntu', '/p']);
    assert.deepEqual(r.runEnv, [['HTTP_PROXY=p']]);
    const args = BuildArgs.fromOptions({ HTTP_PROXY: 'p' }).forStage();
    assert.equal(args.isReferencedOrNotBuiltin('HTTP_PROXY'), false);
    args.addArg('HTTP_PROXY', undefined);
    assert.equal(args.isReferencedOrNotBuiltin('HTTP_PROXY'), true);
  });

  it('the classic builder has no automatic platform args', () => {
    const r = simulate('FROM alpine\nARG TARGETPLATFORM\nWORKDIR /x$TARGETPLATFORM$BUILDPLATFORM\n');
    assert.deepEqual(r.seen, ['alpine', '/x']);
  });

  it('warns about --build-arg values nothing declared', () => {
    const r = simulate('FROM busybox\nARG used\n', { used: '1', foo: 'x', bar: 'y', HTTPS_PROXY: 'z' });
    assert.equal(r.unused, '[Warning] One or more build-args [bar foo] were not consumed\n');
  });
});

describe('parseTrigger: ONBUILD triggers in the child build', () => {
  it('parses one instruction, with errors as Docker gives them for triggers', () => {
    const t = parseTrigger('RUN /usr/local/bin/python-build --dir /app/src');
    assert.equal(t.kind, 'RUN');
    invalidError(() => parseTrigger('RUN a\nRUN b'), 'onbuild trigger should be a single expression');
    invalidError(() => parseTrigger('FORM x'), 'unknown instruction: FORM (did you mean FROM?)');
    invalidError(() => parseTrigger('FROM x'), '*instructions.Stage is not a command type');
  });

  it('round-trips a heredoc trigger', () => {
    const o = all('FROM x\nONBUILD COPY <<EOF /greeting\nhello\nEOF\n')[1] as InstructionOf<'ONBUILD'>;
    const t = parseTrigger(o.expression) as InstructionOf<'COPY'>;
    assert.deepEqual([t.dest, t.heredocs.map((h) => h.content)], ['/greeting', ['hello\n']]);
  });
});
