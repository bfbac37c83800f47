/**
 * Registry bearer tokens: JWTs as distribution's token spec describes them
 * (spec/auth/jwt.md). Claims: iss, sub (the account, '' for anonymous), aud
 * (the registry's service name), exp, nbf, iat, jti and
 * `access: [{type, name, actions}]`; the header names the key (kid).
 *
 * Signing and verification use `jose`, a dependency-free, audited JOSE
 * implementation that runs on Node's own crypto: hand-rolled JWT code is where
 * alg-confusion and claim-check bugs live.
 *
 * Refresh tokens (OAuth2 `access_type=offline`, what `docker login` stores as
 * an identity token) are JWTs too, told apart by the header's `typ`, so an
 * access token can never be used as a refresh token or the other way round.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { Access } from '../hooks.js';
import type { SigningKey } from './keys.js';

const ACCESS_TYP = 'JWT';
const REFRESH_TYP = 'refresh+jwt';
/** Refresh tokens outlive many access tokens: Docker keeps one in its config until the next login. */
export const REFRESH_TTL_S = 90 * 24 * 3600;

export interface AccessClaims {
  sub: string;
  access: Access[];
  exp: number;
}

export interface TokenServiceOptions {
  issuer: string;
  service: string;
  key: SigningKey;
  expiresIn: number; // seconds
}

export class TokenService {
  constructor(private readonly o: TokenServiceOptions) {}

  get expiresIn(): number {
    return this.o.expiresIn;
  }

  async issue(sub: string, access: Access[], now = Math.floor(Date.now() / 1000)): Promise<string> {
    return this.sign({ access }, ACCESS_TYP, sub, now, this.o.expiresIn);
  }

  async issueRefresh(sub: string, now = Math.floor(Date.now() / 1000)): Promise<string> {
    return this.sign({}, REFRESH_TYP, sub, now, REFRESH_TTL_S);
  }

  /** The claims of a valid access token; throws TokenError saying why a token is not. */
  async verify(token: string): Promise<AccessClaims> {
    const p = await this.check(token, ACCESS_TYP);
    if (!Array.isArray(p.access) || !p.access.every(isAccess)) throw new TokenError('malformed "access" claim');
    return { sub: typeof p.sub === 'string' ? p.sub : '', access: p.access, exp: p.exp! };
  }

  /** The account a valid refresh token was issued to. */
  async verifyRefresh(token: string): Promise<string> {
    const p = await this.check(token, REFRESH_TYP);
    if (typeof p.sub !== 'string' || !p.sub) throw new TokenError('refresh token names no account');
    return p.sub;
  }

  private sign(claims: JWTPayload, typ: string, sub: string, now: number, ttl: number): Promise<string> {
    const { key, issuer, service } = this.o;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  private async check(token: string, typ: string): Promise<JWTPayload> {
    const { key, issuer, service } = this.o;
    try {
      // A kid that is not ours means another issuer's token: say so rather than "signature failed".
      const kid = decodeProtectedHeader(token).kid;
      if (kid !== undefined && kid !== key.kid) throw new TokenError(`signed by unknown key ${kid}`);
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg],
        issuer,
        audience: service,
        typ,
        requiredClaims: ['exp'],
      });
      return payload;
    } catch (e) {
      if (e instanceof TokenError) throw e;
      throw new TokenError(reasonOf(e), { cause: e });
    }
  }
}

export class TokenError extends Error {
  override name = 'TokenError';
}

function reasonOf(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'token expired';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify with this registry\'s key';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim check failed: ${e.message}`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'signed with an algorithm this registry does not accept';
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid || e instanceof TypeError) return 'malformed token';
  return e instanceof Error ? e.message : String(e);
}

function isAccess(a: unknown): a is Access {
  const x = a as Access;
  return (
    typeof x === 'object' && x !== null && typeof x.type === 'string' && typeof x.name === 'string' &&
    Array.isArray(x.actions) && x.actions.every((s) => typeof s === 'string')
  );
}
