import { OAuthException } from '@agentidp/common';
import { BASIC_CHALLENGE, readClientCredentials, readParams } from './client-authentication';

const CLIENT_ID = '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b';
const SECRET = 'aidp_D4-tW9nLRp-hZXCGdyiVDuM-yP3SDd6Ld59SqLgYKJyIii1K6vFPsMwla2lokpKSBZBfFw';

const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

/** The OAuthException `call` throws; fails the test when it throws nothing or something else. */
function oauthError(call: () => unknown): OAuthException {
  try {
    call();
  } catch (error) {
    if (error instanceof OAuthException) return error;
    throw error;
  }
  throw new Error('expected an OAuthException');
}

describe(readClientCredentials.name, () => {
  it('reads HTTP Basic credentials', () => {
    expect(readClientCredentials(basic(`${CLIENT_ID}:${SECRET}`), {})).toEqual({
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      method: 'client_secret_basic',
    });
  });

  it('accepts the Basic scheme in any case', () => {
    const header = basic(`${CLIENT_ID}:${SECRET}`).replace('Basic', 'bAsIc');
    expect(readClientCredentials(header, {})?.clientSecret).toBe(SECRET);
  });

  it('form-decodes the Basic id and secret: + is a space and %3A a colon', () => {
    expect(readClientCredentials(basic('my+client:pa%3Ass+word%25'), {})).toMatchObject({
      clientId: 'my client',
      clientSecret: 'pa:ss word%',
    });
  });

  it('splits at the first colon, so a secret may contain colons', () => {
    expect(readClientCredentials(basic(`${CLIENT_ID}:a:b::c`), {})).toMatchObject({
      clientId: CLIENT_ID,
      clientSecret: 'a:b::c',
    });
  });

  it('reads an empty secret after the colon as empty', () => {
    expect(readClientCredentials(basic(`${CLIENT_ID}:`), {})).toMatchObject({
      clientId: CLIENT_ID,
      clientSecret: '',
    });
  });

  it.each([
    ['malformed base64', 'Basic !!!not-base64!!!'],
    ['no credentials at all', 'Basic '],
    ['no colon', basic(`${CLIENT_ID}${SECRET}`)],
    ['a malformed percent-escape', basic(`${CLIENT_ID}:secret%zz`)],
  ])('answers invalid_client 401 with a Basic challenge for %s', (_case, header) => {
    const error = oauthError(() => readClientCredentials(header, {}));
    expect(error.error).toBe('invalid_client');
    expect(error.status).toBe(401);
    expect(error.headers).toEqual({ 'www-authenticate': BASIC_CHALLENGE });
    expect(BASIC_CHALLENGE).toMatch(/^Basic /);
  });

  it('refuses Basic together with a client_secret in the body', () => {
    const error = oauthError(() =>
      readClientCredentials(basic(`${CLIENT_ID}:${SECRET}`), {
        client_id: CLIENT_ID,
        client_secret: SECRET,
      }),
    );
    expect(error.error).toBe('invalid_request');
    expect(error.status).toBe(400);
  });

  it('refuses Basic together with a body client_secret alone', () => {
    const error = oauthError(() =>
      readClientCredentials(basic(`${CLIENT_ID}:${SECRET}`), { client_secret: SECRET }),
    );
    expect(error.error).toBe('invalid_request');
  });

  it('tolerates a body client_id equal to the Basic one', () => {
    expect(
      readClientCredentials(basic(`${CLIENT_ID}:${SECRET}`), { client_id: CLIENT_ID }),
    ).toMatchObject({ clientId: CLIENT_ID, method: 'client_secret_basic' });
  });

  it('refuses a body client_id that differs from the Basic one', () => {
    const error = oauthError(() =>
      readClientCredentials(basic(`${CLIENT_ID}:${SECRET}`), {
        client_id: '1b4e28ba-2fa1-41d2-883f-0016d3cca427',
      }),
    );
    expect(error.error).toBe('invalid_request');
  });

  it('reads client_secret_post credentials from the body', () => {
    expect(
      readClientCredentials(undefined, { client_id: CLIENT_ID, client_secret: SECRET }),
    ).toEqual({ clientId: CLIENT_ID, clientSecret: SECRET, method: 'client_secret_post' });
  });

  it('ignores a non-Basic authorization header', () => {
    expect(
      readClientCredentials('Bearer abc.def.ghi', { client_id: CLIENT_ID, client_secret: SECRET }),
    ).toMatchObject({ method: 'client_secret_post' });
    expect(readClientCredentials('Bearer abc.def.ghi', {})).toBeNull();
  });

  it('returns null when the request carries no client authentication', () => {
    expect(readClientCredentials(undefined, {})).toBeNull();
    expect(readClientCredentials(undefined, { grant_type: 'client_credentials' })).toBeNull();
  });

  it('returns null for a body client_id without a secret', () => {
    expect(readClientCredentials(undefined, { client_id: CLIENT_ID })).toBeNull();
  });
});

describe(readParams.name, () => {
  it('reads string parameters and keeps unknown ones', () => {
    expect(
      readParams({ grant_type: 'client_credentials', scope: 'agents:read', extension: 'x' }),
    ).toEqual({ grant_type: 'client_credentials', scope: 'agents:read', extension: 'x' });
  });

  it('reads a missing body as no parameters', () => {
    expect(readParams(undefined)).toEqual({});
    expect(readParams(null)).toEqual({});
  });

  it('refuses a repeated parameter', () => {
    const error = oauthError(() => readParams({ scope: ['agents:read', 'admin'] }));
    expect(error.error).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.description).toMatch(/scope is repeated/);
  });

  it.each([
    ['a number', 42],
    ['a boolean', true],
    ['an object', { nested: 'x' }],
    ['null', null],
  ])('refuses a parameter whose value is %s', (_case, value) => {
    const error = oauthError(() => readParams({ grant_type: value }));
    expect(error.error).toBe('invalid_request');
    expect(error.description).toMatch(/grant_type must be a string/);
  });

  it.each([
    ['an array', ['grant_type=client_credentials']],
    ['a string', 'grant_type=client_credentials'],
    ['a number', 7],
  ])('refuses a body that is %s', (_case, body) => {
    expect(oauthError(() => readParams(body)).error).toBe('invalid_request');
  });

  it('refuses a parameter over 8192 characters', () => {
    expect(readParams({ scope: 'x'.repeat(8192) }).scope).toHaveLength(8192);
    expect(oauthError(() => readParams({ scope: 'x'.repeat(8193) })).error).toBe('invalid_request');
  });

  it('does not echo an odd parameter name in the error', () => {
    const error = oauthError(() => readParams({ '<script>alert(1)</script>': 1 }));
    expect(error.description).not.toContain('<script>');
    expect(error.description).toContain('(unnamed)');
  });
});
