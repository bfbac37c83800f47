import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from './command.js';
import { ellipsis, formatRows, goJSON, indentJSON, truncateID } from './formatter.js';

describe('indentJSON', () => {
  it('re-indents like Go json.Indent with 4 spaces, keeping the bytes', () => {
    const raw = '[{"Id":"sha256:ab","RepoTags":["busybox:latest"],"Config":{"Env":[],"Labels":{}},"Size":1986,"X":"a\\u003cb, \\"c\\": d"}]';
    assert.equal(indentJSON(raw), `[
    {
        "Id": "sha256:ab",
        "RepoTags": [
            "busybox:latest"
        ],
        "Config": {
            "Env": [],
            "Labels": {}
        },
        "Size": 1986,
        "X": "a\\u003cb, \\"c\\": d"
    }
]`);
  });
  it('handles empty arrays and whitespace in the input', () => {
    assert.equal(indentJSON(' [ ] '), '[]');
    assert.equal(indentJSON('{\n "a" : null }'), '{\n    "a": null\n}');
  });
});

describe('small helpers', () => {
  it('truncateID', () => {
    assert.equal(truncateID('sha256:f23c40f8cbebb8d406c6a1b503746b0ecbfb912ced8ff6d281434aeb8eaa8617'), 'f23c40f8cbeb');
    assert.equal(truncateID('<missing>'), '<missing>');
  });
  it('ellipsis', () => {
    assert.equal(ellipsis('/bin/sh -c #(nop)  CMD ["sh"]', 45), '/bin/sh -c #(nop)  CMD ["sh"]');
    assert.equal(ellipsis('a'.repeat(50), 45), 'a'.repeat(44) + '…');
    assert.equal(ellipsis('abc', 1), 'a');
  });
  it('goJSON escapes HTML like json.Marshal', () => {
    assert.equal(goJSON({ a: '<none>&' }), '{"a":"\\u003cnone\\u003e\\u0026"}');
  });
});

describe('formatRows', () => {
  const rows = [{ ID: 'f23c40f8cbeb', Repository: 'busybox', Tag: 'latest' }, { ID: 'aaaaaaaaaaaa', Repository: '<none>', Tag: '<none>' }];
  const headers = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG' };
  it('renders docker tables', () => {
    assert.equal(
      formatRows('table {{.Repository}}\t{{.Tag}}\t{{.ID}}', rows, headers),
      'REPOSITORY   TAG       IMAGE ID\nbusybox      latest    f23c40f8cbeb\n<none>       <none>    aaaaaaaaaaaa\n',
    );
  });
  it('prints only the header for no rows', () => {
    assert.equal(formatRows('table {{.Repository}}\t{{.Tag}}', [], headers), 'REPOSITORY   TAG\n');
  });
  it('runs plain templates per row, with \\t typed literally', () => {
    assert.equal(formatRows('{{.Repository}}\\t{{.Tag}}', rows, headers), 'busybox\tlatest\n<none>\t<none>\n');
  });
  it('marshals json rows like docker contexts', () => {
    assert.equal(formatRows('json', rows.slice(1), headers, { marshalJSON: true }), '{"ID":"aaaaaaaaaaaa","Repository":"\\u003cnone\\u003e","Tag":"\\u003cnone\\u003e"}\n');
  });
  it('reports template errors like docker', () => {
    assert.throws(() => formatRows('{{.Foo}}', rows, headers, { typeName: '*formatter.imageContext' }), (e: unknown) =>
      e instanceof StatusError && e.status === 1 &&
      e.message === 'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext');
    assert.throws(() => formatRows('{{.Foo', rows, headers), (e: unknown) =>
      e instanceof StatusError && e.message === 'template parsing error: template: :1: unclosed action');
  });
});
