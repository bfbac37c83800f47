import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DiskUsage, Info, ServerVersion } from '../../client/types.js';
import { align, clientInfoText, dfRows, normalizeServerVersion, pruneWarning, reformatDate, serverInfoText, versionText, type ClientVersion } from './system.js';

const client: ClientVersion = {
  Version: '0.1.0', ApiVersion: '1.41', DefaultAPIVersion: '1.50', GitCommit: 'abc1234', GoVersion: 'v20.20.2',
  Os: 'linux', Arch: 'amd64', BuildTime: 'Fri May 30 12:07:14 2025',
};

describe('version', () => {
  it('renders client and server sections like docker', () => {
    const sv = normalizeServerVersion({
      Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', GitCommit: '5d6db84', GoVersion: 'go1.19.8',
      Os: 'linux', Arch: 'amd64', BuildTime: 'Thu May  7 21:09:36 2026',
      Components: [
        { Name: 'Engine', Version: '20.10.24', Details: { ApiVersion: '1.41', MinAPIVersion: '1.12', GitCommit: '5d6db84', GoVersion: 'go1.19.8', Os: 'linux', Arch: 'amd64', BuildTime: 'Thu May  7 21:09:36 2026', Experimental: 'false' } },
        { Name: 'runc', Version: '1.1.5', Details: { GitCommit: 'v1.1.5-0' } },
      ],
    });
    assert.equal(align(versionText(client, sv)), `Client:
 Version:           0.1.0
 API version:       1.41 (downgraded from 1.50)
 Node version:      v20.20.2
 Git commit:        abc1234
 Built:             Fri May 30 12:07:14 2025
 OS/Arch:           linux/amd64

Server:
 Engine:
  Version:          20.10.24
  API version:      1.41 (minimum version 1.12)
  Go version:       go1.19.8
  Git commit:       5d6db84
  Built:            Thu May  7 21:09:36 2026
  OS/Arch:          linux/amd64
  Experimental:     false
 runc:
  Version:          1.1.5
  GitCommit:        v1.1.5-0
`);
  });
  it('fills an Engine component for daemons without one', () => {
    const sv: ServerVersion = { Version: '0.1.0', ApiVersion: '1.50', MinAPIVersion: '1.24', GitCommit: 'x', GoVersion: 'v20.20.2', Os: 'linux', Arch: 'arm64', Experimental: false };
    const text = align(versionText({ ...client, ApiVersion: '1.50' }, normalizeServerVersion(sv)));
    assert.match(text, / API version:       1\.50\n/);
    assert.match(text, /  API version:      1\.50 \(minimum version 1\.24\)\n  Node version:     v20\.20\.2\n/);
    assert.match(text, /  OS\/Arch:          linux\/arm64\n  Experimental:     false\n$/);
  });
  it('reformats RFC 3339 build times', () => {
    assert.match(reformatDate('2024-01-02T03:04:05.000000000+00:00'), /^(Mon|Tue) Jan  [12] \d\d:04:05 2024$/);
    assert.equal(reformatDate('Thu May  7 21:09:36 2026'), 'Thu May  7 21:09:36 2026');
  });
});

