/**
 * A real registry for distribution tests: Debian's docker-registry (the CNCF
 * distribution registry 2.8) on 127.0.0.1 and a free port, with its storage
 * in a temp dir, optionally behind htpasswd auth; stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  root: string;
  port: number;
  /** host:port, as image names use it: "127.0.0.1:5123". */
  host: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRegistry(o: { htpasswd?: string } = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is not installed (apt-get install docker-registry)`);
  const root = mkdtempSync('/tmp/pier-registry-');
  const port = await freePort();
  let auth = '';
  if (o.htpasswd) {
    writeFileSync(join(root, 'htpasswd'), o.htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: Registry Realm\n    path: ${join(root, 'htpasswd')}\n`;
  }
  writeFileSync(
    join(root, 'config.yml'),
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(root, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  let logText = '';
  const proc = spawn(REGISTRY_BIN, ['serve', join(root, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => (logText += d));
  proc.stderr!.on('data', (d: Buffer) => (logText += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited: ${logText}`);
    }
    if (await canConnect(port)) return { root, port, host: `127.0.0.1:${port}`, proc, log: () => logText, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`docker-registry did not listen within 15s: ${logText}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
