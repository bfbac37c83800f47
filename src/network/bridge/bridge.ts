/**
 * The bridge driver: one Linux bridge per network, and for each container a
 * veth pair with one end on the bridge and the other, renamed eth0/eth1..., in
 * the container's namespace with its addresses and routes. The bridge itself
 * is made here (one `ip -batch` exec); the container's side is the CNI bridge
 * plugin's job, with the addresses Pier's IPAM chose passed through the CNI
 * `static` IPAM plugin. Firewall rules live in firewall.ts.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { Host } from '../../base/host.js';
import type { Cni } from '../cni.js';
import type { DriverNetwork, JoinRequest, JoinResult, NetworkDriver } from '../driver.js';

export class BridgeDriver implements NetworkDriver {
  constructor(
    private readonly host: Host,
    private readonly cni: Cni,
  ) {}

  async create(net: DriverNetwork): Promise<void> {
    const cmds: string[] = [];
    if (!existsSync(`/sys/class/net/${net.bridge}`)) cmds.push(`link add name ${net.bridge} type bridge`);
    if (net.mtu) cmds.push(`link set dev ${net.bridge} mtu ${net.mtu}`);
    for (const g of net.gateways) cmds.push(`addr replace ${g} dev ${net.bridge}`);
    cmds.push(`link set dev ${net.bridge} up`);
    await this.host.run('ip', ['-batch', '-'], { input: cmds.join('\n') + '\n' });
    // Published ports reached through 127.0.0.1 are DNATed to a container: the kernel must route loopback sources here.
    writeSysctl(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, '1');
    if (!net.internal) writeSysctl('/proc/sys/net/ipv4/ip_forward', '1');
  }

  async destroy(net: DriverNetwork): Promise<void> {
    if (!existsSync(`/sys/class/net/${net.bridge}`)) return;
    await this.host.run('ip', ['link', 'del', 'dev', net.bridge], { allowFail: true });
  }

  async join(net: DriverNetwork, ep: JoinRequest): Promise<JoinResult> {
    const r = await this.cni.run('ADD', this.conf(net, ep), { containerId: ep.containerId, netns: ep.netns, ifname: ep.ifname });
    const iface = r?.interfaces?.find((i) => i.name === ep.ifname && i.sandbox);
    return { mac: iface?.mac ?? ep.mac ?? '' };
  }

  async leave(net: DriverNetwork, ep: JoinRequest): Promise<void> {
    await this.cni.run('DEL', this.conf(net, ep), { containerId: ep.containerId, netns: existsSync(ep.netns) ? ep.netns : '', ifname: ep.ifname });
  }

  private conf(net: DriverNetwork, ep: JoinRequest) {
    const routes = ep.defaultRoute && !net.internal ? ep.addresses.map((a) => ({ dst: a.cidr.includes(':') ? '::/0' : '0.0.0.0/0' })) : [];
    return {
      name: net.name,
      type: 'bridge',
      bridge: net.bridge,
      isGateway: true,
      ipMasq: false, // masquerading is one rule per network (firewall.ts), not one per container
      hairpinMode: true,
      ...(net.mtu ? { mtu: net.mtu } : {}),
      ...(ep.mac ? { runtimeConfig: { mac: ep.mac } } : {}),
      ipam: { type: 'static', addresses: ep.addresses.map((a) => ({ address: a.cidr, gateway: a.gateway })), routes },
    };
  }
}

function writeSysctl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch {
    /* read-only /proc/sys (a nested container): the feature that needs it degrades */
  }
}
