/**
 * `pier container move CONTAINER --to CONTEXT`: a cold move of a container to
 * another daemon, with this pierd acting as that daemon's API client.
 *
 * Cold, because live migration (CRIU checkpoint/restore) does not work on the
 * kernels Pier is run on here: the container is stopped, its state travels,
 * and it starts again over there — its processes restart, its files do not.
 *
 *   preflight   target reachable (TLS accepted), no container of that name there,
 *               no host bind mounts (unless forced), networks there or creatable,
 *               named volumes absent or empty there (unless forced)
 *   image       copied first, only the layers the target lacks (image-copy.ts),
 *               while the container still runs
 *   stop        the container here, if it runs
 *   volumes     named ones created there (same name, driver options, labels)
 *               and filled: PUT /volumes/{name}/archive (Pier extension)
 *   create      there, under the same name, from the same Config, HostConfig
 *               and endpoint settings a `docker inspect` shows
 *   layer       the writable layer as a layer tar (whiteouts and all), applied
 *               there: PUT /containers/{id}/rwlayer (Pier extension); then the
 *               anonymous volumes' data into the ones the create made
 *   logs        the log history (rotated files and all, oldest first), so
 *               `logs` there shows what it showed here: PUT
 *               /containers/{id}/log-history (Pier extension)
 *   start       there, if it ran here; confirmed by inspecting it running
 *   remove      here, only now: the container, its anonymous volumes, and the
 *               moved named volumes no other container here uses
 *
 * A failure at any step before the confirmation undoes what was made on the
 * target (best effort: a dead target keeps its half) and starts the container
 * here again if it ran: the source is never touched before the target has
 * confirmed, so nothing is lost halfway.
 */
import type { Readable } from 'node:stream';
import { conflict, EngineError, invalid, isKind, messageOf } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import type { Client } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import { writeDiff } from '../archive/diff.js';
import { applyLayer } from '../archive/apply.js';
import { LogHistoryError, logFiles, readLogHistory, writeLogHistory } from '../runtime/logfile.js';
import type { ContainerConfig, HostConfig } from '../runtime/container-config.js';
import type { EndpointConfig } from '../network/types.js';
import type { ContainerHold, ContainerService } from './containers/service.js';
import { ZERO_TIME, type ContainerRecord } from './containers/record.js';
import { skipOf, withDiff, withRootfs } from './containers/filesystem.js';
import type { ImageArchives } from './archives.js';
import { connectTarget, copyImage, missingLayers, remoteError, sendTar, type RemoteTarget } from './image-copy.js';
import { throttled, type Progress } from './progress.js';

const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

export interface MoveResult {
  /** The container's ID on the target. */
  Id: string;
  BytesSent: { Image: number; Volumes: number; WritableLayer: number; Logs: number };
  /** What could not be cleaned up here after the move (the move itself succeeded). */
  Warnings: string[];
}

export class ContainerMover {
  constructor(
    private readonly svc: ContainerService,
    private readonly archives: ImageArchives,
    private readonly log: Logger,
  ) {}

  /**
   * Moves the container; `progress` gets its first message only once the
   * preflight passed, so a refusal (conflict, unreachable target, host binds)
   * is an error before anything was changed anywhere.
   */
  async move(ref: string, t: RemoteTarget, o: { force?: boolean; progress: Progress }): Promise<MoveResult> {
    const c = this.svc.find(ref);
    // Held for the whole move: a start, rename or removal from a client meanwhile (and a second
    // move) is refused, so the container cannot run here while it is being sent away.
    const hold = this.svc.hold(c.id, `is being moved to ${t.Host}`);
    try {
      return await this.moveLocked(c, t, o.force ?? false, o.progress, hold);
    } finally {
      hold.release();
    }
  }

