/**
 * The token issuer's signing key: read from a PEM file (PKCS#8, SEC1 "EC
 * PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"), or generated in memory (P-256,
 * ES256) when none is configured.
 *
 * The key ID in each token's header is computed as Docker's libtrust does
 * (SHA-256 of the DER public key, first 240 bits, base32, in 4-character
 * groups joined by ':'), so a distribution registry given the same public key
 * would recognise it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EngineError, invalid, messageOf } from '../../base/errdefs.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'EdDSA';
  kid: string;
}

export async function loadSigningKey(path: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EngineError('invalid', `token signing key ${path}: ${code === 'ENOENT' ? 'no such file' : messageOf(e)}`, { cause: e });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw invalid(`token signing key ${path}: not a PEM private key (${messageOf(e)})`, e);
  }
  return fromPrivateKey(key, path);
}

/** A fresh P-256 key pair; tokens signed with it die with the process. */
export function generateSigningKey(): SigningKey {
  return fromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'generated key');
}

function fromPrivateKey(privateKey: KeyObject, what: string): SigningKey {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg: algOf(privateKey, what), kid: libtrustKeyId(publicKey) };
}

function algOf(key: KeyObject, what: string): SigningKey['alg'] {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
    if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
    if (curve === 'secp521r1' || curve === 'P-521') return 'ES512';
    throw invalid(`token signing key ${what}: EC curve ${curve} is not supported; use P-256, P-384 or P-521`);
  }
  throw invalid(`token signing key ${what}: ${type} keys are not supported; use an EC (P-256) or RSA key`);
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function libtrustKeyId(publicKey: KeyObject): string {
  const sum = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of sum) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
      value &= (1 << bits) - 1;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}
