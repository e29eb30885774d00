import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { Metrics } from '@agentidp/metrics';
import { VaultClient, type TokenLookup } from './vault.client';
import { VAULT_MODULE_OPTIONS, type VaultModuleOptions } from './vault.options';

const RETRY_MS = 30_000;
/** Warn when a token that cannot be renewed has less than this left. */
const WARN_BELOW_SECONDS = 7 * 24 * 3600;

export interface TokenState {
  valid: boolean;
  /** Seconds left; null for a token that never expires (root/dev). */
  ttlSeconds: number | null;
  renewable: boolean;
  checkedAt: Date;
}

/**
 * Keeps AgentIdP's own Vault token alive: looked up at start, renewed with `renew-self` when half of
 * its TTL is gone, so operators need no cron job. A token that cannot be renewed and nears expiry
 * gets a clear warning.
 */
@Injectable()
export class VaultTokenManager implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(VaultTokenManager.name);
  private timer?: NodeJS.Timeout;
  private state?: TokenState;

  constructor(
    private readonly vault: VaultClient,
    @Inject(VAULT_MODULE_OPTIONS) private readonly options: VaultModuleOptions,
    metrics: Metrics,
  ) {
    metrics.gauge(
      'agentidp_vault_token_ttl_seconds',
      "Seconds left on AgentIdP's own Vault token (absent for a token that never expires)",
      () => this.state?.ttlSeconds ?? undefined,
    );
  }

  async onModuleInit(): Promise<void> {
    // Vault being down at start must not stop the server: bcrypt-backed credentials still work.
    await this.check();
  }

  onModuleDestroy(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  current(): TokenState | undefined {
    return this.state;
  }

  /** Looks the token up, renews it when due, and schedules the next check. */
  async check(): Promise<TokenState> {
    if (this.timer) clearTimeout(this.timer);
    let next = RETRY_MS;
    try {
      let lookup = await this.vault.lookupSelf();
      if (this.dueForRenewal(lookup)) {
        const lease = await this.vault.renewSelf(this.options.renewIncrementSeconds);
        this.logger.log(`Renewed the Vault token: ${lease} s left`);
        lookup = await this.vault.lookupSelf();
      }
      this.state = this.toState(lookup, true);
      this.warnIfExpiring(lookup);
      next =
        lookup.ttl > 0 ? Math.max(5_000, Math.min((lookup.ttl * 1000) / 2, 3_600_000)) : 3_600_000;
    } catch (error) {
      this.state = {
        valid: false,
        ttlSeconds: this.state?.ttlSeconds ?? null,
        renewable: false,
        checkedAt: new Date(),
      };
      this.logger.warn(`Vault token check failed: ${(error as Error).message}`);
    }
    this.timer = setTimeout(() => void this.check(), next);
    this.timer.unref();
    return this.state;
  }

  private dueForRenewal(lookup: TokenLookup): boolean {
    if (!lookup.renewable || lookup.ttl <= 0) return false;
    const full = lookup.creationTtl > 0 ? lookup.creationTtl : this.options.renewIncrementSeconds;
    return lookup.ttl <= full / 2;
  }

  private warnIfExpiring(lookup: TokenLookup): void {
    if (lookup.ttl > 0 && !lookup.renewable && lookup.ttl < WARN_BELOW_SECONDS) {
      this.logger.warn(
        `The Vault token cannot be renewed and expires in ${Math.round(lookup.ttl / 3600)} h: ` +
          'issue a new VAULT_TOKEN before then, or Vault-backed credentials stop working',
      );
    }
  }

  private toState(lookup: TokenLookup, valid: boolean): TokenState {
    return {
      valid,
      ttlSeconds: lookup.ttl > 0 ? lookup.ttl : null,
      renewable: lookup.renewable,
      checkedAt: new Date(),
    };
  }
}
