import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { SwarmNode } from '../../client/types.js';
import { formatRows } from '../formatter.js';
import { compareWithDocker, FakeEngine, FakeSwarm, haveDocker, pier, type Recorded, requestBody, requestShapes } from './fake-engine.js';
import { nodeFormat, nodeHeaders, nodeRows, prettyNode } from './nodes.js';

const shape = (rs: Recorded[]) => requestShapes(rs);
const bodyOf = requestBody;

const node = (id: string, host: string, o: Partial<SwarmNode> = {}): SwarmNode => ({
  ID: id, Version: { Index: 1 }, Spec: { Role: 'worker', Availability: 'active' }, Description: { Hostname: host, Engine: { EngineVersion: '28.0.0' } },
  Status: { State: 'ready' }, ...o,
});

describe('node tables', () => {
  it('marks this node, its leader and its state like docker', () => {
    const rows = nodeRows([
      node('n2', 'host10', { Status: { State: 'down' }, Spec: { Availability: 'drain' } }),
      node('n1', 'host9', { ManagerStatus: { Leader: true, Reachability: 'reachable' } }),
      node('n3', 'host11', { ManagerStatus: { Leader: false, Reachability: 'unreachable' } }),
    ], 'n1');
    assert.equal(formatRows(nodeFormat('table', false), rows, nodeHeaders), [
      // (tabwriter's minimum cell width is 10)
      'ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION',
      'n1 *      host9      Ready     Active         Leader           28.0.0',
      'n2        host10     Down      Drain                           28.0.0',
      'n3        host11     Ready     Active         Unreachable      28.0.0',
      '',
    ].join('\n'));
    assert.equal(formatRows(nodeFormat('table', true), rows, nodeHeaders), 'n1\nn2\nn3\n');
    assert.equal(rows[0]!.TLSStatus, 'Unknown');
  });

  it('prints --pretty as docker\'s template does', () => {
    const text = prettyNode(node('n1', 'host1', {
      CreatedAt: '2024-01-01T12:00:00.5Z', Spec: { Name: 'one', Labels: { b: '', a: '1' }, Availability: 'pause' },
      Status: { State: 'ready', Addr: '10.0.0.1' }, ManagerStatus: { Leader: false, Reachability: 'reachable', Addr: '10.0.0.1:2377' },
      Description: { Hostname: 'host1', Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: { NanoCPUs: 1.5e9, MemoryBytes: 2 * 1024 ** 3 }, Engine: { EngineVersion: '1.0', Plugins: [{ Type: 'Network', Name: 'overlay' }, { Type: 'Network', Name: 'bridge' }] } },
    }));
    assert.equal(text, 'ID:\t\t\tn1\nName:\t\t\tone\nLabels:\n - a=1\n - b\nHostname:              \thost1\nJoined at:             \t2024-01-01 12:00:00.5 +0000 utc\n' +
      'Status:\n State:\t\t\tReady\n Availability:         \tPause\n Address:\t\t10.0.0.1\nManager Status:\n Address:\t\t10.0.0.1:2377\n Raft Status:\t\tReachable\n Leader:\t\tNo\n' +
      'Platform:\n Operating System:\tlinux\n Architecture:\t\tx86_64\nResources:\n CPUs:\t\t\t1.5\n Memory:\t\t2GiB\nPlugins:\n Network:\t\tbridge, overlay\nEngine Version:\t\t1.0');
  });
});

describe('node commands against a fake swarm', () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await new FakeEngine(() => undefined, undefined, '1.48').start();
  });
  after(async () => {
    await engine.stop();
  });

  async function run(args: string[]) {
    engine.handler = new FakeSwarm().handler;
    const n = engine.requests.length;
    const r = await pier(engine.host, args);
    return { ...r, reqs: engine.since(n) };
  }

  it('ls marks self', async () => {
    const r = await run(['node', 'ls']);
    assert.equal(r.out, `ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n${FakeSwarm.NODE} *   host1      Ready     Active         Leader           28.2.2\n`);
    assert.deepEqual(shape(r.reqs), ['GET /nodes', 'GET /info']);
  });

  it('update sends the spec with the version it read', async () => {
    const r = await run(['node', 'update', '--availability', 'drain', '--label-add', 'zone=a', '--role', 'worker', 'host1']);
    assert.deepEqual([r.code, r.out], [0, 'host1\n']);
    assert.deepEqual(shape(r.reqs), ['GET /nodes/host1', `POST /nodes/${FakeSwarm.NODE}/update?version=9`]);
    assert.deepEqual(bodyOf(r.reqs[1]!), { Labels: { zone: 'a' }, Role: 'worker', Availability: 'drain' });
    const rm = await run(['node', 'update', '--label-rm', 'nope', 'host1']);
    assert.deepEqual([rm.code, rm.err], [1, "key nope doesn't exist in node's labels\n"]);
  });

  it('inspect self, ps and rm', async () => {
    const i = await run(['node', 'inspect', 'self']);
    assert.equal(JSON.parse(i.out)[0].ID, FakeSwarm.NODE);
    assert.deepEqual(shape(i.reqs), ['GET /info', `GET /nodes/${FakeSwarm.NODE}`]);
    const ps = await run(['node', 'ps', '-q']);
    assert.equal(ps.out, 'task1ccccccccccccccccccccc\ntask3eeeeeeeeeeeeeeeeeeeee\ntask2ddddddddddddddddddddd\n');
    assert.equal(shape(ps.reqs)[2], `GET /tasks?filters={"node":{"${FakeSwarm.NODE}":true}}`);
    const rm = await run(['node', 'rm', '-f', 'host1', 'other']);
    assert.deepEqual([rm.code, rm.out, rm.err], [1, 'host1\n', 'Error response from daemon: node other not found\n']);
    assert.deepEqual(shape(rm.reqs), ['DELETE /nodes/host1?force=1', 'DELETE /nodes/other?force=1']);
  });
});

describe('node commands against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  before(async () => {
    engine = await new FakeEngine(() => undefined, undefined, '1.48').start();
  });
  after(async () => {
    await engine.stop();
  });

  for (const args of [
    ['node', 'ls'], ['node', 'ls', '-q'], ['node', 'list', '--format', '{{json .}}'], ['node', 'inspect', '--pretty', 'self'], ['node', 'inspect', '-f', 'json', 'self'], ['node', 'inspect', '-f', '{{.ID}} {{.Spec.Role}}', 'host1'],
    ['node', 'inspect', 'nope'], ['node', 'update', '--availability', 'pause', '--label-add', 'a=b', 'host1'], ['node', 'rm', 'host1'], ['node', 'rm', '-f', 'host1', 'nope'],
    ['node', 'ps'], ['node', 'ps', 'host1'], ['node', 'promote', 'host1'], ['node', 'demote', 'host1', 'nope'], ['node', '--help'], ['node', 'ps', '--no-trunc', '-f', 'desired-state=running', 'self'],
  ]) {
    it(args.join(' '), async () => {
      const now = Math.floor(Date.now() / 1000) * 1000 - 877; // Go trims trailing zeros of the times it re-encodes
      await compareWithDocker(engine, args, { fresh: () => new FakeSwarm(now).handler, dockerizeOut: true });
    });
  }
});
