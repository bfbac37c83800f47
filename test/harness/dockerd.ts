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

export async function startDockerd(storageDriver = 'overlay2'): Promise<Dockerd> {
  const bin = dockerdPath();
  if (!bin) throw new Error('dockerd is not installed (apt-get install docker.io)');
  const root = mkdtempSync('/tmp/pier-dockerd-');
  const sock = join(root, 'docker.sock');
  const svc = await startService({
    name: 'dockerd',
    cmd: bin,
    args: [
      '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--host', `unix://${sock}`,
      '--pidfile', join(root, 'docker.pid'), '--bridge', 'none', '--iptables=false', '--ip6tables=false',
      '--ip-masq=false', '--storage-driver', storageDriver, '--containerd-namespace', `pier-bench-${process.pid}`,
      '--containerd-plugins-namespace', `pier-bench-plugins-${process.pid}`,
    ],
    env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH}` },
    ready: async () => existsSync(sock) && (await api(sock, 'GET', '/_ping')).status === 200,
    cleanup: () => {
      unmountUnder(root);
      rmSync(root, { recursive: true, force: true });
    },
    startTimeoutMs: 60000,
    stopTimeoutMs: 20000,
  });
  return { root, sock, host: `unix://${sock}`, proc: svc.proc, stop: svc.stop };
}

/** Runs the docker CLI against a host; returns code, stdout, stderr. */
export function docker(host: string, args: string[], input?: Buffer | string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(dockerCli()!, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: '/tmp/pier-test-docker-config' }, input, maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
