import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../base/errdefs.js';
import { asStruct, compile, goFormat, renderTable, sprintf, tabwrite, TemplateError } from './template.js';

const run = (src: string, data?: unknown) => compile(src).execute(data);

type Case = [src: string, data: unknown, want: string];
const table = (name: string, cases: Case[]) =>
  describe(name, () => {
    for (const [src, data, want] of cases) it(src, () => assert.equal(run(src, data), want));
  });

const fails = (src: string, data: unknown, message: string, phase: 'parse' | 'exec') =>
  assert.throws(
    () => run(src, data),
    (e: unknown) => {
      assert.ok(e instanceof TemplateError, String(e));
      assert.ok(e instanceof EngineError);
      assert.equal(e.kind, 'invalid');
      assert.equal(e.phase, phase);
      assert.equal(e.message, message);
      return true;
    },
  );

class Container {
  constructor(
    readonly ID: string,
    private readonly labels: Record<string, string>,
  ) {}
  get Names() {
    return `/${this.ID}`;
  }
  Label(k: string) {
    return this.labels[k] ?? '';
  }
  Fail(): string {
    throw new Error('boom');
  }
}

class Stringer {
  toString() {
    return 'i am a stringer';
  }
}

const data = {
  Name: 'web',
  Count: 3,
  Ratio: 0.25,
  Up: true,
  Down: false,
  Empty: '',
  Names: ['a', 'b', 'c'],
  None: [] as string[],
  Map: { key: 'value', b: 2, a: 1 },
  Nested: { Inner: { Deep: 'deep' } },
  Null: null,
  Html: '<b>&</b>',
};

table('text and fields', [
  ['plain text', data, 'plain text'],
  ['', data, ''],
  ['{{.Name}}', data, 'web'],
  ['{{ .Name }}', data, 'web'],
  ['{{.Nested.Inner.Deep}}', data, 'deep'],
  ['{{.Map.key}}', data, 'value'],
  ['{{.Missing}}', data, '<no value>'],
  ['{{.Missing.Deeper}}', data, '<no value>'],
  ['{{.Null}}', data, '<no value>'],
  ['{{.}}', 'dot', 'dot'],
  ['{{.}}', undefined, '<no value>'],
  ['{{.}}', null, '<no value>'],
  ['{{.Count}} {{.Ratio}} {{.Up}} {{.Down}}', data, '3 0.25 true false'],
  ['{{.Names}}', data, '[a b c]'],
  ['{{.None}}', data, '[]'],
  ['{{.Map}}', data, 'map[a:1 b:2 key:value]'],
  ['{{.Nested}}', data, 'map[Inner:map[Deep:deep]]'],
  ['{{.}}', [1, null, 'x', [true]], '[1 <nil> x [true]]'],
  ['{{.}}', new Map<unknown, unknown>([[2, 'b'], [1, 'a']]), 'map[1:a 2:b]'],
  ['{{$.Name}}', data, 'web'],
  ['{{(.Nested).Inner.Deep}}', data, 'deep'],
  ['{{(index .Names 1)}}', data, 'b'],
  ['line1\n{{.Name}}\nline3', data, 'line1\nweb\nline3'],
]);

table('numbers as Go prints them', [
  ['{{.}}', 42, '42'],
  ['{{.}}', -7, '-7'],
  ['{{.}}', 1.5, '1.5'],
  ['{{.}}', 1234567.5, '1.2345675e+06'],
  ['{{.}}', 123456.5, '123456.5'],
  ['{{.}}', 0.0001, '0.0001'],
  ['{{.}}', 0.00001, '1e-05'],
  ['{{.}}', 1e21, '1e+21'],
  ['{{.}}', 123456789012, '123456789012'],
  ['{{.}}', 12345678901234567890n, '12345678901234567890'],
  ['{{.}}', Infinity, '+Inf'],
  ['{{.}}', NaN, 'NaN'],
  ['{{3}} {{-2}} {{1.5}} {{1e3}} {{0x1F}} {{0o17}} {{0b101}} {{0777}} {{1_000}} {{.5}}', null, '3 -2 1.5 1000 31 15 5 511 1000 0.5'],
  ["{{'a'}} {{'\\n'}} {{printf \"%c\" 'x'}}", null, '97 10 x'],
  ['{{true}} {{false}}', null, 'true false'],
  ['{{9223372036854775807}} {{-9223372036854775808}}', null, '9223372036854775807 -9223372036854775808'],
]);

