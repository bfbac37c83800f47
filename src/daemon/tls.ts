/**
 * The daemon's TLS for tcp:// listeners, with dockerd's flags: --tlsverify
 * requires every client to present a certificate signed by --tlscacert (mutual
 * TLS: a client without one gets a failed handshake, never an HTTP answer);
 * --tls alone encrypts but lets anyone in. Unix sockets never use TLS.
 *
 * The files are read and checked here, before anything listens, so a missing
 * file or a key that does not belong to its certificate stops the daemon with a
 * message naming the file.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { invalid } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import type { DaemonConfig } from './config.js';

export type TlsFiles = Pick<DaemonConfig, 'tls' | 'tlsVerify' | 'tlsCaCert' | 'tlsCert' | 'tlsKey'>;

/** True when tcp:// listeners speak TLS (--tls or --tlsverify). */
export const tlsEnabled = (c: TlsFiles) => c.tls === true || c.tlsVerify;

/**
 * node:tls server options from the configured files; throws naming the file and
 * the flag when one is missing, unreadable, not PEM, or when the key does not
 * match the certificate. Warns when the certificate has expired or soon will.
 */
export function serverTlsOptions(c: TlsFiles, log?: Logger): TlsOptions {
  const need = (path: string | undefined, flag: string, what: string): Buffer => {
    if (!path) throw invalid(`TLS is on but no ${what} was given: pass --${flag} FILE (or set "${flag}" in daemon.json); \`pier tls generate\` makes one`);
    try {
      return readFileSync(path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
      throw invalid(`could not read the ${what} ${path} (--${flag}): ${why}`);
    }
  };
  const cert = need(c.tlsCert, 'tlscert', 'TLS certificate');
  const key = need(c.tlsKey, 'tlskey', 'TLS key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw invalid(`the TLS certificate ${c.tlsCert} (--tlscert) is not a PEM certificate: ${(e as Error).message}`);
  }
  let keyObj;
  try {
    keyObj = createPrivateKey(key);
  } catch (e) {
    const enc = /ENCRYPTED/.test(key.toString('latin1')) ? ' (it is encrypted: give an unencrypted key)' : '';
    throw invalid(`the TLS key ${c.tlsKey} (--tlskey) is not a PEM private key${enc}: ${(e as Error).message}`);
  }
  if (!x509.checkPrivateKey(keyObj)) throw invalid(`the TLS key ${c.tlsKey} (--tlskey) does not belong to the certificate ${c.tlsCert} (--tlscert): give the key the certificate was made for`);
  const o: TlsOptions = { cert, key, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] };
  if (c.tlsVerify) {
    const ca = need(c.tlsCaCert, 'tlscacert', 'TLS CA certificate');
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw invalid(`the TLS CA certificate ${c.tlsCaCert} (--tlscacert) is not a PEM certificate: ${(e as Error).message}`);
    }
    // Mutual TLS: a client must present a certificate that chains to this CA, or the handshake fails.
    Object.assign(o, { ca, requestCert: true, rejectUnauthorized: true });
  }
  try {
    createSecureContext(o); // what listen() will do: fail now, naming the files, not at the first client
  } catch (e) {
    throw invalid(`the TLS files ${c.tlsCert} / ${c.tlsKey}${c.tlsVerify ? ` / ${c.tlsCaCert}` : ''} are not usable: ${(e as Error).message}`);
  }
  const left = Date.parse(x509.validTo) - Date.now();
  if (left <= 0) log?.warn({ cert: c.tlsCert, validTo: x509.validTo }, 'THE TLS CERTIFICATE HAS EXPIRED: clients that verify the daemon will refuse it; make a new one');
  else if (left < 14 * 86400_000) log?.warn({ cert: c.tlsCert, validTo: x509.validTo }, 'the TLS certificate expires within two weeks');
  return o;
}
