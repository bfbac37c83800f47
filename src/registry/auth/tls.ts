/**
 * The registry's TLS certificate and key, read and checked up front so a bad
 * path or a mismatched pair fails at startup with a message naming the file,
 * not at the first handshake.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EngineError, invalid, messageOf } from '../../base/errdefs.js';

export async function tlsOptions(cert: string, key: string): Promise<{ cert: Buffer; key: Buffer }> {
  // One after the other, so that with both files bad the error always names the certificate first.
  const certPem = await readPem(cert, 'certificate');
  const keyPem = await readPem(key, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (e) {
    throw invalid(`TLS certificate ${cert}: not a PEM certificate (${messageOf(e)})`, e);
  }
  let keyObject;
  try {
    keyObject = createPrivateKey(keyPem);
  } catch (e) {
    throw invalid(`TLS key ${key}: not a PEM private key (${messageOf(e)})`, e);
  }
  if (!x509.checkPrivateKey(keyObject)) throw invalid(`TLS key ${key} does not match the certificate ${cert}`);
  return { cert: certPem, key: keyPem };
}

async function readPem(path: string, what: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : messageOf(e);
    throw new EngineError('invalid', `TLS ${what} ${path}: ${why}`, { cause: e });
  }
  if (!data.includes('-----BEGIN ')) throw invalid(`TLS ${what} ${path}: not PEM (no "-----BEGIN" line)`);
  return data;
}