describe('info', () => {
  const info = {
    ID: 'abc', Containers: 3, ContainersRunning: 1, ContainersPaused: 0, ContainersStopped: 2, Images: 5,
    Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    Debug: false, NFd: 20, NGoroutines: 30, SystemTime: '2024-01-01T00:00:00Z', LoggingDriver: 'json-file',
    CgroupDriver: 'systemd', CgroupVersion: '2', NEventsListener: 0, KernelVersion: '6.1.0', OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
    OSType: 'linux', Architecture: 'x86_64', NCPU: 2, MemTotal: 25278062592, DockerRootDir: '/var/lib/pier', Name: 'vm',
    Labels: [], ExperimentalBuild: false, ServerVersion: '0.1.0', Runtimes: { runc: {}, crun: {} }, DefaultRuntime: 'runc',
    Swarm: { LocalNodeState: 'inactive' }, LiveRestoreEnabled: false, InitBinary: '', ContainerdCommit: { ID: '' },
    RuncCommit: { ID: 'v1.1.12' }, InitCommit: { ID: '' }, SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'],
    RegistryConfig: { InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
  } as unknown as Info;
  it('prints the server section like docker', () => {
    assert.equal(serverInfoText(info, false), ` Containers: 3
  Running: 1
  Paused: 0
  Stopped: 2
 Images: 5
 Server Version: 0.1.0
 Storage Driver: overlay2
  Backing Filesystem: extfs
  Supports d_type: true
 Logging Driver: json-file
 Cgroup Driver: systemd
 Cgroup Version: 2
 Plugins:
  Volume: local
  Network: bridge host null
  Log: json-file
 Swarm: inactive
 Runtimes: crun runc
 Default Runtime: runc
 Init Binary: 
 containerd version: 
 runc version: v1.1.12
 init version: 
 Security Options:
  seccomp
   Profile: builtin
  cgroupns
 Kernel Version: 6.1.0
 Operating System: Debian GNU/Linux 12 (bookworm)
 OSType: linux
 Architecture: x86_64
 CPUs: 2
 Total Memory: 23.54GiB
 Name: vm
 ID: abc
 Docker Root Dir: /var/lib/pier
 Debug Mode: false
 Experimental: false
 Insecure Registries:
  127.0.0.0/8
 Live Restore Enabled: false

`);
  });
  it('adds debug details when the client debugs', () => {
    assert.match(serverInfoText(info, true), / Debug Mode: false\n  File Descriptors: 20\n  Goroutines: 30\n  System Time: 2024-01-01T00:00:00Z\n  EventsListeners: 0\n/);
    assert.match(clientInfoText(true), /^Client:\n Version:    \S+\n Debug Mode: true\n$/);
  });
});

describe('system df', () => {
  it('computes the summary rows like docker', () => {
    const du = {
      LayersSize: 10_000_000,
      Images: [
        { Id: 'a', ParentId: '', RepoTags: ['a:1'], RepoDigests: [], Created: 0, Size: 6_000_000, SharedSize: 2_000_000, Labels: null, Containers: 1 },
        { Id: 'b', ParentId: '', RepoTags: ['b:1'], RepoDigests: [], Created: 0, Size: 4_000_000, SharedSize: 2_000_000, Labels: null, Containers: 0 },
      ],
      Containers: [
        { Id: 'c1', Names: ['/x'], Image: 'a:1', Command: 'sh', Created: 0, State: 'running', Status: 'Up', SizeRw: 1000 },
        { Id: 'c2', Names: ['/y'], Image: 'a:1', Command: 'sh', Created: 0, State: 'exited', Status: 'Exited (0)', SizeRw: 3000 },
      ],
      Volumes: [{ Name: 'v', Driver: 'local', Mountpoint: '/v', UsageData: { Size: 500, RefCount: 0 } }],
      BuildCache: [],
    } as DiskUsage;
    assert.deepEqual(dfRows(du), [
      { Active: '1', Reclaimable: '6MB (60%)', Size: '10MB', TotalCount: '2', Type: 'Images' },
      { Active: '1', Reclaimable: '3kB (75%)', Size: '4kB', TotalCount: '2', Type: 'Containers' },
      { Active: '0', Reclaimable: '500B (100%)', Size: '500B', TotalCount: '1', Type: 'Local Volumes' },
      { Active: '0', Reclaimable: '0B', Size: '0B', TotalCount: '0', Type: 'Build Cache' },
    ]);
  });
  it('copes with nulls from an empty daemon', () => {
    const rows = dfRows({ LayersSize: 0, Images: null, Containers: null, Volumes: null, BuildCache: null });
    assert.deepEqual(rows.map((r) => [r.Type, r.TotalCount, r.Size, r.Reclaimable]), [
      ['Images', '0', '0B', '0B'], ['Containers', '0', '0B', '0B'], ['Local Volumes', '0', '0B', '0B'], ['Build Cache', '0', '0B', '0B'],
    ]);
  });
});

describe('system prune', () => {
  it("asks with docker 28's text", () => {
    assert.equal(pruneWarning({ all: false, volumes: false, filters: [] }), `WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container
  - all dangling images
  - unused build cache

Are you sure you want to continue?`);
    assert.equal(pruneWarning({ all: true, volumes: true, filters: ['until=24h', 'label=a=b'] }), `WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container
  - all anonymous volumes not used by at least one container
  - all images without at least one container associated to them
  - all build cache

  Items to be pruned will be filtered with:
  - label=a=b
  - until=24h

Are you sure you want to continue?`);
  });
});

describe('info: Pier lines', () => {
  it('shows the default log options and the metrics address when the daemon reports them', () => {
    const base = { Containers: 0, ContainersRunning: 0, ContainersPaused: 0, ContainersStopped: 0, Images: 0, LoggingDriver: 'json-file', OSType: 'linux', LiveRestoreEnabled: true } as unknown as Info;
    const text = serverInfoText({ ...base, LoggingDriverOptions: { 'max-size': '20m', 'max-file': '5' }, MetricsAddress: '127.0.0.1:9323' } as Info, false);
    assert.match(text, / Logging Driver: json-file\n  Default Log Options: max-file=5 max-size=20m\n/);
    assert.match(text, / Live Restore Enabled: true\n Metrics Address: 127\.0\.0\.1:9323\n/);
    const plain = serverInfoText(base, false);
    assert.doesNotMatch(plain, /Default Log Options|Metrics Address/, 'nothing for a daemon that reports neither (dockerd)');
  });
});
