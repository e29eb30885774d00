import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { VaultClient } from './vault.client';
import { VaultTokenManager } from './vault-token.manager';

/** Vault is ready when it is reachable, unsealed and our token still works; reports the token TTL. */
@Injectable()
export class VaultHealthIndicator {
  constructor(
    private readonly vault: VaultClient,
    private readonly tokens: VaultTokenManager,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async check(key = 'vault'): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    try {
      const health = await this.vault.health();
      if (health.sealed || !health.initialized) {
        return indicator.down({ sealed: health.sealed, initialized: health.initialized });
      }
      const token = await this.tokens.check();
      const details = {
        sealed: false,
        tokenValid: token.valid,
        tokenTtlSeconds: token.ttlSeconds,
        tokenRenewable: token.renewable,
      };
      return token.valid ? indicator.up(details) : indicator.down(details);
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
