/**
 * The three files Docker gives every container, written per container and
 * bind-mounted: /etc/hostname, /etc/hosts (localhost lines, --add-host entries)
 * and /etc/resolv.conf (the host's, minus loopback name servers a private
 * network namespace cannot reach; --dns/--dns-search/--dns-option replace parts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { hostResolvConf } from '../../base/resolv-conf.js';
import { invalid } from '../../base/errdefs.js';
import type { HostConfig } from '../../runtime/container-config.js';

const LOCAL_HOSTS = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;

/** "name:ip" (or "name=ip") → "ip\tname"; "host-gateway" is the default bridge's address. */
export function extraHostLine(entry: string, hostGateway?: string): string {
  const i = entry.search(/[:=]/);
  if (i <= 0) throw invalid(`invalid IP address in add-host: "${entry}"`);
  const name = entry.slice(0, i);
  let ip = entry.slice(i + 1).replace(/^\[|\]$/g, '');
  if (ip === 'host-gateway') {
    if (!hostGateway) throw invalid('--add-host host-gateway: this daemon has no default bridge address to map it to');
    ip = hostGateway;
  }
  if (!/^[0-9a-fA-F:.]+$/.test(ip)) throw invalid(`invalid IP address in add-host: "${ip}"`);
  return `${ip}\t${name}\n`;
}

export async function writeContainerFiles(
  p: { hosts: string; hostname: string; resolvConf: string },
  hc: HostConfig,
  hostname: string,
  fqdn: string,
  hostNetwork: boolean,
  net: ContainerNet = { embeddedDns: false },
): Promise<void> {
  await writeFile(p.hostname, hostname + '\n');
  let hosts: string;
  if (hostNetwork) hosts = await readFile('/etc/hosts', 'utf8').catch(() => LOCAL_HOSTS);
  else hosts = LOCAL_HOSTS;
  for (const e of hc.ExtraHosts ?? []) hosts += extraHostLine(e, net.hostGateway);
  if (!hostNetwork && hc.NetworkMode !== 'none') hosts += `${net.ip ?? '127.0.1.1'}\t${fqdn !== hostname ? `${fqdn} ` : ''}${hostname}\n`;
  await writeFile(p.hosts, hosts);
  await writeFile(p.resolvConf, await resolvConf(hc, hostNetwork, net));
}

/** What the network gave a container, for its files. */
export interface ContainerNet {
  /** Its address on its primary network (the hostname's line in /etc/hosts). */
  ip?: string;
  /** On a user-defined network: the embedded DNS server at 127.0.0.11 is its name server. */
  embeddedDns: boolean;
  hostGateway?: string;
  /** The daemon's --dns servers. */
  defaultDns?: string[];
}

async function resolvConf(hc: HostConfig, hostNetwork: boolean, net: ContainerNet): Promise<string> {
  const host = hostResolvConf();
  let servers = host.nameservers;
  let search = host.search;
  let options = host.options;
  if (!hostNetwork) servers = servers.filter((s) => !/^127\.|^::1$/.test(s));
  if (net.defaultDns?.length) servers = net.defaultDns;
  if (hc.Dns?.length) servers = hc.Dns;
  // Like Docker: the embedded server answers for the network and forwards the rest to these.
  if (net.embeddedDns) {
    servers = ['127.0.0.11'];
    if (!hc.DnsOptions?.length) options = ['ndots:0', ...options.filter((o) => !o.startsWith('ndots:'))];
  }
  if (hc.DnsSearch?.length) search = hc.DnsSearch.filter((s) => s !== '.');
  if (hc.DnsOptions?.length) options = hc.DnsOptions;
  let out = '';
  if (search.length) out += `search ${search.join(' ')}\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  return out;
}
