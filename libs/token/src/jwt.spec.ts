import { createHmac, createVerify, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { decodeJwt, signJwt, verifyEs256, type AccessTokenClaims } from './jwt';

const KID = 'key-2025-01';

const claims: AccessTokenClaims = {
  iss: 'https://idp.example.com',
  sub: '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b',
  aud: 'https://api.example.com',
  client_id: '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b',
  scope: 'agents:read audit:read',
  iat: 1_700_000_000,
  exp: 1_700_003_600,
  jti: '1b4e28ba-2fa1-41d2-883f-0016d3cca427',
  cid: '0f8fad5b-d9cb-469f-a165-70867728950e',
  sv: 3,
};

function p256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const part = (value: unknown) => b64(JSON.stringify(value));

/** DER-encodes one unsigned big-endian integer of an ECDSA signature. */
function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  let value = bytes.subarray(start);
  if (value[0] & 0x80) value = Buffer.concat([Buffer.from([0]), value]);
  return Buffer.concat([Buffer.from([0x02, value.length]), value]);
}

/** JWS (IEEE P1363, r || s) to the DER SEQUENCE that OpenSSL's default verifier expects. */
function p1363ToDer(signature: Buffer): Buffer {
  const body = Buffer.concat([
    derInteger(signature.subarray(0, 32)),
    derInteger(signature.subarray(32)),
  ]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** A token with any header, validly ES256-signed: only the header's claims are off. */
function signedWithHeader(header: unknown, payload: string, privateKey: KeyObject): string {
  const input = `${part(header)}.${payload}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${b64(signature)}`;
}

function decodeOrFail(token: string) {
  const decoded = decodeJwt(token);
  if (!decoded) throw new Error(`not a JWS: ${token}`);
  return decoded;
}

describe(signJwt.name, () => {
  const { privateKey, publicKey } = p256();

  it('round-trips the claims through decode and verify', () => {
    const token = signJwt(claims, KID, privateKey);
    const decoded = decodeOrFail(token);
    expect(decoded.claims).toEqual(claims);
    expect(verifyEs256(decoded, publicKey)).toBe(true);
  });

  it('writes the ES256, at+jwt and kid header', () => {
    const token = signJwt(claims, KID, privateKey);
    const [header] = token.split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))).toEqual({
      alg: 'ES256',
      typ: 'at+jwt',
      kid: KID,
    });
  });

  it('produces a 64-byte r || s signature', () => {
    for (let index = 0; index < 20; index += 1) {
      const token = signJwt({ ...claims, jti: String(index) }, KID, privateKey);
      expect(Buffer.from(token.split('.')[2], 'base64url')).toHaveLength(64);
    }
  });

  it('produces a signature an independent DER verifier accepts', () => {
    const token = signJwt(claims, KID, privateKey);
    const [header, payload, signature] = token.split('.');
    const verifier = createVerify('SHA256');
    verifier.update(`${header}.${payload}`);
    expect(verifier.verify(publicKey, p1363ToDer(Buffer.from(signature, 'base64url')))).toBe(true);
  });

  it('is refused by an independent verifier for another key', () => {
    const token = signJwt(claims, KID, privateKey);
    const [header, payload, signature] = token.split('.');
    const verifier = createVerify('SHA256');
    verifier.update(`${header}.${payload}`);
    expect(verifier.verify(p256().publicKey, p1363ToDer(Buffer.from(signature, 'base64url')))).toBe(
      false,
    );
  });
});

