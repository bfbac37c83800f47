import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { createServer, connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Demultiplexer, EscapeDetector, parseDetachKeys, streamHijacked } from '../hijack.js';
import { reportError, startErrorStatus } from './run.js';
import { docker, dockerize, FakeEngine, frame, haveDocker, pier, type Recorded, requestShapes } from './fake-engine.js';

const ID = 'c'.repeat(64);
const EXEC = 'e'.repeat(64);

describe('detach keys and stream framing', () => {
  it('parses docker --detach-keys', () => {
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
    assert.deepEqual([...parseDetachKeys('ctrl-@,a,ctrl-\\,DEL')], [0, 97, 28, 127]);
    assert.throws(() => parseDetachKeys('ctrl-1'), /^Error: Unknown character: 'ctrl-1'$/);
  });
  it('holds back a partial escape sequence and detaches on the whole one', () => {
    const d = new EscapeDetector(Buffer.from([16, 17]));
    assert.deepEqual([...(d.push(Buffer.from('a')) as Buffer)], [97]);
    assert.deepEqual([...(d.push(Buffer.from([16])) as Buffer)], []);
    assert.deepEqual([...(d.push(Buffer.from('x')) as Buffer)], [16, 120]); // broken: both keys go through
    assert.deepEqual([...(d.push(Buffer.from([16])) as Buffer)], []);
    assert.equal(d.push(Buffer.from([17])), 'detach');
    // Like docker's, only single-byte reads count: pasted text passes untouched.
    assert.deepEqual([...(d.push(Buffer.from([16, 17])) as Buffer)], [16, 17]);
  });
  it('demultiplexes frames split anywhere', () => {
    const out: string[] = [];
    const err: string[] = [];
    const sink = (l: string[]) => Object.assign(new PassThrough(), { write: (c: Buffer) => (l.push(String(c)), true) });
    const d = new Demultiplexer(sink(out) as never, sink(err) as never);
    const bytes = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n'), frame(0, 'in')]);
    for (let i = 0; i < bytes.length; i += 3) d.push(bytes.subarray(i, i + 3));
    assert.equal(out.join(''), 'hello world\nin');
    assert.equal(err.join(''), 'oops\n');
    assert.equal(d.pending, 0);
    assert.throws(() => d.push(frame(3, 'boom')), /error from daemon in stream: boom/);
    assert.throws(() => new Demultiplexer(undefined, undefined).push(frame(7, 'x')), /Unrecognized input header: 7/);
  });
  it('maps start errors to docker exit codes', () => {
    assert.equal(startErrorStatus('Error response from daemon: exec: "nosuch": executable file not found in $PATH: unknown'), 127);
    assert.equal(startErrorStatus('Error response from daemon: exec: "/etc/passwd": permission denied: unknown'), 126);
    assert.equal(startErrorStatus('Error response from daemon: open /x: no such file or directory'), 127);
    assert.equal(startErrorStatus('Error response from daemon: oci runtime error'), 125);
    assert.equal(reportError('run', 'x'), "pier: x\n\nRun 'pier run --help' for more information");
  });
});

describe('hijacked sessions', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-hijack-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A server that runs `serve` on its one connection; returns the client socket. */
  async function pair(serve: (s: Socket) => void): Promise<Socket> {
    const path = join(dir, `s${Math.random()}.sock`);
    const srv = createServer({ allowHalfOpen: true }, (s) => {
      serve(s);
      srv.close();
    });
    await new Promise<void>((r) => srv.listen(path, r));
    const c = connect(path);
    await new Promise((r) => c.once('connect', r));
    return c;
  }

  it('half-closes after stdin ends and keeps reading the output', async () => {
    const conn = await pair((s) => {
      let got = '';
      s.on('data', (c) => (got += String(c)));
      s.on('end', () => {
        s.write(frame(1, `echo:${got}`));
        s.end();
      });
    });
    let out = '';
    const stdout = new PassThrough();
    stdout.on('data', (c) => (out += String(c)));
    const r = await streamHijacked({ conn, stdin: Readable.from([Buffer.from('abc')]), stdout, stderr: stdout, tty: false, detachKeys: '' });
    assert.equal(r, 'done');
    assert.equal(out, 'echo:abc');
  });
  it('detaches on ctrl-p ctrl-q from a TTY and restores the terminal', async () => {
    let serverGot = '';
    const conn = await pair((s) => s.on('data', (c) => (serverGot += String(c))));
    const modes: boolean[] = [];
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (m: boolean) => modes.push(m) });
    const done = streamHijacked({ conn, stdin, stdout: new PassThrough(), tty: true, detachKeys: '' });
    stdin.write(Buffer.from('l'));
    await new Promise((r) => setTimeout(r, 20));
    stdin.write(Buffer.from([16]));
    await new Promise((r) => setTimeout(r, 20));
    stdin.write(Buffer.from([17]));
    assert.equal(await done, 'detached');
    assert.deepEqual(modes, [true, false]);
    assert.equal(serverGot, 'l');
  });
  it('uses custom detach keys and warns about bad ones', async () => {
    const conn = await pair(() => {});
    const stdin = Object.assign(new PassThrough(), { isTTY: false });
    const warnings: string[] = [];
    const done = streamHijacked({ conn, stdin, stdout: new PassThrough(), tty: true, detachKeys: 'ctrl-9', warn: (s) => warnings.push(s) });
    stdin.write(Buffer.from([16]));
    await new Promise((r) => setTimeout(r, 20));
    stdin.write(Buffer.from([17]));
    assert.equal(await done, 'detached');
    assert.deepEqual(warnings, ["invalid detach escape keys, using default: Unknown character: 'ctrl-9'\n"]);
  });
});

