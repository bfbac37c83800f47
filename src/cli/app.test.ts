import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from './app.js';
import type { IO } from './command.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], o: { env?: Record<string, string>; stdin?: string; tty?: boolean } = {}): Promise<Run> {
  const stdout = Object.assign(new PassThrough(), { isTTY: o.tty ?? false });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += String(c)));
  stderr.on('data', (c) => (err += String(c)));
  const io: IO = {
    stdin: Object.assign(Readable.from(o.stdin === undefined ? [] : [o.stdin]), { isTTY: false }),
    stdout,
    stderr,
    env: { PIER_HOST: 'unix:///nonexistent/pier.sock', ...o.env },
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}

describe('pier CLI without a daemon', () => {
  it('prints its version', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Pier version \S+, build \S+\n$/);
    assert.equal((await run(['-v'])).out, r.out);
  });
  it('shows help', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Usage:  pier \[OPTIONS\] COMMAND\n/);
    assert.match(r.out, /\n  images      List images\n/);
    const h = await run(['images', '--help']);
    assert.match(h.out, /^Usage:  pier images \[OPTIONS\] \[REPOSITORY\[:TAG\]\]\n\nList images\n\nAliases:\n  pier image ls, pier image list, pier images\n\nOptions:\n  -a, --all /);
    assert.equal((await run(['help', 'images'])).out, h.out);
    const ls = await run(['image', 'list', '-h']);
    assert.match(ls.out, /^Usage:  pier image ls \[OPTIONS\]/);
  });
  it('rejects unknown commands like docker', async () => {
    assert.deepEqual(await run(['foo']), { code: 1, out: '', err: "pier: 'foo' is not a pier command.\nSee 'pier --help'\n" });
    const g = await run(['image', 'foo']);
    assert.equal(g.code, 1);
    assert.match(g.err, /^\nUsage:  pier image COMMAND\n\nManage images\n\nCommands:\n/);
    const bare = await run(['image']);
    assert.equal(bare.code, 0);
    assert.match(bare.err, /^Usage:  pier image COMMAND/);
  });
  it('rejects bad flags with exit 125', async () => {
    assert.deepEqual(await run(['images', '--bogus']), { code: 125, out: '', err: "unknown flag: --bogus\nSee 'pier images --help'.\n" });
    assert.deepEqual(await run(['image', 'ls', '-z']), { code: 125, out: '', err: "unknown shorthand flag: 'z' in -z\nSee 'pier image ls --help'.\n" });
    assert.deepEqual(await run(['--bogus']), { code: 125, out: '', err: "unknown flag: --bogus\nSee 'pier --help'.\n" });
    // Global flags go before the command, as with docker.
    assert.equal((await run(['images', '-D'])).code, 125);
  });
  it('checks argument counts', async () => {
    assert.deepEqual(await run(['tag', 'a']), {
      code: 1, out: '',
      err: '"pier tag" requires exactly 2 arguments.\nSee \'pier tag --help\'.\n\nUsage:  pier tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nCreate a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n',
    });
    assert.match((await run(['rmi'])).err, /^"pier rmi" requires at least 1 argument\.\n/);
    assert.match((await run(['image', 'rm'])).err, /^"pier image rm" requires at least 1 argument\.\n/);
    assert.match((await run(['images', 'a', 'b'])).err, /^"pier images" requires at most 1 argument\.\n/);
    assert.match((await run(['version', 'x'])).err, /^"pier version" accepts no arguments\.\n/);
  });
  it('reports an unreachable daemon', async () => {
    const r = await run(['images']);
    assert.deepEqual(r, { code: 1, out: '', err: 'Cannot connect to the Pier daemon at unix:///nonexistent/pier.sock. Is the pier daemon running?\n' });
    const v = await run(['version']);
    assert.equal(v.code, 1);
    assert.match(v.out, /^Client:\n Version:           \S+\n API version:       1\.50\n/);
    assert.match(v.err, /^Cannot connect to the Pier daemon/);
    const h = await run(['-H', 'unix:///x.sock', 'images'], { env: { PIER_HOST: '', DOCKER_HOST: 'unix:///y.sock' } });
    assert.match(h.err, /at unix:\/\/\/x\.sock\./);
    const d = await run(['images'], { env: { PIER_HOST: '', DOCKER_HOST: 'unix:///y.sock' } });
    assert.match(d.err, /at unix:\/\/\/y\.sock\./);
    assert.match((await run(['-H', 'bogus://x', 'images'])).err, /^Failed to initialize: unable to resolve pier endpoint: invalid bind address format: bogus:\/\/x\n/);
  });
  it('refuses to save to a terminal', async () => {
    assert.deepEqual(await run(['save', 'busybox'], { tty: true }), {
      code: 1, out: '', err: 'cowardly refusing to save to a terminal. Use the -o flag or redirect\n',
    });
  });
  it('checks references before calling the daemon', async () => {
    const r = await run(['tag', 'busybox', 'BAD:Tag']);
    assert.equal(r.err, 'Error parsing reference: "BAD:Tag" is not a valid repository/tag: invalid reference format: repository name (library/BAD) must be lowercase\n');
    assert.equal((await run(['load', '-i', '/nonexistent/x.tar'])).err, 'open /nonexistent/x.tar: no such file or directory\n');
    assert.equal((await run(['events', '--since', 'bogus'])).err, 'failed to parse value as time or duration: "bogus"\n');
  });
});

