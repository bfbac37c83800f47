/**
 * The /containers API's shapes, as Docker gives them: list filters, limit and
 * size; wait conditions; the multiplexed log format; one-shot stats; and the
 * container events, live and replayed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startDaemon, api, type TestDaemon } from '../../harness/daemon.js';
import { busyboxImage, create, containerSkip, demux, endAll, inspect, pastEvents, waitFor, waitForEvents, type Event } from '../../harness/containers.js';

const skip = containerSkip();

describe('containers API', { skip }, () => {
  let d: TestDaemon;
  const post = (path: string, body?: unknown) => api(d.sock, 'POST', path, body);
  const get = (path: string) => api(d.sock, 'GET', path);
  const started = async (body: object, name?: string) => {
    const id = await create(d, { Image: 'busybox', ...body }, name);
    const r = await post(`/containers/${id}/start`);
    assert.equal(r.status, 204, r.text());
    return id;
  };
  const waitExit = async (id: string) => (await post(`/containers/${id}/wait`)).json<{ StatusCode: number }>().StatusCode;

  before(async () => {
    d = await startDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  describe('GET /containers/json', () => {
    let a: string, b: string, c: string;
    const list = async (q: string) => {
      const r = await get(`/containers/json?${q}`);
      assert.equal(r.status, 200, r.text());
      return r.json<{ Id: string; Names: string[]; State: string; SizeRw?: number; SizeRootFs?: number }[]>().filter((x) => [a, b, c].includes(x.Id));
    };
    const ids = async (q: string) => (await list(q)).map((x) => x.Id);
    const f = (o: object) => `filters=${encodeURIComponent(JSON.stringify(o))}`;

    before(async () => {
      // a: running (env=prod); b: exited 3 (env=dev); c: created, from another image.
      a = await started({ Cmd: ['sleep', '60'], Labels: { env: 'prod', tier: 'web' } }, 'list-a');
      b = await started({ Cmd: ['sh', '-c', 'echo data > /file; exit 3'], Labels: { env: 'dev' } }, 'list-b');
      assert.equal(await waitExit(b), 3);
      const img = await post(`/commit?container=${b}&repo=list-image&tag=1`);
      assert.equal(img.status, 201, img.text());
      c = await create(d, { Image: 'list-image:1', Cmd: ['true'] }, 'list-c');
    });

    it('running only by default, all with all=1, newest first', async () => {
      assert.deepEqual(await ids(''), [a]);
      assert.deepEqual(await ids('all=1'), [c, b, a]);
      const [one] = await list(`all=1&${f({ id: [a] })}`);
      assert.deepEqual(one!.Names, ['/list-a']);
      assert.equal(one!.State, 'running');
    });

    it('filters: id, name, label, status, ancestor, exited, before, since', async () => {
      assert.deepEqual(await ids(`all=1&${f({ id: [b.slice(0, 10)] })}`), [b]);
      assert.deepEqual(await ids(`all=1&${f({ name: ['list-[ab]'] })}`), [b, a]);
      // c inherits env=dev: the committed image carries b's labels, and containers get their image's.
      assert.deepEqual(await ids(`all=1&${f({ label: ['env'] })}`), [c, b, a]);
      assert.deepEqual(await ids(`all=1&${f({ label: ['env=dev'] })}`), [c, b]);
      assert.deepEqual(await ids(`all=1&${f({ label: ['env=prod'] })}`), [a]);
      assert.deepEqual(await ids(`all=1&${f({ label: ['env=prod', 'tier=web'] })}`), [a]);
      assert.deepEqual(await ids(`all=1&${f({ label: ['env!=prod'] })}`), [c, b]);
      assert.deepEqual(await ids(f({ status: ['exited'] })), [b], 'a status filter lists stopped ones without all=1');
      assert.deepEqual(await ids(f({ status: ['created', 'running'] })), [c, a]);
      assert.deepEqual(await ids(`all=1&${f({ ancestor: ['list-image:1'] })}`), [c]);
      assert.deepEqual((await ids(`all=1&${f({ ancestor: ['busybox'] })}`)).filter((x) => x !== c), [b, a]);
      assert.deepEqual(await ids(f({ exited: ['3'] })), [b]);
      assert.deepEqual(await ids(f({ exited: ['0'] })), []);
      assert.deepEqual(await ids(`all=1&${f({ before: ['list-c'] })}`), [b, a]);
      assert.deepEqual(await ids(`all=1&${f({ since: ['list-a'] })}`), [c, b]);
      assert.deepEqual(await ids(`all=1&${f({ since: [a], before: [c] })}`), [b]);
    });

    it('ancestor also matches containers of images built on that image, as Docker\'s does', async () => {
      // c's image was committed from b, which runs busybox.
      assert.deepEqual(await ids(`all=1&${f({ ancestor: ['busybox'] })}`), [c, b, a]);
    });

    it('bad filters are 400', async () => {
      assert.equal((await get(`/containers/json?${f({ status: ['sleeping'] })}`)).status, 400);
      assert.equal((await get(`/containers/json?${f({ exited: ['x'] })}`)).status, 400);
      assert.equal((await get(`/containers/json?${f({ colour: ['red'] })}`)).status, 400);
    });

    it('limit gives the newest n, stopped ones included', async () => {
      const r = (await get('/containers/json?limit=2')).json<{ Id: string }[]>().map((x) => x.Id);
      assert.deepEqual(r, [c, b]);
    });

    it('size=1 adds SizeRw and SizeRootFs', async () => {
      const [sb] = await list(`all=1&size=1&${f({ id: [b] })}`);
      assert.ok(typeof sb!.SizeRw === 'number' && sb!.SizeRw > 0, `SizeRw ${sb!.SizeRw}`);
      assert.ok(sb!.SizeRootFs! > 1_000_000, 'the image (busybox) counts in SizeRootFs');
      const [plain] = await list(`all=1&${f({ id: [b] })}`);
      assert.equal(plain!.SizeRw, undefined);
    });
  });

  describe('POST /containers/{id}/wait', () => {
    it('not-running: at once for a stopped container, else at the exit', async () => {
      const done = await started({ Cmd: ['sh', '-c', 'exit 2'] });
      await waitExit(done);
      const r = await post(`/containers/${done}/wait?condition=not-running`);
      assert.deepEqual(r.json(), { StatusCode: 2, Error: null });
      const run = await started({ Cmd: ['sh', '-c', 'sleep 0.3; exit 4'] });
      const t0 = Date.now();
      assert.equal((await post(`/containers/${run}/wait?condition=not-running`)).json().StatusCode, 4);
      assert.ok(Date.now() - t0 >= 150, 'it waited for the exit');
    });

    it('next-exit: waits for the next run of a stopped container', async () => {
      const id = await started({ Cmd: ['sh', '-c', 'exit 5'] });
      await waitExit(id);
      const waiting = post(`/containers/${id}/wait?condition=next-exit`);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await post(`/containers/${id}/start`)).status, 204);
      assert.deepEqual((await waiting).json(), { StatusCode: 5, Error: null });
    });

    it('removed: answers when the container is gone', async () => {
      const id = await create(d, { Image: 'busybox', Cmd: ['true'] });
      let answered = false;
      const waiting = post(`/containers/${id}/wait?condition=removed`).then((r) => ((answered = true), r));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(answered, false);
      assert.equal((await api(d.sock, 'DELETE', `/containers/${id}`)).status, 204);
      const r = await waiting;
      assert.equal(r.status, 200);
      assert.equal(r.json().StatusCode, 0);
    });

    it('an unknown condition is 400', async () => {
      const id = await create(d, { Image: 'busybox', Cmd: ['true'] });
      const r = await post(`/containers/${id}/wait?condition=whenever`);
      assert.equal(r.status, 400);
    });
  });

  describe('GET /containers/{id}/logs', () => {
    it('multiplexed frames (stream, size) when the container has no tty', async () => {
      // stdout and stderr are separate pipes: the pauses fix the order, as they would with Docker.
      const id = await started({ Cmd: ['sh', '-c', 'echo out1; sleep 0.05; echo err1 >&2; sleep 0.05; echo out2'] });
      await waitExit(id);
      const r = await get(`/containers/${id}/logs?stdout=1&stderr=1`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
      // Each frame: stream byte, three zero bytes, big-endian length, payload.
      assert.deepEqual([...r.body.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 5]);
      assert.deepEqual(demux(r.body), [{ stream: 1, data: 'out1\n' }, { stream: 2, data: 'err1\n' }, { stream: 1, data: 'out2\n' }]);
      assert.deepEqual(demux((await get(`/containers/${id}/logs?stderr=1`)).body), [{ stream: 2, data: 'err1\n' }]);
      const stamped = demux((await get(`/containers/${id}/logs?stdout=1&timestamps=1&tail=1`)).body);
      assert.equal(stamped.length, 1);
      assert.match(stamped[0]!.data, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out2\n$/);
    });

    it('raw bytes for a tty container', async () => {
      const id = await started({ Cmd: ['sh', '-c', 'echo on-a-tty'], Tty: true });
      await waitExit(id);
      const r = await get(`/containers/${id}/logs?stdout=1`);
      assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
      assert.equal(r.text(), 'on-a-tty\r\n');
    });

    it('neither stdout nor stderr is 400', async () => {
      const id = await create(d, { Image: 'busybox', Cmd: ['true'] });
      assert.equal((await get(`/containers/${id}/logs`)).status, 400);
    });
  });

  describe('GET /containers/{id}/stats', () => {
    it('one-shot: memory, cpu and pids figures of the running container', async () => {
      const id = await started({ Cmd: ['sh', '-c', 'sleep 60 & sleep 61 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; wait'] }, 'statme');
      await new Promise((r) => setTimeout(r, 300)); // some CPU time
      const r = await get(`/containers/${id}/stats?stream=false&one-shot=true`);
      assert.equal(r.status, 200);
      const s = r.json();
      assert.equal(s.id, id);
      assert.equal(s.name, '/statme');
      assert.ok(s.memory_stats.usage > 0, `memory_stats.usage ${s.memory_stats.usage}`);
      assert.ok(s.memory_stats.limit > 0);
      assert.ok(s.cpu_stats.cpu_usage.total_usage > 0, `cpu total_usage ${s.cpu_stats.cpu_usage.total_usage}`);
      assert.equal(s.pids_stats.current, 3);
      assert.ok(s.cpu_stats.online_cpus >= 1);
      assert.match(s.read, /^\d{4}-\d\d-\d\dT/);
      const bad = await get(`/containers/${id}/stats?stream=true&one-shot=true`);
      assert.equal(bad.status, 400);
      await api(d.sock, 'DELETE', `/containers/${id}?force=1`);
    });

    it('a stream gives a document a second with precpu from the one before', async () => {
      const id = await started({ Cmd: ['sleep', '60'] });
      const docs: any[] = [];
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: d.sock, path: `/containers/${id}/stats` }, (res) => {
          let buf = '';
          res.on('data', (c: Buffer) => {
            buf += c.toString();
            const lines = buf.split('\n');
            buf = lines.pop()!;
            for (const l of lines) if (l.trim()) docs.push(JSON.parse(l));
            if (docs.length >= 2) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', (e) => (docs.length >= 2 ? resolve() : reject(e)));
        req.end();
      });
      assert.equal(docs[1].precpu_stats.cpu_usage.total_usage, docs[0].cpu_stats.cpu_usage.total_usage);
      assert.equal(docs[1].preread, docs[0].read);
      await api(d.sock, 'DELETE', `/containers/${id}?force=1`);
    });
  });

  describe('events', () => {
    it('a container\'s life as events, in order, with Docker\'s attributes', async () => {
      const id = await create(d, { Image: 'busybox', Cmd: ['sh', '-c', 'echo ready; sleep 60'], Labels: { 'pier.test': 'events' } }, 'ev-one');
      const start = Date.now();
      await post(`/containers/${id}/start`);
      await post(`/containers/${id}/pause`);
      await post(`/containers/${id}/unpause`);
      assert.equal((await post(`/containers/${id}/rename?name=ev-two`)).status, 204);
      const ex = (await post(`/containers/${id}/exec`, { Cmd: ['sh', '-c', 'sleep 0.2'] })).json().Id;
      await post(`/exec/${ex}/start`, { Detach: false });
      await waitFor('exec_die', async () => (await pastEvents(d, { container: [id] })).some((e) => e.Action === 'exec_die'));
      await post(`/containers/${id}/stop?t=1`); // sh as pid 1 ignores TERM: kill after 1 s
      await api(d.sock, 'DELETE', `/containers/${id}`);
      let events: Event[] = [];
      await waitFor('destroy', async () => (events = await pastEvents(d, { container: [id] })).some((e) => e.Action === 'destroy'));
      const actions = events.map((e) => e.Action);
      assert.deepEqual(actions, [
        'create', 'start', 'pause', 'unpause', 'rename',
        'exec_create: sh -c sleep 0.2', 'exec_start: sh -c sleep 0.2', 'exec_die',
        'kill', 'kill', 'die', 'stop', 'destroy',
      ]);
      const by = (a: string) => events.find((e) => e.Action === a)!;
      assert.equal(by('create').Actor.Attributes.name, 'ev-one');
      assert.equal(by('create').Actor.Attributes.image, 'busybox');
      assert.equal(by('create').Actor.Attributes['pier.test'], 'events', 'labels are attributes');
      assert.equal(by('rename').Actor.Attributes.oldName, '/ev-one');
      assert.equal(by('rename').Actor.Attributes.name, 'ev-two');
      assert.equal(by('exec_die').Actor.Attributes.exitCode, '0');
      assert.equal(by('exec_die').Actor.Attributes.execID, ex);
      assert.deepEqual(events.filter((e) => e.Action === 'kill').map((e) => e.Actor.Attributes.signal), ['15', '9']);
      assert.equal(by('die').Actor.Attributes.exitCode, '137');
      for (const e of events) {
        assert.equal(e.Type, 'container');
        assert.equal(e.Actor.ID, id);
        assert.ok(e.time >= Math.floor(start / 1000) - 1 && e.timeNano >= e.time * 1e9);
      }
    });

    it('timeNano never goes backwards', async () => {
      const id = await create(d, { Image: 'busybox', Cmd: ['true'] });
      for (let i = 0; i < 40; i++) await post(`/containers/${id}/rename?name=tick-${i}`);
      const times = (await pastEvents(d, { container: [id] })).map((e) => e.timeNano);
      const back = times.map((t, i) => (i > 0 && t < times[i - 1]! ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(back, [], `events stamped before their predecessor: ${back.join(', ')}`);
    });

    it('an OOM kill is an oom event before the die', async () => {
      const id = await started({ Cmd: ['sh', '-c', 'x=0123456789; while true; do x=$x$x; done'], HostConfig: { Memory: 20 << 20, MemorySwap: 20 << 20 } });
      assert.equal(await waitExit(id), 137);
      const actions = await waitForEvents(d, id, ['oom', 'die']);
      assert.deepEqual(actions.slice(-2), ['oom', 'die']);
    });

    it('GET /events streams container events as they happen, filtered by label', async () => {
      const got: Event[] = [];
      const filters = encodeURIComponent(JSON.stringify({ type: ['container'], label: ['pier.test=live'] }));
      let req!: ReturnType<typeof request>;
      const connected = new Promise<void>((resolve) => {
        req = request({ socketPath: d.sock, path: `/events?filters=${filters}` }, (res) => {
          let buf = '';
          resolve();
          res.on('data', (c: Buffer) => {
            buf += c.toString();
            const lines = buf.split('\n');
            buf = lines.pop()!;
            for (const l of lines) if (l.trim()) got.push(JSON.parse(l));
          });
        });
        req.on('error', () => undefined);
        req.end();
      });
      await connected;
      try {
        const id = await started({ Cmd: ['true'], Labels: { 'pier.test': 'live' } });
        await create(d, { Image: 'busybox', Cmd: ['true'] }); // no label: not streamed
        await waitFor('die on the stream', () => got.some((e) => e.Action === 'die'));
        assert.deepEqual(got.map((e) => `${e.Action} ${e.Actor.ID}`), [`create ${id}`, `start ${id}`, `die ${id}`]);
      } finally {
        req.destroy();
      }
    });
  });

  it('top, changes and the archive stat header', async () => {
    const id = await started({ Cmd: ['sh', '-c', 'echo hi > /made; sleep 60'] });
    await waitFor('the file', async () => (await api(d.sock, 'HEAD', `/containers/${id}/archive?path=/made`)).status === 200);
    const pid = (await inspect(d, id)).State.Pid;
    const top = (await get(`/containers/${id}/top?ps_args=-o%20pid,comm`)).json();
    assert.deepEqual(top.Titles, ['PID', 'COMMAND']);
    assert.ok(top.Processes.some((p: string[]) => p[0] === String(pid) && p[1] === 'sleep'), JSON.stringify(top.Processes));
    const changes = (await get(`/containers/${id}/changes`)).json();
    assert.ok(changes.some((c: { Path: string; Kind: number }) => c.Path === '/made' && c.Kind === 1), JSON.stringify(changes));
    const head = await api(d.sock, 'HEAD', `/containers/${id}/archive?path=/made`);
    const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
    assert.equal(stat.name, 'made');
    assert.equal(stat.size, 3);
    assert.equal((await api(d.sock, 'HEAD', `/containers/${id}/archive?path=/nope`)).status, 404);
    await api(d.sock, 'DELETE', `/containers/${id}?force=1`);
  });
});
