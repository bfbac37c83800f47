import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessFor, routeOf, splitAddr } from './server.js';

describe('registry routes', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  it('routes by the last keyword, so names may contain slashes', () => {
    assert.deepEqual(routeOf('/v2/'), { kind: 'base' });
    assert.deepEqual(routeOf('/v2/_catalog'), { kind: 'catalog' });
    assert.deepEqual(routeOf('/v2/a/b/c/tags/list'), { kind: 'tags', repo: 'a/b/c' });
    assert.deepEqual(routeOf('/v2/a/manifests/v1'), { kind: 'manifest', repo: 'a', ref: 'v1' });
    assert.deepEqual(routeOf(`/v2/a/b/manifests/${d.replace(':', '%3A')}`), { kind: 'manifest', repo: 'a/b', ref: d });
    assert.deepEqual(routeOf(`/v2/a/blobs/${d}`), { kind: 'blob', repo: 'a', digest: d });
    assert.deepEqual(routeOf('/v2/a/blobs/uploads/'), { kind: 'uploads', repo: 'a' });
    assert.deepEqual(routeOf('/v2/a/blobs/uploads'), { kind: 'uploads', repo: 'a' });
    assert.deepEqual(routeOf('/v2/a/blobs/uploads/u-1'), { kind: 'upload', repo: 'a', uuid: 'u-1' });
    assert.deepEqual(routeOf(`/v2/blobs/blobs/${d}`), { kind: 'blob', repo: 'blobs', digest: d });
    assert.deepEqual(routeOf(`/v2/a/referrers/${d}`), { kind: 'referrers', repo: 'a', digest: d });
    assert.equal(routeOf('/v2/a/other'), undefined);
  });

  it('computes the access a request needs', () => {
    const q = (s = '') => new URLSearchParams(s);
    assert.deepEqual(accessFor({ kind: 'base' }, 'GET', q()), []);
    assert.deepEqual(accessFor({ kind: 'manifest', repo: 'a', ref: 'v1' }, 'HEAD', q()), [{ type: 'repository', name: 'a', actions: ['pull'] }]);
    assert.deepEqual(accessFor({ kind: 'upload', repo: 'a', uuid: 'u' }, 'PATCH', q()), [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }]);
    assert.deepEqual(accessFor({ kind: 'blob', repo: 'a', digest: d }, 'DELETE', q()), [{ type: 'repository', name: 'a', actions: ['delete'] }]);
    assert.deepEqual(accessFor({ kind: 'uploads', repo: 'a' }, 'POST', q(`mount=${d}&from=b`))[1], { type: 'repository', name: 'b', actions: ['pull'] });
    assert.equal(accessFor({ kind: 'uploads', repo: 'a' }, 'POST', q(`mount=${d}&from=B!`)).length, 1, 'an invalid source asks for nothing');
  });

  it('splits listen addresses', () => {
    assert.deepEqual(splitAddr('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(splitAddr('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(splitAddr(':5000'), { host: '0.0.0.0', port: 5000 });
    assert.throws(() => splitAddr('localhost'), /host:port/);
  });
});
