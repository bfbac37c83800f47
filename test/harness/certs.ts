/**
 * Certificates for the remote-daemon tests and benchmark: a set made by
 * `pier tls generate` (CA, server, client), a second CA's set (a stranger's
 * client certificate), and an expired client certificate from the first CA,
 * backdated with `openssl ca -startdate/-enddate` (x509 -days cannot go back).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIER } from './daemon.js';

export interface CertSet {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  cert: string;
  key: string;
}

export const pem = (p: string) => readFileSync(p, 'utf8');

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** `pier tls generate` into dir (for 127.0.0.1 and localhost). */
export function generateCerts(dir: string, hosts = '127.0.0.1,localhost'): CertSet {
  run(process.execPath, [PIER, 'tls', 'generate', '--out', dir, '--host', hosts, '--days', '30']);
  return {
    dir, ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca-key.pem'), serverCert: join(dir, 'server-cert.pem'), serverKey: join(dir, 'server-key.pem'),
    cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'),
  };
}

/** A client certificate signed by set's CA that expired in 2020: { cert, key } paths. */
export function expiredClientCert(set: CertSet, dir: string): { cert: string; key: string } {
  const ca = mkdtempSync(join(dir, 'ca-'));
  mkdirSync(join(ca, 'new'));
  writeFileSync(join(ca, 'index.txt'), '');
  writeFileSync(join(ca, 'serial'), '1000\n');
  writeFileSync(join(ca, 'ca.cnf'), [
    '[ca]', 'default_ca = d', '[d]', `database = ${ca}/index.txt`, `new_certs_dir = ${ca}/new`, `serial = ${ca}/serial`,
    'default_md = sha256', 'policy = p', '[p]', 'commonName = supplied', '[ext]', 'basicConstraints = CA:FALSE', 'extendedKeyUsage = clientAuth', '',
  ].join('\n'));
  const key = join(dir, 'expired-key.pem');
  const csr = join(ca, 'expired.csr');
  const cert = join(dir, 'expired-cert.pem');
  run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=expired']);
  run('openssl', ['ca', '-batch', '-config', join(ca, 'ca.cnf'), '-cert', set.ca, '-keyfile', set.caKey, '-in', csr, '-out', cert,
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'ext', '-notext']);
  return { cert, key };
}

export { freePort } from './service.js';
