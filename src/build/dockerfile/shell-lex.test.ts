import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../base/errdefs.js';
import { envFromList, envFromMap, ShellLex } from './shell-lex.js';

const lex = new ShellLex('\\');
const word = (w: string, env: string[] | Record<string, string> = []) =>
  lex.processWord(w, Array.isArray(env) ? envFromList(env) : envFromMap(env));

const refuses = (fn: () => unknown, message?: string | RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EngineError, `not an EngineError: ${String(e)}`);
    assert.equal(e.kind, 'invalid');
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });

// BuildKit's frontend/dockerfile/shell/envVarTest, the "A" (all platforms) and
// "U" (Unix) rows, with its environment.
const ENV = ['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL='];
const TABLE: [string, string | null][] = [
  ['hello', 'hello'],
  ["he'll'o", 'hello'],
  ["he'llo", null],
  ["he\\'llo", "he'llo"],
  ["he\\\\'llo", null],
  ['abc\\tdef', 'abctdef'],
  ['"abc\\tdef"', 'abc\\tdef'],
  ['"abc\\\\tdef"', 'abc\\tdef'],
  ["'abc\\tdef'", 'abc\\tdef'],
  ['hello\\', 'hello'],
  ['hello\\\\', 'hello\\'],
  ['"hello', null],
  ['"hello\\"', null],
  ['"hel\'lo"', "hel'lo"],
  ["'hello", null],
  ["'hello\\'", 'hello\\'],
  ["'hello\\there'", 'hello\\there'],
  ["'hello\\\\there'", 'hello\\\\there'],
  ['"\'\'"', "''"],
  ['$.', '$.'],
  ['he$1x', 'hex'],
  ['he$.x', 'he$.x'],
  ['he$pwd.', 'he.'],
  ['he$PWD', 'he/home'],
  ['he\\$PWD', 'he$PWD'],
  ['he\\\\$PWD', 'he\\/home'],
  ['"he\\$PWD"', 'he$PWD'],
  ['"he\\\\$PWD"', 'he\\/home'],
  ['\\${}', '${}'],
  ['\\${}aaa', '${}aaa'],
  ['he\\${}', 'he${}'],
  ['he\\${}xx', 'he${}xx'],
  ['${}', null],
  ['${}aaa', null],
  ['he${}', null],
  ['he${}xx', null],
  ['he${hi}', 'he'],
  ['he${hi}xx', 'hexx'],
  ['he${PWD}', 'he/home'],
  ['he${.}', null],
  ['he${XXX:-000}xx', 'he000xx'],
  ['he${PWD:-000}xx', 'he/homexx'],
  ['he${XXX:-$PWD}xx', 'he/homexx'],
  ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
  ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
  ['he${XXX:YYY}', null],
  ['he${XXX?}', null],
  ['he${XXX:?}', null],
  ['he${PWD?}', 'he/home'],
  ['he${PWD:?}', 'he/home'],
  ['he${NULL?}', 'he'],
  ['he${NULL:?}', null],
  ['he${XXX:+${PWD}}xx', 'hexx'],
  ['he${PWD:+${XXX}}xx', 'hexx'],
  ['he${PWD:+${SHELL}}xx', 'hebashxx'],
  ['he${XXX:+000}xx', 'hexx'],
  ['he${PWD:+000}xx', 'he000xx'],
  ["'he${XX}'", 'he${XX}'],
  ['"he${PWD}"', 'he/home'],
  ['"he\'$PWD\'"', "he'/home'"],
  ['"$PWD"', '/home'],
  ["'$PWD'", '$PWD'],
  ["'\\$PWD'", '\\$PWD'],
  ['\'"hello"\'', '"hello"'],
  ["'he\\$PWD'", 'he\\$PWD'],
  ['he${PWD', null],
  ['he${PWD:=000}xx', null],
  ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
  ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
  ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
  ['안녕하세요', '안녕하세요'],
  ["안'녕'하세요", '안녕하세요'],
  ["안'녕하세요", null],
  ['안녕$PWD', '안녕/home'],
  ['$KOREAN', '한국어'],
  ['안녕$KOREAN', '안녕한국어'],
  ['${{aaa}', null],
  ['${aaa}}', '}'],
  ['${aaa', null],
  ['${{aaa:-bbb}', null],
  ['${aaa:-bbb}}', 'bbb}'],
  ['${aaa:-bbb', null],
  ['${aaa:-bbb}', 'bbb'],
  ['${aaa:-${bbb:-ccc}}', 'ccc'],
  ['${aaa:-bbb ${foo}', null],
  ['${aaa:-bbb {foo}', 'bbb {foo'],
  ['${:}', null],
  ['${:-bbb}', null],
  ['${:+bbb}', null],
  // Positional and special parameters are never set.
  ['$1', ''],
  ['${1:-bbb}', 'bbb'],
  ['$999aaa', 'aaa'],
  ['${001:-bbb}aaa', 'bbbaaa'],
  ['$@@@', '@@'],
  ['${@:+bbb}aaa', 'aaa'],
  ['${#:-bbb}', 'bbb'],
  ['$$', ''],
  ['${0}', ''],
];

