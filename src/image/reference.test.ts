import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/errdefs.js';
import {
  familiar,
  familiarName,
  isImageIdLike,
  name,
  parseCanonical,
  parseDockerRef,
  parseReference,
  toString,
  withDefaultTag,
  withTag,
  type Reference,
} from './reference.js';

const HEX64 = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff';
const ID64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

const rejects = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EngineError, `not an EngineError: ${String(e)}`);
    assert.equal(e.kind, 'invalid');
    assert.equal(e.message, message);
    return true;
  });

// distribution/reference normalize_test.go TestValidateReferenceName + TestValidateRemoteName
describe('parseReference validity', () => {
  const valid = [
    'docker/docker',
    'library/debian',
    'debian',
    'docker.io/docker/docker',
    'docker.io/library/debian',
    'docker.io/debian',
    'index.docker.io/docker/docker',
    'index.docker.io/library/debian',
    'index.docker.io/debian',
    '127.0.0.1:5000/docker/docker',
    '127.0.0.1:5000/library/debian',
    '127.0.0.1:5000/debian',
    '192.168.0.1',
    '192.168.0.1:80',
    '192.168.0.1:8/debian',
    '192.168.0.2:25000/debian',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    '[fc00::1]:5000/docker',
    '[fc00::1]:5000/docker/docker',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    `docker.io/${ID64}`,
    'Docker/docker',
    'DOCKER/docker',
    'docker-rules/docker',
    'docker---rules/docker',
    'doc/docker',
    'd/docker',
    'jess/t',
    'dock__er/docker',
    'localhost/foo',
    'localhost:5000/foo:bar',
    'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
  ];
  for (const s of valid) it(`accepts ${s}`, () => assert.doesNotThrow(() => parseReference(s)));

  const invalid = [
    'https://github.com/docker/docker',
    'docker/Docker',
    '-docker',
    '-docker/docker',
    '-docker.io/docker/docker',
    'docker///docker',
    'docker.io/docker/Docker',
    'docker.io/docker///docker',
    '[fc00::1]',
    '[fc00::1]:5000',
    'fc00::1:5000/debian',
    '[fe80::1%eth0]:5000/debian',
    '[2001:db8:3:4::192.0.2.33]:5000/debian',
    ID64,
    'docker-/docker',
    '-docker-/docker',
    '____/____',
    '_docker/_docker',
    'dock..er/docker',
    'dock_.er/docker',
    'dock-.er/docker',
    'docker/',
    '',
    'busybox:',
    'busybox@',
    ':tag',
    'busybox:-tag',
    `busybox:${'t'.repeat(129)}`,
    'busybox@sha256:abc',
    'a b',
  ];
  for (const s of invalid) it(`rejects ${JSON.stringify(s)}`, () => assert.throws(() => parseReference(s), EngineError));
});

