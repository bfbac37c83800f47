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

/**
 * A DaemonConfig field's daemon.json name, as dockerd spells them: kebab-case
 * (maxConcurrentDownloads → max-concurrent-downloads), the TLS keys in one word
 * (tlsVerify → tlsverify, tlsCaCert → tlscacert).
 */
export const keyOf = (k: keyof DaemonConfig): string => (k.startsWith('tls') ? k.toLowerCase() : k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));

/** dockerd's reloadable settings, in the order its `reload` event lists them. */
const RELOADED_SETTINGS = [
  'debug', 'logLevel', 'labels', 'insecureRegistries', 'registryMirrors', 'maxConcurrentDownloads', 'maxConcurrentUploads',
  'liveRestore', 'logDriver', 'logOpts', 'metricsAddr',
] as const satisfies readonly (keyof DaemonConfig)[];

export const RELOADABLE: ReadonlySet<keyof DaemonConfig> = new Set<keyof DaemonConfig>([
  ...RELOADED_SETTINGS,
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
  const out: Record<string, string> = { name };
  for (const k of RELOADED_SETTINGS) {
    const v = cfg[k];
    out[keyOf(k)] = typeof v === 'object' ? JSON.stringify(v) : String(v ?? '');
  }
  return out;
}