table('strings', [
  ['{{"a\\tb\\n\\"q\\"\\u00e9\\x41\\101"}}', null, 'a\tb\n"q"éAA'],
  ['{{`raw\\n {{x}}`}}', null, 'raw\\n {{x}}'],
  ['{{"}}"}}', null, '}}'],
]);

table('trim markers and comments', [
  ['a  {{- .Name -}}  b', data, 'aweb' + 'b'],
  ['a \n\t{{- .Name}} b', data, 'aweb b'],
  ['a {{.Name -}} \n b', data, 'a webb'],
  ['{{-3}}', null, '-3'],
  ['{{3 -}} x', null, '3x'],
  ['a{{/* comment */}}b', null, 'ab'],
  ['a {{- /* comment */ -}} b', null, 'ab'],
  ['{{range .Names -}}\n  {{.}}\n{{- end}}', data, 'abc'],
]);

table('pipelines and functions', [
  ['{{.Name | printf "%s-x"}}', data, 'web-x'],
  ['{{.Name | printf "%s-%s" "pre"}}', data, 'pre-web'],
  ['{{"," | join .Names}}', data, 'a,b,c'],
  ['{{join .Names ", "}}', data, 'a, b, c'],
  ['{{join .Missing ","}}', data, ''],
  ['{{. | json}}', 'x', '"x"'],
  ['{{.Names | len}}', data, '3'],
  ['{{.Name |}}', data, 'web'],
  ['{{len (split . ",")}}', 'a,b,c,d', '4'],
  ['{{join (split . ":") "/"}}', 'text:with:colon', 'text/with/colon'],
  ['{{split . ""}}', 'héj', '[h é j]'],
  ['{{index .Map "key"}}', data, 'value'],
  ['{{index .Map "nope"}}', data, '<no value>'],
  ['{{index .Names 0}}{{index .Names 2}}', data, 'ac'],
  ['{{index . 1 0}}', [[1], [2, 3]], '2'],
  ['{{index . 1}}', 'AB', '66'],
  ['{{slice . 1 3}}', 'hello', 'el'],
  ['{{slice . 1}}', [1, 2, 3], '[2 3]'],
  ['{{slice .}}', [1, 2], '[1 2]'],
  ['{{len .Map}} {{len .Name}} {{len "héllo"}}', data, '3 3 6'],
  ['{{upper .Name}} {{lower "ABC"}} {{title "hello-world foo_bar"}}', data, 'WEB abc Hello-World Foo_bar'],
  ['{{truncate . 5}}|{{truncate . 25}}|{{truncate . 30}}', 'tupx5xzf6hvsrhnruz5cr8gwp', 'tupx5|tupx5xzf6hvsrhnruz5cr8gwp|tupx5xzf6hvsrhnruz5cr8gwp'],
  ['{{pad . 3 3}}|', 'tupx', '   tupx   |'],
  ['{{pad . 3 3}}|{{truncate . 5}}|', '', '||'],
  ['{{print 1 2 "a" 3 "b" "c"}}', null, '1 2a3bc'],
  ['{{print .Missing}}', {}, '<nil>'],
  ['{{println 1 "a"}}', null, '1 a\n'],
  ['{{html "<a href=\'x\'>&"}}', null, '&lt;a href=&#39;x&#39;&gt;&amp;'],
  ['{{js "it\'s <b> \\"q\\""}}', null, "it\\'s \\u003Cb\\u003E \\\"q\\\""],
  ['{{urlquery "a b&c/é"}}', null, 'a+b%26c%2F%C3%A9'],
  ['{{not .Up}} {{not .Empty}}', data, 'false true'],
  ['{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}}', null, '0 2 z '],
  ['{{or .Name (index .Names 99)}}', data, 'web'],
  ['{{and .Missing (index .Names 99)}}', data, '<no value>'],
  ['{{call .F 2 3}}', { F: (a: number, b: number) => a * b }, '6'],
]);