describe('parseReference error texts', () => {
  const cases: [string, string][] = [
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
    ['test:5000/Uppercase/lowercase:tag', 'invalid reference format: repository name (Uppercase/lowercase) must be lowercase'],
    [ID64, `invalid repository name (${ID64}), cannot specify 64-byte hexadecimal strings`],
    ['', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    ['docker///docker', 'invalid reference format'],
    ['aa/asdf$$^/aa', 'invalid reference format'],
    [`busybox@sha256:${'f'.repeat(34)}`, 'invalid checksum digest length'],
    [`validname@invaliddigest:${HEX64}`, 'unsupported digest algorithm'],
    [`busybox@sha256:${HEX64.toUpperCase()}`, 'invalid checksum digest format'],
    [`domain/${'a'.repeat(256)}:tag`, 'repository name must not be more than 255 characters'],
    [
      'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker',
      'repository name must not be more than 255 characters',
    ],
  ];
  for (const [input, message] of cases) it(JSON.stringify(input), () => rejects(() => parseReference(input), message));
});

// normalize_test.go TestParseRepositoryInfo: each spelling maps to the same name.
describe('parseReference normalisation', () => {
  const cases: { spellings: string[]; familiar: string; full: string; domain: string; path: string }[] = [
    { spellings: ['fooo/bar', 'docker.io/fooo/bar', 'index.docker.io/fooo/bar'], familiar: 'fooo/bar', full: 'docker.io/fooo/bar', domain: 'docker.io', path: 'fooo/bar' },
    { spellings: ['ubuntu', 'docker.io/library/ubuntu', 'library/ubuntu'], familiar: 'ubuntu', full: 'docker.io/library/ubuntu', domain: 'docker.io', path: 'library/ubuntu' },
    { spellings: ['nonlibrary/ubuntu', 'docker.io/nonlibrary/ubuntu'], familiar: 'nonlibrary/ubuntu', full: 'docker.io/nonlibrary/ubuntu', domain: 'docker.io', path: 'nonlibrary/ubuntu' },
    { spellings: ['other/library', 'docker.io/other/library'], familiar: 'other/library', full: 'docker.io/other/library', domain: 'docker.io', path: 'other/library' },
    { spellings: ['127.0.0.1:8000/private/moonbase'], familiar: '127.0.0.1:8000/private/moonbase', full: '127.0.0.1:8000/private/moonbase', domain: '127.0.0.1:8000', path: 'private/moonbase' },
    { spellings: ['127.0.0.1:8000/privatebase'], familiar: '127.0.0.1:8000/privatebase', full: '127.0.0.1:8000/privatebase', domain: '127.0.0.1:8000', path: 'privatebase' },
    { spellings: ['example.com/private/moonbase'], familiar: 'example.com/private/moonbase', full: 'example.com/private/moonbase', domain: 'example.com', path: 'private/moonbase' },
    { spellings: ['example.com:8000/privatebasee'], familiar: 'example.com:8000/privatebasee', full: 'example.com:8000/privatebasee', domain: 'example.com:8000', path: 'privatebasee' },
    { spellings: ['ubuntu-12.04-base', 'docker.io/library/ubuntu-12.04-base', 'index.docker.io/library/ubuntu-12.04-base'], familiar: 'ubuntu-12.04-base', full: 'docker.io/library/ubuntu-12.04-base', domain: 'docker.io', path: 'library/ubuntu-12.04-base' },
    { spellings: ['foo', 'docker.io/foo', 'docker.io/library/foo'], familiar: 'foo', full: 'docker.io/library/foo', domain: 'docker.io', path: 'library/foo' },
    { spellings: ['library/foo/bar', 'docker.io/library/foo/bar'], familiar: 'library/foo/bar', full: 'docker.io/library/foo/bar', domain: 'docker.io', path: 'library/foo/bar' },
    { spellings: ['store/foo/bar'], familiar: 'store/foo/bar', full: 'docker.io/store/foo/bar', domain: 'docker.io', path: 'store/foo/bar' },
    { spellings: ['Foo/bar'], familiar: 'Foo/bar', full: 'Foo/bar', domain: 'Foo', path: 'bar' },
    { spellings: ['FOO/bar'], familiar: 'FOO/bar', full: 'FOO/bar', domain: 'FOO', path: 'bar' },
    { spellings: ['test_com/foo'], familiar: 'test_com/foo', full: 'docker.io/test_com/foo', domain: 'docker.io', path: 'test_com/foo' },
    { spellings: ['test-com:8080/foo'], familiar: 'test-com:8080/foo', full: 'test-com:8080/foo', domain: 'test-com:8080', path: 'foo' },
    { spellings: ['xn--n3h.com:18080/foo'], familiar: 'xn--n3h.com:18080/foo', full: 'xn--n3h.com:18080/foo', domain: 'xn--n3h.com:18080', path: 'foo' },
    { spellings: ['localhost/foo'], familiar: 'localhost/foo', full: 'localhost/foo', domain: 'localhost', path: 'foo' },
    { spellings: ['localhost'], familiar: 'localhost', full: 'docker.io/library/localhost', domain: 'docker.io', path: 'library/localhost' },
    { spellings: ['[::1]:5000/repo'], familiar: '[::1]:5000/repo', full: '[::1]:5000/repo', domain: '[::1]:5000', path: 'repo' },
    { spellings: ['[2001:db8::1]/repo'], familiar: '[2001:db8::1]/repo', full: '[2001:db8::1]/repo', domain: '[2001:db8::1]', path: 'repo' },
  ];
  for (const c of cases) {
    for (const s of c.spellings) {
      it(s, () => {
        const r = parseReference(s);
        assert.equal(r.domain, c.domain);
        assert.equal(r.path, c.path);
        assert.equal(name(r), c.full);
        assert.equal(toString(r), c.full);
        assert.equal(familiarName(r), c.familiar);
        assert.equal(r.tag, undefined);
        assert.equal(r.digest, undefined);
      });
    }
  }
});

describe('tags and digests', () => {
  const dgst = 'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
  const cases: { input: string; full: string; familiar: string; tag?: string; digest?: string }[] = [
    { input: 'busybox:latest', full: 'docker.io/library/busybox:latest', familiar: 'busybox:latest', tag: 'latest' },
    { input: 'busybox:1.36.1-glibc', full: 'docker.io/library/busybox:1.36.1-glibc', familiar: 'busybox:1.36.1-glibc', tag: '1.36.1-glibc' },
    { input: 'lowercase:Uppercase', full: 'docker.io/library/lowercase:Uppercase', familiar: 'lowercase:Uppercase', tag: 'Uppercase' },
    { input: `busybox@${dgst}`, full: `docker.io/library/busybox@${dgst}`, familiar: `busybox@${dgst}`, digest: dgst },
    { input: `busybox:latest@${dgst}`, full: `docker.io/library/busybox:latest@${dgst}`, familiar: `busybox:latest@${dgst}`, tag: 'latest', digest: dgst },
    { input: 'localhost:5000/x:y', full: 'localhost:5000/x:y', familiar: 'localhost:5000/x:y', tag: 'y' },
    { input: 'user/repo:tag', full: 'docker.io/user/repo:tag', familiar: 'user/repo:tag', tag: 'tag' },
    { input: 'test.com:5000', full: 'docker.io/library/test.com:5000', familiar: 'test.com:5000', tag: '5000' },
    { input: '[2001:db8::1]:5000/repo:tag', full: '[2001:db8::1]:5000/repo:tag', familiar: '[2001:db8::1]:5000/repo:tag', tag: 'tag' },
    { input: `[2001:db8::1]:5000/repo@sha256:${HEX64}`, full: `[2001:db8::1]:5000/repo@sha256:${HEX64}`, familiar: `[2001:db8::1]:5000/repo@sha256:${HEX64}`, digest: `sha256:${HEX64}` },
    { input: 'b.gcr.io/test.example.com/my-app:test.example.com', full: 'b.gcr.io/test.example.com/my-app:test.example.com', familiar: 'b.gcr.io/test.example.com/my-app:test.example.com', tag: 'test.example.com' },
    { input: `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${'f'.repeat(128)}`, full: `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${'f'.repeat(128)}`, familiar: `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${'f'.repeat(128)}`, tag: 'xn--7o8h.com', digest: `sha512:${'f'.repeat(128)}` },
    { input: `busybox:${'t'.repeat(128)}`, full: `docker.io/library/busybox:${'t'.repeat(128)}`, familiar: `busybox:${'t'.repeat(128)}`, tag: 't'.repeat(128) },
    { input: `${'a/'.repeat(127)}a:tag-puts-this-over-max`, full: `docker.io/${'a/'.repeat(127)}a:tag-puts-this-over-max`, familiar: `${'a/'.repeat(127)}a:tag-puts-this-over-max`, tag: 'tag-puts-this-over-max' },
  ];
  for (const c of cases) {
    it(c.input.length > 80 ? c.input.slice(0, 80) + '…' : c.input, () => {
      const r = parseReference(c.input);
      assert.equal(toString(r), c.full);
      assert.equal(familiar(r), c.familiar);
      assert.equal(r.tag, c.tag);
      assert.equal(r.digest, c.digest);
    });
  }
});

// normalize_test.go TestParseDockerRef
describe('parseDockerRef', () => {
  const d = 'sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582';
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:latest', 'docker.io/library/busybox:latest'],
    [`busybox@${d}`, `docker.io/library/busybox@${d}`],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox:latest', 'docker.io/library/busybox:latest'],
    ['library/busybox:latest', 'docker.io/library/busybox:latest'],
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest'],
    ['gcr.io/library/busybox', 'gcr.io/library/busybox:latest'],
    [`gcr.io/library/busybox:latest@${d}`, `gcr.io/library/busybox@${d}`],
  ];
  for (const [input, want] of cases) {
    it(input, () => {
      const got = toString(parseDockerRef(input));
      assert.equal(got, want);
      assert.equal(toString(parseCanonical(got)), want, 'output must itself parse');
    });
  }
});