interface Scenario {
  create?: (r: Recorded, n: number) => { status: number; json: unknown };
  start?: { status: number; json: unknown };
  exitCode?: number;
  tty?: boolean;
  running?: boolean;
  openStdin?: boolean;
  /** What the attached container writes (multiplexed unless tty). */
  output?: Buffer[];
  /** Echo stdin back (as stdout) once it ends. */
  echo?: boolean;
}

describe('run, start, attach and exec against the docker CLI', { skip: !haveDocker() && 'docker CLI not installed' }, () => {
  let engine: FakeEngine;
  let sc: Scenario = {};
  let creates = 0;
  before(async () => {
    engine = await new FakeEngine((r) => {
      const p = r.path;
      if (p === '/containers/create') {
        const reply = sc.create?.(r, creates++) ?? { status: 201, json: { Id: ID, Warnings: [] } };
        return reply;
      }
      if (p === '/images/create') {
        return { text: `{"status":"Pulling from library/busybox","id":"latest"}\r\n{"status":"Digest: sha256:${'a'.repeat(64)}"}\r\n{"status":"Status: Downloaded newer image for busybox:latest"}\r\n`, headers: { 'Content-Type': 'application/json' } };
      }
      if (p.endsWith('/wait')) return { json: { StatusCode: sc.exitCode ?? 0, Error: null } };
      if (p.endsWith('/start')) return sc.start ?? { status: 204 };
      if (p === `/containers/${ID}/json` || p === '/containers/ctr/json') {
        return { json: { Id: ID, Name: '/ctr', State: { Running: sc.running ?? true, Paused: false, Restarting: false }, Config: { Tty: sc.tty ?? false, OpenStdin: sc.openStdin ?? false }, HostConfig: { AutoRemove: false } } };
      }
      if (p === '/containers/ctr/exec') return { status: 201, json: { Id: EXEC } };
      if (p === `/exec/${EXEC}/json`) return { json: { ID: EXEC, Running: false, ExitCode: sc.exitCode ?? 0 } };
      if (p.endsWith('/resize') || p.endsWith('/kill')) return { status: 200, text: '' };
      return undefined;
    }, (_r, s) => {
      if (sc.echo) {
        let got = '';
        s.on('data', (c) => (got += String(c)));
        s.on('end', () => {
          s.write(frame(1, `echo:${got}`));
          s.end();
        });
        s.resume();
        return;
      }
      for (const b of sc.output ?? []) s.write(b);
      s.end();
    }).start();
  });
  after(() => engine.stop());

  const shape = (rs: Recorded[]) => requestShapes(rs, { anyQueryOrder: true });

  async function compare(args: string[], s: Scenario, o: { stdin?: string } = {}) {
    sc = s;
    creates = 0;
    let n = engine.requests.length;
    const d = await docker(engine.host, args, o);
    const dreqs = shape(engine.since(n));
    const dbodies = engine.since(n).map((r) => r.body.toString());
    sc = s;
    creates = 0;
    n = engine.requests.length;
    const p = await pier(engine.host, args, o);
    const preqs = shape(engine.since(n));
    const pbodies = engine.since(n).map((r) => r.body.toString());
    assert.equal(p.out, d.out, 'stdout');
    assert.equal(dockerize(p.err), d.err, 'stderr');
    assert.equal(p.code, d.code, 'exit code');
    assert.deepEqual(preqs, dreqs);
    return { d, p, dbodies, pbodies };
  }

  it('run: streams stdout and stderr and exits with the status code', async () => {
    const { p } = await compare(['run', 'busybox', 'sh', '-c', 'x'], { output: [frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more\n')], exitCode: 3 });
    assert.equal(p.out, 'out\nmore\n');
    assert.equal(p.code, 3);
  });
  it('run --rm waits for removal', async () => {
    await compare(['run', '--rm', 'busybox'], { output: [frame(1, 'x\n')], exitCode: 0 });
  });
  it('run -d prints the ID', async () => {
    const { p } = await compare(['run', '-d', 'busybox'], {});
    assert.equal(p.out, `${ID}\n`);
  });
  it('run -t copies the raw stream', async () => {
    await compare(['run', '-t', 'busybox'], { tty: true, output: [Buffer.from('raw\r\n')], exitCode: 1 });
  });
  it('run -i sends stdin, half-closes, and shows what comes back', async () => {
    const { p } = await compare(['run', '-i', 'busybox', 'cat'], { echo: true }, { stdin: 'hello' });
    assert.equal(p.out, 'echo:hello');
  });
  it('run -a stdout prints nothing but the output', async () => {
    // (A daemon sends no stderr frames when stderr is not attached; docker's CLI would crash on them.)
    await compare(['run', '-a', 'stdout', 'busybox'], { output: [frame(1, 'only\n')], exitCode: 6 });
  });
  it('run -a stdin prints nothing and exits with the status code', async () => {
    await compare(['run', '-a', 'stdin', 'busybox'], { echo: true, exitCode: 3 }, { stdin: 'x' });
  });
  it('run: a missing executable exits 127', async () => {
    await compare(['run', 'busybox', 'nosuch'], {
      start: { status: 400, json: { message: 'failed to create task for container: exec: "nosuch": executable file not found in $PATH: unknown' } },
    });
  });
  it('run: a command that cannot execute exits 126', async () => {
    await compare(['run', '--rm', 'busybox', '/etc'], {
      start: { status: 400, json: { message: 'exec: "/etc": permission denied: unknown' } },
    });
  });
  it('run: a failed create exits 125', async () => {
    await compare(['run', '--name', 'dup', 'busybox'], { create: () => ({ status: 409, json: { message: 'Conflict. The container name "/dup" is already in use' } }) });
  });
  it('run: pulls a missing image and creates again', async () => {
    await compare(['run', 'busybox'], {
      create: (_r, n) => (n === 0 ? { status: 404, json: { message: 'No such image: busybox:latest' } } : { status: 201, json: { Id: ID, Warnings: ['be careful'] } }),
      output: [frame(1, 'pulled\n')],
    });
  });
  it('run -q --pull always pulls quietly first', async () => {
    await compare(['run', '-q', '--pull', 'always', 'busybox:1.36'], {});
  });
  it('run --pull never does not pull', async () => {
    await compare(['run', '--pull', 'never', 'busybox'], { create: () => ({ status: 404, json: { message: 'No such image: busybox:latest' } }) });
  });
  it('run -it refuses a stdin that is not a terminal', async () => {
    await compare(['run', '-it', 'busybox'], {}, { stdin: '' });
  });
  it('run -d -a conflict', async () => {
    await compare(['run', '-d', '-a', 'stdout', 'busybox'], {});
  });
  it('create prints the ID and pull progress on stderr', async () => {
    await compare(['create', 'busybox'], {
      create: (_r, n) => (n === 0 ? { status: 404, json: { message: 'No such image: busybox:latest' } } : { status: 201, json: { Id: ID, Warnings: [] } }),
    });
  });
  it('create reports daemon errors plainly', async () => {
    await compare(['create', 'busybox'], { create: () => ({ status: 500, json: { message: 'boom' } }) });
  });

  it('start prints names and collects failures', async () => {
    await compare(['start', 'ctr', 'nosuch'], {});
  });
  it('start -a streams and exits with the status code', async () => {
    await compare(['start', '-a', 'ctr'], { output: [frame(1, 'again\n')], exitCode: 2 });
  });
  it('start -a refuses several containers', async () => {
    await compare(['start', '-a', 'ctr', 'other'], {});
  });
  it('attach streams and exits with the status code', async () => {
    await compare(['attach', 'ctr'], { output: [frame(1, 'live\n'), frame(2, 'warn\n')], exitCode: 5 });
  });
  it('attach refuses a stopped container', async () => {
    await compare(['attach', 'ctr'], { running: false });
  });

  it('exec: create, start hijacked, exit code from inspect', async () => {
    const { pbodies, dbodies } = await compare(['exec', '-e', 'A=1', '-w', '/tmp', '-u', 'root', 'ctr', 'sh', '-c', 'x'], { output: [frame(1, 'hi\n'), frame(2, 'e\n')], exitCode: 4 });
    assert.deepEqual(pbodies.map((b) => (b ? JSON.parse(b) : b)), dbodies.map((b) => (b ? JSON.parse(b) : b)));
  });
  it('exec -i sends stdin', async () => {
    const { pbodies, dbodies } = await compare(['exec', '-i', '--privileged', '--detach-keys', 'ctrl-a', 'ctr', 'cat'], { echo: true }, { stdin: 'data' });
    assert.deepEqual(pbodies.map((b) => (b ? JSON.parse(b) : b)), dbodies.map((b) => (b ? JSON.parse(b) : b)));
  });
  it('exec -d starts detached', async () => {
    const { pbodies, dbodies } = await compare(['exec', '-d', '-t', 'ctr', 'sleep', '1'], {});
    assert.deepEqual(pbodies.map((b) => (b ? JSON.parse(b) : b)), dbodies.map((b) => (b ? JSON.parse(b) : b)));
  });
  it('exec takes detachKeys from the config file', async () => {
    const cfg = mkdtempSync(join(tmpdir(), 'pier-cfg-'));
    try {
      writeFileSync(join(cfg, 'config.json'), JSON.stringify({ detachKeys: 'ctrl-x,x' }));
      sc = { output: [frame(1, 'x')] };
      let n = engine.requests.length;
      await docker(engine.host, ['exec', 'ctr', 'true'], { env: { DOCKER_CONFIG: cfg } });
      const d = engine.since(n).find((r) => r.path === '/containers/ctr/exec')!;
      n = engine.requests.length;
      await pier(engine.host, ['exec', 'ctr', 'true'], { env: { DOCKER_CONFIG: cfg } });
      const p = engine.since(n).find((r) => r.path === '/containers/ctr/exec')!;
      assert.deepEqual(JSON.parse(p.body.toString()), JSON.parse(d.body.toString()));
      assert.equal(JSON.parse(p.body.toString()).DetachKeys, 'ctrl-x,x');
    } finally {
      rmSync(cfg, { recursive: true, force: true });
    }
  });
  it('run --cidfile writes the ID', async () => {
    const f = join(tmpdir(), `cidfile-${process.pid}`);
    rmSync(f, { force: true });
    sc = {};
    const p = await pier(engine.host, ['run', '-d', '--cidfile', f, 'busybox']);
    assert.equal(p.code, 0, p.err);
    assert.equal(readFileSync(f, 'utf8'), ID);
    const again = await pier(engine.host, ['run', '-d', '--cidfile', f, 'busybox']);
    const d = await docker(engine.host, ['run', '-d', '--cidfile', f, 'busybox']);
    assert.equal(again.code, d.code);
    assert.equal(dockerize(again.err), d.err);
    rmSync(f, { force: true });
  });
  it('exec on a missing container fails before creating anything', async () => {
    await compare(['exec', 'nosuch', 'true'], {});
  });

  // pier alone: the docker CLI cannot be given a terminal here.
  it('run -t on a terminal sends the console size and resizes after start', async () => {
    sc = { tty: true, output: [Buffer.from('x')] };
    creates = 0;
    const n = engine.requests.length;
    const p = await pier(engine.host, ['run', '-t', 'busybox'], { tty: true });
    assert.equal(p.code, 0, p.err);
    const reqs = engine.since(n);
    const create = reqs.find((r) => r.path === '/containers/create')!;
    assert.deepEqual(JSON.parse(create.body.toString()).HostConfig.ConsoleSize, [24, 80]);
    const start = reqs.findIndex((r) => r.path.endsWith('/start'));
    const resize = reqs.findIndex((r) => r.path === `/containers/${ID}/resize`);
    assert.ok(resize > start, shape(reqs).join('\n'));
    assert.deepEqual(Object.fromEntries(reqs[resize]!.query), { h: '24', w: '80' });
  });
  it('exec -t sends the console size with create and start', async () => {
    sc = { tty: true, output: [Buffer.from('x')] };
    const n = engine.requests.length;
    const p = await pier(engine.host, ['exec', '-t', 'ctr', 'sh'], { tty: true });
    assert.equal(p.code, 0, p.err);
    const reqs = engine.since(n);
    assert.deepEqual(JSON.parse(reqs.find((r) => r.path === '/containers/ctr/exec')!.body.toString()).ConsoleSize, [24, 80]);
    assert.deepEqual(JSON.parse(reqs.find((r) => r.path === `/exec/${EXEC}/start`)!.body.toString()), { Detach: false, Tty: true, ConsoleSize: [24, 80] });
  });
});