table('comparisons', [
  ['{{eq .Count 3}} {{eq .Count 4}} {{eq .Name "web"}} {{eq .Count 1 2 3}}', data, 'true false true true'],
  ['{{ne .Count 3}} {{ne .Name "x"}}', data, 'false true'],
  ['{{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt "a" "b"}} {{gt 1.5 1}}', null, 'true true true false true true'],
  ['{{eq .Missing "x"}} {{eq .Missing nil}} {{eq .Up true}}', data, 'false true true'],
  ['{{if eq .Name "web" "db"}}yes{{end}}', data, 'yes'],
]);

table('control structures', [
  ['{{if .Up}}up{{end}}', data, 'up'],
  ['{{if .Down}}up{{else}}down{{end}}', data, 'down'],
  ['{{if .Down}}a{{else if .Empty}}b{{else if .Count}}c{{else}}d{{end}}', data, 'c'],
  ['{{if .None}}a{{else}}b{{end}}{{if .Map}}c{{end}}{{if .Missing}}d{{end}}{{if 0}}e{{end}}{{if .Ratio}}f{{end}}', data, 'bcf'],
  ['{{if and .Up (gt .Count 2)}}ok{{end}}', data, 'ok'],
  ['{{with .Nested.Inner}}{{.Deep}}{{end}}', data, 'deep'],
  ['{{with .Missing}}x{{else}}none{{end}}', data, 'none'],
  ['{{with .Missing}}x{{else with .Name}}{{.}}{{end}}', data, 'web'],
  ['{{with $x := .Name}}{{$x}}{{.}}{{end}}', data, 'webweb'],
  ['{{range .Names}}[{{.}}]{{end}}', data, '[a][b][c]'],
  ['{{range $i, $e := .Names}}{{$i}}={{$e}} {{end}}', data, '0=a 1=b 2=c '],
  ['{{range $e := .Names}}{{$e}}{{end}}', data, 'abc'],
  ['{{range $k, $v := .Map}}{{$k}}={{$v}};{{end}}', data, 'a=1;b=2;key=value;'],
  ['{{range .Map}}{{.}},{{end}}', data, '1,2,value,'],
  ['{{range .None}}x{{else}}empty{{end}}', data, 'empty'],
  ['{{range .Missing}}x{{else}}empty{{end}}', data, 'empty'],
  ['{{range 3}}{{.}}{{end}}', null, '012'],
  ['{{range .}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}', [1, 2, 3, 4], '12'],
  ['{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}', [1, 2, 3], '13'],
  ['{{range .Names}}{{$.Name}}:{{.}} {{end}}', data, 'web:a web:b web:c '],
  ['{{range $i, $_ := .}}{{range .}}{{$i}}{{.}}{{end}}{{end}}', [['a'], ['b', 'c']], '0a1b1c'],
]);

table('variables', [
  ['{{$x := 5}}{{$x}}', null, '5'],
  ['{{$x := .Name}}{{$x = "other"}}{{$x}}', data, 'other'],
  ['{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}', null, '2'],
  ['{{$x := 0}}{{range .}}{{$x = .}}{{end}}{{$x}}', [1, 2, 3], '3'],
  ['{{$m := .Map}}{{$m.key}}', data, 'value'],
  ['{{$}}', 'root', 'root'],
  ['{{$x := "a"}}{{$y := "b"}}{{$x}}{{$y}}', null, 'ab'],
]);

table('templates', [
  ['{{define "row"}}<{{.}}>{{end}}{{template "row" .Name}}{{template "row" .Count}}', data, '<web><3>'],
  ['{{define "t"}}{{$}}{{end}}{{template "t" "x"}}', null, 'x'],
  ['{{block "b" .Name}}[{{.}}]{{end}}', data, '[web]'],
  ['{{template "u"}}{{define "u"}}{{.}}{{end}}', 'x', '<no value>'],
]);

