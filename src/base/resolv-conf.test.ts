import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseResolvConf } from './resolv-conf.js';

describe('parseResolvConf', () => {
  it('takes name servers in order, the last search/domain line, and every options line', () => {
    const c = parseResolvConf('# comment\nnameserver 10.0.0.1\ndomain a.example\nsearch b.example c.example\nnameserver 127.0.0.53\noptions ndots:2\noptions edns0\n');
    assert.deepEqual(c, { nameservers: ['10.0.0.1', '127.0.0.53'], search: ['b.example', 'c.example'], options: ['ndots:2', 'edns0'] });
    assert.deepEqual(parseResolvConf(''), { nameservers: [], search: [], options: [] });
  });
});
