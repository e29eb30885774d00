import { Injectable } from '@nestjs/common';
import type { HealthIndicatorFunction } from '@nestjs/terminus';
import { ReadinessCheck } from '@agentidp/health';
import { VaultHealthIndicator } from './vault.health';

/** Adds Vault to `/health/ready` when Vault is configured. */
@Injectable()
export class VaultReadinessCheck extends ReadinessCheck {
  constructor(private readonly vault: VaultHealthIndicator) {
    super();
  }

  override indicators(): HealthIndicatorFunction[] {
    return [() => this.vault.check('vault')];
  }
}
