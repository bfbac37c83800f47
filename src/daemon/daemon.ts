/**
 * The composition root: builds every store and service from the config, wires
 * them to the API router, opens the listeners, and takes them all down again.
 * Nothing else in Pier constructs services.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { closeSync, openSync, promises as fs, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { EngineError, unavailable } from '../base/errdefs.js';
import { NodeHost, type Host } from '../base/host.js';
import type { Logger } from '../base/log.js';
import { openDb, type Db } from '../base/db.js';
import { sys } from '../base/sys.js';
import { FsContentStore } from '../image/fscontent.js';
import { IMAGE_MIGRATIONS, ImageStore } from '../image/store.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { OverlaySnapshotter } from '../snapshot/overlay/overlay.js';
import { BtrfsSnapshotter } from '../snapshot/btrfs/btrfs.js';
import { VfsSnapshotter } from '../snapshot/vfs/vfs.js';
import { Layers } from '../layer/layers.js';
import { EventBus } from '../engine/events.js';
import { ImageService } from '../engine/images.js';
import { ImageArchives } from '../engine/archives.js';
import { SystemService, PIER_VERSION, GIT_COMMIT } from '../engine/system.js';
import { chainIds } from '../layer/layers.js';
import { Router } from '../api/server.js';
import { API_VERSION, MIN_API_VERSION } from '../api/version.js';
import { systemRoutes } from '../api/routes/system.js';
import { imageRoutes } from '../api/routes/images.js';
import { authRoutes } from '../api/routes/auth.js';
import { DistributionService } from '../distribution/service.js';
import { detectCgroupMode } from '../runtime/cgroups.js';
import { RuncRuntime } from '../runtime/runc.js';
import type { Runtime } from '../runtime/runtime.js';
import { ContainerStore } from '../engine/containers/store.js';
import { ContainerService } from '../engine/containers/service.js';
import { ExecService } from '../engine/containers/exec.js';
import { startHealth } from '../engine/containers/health.js';
import { containerRoutes } from '../api/routes/containers.js';
import { listContainers } from '../engine/containers/views.js';
import { parseFilters } from '../engine/filters.js';
import { effectiveLogOpts, type DaemonConfig, type StorageDriver } from './config.js';
import { EngineMetrics, MetricsListener } from './metrics.js';
import { diffConfig, keyOf, reloadAttributes, reloadedValues } from './reload.js';
import type { SystemDeps } from '../engine/system.js';
import type { DistributionConfig } from '../distribution/service.js';
import { hostname } from 'node:os';
import { NetworkService } from '../engine/networks.js';
import { NetworkStore } from '../network/store.js';
import { BridgeDriver } from '../network/bridge/bridge.js';
import { Firewall } from '../network/bridge/firewall.js';
import { Cni, findCniDir } from '../network/cni.js';
import { EmbeddedDns } from '../network/dns/server.js';
import { networkRoutes } from '../api/routes/networks.js';
import { buildRoutes } from '../api/routes/build.js';
import { BuildService } from '../engine/build.js';
import { VolumeService } from '../engine/volumes.js';
import { LocalDriver } from '../volume/local/local.js';
import { volumeRoutes } from '../api/routes/volumes.js';
import { SqliteClusterStore } from '../service/sqlite-store.js';
import { KernelBalancer } from '../service/lb/kernel.js';
import { SwarmService } from '../engine/services.js';
import { swarmRoutes } from '../api/routes/swarm.js';
import { migrateRoutes } from '../api/routes/migrate.js';
import { ContainerMover } from '../engine/move.js';
import { serverTlsOptions, tlsEnabled } from './tls.js';

const snapshotters = {
  overlay2: (root: string, host: Host) => OverlaySnapshotter.open(root, host),
  overlay: (root: string, host: Host) => OverlaySnapshotter.open(root, host),
  btrfs: (root: string, host: Host) => BtrfsSnapshotter.open(root, host),
  vfs: (root: string, host: Host) => VfsSnapshotter.open(root, host),
} satisfies Record<StorageDriver, (root: string, host: Host) => Promise<Snapshotter>>;

export class Daemon {
  private servers: Server[] = [];
  /** The tcp:// listeners that speak TLS: reloadTls() gives them new certificates. */
  private tlsServers: TlsServer[] = [];
  /** Upgraded (hijacked) connections: the HTTP server no longer tracks them, so stop() ends them itself. */
  private readonly upgraded = new Set<Duplex>();
  private db?: Db;
  private lockFd?: number;
  private snapshotter?: Snapshotter;
  private containers?: ContainerService;
  private networks?: NetworkService;
  private volumes?: VolumeService;
  private swarm?: SwarmService;
  private metricsListener?: MetricsListener;
  private id = '';
  events = new EventBus();

  constructor(
    readonly cfg: DaemonConfig,
    private readonly log: Logger,
    private readonly host: Host = new NodeHost(),
  ) {}

  async start(): Promise<void> {
    const { cfg, log } = this;
    // Bad TLS files stop the daemon before it touches anything; the tcp:// listeners use what was read here.
    const tls = cfg.hosts.some((h) => h.startsWith('tcp://')) && tlsEnabled(cfg) ? serverTlsOptions(cfg, log) : undefined;
    await fs.mkdir(cfg.dataRoot, { recursive: true, mode: 0o711 });
    await fs.mkdir(cfg.execRoot, { recursive: true, mode: 0o700 });
    this.lock();
    this.db = openDb(join(cfg.dataRoot, 'pier.db'), IMAGE_MIGRATIONS);
    const meta = new ImageStore(this.db);
    const content = await FsContentStore.open(join(cfg.dataRoot, 'content'));
    this.snapshotter = await this.openSnapshotter();
    const layers = new Layers(this.snapshotter, this.host, meta, log.child({ component: 'layers' }), { maxBytes: cfg.maxLayerSize });
    const images = new ImageService(content, meta, layers, this.events, log.child({ component: 'images' }));
    const archives = new ImageArchives(images, cfg.dataRoot, log.child({ component: 'archives' }));
    // Settings a reload changes are read from `cfg` at each use (reload() assigns them onto it).
    const distCfg: DistributionConfig = {
      get insecureRegistries() { return cfg.insecureRegistries; },
      get mirrors() { return cfg.registryMirrors; },
      get maxConcurrentDownloads() { return cfg.maxConcurrentDownloads; },
      get maxConcurrentUploads() { return cfg.maxConcurrentUploads; },
    };
    const distribution = new DistributionService(
      images,
      distCfg,
      cfg.dataRoot,
      log.child({ component: 'distribution' }),
    );
    const containerStore = new ContainerStore(this.db);
    // Volumes: Docker's local driver under DATA_ROOT/volumes, its records in the daemon's database.
    const volumes = new VolumeService({ local: await LocalDriver.open(join(cfg.dataRoot, 'volumes'), this.db, this.host) }, this.events, log.child({ component: 'volumes' }));
    this.volumes = volumes;
    const networks = await this.openNetworks(containerStore);
    this.networks = networks;
    const runtimes: Record<string, Runtime> = {};
    for (const [name, r] of Object.entries(cfg.runtimes)) runtimes[name] = new RuncRuntime(name, r.path, join(cfg.execRoot, 'runtime', name), r.runtimeArgs);
    const containers = new ContainerService(containerStore, images, this.snapshotter, this.host, this.events, log.child({ component: 'containers' }), {
      dataRoot: cfg.dataRoot,
      execRoot: cfg.execRoot,
      runtimes,
      defaultRuntime: cfg.defaultRuntime,
      cgroupMode: detectCgroupMode(),
      cgroupParent: cfg.cgroupParent,
      initPath: cfg.initPath,
      get liveRestore() { return cfg.liveRestore; }, // reloadable
      networks,
      volumes,
      // Read at each create, so that a reload's log-driver/log-opts reach new containers.
      logDefaults: () => ({ Type: this.cfg.logDriver, Config: effectiveLogOpts(this.cfg) }),
    });
    this.containers = containers;
    const execs = new ExecService(containers);
    containers.healthStarter = (c) => startHealth(containers, execs, c);
    await containers.restore();
    await networks.sweep();
    // Swarm mode: its objects in the daemon's database, published ports and VIPs by kernel rules.
    const swarm = new SwarmService({
      store: new SqliteClusterStore(this.db),
      containers,
      networks,
      lb: new KernelBalancer(this.host, networks, log.child({ component: 'lb' })),
      events: this.events,
      log: log.child({ component: 'swarm' }),
      distribution,
      engineLabels: cfg.labels,
    });
    this.swarm = swarm;
    await swarm.open();
    this.id = await this.engineId();
    const build = new BuildService(containers, distribution, this.db!, cfg.dataRoot);
    const sysDeps: SystemDeps = {
      id: this.id,
      dataRoot: cfg.dataRoot,
      snapshotter: this.snapshotter,
      images,
      runtimes: cfg.runtimes,
      defaultRuntime: cfg.defaultRuntime,
      get debug() { return cfg.debug; },
      get liveRestore() { return cfg.liveRestore; },
      get labels() { return cfg.labels; },
      apiVersion: API_VERSION,
      minApiVersion: MIN_API_VERSION,
      runtimeVersion: await this.runtimeVersion(),
      containerCounts: () => {
        const all = containers.store.all();
        const running = all.filter((c) => c.state.Running && !c.state.Paused).length;
        const paused = all.filter((c) => c.state.Paused).length;
        return { total: all.length, running, paused, stopped: all.length - running - paused };
      },
      containerList: () => listContainers(containers, { all: true, size: true, filters: parseFilters('') }),
      volumeList: () => volumes.usage(),
      cgroupns: containers.o.cgroupMode === 'v2',
      get insecureRegistries() { return cfg.insecureRegistries; },
      get registryMirrors() { return cfg.registryMirrors; },
      logging: () => ({ driver: this.cfg.logDriver, opts: effectiveLogOpts(this.cfg) }),
      metricsAddr: () => this.metricsListener?.address ?? '',
      buildCacheList: async () => buildCacheRecords(build, images),
      swarm,
    };
    const system = new SystemService(sysDeps);
    const metrics = new EngineMetrics(
      {
        id: this.id, version: PIER_VERSION, commit: GIT_COMMIT, graphdriver: this.snapshotter.driver,
        containerCounts: () => sysDeps.containerCounts!(),
        imageCount: () => images.meta.list().length,
      },
      this.events,
    );
    this.metricsListener = new MetricsListener(metrics, log.child({ component: 'metrics' }));

    const router = new Router(log.child({ component: 'api' }), `Pier/${PIER_VERSION} (linux)`);
    router.onRequest = metrics.observeRequest;
    systemRoutes(router, system, this.events);
    imageRoutes(router, images, archives, distribution);
    authRoutes(router, distribution);
    containerRoutes(router, metrics.timed(containers), execs);
    networkRoutes(router, networks);
    buildRoutes(router, build);
    volumeRoutes(router, volumes);
    swarmRoutes(router, swarm);
    // Daemon to daemon (Pier extensions): container move, image copy, and their target side.
    migrateRoutes(router, containers, archives, volumes, new ContainerMover(containers, archives, log.child({ component: 'move' })));

    // The pidfile is there before anyone can reach the API (as dockerd does).
    if (cfg.pidfile) {
      await fs.mkdir(dirname(cfg.pidfile), { recursive: true });
      writeFileSync(cfg.pidfile, `${process.pid}\n`);
    }
    for (const h of cfg.hosts) this.servers.push(await this.listen(h, router, tls));
    if (cfg.metricsAddr) await this.metricsListener.start(cfg.metricsAddr);
    log.info({ version: PIER_VERSION, dataRoot: cfg.dataRoot, driver: this.snapshotter.driver, hosts: cfg.hosts }, 'pierd started');
  }

  /**
   * Networks: records in the daemon's database, bridges through the bridge
   * driver (CNI plugins for each container's side), this daemon's own
   * iptables chains, and the embedded DNS server.
   */
  private async openNetworks(containers: ContainerStore): Promise<NetworkService> {
    const cniDir = findCniDir();
    if (!cniDir) throw unavailable('the CNI plugins are not installed (apt-get install containernetworking-plugins): Pier needs them for bridge networks');
    const driver = new BridgeDriver(this.host, new Cni(this.host, cniDir));
    const log = this.log.child({ component: 'networks' });
    let svc: NetworkService | undefined;
    const firewall = new Firewall(this.host, this.cfg.bridge, () => svc!.firewallState(), this.cfg.iptables);
    const dns = new EmbeddedDns({ log: log.child({ component: 'dns' }) });
    svc = new NetworkService(new NetworkStore(this.db!), containers, driver, firewall, dns, this.events, log, {
      execRoot: this.cfg.execRoot, defaultBridge: this.cfg.bridge, bip: this.cfg.bip, pools: this.cfg.defaultAddressPools, dns: this.cfg.dns,
    });
    await svc.init();
    return svc;
  }

  /** An exclusive flock on the data root: two daemons never share one. The kernel drops it if we die. */
  private lock(): void {
    const path = join(this.cfg.dataRoot, 'pierd.lock');
    const fd = openSync(path, 'a+');
    if (!sys().trylock(fd)) {
      closeSync(fd);
      throw unavailable(`data root ${this.cfg.dataRoot} is in use by another pierd; stop it or start this one with a different --data-root`);
    }
    this.lockFd = fd;
  }

  private async openSnapshotter(): Promise<Snapshotter> {
    const root = (d: string) => join(this.cfg.dataRoot, 'snapshots', d === 'overlay2' ? 'overlay' : d);
    if (this.cfg.storageDriver) {
      const d = this.cfg.storageDriver;
      await fs.mkdir(root(d), { recursive: true });
      return snapshotters[d](root(d), this.host);
    }
    // Automatic choice like dockerd: btrfs on btrfs, else overlay, else vfs (slow but works anywhere).
    const fsType = (await this.host.run('stat', ['-f', '-c', '%T', this.cfg.dataRoot], { allowFail: true })).stdout.trim();
    const order: StorageDriver[] = fsType === 'btrfs' ? ['btrfs', 'overlay2', 'vfs'] : ['overlay2', 'vfs'];
    for (const d of order) {
      try {
        await fs.mkdir(root(d), { recursive: true });
        return await snapshotters[d](root(d), this.host);
      } catch (e) {
        this.log.warn({ driver: d, err: e }, 'storage driver unavailable, trying the next');
      }
    }
    throw unavailable('no storage driver works on this data root');
  }

  /** "1.1.5+ds1" from `runc --version`'s first line, or '' when the runtime is missing. */
  private async runtimeVersion(): Promise<string> {
    const rt = this.cfg.runtimes[this.cfg.defaultRuntime]!;
    const r = await this.host.run(rt.path, ['--version'], { allowFail: true }).catch(() => undefined);
    return r?.stdout.match(/version\s+(\S+)/)?.[1] ?? '';
  }

  private async engineId(): Promise<string> {
    const p = join(this.cfg.dataRoot, 'engine-id');
    try {
      return (await fs.readFile(p, 'utf8')).trim();
    } catch {
      const id = randomUUID();
      await fs.writeFile(p, id + '\n');
      return id;
    }
  }

  /**
   * Re-read --tlscacert/--tlscert/--tlskey and use them for new connections on
   * every TLS listener (open connections keep theirs). Throws, keeping the
   * certificates in use, when the new files are missing or do not match.
   */
  reloadTls(): void {
    if (!this.tlsServers.length) return;
    const o = serverTlsOptions(this.cfg, this.log);
    for (const s of this.tlsServers) s.setSecureContext(o);
    this.log.info({ cert: this.cfg.tlsCert, ca: this.cfg.tlsCaCert }, 'TLS certificates reloaded');
  }

  private async listen(host: string, router: Router, tls: TlsOptions | undefined): Promise<Server> {
    const opts = { keepAliveTimeout: 60_000, requestTimeout: 0 };
    const handle = (req: Parameters<Router['handle']>[0], res: Parameters<Router['handle']>[1]) => router.handle(req, res);
    // TLS is for tcp:// only, as dockerd: a unix socket is guarded by its file mode.
    const tlsOpts = host.startsWith('tcp://') ? tls : undefined;
    let server: Server;
    if (tlsOpts) {
      // allowHalfOpen as node:http's own server has it: a client that half-closes a hijacked
      // connection (stdin done: docker sends close_notify) must still get the container's output.
      const s = createTlsServer({ ...opts, ...tlsOpts, allowHalfOpen: true }, handle);
      // A client without a certificate from our CA ends here, before any HTTP: the handshake fails.
      s.on('tlsClientError', (e, socket) => this.log.info({ host, remote: socket.remoteAddress, err: e.message }, 'TLS handshake refused'));
      this.tlsServers.push(s);
      server = s;
    } else server = createServer(opts, handle);
    server.on('upgrade', (req, socket, head) => {
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      router.handleUpgrade(req, socket, head);
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    if (host.startsWith('unix://')) {
      const path = host.slice(7);
      await fs.mkdir(dirname(path), { recursive: true });
      await removeStaleSocket(path);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      await fs.chmod(path, 0o660);
      if (this.cfg.group) await this.host.run('chgrp', [this.cfg.group, path]);
    } else {
      const u = new URL(host.replace(/^tcp:/, 'http:'));
      if (!tlsOpts) this.log.warn({ host }, 'LISTENING ON TCP WITHOUT TLS (--tls=false): anyone who can reach this address controls this machine as root');
      else if (!this.cfg.tlsVerify) this.log.warn({ host }, 'LISTENING ON TCP WITH --tls BUT WITHOUT --tlsverify: traffic is encrypted, but anyone who can reach this address controls this machine as root');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''), () => resolve());
      });
    }
    this.log.info({ host, tls: tlsOpts ? (this.cfg.tlsVerify ? 'verify' : 'on') : undefined }, 'API listening');
    return server;
  }

  /**
   * Applies a configuration read again (SIGHUP): the reloadable keys take
   * effect now, the others are logged as needing a restart. Emits a daemon
   * `reload` event, as dockerd does. Returns what changed.
   */
  async reload(next: DaemonConfig): Promise<{ applied: string[]; restartNeeded: string[] }> {
    const { reloadable, restartNeeded } = diffConfig(this.cfg, next);
    const names = (ks: readonly (keyof DaemonConfig)[]) => ks.map(keyOf);
    if (restartNeeded.length) this.log.warn({ keys: names(restartNeeded) }, 'configuration changes not reloadable, restart pierd to apply them');
    const wasMetrics = this.cfg.metricsAddr;
    const wasTls = { tlsCaCert: this.cfg.tlsCaCert, tlsCert: this.cfg.tlsCert, tlsKey: this.cfg.tlsKey };
    Object.assign(this.cfg, reloadedValues(next, reloadable));
    // Certificates are read again on every reload, so a renewed certificate at the same path is picked up.
    try {
      this.reloadTls();
    } catch (e) {
      Object.assign(this.cfg, wasTls);
      this.log.error({ err: e }, 'TLS certificates not reloaded: the ones in use are kept');
    }
    const c = this.cfg;
    this.log.setLevel(c.logLevel);
    if (c.metricsAddr !== wasMetrics && this.metricsListener) {
      await this.metricsListener.stop();
      if (c.metricsAddr) {
        try {
          await this.metricsListener.start(c.metricsAddr);
        } catch (e) {
          this.log.error({ err: e, addr: c.metricsAddr }, 'metrics listener could not start on the reloaded address; metrics are off until the next reload');
        }
      }
    }
    this.log.info({ changed: names(reloadable), restartNeeded: names(restartNeeded) }, 'configuration reloaded');
    this.events.emit('daemon', 'reload', this.id, reloadAttributes(c, hostname()));
    return { applied: names(reloadable), restartNeeded: names(restartNeeded) };
  }

  async stop(): Promise<void> {
    await this.metricsListener?.stop();
    for (const c of this.upgraded) c.destroy();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    for (const h of this.cfg.hosts) if (h.startsWith('unix://')) await fs.rm(h.slice(7), { force: true });
    // The controller stops first, so that it does not replace the tasks whose containers stop next.
    await this.swarm?.close().catch((e: unknown) => this.log.warn({ err: e }, 'swarm shutdown'));
    await this.containers?.shutdown();
    await this.networks?.shutdown().catch((e: unknown) => this.log.warn({ err: e }, 'network shutdown'));
    await this.volumes?.close();
    await this.snapshotter?.close();
    this.db?.close();
    if (this.cfg.pidfile) await fs.rm(this.cfg.pidfile, { force: true });
    if (this.lockFd !== undefined) closeSync(this.lockFd);
    this.log.info('pierd stopped');
  }
}

