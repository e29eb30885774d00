import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Client secrets look like `aidp_<70 base64url chars>`: a recognisable prefix for secret scanners,
 * then 16 bytes of credential id, 32 bytes (256 bits) from the CSPRNG and a CRC-32 checksum, so a
 * scanner can tell a real secret from a lookalike offline, and the server finds the one credential
 * to check without trying each of an agent's credentials.
 */
export const CLIENT_SECRET_PREFIX = 'aidp_';
const ID_BYTES = 16;
const RANDOM_BYTES = 32;
const CHECKSUM_BYTES = 4;
const BODY_BYTES = ID_BYTES + RANDOM_BYTES + CHECKSUM_BYTES;
const ENCODED_LENGTH = CLIENT_SECRET_PREFIX.length + Math.ceil((BODY_BYTES * 4) / 3);

export function generateClientSecret(credentialId: string): string {
  const id = Buffer.from(credentialId.replace(/-/g, ''), 'hex');
  const payload = Buffer.concat([id, randomBytes(RANDOM_BYTES)]);
  const checksum = Buffer.alloc(CHECKSUM_BYTES);
  checksum.writeUInt32BE(crc32(payload) >>> 0);
  return CLIENT_SECRET_PREFIX + Buffer.concat([payload, checksum]).toString('base64url');
}

/** The credential id a well-formed secret names, or null for anything else. */
export function credentialIdFromSecret(secret: string): string | null {
  if (secret.length !== ENCODED_LENGTH || !secret.startsWith(CLIENT_SECRET_PREFIX)) return null;
  const encoded = secret.slice(CLIENT_SECRET_PREFIX.length);
  const body = Buffer.from(encoded, 'base64url');
  // Node's decoder is lenient (`+`, `/`, unused low bits): only the canonical spelling is a secret.
  if (body.length !== BODY_BYTES || body.toString('base64url') !== encoded) return null;
  const payload = body.subarray(0, ID_BYTES + RANDOM_BYTES);
  if (crc32(payload) >>> 0 !== body.readUInt32BE(ID_BYTES + RANDOM_BYTES)) return null;
  const hex = body.subarray(0, ID_BYTES).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The credential an operator-supplied secret (BOOTSTRAP_ADMIN_CLIENT_SECRET, which has no embedded
 * id) belongs to: derived from the agent id, so a lookup still costs one row and one verification.
 */
export function bootstrapCredentialId(agentId: string): string {
  const hex = createHash('sha256').update(`agentidp:bootstrap-credential:${agentId}`).digest('hex');
  // Shaped as a version 8 (custom) UUID, RFC 9562.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