// reference_test.go TestReferenceParse: reference.Parse, no normalisation.
describe('parseCanonical', () => {
  type Case = { input: string; domain?: string; name?: string; tag?: string; digest?: string; err?: string };
  const cases: Case[] = [
    { input: 'test_com', name: 'test_com' },
    { input: 'test.com:tag', name: 'test.com', tag: 'tag' },
    { input: 'test.com:5000', name: 'test.com', tag: '5000' },
    { input: 'test.com/repo:tag', domain: 'test.com', name: 'test.com/repo', tag: 'tag' },
    { input: 'test:5000/repo', domain: 'test:5000', name: 'test:5000/repo' },
    { input: `test:5000/repo@sha256:${HEX64}`, domain: 'test:5000', name: 'test:5000/repo', digest: `sha256:${HEX64}` },
    { input: `test:5000/repo:tag@sha256:${HEX64}`, domain: 'test:5000', name: 'test:5000/repo', tag: 'tag', digest: `sha256:${HEX64}` },
    { input: '', err: 'repository name must have at least one component' },
    { input: ':justtag', err: 'invalid reference format' },
    { input: `@sha256:${HEX64}`, err: 'invalid reference format' },
    { input: `repo@sha256:${'f'.repeat(34)}`, err: 'invalid checksum digest length' },
    { input: `validname@invaliddigest:${HEX64}`, err: 'unsupported digest algorithm' },
    { input: 'Uppercase:tag', err: 'repository name must be lowercase' },
    { input: 'test:5000/Uppercase/lowercase:tag', err: 'repository name must be lowercase' },
    { input: 'lowercase:Uppercase', name: 'lowercase', tag: 'Uppercase' },
    { input: `domain/${'a'.repeat(256)}:tag`, err: 'repository name must not be more than 255 characters' },
    { input: `${'a/'.repeat(127)}a:tag-puts-this-over-max`, domain: 'a', name: `${'a/'.repeat(127)}a`, tag: 'tag-puts-this-over-max' },
    { input: 'aa/asdf$$^/aa', err: 'invalid reference format' },
    { input: 'sub-dom1.foo.com/bar/baz/quux:some-long-tag', domain: 'sub-dom1.foo.com', name: 'sub-dom1.foo.com/bar/baz/quux', tag: 'some-long-tag' },
    { input: 'foo_bar.com:8080', name: 'foo_bar.com', tag: '8080' },
    { input: 'foo/foo_bar.com:8080', domain: 'foo', name: 'foo/foo_bar.com', tag: '8080' },
    { input: '192.168.1.1', name: '192.168.1.1' },
    { input: '192.168.1.1:5000/repo:5050', domain: '192.168.1.1:5000', name: '192.168.1.1:5000/repo', tag: '5050' },
    { input: '[2001:db8::1]', err: 'invalid reference format' },
    { input: '[2001:db8::1]:5000', err: 'invalid reference format' },
    { input: '[2001:db8::1]:tag', err: 'invalid reference format' },
    { input: '[2001:db8:1:2:3:4:5:6]/repo:tag', domain: '[2001:db8:1:2:3:4:5:6]', name: '[2001:db8:1:2:3:4:5:6]/repo', tag: 'tag' },
    { input: '[2001:db8::]:5000/repo', domain: '[2001:db8::]:5000', name: '[2001:db8::]:5000/repo' },
    { input: '[::1]:5000/repo', domain: '[::1]:5000', name: '[::1]:5000/repo' },
    { input: '[fe80::1%eth0]:5000/repo', err: 'invalid reference format' },
    { input: '[fe80::1%@invalidzone]:5000/repo', err: 'invalid reference format' },
    { input: `example.com/${'a'.repeat(255)}:tag`, domain: 'example.com', name: `example.com/${'a'.repeat(255)}`, tag: 'tag' },
  ];
  for (const c of cases) {
    it(c.input.length > 80 ? c.input.slice(0, 80) + '…' : JSON.stringify(c.input), () => {
      if (c.err !== undefined) return rejects(() => parseCanonical(c.input), c.err);
      const r = parseCanonical(c.input);
      assert.equal(toString(r), c.input);
      assert.equal(name(r), c.name);
      assert.equal(r.domain, c.domain ?? '');
      assert.equal(r.tag, c.tag);
      assert.equal(r.digest, c.digest);
    });
  }
});