  private async moveLocked(c: ContainerRecord, t: RemoteTarget, force: boolean, progress: Progress, hold: ContainerHold): Promise<MoveResult> {
    const log = this.log.child({ container: c.id.slice(0, 12), name: c.name, target: t.Host });
    const plan = this.check(c, force);
    const target = await connectTarget(t);
    await this.preflight(c, target, plan, force);

    const step = (status: string, fields: Record<string, unknown> = {}) => {
      log.info(fields, `move: ${status}`);
      progress({ status });
    };
    const sent = { Image: 0, Volumes: 0, WritableLayer: 0, Logs: 0 };
    const undo: { what: string; run: () => Promise<void> }[] = [];
    const wasRunning = c.state.Running;
    let stopped = false;
    step(`Moving container ${c.name} to ${t.Host}${wasRunning ? ' (cold: it is stopped here and started there)' : ''}`);
    try {
      // Image first, while the container still runs: the downtime is the rest.
      const img = await copyImage(this.svc.images, this.archives, target, c.image, progress, { log });
      sent.Image = img.bytes;
      step(`Image sent: ${img.layersSent} of ${img.layersTotal} layers, ${img.bytes} bytes`, { bytes: img.bytes });
      const imageRef = await imageRefOnTarget(c, target);

      for (const n of plan.createNetworks) {
        const id = await this.createNetwork(target, n);
        undo.push({ what: `network ${n}`, run: () => target.networkRemove(id) });
        step(`Created network ${n} on the target`);
      }

      if (wasRunning) {
        step('Stopping the container here');
        if (c.state.Running) await this.svc.stop(c.id, {}); // (unless it ended by itself meanwhile)
        stopped = true;
      }

      for (const v of plan.namedVolumes) {
        const info = await this.svc.o.volumes.inspect(v);
        if (!plan.existingVolumes.has(v)) {
          await target.volumeCreate({ Name: v, Driver: 'local', DriverOpts: info.Options ?? {}, Labels: info.Labels ?? {} }).catch((e: unknown) => {
            throw remoteError(target.host, `creating volume ${v}`, e);
          });
          undo.push({ what: `volume ${v}`, run: () => target.volumeRemove(v, true) });
        }
        if (info.Options && Object.keys(info.Options).length) {
          step(`Volume ${v} has driver options (${Object.keys(info.Options).join(', ')}): recreated with them, its data stays where they point`);
          continue;
        }
        sent.Volumes += await this.send(target, `volume ${v}`, await this.svc.o.volumes.archive(v), 'PUT', `/volumes/${encodeURIComponent(v)}/archive`, progress, log);
      }

      const created = await target.containerCreate(createBody(c, imageRef) as never, { name: c.name }).catch((e: unknown) => {
        throw remoteError(target.host, `creating container ${c.name}`, e);
      });
      undo.push({ what: `container ${c.name}`, run: () => target.containerRemove(created.Id, { force: true, volumes: true }) });
      step(`Created container ${c.name} on the target (${created.Id.slice(0, 12)})`);

      sent.WritableLayer = await this.withWritableLayer(c, (tar) =>
        this.send(target, 'writable layer', tar, 'PUT', `/containers/${created.Id}/rwlayer`, progress, log),
      );

      // Anonymous volumes: the create made new ones there, found by where they are mounted.
      const anonymous = (c.mounts ?? []).filter((m) => m.Type === 'volume' && m.Name && !m.Spec.Source);
      if (anonymous.length) {
        const there = await target.containerInspect(created.Id);
        for (const m of anonymous) {
          const name = (there.Mounts as { Destination?: string; Type?: string; Name?: string }[] | null | undefined)?.find((x) => x.Destination === m.Destination && x.Type === 'volume')?.Name;
          if (!name) throw new EngineError('internal', `the target made no volume at ${m.Destination} for container ${c.name}`);
          sent.Volumes += await this.send(target, `volume at ${m.Destination}`, await this.svc.o.volumes.archive(m.Name!), 'PUT', `/volumes/${encodeURIComponent(name)}/archive`, progress, log);
        }
      }

      if (logFiles(c.logPath).length && (c.hostConfig.LogConfig?.Type ?? 'json-file') !== 'none') {
        sent.Logs = await this.send(target, 'log history', readLogHistory(c.logPath), 'PUT', `/containers/${created.Id}/log-history`, progress, log);
      }

      if (wasRunning) {
        step('Starting the container on the target');
        await target.containerStart(created.Id).catch((e: unknown) => {
          throw remoteError(target.host, `starting container ${c.name}`, e);
        });
      }
      // The confirmation: until the target shows the container (running, if it ran here), nothing here is removed.
      const confirmed = await target.containerInspect(created.Id).catch((e: unknown) => {
        throw remoteError(target.host, `confirming container ${c.name}`, e);
      });
      if (wasRunning && !confirmed.State?.Running)
        throw new EngineError('unavailable', `container ${c.name} did not keep running on the target (status ${confirmed.State?.Status}, exit code ${confirmed.State?.ExitCode})`);
      step(`The target confirmed container ${c.name}${wasRunning ? ' running' : ''}`);

      const warnings = await this.removeSource(c, plan, log, hold);
      for (const w of warnings) progress({ status: `Warning: ${w}` });
      step(`Moved container ${c.name} to ${t.Host} as ${created.Id.slice(0, 12)}: ${sent.Image + sent.Volumes + sent.WritableLayer + sent.Logs} bytes sent`, { sent });
      return { Id: created.Id, BytesSent: sent, Warnings: warnings };
    } catch (e) {
      log.warn({ err: messageOf(e) }, 'move failed: undoing it on the target');
      const left: string[] = [];
      for (const u of undo.reverse()) {
        await u.run().catch((err: unknown) => {
          left.push(u.what);
          log.warn({ what: u.what, err: messageOf(err) }, 'move: undo on the target failed');
        });
      }
      let restarted = '';
      if (stopped) {
        await this.svc.start(c.id, { hold }).then(
          () => (restarted = '; it was started again here'),
          (err: unknown) => (restarted = `; starting it again here failed: ${messageOf(err)} (start it with: pier start ${c.name})`),
        );
      }
      const leftover = left.length ? `; left on the target (remove them there): ${left.join(', ')}` : '';
      const kind = e instanceof EngineError ? e.kind : 'internal';
      throw new EngineError(kind, `moving container ${c.name} failed: ${messageOf(e)}. The container is unchanged here${restarted}${leftover}`, { cause: e });
    }
  }

