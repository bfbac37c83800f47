import type { Readable } from 'node:stream';
import { guardedBody } from '../body.js';
import { pipeline } from 'node:stream/promises';
import type { Res, Router } from '../server.js';
import { conflict, invalid, messageOf, notImplemented } from '../../base/errdefs.js';
import { parseFilters } from '../../engine/filters.js';
import type { ContainerService } from '../../engine/containers/service.js';
import type { ExecService, ExecConfig } from '../../engine/containers/exec.js';
import { attach, logs, parseDetachKeys } from '../../engine/containers/io.js';
import { inspectContainer, listContainers } from '../../engine/containers/views.js';
import { changes, commit, exportContainer, getArchive, putArchive, statPath } from '../../engine/containers/filesystem.js';
import { stats } from '../../engine/containers/stats.js';
import { pruneContainers } from '../../engine/containers/prune.js';
import { top } from '../../runtime/top.js';
import { encodePathStat } from '../../archive/copy.js';
import type { ContainerConfig, HostConfig } from '../../runtime/container-config.js';
import type { EndpointConfig } from '../../network/types.js';
import { logQuery, MUX, RAW, sendLogStream } from '../logs.js';
import { versionBefore } from '../version.js';

export function containerRoutes(r: Router, svc: ContainerService, execs: ExecService): void {
  r.get('/containers/json', async (req, res) => {
    res.json(await listContainers(svc, {
      all: req.query.bool('all') ?? false,
      limit: req.query.int('limit'),
      size: req.query.bool('size') ?? false,
      filters: parseFilters(req.query.str('filters')),
    }));
  });

  r.post('/containers/create', async (req, res) => {
    const body = (await req.json<ContainerConfig & { HostConfig?: HostConfig; NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointConfig | null> | null } | null }>()) ?? {};
    const { HostConfig: hostConfig, NetworkingConfig: networking, ...config } = body;
    const endpoints = networking?.EndpointsConfig ?? undefined;
    if (endpoints && Object.keys(endpoints).length > 1 && versionBefore(req.version, '1.44'))
      throw invalid(`Container cannot be connected to network endpoints: ${Object.keys(endpoints).join(', ')}`);
    res.json(await svc.create({ name: req.query.str('name') || undefined, config, hostConfig: hostConfig ?? {}, platform: req.query.str('platform') || undefined, endpoints }), 201);
  });

  r.get('/containers/{id}/json', async (req, res) => {
    const c = svc.find(req.params[0]!);
    res.json(await inspectContainer(svc, c, { size: req.query.bool('size') ?? false, execIds: execs.idsOf(c.id) }));
  });

  r.post('/containers/{id}/start', async (req, res) => {
    if (req.query.str('checkpoint')) throw invalid('checkpoints are not supported');
    await svc.start(req.params[0]!);
    res.noContent();
  });

  r.post('/containers/{id}/stop', async (req, res) => {
    await svc.stop(req.params[0]!, { signal: req.query.str('signal') || undefined, timeout: req.query.int('t') });
    res.noContent();
  });

  r.post('/containers/{id}/restart', async (req, res) => {
    await svc.restart(req.params[0]!, { signal: req.query.str('signal') || undefined, timeout: req.query.int('t') });
    res.noContent();
  });

  r.post('/containers/{id}/kill', async (req, res) => {
    await svc.kill(req.params[0]!, req.query.str('signal') || undefined);
    res.noContent();
  });

  r.post('/containers/{id}/wait', async (req, res) => {
    const c = svc.find(req.params[0]!);
    const condition = req.query.str('condition') ?? '';
    const done = svc.wait(c, condition, req.signal);
    // Headers go out at once: the docker CLI waits for them before it starts the container.
    const w = res.raw('application/json') as NodeJS.WritableStream & { flushHeaders?: () => void };
    w.flushHeaders?.();
    let body: object;
    try {
      const code = await done;
      const st = svc.store.get(c.id)?.state ?? c.state;
      body = { StatusCode: code, Error: st.Error && condition !== 'removed' ? { Message: st.Error } : null };
    } catch (e) {
      body = { StatusCode: -1, Error: { Message: messageOf(e) } };
    }
    w.end(JSON.stringify(body) + '\n');
  });

  r.delete('/containers/{id}', async (req, res) => {
    if (req.query.bool('link')) throw invalid('links are not supported');
    await svc.remove(req.params[0]!, { force: req.query.bool('force') ?? false, volumes: req.query.bool('v') ?? false });
    res.noContent();
  });

  r.post('/containers/{id}/attach', async (req, res) => {
    const c = svc.find(req.params[0]!);
    const q = req.query;
    const flags = { stdin: q.bool('stdin') ?? false, stdout: q.bool('stdout') ?? false, stderr: q.bool('stderr') ?? false };
    if (!flags.stdin && !flags.stdout && !flags.stderr) throw invalid('at least one of stdin, stdout, stderr must be true');
    if (c.state.Paused) throw conflict(`container ${c.id} is paused, unpause the container before attach`);
    const detachKeys = q.str('detachKeys') || undefined;
    if (detachKeys) parseDetachKeys(detachKeys); // a 400 before the connection is taken over
    const conn = res.hijack(c.config.Tty ? RAW : MUX);
    try {
      await attach(svc, c, { ...flags, stream: q.bool('stream') ?? false, logs: q.bool('logs') ?? false, detachKeys }, conn, req.signal);
    } catch (e) {
      conn.destroy(); // the status line is gone: closing is all that is left to say
      throw e;
    }
  });

  r.post('/containers/{id}/resize', async (req, res) => {
    await svc.resize(req.params[0]!, req.query.int('h') ?? 0, req.query.int('w') ?? 0);
    res.text('', 200);
  });

  r.get('/containers/{id}/logs', async (req, res) => {
    const c = svc.find(req.params[0]!);
    const { stdout, stderr, follow, timestamps, since, until, tail } = logQuery(req.query);
    if (!stdout && !stderr) throw invalid('Bad parameters: you must choose at least one stream');
    if (c.hostConfig.LogConfig?.Type === 'none') throw notImplemented('configured logging driver does not support reading');
    await sendLogStream(req, res, !!c.config.Tty, (out) => logs(svc, c, { stdout, stderr, follow, timestamps, since, until, tail }, out as never, req.signal));
  });

  r.get('/containers/{id}/top', async (req, res) => {
    const c = svc.find(req.params[0]!);
    if (!c.state.Running) throw conflict(`container ${c.id} is not running`);
    if (c.state.Restarting) throw conflict(`container ${c.id} is restarting, wait until the container is running`);
    res.json(await top(await svc.cgroup(c.id).pids(), req.query.str('ps_args') || undefined));
  });

  r.get('/containers/{id}/stats', async (req, res) => {
    const c = svc.find(req.params[0]!);
    const stream = req.query.bool('stream') ?? true;
    const oneShot = req.query.bool('one-shot') ?? false;
    if (oneShot && stream) throw invalid('cannot have stream=true and one-shot=true');
    const s = res.stream('application/json');
    await stats(svc, c, { stream, oneShot, signal: req.signal }, (d) => s.write(d));
    s.end();
  });

  r.post('/containers/{id}/pause', async (req, res) => {
    await svc.pause(req.params[0]!);
    res.noContent();
  });
  r.post('/containers/{id}/unpause', async (req, res) => {
    await svc.unpause(req.params[0]!);
    res.noContent();
  });

  r.post('/containers/{id}/rename', (req, res) => {
    svc.rename(req.params[0]!, req.query.str('name') ?? '');
    res.noContent();
  });

  r.post('/containers/{id}/update', async (req, res) => {
    const body = (await req.json<Record<string, unknown>>()) ?? {};
    res.json(await svc.update(req.params[0]!, body));
  });

  r.get('/containers/{id}/changes', async (req, res) => {
    const c = svc.find(req.params[0]!);
    const list = await changes(svc, c);
    res.json(list.length ? list : null);
  });

  r.get('/containers/{id}/export', async (req, res) => {
    const c = svc.find(req.params[0]!);
    const tar = await exportContainer(svc, c);
    await sendTar(tar, res, req.signal);
  });

  const archiveStat = async (id: string, path: string | undefined) => {
    if (path === undefined) throw invalid('path is required');
    return statPath(svc, svc.find(id), path);
  };
  r.head('/containers/{id}/archive', async (req, res) => {
    const st = await archiveStat(req.params[0]!, req.query.str('path'));
    res.header('X-Docker-Container-Path-Stat', encodePathStat(st));
    res.text('', 200);
  });
  r.get('/containers/{id}/archive', async (req, res) => {
    const path = req.query.str('path');
    if (path === undefined) throw invalid('path is required');
    const { stat, stream } = await getArchive(svc, svc.find(req.params[0]!), path, req.signal);
    res.header('X-Docker-Container-Path-Stat', encodePathStat(stat));
    await sendTar(stream, res, req.signal);
  });
  r.put('/containers/{id}/archive', async (req, res) => {
    const path = req.query.str('path');
    if (path === undefined) throw invalid('path is required');
    const upload = guardedBody(req.raw);
    try {
      await putArchive(svc, svc.find(req.params[0]!), path, upload.body, {
        noOverwriteDirNonDir: req.query.bool('noOverwriteDirNonDir') ?? false,
        copyUIDGID: req.query.bool('copyUIDGID') ?? false,
        signal: req.signal,
      });
    } catch (e) {
      await upload.drain(); // the client gets the error, not a reset
      throw e;
    }
    res.text('', 200);
  });

  r.post('/commit', async (req, res) => {
    const q = req.query;
    const ref = q.str('container');
    if (!ref) throw invalid('container is required');
    const c = svc.find(ref);
    const config = (await req.json<ContainerConfig>()) ?? undefined;
    const id = await commit(svc, c, {
      repo: q.str('repo') || undefined, tag: q.str('tag') || undefined, comment: q.str('comment'), author: q.str('author'),
      pause: q.bool('pause') ?? true, changes: q.all('changes'), config,
    });
    res.json({ Id: id }, 201);
  });

  r.post('/containers/prune', async (req, res) => {
    res.json(await pruneContainers(svc, parseFilters(req.query.str('filters'))));
  });

  // ---- exec ----------------------------------------------------------------------------------

  r.post('/containers/{id}/exec', async (req, res) => {
    const body = (await req.json<ExecConfig>()) ?? {};
    res.json({ Id: execs.create(req.params[0]!, body) }, 201);
  });

  r.post('/exec/{id}/start', async (req, res) => {
    const body = (await req.json<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>()) ?? {};
    const e = execs.get(req.params[0]!);
    if (body.Detach) {
      // The answer waits until the process runs: a failure to start it is the client's error.
      await new Promise<void>((resolve, reject) => {
        execs.start(e.id, { detach: true, consoleSize: body.ConsoleSize, onRunning: resolve }).catch(reject);
      });
      res.text('', 200);
      return;
    }
    const conn = res.hijack(e.config.Tty ? RAW : MUX);
    await execs.start(e.id, { detach: false, consoleSize: body.ConsoleSize }, conn).catch((err: unknown) => {
      const text = Buffer.from(messageOf(err) + '\r\n');
      const h = Buffer.alloc(8);
      h[0] = 1;
      h.writeUInt32BE(text.length, 4);
      conn.end(e.config.Tty ? text : Buffer.concat([h, text]));
    });
  });

  r.post('/exec/{id}/resize', async (req, res) => {
    await execs.resize(req.params[0]!, req.query.int('h') ?? 0, req.query.int('w') ?? 0);
    res.text('', 200);
  });

  r.get('/exec/{id}/json', (req, res) => res.json(execs.inspect(req.params[0]!)));
}

async function sendTar(tar: Readable, res: Res, signal: AbortSignal): Promise<void> {
  const out = res.raw('application/x-tar');
  try {
    await pipeline(tar, out as never, { signal });
  } catch (e) {
    tar.destroy();
    if (!signal.aborted) (out as unknown as { destroy?: (e?: Error) => void }).destroy?.(e as Error);
  }
}

