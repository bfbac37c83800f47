/**
 * Configuration reload on SIGHUP, like dockerd's: the configuration is read
 * again (same flags, same file), the keys that can change while running are
 * applied, and the others are reported as needing a restart. A file that does
 * not parse or does not validate changes nothing: the running configuration
 * stays, and the error is logged.
 *
 * Reloadable (as in dockerd): debug, log-level, labels, insecure-registries,
 * registry-mirrors, max-concurrent-downloads, max-concurrent-uploads,
 * live-restore, and the defaults of new containers log-driver and log-opts;
 * also metrics-addr (the listener moves).
 */
import type { DaemonConfig } from './config.js';

/** DaemonConfig fields by their daemon.json names. */
export const KEY_OF: Partial<Record<keyof DaemonConfig, string>> = {
  dataRoot: 'data-root', execRoot: 'exec-root', hosts: 'hosts', pidfile: 'pidfile', debug: 'debug', logLevel: 'log-level',
  logFormat: 'log-format', storageDriver: 'storage-driver', runtimes: 'runtimes', defaultRuntime: 'default-runtime',
  liveRestore: 'live-restore', cgroupParent: 'cgroup-parent', initPath: 'init-path', labels: 'labels', group: 'group',
  maxLayerSize: 'max-layer-size', insecureRegistries: 'insecure-registries', registryMirrors: 'registry-mirrors',
  maxConcurrentDownloads: 'max-concurrent-downloads', maxConcurrentUploads: 'max-concurrent-uploads', bridge: 'bridge',
  bip: 'bip', defaultAddressPools: 'default-address-pools', iptables: 'iptables', dns: 'dns', logDriver: 'log-driver',
  logOpts: 'log-opts', metricsAddr: 'metrics-addr', tls: 'tls', tlsVerify: 'tlsverify', tlsCaCert: 'tlscacert', tlsCert: 'tlscert', tlsKey: 'tlskey',
};

export const RELOADABLE: ReadonlySet<keyof DaemonConfig> = new Set<keyof DaemonConfig>([
  'debug', 'logLevel', 'labels', 'insecureRegistries', 'registryMirrors', 'maxConcurrentDownloads', 'maxConcurrentUploads',
  'liveRestore', 'logDriver', 'logOpts', 'metricsAddr',
  // New certificate files (or the same paths rewritten) serve new TLS connections; open ones keep theirs.
  'tlsCaCert', 'tlsCert', 'tlsKey',
]);

export interface ConfigDiff {
  /** Changed fields that apply now. */
  reloadable: (keyof DaemonConfig)[];
  /** Changed fields that need a restart (kept at their running values). */
  restartNeeded: (keyof DaemonConfig)[];
}

/** Which fields differ between the running config and the one just read. */
export function diffConfig(running: DaemonConfig, next: DaemonConfig): ConfigDiff {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)] as (keyof DaemonConfig)[]);
  keys.delete('configFile');
  const out: ConfigDiff = { reloadable: [], restartNeeded: [] };
  for (const k of [...keys].sort()) {
    if (JSON.stringify(running[k]) === JSON.stringify(next[k])) continue;
    (RELOADABLE.has(k) ? out.reloadable : out.restartNeeded).push(k);
  }
  return out;
}

/** The fields of `next` that are reloadable, to copy onto the running config. */
export function reloadedValues(next: DaemonConfig, keys: readonly (keyof DaemonConfig)[]): Partial<DaemonConfig> {
  const out: Partial<DaemonConfig> = {};
  for (const k of keys) if (RELOADABLE.has(k)) (out as Record<string, unknown>)[k] = structuredClone(next[k]);
  return out;
}

/**
 * The attributes of the daemon `reload` event: the reloadable settings now in
 * force, under their daemon.json names, as dockerd lists them.
 */
export function reloadAttributes(cfg: DaemonConfig, name: string): Record<string, string> {
  return {
    name,
    debug: String(cfg.debug),
    'log-level': cfg.logLevel,
    labels: JSON.stringify(cfg.labels),
    'insecure-registries': JSON.stringify(cfg.insecureRegistries),
    'registry-mirrors': JSON.stringify(cfg.registryMirrors),
    'max-concurrent-downloads': String(cfg.maxConcurrentDownloads),
    'max-concurrent-uploads': String(cfg.maxConcurrentUploads),
    'live-restore': String(cfg.liveRestore),
    'log-driver': cfg.logDriver,
    'log-opts': JSON.stringify(cfg.logOpts),
    'metrics-addr': cfg.metricsAddr ?? '',
  };
}
