import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { AppConfig } from '@agentidp/config';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { DataSource, IsNull, MoreThan, type EntityManager } from 'typeorm';
import { KeyEncryption } from './key-encryption';
import { SigningKey } from './signing-key.entity';

export interface ActiveSigner {
  kid: string;
  privateKey: KeyObject;
}

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  use: 'sig';
  alg: 'ES256';
}

const REFRESH_INTERVAL_MS = 30_000;
const KEYS_LOCK_KEY = '7017851454063191410';
/** Clock skew allowed to resource servers when a retired key leaves the JWKS. */
const RETIREMENT_MARGIN_SECONDS = 300;

/**
 * ES256 signing keys, shared by every replica through the database (private keys encrypted at
 * rest). The newest key signs; retired keys stay published until every token they signed expired.
 * Replicas re-read the set periodically and whenever they meet a `kid` they do not know yet.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SigningKeysService.name);
  private signer?: ActiveSigner;
  private signerCreatedAt = 0;
  private publicKeys = new Map<string, { key: KeyObject; jwk: PublicJwk }>();
  private lastRefresh = 0;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: KeyEncryption,
    private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.refresh();
    if (!this.signer) {
      await this.createKey({ onlyIfNone: true });
      await this.refresh();
    }
    this.timer = setInterval(() => {
      this.refresh().catch((error: Error) =>
        this.logger.warn(`Signing key refresh failed: ${error.message}`),
      );
    }, REFRESH_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  currentSigner(): ActiveSigner {
    if (!this.signer) throw new Error('No signing key loaded');
    return this.signer;
  }

  /** The public key for `kid`, re-reading the key set (at most every few seconds) on a miss. */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const known = this.publicKeys.get(kid);
    if (known) return known.key;
    if (Date.now() - this.lastRefresh > 5_000) await this.refresh();
    return this.publicKeys.get(kid)?.key;
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: [...this.publicKeys.values()].map((entry) => entry.jwk) };
  }

  /** A new key takes over signing; the old ones stay published until their tokens have expired. */
  async rotate(): Promise<string> {
    const kid = await this.createKey({ onlyIfNone: false });
    await this.refresh();
    this.audit.record({
      type: AuditEventType.SigningKeyRotated,
      outcome: AuditOutcome.Success,
      targetType: 'signing_key',
      targetId: kid,
    });
    return kid;
  }

  async refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const now = new Date();
    const rows = await this.dataSource.manager.find(SigningKey, {
      where: [{ expiresAt: IsNull() }, { expiresAt: MoreThan(now) }],
      order: { createdAt: 'DESC' },
    });
    const publicKeys = new Map<string, { key: KeyObject; jwk: PublicJwk }>();
    for (const row of rows) {
      const jwk = row.publicJwk as unknown as PublicJwk;
      publicKeys.set(row.kid, { key: toPublicKey(jwk), jwk });
    }
    this.publicKeys = publicKeys;
    this.lastRefresh = Date.now();

    const newest = rows.find((row) => row.retiredAt === null);
    if (newest && newest.kid !== this.signer?.kid) {
      const sealed = await this.dataSource.manager.findOne(SigningKey, {
        where: { kid: newest.kid },
        select: { kid: true, privateKeyEncrypted: true },
      });
      if (sealed) {
        const der = this.encryption.decrypt(sealed.privateKeyEncrypted);
        this.signer = {
          kid: newest.kid,
          privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
        };
        this.signerCreatedAt = newest.createdAt.getTime();
      }
    }
    const maxAgeMs = this.config.token.signingKeyRotationDays * 86_400_000;
    if (this.signer && maxAgeMs > 0 && Date.now() - this.signerCreatedAt > maxAgeMs) {
      this.logger.log(
        `Signing key ${this.signer.kid} is older than ${this.config.token.signingKeyRotationDays} days: rotating`,
      );
      await this.createKey({ onlyIfNone: false, onlyIfOlderThan: new Date(Date.now() - maxAgeMs) });
      this.refreshing = undefined;
      await this.load();
    }
  }

  private async createKey(options: {
    onlyIfNone: boolean;
    onlyIfOlderThan?: Date;
  }): Promise<string> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      // One writer at a time across replicas, so simultaneous first starts make one key.
      await manager.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK_KEY]);
      const active = await manager.findOne(SigningKey, {
        where: { retiredAt: IsNull() },
        order: { createdAt: 'DESC' },
      });
      if (active && options.onlyIfNone) return active.kid;
      if (active && options.onlyIfOlderThan && active.createdAt > options.onlyIfOlderThan)
        return active.kid;

      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const exported = publicKey.export({ format: 'jwk' }) as {
        kty: string;
        crv: string;
        x: string;
        y: string;
      };
      const kid = thumbprint(exported);
      const jwk: PublicJwk = {
        kty: exported.kty,
        crv: exported.crv,
        x: exported.x,
        y: exported.y,
        kid,
        use: 'sig',
        alg: 'ES256',
      };
      const now = new Date();
      // Tokens signed by the retiring key live at most TOKEN_TTL_SECONDS more.
      const publishedUntil = new Date(
        now.getTime() + (this.config.token.ttlSeconds + RETIREMENT_MARGIN_SECONDS) * 1000,
      );
      await manager.update(
        SigningKey,
        { retiredAt: IsNull() },
        { retiredAt: now, expiresAt: publishedUntil },
      );
      await manager.insert(SigningKey, {
        kid,
        alg: 'ES256',
        publicJwk: jwk as unknown as Record<string, string>,
        privateKeyEncrypted: this.encryption.encrypt(
          privateKey.export({ format: 'der', type: 'pkcs8' }),
        ),
        createdAt: now,
        retiredAt: null,
        expiresAt: null,
      });
      this.logger.log(`Created signing key ${kid}`);
      return kid;
    });
  }
}

/** RFC 7638 JWK thumbprint: a stable, content-derived `kid`. */
function thumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function toPublicKey(jwk: PublicJwk): KeyObject {
  return createPublicKey({
    key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    format: 'jwk',
  });
}