describe('ShellLex.processWord: BuildKit envVarTest table', () => {
  for (const [source, expected] of TABLE) {
    it(`${source} → ${expected === null ? 'error' : JSON.stringify(expected)}`, () => {
      if (expected === null) refuses(() => word(source, ENV), /^failed to process /);
      else assert.equal(word(source, ENV), expected);
    });
  }
});

describe('ShellLex: the Dockerfile reference', () => {
  it('$variable and ${variable} are equivalent; braces delimit names', () => {
    assert.equal(word('$foo', ['foo=/bar']), '/bar');
    assert.equal(word('${foo}_bar', ['foo=x']), 'x_bar');
    assert.equal(word('$foo_bar', ['foo=x']), '');
  });

  it('${variable:-word}: the value when set, else word', () => {
    assert.equal(word('${variable:-word}', ['variable=value']), 'value');
    assert.equal(word('${variable:-word}', []), 'word');
    assert.equal(word('${variable:-word}', ['variable=']), 'word');
    assert.equal(word('${variable-word}', ['variable=']), '');
  });

  it('${variable:+word}: word when set, else the empty string', () => {
    assert.equal(word('${variable:+word}', ['variable=value']), 'word');
    assert.equal(word('${variable:+word}', []), '');
    assert.equal(word('${variable:+word}', ['variable=']), '');
    assert.equal(word('${variable+word}', ['variable=']), 'word');
  });

  it('word can hold other variables', () => {
    assert.equal(word('${a:-$b/x}', ['b=/y']), '/y/x');
  });

  it('escapes: \\$foo and \\${foo} are literal', () => {
    assert.equal(word('\\$foo', ['foo=/bar']), '$foo');
    assert.equal(word('\\${foo}', ['foo=/bar']), '${foo}');
    // COPY \$FOO /quux  →  COPY $FOO /quux
    assert.equal(word('\\$FOO', ['FOO=/bar']), '$FOO');
  });

  it('single quotes are literal, double quotes substitute', () => {
    assert.equal(word(`'$foo'`, ['foo=x']), '$foo');
    assert.equal(word(`"$foo"`, ['foo=x']), 'x');
    assert.equal(word(`"John Doe"`), 'John Doe');
    assert.equal(word('Rex\\ The\\ Dog'), 'Rex The Dog');
  });

  it('the escape character is ` under # escape=`', () => {
    const bt = new ShellLex('`');
    assert.equal(bt.processWord('c:\\windows', envFromList([])), 'c:\\windows');
    assert.equal(bt.processWord('`$foo', envFromList(['foo=x'])), '$foo');
    assert.equal(bt.processWord('"a`"b"', envFromList([])), 'a"b');
  });
});

describe('ShellLex: ${var?msg}, ${var:?msg}', () => {
  // BuildKit's TestShellParserMandatoryEnvVars.
  it('refuses unset (and with :? empty) variables with the message given', () => {
    assert.equal(word('${VAR:?message here$ARG}', ['VAR=plain', 'ARG=x']), 'plain');
    refuses(() => word('${VAR:?message here$ARG}', ['VAR=', 'ARG=x']), 'failed to process "${VAR:?message here$ARG}": VAR: message herex');
    refuses(() => word('${VAR:?message here$ARG}', ['ARG=x']), /VAR: message herex$/);
    assert.equal(word('${VAR?message here$ARG}', ['VAR=', 'ARG=x']), '');
    refuses(() => word('${VAR?}', []), 'failed to process "${VAR?}": VAR: is not allowed to be unset');
    refuses(() => word('${VAR:?}', ['VAR=']), 'failed to process "${VAR:?}": VAR: is not allowed to be empty');
  });
});

