import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { BearerTokenVerifier, Principal } from '@agentidp/auth';
import { AppConfig } from '@agentidp/config';
import { batchedRows, isUuid, keyedStatement } from '@agentidp/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { decodeJwt, signJwt, verifyEs256, type AccessTokenClaims } from './jwt';
import { SigningKeysService } from './signing-keys.service';

interface StateRow {
  agent_status: string;
  token_generation: number;
  tokens_revoked_before: Date | null;
  secret_version: number | null;
  revoked: boolean;
}

/**
 * Is each token still good: agent active, credential unchanged, token not revoked. No row for a
 * token whose agent is gone.
 */
const STATE = keyedStatement(
  'agentidp_token_state',
  ['uuid', 'uuid', 'uuid'],
  (keys) => `
  SELECT k.i, a.status AS agent_status, a.token_generation, a.tokens_revoked_before,
         c.secret_version, EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = k.jti) AS revoked
    FROM (${keys}) AS k (agent_id, credential_id, jti, i)
    JOIN agents a ON a.id = k.agent_id
    LEFT JOIN credentials c ON c.id = k.credential_id AND c.agent_id = a.id`,
);

/**
 * Issues and checks RFC 9068 JWT access tokens. A token is active while its signature, issuer and
 * expiry hold and the database still agrees: the agent exists, is active and has not been suspended
 * since (its token generation is unchanged), the credential it was obtained with exists at the same
 * secret version, and it was not revoked. No clock is compared, so replicas' clocks cannot disagree.
 */
@Injectable()
export class AccessTokenService extends BearerTokenVerifier {
  /** What the database says of a token ([agent, credential, jti]), one statement per turn. */
  private readonly state = batchedRows<StateRow>(STATE, () => this.dataSource);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: SigningKeysService,
    private readonly config: AppConfig,
  ) {
    super();
  }

  issue(input: {
    agentId: string;
    credentialId: string;
    secretVersion: number;
    tokenGeneration: number;
    scope: string[];
  }): {
    token: string;
    claims: AccessTokenClaims;
  } {
    const now = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      iss: this.config.http.publicUrl,
      sub: input.agentId,
      aud: this.config.token.audience,
      client_id: input.agentId,
      ...(input.scope.length ? { scope: input.scope.join(' ') } : {}),
      iat: now,
      exp: now + this.config.token.ttlSeconds,
      jti: randomUUID(),
      cid: input.credentialId,
      sv: input.secretVersion,
      gen: input.tokenGeneration,
    };
    const signer = this.keys.currentSigner();
    return { token: signJwt(claims, signer.kid, signer.privateKey), claims };
  }

  /** The claims of an active token, or null. Never throws for a bad token. */
  async verify(token: string): Promise<AccessTokenClaims | null> {
    const claims = await this.verifySignatureAndClaims(token);
    if (!claims) return null;
    const state = await this.state([claims.sub, claims.cid, claims.jti]);
    if (!state || state.agent_status !== 'active' || state.revoked) return null;
    if (state.secret_version === null || state.secret_version !== claims.sv) return null;
    if (claims.gen !== undefined) {
      if (claims.gen !== state.token_generation) return null;
    } else if (
      // Issued before migration 008 or by a replica not yet upgraded: the clock rule they had.
      state.tokens_revoked_before &&
      claims.iat * 1000 <= state.tokens_revoked_before.getTime()
    ) {
      return null;
    }
    return claims;
  }

  /** Signature, header and registered claims only; no database. */
  async verifySignatureAndClaims(token: string): Promise<AccessTokenClaims | null> {
    const decoded = decodeJwt(token);
    if (!decoded || decoded.header.typ !== 'at+jwt' || typeof decoded.header.kid !== 'string')
      return null;
    const key = await this.keys.verificationKey(decoded.header.kid);
    if (!key || !verifyEs256(decoded, key)) return null;
    const claims = decoded.claims;
    const now = Math.floor(Date.now() / 1000);
    if (
      claims.iss !== this.config.http.publicUrl ||
      !isUuid(claims.sub) ||
      !isUuid(claims.cid) ||
      !isUuid(claims.jti) ||
      typeof claims.exp !== 'number' ||
      typeof claims.iat !== 'number' ||
      typeof claims.sv !== 'number' ||
      (claims.gen !== undefined && !Number.isInteger(claims.gen)) ||
      claims.exp <= now ||
      claims.iat > now + 60
    ) {
      return null;
    }
    return claims as unknown as AccessTokenClaims;
  }

  async verifyBearer(token: string): Promise<Principal | null> {
    const claims = await this.verify(token);
    if (!claims) return null;
    return new Principal(
      claims.sub,
      new Set((claims.scope ?? '').split(' ').filter(Boolean)),
      claims.jti,
    );
  }

  /** Records a revocation; idempotent. */
  async revoke(claims: AccessTokenClaims): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO revoked_tokens (jti, agent_id, expires_at) VALUES ($1, $2, to_timestamp($3))
       ON CONFLICT (jti) DO NOTHING`,
      [claims.jti, claims.sub, claims.exp],
    );
  }
}