  // ---- checks --------------------------------------------------------------------------------

  /** What the container needs that cannot move, refused before anything is sent. */
  private check(c: ContainerRecord, force: boolean): Plan {
    if (c.state.Status === 'removing' || c.state.Dead) throw conflict(`container ${c.name} is being removed or dead: it cannot be moved`);
    if (c.state.Paused) throw conflict(`container ${c.name} is paused: unpause it before moving it`);
    if (c.state.Restarting) throw conflict(`container ${c.name} is restarting: stop it, or wait until it runs, before moving it`);
    const hc = c.hostConfig;
    for (const [what, mode] of [['network', hc.NetworkMode], ['PID namespace', hc.PidMode], ['IPC namespace', hc.IpcMode]] as const)
      if (mode?.startsWith('container:')) throw invalid(`container ${c.name} shares the ${what} of container ${mode.slice(10)}, which stays here: it cannot be moved alone`);
    if (hc.VolumesFrom?.length) throw invalid(`container ${c.name} uses volumes from ${hc.VolumesFrom.join(', ')}: it cannot be moved alone`);
    const binds = (c.mounts ?? []).filter((m) => m.Type === 'bind');
    if (binds.length && !force) {
      const list = binds.map((m) => `${m.Source}:${m.Destination}`).join(', ');
      throw invalid(`container ${c.name} uses host bind mounts (${list}); their data cannot move with it: use --force to move it without them (the target will bind the same paths of its own host)`);
    }
    const namedVolumes = [...new Set((c.mounts ?? []).filter((m) => m.Type === 'volume' && m.Name && m.Spec.Source).map((m) => m.Name!))];
    for (const m of c.mounts ?? []) if (m.Type === 'volume' && m.Driver && m.Driver !== 'local') throw invalid(`container ${c.name} uses volume ${m.Name} of driver ${m.Driver}: only local volumes can be moved`);
    const networks = Object.keys(c.networks ?? {}).filter((n) => !PREDEFINED_NETWORKS.has(n));
    return { namedVolumes, existingVolumes: new Set(), networks, createNetworks: [] };
  }

