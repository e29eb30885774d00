import { randomUUID } from 'node:crypto';
import {
  bootstrapCredentialId,
  CLIENT_SECRET_PREFIX,
  credentialIdFromSecret,
  generateClientSecret,
} from './client-secret';

const CREDENTIAL_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 32 random bytes of a secret: after the 16-byte id, before the 4-byte checksum. */
function randomPart(secret: string): Buffer {
  return Buffer.from(secret.slice(CLIENT_SECRET_PREFIX.length), 'base64url').subarray(16, 48);
}

function withCharAt(secret: string, index: number, char: string): string {
  return secret.slice(0, index) + char + secret.slice(index + 1);
}

/** A secret whose body contains at least one `-` or `_`, so the alphabet can be swapped. */
function secretWithUrlSafeChars(): string {
  for (;;) {
    const secret = generateClientSecret(CREDENTIAL_ID);
    if (/[-_]/.test(secret.slice(CLIENT_SECRET_PREFIX.length))) return secret;
  }
}

describe(generateClientSecret.name, () => {
  it('starts with the aidp_ prefix followed by 70 base64url characters', () => {
    const secret = generateClientSecret(CREDENTIAL_ID);
    expect(secret.startsWith('aidp_')).toBe(true);
    expect(secret).toHaveLength(75);
    expect(secret.slice(5)).toMatch(/^[A-Za-z0-9_-]{70}$/);
  });

  it('never repeats a secret or its random part over many generations', () => {
    const secrets = Array.from({ length: 2000 }, () => generateClientSecret(CREDENTIAL_ID));
    expect(new Set(secrets).size).toBe(secrets.length);
    expect(new Set(secrets.map((secret) => randomPart(secret).toString('hex'))).size).toBe(
      secrets.length,
    );
  });

  it('varies every one of the 256 random bits', () => {
    const parts = Array.from({ length: 500 }, () =>
      randomPart(generateClientSecret(CREDENTIAL_ID)),
    );
    expect(parts[0]).toHaveLength(32);
    const ones = new Array<number>(256).fill(0);
    for (const part of parts) {
      for (let bit = 0; bit < 256; bit += 1) {
        if ((part[bit >> 3] >> (7 - (bit & 7))) & 1) ones[bit] += 1;
      }
    }
    // Each bit is set in roughly half of the samples; a fixed or missing bit is 0 or 500.
    const stuck = ones.filter((count) => count < 150 || count > 350);
    expect(stuck).toEqual([]);
  });
});

describe(credentialIdFromSecret.name, () => {
  it('returns the credential id embedded in a generated secret', () => {
    const ids = [CREDENTIAL_ID, randomUUID(), randomUUID()];
    for (const id of ids) {
      expect(credentialIdFromSecret(generateClientSecret(id))).toBe(id);
    }
  });

  it('rejects a secret one character too short or too long', () => {
    const secret = generateClientSecret(CREDENTIAL_ID);
    expect(credentialIdFromSecret(secret.slice(0, -1))).toBeNull();
    expect(credentialIdFromSecret(`${secret}A`)).toBeNull();
    expect(credentialIdFromSecret('')).toBeNull();
  });

  it('rejects a secret with another prefix', () => {
    const secret = generateClientSecret(CREDENTIAL_ID);
    expect(credentialIdFromSecret(`xidp_${secret.slice(5)}`)).toBeNull();
    expect(credentialIdFromSecret(`AIDP_${secret.slice(5)}`)).toBeNull();
  });

  it('rejects characters outside the base64url alphabet', () => {
    const secret = generateClientSecret(CREDENTIAL_ID);
    for (const char of ['!', '=', ' ', '.', '\u00e9']) {
      expect(credentialIdFromSecret(withCharAt(secret, 20, char))).toBeNull();
    }
  });

  it('rejects standard base64 characters in place of - and _', () => {
    const secret = secretWithUrlSafeChars();
    const standard =
      CLIENT_SECRET_PREFIX +
      secret.slice(CLIENT_SECRET_PREFIX.length).replace(/-/g, '+').replace(/_/g, '/');
    expect(standard).not.toBe(secret);
    expect(credentialIdFromSecret(standard)).toBeNull();
  });

  it('rejects a single changed character anywhere in the body but the last', () => {
    const secret = generateClientSecret(CREDENTIAL_ID);
    const accepted: string[] = [];
    for (let index = CLIENT_SECRET_PREFIX.length; index < secret.length - 1; index += 1) {
      for (const char of BASE64URL_ALPHABET) {
        if (char === secret[index]) continue;
        if (credentialIdFromSecret(withCharAt(secret, index, char)) !== null) {
          accepted.push(`${index}:${char}`);
        }
      }
    }
    expect(accepted).toEqual([]);
  });

  it('rejects a single changed last character', () => {
    const secret = generateClientSecret(CREDENTIAL_ID);
    const last = secret.length - 1;
    const accepted = [...BASE64URL_ALPHABET].filter(
      (char) =>
        char !== secret[last] && credentialIdFromSecret(withCharAt(secret, last, char)) !== null,
    );
    expect(accepted).toEqual([]);
  });
});

describe(bootstrapCredentialId.name, () => {
  const agentId = '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b';

  it('derives the same id for the same agent every time', () => {
    expect(bootstrapCredentialId(agentId)).toBe(bootstrapCredentialId(agentId));
  });

  it('is a version 8, RFC 9562 variant UUID', () => {
    for (const id of [agentId, randomUUID(), randomUUID(), randomUUID(), 'x']) {
      expect(bootstrapCredentialId(id)).toMatch(UUID_V8);
    }
  });

  it('differs from agent to agent', () => {
    const agents = Array.from({ length: 200 }, () => randomUUID());
    const ids = new Set(agents.map(bootstrapCredentialId));
    expect(ids.size).toBe(agents.length);
    expect(bootstrapCredentialId(agentId)).not.toBe(agentId);
  });
});
