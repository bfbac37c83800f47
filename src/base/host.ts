/**
 * Host is the one door to the kernel and to other programs: every mount and
 * every external command goes through it, so logic above it can be tested
 * with a recording fake and no root.
 */
import { spawn } from 'node:child_process';
import { EngineError } from './errdefs.js';
import { sys, MS, MNT_DETACH } from './sys.js';
import type { Mount } from './mount.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Host {
  /** Runs a program to completion; rejects with a clear message when it fails (non-zero exit). */
  run(cmd: string, args: readonly string[], o?: { signal?: AbortSignal; input?: string; allowFail?: boolean; env?: Record<string, string> }): Promise<RunResult>;
  /** Mounts one Mount at target (the target must exist). */
  mount(m: Mount, target: string): Promise<void>;
  /** Unmounts target; with lazy, detaches even when busy. Missing mounts are not an error. */
  unmount(target: string, o?: { lazy?: boolean }): Promise<void>;
}

export class NodeHost implements Host {
  run(cmd: string, args: readonly string[], o: { signal?: AbortSignal; input?: string; allowFail?: boolean; env?: Record<string, string> } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { signal: o.signal, stdio: ['pipe', 'pipe', 'pipe'], ...(o.env ? { env: { ...process.env, ...o.env } } : {}) });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (e) => reject(new EngineError('internal', `${cmd}: ${e.message}`, { cause: e })));
      child.on('close', (code) => {
        const r = { code: code ?? -1, stdout, stderr };
        if (r.code !== 0 && !o.allowFail)
          reject(new EngineError('internal', `${cmd} ${args.join(' ')}: exit ${r.code}: ${stderr.trim() || stdout.trim()}`));
        else resolve(r);
      });
      // A program may exit without reading its stdin: that EPIPE is not an error of ours.
      child.stdin.on('error', () => undefined);
      child.stdin.end(o.input ?? '');
    });
  }

  async mount(m: Mount, target: string): Promise<void> {
    let flags = 0;
    const data: string[] = [];
    for (const opt of m.options) {
      switch (opt) {
        case 'ro': flags |= MS.RDONLY; break;
        case 'rw': break;
        case 'bind': flags |= MS.BIND; break;
        case 'rbind': flags |= MS.BIND | MS.REC; break;
        case 'nosuid': flags |= MS.NOSUID; break;
        case 'nodev': flags |= MS.NODEV; break;
        case 'noexec': flags |= MS.NOEXEC; break;
        default: data.push(opt);
      }
    }
    const isBind = (flags & MS.BIND) !== 0;
    try {
      sys().mount(m.source, target, isBind ? null : m.type, flags, data.length ? data.join(',') : null);
      // A read-only bind needs a second, remounting call: the kernel ignores MS_RDONLY on the first.
      if (isBind && flags & MS.RDONLY) sys().mount(null, target, null, flags | MS.REMOUNT, null);
    } catch (e) {
      throw new EngineError('internal', `mount ${m.type} ${m.source} on ${target}: ${(e as Error).message}`, { cause: e });
    }
  }

  async unmount(target: string, o: { lazy?: boolean } = {}): Promise<void> {
    try {
      sys().umount(target, o.lazy ? MNT_DETACH : 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return; // not mounted, or gone
      throw new EngineError('internal', `unmount ${target}: ${(e as Error).message}`, { cause: e });
    }
  }
}
