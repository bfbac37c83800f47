/**
 * The pull-through cache's upstream side: maps a local repository to an
 * upstream registry by path prefix and fetches manifests and blobs from it.
 *
 * ```ts
 * const proxy = createProxy([
 *   { prefix: 'hub', url: 'https://registry-1.docker.io' },      // hub/library/busybox → library/busybox
 *   { prefix: 'ghcr', url: 'https://ghcr.io', username, password },
 * ]);
 * ```
 *
 * The longest matching prefix wins; prefix '' matches every repository (so
 * put it alongside others only as a fallback). For Docker Hub, a one-component
 * name gets `library/` as Docker's own client adds it (hub/busybox →
 * library/busybox), and docker.io / index.docker.io mean registry-1.docker.io.
 */
import type { Readable } from 'node:stream';
import { invalid, isKind } from '../../base/errdefs.js';
import { nullLogger, type Logger } from '../../base/log.js';
import type { PullThrough, UpstreamManifest } from '../hooks.js';
import { UpstreamClient, type UpstreamConfig } from './client.js';
import { fetchTransport, nodeTransport, type FetchLike } from './transport.js';

export { DEFAULT_ACCEPT, UpstreamClient } from './client.js';
export { parseChallenges } from './challenge.js';

export interface UpstreamEntry extends UpstreamConfig {
  /** Local repositories under `prefix/` come from this upstream; '' for all. */
  prefix: string;
}

export interface ProxyOptions {
  log?: Logger;
  /** Replaces the built-in node:http(s) transport; `insecure` then is up to it. */
  fetch?: FetchLike;
}

/** A PullThrough that also lets go of its keep-alive connections. */
export interface PullThroughProxy extends PullThrough {
  /** The upstream and its repository name for a local repository, or undefined. */
  resolve(repo: string): { client: UpstreamClient; name: string } | undefined;
  close(): void;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export function createProxy(upstreams: readonly UpstreamEntry[], o: ProxyOptions = {}): PullThroughProxy {
  const log = (o.log ?? nullLogger).child({ component: 'registry-proxy' });
  const seen = new Set<string>();
  const routes = upstreams.map((u) => {
    const prefix = u.prefix.replace(/^\/+|\/+$/g, '');
    if (seen.has(prefix)) throw invalid(`proxy: prefix ${JSON.stringify(prefix)} is configured twice`);
    seen.add(prefix);
    if (prefix && !prefix.split('/').every((c) => COMPONENT.test(c))) throw invalid(`proxy: prefix ${JSON.stringify(u.prefix)} is not a repository path`);
    let url: URL;
    try {
      url = new URL(u.url);
    } catch {
      throw invalid(`proxy: upstream URL ${JSON.stringify(u.url)} for prefix ${JSON.stringify(prefix)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`proxy: upstream URL ${u.url} must be http:// or https://`);
    const hub = HUB_HOSTS.has(url.hostname);
    if (hub) url = new URL('https://registry-1.docker.io');
    const transport = o.fetch ? fetchTransport(o.fetch) : nodeTransport({ insecure: u.insecure });
    const client = new UpstreamClient({ ...u, url: url.href }, transport, log.child({ upstream: url.host, prefix }));
    return { prefix, hub, client, transport };
  });
  // Longest prefix first, so 'hub/mirror' wins over 'hub' and '' comes last.
  routes.sort((a, b) => b.prefix.length - a.prefix.length);

  const resolve = (repo: string) => {
    for (const r of routes) {
      let name: string;
      if (r.prefix === '') name = repo;
      else if (repo.startsWith(r.prefix + '/')) name = repo.slice(r.prefix.length + 1);
      else continue;
      if (!name || !name.split('/').every((c) => COMPONENT.test(c))) return undefined;
      if (r.hub && !name.includes('/')) name = `library/${name}`;
      return { client: r.client, name };
    }
    return undefined;
  };

  return {
    resolve,
    matches: (repo) => resolve(repo) !== undefined,
    async manifest(repo, reference, accept): Promise<UpstreamManifest | undefined> {
      const r = resolve(repo);
      if (!r) return undefined;
      if (!/^[\w][\w.-]{0,127}$/.test(reference) && !/^[a-z0-9]+:[a-f0-9]{32,}$/.test(reference)) {
        throw invalid(`proxy: ${JSON.stringify(reference)} is neither a tag nor a digest`);
      }
      return logged(log, repo, () => r.client.manifest(r.name, reference, accept));
    },
    async blob(repo, digest): Promise<{ stream: Readable; size: number } | undefined> {
      const r = resolve(repo);
      if (!r) return undefined;
      if (!/^[a-z0-9]+:[a-f0-9]{32,}$/.test(digest)) throw invalid(`proxy: ${JSON.stringify(digest)} is not a digest`);
      return logged(log, repo, () => r.client.blob(r.name, digest));
    },
    close() {
      for (const r of routes) r.transport.close();
    },
  };
}

async function logged<T>(log: Logger, repo: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isKind(e, 'unavailable')) log.warn({ repo, err: e }, 'upstream fetch failed');
    throw e;
  }
}