table('json', [
  ['{{json .}}', { a: '<b>&', n: [1, 2.5, null], m: {}, t: true, s: 'é\n\u2028' }, '{"a":"<b>&","n":[1,2.5,null],"m":{},"t":true,"s":"é\\n\\u2028"}'],
  ['{{json .Ports}}', { Ports: '0.0.0.0:2->8/udp' }, '"0.0.0.0:2->8/udp"'],
  ['{{json .Missing}}', {}, 'null'],
  ['{{json .}}', { z: 1, a: { y: 2, b: 3 } }, '{"z":1,"a":{"y":2,"b":3}}'],
  ['{{json .}}', new Map([['b', 1], ['a', 2]]), '{"a":2,"b":1}'],
  ['{{json .}}', 1e-7, '1e-7'],
  ['{{json .}}', new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), '"2024-01-02T03:04:05Z"'],
  ['{{json .}}', NaN, ''],
]);

table('structs, methods, stringers', [
  ['{{.ID}} {{.Names}} {{.Label "com.x"}} {{.Label "nope"}}|', new Container('abc', { 'com.x': 'y' }), 'abc /abc y |'],
  ['{{"com.x" | .Label}}', new Container('abc', { 'com.x': 'y' }), 'y'],
  ['{{.}}', asStruct({ A: 1, B: 'x', C: [1] }, 'T'), '{1 x [1]}'],
  ['{{printf "%+v" .}}', asStruct({ A: 1, B: 'x' }, 'T'), '{A:1 B:x}'],
  ['{{.}} {{printf "%s|%v" . .}}', new Stringer(), 'i am a stringer i am a stringer|i am a stringer'],
  ['{{.}}', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120)), '2024-01-02 03:04:05.12 +0000 UTC'],
]);

describe('printf', () => {
  const cases: [string, unknown[], string][] = [
    ['%s %d %v %t', ['a', 42, [1, 'x'], true], 'a 42 [1 x] true'],
    ['%q %q %q', ['a"b\n', 'é\u00a0\x01', 120], '"a\\"b\\n" "é\\u00a0\\x01" \'x\''],
    ['%5d|%-5d|%05d|%+d|% d|%x|%X|%#x|%o|%#o|%O|%b|%c|%U|%#U', [42, 42, -42, 5, 5, 255, 255, 255, 8, 8, 8, 5, 65, 65, 0x1f600], '   42|42   |-0042|+5| 5|ff|FF|0xff|10|010|0o10|101|A|U+0041|U+1F600 \'😀\''],
    ['%.2f|%8.3f|%-8.2f|%08.3f|%e|%E|%.1e|%g|%g|%G|%.3g|%v', [3.14159, 3.14159, 2.5, -3.14159, 1234.5678, 0.000123, 15, 0.000012, 100000000.5, 1e-7, 3.14159, 2.5], '3.14|   3.142|2.50    |-003.142|1.234568e+03|1.230000E-04|1.5e+01|1.2e-05|1.000000005e+08|1E-07|3.14|2.5'],
    ['%10s|%-10s|%.2s|%5.1s|%x|% x|%#x|%X', ['abc', 'abc', 'héllo', 'xyz', 'hi', 'hi', 'hi', 'hi'], '       abc|abc       |hé|    x|6869|68 69|0x6869|6869'],
    ['%*d|%-*d|%.*f', [4, 7, 4, 7, 1, 2.25], '   7|7   |2.2'],
    ['%v %d %s', [null, null, undefined], '<nil> %!d(<nil>) %!s(<nil>)'],
    ['%d %s %t %z', ['x', 5, 'y', 1.5], '%!d(string=x) %!s(int=5) %!t(string=y) %!z(float64=1.5)'],
    ['%d', [1.5], '%!d(float64=1.5)'],
    ['%s %s', ['a'], 'a %!s(MISSING)'],
    ['%s', ['a', 2, 'b'], 'a%!(EXTRA int=2, string=b)'],
    ['100%% %', [], '100% %!(NOVERB)'],
    ['%v|%v|%s', [{ b: 1, a: [1, 2] }, new Map([['k', null]]), ['a', 'b']], 'map[a:[1 2] b:1]|map[k:<nil>]|[a b]'],
    ['%d', [[1, 2]], '[1 2]'],
    ['%T %T %T %T %T', ['s', 1, 1.5, [], {}], 'string int float64 []interface {} map[string]interface {}'],
    ['%6.2f|%v|%v|%.0f', [-0.001, -Infinity, -0, 0.5], ' -0.00|-Inf|-0|0'],
    ['%.0f %.0f %.0f %.1f %.2f %.1f %.3e', [0.5, 1.5, 2.5, 0.25, 1.005, 0.05, 1.0005], '0 2 2 0.2 1.00 0.1 1.000e+00'],
    ['%[2]d %[1]d', [16, 17], '17 16'],
    ['%d %d %#[1]x %#x', [16, 17], '16 17 0x10 0x11'],
    ['%[5]d %[x]d', [16, 17], '%!d(BADINDEX) %!d(BADINDEX)'],
    ['%[2]d %d', [16, 17], '17 %!d(MISSING)'],
    ['%+q %#q %#q', ['é', 'h"i', 'a`b'], '"\\u00e9" `h"i` "a`b"'],
  ];
  for (const [f, args, want] of cases) it(f, () => assert.equal(sprintf(f, args), want));

  it('through the template', () => {
    assert.equal(run('{{printf "%-10s|%5.2f|%d" .Name .Ratio .Count}}', data), 'web       | 0.25|3');
    assert.equal(run('{{printf "%s" .Missing}}', {}), '%!s(<nil>)');
  });
});

