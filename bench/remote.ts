/**
 * A remote daemon over mutual TLS against the same daemon over its unix
 * socket: one pierd of this benchmark's own listens on both (-H unix://… -H
 * tcp://127.0.0.1:PORT --tlsverify, certificates from `pier tls generate`),
 * and `pier ps` and `pier run --rm busybox true` are timed through the CLI on
 * each transport, interleaved. The goal: mTLS ≤ 1.2× the socket.
 * The docker CLI on both transports is a reference. A last series times
 * single API requests within one process (one Client per transport, its TLS
 * session kept), which is what a program using the API pays per request.
 *
 * The "pier"/"docker" columns here are "mTLS"/"unix socket".
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PIER, startDaemon, type TestDaemon } from '../test/harness/daemon.js';
import { Client } from '../src/client/client.js';
import { busyboxImage } from '../test/harness/containers.js';
import { dockerCli } from '../test/harness/dockerd.js';
import { freePort, generateCerts } from '../test/harness/certs.js';
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, percentile, rotation, secondsSince } from './stats.js';
import { runCmd } from './containers.js';
import { cliEnv, type Subjects } from './subjects.js';

interface Series {
  name: string;
  cmd: string;
  args: string[];
}

export const remoteBench: Bench<Subjects> = {
  area: 'remote',
  title: 'CLI latency over mutual TLS vs the unix socket, same pierd',
  async run(_s, o) {
    const rounds = o.quick ? 5 : 30;
    const work = mkdtempSync('/tmp/pier-bench-remote-');
    let d: TestDaemon | undefined;
    try {
      const certs = generateCerts(join(work, 'certs'));
      const tcp = `tcp://127.0.0.1:${await freePort()}`;
      d = await startDaemon({ args: ['-H', tcp, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey] });
      busyboxImage(d);
      const unix = ['-H', d.host];
      const tls = ['-H', tcp, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.cert, '--tlskey', certs.key];
      const run = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
      const series: Series[] = [
        { name: 'pier ps @mTLS', cmd: process.execPath, args: [PIER, ...tls, 'ps'] },
        { name: 'pier ps @unix', cmd: process.execPath, args: [PIER, ...unix, 'ps'] },
        { name: 'pier run --rm @mTLS', cmd: process.execPath, args: [PIER, ...tls, ...run] },
        { name: 'pier run --rm @unix', cmd: process.execPath, args: [PIER, ...unix, ...run] },
        { name: 'docker ps @mTLS', cmd: dockerCli()!, args: [...tls, 'ps'] },
        { name: 'docker ps @unix', cmd: dockerCli()!, args: [...unix, 'ps'] },
      ];
      const samples: Record<string, number[]> = Object.fromEntries(series.map((x) => [x.name, []]));
      const env = cliEnv();
      // Untimed: checks each command works over its transport, and warms caches.
      for (const x of series) {
        const r = await runCmd(x.cmd, x.args, { env });
        if (r.code !== 0) throw new Error(`${x.name} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
      }
      for (let round = 0; round < rounds; round++) {
        // Every series once a round, starting one further along each time.
        for (const x of rotation(series, round)) {
          const r = await runCmd(x.cmd, x.args, { env, discardStdout: true });
          if (r.code !== 0) throw new Error(`${x.name} exited ${r.code} in round ${round}: ${r.stderr.trim().slice(0, 500)}`);
          samples[x.name]!.push(r.seconds * 1000);
          await drain();
        }
      }
      // Single requests in one process: GET /version, the transports alternating, after one untimed each.
      const clients = {
        'request @mTLS': new Client({ host: tcp, tls: { ca: readFileSync(certs.ca, 'utf8'), cert: readFileSync(certs.cert, 'utf8'), key: readFileSync(certs.key, 'utf8'), verify: true } }),
        'request @unix': new Client({ host: d.host }),
      };
      for (const [name, c] of Object.entries(clients)) {
        await c.serverVersion();
        samples[name] = [];
      }
      for (let i = 0; i < rounds * 10; i++) {
        for (const [name, c] of rotation(Object.entries(clients), i)) {
          const t0 = hrnow();
          await c.serverVersion();
          samples[name]!.push(secondsSince(t0) * 1000);
        }
      }
      const med = (n: string) => median(samples[n]!);
      const p90 = (n: string) => percentile(samples[n]!, 90);
      o.progress(series.map((x) => `${x.name} ${med(x.name).toFixed(1)} ms`).join(', '));
      const labels = { pierLabel: 'mTLS', dockerLabel: 'unix' };
      return {
        metrics: [
          metric({ name: '`pier ps` median', unit: 'ms', ...labels, pier: med('pier ps @mTLS'), docker: med('pier ps @unix'), goal: { on: 'ratio', max: 1.2 } }),
          metric({ name: '`pier ps` p90', unit: 'ms', ...labels, pier: p90('pier ps @mTLS'), docker: p90('pier ps @unix') }),
          metric({ name: '`pier run --rm` median', unit: 'ms', ...labels, pier: med('pier run --rm @mTLS'), docker: med('pier run --rm @unix'), goal: { on: 'ratio', max: 1.2 } }),
          metric({ name: '`pier run --rm` p90', unit: 'ms', ...labels, pier: p90('pier run --rm @mTLS'), docker: p90('pier run --rm @unix') }),
          metric({ name: '`docker ps` median (reference)', unit: 'ms', ...labels, pier: med('docker ps @mTLS'), docker: med('docker ps @unix') }),
          metric({ name: 'one API request (GET /version) in one process, median', unit: 'ms', ...labels, pier: med('request @mTLS'), docker: med('request @unix') }),
        ],
        samples,
        notes: [`${rounds} interleaved rounds; one pierd listening on ${d.host} and ${tcp} (--tlsverify, EC P-256 certificates, TLS 1.3); each CLI run is a new process and a new TLS handshake`, `${rounds * 10} single requests per transport from one Client each, alternating (the TLS session resumed)`],
      };
    } finally {
      await d?.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  },
};
