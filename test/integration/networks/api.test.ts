/**
 * The /networks API against pierd on runc: create (IPAM, labels, options,
 * internal, attachable, IPv6), list filters, inspect with running containers,
 * delete and its refusals, connect and disconnect, static addresses and their
 * release, prune, NetworkSettings in container inspect, and networks kept
 * across a daemon restart — each checked against what the host shows (`ip`,
 * the container's interfaces).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, type TestNet } from '../../harness/daemon.js';
import { busyboxImage, cli, containerSkip, create, endAll, inspect } from '../../harness/containers.js';
import { freeTestNet, hostBridges, inCidr, ip, linkExists, startNetDaemon, sub24, ulaSubnet, type NetDaemon } from './helpers.js';

const skip = containerSkip({ docker: true });

interface NetworkView {
  Name: string;
  Id: string;
  Created: string;
  Driver: string;
  Scope: string;
  Internal: boolean;
  Attachable: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Config: { Subnet: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] };
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

const q = (filters: object) => `filters=${encodeURIComponent(JSON.stringify(filters))}`;
const SLEEP = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'];

describe('networks API', { skip }, () => {
  let d: NetDaemon;
  const { dk, ok } = cli(() => d.host);
  const post = (path: string, body?: unknown) => api(d.sock, 'POST', path, body);
  const get = (path: string) => api(d.sock, 'GET', path);
  const del = (path: string) => api(d.sock, 'DELETE', path);
  const netCreate = async (body: object) => {
    const r = await post('/networks/create', body);
    assert.equal(r.status, 201, r.text());
    return r.json<{ Id: string }>().Id;
  };
  const netInspect = async (ref: string) => {
    const r = await get(`/networks/${ref}`);
    assert.equal(r.status, 200, r.text());
    return r.json<NetworkView>();
  };
  const names = async (filters: object) => {
    const r = await get(`/networks?${q(filters)}`);
    assert.equal(r.status, 200, r.text());
    return r.json<NetworkView[]>().map((n) => n.Name).sort();
  };
  /** A running container (API create + start) on the given network with an optional endpoint config. */
  const running = async (name: string, network?: string, endpoint?: object) => {
    const id = await create(d, {
      Image: 'busybox', Cmd: SLEEP,
      ...(network ? { HostConfig: { NetworkMode: network }, NetworkingConfig: { EndpointsConfig: { [network]: endpoint ?? {} } } } : {}),
    }, name);
    const r = await post(`/containers/${id}/start`);
    assert.equal(r.status, 204, r.text());
    return id;
  };
  /** The IPv4 address with prefix of an interface inside a container, from `ip` in it. */
  const addrIn = (name: string, dev: string, family = '-4') => {
    const r = dk('exec', name, 'ip', '-o', family, 'addr', 'show', 'dev', dev, 'scope', 'global');
    return r.code === 0 ? (r.stdout.match(/inet6? (\S+)/)?.[1] ?? '') : `(exit ${r.code}: ${r.stderr.trim()})`;
  };

  before(async () => {
    d = await startNetDaemon();
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('POST /networks/create with IPAM, labels, options, internal, attachable and an IPv6 ULA subnet: 201, the bridge and a container get them', async () => {
    const s = sub24(d, 15);
    const ula = ulaSubnet();
    const body = {
      Name: 'full', Driver: 'bridge', Internal: true, Attachable: true, EnableIPv6: true,
      Labels: { tier: 'test', 'com.example.owner': 'pier' },
      Options: { 'com.docker.network.driver.mtu': '1400' },
      IPAM: { Driver: 'default', Config: [{ Subnet: s.subnet, Gateway: s.ip(254), IPRange: `${s.prefix}.128/25`, AuxiliaryAddresses: { router: s.ip(128) } }, { Subnet: ula }] },
    };
    const r = await post('/networks/create', body);
    assert.equal(r.status, 201, r.text());
    const { Id, Warning } = r.json<{ Id: string; Warning: string }>();
    assert.match(Id, /^[0-9a-f]{64}$/);
    assert.equal(Warning, '');

    const n = await netInspect('full');
    assert.equal(n.Id, Id);
    assert.equal(n.Driver, 'bridge');
    assert.equal(n.Scope, 'local');
    assert.equal(n.Internal, true);
    assert.equal(n.Attachable, true);
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.Labels, body.Labels);
    assert.equal(n.Options['com.docker.network.driver.mtu'], '1400');
    assert.equal(n.IPAM.Driver, 'default');
    assert.equal(n.IPAM.Config.length, 2, JSON.stringify(n.IPAM));
    const [v4, v6] = n.IPAM.Config;
    assert.deepEqual({ ...v4 }, { Subnet: s.subnet, Gateway: s.ip(254), IPRange: `${s.prefix}.128/25`, AuxiliaryAddresses: { router: s.ip(128) } });
    assert.equal(v6!.Subnet, ula);
    assert.equal(v6!.Gateway, ula.replace('::/64', '::1'), 'the first address is the IPv6 gateway');
    // Same by id and by id prefix.
    assert.equal((await netInspect(Id.slice(0, 12))).Name, 'full');

    // The host: a bridge br-<id12> with the gateway address and the MTU.
    const br = `br-${Id.slice(0, 12)}`;
    assert.ok(linkExists(br), `bridge ${br} exists`);
    assert.match(ip('addr', 'show', 'dev', br), new RegExp(`inet ${s.ip(254).replace(/\./g, '\\.')}/24 `));
    assert.match(ip('link', 'show', 'dev', br), / mtu 1400 /);

    // A container: an address from the range, never the auxiliary one; an IPv6 address of the ULA subnet; no default route (internal).
    await running('in-full', 'full');
    const a4 = addrIn('in-full', 'eth0');
    const host4 = Number(a4.split('/')[0]!.split('.')[3]);
    assert.ok(a4.endsWith('/24') && inCidr(a4.split('/')[0]!, `${s.prefix}.128/25`) && host4 !== 128 && host4 !== 254, `eth0 has ${a4}`);
    const a6 = addrIn('in-full', 'eth0', '-6');
    assert.ok(a6.startsWith(ula.replace('::/64', ':')) && a6.endsWith('/64'), `eth0 has IPv6 ${a6} in ${ula}`);
    assert.doesNotMatch(ok('exec', 'in-full', 'ip', 'route'), /^default/m, 'an internal network gives no default route');
    const c = await inspect(d, 'in-full');
    assert.equal(c.NetworkSettings.Networks.full.IPAddress, a4.split('/')[0]);
    assert.equal(c.NetworkSettings.Networks.full.GlobalIPv6Address, a6.split('/')[0]);
    assert.equal(c.NetworkSettings.Networks.full.GlobalIPv6PrefixLen, 64);
    ok('rm', '-f', 'in-full');
    assert.equal((await del('/networks/full')).status, 204);
    assert.ok(!linkExists(br));
  });

  it('GET /networks filters by name, label, driver, type and dangling', async () => {
    await netCreate({ Name: 'flt-a', Labels: { env: 'prod', tier: 'web' } });
    await netCreate({ Name: 'flt-b', Labels: { env: 'dev' } });
    await netCreate({ Name: 'flt-used' });
    await running('flt-user', 'flt-used');

    const all = await get('/networks');
    assert.equal(all.status, 200);
    const list = all.json<NetworkView[]>();
    for (const want of ['bridge', 'host', 'none', 'flt-a', 'flt-b', 'flt-used']) assert.ok(list.some((n) => n.Name === want), `${want} is listed`);
    assert.deepEqual(list.find((n) => n.Name === 'flt-a')!.Labels, { env: 'prod', tier: 'web' });

    assert.deepEqual(await names({ name: ['flt-'] }), ['flt-a', 'flt-b', 'flt-used']);
    assert.deepEqual(await names({ name: ['flt-a'] }), ['flt-a']);
    assert.deepEqual(await names({ label: ['env=prod'] }), ['flt-a']);
    assert.deepEqual(await names({ label: ['env'] }), ['flt-a', 'flt-b']);
    assert.deepEqual(await names({ label: ['env=prod', 'tier=web'] }), ['flt-a']);
    assert.deepEqual(await names({ label: ['env=prod', 'tier=db'] }), []);
    assert.deepEqual(await names({ driver: ['host'] }), ['host']);
    assert.deepEqual(await names({ driver: ['null'] }), ['none']);
    assert.ok((await names({ driver: ['bridge'] })).includes('bridge'));
    assert.deepEqual(await names({ type: ['builtin'] }), ['bridge', 'host', 'none']);
    const custom = await names({ type: ['custom'] });
    assert.ok(custom.includes('flt-a') && !custom.includes('bridge') && !custom.includes('host'), custom.join(','));
    const dangling = await names({ dangling: ['true'], name: ['flt-'] });
    assert.deepEqual(dangling, ['flt-a', 'flt-b'], 'in use: not dangling');
    assert.deepEqual(await names({ dangling: ['false'], name: ['flt-'] }), ['flt-used']);
    assert.ok(!(await names({ dangling: ['true'] })).includes('bridge'), 'predefined networks are never dangling');
    const id = (await netInspect('flt-b')).Id;
    assert.deepEqual(await names({ id: [id.slice(0, 10)] }), ['flt-b']);

    const bad = await get(`/networks?${q({ type: ['bogus'] })}`);
    assert.equal(bad.status, 400, bad.text());
    const unknown = await get(`/networks?${q({ colour: ['red'] })}`);
    assert.equal(unknown.status, 400, unknown.text());

    ok('rm', '-f', 'flt-user');
    for (const n of ['flt-a', 'flt-b', 'flt-used']) assert.equal((await del(`/networks/${n}`)).status, 204);
  });

  it('inspect lists a running container; DELETE while in use is 409 naming the network, 204 once it stopped', async () => {
    const nid = await netCreate({ Name: 'busy' });
    const n0 = await netInspect('busy');
    assert.deepEqual(n0.Containers, {});
    const subnet = n0.IPAM.Config[0]!.Subnet;
    assert.ok(inCidr(subnet.split('/')[0]!, d.subnet), `automatic subnet ${subnet} comes from the daemon's pool ${d.subnet}`);
    const cid = await running('busy-1', 'busy');

    const n = await netInspect('busy');
    assert.deepEqual(Object.keys(n.Containers), [cid]);
    const e = n.Containers[cid]!;
    assert.equal(e.Name, 'busy-1');
    const c = await inspect(d, cid);
    const mine = c.NetworkSettings.Networks.busy;
    assert.equal(e.IPv4Address, `${mine.IPAddress}/24`);
    assert.ok(inCidr(mine.IPAddress, subnet), `${mine.IPAddress} in ${subnet}`);
    assert.equal(e.MacAddress, mine.MacAddress);
    assert.equal(e.EndpointID, mine.EndpointID);
    assert.equal(addrIn('busy-1', 'eth0'), e.IPv4Address, 'the address inspect reports is the one on eth0');

    const busy = await del('/networks/busy');
    assert.equal(busy.status, 409, busy.text());
    assert.match(busy.json<{ message: string }>().message, /busy/);
    assert.ok(linkExists(`br-${nid.slice(0, 12)}`), 'a refused delete leaves the bridge');

    assert.equal((await post(`/containers/${cid}/stop?t=1`)).status, 204);
    assert.deepEqual((await netInspect('busy')).Containers, {}, 'a stopped container has no endpoint');
    const r = await del('/networks/busy');
    assert.equal(r.status, 204, r.text());
    assert.equal((await get('/networks/busy')).status, 404);
    assert.ok(!linkExists(`br-${nid.slice(0, 12)}`), 'the bridge is gone with the network');
    const orphan = await post(`/containers/${cid}/start`);
    assert.equal(orphan.status, 404, `starting a container whose network was removed: ${orphan.text()}`);
    assert.match(orphan.json<{ message: string }>().message, /network busy not found/);
    ok('rm', 'busy-1');
  });

  it('the predefined networks cannot be removed (403); a duplicate name is 409; an unknown network 404', async () => {
    for (const n of ['bridge', 'host', 'none']) {
      const r = await del(`/networks/${n}`);
      assert.equal(r.status, 403, `${n}: ${r.text()}`);
      assert.match(r.json<{ message: string }>().message, new RegExp(`${n} is a pre-defined network and cannot be removed`));
    }
    assert.ok(linkExists(d.bridge), 'the default bridge is still there');
    await netCreate({ Name: 'twice' });
    const again = await post('/networks/create', { Name: 'twice' });
    assert.equal(again.status, 409, again.text());
    assert.match(again.json<{ message: string }>().message, /twice.*already exists|already exists.*twice/);
    assert.deepEqual(await names({ name: ['twice'] }), ['twice'], 'still one network named twice');
    assert.equal((await del('/networks/no-such-net')).status, 404);
    assert.equal((await get('/networks/no-such-net')).status, 404);
    assert.equal((await del('/networks/twice')).status, 204);
  });

  it('an overlapping subnet is refused (403) and creates nothing; malformed subnets, gateways and ranges are 400', async () => {
    const s = sub24(d, 14);
    await netCreate({ Name: 'ov-1', IPAM: { Config: [{ Subnet: s.subnet }] } });
    const bridgesBefore = hostBridges();
    const listBefore = await names({});

    const clash = await post('/networks/create', { Name: 'ov-2', IPAM: { Config: [{ Subnet: `${s.prefix}.128/25` }] } });
    assert.equal(clash.status, 403, clash.text());
    assert.match(clash.json<{ message: string }>().message, /overlaps/i);
    const withBridge = await post('/networks/create', { Name: 'ov-3', IPAM: { Config: [{ Subnet: sub24(d, 0).subnet }] } });
    assert.equal(withBridge.status, 403, `the default bridge's subnet: ${withBridge.text()}`);

    for (const [what, pool, re] of [
      ['malformed subnet', { Subnet: '10.300.0.0/24' }, /invalid subnet/],
      ['subnet without prefix', { Subnet: sub24(d, 13).prefix + '.0' }, /invalid subnet/],
      ['gateway outside the subnet', { Subnet: sub24(d, 13).subnet, Gateway: sub24(d, 12).ip(1) }, /gateway/],
      ['malformed gateway', { Subnet: sub24(d, 13).subnet, Gateway: 'not-an-ip' }, /gateway/],
      ['ip-range outside the subnet', { Subnet: sub24(d, 13).subnet, IPRange: `${sub24(d, 12).prefix}.0/25` }, /range/],
      ['auxiliary address outside the subnet', { Subnet: sub24(d, 13).subnet, AuxiliaryAddresses: { x: sub24(d, 12).ip(9) } }, /auxiliary/i],
    ] as const) {
      const r = await post('/networks/create', { Name: 'bad-net', IPAM: { Config: [pool] } });
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text()}`);
      assert.match(r.json<{ message: string }>().message, re, what);
    }

    assert.deepEqual(await names({}), listBefore, 'no network was recorded');
    // Other daemons may come and go meanwhile: a bridge of a refused request would carry an address of this daemon's /20.
    const made = hostBridges().filter((b) => !bridgesBefore.includes(b) && [...ip('-4', 'addr', 'show', 'dev', b).matchAll(/inet (\S+)\//g)].some((m) => inCidr(m[1]!, d.subnet)));
    assert.deepEqual(made, [], 'no bridge interface was made');
    assert.equal((await del('/networks/ov-1')).status, 204);
  });

  it('connect and disconnect a running container: eth1 comes and goes; twice, or when not connected, is an error', async () => {
    const s = sub24(d, 13);
    await netCreate({ Name: 'second', IPAM: { Config: [{ Subnet: s.subnet }] } });
    const cid = await running('multi');
    const eth0 = addrIn('multi', 'eth0');
    assert.ok(inCidr(eth0.split('/')[0]!, sub24(d, 0).subnet), `on the default bridge: ${eth0}`);

    const r = await post('/networks/second/connect', { Container: 'multi', EndpointConfig: { Aliases: ['m2'] } });
    assert.equal(r.status, 200, r.text());
    const eth1 = addrIn('multi', 'eth1');
    assert.ok(eth1.endsWith('/24') && inCidr(eth1.split('/')[0]!, s.subnet), `eth1 has ${eth1}, in ${s.subnet}`);
    const c = await inspect(d, cid);
    assert.equal(c.NetworkSettings.Networks.second.IPAddress, eth1.split('/')[0]);
    assert.deepEqual(c.NetworkSettings.Networks.second.Aliases, ['m2']);
    assert.equal(c.NetworkSettings.Networks.bridge.IPAddress, eth0.split('/')[0], 'the first network is untouched');
    assert.equal((await netInspect('second')).Containers[cid]?.IPv4Address, eth1);

    const twice = await post('/networks/second/connect', { Container: 'multi' });
    assert.ok(twice.status >= 400 && twice.status < 500, `connecting twice: ${twice.status} ${twice.text()}`);
    assert.match(twice.json<{ message: string }>().message, /already exists/);
    assert.equal(addrIn('multi', 'eth1'), eth1, 'the refused connect changed nothing');

    const off = await post('/networks/second/disconnect', { Container: 'multi' });
    assert.equal(off.status, 200, off.text());
    assert.notEqual(dk('exec', 'multi', 'ip', 'link', 'show', 'eth1').code, 0, 'eth1 is gone');
    assert.deepEqual((await netInspect('second')).Containers, {});
    assert.equal((await inspect(d, cid)).NetworkSettings.Networks.second, undefined);

    const notOn = await post('/networks/second/disconnect', { Container: 'multi' });
    assert.ok(notOn.status >= 400 && notOn.status < 500, `disconnecting when not connected: ${notOn.status} ${notOn.text()}`);
    assert.match(notOn.json<{ message: string }>().message, /not connected/);

    // Connecting with a static address.
    const st = await post('/networks/second/connect', { Container: 'multi', EndpointConfig: { IPAMConfig: { IPv4Address: s.ip(200) } } });
    assert.equal(st.status, 200, st.text());
    assert.equal(addrIn('multi', 'eth1'), `${s.ip(200)}/24`);
    ok('rm', '-f', 'multi');
    assert.equal((await del('/networks/second')).status, 204);
  });

  it('static addresses: given as asked, 400 outside the subnet, "Address already in use" for a second container, free again after removal', async () => {
    const s = sub24(d, 12);
    await netCreate({ Name: 'static', IPAM: { Config: [{ Subnet: s.subnet }] } });
    const want = s.ip(77);
    const cfg = (addr: string) => ({ IPAMConfig: { IPv4Address: addr } });
    const s1 = await running('st-1', 'static', cfg(want));
    assert.equal(addrIn('st-1', 'eth0'), `${want}/24`);
    assert.equal((await inspect(d, s1)).NetworkSettings.Networks.static.IPAddress, want);
    assert.deepEqual((await inspect(d, s1)).NetworkSettings.Networks.static.IPAMConfig, { IPv4Address: want });

    const outside = await post('/containers/create?name=st-out', {
      Image: 'busybox', Cmd: SLEEP, HostConfig: { NetworkMode: 'static' }, NetworkingConfig: { EndpointsConfig: { static: cfg(sub24(d, 11).ip(5)) } },
    });
    assert.equal(outside.status, 400, outside.text());
    assert.match(outside.json<{ message: string }>().message, new RegExp(sub24(d, 11).ip(5).replace(/\./g, '\\.')));
    const onDefault = await post('/containers/create?name=st-def', { Image: 'busybox', Cmd: SLEEP, NetworkingConfig: { EndpointsConfig: { bridge: cfg(sub24(d, 0).ip(50)) } } });
    assert.equal(onDefault.status, 400, `a static address on the default bridge: ${onDefault.text()}`);

    const s2 = await create(d, { Image: 'busybox', Cmd: SLEEP, HostConfig: { NetworkMode: 'static' }, NetworkingConfig: { EndpointsConfig: { static: cfg(want) } } }, 'st-2');
    const clash = await post(`/containers/${s2}/start`);
    assert.ok(clash.status >= 400, `the second start: ${clash.status} ${clash.text()}`);
    assert.match(clash.json<{ message: string }>().message, /Address already in use/);
    const c2 = await inspect(d, s2);
    assert.equal(c2.State.Running, false);
    assert.equal(c2.NetworkSettings.SandboxKey, '', 'no namespace left for the failed start');
    assert.equal(addrIn('st-1', 'eth0'), `${want}/24`, 'the first keeps its address');

    // A dynamic address, released with its container.
    const dyn = await running('st-dyn', 'static');
    const dynIp = (await inspect(d, dyn)).NetworkSettings.Networks.static.IPAddress as string;
    assert.ok(inCidr(dynIp, s.subnet) && dynIp !== want, dynIp);
    ok('rm', '-f', 'st-dyn');
    ok('rm', '-f', 'st-1');
    const inUse = Object.values((await netInspect('static')).Containers).map((e) => e.IPv4Address);
    assert.deepEqual(inUse, [], 'removed containers hold no address');

    // The static address is free again: the second container now starts with it.
    const again = await post(`/containers/${s2}/start`);
    assert.equal(again.status, 204, again.text());
    assert.equal(addrIn('st-2', 'eth0'), `${want}/24`);
    assert.deepEqual(Object.values((await netInspect('static')).Containers).map((e) => e.IPv4Address), [`${want}/24`]);
    ok('rm', '-f', 'st-2');
    assert.equal((await del('/networks/static')).status, 204);
  });

  it('containers started at the same time on one network get distinct addresses', async () => {
    await netCreate({ Name: 'burst' });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await create(d, { Image: 'busybox', Cmd: SLEEP, HostConfig: { NetworkMode: 'burst' } }));
    const starts = await Promise.all(ids.map((id) => post(`/containers/${id}/start`)));
    assert.deepEqual(starts.map((r) => r.status), ids.map(() => 204), starts.map((r) => r.text()).join(''));
    const addrs = await Promise.all(ids.map(async (id) => (await inspect(d, id)).NetworkSettings.Networks.burst.IPAddress as string));
    assert.equal(new Set(addrs).size, 8, `distinct: ${addrs.join(' ')}`);
    const listed = Object.values((await netInspect('burst')).Containers).map((e) => e.IPv4Address.split('/')[0]).sort();
    assert.deepEqual(listed, [...addrs].sort());
    ok('rm', '-f', ...ids);
    assert.equal((await del('/networks/burst')).status, 204);
  });

  it('com.docker.network.bridge.name names the bridge interface; a name in use is refused', async () => {
    const name = `ptn${Math.random().toString(36).slice(2, 9)}`;
    await netCreate({ Name: 'named-br', Options: { 'com.docker.network.bridge.name': name } });
    assert.ok(linkExists(name), `${name} exists`);
    const gw = (await netInspect('named-br')).IPAM.Config[0]!.Gateway!;
    assert.match(ip('addr', 'show', 'dev', name), new RegExp(`inet ${gw.replace(/\./g, '\\.')}/`));
    const taken = await post('/networks/create', { Name: 'named-br-2', Options: { 'com.docker.network.bridge.name': name } });
    assert.equal(taken.status, 409, taken.text());
    const hostIf = await post('/networks/create', { Name: 'named-br-3', Options: { 'com.docker.network.bridge.name': 'lo' } });
    assert.equal(hostIf.status, 409, `an existing host interface: ${hostIf.text()}`);
    assert.equal((await del('/networks/named-br')).status, 204);
    assert.ok(!linkExists(name));
  });

  it('NetworkSettings in container inspect: the default bridge and a user network', async () => {
    const bridgeNet = await netInspect('bridge');
    const gw = bridgeNet.IPAM.Config[0]!.Gateway!;
    const def = await running('ns-def');
    const c = await inspect(d, def);
    const ns = c.NetworkSettings;
    assert.ok(inCidr(ns.IPAddress, bridgeNet.IPAM.Config[0]!.Subnet), `top-level IPAddress ${ns.IPAddress}`);
    assert.equal(ns.IPPrefixLen, 24);
    assert.equal(ns.Gateway, gw);
    assert.match(ns.MacAddress, /^02:42(:[0-9a-f]{2}){4}$/);
    assert.match(ns.EndpointID, /^[0-9a-f]{64}$/);
    assert.ok(ns.SandboxKey.startsWith(join(d.root, 'exec', 'netns') + '/') && existsSync(ns.SandboxKey), `SandboxKey ${ns.SandboxKey}`);
    assert.match(ns.SandboxID, /^[0-9a-f]{64}$/);
    const b = ns.Networks.bridge;
    assert.equal(b.NetworkID, bridgeNet.Id);
    assert.equal(b.IPAddress, ns.IPAddress);
    assert.equal(b.Gateway, gw);
    assert.equal(b.MacAddress, ns.MacAddress);
    assert.equal(b.EndpointID, ns.EndpointID);
    assert.equal(b.DNSNames, null, 'no DNS names on the default bridge');
    assert.equal(ok('exec', 'ns-def', 'cat', '/sys/class/net/eth0/address').trim(), ns.MacAddress);
    assert.equal(addrIn('ns-def', 'eth0'), `${ns.IPAddress}/24`);
    assert.match(ok('exec', 'ns-def', 'ip', 'route'), new RegExp(`^default via ${gw.replace(/\./g, '\\.')} dev eth0`, 'm'));

    const nid = await netCreate({ Name: 'ns-user' });
    const user = await running('ns-usr', 'ns-user', { Aliases: ['svc'] });
    const u = (await inspect(d, user)).NetworkSettings;
    const un = await netInspect('ns-user');
    const e = u.Networks['ns-user'];
    assert.equal(e.NetworkID, nid);
    assert.ok(inCidr(e.IPAddress, un.IPAM.Config[0]!.Subnet), e.IPAddress);
    assert.equal(e.Gateway, un.IPAM.Config[0]!.Gateway);
    assert.equal(e.IPPrefixLen, 24);
    assert.match(e.MacAddress, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(ok('exec', 'ns-usr', 'cat', '/sys/class/net/eth0/address').trim(), e.MacAddress);
    assert.deepEqual(e.DNSNames, ['ns-usr', user.slice(0, 12), 'svc']);
    assert.deepEqual(e.Aliases, ['svc']);
    assert.equal(u.IPAddress, '', 'the top-level fields are the default bridge\'s only');
    assert.equal(u.Gateway, '');
    assert.ok(existsSync(u.SandboxKey));

    // Stopped: the endpoint is gone, the membership stays.
    ok('stop', '-t', '1', 'ns-usr');
    const stopped = (await inspect(d, user)).NetworkSettings;
    assert.equal(stopped.SandboxKey, '');
    assert.equal(stopped.Networks['ns-user'].IPAddress, '');
    assert.equal(stopped.Networks['ns-user'].NetworkID, nid);
    assert.ok(!existsSync(u.SandboxKey), 'the namespace file is gone');
    ok('rm', '-f', 'ns-def', 'ns-usr');
    assert.equal((await del('/networks/ns-user')).status, 204);
  });

  it('POST /networks/prune removes unused user networks only (and honours label filters)', async () => {
    const ids: Record<string, string> = {};
    for (const [name, labels] of [['p-keep', { keep: '1' }], ['p-gone-1', {}], ['p-gone-2', { team: 'x' }], ['p-used', {}]] as const) ids[name] = await netCreate({ Name: name, Labels: labels });
    await running('p-user', 'p-used');

    const byLabel = await post(`/networks/prune?${q({ label: ['team=x'] })}`);
    assert.equal(byLabel.status, 200, byLabel.text());
    assert.deepEqual(byLabel.json<{ NetworksDeleted: string[] }>().NetworksDeleted, ['p-gone-2']);
    const notKeep = await post(`/networks/prune?${q({ 'label!': ['keep'] })}`);
    assert.equal(notKeep.status, 200, notKeep.text());
    assert.deepEqual(notKeep.json<{ NetworksDeleted: string[] }>().NetworksDeleted.sort(), ['p-gone-1']);

    const r = await post('/networks/prune');
    assert.equal(r.status, 200, r.text());
    const deleted = r.json<{ NetworksDeleted: string[] }>().NetworksDeleted;
    assert.ok(deleted.includes('p-keep'), deleted.join(','));
    for (const n of ['p-used', 'bridge', 'host', 'none']) assert.ok(!deleted.includes(n), `${n} is not pruned`);
    const left = await names({});
    assert.ok(left.includes('p-used') && left.includes('bridge') && left.includes('host') && left.includes('none'), left.join(','));
    assert.ok(!left.some((n) => n.startsWith('p-gone') || n === 'p-keep'), left.join(','));
    assert.deepEqual(await names({ dangling: ['true'] }), [], 'nothing unused is left');
    for (const n of ['p-keep', 'p-gone-1', 'p-gone-2']) assert.ok(!linkExists(`br-${ids[n]!.slice(0, 12)}`), `${n}'s bridge is gone`);
    assert.ok(linkExists(`br-${ids['p-used']!.slice(0, 12)}`));
    assert.ok(linkExists(d.bridge));
    ok('rm', '-f', 'p-user');
    assert.equal((await del('/networks/p-used')).status, 204);
  });
});

