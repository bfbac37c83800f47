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

/** mount(8)'s flag words (moby/sys/mount's table): [clears the flag, flag]. Other options are file-system data. */
const MOUNT_FLAGS: Record<string, [boolean, number]> = {
  defaults: [false, 0], ro: [false, MS.RDONLY], rw: [true, MS.RDONLY], bind: [false, MS.BIND], rbind: [false, MS.BIND | MS.REC],
  nosuid: [false, MS.NOSUID], suid: [true, MS.NOSUID], nodev: [false, MS.NODEV], dev: [true, MS.NODEV],
  noexec: [false, MS.NOEXEC], exec: [true, MS.NOEXEC], sync: [false, MS.SYNCHRONOUS], async: [true, MS.SYNCHRONOUS],
  dirsync: [false, MS.DIRSYNC], mand: [false, MS.MANDLOCK], nomand: [true, MS.MANDLOCK],
  noatime: [false, MS.NOATIME], atime: [true, MS.NOATIME], nodiratime: [false, MS.NODIRATIME], diratime: [true, MS.NODIRATIME],
  relatime: [false, MS.RELATIME], norelatime: [true, MS.RELATIME], strictatime: [false, MS.STRICTATIME], nostrictatime: [true, MS.STRICTATIME],
};
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

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
    let propagation = 0;
    const data: string[] = [];
    for (const opt of m.options) {
      const f = Object.hasOwn(MOUNT_FLAGS, opt) ? MOUNT_FLAGS[opt] : undefined;
      const p = Object.hasOwn(PROPAGATION, opt) ? PROPAGATION[opt] : undefined;
      if (f) flags = f[0] ? flags & ~f[1] : flags | f[1];
      else if (p) propagation = p;
      else data.push(opt);
    }
    const isBind = (flags & MS.BIND) !== 0;
    try {
      sys().mount(m.source, target, isBind ? null : m.type, flags, data.length ? data.join(',') : null);
      // Propagation is a call of its own, as mount(8) makes it.
      if (propagation) sys().mount(null, target, null, propagation, null);
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
