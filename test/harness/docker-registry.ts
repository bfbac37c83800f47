/**
 * A real registry for distribution tests and benchmarks: Debian's docker-registry
 * (the CNCF distribution registry 2.8) on 127.0.0.1 and a free port, with its
 * storage in a temp dir, optionally behind htpasswd auth; stopped by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, startService } from './service.js';

export { freePort };
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
  const svc = await startService({
    name: 'docker-registry',
    cmd: REGISTRY_BIN,
    args: ['serve', join(root, 'config.yml')],
    ready: () => canConnect(port),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
    stopTimeoutMs: 5000,
  });
  return { root, port, host: `127.0.0.1:${port}`, ...svc };
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
