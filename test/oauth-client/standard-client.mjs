// Drives AgentIdP with standard OAuth/JOSE libraries and no special cases: RFC 8414 discovery,
// client_credentials, JWKS signature check, RFC 7662 introspection and RFC 7009 revocation.
// Usage: node standard-client.mjs <issuer> <client_id> <client_secret> <client_secret_basic|client_secret_post>
// Prints one JSON object with what each step saw.
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [issuerUrl, clientId, clientSecret, method = 'client_secret_basic'] = process.argv.slice(2);
const issuer = new URL(issuerUrl);
const allowInsecure = { [oauth.allowInsecureRequests]: true };

const as = await oauth
  .discoveryRequest(issuer, { algorithm: 'oauth2', ...allowInsecure })
  .then((response) => oauth.processDiscoveryResponse(issuer, response));

const client = { client_id: clientId };
const auth =
  method === 'client_secret_post'
    ? oauth.ClientSecretPost(clientSecret)
    : oauth.ClientSecretBasic(clientSecret);

const grant = await oauth.clientCredentialsGrantRequest(
  as,
  client,
  auth,
  new URLSearchParams(),
  allowInsecure,
);
const tokens = await oauth.processClientCredentialsResponse(as, client, grant);

const jwks = createRemoteJWKSet(new URL(as.jwks_uri), {});
const verified = await jwtVerify(tokens.access_token, jwks, {
  issuer: as.issuer,
  typ: 'at+jwt',
  algorithms: ['ES256'],
});

const introspectionResponse = await oauth.introspectionRequest(
  as,
  client,
  auth,
  tokens.access_token,
  allowInsecure,
);
const introspection = await oauth.processIntrospectionResponse(as, client, introspectionResponse);

const revocationResponse = await oauth.revocationRequest(
  as,
  client,
  auth,
  tokens.access_token,
  allowInsecure,
);
await oauth.processRevocationResponse(revocationResponse);

const afterRevocation = await oauth.processIntrospectionResponse(
  as,
  client,
  await oauth.introspectionRequest(as, client, auth, tokens.access_token, allowInsecure),
);

process.stdout.write(
  JSON.stringify({
    issuer: as.issuer,
    tokenType: tokens.token_type,
    expiresIn: tokens.expires_in,
    header: verified.protectedHeader,
    claims: verified.payload,
    introspection,
    afterRevocation,
  }),
);
