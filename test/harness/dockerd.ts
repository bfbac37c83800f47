/**
 * A dockerd (Debian's docker.io) of our own, for compatibility tests and
 * benchmarks: its own data root, exec root and socket, no bridge and no
 * iptables rules (it must never touch docker0 or the host's chains), stopped
 * by pid afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api } from './daemon.js';
import { unmountUnder } from './daemon.js';

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
  let log = '';
  const proc = spawn(
    bin,
    [
      '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--host', `unix://${sock}`,
      '--pidfile', join(root, 'docker.pid'), '--bridge', 'none', '--iptables=false', '--ip6tables=false',
      '--ip-masq=false', '--storage-driver', storageDriver, '--containerd-namespace', `pier-bench-${process.pid}`,
      '--containerd-plugins-namespace', `pier-bench-plugins-${process.pid}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH}` } },
  );
  proc.stdout!.on('data', (d: Buffer) => (log += d));
  proc.stderr!.on('data', (d: Buffer) => (log += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20000);
      await exited;
      clearTimeout(t);
    }
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`dockerd exited: ${log.slice(-2000)}`);
    }
    try {
      if (existsSync(sock) && (await api(sock, 'GET', '/_ping')).status === 200) return { root, sock, host: `unix://${sock}`, proc, stop };
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`dockerd did not start within 60s: ${log.slice(-2000)}`);
}

/** Runs the docker CLI against a host; returns code, stdout, stderr. */
export function docker(host: string, args: string[], input?: Buffer | string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(dockerCli()!, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: '/tmp/pier-test-docker-config' }, input, maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
