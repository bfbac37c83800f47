import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { resolveInRoot, resolveUser } from './user.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
`;
const GROUP = `root:x:0:
wheel:x:10:alice,root
alice:x:1000:
bob:x:1001:
staff:x:50:alice, bob
audio:x:29:bob
`;

async function withRoot(files: Record<string, string>, fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'pier-user-'));
  try {
    await mkdir(join(root, 'etc'));
    for (const [p, text] of Object.entries(files)) await writeFile(join(root, p), text);
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const invalidWith = (re: RegExp) => (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && re.test(e.message);

describe('resolveUser', () => {
  it("'' is root with passwd's home and root's supplementary groups", async () => {
    await withRoot({ 'etc/passwd': PASSWD, 'etc/group': GROUP }, async (root) => {
      assert.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [10], home: '/root', name: 'root' });
      assert.deepEqual(await resolveUser(root, undefined), await resolveUser(root, ''));
    });
  });

  it('a name gets its uid, gid, home and member groups', async () => {
    await withRoot({ 'etc/passwd': PASSWD, 'etc/group': GROUP }, async (root) => {
      assert.deepEqual(await resolveUser(root, 'alice'), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/alice', name: 'alice' });
      // a uid with an entry is that entry
      assert.deepEqual(await resolveUser(root, '1001'), { uid: 1001, gid: 1001, additionalGids: [50, 29], home: '/home/bob', name: 'bob' });
    });
  });

  it('explicit group: name or gid, no supplementary groups', async () => {
    await withRoot({ 'etc/passwd': PASSWD, 'etc/group': GROUP }, async (root) => {
      assert.deepEqual(await resolveUser(root, 'alice:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/alice', name: 'alice' });
      assert.deepEqual(await resolveUser(root, '1000:1000'), { uid: 1000, gid: 1000, additionalGids: [], home: '/home/alice', name: 'alice' });
      assert.deepEqual(await resolveUser(root, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    });
  });

  it('numeric ids need no entry; missing names are errors with Docker words', async () => {
    await withRoot({ 'etc/passwd': PASSWD, 'etc/group': GROUP }, async (root) => {
      assert.deepEqual(await resolveUser(root, '5000'), { uid: 5000, gid: 0, additionalGids: [], home: '/' });
      await assert.rejects(resolveUser(root, 'mallory'), invalidWith(/^unable to find user mallory: no matching entries in passwd file$/));
      await assert.rejects(resolveUser(root, 'alice:nogroup'), invalidWith(/^unable to find group nogroup: no matching entries in group file$/));
      await assert.rejects(resolveUser(root, '-1'), invalidWith(/uids and gids must be in range 0-2147483647/));
    });
  });

  it('GroupAdd: names and gids, known or numeric', async () => {
    await withRoot({ 'etc/passwd': PASSWD, 'etc/group': GROUP }, async (root) => {
      assert.deepEqual((await resolveUser(root, '1000:1000', ['audio', '10', '777'])).additionalGids, [29, 10, 777]);
      assert.deepEqual((await resolveUser(root, 'alice', ['staff', 'audio'])).additionalGids, [10, 50, 29]);
      await assert.rejects(resolveUser(root, '', ['video']), invalidWith(/^Unable to find group video: no matching entries in group file$/));
    });
  });

  it('without passwd or group files: numeric works, names fail', async () => {
    await withRoot({}, async (root) => {
      assert.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
      assert.deepEqual(await resolveUser(root, '1000:1000', ['44']), { uid: 1000, gid: 1000, additionalGids: [44], home: '/' });
      await assert.rejects(resolveUser(root, 'alice'), invalidWith(/unable to find user alice/));
    });
  });

  it('an absolute symlink at /etc/passwd resolves inside the root, never on the host', async () => {
    await withRoot({ 'passwd.real': 'ghost:x:1234:5678:g:/ghost:/bin/sh\n', 'group.real': 'spooks:x:5678:ghost\n' }, async (root) => {
      // /etc/passwd → /passwd.real (absolute): on the host that path does not exist; in the container it does.
      await symlink('/passwd.real', join(root, 'etc/passwd'));
      await symlink('../../../../../../group.real', join(root, 'etc/group')); // climbing out clamps at the root
      assert.deepEqual(await resolveUser(root, 'ghost'), { uid: 1234, gid: 5678, additionalGids: [5678], home: '/ghost', name: 'ghost' });
    });
    // The escape: links at a host file that exists (absolute, and relative climbing out): the host's entries must not be seen.
    const host = await mkdtemp(join(tmpdir(), 'pier-user-host-'));
    try {
      await writeFile(join(host, 'passwd'), 'hostonly:x:4321:4321::/:/bin/sh\n');
      await writeFile(join(host, 'group'), 'hostgroup:x:4444:\n');
      await withRoot({}, async (root) => {
        await symlink(join(host, 'passwd'), join(root, 'etc/passwd'));
        await symlink(`../../../../../../../..${join(host, 'group')}`, join(root, 'etc/group'));
        await assert.rejects(resolveUser(root, 'hostonly'), invalidWith(/unable to find user hostonly/));
        await assert.rejects(resolveUser(root, '0:hostgroup'), invalidWith(/unable to find group hostgroup/));
        // the same paths made inside the root are what is read
        await mkdir(join(root, host), { recursive: true });
        await writeFile(join(root, host, 'passwd'), 'inside:x:77:88::/in:/bin/sh\n');
        assert.deepEqual(await resolveUser(root, 'inside'), { uid: 77, gid: 88, additionalGids: [], home: '/in', name: 'inside' });
      });
    } finally {
      await rm(host, { recursive: true, force: true });
    }
  });

  it('resolveInRoot follows directory symlinks within the root', async () => {
    await withRoot({}, async (root) => {
      await mkdir(join(root, 'real'));
      await writeFile(join(root, 'real/passwd'), 'x');
      await rm(join(root, 'etc'), { recursive: true });
      await symlink('/real', join(root, 'etc'));
      assert.equal(await resolveInRoot(root, '/etc/passwd'), join(root, 'real/passwd'));
      assert.equal(await resolveInRoot(root, '/etc/missing/x'), undefined);
    });
  });
});
