// `pier tls generate`: the certificates for a daemon reached over mutual TLS,
// made with the openssl command (no crypto of our own):
//
//   ca.pem, ca-key.pem            a CA (kept, and reused by later runs in the same directory)
//   server-cert.pem, server-key.pem
//                                 the daemon's: SAN = --host names and addresses, usable for
//                                 serverAuth and clientAuth (a daemon may present it as a client)
//   cert.pem, key.pem             a client's (clientAuth): DOCKER_CERT_PATH=DIR, or --tlscert/--tlskey
//
//   pier tls generate --out ~/.docker --host myhost,10.0.0.2
//   pierd -H tcp://0.0.0.0:2376 --tlsverify --tlscacert ~/.docker/ca.pem --tlscert ~/.docker/server-cert.pem --tlskey ~/.docker/server-key.pem
//   DOCKER_CERT_PATH=~/.docker pier -H tcp://myhost:2376 --tlsverify ps
//
// Keys are EC P-256, written 0600; certificates 0644.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StatusError, type CommandDef, type Ctx } from '../command.js';
import type { ParsedFlags } from '../flags.js';

/** Runs openssl; a failure exits with its stderr and what to do. */
function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new StatusError(1, missing ? 'pier tls generate needs the openssl command: install it (apt-get install openssl)' : `could not run openssl: ${r.error.message}`);
  }
  if (r.status !== 0) throw new StatusError(1, `openssl ${args[0]} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
}

/** A name or address for the SAN list; names are checked against DNS's rules. */
export function sanEntry(h: string): string {
  if (isIP(h)) return `IP:${h}`;
  if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h))
    throw new StatusError(1, `invalid --host "${h}": give a DNS name or an IP address`);
  return `DNS:${h}`;
}

/** The openssl configuration: our extensions only, nothing from the system's openssl.cnf. */
export function opensslConfig(sans: string[]): string {
  return [
    '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = pier',
    '[ca_ext]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash',
    '[server_ext]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = serverAuth,clientAuth', `subjectAltName = ${sans.join(',')}`, 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
    '[client_ext]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = clientAuth',
    'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid', '',
  ].join('\n');
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const serial = () => `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`;

async function runGenerate(ctx: Ctx, f: ParsedFlags): Promise<number> {
  const out = resolve((f.values['out'] as string) || '.');
  const days = f.values['days'] as number;
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new StatusError(1, `invalid --days ${days}: give a whole number of days from 1 to 36500`);
  const hosts = (f.values['host'] as string[]).flatMap((h) => h.split(',')).map((h) => h.trim()).filter(Boolean);
  if (!hosts.length) hosts.push(hostname(), 'localhost', '127.0.0.1');
  const sans = [...new Set(hosts.map(sanEntry))];
  const client = f.values['client-name'] as string;
  const force = f.values['force'] === true;
  const path = (n: string) => join(out, n);
  const made = ['server-cert.pem', 'server-key.pem', 'cert.pem', 'key.pem'].filter((n) => existsSync(path(n)));
  if (made.length && !force) throw new StatusError(1, `${out} already holds ${made.join(', ')}: pass --force to replace them, or choose another --out`);
  const haveCa = existsSync(path('ca.pem')) && existsSync(path('ca-key.pem'));
  if (existsSync(path('ca.pem')) !== existsSync(path('ca-key.pem'))) throw new StatusError(1, `${out} holds only one of ca.pem and ca-key.pem: a CA needs both; move the other away`);

  await fs.mkdir(out, { recursive: true, mode: 0o700 });
  const tmp = mkdtempSync(join(tmpdir(), 'pier-tls-'));
  try {
    const cnf = join(tmp, 'openssl.cnf');
    await fs.writeFile(cnf, opensslConfig(sans));
    // Written in the scratch directory first and moved in at the end: a failure leaves DIR as it was.
    const t = (n: string) => join(tmp, n);
    if (!haveCa) {
      openssl(['req', '-config', cnf, '-x509', '-new', ...KEY, '-keyout', t('ca-key.pem'), '-out', t('ca.pem'), '-days', String(days), '-subj', `/CN=Pier CA (${hosts[0]})`, '-extensions', 'ca_ext', '-set_serial', serial()]);
    }
    const ca = haveCa ? path('ca.pem') : t('ca.pem');
    const caKey = haveCa ? path('ca-key.pem') : t('ca-key.pem');
    const sign = (name: string, cn: string, ext: string) => {
      openssl(['req', '-config', cnf, '-new', ...KEY, '-keyout', t(`${name}-key.pem`), '-out', t(`${name}.csr`), '-subj', `/CN=${cn}`]);
      openssl(['x509', '-req', '-in', t(`${name}.csr`), '-CA', ca, '-CAkey', caKey, '-set_serial', serial(), '-days', String(days), '-sha256', '-extfile', cnf, '-extensions', ext, '-out', t(`${name}-cert.pem`)]);
    };
    sign('server', hosts[0]!, 'server_ext');
    sign('client', client, 'client_ext');
    const moves: [string, string, number][] = [
      ['server-cert.pem', 'server-cert.pem', 0o644], ['server-key.pem', 'server-key.pem', 0o600],
      ['client-cert.pem', 'cert.pem', 0o644], ['client-key.pem', 'key.pem', 0o600],
    ];
    if (!haveCa) moves.unshift(['ca.pem', 'ca.pem', 0o644], ['ca-key.pem', 'ca-key.pem', 0o600]);
    for (const [from, to, mode] of moves) {
      await fs.chmod(t(from), mode);
      await fs.copyFile(t(from), path(to));
      await fs.chmod(path(to), mode);
    }
    ctx.out(`${haveCa ? 'Reused the CA in' : 'Made a CA in'} ${out} (ca.pem; keep ca-key.pem secret)\n`);
    ctx.out(`Server certificate for ${hosts.join(', ')}: server-cert.pem, server-key.pem (valid ${days} days)\n`);
    ctx.out(`Client certificate "${client}": cert.pem, key.pem\n\n`);
    ctx.out(`Daemon: pierd -H tcp://0.0.0.0:2376 --tlsverify --tlscacert ${path('ca.pem')} --tlscert ${path('server-cert.pem')} --tlskey ${path('server-key.pem')}\n`);
    ctx.out(`Client: DOCKER_CERT_PATH=${out} DOCKER_TLS_VERIFY=1 pier -H tcp://${hosts[0]}:2376 ps\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return 0;
}

export const commands: Record<string, CommandDef> = {
  'tls generate': {
    use: 'generate [OPTIONS]',
    flags: [
      { name: 'out', short: 'o', type: 'string', usage: 'Directory to write the certificates to', default: '.' },
      { name: 'host', type: 'list', usage: 'Names and addresses the daemon is reached by (repeatable, or comma-separated; default: this host\'s name, localhost, 127.0.0.1)' },
      { name: 'days', type: 'int', usage: 'Validity of the certificates in days', default: 365 },
      { name: 'client-name', type: 'string', usage: "Common name of the client certificate", default: 'client' },
      { name: 'force', short: 'f', type: 'bool', usage: 'Replace server and client certificates already in the directory' },
    ],
    run: runGenerate,
  },
};
