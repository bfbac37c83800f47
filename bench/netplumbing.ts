/**
 * The per-container network plumbing choices of docs/architecture.md
 * ("Networks"), measured side by side (no dockerd here: each row compares
 * what Pier does with the alternative it passed over):
 *  - a new network namespace with lo up: the addon's netnsCreate vs
 *    `ip netns add` + `ip link set lo up`;
 *  - a container's link: the CNI bridge plugin's ADD and DEL (what Pier runs);
 *  - a published port: the CNI portmap plugin's ADD+DEL vs one
 *    `iptables-restore --noflush` that writes and one that empties a chain of
 *    the same DNAT rule (what Pier's firewall does).
 * Everything is the area's own: a namespace, bridge `pbench0`, subnet
 * 10.231.0.0/24, chain PBENCH-DNAT; the CNI-HOSTPORT-* chains portmap makes are
 * removed afterwards unless they were there before.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { metric, type Bench } from './report.js';
import { median } from './stats.js';
import { sys, MNT_DETACH } from '../src/base/sys.js';
import { findCniDir } from '../src/network/cni.js';
import type { Subjects } from './subjects.js';

const ROUNDS = 15;

function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function run(cmd: string, args: string[], o: { input?: string; env?: Record<string, string> } = {}): string {
  const r = spawnSync(cmd, args, { input: o.input, env: o.env ? { ...process.env, ...o.env } : process.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export const netPlumbingBench: Bench<Subjects> = {
  area: 'netplumbing',
  title: 'Network plumbing choices: namespace creation, CNI bridge, CNI portmap vs one iptables-restore',
  async run(_s, o) {
    const cni = findCniDir();
    if (!cni) throw new Error('the CNI plugins are not installed (containernetworking-plugins)');
    const rounds = o.quick ? 3 : ROUNDS;
    const dir = mkdtempSync('/tmp/pier-netbench-');
    const ns = `pbench${process.pid}`;
    const hadHostport = run('iptables-save', ['-t', 'nat']).includes(':CNI-HOSTPORT-DNAT');
    const samples: Record<string, number[]> = {};
    const push = (k: string, v: number) => (samples[k] ??= []).push(v);
    try {
      for (let i = 0; i < rounds; i++) {
        const p = join(dir, `ns${i}`);
        push('netnsCreate', timed(() => sys().netnsCreate(p)));
        sys().umount(p, MNT_DETACH);
        rmSync(p);
        push('ip netns add + lo up', timed(() => {
          run('ip', ['netns', 'add', `${ns}x`]);
          run('ip', ['-n', `${ns}x`, 'link', 'set', 'lo', 'up']);
        }));
        run('ip', ['netns', 'del', `${ns}x`]);
      }
      run('ip', ['netns', 'add', ns]);
      const env = { CNI_PATH: cni, CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_CONTAINERID: 'pbench' };
      const bridge = JSON.stringify({
        cniVersion: '1.0.0', name: 'pbench', type: 'bridge', bridge: 'pbench0', isGateway: true, ipMasq: false,
        ipam: { type: 'static', addresses: [{ address: '10.231.0.5/24', gateway: '10.231.0.1' }], routes: [{ dst: '0.0.0.0/0' }] },
      });
      let result = '';
      for (let i = 0; i < rounds; i++) {
        push('CNI bridge ADD', timed(() => (result = run(join(cni, 'bridge'), [], { input: bridge, env: { ...env, CNI_COMMAND: 'ADD' } }))));
        push('CNI bridge DEL', timed(() => run(join(cni, 'bridge'), [], { input: bridge, env: { ...env, CNI_COMMAND: 'DEL' } })));
      }
      run(join(cni, 'bridge'), [], { input: bridge, env: { ...env, CNI_COMMAND: 'ADD' } });
      const portmap = JSON.stringify({
        cniVersion: '1.0.0', name: 'pbench', type: 'portmap', snat: true,
        runtimeConfig: { portMappings: [{ hostPort: 18999, containerPort: 80, protocol: 'tcp' }] }, prevResult: JSON.parse(result),
      });
      const fill = '*nat\n:PBENCH-DNAT - [0:0]\n-A PBENCH-DNAT -p tcp --dport 18999 -j DNAT --to-destination 10.231.0.5:80\nCOMMIT\n';
      const empty = '*nat\n:PBENCH-DNAT - [0:0]\nCOMMIT\n';
      for (let i = 0; i < rounds; i++) {
        push('CNI portmap ADD+DEL', timed(() => {
          run(join(cni, 'portmap'), [], { input: portmap, env: { ...env, CNI_COMMAND: 'ADD' } });
          run(join(cni, 'portmap'), [], { input: portmap, env: { ...env, CNI_COMMAND: 'DEL' } });
        }));
        push('iptables-restore set+clear', timed(() => {
          run('iptables-restore', ['-w', '--noflush'], { input: fill });
          run('iptables-restore', ['-w', '--noflush'], { input: empty });
        }));
      }
      const med = (k: string) => median(samples[k]!);
      o.progress(Object.keys(samples).map((k) => `${k} ${med(k).toFixed(2)} ms`).join(', '));
      return {
        metrics: [
          metric({ name: 'a network namespace with lo up', unit: 'ms', pierLabel: 'netnsCreate', dockerLabel: 'ip netns add', pier: med('netnsCreate'), docker: med('ip netns add + lo up') }),
          metric({ name: 'CNI bridge ADD (veth, address, routes)', unit: 'ms', pierLabel: 'ADD', dockerLabel: 'DEL', pier: med('CNI bridge ADD'), docker: med('CNI bridge DEL') }),
          metric({ name: 'a published port: set up and remove', unit: 'ms', pierLabel: 'iptables-restore', dockerLabel: 'CNI portmap', pier: med('iptables-restore set+clear'), docker: med('CNI portmap ADD+DEL') }),
        ],
        samples,
        notes: [`${rounds} rounds of each; one process per call, timed around the exec`],
      };
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
      if (existsSync('/sys/class/net/pbench0')) spawnSync('ip', ['link', 'del', 'pbench0']);
      spawnSync('iptables-restore', ['-w', '--noflush'], { input: '*nat\n:PBENCH-DNAT - [0:0]\n-X PBENCH-DNAT\nCOMMIT\n' });
      if (!hadHostport) {
        const rules = ['PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT', 'OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT', 'POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ'];
        for (const r of rules) spawnSync('sh', ['-c', `iptables -w -t nat -D ${r}`]);
        for (const c of ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK']) {
          spawnSync('iptables', ['-w', '-t', 'nat', '-F', c]);
          spawnSync('iptables', ['-w', '-t', 'nat', '-X', c]);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