describe('networks across a daemon restart', { skip }, () => {
  let d: NetDaemon;
  let net: TestNet;
  const { ok } = cli(() => d.host);

  before(async () => {
    net = freeTestNet();
    d = await startNetDaemon({ net });
    busyboxImage(d);
  });
  after(async () => {
    await endAll();
    await d?.cleanup();
  });

  it('a network keeps its ID, subnet and labels; its bridge is made again; a container started on it gets an address in its subnet', async () => {
    const r = await api(d.sock, 'POST', '/networks/create', { Name: 'kept', Labels: { a: 'b' }, IPAM: { Config: [{ Subnet: sub24(d, 9).subnet, IPRange: `${sub24(d, 9).prefix}.64/26` }] } });
    assert.equal(r.status, 201, r.text());
    const id = r.json<{ Id: string }>().Id;
    const before = (await api(d.sock, 'GET', '/networks/kept')).json<NetworkView>();
    ok('create', '--name', 'later', '--network', 'kept', 'busybox', 'sleep', '300');
    ok('run', '-d', '--name', 'earlier', '--network', 'kept', 'busybox', 'sleep', '300');
    ok('stop', '-t', '0', 'earlier');

    assert.equal(await d.stop('SIGTERM'), 0, d.log());
    d = await startNetDaemon({ root: d.root, net });

    const after = await api(d.sock, 'GET', '/networks/kept');
    assert.equal(after.status, 200, after.text());
    const n = after.json<NetworkView>();
    assert.equal(n.Id, id);
    assert.deepEqual(n.IPAM, before.IPAM);
    assert.deepEqual(n.Labels, { a: 'b' });
    assert.equal(n.Created, before.Created);
    const listed = (await api(d.sock, 'GET', `/networks?${q({ name: ['kept'] })}`)).json<NetworkView[]>();
    assert.deepEqual(listed.map((x) => x.Id), [id]);
    const br = `br-${id.slice(0, 12)}`;
    assert.ok(linkExists(br), `${br} is made again at start`);
    assert.match(ip('addr', 'show', 'dev', br), new RegExp(`inet ${sub24(d, 9).ip(1).replace(/\./g, '\\.')}/24 `));

    ok('start', 'later', 'earlier');
    for (const name of ['later', 'earlier']) {
      const addr = ok('inspect', '-f', '{{(index .NetworkSettings.Networks "kept").IPAddress}}', name).trim();
      assert.ok(inCidr(addr, `${sub24(d, 9).prefix}.64/26`), `${name} got ${addr}`);
      assert.match(ok('exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'), new RegExp(`inet ${addr.replace(/\./g, '\\.')}/24`));
    }
    const a = ok('inspect', '-f', '{{(index .NetworkSettings.Networks "kept").IPAddress}}', 'later').trim();
    const b = ok('inspect', '-f', '{{(index .NetworkSettings.Networks "kept").IPAddress}}', 'earlier').trim();
    assert.notEqual(a, b, 'two running containers never share an address');
    // They reach each other by name on the restored network.
    assert.match(ok('exec', 'later', 'nslookup', 'earlier'), new RegExp(`Address: ${b.replace(/\./g, '\\.')}`));
  });
});
