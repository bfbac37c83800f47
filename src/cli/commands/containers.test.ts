import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerListItem } from '../../client/types.js';
import { formatRows } from '../formatter.js';
import { containerFormat, containerHeaders, containerRows, displayablePorts, naturalLess } from './containers.js';
import { compareWithDocker, docker, FakeEngine, frame, haveDocker, pier } from './fake-engine.js';
import {
  calculateCPUPercentUnix, calculateMemUsageUnixNoCache, formatPercentage, liveFrame, renderStats, statsEntry,
} from './stats.js';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const ID1 = '90d5392ef2fccbfeff3bc0f2e7672d8cf8e3496660a12a6c5559d56d602dc4ff';
const ID2 = 'b14d1af14b032506636f9eed96e9882b2f98eba6bdae475d36539370f81401c4';
const IMG = 'sha256:a9049923ed84f743d6149c193ed64ebaf28f2bc700c35f02500a7fb3d6ac3dd8';

function list(now: number): ContainerListItem[] {
  const created = (agoS: number) => Math.floor(now / 1000) - agoS;
  return [
    {
      Id: ID1, Names: ['/web'], Image: 'nginx:latest', ImageID: IMG, Command: "/docker-entrypoint.sh nginx -g 'daemon off;'", Created: created(125),
      Ports: [
        { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
        { PrivatePort: 443, Type: 'tcp' }, { PrivatePort: 9000, Type: 'udp' }, { PrivatePort: 9001, Type: 'udp' },
        { IP: '127.0.0.1', PrivatePort: 7000, PublicPort: 7000, Type: 'tcp' }, { IP: '127.0.0.1', PrivatePort: 7001, PublicPort: 7001, Type: 'tcp' },
      ],
      Labels: { 'com.example.b': '2', 'com.example.a': '1' }, State: 'running', Status: 'Up 2 minutes (healthy)', SizeRw: 12, SizeRootFs: 1234567,
      HostConfig: { NetworkMode: 'bridge' },
      NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
      Mounts: [{ Type: 'volume', Name: 'abcdef0123456789abcdef', Source: '/var/lib/docker/volumes/abc/_data', Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' }],
    },
    {
      Id: ID2, Names: ['/db', '/web/db'], Image: IMG, ImageID: IMG, Command: 'sleep 1000', Created: created(3 * 3600 + 5),
      Ports: [], Labels: {}, State: 'exited', Status: 'Exited (0) 3 hours ago', HostConfig: { NetworkMode: 'none' },
      NetworkSettings: { Networks: {} }, Mounts: [{ Type: 'bind', Source: '/home/user/some/long/path', Destination: '/x', Mode: '', RW: true, Propagation: 'rprivate' }],
    },
    {
      Id: 'a'.repeat(64), Names: ['/tagged'], Image: `localhost:5000/team/app:v1@sha256:${'1'.repeat(64)}`, ImageID: 'sha256:' + '2'.repeat(64),
      Command: '', Created: created(45 * 60), Ports: [], Labels: null, State: 'created', Status: 'Created',
    },
  ];
}

describe('ps rows', () => {
  it('renders the default table like docker', () => {
    const rows = containerRows(list(NOW), { trunc: true, now: NOW });
    const out = formatRows(containerFormat('', false, false), rows, containerHeaders);
    assert.equal(out.split('\n')[0], 'CONTAINER ID   IMAGE                        COMMAND                  CREATED          STATUS                   PORTS                                                                                                 NAMES');
    assert.match(out, /^90d5392ef2fc   nginx:latest +"\/docker-entrypoint.…"   2 minutes ago    Up 2 minutes \(healthy\)   443\/tcp, 127\.0\.0\.1:7000-7001->7000-7001\/tcp, 9000-9001\/udp, 0\.0\.0\.0:8080->80\/tcp, \[::\]:8080->80\/tcp   web$/m);
    assert.match(out, /^b14d1af14b03   a9049923ed84 +"sleep 1000" +3 hours ago +Exited \(0\) 3 hours ago +db$/m);
    assert.match(out, /^aaaaaaaaaaaa   localhost:5000\/team\/app:v1   "" +45 minutes ago +Created +tagged$/m);
  });
  it('shows sizes, labels, mounts and untruncated names', () => {
    const [web, db] = containerRows(list(NOW), { trunc: false, now: NOW });
    assert.equal(web!.Size, '12B (virtual 1.23MB)');
    assert.equal(db!.Size, '0B');
    assert.equal(web!.Labels, 'com.example.a=1,com.example.b=2');
    assert.equal(db!.Names, 'db,web/db');
    assert.equal(db!.Mounts, '/home/user/some/long/path');
    assert.equal(containerRows(list(NOW), { trunc: true, now: NOW })[1]!.Mounts, '/home/user/som…');
    assert.equal(web!.LocalVolumes, '1');
    assert.equal((web as unknown as { Label(n: string): string }).Label('com.example.a'), '1');
  });
  it('groups ports like docker', () => {
    assert.equal(displayablePorts([{ PrivatePort: 80, Type: 'tcp' }, { PrivatePort: 81, Type: 'tcp' }, { PrivatePort: 83, Type: 'tcp' }]), '80-81/tcp, 83/tcp');
    assert.equal(displayablePorts([{ IP: '::1', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }]), '[::1]:5353->53/udp');
  });
  it('sorts port lines naturally', () => {
    assert.ok(naturalLess('80/tcp -> 0.0.0.0:9', '443/tcp -> 0.0.0.0:1'));
    assert.ok(naturalLess('a2', 'a10'));
    assert.ok(!naturalLess('a10', 'a2'));
  });
});

describe('stats math', () => {
  const sample = {
    read: '2026-11-28T02:41:52.472426399Z', pids_stats: { current: 3 },
    blkio_stats: { io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 8192 }, { major: 8, minor: 0, op: 'Total', value: 12288 }] },
    cpu_stats: { cpu_usage: { total_usage: 400_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 200_000_000 }, system_cpu_usage: 18_000_000_000, online_cpus: 2 },
    memory_stats: { usage: 10 * 1024 * 1024, stats: { inactive_file: 2 * 1024 * 1024 }, limit: 100 * 1024 * 1024 },
    networks: { eth0: { rx_bytes: 1500, tx_bytes: 700 }, eth1: { rx_bytes: 500, tx_bytes: 300 } },
    name: '/web', id: ID1,
  };
  it('computes docker\'s numbers', () => {
    assert.equal(calculateCPUPercentUnix(sample.precpu_stats, sample.cpu_stats), 20);
    assert.equal(calculateCPUPercentUnix({ cpu_usage: { total_usage: 1 } }, { cpu_usage: { total_usage: 1 } }), 0);
    assert.equal(calculateCPUPercentUnix({ cpu_usage: { total_usage: 0 }, system_cpu_usage: 0 }, { cpu_usage: { total_usage: 10, percpu_usage: [1, 2, 3, 4] }, system_cpu_usage: 100 }), 40);
    assert.equal(calculateMemUsageUnixNoCache(sample.memory_stats), 8 * 1024 * 1024);
    assert.equal(calculateMemUsageUnixNoCache({ usage: 100, stats: { total_inactive_file: 30, inactive_file: 10 } }), 70);
    assert.equal(calculateMemUsageUnixNoCache({ usage: 100, stats: { total_inactive_file: 300 } }), 100);
    const e = statsEntry('web', sample);
    assert.deepEqual([e.NetworkRx, e.NetworkTx, e.BlockRead, e.BlockWrite, e.PidsCurrent, e.MemoryPercentage], [2000, 1000, 4096, 8192, 3, 8]);
    assert.equal(renderStats('table', [e], true), [
      'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O     BLOCK I/O        PIDS',
      '90d5392ef2fc   web       20.00%    8MiB / 100MiB       8.00%     2kB / 1kB   4.1kB / 8.19kB   3',
      '',
    ].join('\n'));
    assert.equal(renderStats('table', [{ ...e, IsInvalid: true, Name: '' }], true).split('\n')[1], '90d5392ef2fc   --        --        -- / --             --        --        --          --');
  });
  it('rounds percentages as Go does', () => {
    assert.equal(formatPercentage(0.125), '0.12%');
    assert.equal(formatPercentage(0.375), '0.38%');
    assert.equal(formatPercentage(1.005), '1.00%'); // 1.005 is a little below in binary
    assert.equal(formatPercentage(12.3456), '12.35%');
  });
  it('draws the live frame as docker 28 does', () => {
    assert.equal(liveFrame('A\nB\n'), '\x1b[HA\nB\n\x1b[HA \x1b[K\nB \x1b[K\n \x1b[K\n\x1b[J');
  });
});

describe('container commands against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  let dir: string;
  const now = Date.now();
  const inspectDoc = (id: string, name: string, tty = false) =>
    `{"Id":"${id}","Created":"2026-11-28T02:12:15.979188734Z","Path":"sleep","Args":["1000"],"State":{"Status":"running","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":14620,"ExitCode":0,"Error":"","StartedAt":"2026-11-28T02:12:19.763228169Z","FinishedAt":"0001-01-01T00:00:00Z"},"Image":"${IMG}","Name":"/${name}","RestartCount":0,"HostConfig":{"AutoRemove":false},"Config":{"Tty":${tty},"OpenStdin":false,"Cmd":["sleep","1000"],"Labels":{"a":"<b>"}},"NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"443/tcp":null,"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],"9/tcp":[{"HostIp":"0.0.0.0","HostPort":"10009"}]}}}`;
  const statsSample = (name: string, id: string) => JSON.stringify({
    read: '2026-11-28T02:41:52.472426399Z', preread: '2026-11-28T02:41:51.46971476Z', pids_stats: { current: 1 },
    blkio_stats: { io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'read', value: 1234567 }, { major: 8, minor: 0, op: 'write', value: 89 }] },
    cpu_stats: { cpu_usage: { total_usage: 18425111, percpu_usage: [3159126, 15265985] }, system_cpu_usage: 19529870000000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 17425111 }, system_cpu_usage: 19527880000000, online_cpus: 2 },
    memory_stats: { usage: 372736, stats: { total_inactive_file: 4096, inactive_file: 4096 }, limit: 25276510208 },
    networks: { eth0: { rx_bytes: 1234, tx_bytes: 5678 } },
    name, id,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pier-containers-'));
    engine = await new FakeEngine((r) => {
      const p = r.path;
      const m = /^\/containers\/([^/]+)\/(.+)$/.exec(p);
      const [, name, action] = m ?? [];
      if (p === '/containers/json') return { json: list(now) };
      if (p === '/info') return { json: { Swarm: { LocalNodeState: 'inactive', ControlAvailable: false } } };
      if (p.startsWith('/networks/')) return { status: 404, json: { message: `network ${p.slice(10)} not found` } };
      if (p.startsWith('/volumes/')) return { status: 404, json: { message: `get ${p.slice(9)}: no such volume` } };
      if (p.startsWith('/images/') && p !== '/images/busybox/json') return { status: 404, json: { message: `No such image: ${p.slice(8, -5)}:latest` } };
      if (name === 'nosuch' || name === 'missing') return { status: 404, json: { message: `No such container: ${name}` } };
      if (p === '/events') return { hang: true, headers: { 'Content-Type': 'application/json' } };
      if (action === 'json') {
        if (name === 'busybox') return { status: 404, json: { message: 'No such container: busybox' } };
        return { text: inspectDoc(name === 'ttyctr' ? ID2 : ID1, name!, name === 'ttyctr') + '\n', headers: { 'Content-Type': 'application/json' } };
      }
      if (p === '/images/busybox/json') return { text: `{"Id":"${IMG}","RepoTags":["busybox:latest"]}\n`, headers: { 'Content-Type': 'application/json' } };
      if (action === 'logs') {
        if (name === ID2) return { text: 'raw tty log\r\n', headers: { 'Content-Type': 'application/vnd.docker.raw-stream' } };
        return { text: Buffer.concat([frame(1, '2024-01-01T00:00:00.000000000Z line one\n'), frame(2, 'an error\n'), frame(1, 'line two\n')]), headers: { 'Content-Type': 'application/vnd.docker.multiplexed-stream' } };
      }
      if (action === 'top') return { json: { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: [['root', '14620', '14600', '0', '02:12', '?', '00:00:00', 'sleep 1000'], ['root', '14700', '14620', '0', '02:13', 'pts/0', '00:00:01', 'sh -c a very long command line']] } };
      if (action === 'changes') return { json: [{ Kind: 0, Path: '/etc' }, { Kind: 1, Path: '/etc/new' }, { Kind: 2, Path: '/tmp/gone' }] };
      if (action === 'wait') return { json: { StatusCode: name === 'second' ? 137 : 0, Error: null } };
      if (action === 'stats') {
        const byId = [[ID1, 'web'], [ID2, 'db'], ['a'.repeat(64), 'tagged']].find(([id, n]) => n === name || id!.startsWith(name!));
        return { text: statsSample(`/${byId?.[1] ?? name}`, byId?.[0] ?? ID2) + '\n', headers: { 'Content-Type': 'application/json' } };
      }
      if (action === 'export') return { text: 'TARDATA', headers: { 'Content-Type': 'application/x-tar' } };
      if (action === 'update') return { json: { Warnings: name === 'warned' ? ['Your kernel does not support swap'] : [] } };
      if (['stop', 'restart', 'kill', 'pause', 'unpause', 'rename'].includes(action!)) return { status: 204 };
      if (p.startsWith('/containers/') && r.method === 'DELETE') return { status: 204 };
      if (p === '/commit') return { status: 201, json: { Id: IMG } };
      if (p === '/containers/prune') return { json: { ContainersDeleted: [ID1, ID2], SpaceReclaimed: 1234567 } };
      return undefined;
    }).start();
  });
  after(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // docker runs some operations in parallel (unordered: their requests come in any order).
  const compare = (args: string[], o: { stdin?: string; bodies?: boolean; ignoreRequests?: boolean; unordered?: boolean } = {}) =>
    compareWithDocker(engine, args, { ...o, bodies: o.bodies ?? false, anyQueryOrder: true });

  for (const args of [
    ['ps'], ['ps', '-a', '-s'], ['ps', '-q'], ['ps', '--no-trunc'], ['ps', '-n', '2', '-f', 'status=exited', '-f', 'label=a=b'], ['ps', '-l'],
    ['ps', '--format', 'json'], ['ps', '--format', '{{.Names}}\t{{.Label "com.example.a"}}\t{{.Mounts}}\t{{.Networks}}\t{{.LocalVolumes}}\t{{.State}}\t{{.CreatedAt}}'],
    ['ps', '--format', 'table {{.ID}}\t{{.Size}}'], ['ps', '--format', '{{.Size}}', '--size=false'], ['ps', '--format', 'table {{.Labels}}\t{{.Ports}}'],
    ['ps', '--format', '{{.Bogus}}'], ['ps', '--format', '{{'], ['container', 'ls', '-a'], ['container', 'list'], ['container', 'ps', '-q'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args);
    });
  }

  for (const args of [
    ['container', 'inspect', 'web'], ['container', 'inspect', '-s', 'web', 'missing'], ['container', 'inspect', '-f', '{{.Name}} {{json .Config.Labels}}', 'web'],
    ['container', 'inspect', '-f', '{{.Name.X}}', 'web'], ['inspect', 'web', 'busybox'], ['inspect', '--type', 'container', 'busybox'], ['inspect', 'missing'],
    ['inspect', '-s', '-f', '{{.Id}}', 'web'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args, { ignoreRequests: args[0] === 'inspect' });
    });
  }

  for (const args of [
    ['logs', 'web'], ['logs', '-f', '-t', '--tail', '5', '--since', '2024-01-02T03:04:05Z', '--until', '1700000000.5', '--details', 'web'],
    ['logs', '-n', '1', 'ttyctr'], ['logs', 'missing'], ['logs', '--since', 'bogus', 'web'],
    ['top', 'web'], ['top', 'web', 'aux'], ['top', 'missing'], ['diff', 'web'],
    ['port', 'web'], ['port', 'web', '80'], ['port', 'web', '53/udp'], ['port', 'web', '443'], ['port', 'web', 'x'],
    ['wait', 'web', 'second'], ['wait', 'web', 'missing', 'second'],
    ['stop', 'web', 'missing', 'db'], ['stop', '-t', '3', '-s', 'USR1', 'web'], ['restart', '-t', '0', 'web'], ['kill', 'web'], ['kill', '-s', 'HUP', 'web', 'missing'],
    ['pause', 'web', 'db'], ['unpause', 'web'], ['rm', 'web', 'missing'], ['rm', '-f', '-v', 'web', 'missing'], ['rm', '-l', 'web/db'], ['rm', '/'],
    ['rename', 'web', 'web2'], ['rename', 'missing', 'x'], ['rename', 'web', ' '],
    ['commit', 'web'], ['commit', '-a', 'me <me@x>', '-c', 'CMD ["x"]', '-c', 'ENV A=1', '-m', 'msg', '-p=false', 'web', 'foo:bar'], ['commit', 'web', 'BAD:x'],
    ['commit', 'web', 'localhost:5000/x/y'], ['container', 'prune', '-f', '--filter', 'until=24h'], ['export', 'web'], ['export', 'missing'],
    ['stats', '--no-stream', 'web'], ['stats', '--no-stream', '--no-trunc', 'web', 'db'], ['stats', '--no-stream', '--format', 'json', 'web'],
    ['stats', '--no-stream', '--format', '{{.Name}}: {{.CPUPerc}} {{.MemPerc}} {{.PIDs}}', 'web'], ['stats', '--no-stream', 'missing'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args, { unordered: ['stop', 'restart', 'kill', 'pause', 'unpause', 'rm', 'wait', 'stats'].includes(args[0]!) });
    });
  }

  it('takes psFormat and statsFormat from the config file', async () => {
    const cfg = join(dir, 'config');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({ psFormat: 'table {{.Names}}\t{{.Status}}', statsFormat: '{{.Name}} {{.PIDs}}' }));
    const env = { DOCKER_CONFIG: cfg };
    let n = engine.requests.length;
    const d = await docker(engine.host, ['ps'], { env });
    n = engine.requests.length;
    const p = await pier(engine.host, ['ps'], { env });
    assert.equal(p.out, d.out);
    assert.equal(engine.since(n).length, 1);
    const ds = await docker(engine.host, ['stats', '--no-stream', 'web'], { env });
    const ps = await pier(engine.host, ['stats', '--no-stream', 'web'], { env });
    assert.equal(ps.out, ds.out);
    assert.equal(ps.out, 'web 1\n');
  });
  it('container prune asks first', async () => {
    await compare(['container', 'prune'], { stdin: 'n\n' });
    await compare(['container', 'prune'], { stdin: 'y\n' });
  });
  it('stats --no-stream without names lists the running containers', async () => {
    await compare(['stats', '--no-stream'], { ignoreRequests: true });
    await compare(['stats', '--no-stream', '-a'], { ignoreRequests: true });
  });
  it('export -o writes the file', async () => {
    const f = join(dir, 'out.tar');
    const p = await compare(['export', '-o', f, 'web']);
    assert.equal(p.code, 0);
    assert.equal(readFileSync(f, 'utf8'), 'TARDATA');
  });
  for (const args of [
    ['update', '--cpus', '0.5', '-m', '100m', '--restart', 'on-failure:3', 'web'], ['update', '--pids-limit', '10', '--memory-swap', '-1', '--cpuset-cpus', '0', 'web', 'missing'],
    ['update', '--blkio-weight', '300', '-c', '512', '--cpu-period', '100000', '--cpu-quota', '5000', '--memory-reservation', '1g', 'warned'], ['update', 'web'],
    ['update', '--restart', ':1', 'web'],
  ]) {
    it(args.join(' '), async () => {
      await compare(args, { bodies: true });
    });
  }
});