describe('helpers', () => {
  it('withDefaultTag adds latest only to bare names', () => {
    const d = `sha256:${HEX64}`;
    assert.equal(toString(withDefaultTag(parseReference('busybox'))), 'docker.io/library/busybox:latest');
    assert.equal(toString(withDefaultTag(parseReference('busybox:1'))), 'docker.io/library/busybox:1');
    assert.equal(toString(withDefaultTag(parseReference(`busybox@${d}`))), `docker.io/library/busybox@${d}`);
  });
  it('withTag validates the tag', () => {
    const r: Reference = parseReference('example.com:8000/foo');
    assert.equal(toString(withTag(r, 'TAG5')), 'example.com:8000/foo:TAG5');
    rejects(() => withTag(r, '-foo'), 'invalid tag format');
    rejects(() => withTag(r, 't'.repeat(129)), 'invalid tag format');
  });
  it('familiar keeps nested library paths', () => {
    assert.equal(familiar(withDefaultTag(parseReference('library/foo/bar'))), 'library/foo/bar:latest');
  });
  it('isImageIdLike', () => {
    for (const s of [ID64, `sha256:${ID64}`, 'abc', 'a', 'sha256:abc123']) assert.ok(isImageIdLike(s), s);
    for (const s of ['', 'busybox', 'ABC', `${ID64}0`, 'sha256:', 'sha512:abc', 'abc:latest']) assert.ok(!isImageIdLike(s), s);
  });
});

describe('parseAnyReference', () => {
  it('takes full hex IDs and sha256 digests as IDs, names otherwise', async () => {
    const { parseAnyReference } = await import('./reference.js');
    const hex = 'a'.repeat(64);
    assert.deepEqual(parseAnyReference(hex), { id: `sha256:${hex}` });
    assert.deepEqual(parseAnyReference(`sha256:${hex}`), { id: `sha256:${hex}` });
    assert.deepEqual(parseAnyReference('busybox'), { domain: 'docker.io', path: 'library/busybox' });
    assert.throws(() => parseAnyReference('Bad:Name:x'), /invalid reference format/);
  });
});
