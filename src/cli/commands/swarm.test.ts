import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../flags.js';
import { compareWithDocker, FakeEngine, FakeSwarm, haveDocker, pier, type Recorded, requestBody, requestShapes } from './fake-engine.js';
import { commands, initRequest } from './swarm.js';

const shape = (rs: Recorded[]) => requestShapes(rs);
const bodyOf = requestBody;

describe('swarm init request', () => {
  it('sends docker\'s body, defaults included', () => {
    const f = (argv: string[]) => initRequest(parseFlags(argv, commands['init']!.flags));
    assert.deepEqual(f([]), {
      ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '', DataPathAddr: '', DataPathPort: 0, ForceNewCluster: false,
      Spec: { Labels: null, Orchestration: {}, Raft: { ElectionTick: 0, HeartbeatTick: 0 }, Dispatcher: {}, CAConfig: {}, TaskDefaults: {}, EncryptionConfig: { AutoLockManagers: false } },
      AutoLockManagers: false, Availability: '', DefaultAddrPool: [], SubnetSize: 24,
    });
    const full = f(['--advertise-addr', '10.0.0.1', '--listen-addr', '10.0.0.1:4000', '--force-new-cluster', '--task-history-limit', '3', '--autolock',
      '--availability', 'Drain', '--default-addr-pool', '10.10.0.0/16', '--dispatcher-heartbeat', '10s', '--cert-expiry', '24h']);
    assert.deepEqual([full.ListenAddr, full.AdvertiseAddr, full.ForceNewCluster, full.AutoLockManagers, full.Availability, full.DefaultAddrPool],
      ['10.0.0.1:4000', '10.0.0.1', true, true, 'drain', ['10.10.0.0/16']]);
    assert.deepEqual(full.Spec.Orchestration, { TaskHistoryRetentionLimit: 3 });
    assert.deepEqual(full.Spec.Dispatcher, { HeartbeatPeriod: 10e9 });
    assert.deepEqual(full.Spec.CAConfig, { NodeCertExpiry: 86400e9 });
    assert.deepEqual(full.Spec.EncryptionConfig, { AutoLockManagers: true });
    assert.throws(() => f(['--availability', 'bogus']), { message: 'invalid availability "bogus", only active, pause and drain are supported' });
  });
});