describe('goFormat', () => {
  const cases: [unknown, string][] = [
    [undefined, '<no value>'],
    [null, '<nil>'],
    ['s', 's'],
    [true, 'true'],
    [10, '10'],
    [0.1, '0.1'],
    [1e6 + 0.5, '1.0000005e+06'],
    [[1, [2, 3], 'x'], '[1 [2 3] x]'],
    [{ b: { d: 1, c: 2 }, a: null }, 'map[a:<nil> b:map[c:2 d:1]]'],
    [asStruct({ Name: 'x', Ports: [80, 443], Cfg: { k: 'v' } }, 'T'), '{x [80 443] map[k:v]}'],
  ];
  for (const [v, want] of cases) it(want, () => assert.equal(goFormat(v), want));
});

describe('parse errors', () => {
  const cases: [string, string][] = [
    ['{{.X', 'template: :1: unclosed action'],
    ['a\n{{.X', 'template: :2: unclosed action'],
    ['{{.X\n', 'template: :2: unclosed action started at :1'],
    ['{{if .A}}\n{{.B\n| x}}{{end}}', 'template: :3: function "x" not defined'],
    ['{{--1}}', 'template: :1: bad number syntax: "--1"'],
    ['{{1+2i}}', 'template: :1: complex constants are not supported: "1+2i"'],
    ['{{if .X}}', 'template: :1: unexpected EOF'],
    ['{{range .}}{{else}}', 'template: :1: unexpected EOF'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{else}}', 'template: :1: unexpected {{else}}'],
    ['{{if .X}}{{else}}{{else}}{{end}}', 'template: :1: expected end; found {{else}}'],
    ['{{foo}}', 'template: :1: function "foo" not defined'],
    ['{{.X | foo}}', 'template: :1: function "foo" not defined'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{if true}}{{$y := 1}}{{end}}{{$y}}', 'template: :1: undefined variable "$y"'],
    ['{{range $i, $e := .}}{{end}}{{$e}}', 'template: :1: undefined variable "$e"'],
    ['{{}}', 'template: :1: missing value for command'],
    ['{{if}}{{end}}', 'template: :1: missing value for if'],
    ['{{.A | 3}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{.A | | .B}}', 'template: :1: unexpected "|" in command'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{range .}}{{else}}{{continue}}{{end}}', 'template: :1: {{continue}} outside {{range}}'],
    ['{{"abc}}', 'template: :1: unterminated quoted string'],
    ['{{`abc}}', 'template: :1: unterminated raw quoted string'],
    ["{{'a}}", 'template: :1: unterminated character constant'],
    ["{{'ab'}}", "template: :1: malformed character constant: 'ab'"],
    ['{{"\\q"}}', 'template: :1: invalid syntax'],
    ['{{(.A}}', 'template: :1: unclosed left paren'],
    ['{{.A)}}', 'template: :1: unexpected ")" in command'],
    ['{{3x}}', 'template: :1: bad number syntax: "3x"'],
    ['{{08}}', 'template: :1: integer overflow: "08"'],
    ['{{99999999999999999999999}}', 'template: :1: integer overflow: "99999999999999999999999"'],
    ['{{.A.}}', 'template: :1: unexpected <.> in operand'],
    ['{{.A"x"}}', `template: :1: bad character U+0022 '"'`],
    ['{{.A "x" = 1}}', 'template: :1: unexpected "=" in operand'],
    ['{{.A = 1}}', 'template: :1: unexpected "=" in operand'],
    ['{{.A[0]}}', "template: :1: bad character U+005B '['"],
    ['{{.A ^}}', 'template: :1: unexpected "^" in operand'],
    ['{{"x".A}}', 'template: :1: unexpected . after term "\\"x\\""'],
    ['{{range $i, $e, $f := .}}{{end}}', 'template: :1: too many declarations in range'],
    ['{{with $x, $y := .}}{{end}}', 'template: :1: too many declarations in with'],
    ['{{range $i, 3 := .}}{{end}}', 'template: :1: range can only initialize variables'],
    ['{{/* x */ }}', 'template: :1: comment ends before closing delimiter'],
    ['{{/* x', 'template: :1: unclosed comment'],
    ['{{.a:b}}', 'template: :1: expected :='],
    ['{{a:b}}', 'template: :1: function "a" not defined'],
    ['{{.A\u00a7}}', "template: :1: bad character U+00A7 '§'"],
    ['{{define "a"}}x{{end}}{{define "a"}}y{{end}}', 'template: :1: template: multiple definition of template "a"'],
    ['{{template .X}}', 'template: :1: unexpected ".X" in template clause'],
    ['{{template . }}', 'template: :1: unexpected <.> in template clause'],
    ['{{define "x"}}{{$y}}{{end}}', 'template: :1: undefined variable "$y"'],
  ];
  for (const [src, message] of cases) it(JSON.stringify(src), () => fails(src, {}, message, 'parse'));
});

