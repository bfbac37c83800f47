/** What an `Authorization` header carries, and how challenges quote their parameters. */

export interface BasicCredentials {
  user: string;
  password: string;
}

/** `Basic base64(user:password)`; the password may contain ':' (only the first one splits). */
export function basicOf(header: string | undefined): BasicCredentials | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function bearerOf(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/** A quoted-string for a challenge parameter (RFC 9110 §5.6.4). */
export const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

export const BASIC_REALM = 'Pier Registry';
export const basicChallenge = (): string => `Basic realm=${quote(BASIC_REALM)}`;