describe(verifyEs256.name, () => {
  const { privateKey, publicKey } = p256();
  const token = signJwt(claims, KID, privateKey);
  const [header, payload, signature] = token.split('.');

  it('refuses a token whose payload was changed', () => {
    const tampered = `${header}.${part({ ...claims, scope: 'admin' })}.${signature}`;
    expect(verifyEs256(decodeOrFail(tampered), publicKey)).toBe(false);
  });

  it('refuses a token whose header was changed', () => {
    const tampered = `${part({ alg: 'ES256', typ: 'at+jwt', kid: 'other' })}.${payload}.${signature}`;
    expect(verifyEs256(decodeOrFail(tampered), publicKey)).toBe(false);
  });

  it('refuses a token whose signature was changed', () => {
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] ^= 0x01;
    expect(verifyEs256(decodeOrFail(`${header}.${payload}.${b64(bytes)}`), publicKey)).toBe(false);
  });

  it('refuses a signature that is not 64 bytes', () => {
    const bytes = Buffer.from(signature, 'base64url');
    const der = p1363ToDer(bytes);
    expect(verifyEs256(decodeOrFail(`${header}.${payload}.${b64(der)}`), publicKey)).toBe(false);
    expect(
      verifyEs256(decodeOrFail(`${header}.${payload}.${b64(bytes.subarray(0, 63))}`), publicKey),
    ).toBe(false);
  });

  it('refuses a token signed with another key', () => {
    const other = signJwt(claims, KID, p256().privateKey);
    expect(verifyEs256(decodeOrFail(other), publicKey)).toBe(false);
  });

  it('refuses alg none with an empty signature', () => {
    const none = part({ alg: 'none', typ: 'at+jwt', kid: KID });
    expect(decodeJwt(`${none}.${payload}.`)).toBeNull();
  });

  it('refuses a header naming another algorithm even over a valid ES256 signature', () => {
    for (const alg of ['none', 'HS256', 'ES384', 'es256', undefined]) {
      const token = signedWithHeader({ alg, typ: 'at+jwt', kid: KID }, payload, privateKey);
      expect(verifyEs256(decodeOrFail(token), publicKey)).toBe(false);
    }
    // The same construction with the right header does verify, so only `alg` is refused above.
    const control = signedWithHeader(
      { alg: 'ES256', typ: 'at+jwt', kid: KID },
      payload,
      privateKey,
    );
    expect(verifyEs256(decodeOrFail(control), publicKey)).toBe(true);
  });

  it('refuses an HS256 token keyed with the public key', () => {
    const hs = part({ alg: 'HS256', typ: 'at+jwt', kid: KID });
    const input = `${hs}.${payload}`;
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    const mac = createHmac('sha256', pem).update(input).digest();
    expect(verifyEs256(decodeOrFail(`${input}.${b64(mac)}`), publicKey)).toBe(false);
    // Even padded to 64 bytes, an HMAC is not an ES256 signature.
    const padded = Buffer.concat([mac, mac]);
    expect(verifyEs256(decodeOrFail(`${input}.${b64(padded)}`), publicKey)).toBe(false);
  });
});

describe(decodeJwt.name, () => {
  const { privateKey } = p256();
  const token = signJwt(claims, KID, privateKey);
  const [header, payload, signature] = token.split('.');

  it('splits a compact JWS into header, claims, signing input and signature', () => {
    const decoded = decodeOrFail(token);
    expect(decoded.header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: KID });
    expect(decoded.signingInput).toBe(`${header}.${payload}`);
    expect(decoded.signature.equals(Buffer.from(signature, 'base64url'))).toBe(true);
  });

  it.each([
    ['two parts', () => `${header}.${payload}`],
    ['four parts', () => `${token}.${signature}`],
    ['an empty part', () => `${header}..${signature}`],
    ['standard base64 characters', () => `${header}.${payload}+/.${signature}`],
    ['padding', () => `${header}.${payload}=.${signature}`],
    ['whitespace', () => ` ${token}`],
    ['a header that is not JSON', () => `${b64('{alg:ES256')}.${payload}.${signature}`],
    ['claims that are not JSON', () => `${header}.${b64('not json')}.${signature}`],
    ['a header that is an array', () => `${part(['ES256'])}.${payload}.${signature}`],
    ['claims that are null', () => `${header}.${part(null)}.${signature}`],
    ['claims that are a string', () => `${header}.${part('sub')}.${signature}`],
    ['an empty string', () => ''],
  ])('refuses a token with %s', (_case, build) => {
    expect(decodeJwt(build())).toBeNull();
  });

  it('accepts a token of 8 KiB and refuses one a character longer', () => {
    const prefix = `${header}.${part({ ...claims, scope: 'x'.repeat(5500) })}.`;
    const ofLength = (length: number) => prefix + 'A'.repeat(length - prefix.length);
    expect(prefix.length).toBeLessThan(8100);
    expect(decodeJwt(ofLength(8192))).not.toBeNull();
    expect(decodeJwt(ofLength(8193))).toBeNull();
  });

  it('does not parse a token over 8 KiB', () => {
    const big = signJwt({ ...claims, scope: 'x'.repeat(6200) }, KID, privateKey);
    expect(big.length).toBeGreaterThan(8192);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      expect(decodeJwt(big)).toBeNull();
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});
