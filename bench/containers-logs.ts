/**
 * Reading a 100 MB container log. Each daemon runs, untimed and --network
 * none, a container that writes 100,000,000 bytes of 65-byte lines to stdout
 * and exits; then the whole log is read, interleaved:
 *  - GET /containers/<c>/logs?stdout=1&stderr=1 from Node, the multiplexed
 *    frames parsed only to count the payload (which must be the 100 MB);
 *  - `docker logs <c>` with its stdout to /dev/null (reference).
 * One untimed read of each first, so both logs are in the page cache.
 */
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { metric, type Bench } from './report.js';
import { drain, hrnow, median, rotation, secondsSince } from './stats.js';
import { createContainer, ensureBusybox, inspectContainer, runCmd, startContainer, V, waitContainer, withCleanup } from './containers.js';
import { dockerCli } from '../test/harness/dockerd.js';
import { SUBJECTS, type Subject, type Subjects } from './subjects.js';

const BYTES = 100_000_000;
const LINE = '0123456789abcdef'.repeat(4);
const WRITER = ['sh', '-c', `yes ${LINE} | head -c ${BYTES}`];

/** Streams the log and counts the payload of its frames (8-byte header: stream, 3 zeros, u32 BE length). */
function readLog(s: Subject, id: string): Promise<{ seconds: number; payload: number; raw: number }> {
  return new Promise((resolve, reject) => {
    const t0 = hrnow();
    const req = request({ socketPath: s.sock, method: 'GET', path: `${V}/containers/${id}/logs?stdout=1&stderr=1`, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET logs on ${s.name}: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      let raw = 0;
      let payload = 0;
      let skip = 0; // payload bytes of the current frame still to come
      const header = Buffer.alloc(8);
      let have = 0; // header bytes collected so far
      res.on('data', (d: Buffer) => {
        raw += d.length;
        let i = 0;
        while (i < d.length) {
          if (skip > 0) {
            const n = Math.min(skip, d.length - i);
            skip -= n;
            payload += n;
            i += n;
            continue;
          }
          const n = Math.min(8 - have, d.length - i);
          d.copy(header, have, i, i + n);
          have += n;
          i += n;
          if (have === 8) {
            skip = header.readUInt32BE(4);
            have = 0;
          }
        }
      });
      res.on('end', () => resolve({ seconds: secondsSince(t0), payload, raw }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export const logsBench: Bench<Subjects> = {
  area: 'logs',
  title: 'Reading a 100 MB container log: GET /containers/<c>/logs and `docker logs`',
  async run(s, o) {
    const rounds = o.quick ? 1 : 5;
    const cliRounds = o.quick ? 1 : 3;
    await ensureBusybox(s);
    return withCleanup(s, async () => {
      const ids: Record<string, string> = {};
      const wrote: Record<string, number> = {};
      // Set-up, untimed: both write their logs at once.
      await Promise.all(
        SUBJECTS.map(async (n) => {
          const id = (ids[n] = await createContainer(s[n], WRITER));
          const t0 = hrnow();
          await startContainer(s[n], id);
          const code = await waitContainer(s[n], id);
          if (code !== 0) throw new Error(`the log writer exited ${code} on ${n}`);
          wrote[n] = secondsSince(t0);
        }),
      );
      const notes: string[] = [];
      for (const n of SUBJECTS) {
        const logPath = (await inspectContainer(s[n], ids[n]!)).LogPath;
        let size = '';
        try {
          size = logPath ? `, log file ${(statSync(logPath).size / 1e6).toFixed(1)} MB` : '';
        } catch {
          /* not readable from here */
        }
        notes.push(`${n}: the writer ran ${wrote[n]!.toFixed(1)} s (start to exit, logging ${BYTES / 1e6} MB)${size}`);
      }
      o.progress(notes.join('; '));
      for (const n of SUBJECTS) {
        const r = await readLog(s[n], ids[n]!);
        if (r.payload !== BYTES) throw new Error(`${n}'s log holds ${r.payload} bytes, expected ${BYTES}`);
        notes.push(`${n}: ${r.raw} bytes on the wire (${((r.raw - r.payload) / 8).toFixed(0)} frames)`);
      }
      const samples: Record<string, number[]> = { 'pier API': [], 'dockerd API': [], 'pier docker logs': [], 'dockerd docker logs': [] };
      for (let round = 0; round < rounds; round++) {
        for (const n of rotation(SUBJECTS, round)) {
          const r = await readLog(s[n], ids[n]!);
          if (r.payload !== BYTES) throw new Error(`${n}'s log read ${r.payload} bytes, expected ${BYTES}`);
          samples[`${n} API`]!.push(r.seconds);
          await drain();
        }
        o.progress(`API round ${round + 1}/${rounds}: ` + SUBJECTS.map((n) => `${n} ${samples[`${n} API`]!.at(-1)!.toFixed(2)} s`).join(', '));
      }
      for (let round = 0; round < cliRounds; round++) {
        for (const n of rotation(SUBJECTS, round)) {
          const r = await runCmd(dockerCli()!, ['-H', s[n].host, 'logs', ids[n]!], { discardStdout: true });
          if (r.code !== 0) throw new Error(`docker logs on ${n} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
          samples[`${n} docker logs`]!.push(r.seconds);
        }
      }
      const mbps = (k: string) => BYTES / 1e6 / median(samples[k]!);
      o.progress(Object.keys(samples).map((k) => `${k} ${mbps(k).toFixed(0)} MB/s`).join(', '));
      return {
        metrics: [
          metric({ name: 'GET logs, 100 MB', unit: 'MB/s', pier: mbps('pier API'), docker: mbps('dockerd API'), higherIsBetter: true, goal: { on: 'ratio', min: 5 } }),
          metric({ name: '`docker logs` to /dev/null', unit: 'MB/s', pier: mbps('pier docker logs'), docker: mbps('dockerd docker logs'), higherIsBetter: true }),
        ],
        samples,
        notes: [...notes, ...Object.entries(samples).map(([k, v]) => `${k}: ${v.map((x) => x.toFixed(2)).join(', ')} s`)],
      };
    });
  },
};
