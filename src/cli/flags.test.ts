import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, flagUsages, parseFlags, toFilters, validateFilter, type FlagSpec } from './flags.js';

const specs: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', usage: 'Show all' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Only IDs' },
  { name: 'filter', short: 'f', type: 'filter', usage: 'Filter', validate: validateFilter },
  { name: 'format', type: 'string', usage: 'Format' },
  { name: 'human', short: 'H', type: 'bool', usage: 'Human', default: true },
  { name: 'change', short: 'c', type: 'list', usage: 'Change' },
];

const fails = (argv: string[], message: string) =>
  assert.throws(() => parseFlags(argv, specs), (e: unknown) => e instanceof FlagError && e.message === message);

describe('parseFlags', () => {
  it('bundles short booleans', () => {
    const p = parseFlags(['-aq', 'img'], specs);
    assert.equal(p.values['all'], true);
    assert.equal(p.values['quiet'], true);
    assert.deepEqual(p.args, ['img']);
  });
  it('takes values in every pflag form', () => {
    for (const argv of [['-fa=b'], ['-f', 'a=b'], ['-f=a=b'], ['--filter', 'a=b'], ['--filter=a=b'], ['-qfa=b']]) {
      assert.deepEqual(parseFlags(argv, specs).values['filter'], ['a=b'], argv.join(' '));
    }
  });
  it('repeats list flags', () => {
    const p = parseFlags(['-c', 'CMD ["sh"]', '--change=ENV A=1', '-cUSER x'], specs);
    assert.deepEqual(p.values['change'], ['CMD ["sh"]', 'ENV A=1', 'USER x']);
    assert.ok(p.changed.has('change'));
  });
  it('reads boolean values after =', () => {
    assert.equal(parseFlags(['-H=false'], specs).values['human'], false);
    assert.equal(parseFlags(['--human=0'], specs).values['human'], false);
    assert.equal(parseFlags([], specs).values['human'], true);
    assert.equal(parseFlags(['-aq=1'], specs).values['quiet'], true);
  });
  it('intersperses flags and args, and stops at --', () => {
    const p = parseFlags(['x', '-a', 'y', '--', '-q', '--format=z'], specs);
    assert.deepEqual(p.args, ['x', 'y', '-q', '--format=z']);
    assert.equal(p.values['quiet'], false);
  });
  it('stops at the first arg when not interspersed', () => {
    const p = parseFlags(['-a', 'images', '-q'], specs, { interspersed: false });
    assert.deepEqual(p.args, ['images', '-q']);
  });
  it('treats "-" as an argument', () => {
    assert.deepEqual(parseFlags(['-', 'repo'], specs).args, ['-', 'repo']);
  });
  it('knows -h and --help', () => {
    assert.equal(parseFlags(['--help'], specs).help, true);
    assert.equal(parseFlags(['-ah'], specs).help, true);
    assert.equal(parseFlags(['-a'], specs).help, false);
  });
  it('reports errors with pflag texts', () => {
    fails(['--bogus'], 'unknown flag: --bogus');
    fails(['--bogus=1'], 'unknown flag: --bogus');
    fails(['-z'], "unknown shorthand flag: 'z' in -z");
    fails(['-az'], "unknown shorthand flag: 'z' in -z");
    fails(['--format'], 'flag needs an argument: --format');
    fails(['-f'], "flag needs an argument: 'f' in -f");
    fails(['-f', 'bogus'], 'invalid argument "bogus" for "-f, --filter" flag: bad format of filter (expected name=value)');
    fails(['--all=x'], 'invalid argument "x" for "-a, --all" flag: strconv.ParseBool: parsing "x": invalid syntax');
    fails(['---x'], 'bad flag syntax: ---x');
  });
});

describe('toFilters', () => {
  it('builds the API map', () => {
    assert.deepEqual(toFilters(['dangling=true', 'label=a=b', 'Label=c']), {
      dangling: { true: true },
      label: { 'a=b': true, c: true },
    });
  });
});

describe('flagUsages', () => {
  it('lays out and wraps like pflag at 79 columns', () => {
    const formatHelp =
      "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";
    const out = flagUsages([
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
      { name: 'all', short: 'a', type: 'bool', usage: 'Show all images (default hides intermediate images)' },
      { name: 'digests', type: 'bool', usage: 'Show digests' },
      { name: 'filter', short: 'f', type: 'filter', usage: 'Filter output based on conditions provided' },
      { name: 'format', type: 'string', usage: formatHelp },
      { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
    ], 79);
    // Captured from docker 28 `docker images --help` (not on a terminal).
    assert.equal(out, `  -a, --all             Show all images (default hides intermediate images)
      --digests         Show digests
  -f, --filter filter   Filter output based on conditions provided
      --format string   Format output using a custom template:
                        'table':            Print output in table format
                        with column headers (default)
                        'table TEMPLATE':   Print output in table format
                        using the given Go template
                        'json':             Print in JSON format
                        'TEMPLATE':         Print output using the given
                        Go template.
                        Refer to https://docs.docker.com/go/formatting/
                        for more information about formatting output with
                        templates
      --no-trunc        Don't truncate output
  -q, --quiet           Only show image IDs
`);
  });
  it('shows non-zero defaults', () => {
    const out = flagUsages([
      { name: 'human', short: 'H', type: 'bool', usage: 'Human', default: true },
      { name: 'tag', type: 'string', usage: 'Tag', default: 'busybox:latest' },
    ], 0);
    assert.equal(out, '  -H, --human        Human (default true)\n      --tag string   Tag (default "busybox:latest")\n');
  });
});
