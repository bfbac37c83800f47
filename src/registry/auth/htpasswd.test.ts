import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { EngineError } from '../../base/errdefs.js';
import { createAuthenticator, parseHtpasswd } from './index.js';
import { allowAll } from '../hooks.js';
import { Htpasswd } from './htpasswd.js';

const req = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('htpasswd basic auth', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-htpasswd-'));
    file = join(dir, 'htpasswd');
    // htpasswd -B writes $2y$; bcryptjs writes $2b$. Both must verify.
    const y = bcrypt.hashSync('s3cret', 4).replace(/^\$2b\$/, '$2y$');
    await writeFile(file, `# users\nalice:${y}\n\nbob:${bcrypt.hashSync('pa:ss', 4)}\n`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('answers 401 with a Basic challenge when credentials are missing', async () => {
    const auth = await createAuthenticator({ htpasswd: file });
    const r = await auth.authorize(req(), [{ type: 'repository', name: 'x', actions: ['pull'] }]);
    assert.deepEqual(r, { ok: false, status: 401, challenge: 'Basic realm="Pier Registry"', message: 'authentication required' });
    const bearer = await auth.authorize(req('Bearer abc'), []);
    assert.equal(bearer.ok, false);
  });

  it('answers 401 to a wrong password or unknown user', async () => {
    const auth = await createAuthenticator({ htpasswd: file });
    for (const h of [basic('alice', 'wrong'), basic('carol', 's3cret'), basic('alice', '')]) {
      const r = await auth.authorize(req(h), []);
      assert.ok(!r.ok && r.status === 401 && r.challenge === 'Basic realm="Pier Registry"', JSON.stringify(r));
    }
  });

  it('lets the right password through, $2y$ and passwords with ":" included', async () => {
    const auth = await createAuthenticator({ htpasswd: file });
    assert.deepEqual(await auth.authorize(req(basic('alice', 's3cret')), []), { ok: true, user: 'alice' });
    assert.deepEqual(await auth.authorize(req(basic('bob', 'pa:ss')), []), { ok: true, user: 'bob' });
    // again, from the cache
    assert.deepEqual(await auth.authorize(req(basic('alice', 's3cret')), []), { ok: true, user: 'alice' });
    assert.equal((await auth.authorize(req(basic('alice', 's3cret!')), [])).ok, false);
  });

  it('refuses a non-bcrypt line at load, naming the line and the user', async () => {
    const bad = join(dir, 'bad');
    await writeFile(bad, `alice:${bcrypt.hashSync('x', 4)}\ncarol:$apr1$abc$def\n`);
    await assert.rejects(createAuthenticator({ htpasswd: bad }), (e: unknown) => {
      assert.ok(e instanceof EngineError && e.kind === 'invalid');
      assert.match(e.message, /line 2 \(user "carol"\).*MD5.*only bcrypt/);
      return true;
    });
    assert.throws(() => parseHtpasswd('dave:{SHA}abc='), /line 1 \(user "dave"\).*SHA-1/);
    assert.throws(() => parseHtpasswd('erin:plain'), /line 1 \(user "erin"\).*plain text/);
    assert.throws(() => parseHtpasswd('no-colon-here'), /line 1: expected "user:bcrypt-hash"/);
  });

  it('names a missing file', async () => {
    await assert.rejects(createAuthenticator({ htpasswd: join(dir, 'nope') }), /htpasswd file .*nope: no such file/);
  });

  it('picks up changes to the file', async () => {
    const f = join(dir, 'live');
    await writeFile(f, `alice:${bcrypt.hashSync('one', 4)}\n`);
    const h = await Htpasswd.open(f);
    assert.equal(await h.verify('alice', 'one'), true);
    await writeFile(f, `alice:${bcrypt.hashSync('two', 4)}\n`);
    await utimes(f, new Date(), new Date(Date.now() + 5000));
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await h.verify('alice', 'two'), true);
    assert.equal(await h.verify('alice', 'one'), false, 'the cache is dropped on reload');
  });

  it('allows everything when nothing is configured', async () => {
    assert.equal(await createAuthenticator({}), allowAll);
  });
});