/** A socket file left by a daemon that died is removed; a live one means another daemon owns the path. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    await fs.access(path);
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new EngineError('unavailable', `another daemon is listening on ${path}; stop it or choose another --host`);
  await fs.rm(path, { force: true });
}

/**
 * The build cache as Docker's /system/df lists it: one record per cached
 * step. Its size is the layer the step added (0 for steps that change only
 * the config); a step whose image is tagged is shared with that image. Pier
 * does not count cache hits, so UsageCount is 0 and LastUsedAt is unset.
 */
async function buildCacheRecords(build: BuildService, images: ImageService): Promise<unknown[]> {
  const topChain = async (image: string) => {
    if (!image || !images.meta.get(image as never)) return '';
    const chains = chainIds((await images.configOf(image)).rootfs.diff_ids);
    return chains[chains.length - 1] ?? '';
  };
  const out: unknown[] = [];
  for (const e of build.cache.entries()) {
    if (!images.meta.get(e.image as never)) continue; // its image is gone: a miss the next build removes
    const top = await topChain(e.image);
    const parentTop = await topChain(e.parent);
    const size = top && top !== parentTop ? (images.layers.get(top)?.size ?? 0) : 0;
    const created = new Date(e.createdNs / 1e6).toISOString();
    out.push({
      ID: e.key.slice(0, 25), Parent: '', Parents: [], Type: 'regular', Description: e.instruction,
      InUse: false, Shared: images.meta.tagsOf(e.image as never).length > 0, Size: size,
      CreatedAt: created, LastUsedAt: null, UsageCount: 0,
    });
  }
  return out;
}
