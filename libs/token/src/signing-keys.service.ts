import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { PostgresListener } from '@agentidp/common';
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
/**
 * Notified in the transaction that changes the key set, so every replica re-reads it as soon as
 * the change commits (the periodic re-read remains, for notifications lost to a broken connection).
 */
const KEYS_CHANNEL = 'agentidp_signing_keys';
/** How long resource servers and HTTP caches may keep the key set (the JWKS response's max-age). */
const JWKS_MAX_AGE_SECONDS = 300;
/**
 * A new key is published at once but signs only this long after it was created: by then every
 * replica has re-read the key set and every cached copy of the JWKS has expired, so no resource
 * server meets a `kid` that the key set it can fetch does not hold.
 */
export const SIGNING_KEY_PUBLISH_AHEAD_SECONDS = REFRESH_INTERVAL_MS / 1000 + JWKS_MAX_AGE_SECONDS;
const KEYS_LOCK_KEY = '7017851454063191410';
/** Clock skew allowed to resource servers when a retired key leaves the JWKS. */
const RETIREMENT_MARGIN_SECONDS = 300;

/**
 * ES256 signing keys, shared by every replica through the database (private keys encrypted at
 * rest). Every unexpired key is published. The newest key created at least
 * SIGNING_KEY_PUBLISH_AHEAD_SECONDS ago signs (a deployment's first keys sign at once, the oldest
 * first), so every replica signs with the same key and publishes it before anyone signs with it;
 * superseded keys stay published until every token they signed expired. Replicas re-read the set
 * when another one changes it (PostgreSQL `NOTIFY`), periodically, and whenever they meet a `kid`
 * they do not know yet.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SigningKeysService.name);
  private signer?: ActiveSigner;
  private publicKeys = new Map<string, { key: KeyObject; jwk: PublicJwk }>();
  private lastRefresh = 0;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private listener?: PostgresListener;

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
      this.refresh().catch(this.refreshFailed);
    }, REFRESH_INTERVAL_MS);
    this.timer.unref();
    if (!this.config.embeddedDatabase) {
      this.listener = new PostgresListener(
        this.dataSource,
        KEYS_CHANNEL,
        () => void this.reloadAfterChange().catch(this.refreshFailed),
        this.logger,
      );
      await this.listener.start();
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.listener?.close();
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

  /**
   * A new key, published at once, takes over signing SIGNING_KEY_PUBLISH_AHEAD_SECONDS later; the
   * old ones stay published until their tokens have expired.
   *
   * `compromised`: for a leaked key. The new key signs at once (its `created_at` is set
   * SIGNING_KEY_PUBLISH_AHEAD_SECONDS back, so every replica's signer choice takes it on its next
   * re-read: at once on PostgreSQL, where the change is notified, within 30 s should the
   * notification be lost) and every older key leaves the JWKS now: the tokens they signed stop
   * verifying on every replica as it re-reads, at resource servers when their cached key set
   * expires.
   */
  async rotate(options: { compromised?: boolean } = {}): Promise<string> {
    const compromised = options.compromised === true;
    const kid = await this.createKey({ onlyIfNone: false, withdrawOthers: compromised });
    // A re-read already running saw the rows before this rotation: it cannot put a withdrawn key
    // back afterwards.
    await this.reloadAfterChange();
    this.audit.record({
      type: AuditEventType.SigningKeyRotated,
      outcome: AuditOutcome.Success,
      targetType: 'signing_key',
      targetId: kid,
      details: { compromised },
    });
    return kid;
  }

  /**
   * A re-read that starts after a change committed: one already running may have read the rows
   * before it, so it is let finish and the set read again.
   */
  private async reloadAfterChange(): Promise<void> {
    await this.refreshing?.catch(() => undefined);
    await this.refresh();
  }

  private readonly refreshFailed = (error: Error): void => {
    this.logger.warn(`Signing key refresh failed: ${error.message}`);
  };

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

    // Every replica picks the same key from the same rows: the newest one published long enough
    // (rows are newest first), else the oldest one there is (a deployment's first keys).
    const publishedBefore = now.getTime() - SIGNING_KEY_PUBLISH_AHEAD_SECONDS * 1000;
    const signing =
      rows.find((row) => row.createdAt.getTime() <= publishedBefore) ?? rows[rows.length - 1];
    if (signing && signing.kid !== this.signer?.kid) {
      const sealed = await this.dataSource.manager.findOne(SigningKey, {
        where: { kid: signing.kid },
        select: { kid: true, privateKeyEncrypted: true },
      });
      if (sealed) {
        const der = this.encryption.decrypt(sealed.privateKeyEncrypted);
        this.signer = {
          kid: signing.kid,
          privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
        };
      }
    }
    // The age of the newest key, not of the signer: a successor waiting to sign is a rotation done.
    const newest = rows[0];
    const maxAgeMs = this.config.token.signingKeyRotationDays * 86_400_000;
    if (newest && maxAgeMs > 0 && Date.now() - newest.createdAt.getTime() > maxAgeMs) {
      this.logger.log(
        `Signing key ${newest.kid} is older than ${this.config.token.signingKeyRotationDays} days: rotating`,
      );
      await this.createKey({ onlyIfNone: false, onlyIfOlderThan: new Date(Date.now() - maxAgeMs) });
      this.refreshing = undefined;
      await this.load();
    }
  }

  private async createKey(options: {
    onlyIfNone: boolean;
    onlyIfOlderThan?: Date;
    withdrawOthers?: boolean;
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
      // The retiring key signs until its successor does (SIGNING_KEY_PUBLISH_AHEAD_SECONDS), and
      // the tokens it signed live TOKEN_TTL_SECONDS more.
      const publishedUntil = new Date(
        now.getTime() +
          (SIGNING_KEY_PUBLISH_AHEAD_SECONDS +
            this.config.token.ttlSeconds +
            RETIREMENT_MARGIN_SECONDS) *
            1000,
      );
      if (options.withdrawOthers) {
        await manager.query(
          `UPDATE signing_keys SET retired_at = COALESCE(retired_at, $1), expires_at = $1
            WHERE expires_at IS NULL OR expires_at > $1`,
          [now],
        );
      } else {
        await manager.update(
          SigningKey,
          { retiredAt: IsNull() },
          { retiredAt: now, expiresAt: publishedUntil },
        );
      }
      await manager.insert(SigningKey, {
        kid,
        alg: 'ES256',
        publicJwk: jwk as unknown as Record<string, string>,
        privateKeyEncrypted: this.encryption.encrypt(
          privateKey.export({ format: 'der', type: 'pkcs8' }),
        ),
        createdAt: options.withdrawOthers
          ? new Date(now.getTime() - SIGNING_KEY_PUBLISH_AHEAD_SECONDS * 1000)
          : now,
        retiredAt: null,
        expiresAt: null,
      });
      // Delivered when the transaction commits.
      await manager.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, kid]);
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