describe('swarm commands against a fake swarm', () => {
  let engine: FakeEngine;
  let swarm: FakeSwarm;
  before(async () => {
    engine = await new FakeEngine(() => undefined, undefined, '1.48').start();
  });
  after(async () => {
    await engine.stop();
  });

  async function run(args: string[], fresh = true) {
    if (fresh) {
      swarm = new FakeSwarm();
      engine.handler = swarm.handler;
    }
    const n = engine.requests.length;
    const r = await pier(engine.host, args);
    return { ...r, reqs: engine.since(n) };
  }

  it('init prints how to join, with pier\'s name', async () => {
    const r = await run(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    assert.deepEqual([r.code, r.err], [0, '']);
    assert.equal(r.out, `Swarm initialized: current node (${FakeSwarm.NODE}) is now a manager.\n\n` +
      'To add a worker to this swarm, run the following command:\n\n    pier swarm join --token SWMTKN-1-worker 127.0.0.1:2377\n\n' +
      "To add a manager to this swarm, run 'pier swarm join-token manager' and follow the instructions.\n");
    assert.deepEqual(shape(r.reqs), ['POST /swarm/init', `GET /nodes/${FakeSwarm.NODE}`, 'GET /swarm']);
    assert.equal(bodyOf(r.reqs[0]!).AdvertiseAddr, '127.0.0.1');
  });

  it('update, join-token and unlock-key', async () => {
    const u = await run(['swarm', 'update', '--task-history-limit', '7']);
    assert.deepEqual([u.code, u.out], [0, 'Swarm updated.\n']);
    assert.deepEqual(shape(u.reqs), ['GET /swarm', 'POST /swarm/update?rotateManagerToken=false&rotateManagerUnlockKey=false&rotateWorkerToken=false&version=10']);
    assert.deepEqual(bodyOf(u.reqs[1]!).Orchestration, { TaskHistoryRetentionLimit: 7 });
    const noKey = await run(['swarm', 'unlock-key'], false);
    assert.deepEqual([noKey.code, noKey.err], [1, 'no unlock key is set\n']);
    const lock = await run(['swarm', 'update', '--autolock'], false);
    assert.match(lock.out, /^Swarm updated\.\nTo unlock a swarm manager after it restarts, run the `pier swarm unlock`\ncommand and provide the following key:\n\n {4}SWMKEY-1-abc\n/);
    assert.equal(lock.reqs[1]!.query.get('version'), '11');
    const key = await run(['swarm', 'unlock-key', '-q'], false);
    assert.equal(key.out, 'SWMKEY-1-abc\n');
    const token = await run(['swarm', 'join-token', 'manager'], false);
    assert.equal(token.out, 'To add a manager to this swarm, run the following command:\n\n    pier swarm join --token SWMTKN-1-manager 127.0.0.1:2377\n\n');
    const rotate = await run(['swarm', 'join-token', '--rotate', '-q', 'worker'], false);
    assert.equal(rotate.out, 'SWMTKN-1-worker\n');
    assert.equal(rotate.reqs[1]!.query.get('rotateWorkerToken'), 'true');
    const bad = await run(['swarm', 'join-token', 'admin'], false);
    assert.deepEqual([bad.code, bad.err], [1, 'unknown role admin\n']);
  });

  it('leave and inspect', async () => {
    const l = await run(['swarm', 'leave', '--force']);
    assert.deepEqual([l.code, l.out, shape(l.reqs)], [0, 'Node left the swarm.\n', ['POST /swarm/leave?force=1']]);
    const i = await run(['swarm', 'inspect', '-f', '{{.Version.Index}} {{.Spec.Orchestration.TaskHistoryRetentionLimit}}']);
    assert.equal(i.out, '10 5\n');
    const j = await run(['swarm', 'inspect']);
    assert.equal(JSON.parse(j.out)[0].JoinTokens.Worker, 'SWMTKN-1-worker');
  });

  it('reports the daemon\'s errors', async () => {
    engine.handler = (r) => (r.path === '/swarm/init' ? { status: 503, json: { message: 'This node is already part of a swarm.' } } : undefined);
    const r = await run(['swarm', 'init'], false);
    assert.deepEqual([r.code, r.out, r.err], [1, '', 'Error response from daemon: This node is already part of a swarm.\n']);
  });
});

describe('swarm commands against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await new FakeEngine(() => undefined, undefined, '1.48').start();
  });
  after(async () => {
    await engine.stop();
  });

  for (const args of [
    ['swarm', 'init'], ['swarm', 'init', '--advertise-addr', '127.0.0.1', '--task-history-limit', '2', '--autolock', '--force-new-cluster', '--default-addr-pool', '10.20.0.0/16'],
    ['swarm', 'leave'], ['swarm', 'leave', '-f'], ['swarm', 'join-token', 'worker'], ['swarm', 'join-token', '-q', 'manager'], ['swarm', 'join-token', '--rotate', 'manager'],
    ['swarm', 'join-token', 'x'], ['swarm', 'unlock-key'], ['swarm', 'update', '--task-history-limit', '9', '--snapshot-interval', '5'], ['swarm', 'update', '--autolock'],
  ]) {
    it(args.join(' '), async () => {
      const now = Math.floor(Date.now() / 1000) * 1000 - 877; // Go trims trailing zeros of the times it re-encodes
      await compareWithDocker(engine, args, { fresh: () => new FakeSwarm(now).handler, dockerizeOut: true });
    });
  }
});
