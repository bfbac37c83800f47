/**
 * A dockerd (Debian's docker.io) of our own, for compatibility tests and
 * benchmarks: its own data root, exec root and socket, no bridge and no
 * iptables rules (it must never touch docker0 or the host's chains), stopped
 * by pid afterwards.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, unmountUnder } from './daemon.js';
import { startService } from './service.js';

export interface Dockerd {
  root: string;
  sock: string;
  host: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export function dockerdPath(): string | undefined {
  for (const p of ['/usr/sbin/dockerd', '/usr/bin/dockerd']) if (existsSync(p)) return p;
  return undefined;
}

/** The docker CLI to drive daemons with: the newest one installed (docker 28 in /usr/local/bin here). */
export function dockerCli(): string | undefined {
  for (const p of ['/usr/local/bin/docker', '/usr/bin/docker']) if (existsSync(p)) return p;
  return undefined;
}

/**
 * With `netns`, dockerd runs with its full networking (docker0, iptables,
 * docker-proxy) inside a network namespace made for it, so its bridge, subnet
 * and chains exist only there and the host's (and any real docker0) are never
 * touched; `netnsPath` is that namespace, for clients that must reach its
 * published ports (nsenter --net=PATH). Deleting the namespace removes it all.
 */
export async function startDockerd(storageDriver = 'overlay2', o: { netns?: boolean } = {}): Promise<Dockerd & { netnsPath?: string }> {
  const bin = dockerdPath();
  if (!bin) throw new Error('dockerd is not installed (apt-get install docker.io)');
  const root = mkdtempSync('/tmp/pier-dockerd-');
  const sock = join(root, 'docker.sock');
  const ns = o.netns ? `pierbench${process.pid}${Math.random().toString(36).slice(2, 6)}` : undefined;
  if (ns) {
    spawnSync('ip', ['netns', 'add', ns]);
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const netArgs = ns ? ['--ip6tables=false'] : ['--bridge', 'none', '--iptables=false', '--ip6tables=false', '--ip-masq=false'];
  const args = [
    '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--host', `unix://${sock}`,
    '--pidfile', join(root, 'docker.pid'), ...netArgs, '--storage-driver', storageDriver, '--containerd-namespace', `pier-bench-${process.pid}`,
    '--containerd-plugins-namespace', `pier-bench-plugins-${process.pid}`,
  ];
  const svc = await startService({
    name: 'dockerd',
    cmd: ns ? 'nsenter' : bin,
    args: ns ? [`--net=/var/run/netns/${ns}`, bin, ...args] : args,
    env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH}` },
    ready: async () => existsSync(sock) && (await api(sock, 'GET', '/_ping')).status === 200,
    cleanup: () => {
      unmountUnder(root);
      rmSync(root, { recursive: true, force: true });
      if (ns) spawnSync('ip', ['netns', 'del', ns]);
    },
    startTimeoutMs: 60000,
    stopTimeoutMs: 20000,
  });
  return { root, sock, host: `unix://${sock}`, proc: svc.proc, stop: svc.stop, ...(ns ? { netnsPath: `/var/run/netns/${ns}` } : {}) };
}

/** Runs the docker CLI against a host; returns code, stdout, stderr. */
export function docker(host: string, args: string[], input?: Buffer | string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(dockerCli()!, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: '/tmp/pier-test-docker-config' }, input, maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
