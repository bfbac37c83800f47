/**
 * A daemon's day-to-day operations, through the real docker CLI and pier:
 * system prune and df -v, json-file log rotation (on by default) and logs
 * across rotated files, /events filters, the Prometheus /metrics listener,
 * and configuration reload on SIGHUP. One daemon for the file, started with a
 * config file that the reload test rewrites.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { startDaemon, api, PIER, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, cli, containerSkip, docker, endAll, waitFor } from '../../harness/containers.js';

const skip = containerSkip({ docker: true });

function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    }).on('error', reject).end();
  });
}

/** The value of one series in a /metrics text ("name{a=\"b\"}"), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('daemon operations', { skip }, () => {
  let d: TestDaemon;
  const { dk, ok } = cli(() => d.host);
  const pier = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [PIER, ...args], { env: { ...process.env, PIER_HOST: d.host }, input, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const configFile = () => join(d.root, 'daemon.json');
  const info = async () => (await api(d.sock, 'GET', '/info')).json<Record<string, any>>();
  const metricsUrl = async () => `http://${(await info()).MetricsAddress as string}/metrics`;

  before(async () => {
    d = await startDaemon({ config: { 'metrics-addr': '127.0.0.1:0', labels: ['site=one'] } });
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('system prune asks first, then removes in docker order, with -a, --volumes and filters', () => {
    ok('run', '--name', 'stopped1', '-v', '/anon', 'busybox', 'true');
    ok('run', '--name', 'stopped2', '--label', 'keep=yes', 'busybox', 'true');
    ok('run', '-d', '--name', 'running1', 'busybox', 'sleep', '300');
    ok('network', 'create', 'unused1');
    ok('volume', 'create', 'named1');
    busyboxImage(d, 'spare:1'); // an image of its own, which no container uses

    // Declined: nothing goes, and the prompt is docker's.
    let r = pier(['system', 'prune', '-a', '--volumes', '--filter', 'label=x'], 'n\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\n  Items to be pruned will be filtered with:\n  - label=x\n\nAre you sure you want to continue? [y/N] ');
    assert.match(ok('ps', '-a', '--format', '{{.Names}}'), /stopped1/);
    const dockerPrompt = docker(d.host, ['system', 'prune', '-a', '--volumes', '--filter', 'label=x'], { input: 'n\n' });
    assert.equal(dockerPrompt.stdout, r.stdout, 'pier and docker ask the same');

    // volumes have no "until", as docker says before asking.
    r = pier(['system', 'prune', '--volumes', '--filter', 'until=1h', '-f']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The "until" filter is not supported with "--volumes"/);

    // A label filter narrows containers: only the labelled stopped one goes.
    r = pier(['system', 'prune', '-f', '--filter', 'label=keep=yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\n/);
    assert.doesNotMatch(ok('ps', '-a', '--format', '{{.Names}}'), /stopped2/);
    assert.match(ok('ps', '-a', '--format', '{{.Names}}'), /stopped1/);

    r = pier(['system', 'prune', '-af', '--volumes']);
    assert.equal(r.code, 0, r.stderr);
    const sections = [...r.stdout.matchAll(/^(Deleted \w+):$/gm)].map((m) => m[1]);
    assert.deepEqual(sections, ['Deleted Containers', 'Deleted Networks', 'Deleted Volumes', 'Deleted Images']);
    assert.match(r.stdout, /Deleted Networks:\nunused1\n/);
    assert.match(r.stdout, /untagged: spare:1\n/);
    assert.match(r.stdout, /\nTotal reclaimed space: \d[\d.]*[kMG]?B\n$/);
    const names = ok('ps', '-a', '--format', '{{.Names}}').split('\n').filter(Boolean);
    assert.deepEqual(names, ['running1'], 'the running container stays');
    assert.match(ok('volume', 'ls', '-q'), /named1/, 'named volumes stay (anonymous ones only, as docker)');
    assert.match(ok('images', '--format', '{{.Repository}}:{{.Tag}}'), /busybox:latest/, 'the running container keeps its image');
    assert.doesNotMatch(ok('images', '--format', '{{.Repository}}:{{.Tag}}'), /spare:1/);

    // The real docker CLI drives the same endpoints.
    ok('run', '--name', 'stopped3', '-v', '/anon2', 'busybox', 'true');
    ok('network', 'create', 'unused2');
    const out = ok('system', 'prune', '-af', '--volumes');
    assert.match(out, /Deleted Containers:\n[0-9a-f]{64}\n/);
    assert.match(out, /Deleted Networks:\nunused2\n/);
    assert.match(out, /Deleted Volumes:\n[0-9a-f]{64}\n/);
    assert.match(out, /Total reclaimed space: /);
    // docker volume prune -a sends the all=true filter (API >= 1.42): named volumes go too.
    assert.match(ok('volume', 'prune', '-af'), /named1/);
    ok('rm', '-f', 'running1');
  });

  it('system df -v lists images, containers, volumes and the build cache like docker', () => {
    const ctx = join(d.root, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN head -c 50000 /dev/zero > /big\nENV A=1\n');
    ok('build', '-q', '-t', 'built:1', ctx);
    ok('create', '--name', 'dfc', '-v', 'dfvol:/v', 'busybox', 'true');
    const du = ok('system', 'df', '-v', '--format', '{{json .}}');
    const j = JSON.parse(du) as { BuildCache: { Description: string; Size: string; Shared: string }[]; Volumes: { Name: string }[]; Containers: { Names: string }[]; Images: { Repository: string }[] };
    assert.ok(j.BuildCache.some((b) => /head -c 50000/.test(b.Description) && /^5\d(\.\d+)?kB$/.test(b.Size)), JSON.stringify(j.BuildCache));
    assert.ok(j.BuildCache.some((b) => /ENV A=1|A=1/.test(b.Description) && b.Size === '0B' && b.Shared === 'true'), 'a config-only step adds no bytes; the tagged result is shared');
    assert.ok(j.Volumes.some((v) => v.Name === 'dfvol'));
    assert.ok(j.Containers.some((c) => c.Names === 'dfc'));
    assert.ok(j.Images.some((i) => i.Repository === 'built'));

    const table = ok('system', 'df', '-v');
    for (const header of ['Images space usage:', 'Containers space usage:', 'Local Volumes space usage:', 'Build cache usage: ']) assert.ok(table.includes(header), header);
    assert.match(table, /CACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+USAGE\s+SHARED/);
    assert.match(table, /REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS/);
    // pier prints what docker prints (but for relative times, which may tick between the two).
    const norm = (s: string) => s.replace(/(Less than a second|About a minute|\d+ \w+) ago/g, 'T ago').replace(/ +/g, ' ');
    assert.equal(norm(pier(['system', 'df', '-v']).stdout), norm(table));
    assert.match(ok('system', 'df'), /^Build Cache\s+[1-9]\d*\s+0\s+/m);
    ok('rm', 'dfc');
  });

  it('rotates json-file logs by default and per container, and logs read across the files', async () => {
    // Pier's defaults (docker's json-file never rotates unless told): in inspect, like dockerd merges its log-opts.
    ok('create', '--name', 'logdef', 'busybox', 'true');
    assert.equal(ok('inspect', '-f', '{{json .HostConfig.LogConfig}}', 'logdef').trim(), '{"Type":"json-file","Config":{"max-file":"5","max-size":"20m"}}');
    ok('create', '--name', 'lognone', '--log-driver', 'none', 'busybox', 'true');
    assert.equal(ok('inspect', '-f', '{{json .HostConfig.LogConfig}}', 'lognone').trim(), '{"Type":"none","Config":{}}');
    const ownSize = dk('create', '--name', 'logown', '--log-opt', 'max-size=1m', 'busybox', 'true');
    assert.equal(ownSize.code, 0, ownSize.stderr);
    assert.equal(ok('inspect', '-f', '{{json .HostConfig.LogConfig}}', 'logown').trim(), '{"Type":"json-file","Config":{"max-file":"5","max-size":"1m"}}');
    const bad = dk('create', '--log-opt', 'max-size=lots', 'busybox', 'true');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid max-size "lots"/);

    // 200 numbered lines in bursts of 5 (each burst one read of the monitor), max-size 1k, max-file 3.
    const script = 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line-$i-padding-padding-padding; [ $((i % 5)) -eq 0 ] && sleep 0.02; done; true';
    ok('run', '--name', 'rot', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', script);
    assert.equal(ok('inspect', '-f', '{{json .HostConfig.LogConfig}}', 'rot').trim(), '{"Type":"json-file","Config":{"max-file":"3","max-size":"1k"}}');
    const logPath = ok('inspect', '-f', '{{.LogPath}}', 'rot').trim();
    const dir = join(logPath, '..');
    const base = logPath.slice(dir.length + 1);
    const files = readdirSync(dir).filter((f) => f.startsWith(base));
    assert.ok(files.length >= 2 && files.length <= 3, `rotated into at most 3 files: ${files.join(' ')}`);
    for (const f of files) assert.ok(statSync(join(dir, f)).size < 1024 + 64 * 1024, `${f} is bounded`);

    const nums = (out: string) => out.split('\n').filter(Boolean).map((l) => Number(/^line-(\d+)-/.exec(l)?.[1]));
    const all = nums(ok('logs', 'rot'));
    assert.equal(all[all.length - 1], 200, 'the newest line is there');
    assert.ok(all[0]! > 1, `the oldest lines were rotated away (first kept: ${all[0]})`);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => all[0]! + i), 'the kept lines are whole and in order across the files');
    const tail = nums(ok('logs', '--tail', '30', 'rot'));
    assert.deepEqual(tail, Array.from({ length: 30 }, (_, i) => 171 + i), '--tail reaches back into the rotated files');
    assert.deepEqual(nums(pier(['logs', '--tail', '30', 'rot']).stdout), tail);
    ok('rm', 'rot', 'logdef', 'lognone', 'logown');
  });

  it('filters /events by type, action, label, names and IDs like docker', () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    ok('run', '--name', 'evweb', '--label', 'tier=front', 'busybox', 'true');
    ok('run', '--name', 'evdb', '--label', 'tier=back', '--label', 'solo', 'busybox', 'true');
    const evId = ok('inspect', '-f', '{{.Id}}', 'evweb').trim();
    ok('network', 'create', 'evnet');
    ok('volume', 'create', 'evvol');
    ok('run', '-d', '--name', 'evexec', 'busybox', 'sleep', '60');
    ok('exec', 'evexec', 'sh', '-c', 'true');
    const until = String(Math.ceil(Date.now() / 1000) + 1);
    const ev = (...filters: string[]) =>
      ok('events', '--since', since, '--until', until, ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}')
        .split('\n').filter(Boolean);

    assert.deepEqual(ev('type=container', 'event=start', 'label=tier'), ['container start evweb', 'container start evdb']);
    assert.deepEqual(ev('label=tier=back', 'event=die'), ['container die evdb']);
    assert.deepEqual(ev('label=solo', 'event=create'), ['container create evdb'], 'a label key alone');
    assert.deepEqual(ev('container=evweb', 'event=destroy'), [], 'nothing that did not happen');
    assert.deepEqual(ev(`container=${evId.slice(0, 10)}`, 'event=create'), ['container create evweb'], 'an ID prefix');
    assert.deepEqual(ev('type=network', 'network=evnet', 'event=create'), ['network create evnet']);
    assert.ok(ev('type=volume', 'event=create').length >= 1);
    assert.equal(ev('type=volume', 'volume=evvol').length, 1, "a volume's ID is its name");
    assert.deepEqual(ev('image=busybox', 'event=create', 'container=evweb'), ['container create evweb'], 'image without the tag');
    assert.deepEqual(ev('image=busy', 'event=create'), [], 'images match exactly');
    // exec_start with its command: a bare name matches as a prefix, the full action exactly.
    const exec = ev('container=evexec', 'event=exec_start');
    assert.equal(exec.length, 1);
    assert.match(exec[0]!, /^container exec_start: sh -c true evexec$/);
    assert.deepEqual(ev('container=evexec', 'event=exec_start: sh -c true'), exec);
    assert.deepEqual(ev('container=evexec', 'event=exec_sta'), []);
    assert.deepEqual(ev('type=container', 'type=network', 'event=create', 'label=tier=front'), ['container create evweb'], 'values of one key are alternatives, keys all apply');
    ok('rm', '-f', 'evweb', 'evdb', 'evexec');
    ok('network', 'rm', 'evnet');
  });

  it('serves Prometheus metrics on metrics-addr', async () => {
    const url = await metricsUrl();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const before = await httpGet(url);
    assert.equal(before.status, 200);
    assert.equal(before.type, 'text/plain; version=0.0.4; charset=utf-8');
    const creates0 = sample(before.body, 'engine_daemon_container_actions_seconds_count{action="create"}') ?? 0;
    const reqs0 = sample(before.body, 'engine_daemon_http_requests_total{method="POST",route="/containers/create",code="201"}') ?? 0;
    const missing0 = sample(before.body, 'engine_daemon_http_requests_total{method="GET",route="/containers/{id}/json",code="404"}') ?? 0;
    assert.equal((await api(d.sock, 'GET', '/containers/no-such-container/json')).status, 404);
    ok('run', '-d', '--name', 'met1', 'busybox', 'sleep', '60');
    ok('create', '--name', 'met2', 'busybox', 'true');
    const after = (await httpGet(url)).body;
    assert.equal(sample(after, 'engine_daemon_container_actions_seconds_count{action="create"}'), creates0 + 2);
    assert.equal(sample(after, 'engine_daemon_http_requests_total{method="POST",route="/containers/create",code="201"}'), reqs0 + 2);
    assert.ok((sample(after, 'engine_daemon_container_actions_seconds_bucket{action="start",le="+Inf"}') ?? 0) >= 1);
    assert.equal(sample(after, 'engine_daemon_http_requests_total{method="GET",route="/containers/{id}/json",code="404"}'), missing0 + 1, 'errors count under their status, IDs never become labels');
    assert.equal(sample(after, 'engine_daemon_container_states_containers{state="running"}'), 1);
    assert.ok((sample(after, 'engine_daemon_container_states_containers{state="stopped"}') ?? 0) >= 1);
    assert.ok((sample(after, 'engine_daemon_events_total') ?? 0) > 0);
    assert.ok((sample(after, 'engine_daemon_images') ?? 0) >= 1);
    assert.match(after, /^engine_daemon_engine_info\{architecture="[^"]+",commit="[^"]*",daemon_id="[^"]+",graphdriver="[^"]+",kernel="[^"]+",os="[^"]+",os_type="linux",version="[^"]+"\} 1$/m);
    assert.ok((sample(after, 'process_resident_memory_bytes') ?? 0) > 1e6);
    assert.ok((sample(after, 'process_open_fds') ?? 0) > 3);
    const started = sample(after, 'process_start_time_seconds') ?? 0;
    assert.ok(started > Date.now() / 1000 - 3600 && started <= Date.now() / 1000, `process_start_time_seconds ${started}`);
    assert.match(after, /^# TYPE engine_daemon_http_request_duration_seconds histogram$/m);
    assert.equal((await httpGet(url.replace('/metrics', '/other'))).status, 404);
    ok('rm', '-f', 'met1', 'met2');
  });

  it('reloads the configuration on SIGHUP, keeps it when the file is broken, and never dies of it', async () => {
    const sinceReload = String(Math.floor(Date.now() / 1000) - 1);
    assert.match(ok('info'), /Labels:\n  site=one\n/);
    const addr = (await info()).MetricsAddress as string;
    writeFileSync(configFile(), JSON.stringify({
      'metrics-addr': 'localhost:0', labels: ['site=two', 'extra=yes'], debug: true, 'log-opts': { 'max-size': '5m', 'max-file': '2' },
      'registry-mirrors': ['https://mirror.invalid'], 'max-layer-size': 12345678,
    }));
    process.kill(d.proc.pid!, 'SIGHUP');
    await waitFor('reloaded', () => /configuration reloaded/.test(d.log()));
    const text = ok('info');
    assert.match(text, /Labels:\n  site=two\n  extra=yes\n/);
    assert.match(text, /^ Debug Mode: true$/m);
    assert.match(text, /Registry Mirrors:\n  https:\/\/mirror\.invalid\/?\n/);
    const pierInfo = pier(['info']).stdout;
    assert.match(pierInfo, /^  Default Log Options: max-file=2 max-size=5m$/m, 'pier info shows the default log options');
    assert.match(pierInfo, /^ Metrics Address: 127\.0\.0\.1:\d+$/m);
    assert.match(pierInfo, /Labels:\n  site=two\n  extra=yes\n/);
    const moved = (await info()).MetricsAddress as string;
    assert.notEqual(moved, addr, 'the metrics listener moved');
    assert.equal((await httpGet(`http://${moved}/metrics`)).status, 200);
    await assert.rejects(httpGet(`http://${addr}/metrics`), /ECONNREFUSED/);
    assert.match(d.log(), /not reloadable, restart pierd.*max-layer-size/);
    assert.match(d.log(), /configuration reloaded.*"changed":\["debug","labels","log-level","log-opts","metrics-addr","registry-mirrors"\]/);
    // New containers get the reloaded log options.
    ok('create', '--name', 'afterreload', 'busybox', 'true');
    assert.equal(ok('inspect', '-f', '{{json .HostConfig.LogConfig}}', 'afterreload').trim(), '{"Type":"json-file","Config":{"max-file":"2","max-size":"5m"}}');
    const reload = ok('events', '--since', sinceReload, '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=daemon', '--filter', 'event=reload', '--format', '{{.Type}} {{.Action}} {{index .Actor.Attributes "labels"}}');
    assert.equal(reload.trim(), 'daemon reload ["site=two","extra=yes"]');

    // A broken file: an error in the log, the running configuration stays, the daemon answers.
    const logBefore = d.log().length;
    writeFileSync(configFile(), '{"labels": ["site=three"], ');
    process.kill(d.proc.pid!, 'SIGHUP');
    await waitFor('reload refused', () => /configuration not reloaded, the running configuration is kept/.test(d.log().slice(logBefore)));
    assert.match(d.log().slice(logBefore), /is not valid JSON/);
    writeFileSync(configFile(), JSON.stringify({ 'metrics-addr': '127.0.0.1:0', 'log-driver': 'syslog' }));
    process.kill(d.proc.pid!, 'SIGHUP');
    await waitFor('bad driver refused', () => /logging driver \\?"syslog\\?" is not supported/.test(d.log().slice(logBefore)));
    assert.match(ok('info'), /Labels:\n  site=two\n  extra=yes\n/);
    assert.equal(d.proc.exitCode, null, 'pierd is still running');
    ok('rm', 'afterreload');
    // Back to the first configuration for anything after this test.
    writeFileSync(configFile(), JSON.stringify({ 'metrics-addr': '127.0.0.1:0', labels: ['site=one'] }));
    const at = d.log().length;
    process.kill(d.proc.pid!, 'SIGHUP');
    await waitFor('reloaded back', () => /configuration reloaded/.test(d.log().slice(at)));
  });
});