describe('pier CLI against a fake daemon', () => {
  let dir: string;
  let srv: http.Server;
  const seen: string[] = [];
  const ID = 'sha256:f23c40f8cbebb8d406c6a1b503746b0ecbfb912ced8ff6d281434aeb8eaa8617';
  let env: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pier-cli-'));
    const sock = join(dir, 'd.sock');
    env = { PIER_HOST: `unix://${sock}` };
    srv = http.createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += String(c);
      seen.push(`${req.method} ${req.url} ${body.length}`);
      res.setHeader('Api-Version', '1.50');
      const url = new URL(req.url!, 'http://x');
      const path = url.pathname.replace(/^\/v[\d.]+/, '');
      const json = (status: number, v: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(v));
      switch (`${req.method} ${path}`) {
        case 'GET /_ping': return res.end('OK');
        case 'GET /images/json':
          return json(200, [{ Id: ID, ParentId: '', RepoTags: ['busybox:latest'], RepoDigests: [], Created: Math.floor(Date.now() / 1000) - 7200, Size: 4261234, SharedSize: -1, Labels: null, Containers: -1 }]);
        case 'DELETE /images/busybox':
          return json(200, [{ Untagged: 'busybox:latest' }, { Deleted: ID }]);
        case 'DELETE /images/nosuch':
          return json(404, { message: 'No such image: nosuch:latest' });
        case 'GET /images/busybox/json':
          return res.writeHead(200, { 'Content-Type': 'application/json' }).end(`{"Id":"${ID}","RepoTags":["busybox:latest"],"Config":{"Cmd":["sh"]}}\n`);
        case 'GET /images/nosuch/json':
          return json(404, { message: 'No such image: nosuch:latest' });
        case 'POST /images/load':
          res.writeHead(200, { 'Content-Type': 'application/json' });
          return res.end(`{"stream":"Loaded image: busybox:latest\\n"}\r\n`);
        case 'POST /images/create':
          res.writeHead(200, { 'Content-Type': 'application/json' });
          return res.end(url.searchParams.get('repo') === 'fail' ? '{"errorDetail":{"message":"bad tar"},"error":"bad tar"}\r\n' : `{"status":"${ID}"}\r\n`);
        case 'POST /images/prune':
          return json(200, { ImagesDeleted: [{ Untagged: 'x:1' }, { Deleted: ID }], SpaceReclaimed: 2_000_000 });
        case 'GET /images/get':
          return res.writeHead(200, { 'Content-Type': 'application/x-tar' }).end('TARDATA');
        case 'GET /events':
          res.writeHead(200, { 'Content-Type': 'application/json' });
          return res.end(`{"status":"tag","id":"${ID}","Type":"image","Action":"tag","Actor":{"ID":"${ID}","Attributes":{"name":"busybox:latest"}},"scope":"local","time":1704067200,"timeNano":1704067200000000001}\n`);
        default: return json(404, { message: `page not found` });
      }
    });
    await new Promise<void>((r) => srv.listen(sock, r));
    srv.unref();
  });
  after(() => {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists images', async () => {
    const r = await run(['images'], { env });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\nbusybox      latest    f23c40f8cbeb   2 hours ago   4.26MB\n');
    assert.equal((await run(['images', '-q'], { env })).out, 'f23c40f8cbeb\n');
    await run(['images', '-a', '-f', 'dangling=false', 'busy*'], { env });
    assert.match(seen.at(-1)!, /^GET \/v1\.50\/images\/json\?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%2C%22reference%22%3A%7B%22busy\*%22%3Atrue%7D%7D&all=1 0$/);
  });
  it('removes images, tolerating missing ones with -f', async () => {
    assert.deepEqual(await run(['rmi', 'busybox'], { env }), { code: 0, out: `Untagged: busybox:latest\nDeleted: ${ID}\n`, err: '' });
    assert.deepEqual(await run(['rmi', 'nosuch', 'busybox'], { env }), {
      code: 1, out: `Untagged: busybox:latest\nDeleted: ${ID}\n`, err: 'Error response from daemon: No such image: nosuch:latest\n',
    });
    assert.equal((await run(['rmi', '-f', 'nosuch'], { env })).code, 0);
  });
  it('inspects images', async () => {
    const r = await run(['image', 'inspect', 'busybox'], { env });
    assert.equal(r.out, `[\n    {\n        "Id": "${ID}",\n        "RepoTags": [\n            "busybox:latest"\n        ],\n        "Config": {\n            "Cmd": [\n                "sh"\n            ]\n        }\n    }\n]\n`);
    assert.deepEqual(await run(['inspect', '-f', '{{.Id}} {{json .Config.Cmd}}', 'busybox', 'nosuch'], { env }), {
      code: 1, out: `${ID} ["sh"]\n`, err: 'Error: No such object: nosuch\n',
    });
    assert.deepEqual(await run(['image', 'inspect', 'nosuch'], { env }), { code: 1, out: '[]\n', err: 'Error: No such image: nosuch\n' });
  });
  it('loads from stdin and saves to a file', async () => {
    assert.deepEqual(await run(['load'], { env, stdin: 'TAR' }), { code: 0, out: 'Loaded image: busybox:latest\n', err: '' });
    assert.match(seen.at(-1)!, /^POST \/v1\.50\/images\/load\?quiet=1 3$/);
    const out = join(dir, 'out.tar');
    assert.equal((await run(['save', '-o', out, 'busybox', 'other:1'], { env })).code, 0);
    assert.equal(readFileSync(out, 'utf8'), 'TARDATA');
    assert.match(seen.at(-1)!, /names=busybox&names=other%3A1/);
  });
  it('imports and reports stream errors', async () => {
    assert.deepEqual(await run(['import', '-c', 'CMD ["sh"]', '-m', 'hi', '-', 'busybox:latest'], { env, stdin: 'TAR' }), { code: 0, out: `${ID}\n`, err: '' });
    assert.match(seen.at(-1)!, /fromSrc=-&repo=busybox%3Alatest&message=hi&changes=CMD%20%5B%22sh%22%5D 3$/);
    assert.deepEqual(await run(['import', '-', 'fail'], { env, stdin: 'x' }), { code: 1, out: '', err: 'bad tar\n' });
  });
  it('prunes after confirmation', async () => {
    const no = await run(['image', 'prune'], { env, stdin: 'n\n' });
    assert.deepEqual(no, { code: 0, out: 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ', err: '' });
    const yes = await run(['image', 'prune', '-a'], { env, stdin: 'y\n' });
    assert.equal(yes.out, `WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] Deleted Images:\nuntagged: x:1\ndeleted: ${ID}\n\nTotal reclaimed space: 2MB\n`);
    assert.match(seen.at(-1)!, /filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D/);
  });
  it('prints events', async () => {
    const r = await run(['events', '--since', '1704067100', '--until', '1704067300'], { env });
    assert.match(r.out, /^\S+\.000000001\S* image tag sha256:f23c\S+ \(name=busybox:latest\)\n$/);
    const j = await run(['events', '--format', '{{.TimeNano}} {{.Actor.Attributes.name}}'], { env });
    assert.equal(j.out, '1704067200000000001 busybox:latest\n');
  });
});
