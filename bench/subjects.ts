/**
 * The two daemons under comparison, each on its own data root and socket:
 * a pierd from bin/pierd (test/harness/daemon.ts) and Debian's dockerd with
 * its own containerd (test/harness/dockerd.ts). Both are driven by the same
 * docker CLI (28, /usr/local/bin/docker); `stop()` is idempotent and is also
 * what the SIGINT/SIGTERM handlers in main.ts call.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../test/harness/daemon.js';
import { dockerCli, startDockerd, type Dockerd } from '../test/harness/dockerd.js';
import { hrnow, secondsSince } from './stats.js';

export type SubjectName = 'pier' | 'dockerd';
export const SUBJECTS: readonly SubjectName[] = ['pier', 'dockerd'];

export interface Subject {
  name: SubjectName;
  host: string;
  sock: string;
  pid: number;
  /** ms since the epoch when the daemon first answered /_ping. */
  readyAt: number;
}

export interface Subjects {
  pier: Subject;
  dockerd: Subject;
  /** Scratch directory for archives and saves; removed by stop(). */
  work: string;
  stop(): Promise<void>;
}

export interface CmdResult {
  code: number;
  seconds: number;
  stdout: string;
  stderr: string;
}

let dockerConfig = '';

/** Environment for CLI runs: a private, empty docker config (no credential helpers, no contexts). */
export function cliEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' };
}

export async function startSubjects(): Promise<Subjects> {
  const work = mkdtempSync('/tmp/pier-bench-');
  dockerConfig = join(work, 'docker-config');
  mkdirSync(dockerConfig);
  let pier: TestDaemon | undefined;
  let real: Dockerd | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await Promise.allSettled([pier?.cleanup(), real?.stop()]);
      rmSync(work, { recursive: true, force: true });
    })());
  // Started one after the other so neither's start-up competes for the two cores.
  try {
    pier = await startDaemon();
    const pierReady = Date.now();
    real = await startDockerd();
    const realReady = Date.now();
    return {
      pier: { name: 'pier', host: pier.host, sock: pier.sock, pid: pier.proc.pid!, readyAt: pierReady },
      dockerd: { name: 'dockerd', host: real.host, sock: real.sock, pid: real.proc.pid!, readyAt: realReady },
      work,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs the docker CLI against a subject, asynchronously so the daemons' log pipes keep draining; times the whole process. */
export function dockerRun(s: Subject, args: readonly string[], env: Record<string, string> = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const t0 = hrnow();
    const p = spawn(dockerCli()!, ['-H', s.host, ...args], { env: { ...cliEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, seconds: secondsSince(t0), stdout, stderr }));
  });
}

/** Like dockerRun but throws on a non-zero exit. */
export async function dockerOk(s: Subject, args: readonly string[]): Promise<CmdResult> {
  const r = await dockerRun(s, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} against ${s.name} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** One synchronous, timed process run: for start-up timing, where an event loop in between would only add noise. */
export function timedSync(cmd: string, args: readonly string[]): CmdResult {
  const t0 = hrnow();
  const r = spawnSync(cmd, args, { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = secondsSince(t0);
  return { code: r.status ?? -1, seconds, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? r.error?.message ?? '' };
}
