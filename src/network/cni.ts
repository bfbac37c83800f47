/**
 * Runs CNI plugins (https://www.cni.dev/docs/spec/): the plugin binary reads
 * its network configuration on stdin, the command and the container from
 * CNI_* variables, and prints a result (ADD) or an error object. Pier uses
 * Debian's containernetworking-plugins — the same plugins containerd, nerdctl
 * and Kubernetes use — for a container's interface on a bridge.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../base/errdefs.js';
import type { Host } from '../base/host.js';

export const CNI_VERSION = '1.0.0';

export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
}

export interface CniTarget {
  containerId: string;
  netns: string;
  ifname: string;
}

/** Where Debian (and most distributions) install the plugins. */
export const CNI_DIRS = ['/usr/lib/cni', '/opt/cni/bin', '/usr/libexec/cni'];

export function findCniDir(dirs = CNI_DIRS): string | undefined {
  return dirs.find((d) => existsSync(join(d, 'bridge')));
}

export class Cni {
  constructor(private readonly host: Host, readonly dir: string) {}

  async run(cmd: 'ADD' | 'DEL' | 'CHECK', conf: { type: string } & Record<string, unknown>, t: CniTarget): Promise<CniResult | undefined> {
    const r = await this.host.run(join(this.dir, conf.type), [], {
      input: JSON.stringify({ cniVersion: CNI_VERSION, ...conf }),
      allowFail: true,
      env: { CNI_COMMAND: cmd, CNI_CONTAINERID: t.containerId, CNI_NETNS: t.netns, CNI_IFNAME: t.ifname, CNI_PATH: this.dir },
    });
    if (r.code !== 0) {
      let msg = r.stderr.trim() || r.stdout.trim();
      try {
        const e = JSON.parse(r.stdout) as { msg?: string; details?: string };
        msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
      } catch {
        /* not a CNI error object */
      }
      throw new EngineError('internal', `CNI ${conf.type} ${cmd} for ${t.ifname}: ${msg}`);
    }
    return cmd === 'ADD' ? (JSON.parse(r.stdout) as CniResult) : undefined;
  }
}