describe('execution errors', () => {
  const ctr = asStruct({ ID: 'abc' }, '*formatter.ContainerContext');
  const cases: [string, unknown, string][] = [
    ['{{.Foo}}', ctr, 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext'],
    ['{{.ID}}\n  {{.Foo}}', ctr, 'template: :2:4: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext'],
    ['{{.S.Foo}}', { S: asStruct({}, 'T') }, 'template: :1:4: executing "" at <.S.Foo>: can\'t evaluate field Foo in type T'],
    ['{{.Bogus}}', new Container('x', {}), 'template: :1:2: executing "" at <.Bogus>: can\'t evaluate field Bogus in type Container'],
    ['{{.constructor}}', new Container('x', {}), 'template: :1:2: executing "" at <.constructor>: can\'t evaluate field constructor in type Container'],
    ['{{.Fail}}', new Container('x', {}), 'template: :1:2: executing "" at <.Fail>: error calling Fail: boom'],
    ['{{.ID "x"}}', ctr, 'template: :1:2: executing "" at <.ID>: ID has arguments but cannot be invoked as function'],
    ['{{.A "x"}}', { A: 1 }, 'template: :1:2: executing "" at <.A>: A is not a method but has arguments'],
    // A map's element has Go's static type interface {}; a struct's field its own type.
    ['{{.Name.Foo}}', data, "template: :1:7: executing \"\" at <.Name.Foo>: can't evaluate field Foo in type interface {}"],
    ['{{.Name.Foo}}', asStruct({ Name: 'x' }, 'T'), "template: :1:7: executing \"\" at <.Name.Foo>: can't evaluate field Foo in type string"],
    ['{{range .Names}}{{.Foo}}{{end}}', data, "template: :1:18: executing \"\" at <.Foo>: can't evaluate field Foo in type interface {}"],
    ['{{$x := .Name}}{{$x.Foo}}', data, "template: :1:19: executing \"\" at <$x.Foo>: can't evaluate field Foo in type string"],
    ['{{.Foo}}', 'str', "template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type string"],
    ['{{.Null.Foo}}', data, 'template: :1:7: executing "" at <.Null.Foo>: nil pointer evaluating interface {}.Foo'],
    ['{{"x" 1}}', null, 'template: :1:2: executing "" at <"x">: can\'t give argument to non-function "x"'],
    ['{{nil}}', null, 'template: :1:2: executing "" at <nil>: nil is not a command'],
    ['{{upper .Count}}', data, 'template: :1:8: executing "" at <.Count>: wrong type for value; expected string; got int'],
    ['{{upper .Missing}}', data, 'template: :1:8: executing "" at <.Missing>: invalid value; expected string'],
    ['{{upper 3}}', data, 'template: :1:8: executing "" at <3>: expected string; found 3'],
    ['{{truncate .Name "x"}}', data, 'template: :1:17: executing "" at <"x">: expected integer; found "x"'],
    ['{{join .Name ","}}', data, 'template: :1:7: executing "" at <.Name>: wrong type for value; expected []string; got string'],
    ['{{truncate .}}', 'x', 'template: :1:2: executing "" at <truncate>: wrong number of args for truncate: want 2 got 1'],
    ['{{len}}', null, 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0'],
    ['{{eq .Count "x"}}', data, 'template: :1:2: executing "" at <eq .Count "x">: error calling eq: incompatible types for comparison'],
    ['{{lt true false}}', null, 'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison'],
    ['{{eq 1}}', null, 'template: :1:2: executing "" at <eq 1>: error calling eq: missing argument for comparison'],
    ['{{index .Names 5}}', data, 'template: :1:2: executing "" at <index .Names 5>: error calling index: index out of range: 5'],
    ['{{index .Names "a"}}', data, 'template: :1:2: executing "" at <index .Names "a">: error calling index: cannot index slice/array with type string'],
    ['{{index .Map 1}}', data, 'template: :1:2: executing "" at <index .Map 1>: error calling index: value has type int; should be string'],
    ['{{index .Missing 1}}', data, 'template: :1:2: executing "" at <index .Missing 1>: error calling index: index of untyped nil'],
    ['{{len .Count}}', data, 'template: :1:2: executing "" at <len .Count>: error calling len: len of type int'],
    ['{{slice .Name 2 1}}', data, 'template: :1:2: executing "" at <slice .Name 2 1>: error calling slice: invalid slice index: 2 > 1'],
    ['{{range .Name}}{{end}}', data, 'template: :1:8: executing "" at <.Name>: range can\'t iterate over web'],
    ['{{range $i, $e := 3}}{{end}}', null, 'template: :1:18: executing "" at <3>: can\'t use 3 to iterate over more than one variable'],
    ['{{template "nope"}}', null, 'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined'],
    ['{{define "t"}}{{.Foo}}{{end}}{{template "t" .}}', ctr, 'template: :1:16: executing "t" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext'],
    ['{{.F}}', asStruct({ F: () => { throw new Error('bad'); } }, 'T'), 'template: :1:2: executing "" at <.F>: error calling F: bad'],
    ['{{.F}}', { F: () => 1 }, 'template: :1:2: executing "" at <{{.F}}>: can\'t print {{.F}} of type func()'],
    ['{{pad . -1 0}}', 'x', 'template: :1:2: executing "" at <pad . -1 0>: error calling pad: strings: negative Repeat count'],
    ['{{truncate . 3}}', null, 'template: :1:11: executing "" at <.>: invalid value; expected string'],
  ];
  for (const [src, d, message] of cases) it(src, () => fails(src, d, message, 'exec'));
});

describe('compile options', () => {
  it('adds functions at compile time and overrides them at execution', () => {
    const t = compile('{{shout .}} {{upper .}}', { funcs: { shout: (s: string) => `${s}!` } });
    assert.equal(t.execute('hi'), 'hi! HI');
    assert.equal(t.execute('hi', { funcs: { shout: (s: string) => `${s}?`, upper: (s: string) => `<${s}>` } }), 'hi? <hi>');
  });
  it('a compiled template runs many times', () => {
    const t = compile('{{.}}');
    assert.deepEqual([1, 'a', true].map((d) => t.execute(d)), ['1', 'a', 'true']);
  });
});

describe('tabwrite', () => {
  it('pads columns to the widest cell plus 3, at least 10, leaving the last cell alone', () => {
    assert.equal(
      tabwrite('NAME\tIMAGE\tSTATUS\nweb\tnginx:latest\tUp 2 hours\ndb-primary-1\tpostgres\tExited (0)\n'),
      'NAME           IMAGE          STATUS\n' +
        'web            nginx:latest   Up 2 hours\n' +
        'db-primary-1   postgres       Exited (0)\n',
    );
  });
  it('aligns each column only over the block of lines that have it', () => {
    const sp = (n: number) => ' '.repeat(n);
    assert.equal(
      tabwrite('a\tb\tc\naaaaaaaaaaaaaa\tb\nno tabs here\nx\ty'),
      `a${sp(16)}b${sp(9)}c\naaaaaaaaaaaaaa${sp(3)}b\nno tabs here\nx${sp(9)}y`,
    );
  });
  it('counts runes, not bytes, and pads empty and trailing cells', () => {
    assert.equal(tabwrite('é\tx\n\tyy\t\n'), 'é         x\n          yy        \n');
  });
});

describe('renderTable', () => {
  const rows = [
    { ID: 'abc123', Names: 'foo', Status: 'Up 2 hours' },
    { ID: 'def4567890ab', Names: 'barbazqux', Status: 'Exited (0) 3 days ago' },
  ];
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Status: 'STATUS' };

  it('prints a header row and aligned columns', () => {
    assert.equal(
      renderTable('table {{.ID}}\t{{.Names}}\t{{.Status}}', rows, headers),
      'CONTAINER ID   NAMES       STATUS\n' +
        'abc123         foo         Up 2 hours\n' +
        'def4567890ab   barbazqux   Exited (0) 3 days ago\n',
    );
  });
  it('understands literal \\t and \\n in the format', () => {
    assert.equal(
      renderTable('table {{.ID}}\\t{{.Names}}', rows, headers),
      'CONTAINER ID   NAMES\nabc123         foo\ndef4567890ab   barbazqux\n',
    );
  });
  it('prints the header alone when there are no rows, with minimum widths', () => {
    assert.equal(renderTable('table {{.Names}}\t{{.Status}}', [], headers), `NAMES${' '.repeat(5)}STATUS\n`);
  });
  it('keeps header text intact through docker functions, but pads it', () => {
    assert.equal(
      renderTable('table {{upper .Names}}\t{{truncate .ID 3}}\t{{pad .Status 1 0}}', rows, headers),
      'NAMES       CONTAINER ID    STATUS\n' + 'FOO         abc             Up 2 hours\n' + 'BARBAZQUX   def             Exited (0) 3 days ago\n',
    );
  });
  it('formats rows without a table', () => {
    assert.equal(renderTable('{{.ID}}: {{.Names}}', rows, headers), 'abc123: foo\ndef4567890ab: barbazqux\n');
    assert.equal(renderTable('  {{.ID}}  ', rows, headers), 'abc123\ndef4567890ab\n');
  });
  it('has a "json" format', () => {
    assert.equal(renderTable('json', rows.slice(0, 1), headers), '{"ID":"abc123","Names":"foo","Status":"Up 2 hours"}\n');
  });
  it('reports row errors, not header errors', () => {
    const structRows = rows.map((r) => asStruct({ ...r }, '*formatter.ContainerContext'));
    assert.throws(
      () => renderTable('table {{.ID}}\t{{.Foo}}', structRows, headers),
      { message: 'template: :1:10: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext' },
    );
    assert.equal(renderTable('table {{.ID}}\t{{.Names}}', [], { ID: 'ID' }), `ID${' '.repeat(8)}<no value>\n`);
  });
});
