import { sign, verify, type KeyObject } from 'node:crypto';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope?: string;
  iat: number;
  exp: number;
  jti: string;
  /** The credential the token was obtained with, and that credential's secret version. */
  cid: string;
  sv: number;
  /** The agent's token generation at issue; absent in tokens from before it existed (those keep the older `iat` rule). */
  gen?: number;
}

export interface VerificationKey {
  kid: string;
  publicKey: KeyObject;
}

const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** ES256 JWT signing with `node:crypto` (P1363 signatures, as JWS wants), header `typ: at+jwt`. */
export function signJwt(claims: AccessTokenClaims, kid: string, privateKey: KeyObject): string {
  const header = b64(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid }));
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

export interface DecodedJwt {
  header: { alg?: unknown; typ?: unknown; kid?: unknown };
  claims: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Splits and parses a compact JWS without trusting it; null when it is not one. */
export function decodeJwt(token: string): DecodedJwt | null {
  if (token.length > 8192) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(claims)) return null;
    return {
      header,
      claims,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return null;
  }
}

/** Checks an ES256 signature; the algorithm is fixed, never taken from the token. */
export function verifyEs256(decoded: DecodedJwt, publicKey: KeyObject): boolean {
  if (decoded.header.alg !== 'ES256' || decoded.signature.length !== 64) return false;
  return verify(
    'sha256',
    Buffer.from(decoded.signingInput),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    decoded.signature,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
