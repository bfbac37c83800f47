import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from './errors.js';
import { checkDigest, checkName, isName, isTag, parseRef } from './names.js';

describe('registry names', () => {
  it('accepts repository names of the spec grammar, up to 255 characters', () => {
    for (const n of ['a', 'library/busybox', 'a.b_c__d-e--f', 'x0/y1/z2', 'a-----b', 'a'.repeat(255)]) assert.ok(isName(n), n);
    for (const n of ['', 'A', 'a/', '/a', 'a//b', '_a', 'a_', 'a___b', 'a..b', 'a/../b', '.', '..', 'a/.', 'a b', 'a:b', 'a'.repeat(256), 'é']) assert.ok(!isName(n), n);
  });

  it('NAME_INVALID says why', () => {
    assert.throws(() => checkName('Up'), (e) => e instanceof RegistryError && e.code === 'NAME_INVALID' && e.status === 400);
    assert.throws(() => checkName('a'.repeat(256)), /longer than 255/);
  });

  it('tags: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
    for (const t of ['latest', 'V1.2.3', '_x', 'a-b_c.d', 'x'.repeat(128)]) assert.ok(isTag(t), t);
    for (const t of ['', '.x', '-x', 'a/b', 'a:b', 'x'.repeat(129), '..']) assert.ok(!isTag(t), t);
  });

  it('references are tags or digests', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    assert.deepEqual(parseRef('v1'), { tag: 'v1' });
    assert.deepEqual(parseRef(d), { digest: d });
    assert.equal(parseRef('sha256:short'), undefined);
    assert.equal(parseRef('bad tag'), undefined);
    assert.equal(checkDigest(d), d);
    assert.throws(() => checkDigest('md5:abc'), (e) => e instanceof RegistryError && e.code === 'DIGEST_INVALID');
    assert.throws(() => checkDigest(null), (e) => e instanceof RegistryError && e.code === 'DIGEST_INVALID');
  });
});
