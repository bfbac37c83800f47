import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DockerfileError } from './error.js';
import { dump, parse, warningText, type Node } from './parser.js';

const nodes = (text: string) => parse(text).nodes;
const dumped = (text: string) => parse(text).nodes.map((n) => `(${dump(n)})`).join('\n') + '\n';
const only = (text: string): Node => {
  const n = nodes(text);
  assert.equal(n.length, 1, `expected one instruction, got ${n.map((x) => x.original).join(' | ')}`);
  return n[0]!;
};

const refuses = (text: string, message: string, line?: number, endLine?: number) =>
  assert.throws(
    () => parse(text),
    (e: unknown) => {
      assert.ok(e instanceof DockerfileError, `not a DockerfileError: ${String(e)}`);
      assert.equal(e.kind, 'invalid');
      assert.equal(e.message, message);
      if (line !== undefined) assert.equal(e.line, line);
      if (endLine !== undefined) assert.equal(e.endLine, endLine);
      return true;
    },
  );

describe('parse: parser directives', () => {
  it('reads escape and syntax at the top', () => {
    const r = parse('# syntax=docker/dockerfile:1\n# escape=`\n\nFROM x\n');
    assert.deepEqual(r.directives, { syntax: 'docker/dockerfile:1', escape: '`' });
  });

  it('allows non line-breaking white space and any case (the reference examples)', () => {
    for (const line of ['#escape=`', '# escape =`', '#\tescape= `', '# escape = `', '#\t  eScApE=`']) {
      assert.equal(parse(`${line}\nFROM x\n`).directives.escape, '`', line);
    }
  });

  it('defaults to the backslash', () => {
    assert.equal(parse('FROM x\n').directives.escape, '\\');
  });

  it('are comments after an instruction, a comment, an empty line or an unknown directive', () => {
    assert.equal(parse('FROM x\n# escape=`\nRUN a\n').directives.escape, '\\');
    assert.equal(parse('# About my dockerfile\n# escape=`\nFROM x\n').directives.escape, '\\');
    assert.equal(parse('\n# escape=`\nFROM x\n').directives.escape, '\\');
    assert.equal(parse('# unknowndirective=value\n# escape=`\nFROM x\n').directives.escape, '\\');
  });

  it('a directive given twice is an error', () => {
    refuses('# escape=\\\n# escape=`\n\nFROM x\n', 'failed to parse Dockerfile: only one escape parser directive can be used', 2);
    refuses('# syntax=a\n# SYNTAX=b\nFROM x\n', 'failed to parse Dockerfile: only one syntax parser directive can be used', 2);
  });

  it('an escape other than \\ or ` is an error', () => {
    refuses('# escape=x\nFROM y\n', "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\", 1);
  });

  it('a directive line is not a comment of the first instruction', () => {
    const n = nodes('# escape=`\n# the base\nFROM x\n');
    assert.deepEqual(n[0]!.comments, ['the base']);
  });

  it('tolerates a byte-order mark', () => {
    assert.equal(parse('\ufeff# escape=`\nFROM x\n').directives.escape, '`');
  });
});

describe('parse: escape=` and Windows paths (the reference example)', () => {
  it('with ` as escape, c:\\ ends a line and ` continues it', () => {
    const n = nodes('# escape=`\n\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n');
    assert.deepEqual(n.map((x) => x.original), ['FROM microsoft/nanoserver', 'COPY testfile.txt c:\\', 'RUN dir c:\\']);
    assert.deepEqual(n[1]!.args, ['testfile.txt', 'c:\\']);
  });

  it('with \\ as escape, c:\\ continues into the next line', () => {
    const n = nodes('FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n');
    assert.equal(n.length, 2);
    assert.equal(n[1]!.original, 'COPY testfile.txt c:RUN dir c:');
  });

  it('an escaped escape ends the line: c:\\\\ is not a continuation (BuildKit ≥ 0.12; the reference still shows the old join)', () => {
    const n = nodes('FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\\\nRUN dir c:\\\n');
    assert.deepEqual(n.map((x) => x.original), ['FROM microsoft/nanoserver', 'COPY testfile.txt c:\\\\', 'RUN dir c:']);
  });

  it('` continues lines under escape=`', () => {
    const n = only('# escape=`\nRUN echo `\n  hello `\n  world\n');
    assert.equal(n.original, 'RUN echo   hello   world');
  });
});

describe('parse: continuations and comments', () => {
  it('joins lines keeping the continuation lines as written (BuildKit continueIndent)', () => {
    const text =
      'FROM ubuntu:14.04\n\nRUN echo hello\\\n  world\\\n  goodnight  \\\n  moon\\\n  light\\\nning\nRUN echo hello  \\\n  world\n' +
      'RUN echo hello  \\\nworld\nRUN echo hello \\\ngoodbye\\\nfrog\nRUN echo hi \\\n \\\n world \\\n\\\n good\\\n\\\nnight\n' +
      'RUN echo goodbye\\\nfrog\nRUN echo good\\\nbye\\\nfrog\n';
    assert.equal(
      dumped(text),
      '(from "ubuntu:14.04")\n(run "echo hello  world  goodnight    moon  lightning")\n(run "echo hello    world")\n' +
        '(run "echo hello  world")\n(run "echo hello goodbyefrog")\n(run "echo hi   world  goodnight")\n(run "echo goodbyefrog")\n(run "echo goodbyefrog")\n',
    );
  });

  it('drops comment lines inside a continuation, which goes on', () => {
    assert.equal(only('RUN echo hello \\\n# comment\nworld\n').original, only('RUN echo hello \\\nworld\n').original);
    assert.equal(only('RUN indented \\\n    # this is an indented comment\n    comment\n').original, 'RUN indented     comment');
  });

  it('# is a comment only at the start of a line', () => {
    assert.deepEqual(only("RUN echo 'we are running some # of cool things'\n").args, ["echo 'we are running some # of cool things'"]);
  });

  it('leading white space before instructions and comments is ignored, inside arguments kept', () => {
    const n = nodes('        # this is a comment-line\n    RUN echo hello\nRUN echo world\n');
    assert.deepEqual(n.map((x) => x.original), ['RUN echo hello', 'RUN echo world']);
    assert.equal(only('RUN echo "\\\n     hello\\\n     world"\n').args[0], 'echo "     hello     world"');
  });

  it('skips empty lines inside a continuation with a warning, so a blank line does not end an instruction', () => {
    const r = parse('\nFROM alpine:3.6\n\nRUN something \\\n\n    following \\\n\n    more\n\nRUN another \\\n\n    thing\nRUN non-indented \\\n# this is a comment\n   after-comment\n');
    assert.deepEqual(r.nodes.slice(1).map((n) => n.original), ['RUN something     following     more', 'RUN another     thing', 'RUN non-indented    after-comment']);
    assert.deepEqual(r.warnings.map((w) => w.message), ['Empty continuation line found in: RUN something     following     more', 'Empty continuation line found in: RUN another     thing']);
    assert.equal(
      warningText(r.warnings),
      '[WARNING]: Empty continuation line found in: RUN something     following     more\n' +
        '[WARNING]: Empty continuation line found in: RUN another     thing\n' +
        '[WARNING]: Empty continuation lines will become errors in a future release.\n',
    );
    assert.equal(only('FROM x \\\n\nAS y\n').original, 'FROM x AS y');
  });

  it('a continuation open at the end of the file just ends the instruction', () => {
    const n = nodes('FROM x\nRUN echo hi \\\n');
    assert.equal(n[1]!.original, 'RUN echo hi ');
    assert.deepEqual(n[1]!.args, ['echo hi']);
    assert.deepEqual(nodes('FROM x\nRUN \\\n')[1]!.args, []);
  });

  it('allows white space after the continuation character', () => {
    assert.equal(only('RUN a \\  \t\n  b\n').original, 'RUN a   b');
  });

  it('keeps CRLF files working', () => {
    const n = nodes('FROM x\r\nRUN a \\\r\n  b\r\n');
    assert.deepEqual(n.map((x) => x.original), ['FROM x', 'RUN a   b']);
  });

  it('numbers lines from 1, counting continuations, blanks and comments (BuildKit testfile-line)', () => {
    const text =
      '\n\n\nFROM brimstone/ubuntu:14.04\n\n\n# TORUN -v /var/run/docker.sock:/var/run/docker.sock\n\n\nENV GOPATH \\\n/go\n\n\n\n' +
      '# Install the packages we need, clean up after them and us\nRUN apt-get update \\\n\t&& dpkg -l | awk \'/^ii/ {print $2}\' > /tmp/dpkg.clean \\\n\n\n' +
      '    && apt-get install -y --no-install-recommends git golang ca-certificates \\\n    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists \\\n\n' +
      '\t&& go get -v github.com/brimstone/consuldock \\\n    && mv $GOPATH/bin/consuldock /usr/local/bin/consuldock \\\n\n' +
      "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print $2}') \\\n" +
      '\t&& rm /tmp/dpkg.* \\\n\t&& rm -rf $GOPATH\n';
    assert.deepEqual(nodes(text).map((n) => [n.startLine, n.endLine]), [[4, 4], [10, 11], [16, 30]]);
  });

  it('an empty file, and one with only comments, are refused', () => {
    refuses('', 'the Dockerfile (Dockerfile) cannot be empty');
    refuses('# just a comment\n\n', 'failed to parse Dockerfile: file with no instructions');
  });

  it('refuses lines longer than Go allows', () => {
    refuses(`FROM x\nLABEL test=${'a'.repeat(65536)}\n`, 'failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535');
  });

  it('uses the file name it is given', () => {
    assert.throws(() => parse('# x\n', { file: 'build/Dockerfile.dev' }), (e: unknown) => {
      assert.ok(e instanceof DockerfileError);
      assert.equal(e.message, 'failed to parse build/Dockerfile.dev: file with no instructions');
      assert.equal(e.where, 'build/Dockerfile.dev:1');
      return true;
    });
  });
});

describe('parse: instructions, flags and arguments', () => {
  it('takes instruction names in any case', () => {
    const n = nodes('from x\nRun echo\ncOpY a b\n');
    assert.deepEqual(n.map((x) => [x.instruction, x.keyword]), [['FROM', 'from'], ['RUN', 'Run'], ['COPY', 'cOpY']]);
  });

  it('extracts leading --flags, resolving quotes and escapes, and stops at --', () => {
    const n = only('COPY --from=build --chown="a b" --link src dst\n');
    assert.deepEqual(n.flags, ['--from=build', '--chown=a b', '--link']);
    assert.deepEqual(n.args, ['src', 'dst']);
    assert.deepEqual(only('RUN -- --not-a-flag\n').flags, []);
    assert.deepEqual(only('RUN -- --not-a-flag\n').args, ['--not-a-flag']);
    assert.deepEqual(only('RUN --mount=type=cache,target=/x echo -- hi\n').flags, ['--mount=type=cache,target=/x']);
  });

  it('parses the Docker project Dockerfile as BuildKit does (testfiles/docker)', () => {
    const text =
      '# This file describes the standard way to build Docker, using docker\n#\n\nFROM\tubuntu:14.04\nLABEL\tmaintainer\tTianon Gravi <admwiggin@gmail.com> (@tianon)\n\n' +
      '# Packaged dependencies\nRUN\tapt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -yq \\\n\tapt-utils \\\n\taufs-tools \\\n\t--no-install-recommends\n\n' +
      'ENV\tPATH\t/usr/local/go/bin:$PATH\nENV\tDOCKER_CROSSPLATFORMS\t\\\n\tlinux/386 linux/arm \\\n\tdarwin/amd64 darwin/386 \\\n\tfreebsd/amd64 freebsd/386 freebsd/arm\n' +
      "RUN\t/bin/echo -e '[default]\\naccess_key=$AWS_ACCESS_KEY\\nsecret_key=$AWS_SECRET_KEY' > /.s3cfg\n" +
      'VOLUME\t/var/lib/docker\nWORKDIR\t/go/src/github.com/docker/docker\nENV\tDOCKER_BUILDTAGS\tapparmor selinux\nENTRYPOINT\t["hack/dind"]\nCOPY\t.\t/go/src/github.com/docker/docker\n';
    assert.equal(
      dumped(text),
      '(from "ubuntu:14.04")\n(label "maintainer" "Tianon Gravi <admwiggin@gmail.com> (@tianon)")\n' +
        '(run "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -yq \\tapt-utils \\taufs-tools \\t--no-install-recommends")\n' +
        '(env "PATH" "/usr/local/go/bin:$PATH")\n' +
        '(env "DOCKER_CROSSPLATFORMS" "linux/386 linux/arm \\tdarwin/amd64 darwin/386 \\tfreebsd/amd64 freebsd/386 freebsd/arm")\n' +
        '(run "/bin/echo -e \'[default]\\\\naccess_key=$AWS_ACCESS_KEY\\\\nsecret_key=$AWS_SECRET_KEY\' > /.s3cfg")\n' +
        '(volume "/var/lib/docker")\n(workdir "/go/src/github.com/docker/docker")\n(env "DOCKER_BUILDTAGS" "apparmor selinux")\n' +
        '(entrypoint "hack/dind")\n(copy "." "/go/src/github.com/docker/docker")\n',
    );
  });

  it('parses HEALTHCHECK as BuildKit does (testfiles/health)', () => {
    const text =
      'FROM debian\nADD check.sh main.sh /app/\nCMD /app/main.sh\nHEALTHCHECK\nHEALTHCHECK --interval=5s --timeout=3s --retries=3 \\\n  CMD /app/check.sh --quiet\n' +
      'HEALTHCHECK CMD\nHEALTHCHECK   CMD   a b\nHEALTHCHECK --timeout=3s CMD ["foo"]\nHEALTHCHECK CONNECT TCP 7000\n' +
      'HEALTHCHECK --start-period=0s --interval=5s --timeout=0s --retries=0 CMD ["foo"]\n';
    assert.equal(
      dumped(text),
      '(from "debian")\n(add "check.sh" "main.sh" "/app/")\n(cmd "/app/main.sh")\n(healthcheck)\n' +
        '(healthcheck ["--interval=5s" "--timeout=3s" "--retries=3"] "CMD" "/app/check.sh --quiet")\n(healthcheck "CMD")\n(healthcheck "CMD" "a b")\n' +
        '(healthcheck ["--timeout=3s"] "CMD" "foo")\n(healthcheck "CONNECT" "TCP 7000")\n' +
        '(healthcheck ["--start-period=0s" "--interval=5s" "--timeout=0s" "--retries=0"] "CMD" "foo")\n',
    );
  });

  it('keeps the legacy ENV form whole: ENV ONE TWO= THREE=world sets ONE', () => {
    assert.deepEqual(only('ENV ONE TWO= THREE=world\n').args, ['ONE', 'TWO= THREE=world']);
    assert.deepEqual(only('ENV MY_VAR my-value\n').args, ['MY_VAR', 'my-value']);
  });

  it('splits ENV/LABEL k=v pairs keeping quotes and escapes for the expander', () => {
    assert.deepEqual(only('ENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog \\\n    MY_CAT=fluffy\n').args, ['MY_NAME', '"John Doe"', 'MY_DOG', 'Rex\\ The\\ Dog', 'MY_CAT', 'fluffy']);
    assert.deepEqual(only('LABEL "com.example.vendor"="ACME Incorporated"\n').args, ['"com.example.vendor"', '"ACME Incorporated"']);
    assert.deepEqual(only('LABEL multi.label1="value1" \\\n      multi.label2="value2" \\\n      other="value3"\n').args, ['multi.label1', '"value1"', 'multi.label2', '"value2"', 'other', '"value3"']);
  });

  it('refuses ENV/LABEL without a value and k=v lists with a bare word', () => {
    refuses('FROM x\nENV FOO\n', 'failed to parse Dockerfile: ENV must have two arguments', 2);
    refuses('FROM x\nLABEL foo\n', 'failed to parse Dockerfile: LABEL must have two arguments', 2);
    refuses('FROM x\nENV a=b c\n', 'failed to parse Dockerfile: Syntax error - can\'t find = in "c". Must be of the form: name=value', 2);
  });

  it('reads ARG words and ONBUILD triggers', () => {
    assert.deepEqual(only('ARG a b=1 c="x y"\n').args, ['a', 'b=1', 'c="x y"']);
    const n = only('ONBUILD RUN --mount=type=cache,target=/c make\n');
    assert.equal(n.child?.instruction, 'RUN');
    assert.deepEqual(n.child?.flags, ['--mount=type=cache,target=/c']);
    assert.equal(dump(n), 'onbuild (run ["--mount=type=cache,target=/c"] "make")');
  });
});

describe('parse: exec (JSON) form or shell form', () => {
  it('a JSON array of strings is exec form', () => {
    const n = only('RUN ["/bin/bash", "-c", "echo hello"]\n');
    assert.equal(n.json, true);
    assert.deepEqual(n.args, ['/bin/bash', '-c', 'echo hello']);
    assert.deepEqual(only('CMD []\n').args, []);
    assert.equal(only('CMD []\n').json, true);
  });

  it('anything that is not valid JSON is shell form: single quotes, unescaped backslashes', () => {
    const n = only(`RUN ["a", 'b']\n`);
    assert.equal(n.json, false);
    assert.deepEqual(n.args, [`["a", 'b']`]);
    assert.equal(only('RUN ["c:\\windows\\system32\\tasklist.exe"]\n').json, false);
    assert.deepEqual(only('RUN ["c:\\\\windows\\\\system32\\\\tasklist.exe"]\n').args, ['c:\\windows\\system32\\tasklist.exe']);
    assert.equal(only('CMD [ "echo", "unterminated"\n').json, false);
  });

  it('a JSON array of anything but strings is an error', () => {
    refuses('FROM x\nCMD ["echo", 1]\n', 'failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only', 2);
    refuses('FROM x\nCOPY [["a"], "b"]\n', 'failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only', 2);
  });

  it('like Go’s decoder, ignores what follows the array', () => {
    const n = only('CMD ["a"] trailing\n');
    assert.equal(n.json, true);
    assert.deepEqual(n.args, ['a']);
  });

  it('COPY/ADD/VOLUME take JSON or words; HEALTHCHECK CMD takes JSON or text', () => {
    assert.deepEqual(only('COPY ["a b", "/c"]\n').args, ['a b', '/c']);
    assert.deepEqual(only('VOLUME /a  /b\n').args, ['/a', '/b']);
    const h = only('HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]\n');
    assert.equal(h.json, true);
    assert.deepEqual(h.args, ['CMD', 'curl', '-f', 'http://localhost/']);
  });
});

describe('parse: heredocs', () => {
  it('reads the body after the instruction; an unquoted delimiter expands', () => {
    const n = only('RUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n');
    assert.deepEqual(n.heredocs, [{ name: 'EOF', content: 'apt-get update\napt-get install -y curl\n', expand: true, chomp: false, fd: 0 }]);
    assert.deepEqual(n.args, ['<<EOF']);
    assert.deepEqual([n.startLine, n.endLine], [1, 4]);
  });

  it('a quoted delimiter (either quote, or part of it) does not expand', () => {
    assert.equal(only('RUN <<"EOF"\necho $HOME\nEOF\n').heredocs[0]!.expand, false);
    assert.equal(only("RUN <<'EOF'\necho $HOME\nEOF\n").heredocs[0]!.expand, false);
    assert.equal(only('RUN <<E"O"F\nx\nEOF\n').heredocs[0]!.name, 'EOF');
    assert.equal(only('RUN <<E"O"F\nx\nEOF\n').heredocs[0]!.expand, false);
  });

  it('<<- strips leading tabs from the delimiter line (the body keeps them until instructions.ts)', () => {
    const n = only('RUN <<-EOT\n\techo hi\n\tEOT\n');
    assert.deepEqual(n.heredocs, [{ name: 'EOT', content: '\techo hi\n', expand: true, chomp: true, fd: 0 }]);
  });

  it('takes several heredocs in one line, in order, and file descriptors', () => {
    const n = only('COPY <<robots.txt <<humans.txt /usr/share/nginx/html/\nUser-agent: *\nrobots.txt\nHi\nhumans.txt\n');
    assert.deepEqual(n.heredocs.map((h) => [h.name, h.content]), [['robots.txt', 'User-agent: *\n'], ['humans.txt', 'Hi\n']]);
    const m = only('RUN python3 3<<EOF\nprint(1)\nEOF\n');
    assert.equal(m.heredocs[0]!.fd, 3);
  });

  it('follows the heredoc with the next instruction', () => {
    const n = nodes('FROM x\nRUN cat <<EOF > /f\nFROM y\nEOF\nRUN done\n');
    assert.deepEqual(n.map((x) => x.instruction), ['FROM', 'RUN', 'RUN']);
    assert.equal(n[1]!.heredocs[0]!.content, 'FROM y\n');
    assert.deepEqual([n[2]!.startLine, n[2]!.endLine], [5, 5]);
  });

  it('only for shell-form RUN, COPY, ADD (also behind ONBUILD)', () => {
    assert.deepEqual(nodes('FROM x\nCMD cat <<EOF\nEOF\n').map((n) => n.instruction), ['FROM', 'CMD', 'EOF']);
    assert.deepEqual(nodes('FROM x\nRUN ["cat", "<<EOF"]\nEOF\n').map((n) => n.instruction), ['FROM', 'RUN', 'EOF']);
    const ob = nodes('FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n')[1]!;
    assert.equal(ob.heredocs[0]!.content, 'echo hi\n');
  });

  it('an unterminated heredoc is an error', () => {
    refuses('FROM x\nRUN <<EOF\necho\n', 'failed to parse Dockerfile: unterminated heredoc', 2, 3);
  });

  it('a word that merely contains << is no heredoc', () => {
    assert.deepEqual(only('RUN echo a<<b\n').heredocs, []);
  });
});