describe('ShellLex: pattern removal and replacement', () => {
  // BuildKit's TestProcessWithMatches.
  const cases: [string, Record<string, string>, string | null][] = [
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
    ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
    ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO#}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
    ['${FOO##}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
    ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.'],
    ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
    ['${FOO%}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO%%$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO:#}', {}, null],
    ['${FOO:##}', {}, null],
    ['${FOO:%}', {}, null],
    ['${FOO:%%}', {}, null],
    ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
    ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
    ['${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}', { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', REPLACEMENT: '/' }, '/foo/b/c.txt - /foo/c.txt'],
    ['${FOO/$NEEDLE/$REPLACEMENT}', { FOO: 'http://google.de', NEEDLE: 'http://', REPLACEMENT: 'https://' }, 'https://google.de'],
    ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
    ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
    ['${FOO//ww}', { FOO: 'xxyy' }, null],
    ['${FOO//}', { FOO: 'xxyy' }, null],
    ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO///}', {}, ''],
    ['${FOO=aaa}', { FOO: 'xxx' }, null],
  ];
  for (const [source, env, expected] of cases) {
    it(`${source} with ${JSON.stringify(env)}`, () => {
      if (expected === null) refuses(() => word(source, env));
      else assert.equal(word(source, env), expected);
    });
  }

  it('the shell idioms: basename, extension, directory', () => {
    const env = { file: '/home/tux/book/book.tar.bz2' };
    assert.equal(word('${file#*/}', env), 'home/tux/book/book.tar.bz2');
    assert.equal(word('${file##*/}', env), 'book.tar.bz2');
    assert.equal(word('${file%.*}', env), '/home/tux/book/book.tar');
    assert.equal(word('${file%%.*}', env), '/home/tux/book/book');
    assert.equal(word('${file/tux/wilber}', env), '/home/wilber/book/book.tar.bz2');
  });

  it('names the modifier it does not know, and a pattern it cannot read', () => {
    refuses(() => word('${a:=x}'), 'failed to process "${a:=x}": unsupported modifier (:=) in substitution');
    refuses(() => word('${a=x}'), 'failed to process "${a=x}": unsupported modifier (=) in substitution');
    refuses(() => word('${}'), 'failed to process "${}": syntax error: bad substitution');
    refuses(() => word('${a:-b'), `failed to process "\${a:-b": syntax error: missing '}'`);
    refuses(() => word('${a/b'), `failed to process "\${a/b": syntax error: missing '/' in \${}`);
    refuses(() => word('${a/b/c'), `failed to process "\${a/b/c": syntax error: missing '}'`);
    refuses(() => word('${a#\\x}', { a: 'v' }), 'failed to process "${a#\\\\x}": invalid pattern (\\x) in substitution: invalid escape \'\\x\'');
  });
});

describe('ShellLex.processWords', () => {
  const words = (w: string, env: string[] = []) => lex.processWords(w, envFromList(env));

  it('splits after substitution: a value with spaces gives several words', () => {
    // EXPOSE $FOO with FOO="80 443" exposes both.
    assert.deepEqual(words('$FOO', ['FOO=80 443']), ['80', '443']);
    assert.deepEqual(words('$PORTS 9000', ['PORTS=80 443']), ['80', '443', '9000']);
  });

  it('quoted and escaped spaces stay in their word; empty quotes make no word', () => {
    assert.deepEqual(words('"a b" c\\ d e'), ['a b', 'c d', 'e']);
    assert.deepEqual(words(`"$FOO"`, ['FOO=80 443']), ['80 443']);
    assert.deepEqual(words(`'' x`), ['x']);
  });
});

describe('ShellLex options (heredoc detection)', () => {
  it('skipUnsetEnv leaves unknown references as written; rawQuotes keeps quotes', () => {
    const l = new ShellLex('\\', { skipUnsetEnv: true, rawQuotes: true });
    assert.equal(l.processWord(`\${A:-x} $B "q"`, envFromList([])), `\${A:-x} $B "q"`);
  });

  it('reports which variables it found and which it did not', () => {
    const r = lex.process('${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', envFromMap({ FOO: 'xxx', BAR: '' }));
    assert.equal(r.result, 'xxx bbb ccc');
    assert.deepEqual([...r.matched].sort(), ['BAR', 'FOO']);
    assert.deepEqual([...r.unmatched], ['BAZ']);
  });

  it('a later entry of the same name wins', () => {
    assert.equal(word('$car', ['foo=bar', 'car=hat', 'car=bike']), 'bike');
    assert.equal(word('${foo-x}', ['foo']), '');
  });
});