  private async preflight(c: ContainerRecord, target: Client, plan: Plan, force: boolean): Promise<void> {
    const what = `moving container ${c.name}`;
    // The volume and writable-layer uploads are Pier extensions: another daemon would fail halfway.
    if ((await missingLayers(target, [], what)) === undefined)
      throw invalid(`the target ${target.host} is not a Pier daemon: moving a container needs Pier's extensions there (pier image copy works with any daemon)`);
    try {
      const other = await target.containerInspect(c.name);
      if (other.Name === `/${c.name}`)
        throw conflict(`the target ${target.host} already has a container named ${c.name} (${other.Id.slice(0, 12)}): remove or rename it there first`);
    } catch (e) {
      if (!(isNotFound(e))) throw e instanceof EngineError ? e : remoteError(target.host, what, e);
    }
    for (const n of plan.networks) {
      const exists = await target.networkInspectRaw(n).then(() => true, (e: unknown) => {
        if (isNotFound(e)) return false;
        throw remoteError(target.host, what, e);
      });
      if (!exists) plan.createNetworks.push(n);
    }
    for (const v of plan.namedVolumes) {
      const exists = await target.volumeInspectRaw(v).then(() => true, (e: unknown) => {
        if (isNotFound(e)) return false;
        throw remoteError(target.host, what, e);
      });
      if (!exists) continue;
      plan.existingVolumes.add(v);
      if (force) continue;
      const empty = await volumeEmptyOn(target, v);
      if (!empty) throw conflict(`the target ${target.host} already has a volume named ${v} with data in it: remove it there, or use --force to copy this one's data over it`);
    }
  }

  // ---- parts ---------------------------------------------------------------------------------

  /** The name the container's image has on the target: the one it was created with when that means the same image there. */
  /** Makes a user-defined network there like this one; with the same subnet when it can, else the target's choice. */
  private async createNetwork(target: Client, name: string): Promise<string> {
    const n = this.svc.o.networks.inspect(name) as { Driver?: string; Internal?: boolean; Attachable?: boolean; EnableIPv6?: boolean; Options?: Record<string, string>; Labels?: Record<string, string>; IPAM?: { Driver?: string; Config?: object[]; Options?: Record<string, string> | null } };
    const base = { Name: name, Driver: n.Driver ?? 'bridge', Internal: n.Internal ?? false, Attachable: n.Attachable ?? false, EnableIPv6: n.EnableIPv6 ?? false, Options: n.Options ?? {}, Labels: n.Labels ?? {} };
    try {
      return (await target.networkCreate({ ...base, IPAM: { Driver: n.IPAM?.Driver ?? 'default', Config: n.IPAM?.Config ?? [], Options: n.IPAM?.Options ?? {} } } as never)).Id;
    } catch (e) {
      // Its subnet may be taken there: let the target pick one (static addresses in it then fail the create, clearly).
      this.log.info({ network: name, err: messageOf(e) }, 'move: creating the network with its subnet failed; letting the target choose one');
      try {
        return (await target.networkCreate(base as never)).Id;
      } catch (e2) {
        throw remoteError(target.host, `creating network ${name}`, e2);
      }
    }
  }

  /** Streams `tar` to the target with progress; returns the bytes sent. */
  private async send(target: Client, what: string, tar: Readable, method: string, path: string, progress: Progress, log: Logger): Promise<number> {
    log.info({ what }, 'move: sending');
    // The size is not known beforehand: total 0.
    const bytes = await sendTar(target, `sending ${what}`, tar, method, path, throttled(progress, 'Sending', what.slice(0, 40), 0, 200));
    progress({ status: `Sent ${what}: ${bytes} bytes` });
    log.info({ what, bytes }, 'move: sent');
    return bytes;
  }

  /**
   * The writable layer as a layer tar: overlay's upper directory read as it is
   * (the container is stopped), other drivers by comparing the rootfs with its
   * image (as filesystem.ts's diff does).
   */
  private withWritableLayer<T>(c: ContainerRecord, fn: (tar: Readable) => Promise<T>): Promise<T> {
    return withDiff(this.svc, c, (o) => fn(writeDiff({ ...o, skip: skipOf(c) })));
  }

  /** After the target confirmed: the container here goes, with its anonymous volumes and the named ones nobody else here uses. */
  private async removeSource(c: ContainerRecord, plan: Plan, log: Logger, hold: ContainerHold): Promise<string[]> {
    const warnings: string[] = [];
    try {
      await this.svc.remove(c.id, { force: true, volumes: true, hold });
    } catch (e) {
      warnings.push(`removing container ${c.name} here failed: ${messageOf(e)}; remove it with: pier rm -f ${c.name}`);
      return warnings;
    }
    for (const v of plan.namedVolumes) {
      const users = this.svc.o.volumes.usersOf(v);
      if (users.length) {
        warnings.push(`volume ${v} stays here too: container ${users[0]!.slice(0, 12)} here uses it`);
        continue;
      }
      await this.svc.o.volumes.remove(v).catch((e: unknown) => {
        if (!isKind(e, 'not-found')) warnings.push(`removing volume ${v} here failed: ${messageOf(e)}`);
      });
    }
    log.info({ warnings }, 'move: source removed');
    return warnings;
  }
}

