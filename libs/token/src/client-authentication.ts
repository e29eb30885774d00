import { OAuthException } from '@agentidp/common';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

export const BASIC_CHALLENGE = 'Basic realm="agentidp", charset="UTF-8"';

/**
 * The client authentication of a token, introspection or revocation request (RFC 6749 §2.3.1):
 * HTTP Basic with form-urlencoded id and secret, or `client_id`/`client_secret` in the body;
 * never both. Returns null when the request carries neither.
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: Record<string, string>,
): ClientCredentials | null {
  const basic = authorization && /^Basic\s+/i.test(authorization) ? authorization : undefined;
  const inBody = params.client_secret !== undefined;
  if (basic && (inBody || params.client_id !== undefined)) {
    const [, encoded = ''] = basic.split(/\s+/, 2);
    const fromHeader = decodeBasic(encoded);
    // RFC 6749 §2.3: one method per request. A client_id repeated in the body is tolerated if equal.
    if (inBody || (fromHeader && params.client_id !== fromHeader.clientId)) {
      throw new OAuthException('invalid_request', 'Use exactly one client authentication method');
    }
  }
  if (basic) {
    const [, encoded = ''] = basic.split(/\s+/, 2);
    const decoded = decodeBasic(encoded);
    if (!decoded) {
      throw new OAuthException('invalid_client', 'Client authentication failed', 401, {
        'www-authenticate': BASIC_CHALLENGE,
      });
    }
    return { ...decoded, method: 'client_secret_basic' };
  }
  if (params.client_id !== undefined && params.client_secret !== undefined) {
    return {
      clientId: params.client_id,
      clientSecret: params.client_secret,
      method: 'client_secret_post',
    };
  }
  return null;
}

function decodeBasic(encoded: string): { clientId: string; clientSecret: string } | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  try {
    return {
      clientId: formDecode(text.slice(0, colon)),
      clientSecret: formDecode(text.slice(colon + 1)),
    };
  } catch {
    return null;
  }
}

/** application/x-www-form-urlencoded decoding, as §2.3.1 requires for the Basic credentials. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * Reads an OAuth request body into single string values. Repeated parameters are refused
 * (RFC 6749 §3.2) and non-string values too; unknown parameters are kept and ignored by callers.
 */
export function readParams(body: unknown): Record<string, string> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new OAuthException('invalid_request', 'The request body must be form-encoded parameters');
  }
  // A form body is already a prototype-less object of its own (see registerBodyParsers): checked
  // in place. A JSON object is copied, so no inherited name can pass for a parameter.
  const source = body as Record<string, unknown>;
  const params = (Object.getPrototypeOf(source) === null ? source : Object.create(null)) as Record<
    string,
    string
  >;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (Array.isArray(value)) {
      throw new OAuthException('invalid_request', `The parameter ${safeName(key)} is repeated`);
    }
    if (typeof value !== 'string') {
      throw new OAuthException(
        'invalid_request',
        `The parameter ${safeName(key)} must be a string`,
      );
    }
    if (value.length > 8192) {
      throw new OAuthException('invalid_request', `The parameter ${safeName(key)} is too long`);
    }
    params[key] = value;
  }
  return params;
}

function safeName(key: string): string {
  return /^[a-z_]{1,40}$/.test(key) ? key : '(unnamed)';
}