interface Plan {
  /** Named local volumes the container mounts. */
  namedVolumes: string[];
  /** Of those, the ones the target has already (empty, or forced). */
  existingVolumes: Set<string>;
  /** User-defined networks it joins, and those the target lacks. */
  networks: string[];
  createNetworks: string[];
}

/** Whether the target's volume has no data: Pier answers HEAD /volumes/{name}/archive; other daemons count as not empty. */
async function volumeEmptyOn(target: Client, name: string): Promise<boolean> {
  try {
    const res = await target.request('HEAD', `/volumes/${encodeURIComponent(name)}/archive`);
    res.body.resume();
    return res.headers['x-pier-volume-empty'] === '1';
  } catch {
    return false;
  }
}

/** The create request `docker inspect` would let one rebuild the container from, host-specific state left out. */
export function createBody(c: ContainerRecord, image: string): ContainerConfig & { HostConfig: HostConfig; NetworkingConfig: { EndpointsConfig: Record<string, EndpointConfig> } } {
  const endpoints: Record<string, EndpointConfig> = {};
  for (const [name, n] of Object.entries(c.networks ?? {})) {
    const e = n.config ?? {};
    endpoints[name] = {
      ...(e.IPAMConfig ? { IPAMConfig: e.IPAMConfig } : {}),
      ...(e.Aliases?.length ? { Aliases: e.Aliases } : {}),
      ...(e.Links?.length ? { Links: e.Links } : {}),
      ...(e.MacAddress ? { MacAddress: e.MacAddress } : {}),
      ...(e.DriverOpts ? { DriverOpts: e.DriverOpts } : {}),
      ...(e.GwPriority ? { GwPriority: e.GwPriority } : {}),
    };
  }
  return { ...c.config, Image: image, HostConfig: { ...c.hostConfig }, NetworkingConfig: { EndpointsConfig: endpoints } };
}

/**
 * The image reference for the create on the target: the name the container
 * was made with when that name means the same image there, else the image's
 * ID (the name may be another image on the target, or not there at all).
 */
export async function imageRefOnTarget(c: Pick<ContainerRecord, 'config' | 'imageName' | 'image'>, target: Pick<Client, 'imageInspect'>): Promise<string> {
  const asGiven = c.config.Image ?? c.imageName;
  const there = await target.imageInspect(asGiven).catch(() => undefined);
  return there?.Id === c.image ? asGiven : c.image;
}

/**
 * `PUT /containers/{id}/rwlayer` (Pier extension, the target's side of a move):
 * applies a layer tar — whiteouts and all, every path kept inside the root —
 * to a container that is not running, as changes in its writable layer.
 */
export async function applyWritableLayer(svc: ContainerService, ref: string, tar: Readable, signal?: AbortSignal): Promise<void> {
  const c = svc.find(ref);
  if (c.state.Running) throw conflict(`container ${c.name} is running: a writable layer can only be applied to a stopped container`);
  await withRootfs(svc, c, (dir) => applyLayer(dir, tar, { signal, limits: { maxBytes: svc.images.layers.maxBytes } }));
}

/**
 * `PUT /containers/{id}/log-history` (Pier extension, the target's side of a
 * move): the log the container had on the source, written as its log before
 * it first starts, so `logs` goes on from there. Only a container that never
 * ran and keeps logs takes one; a malformed or cut upload changes nothing.
 */
export async function importLogHistory(svc: ContainerService, ref: string, body: Readable, signal?: AbortSignal): Promise<number> {
  const c = svc.find(ref);
  if (c.state.Status !== 'created' || c.state.StartedAt !== ZERO_TIME)
    throw conflict(`container ${c.name} has run already: a log history can only be given to a container that never started`);
  if ((c.hostConfig.LogConfig?.Type ?? 'json-file') === 'none') throw conflict(`container ${c.name} keeps no logs (log driver "none")`);
  if (logFiles(c.logPath).length) throw conflict(`container ${c.name} has a log already`);
  try {
    return await writeLogHistory(c.logPath, body as AsyncIterable<Buffer>, { maxBytes: svc.images.layers.maxBytes, ...(signal ? { signal } : {}) });
  } catch (e) {
    if (e instanceof LogHistoryError) throw invalid(`${e.message}: send the log files of a Pier container (PUT /containers/{id}/log-history)`);
    throw e;
  }
}
