import { Injectable } from '@nestjs/common';
import type { HealthIndicatorFunction } from '@nestjs/terminus';

/**
 * Further readiness checks beyond the database (Vault, when it is configured). The default has none;
 * a module that adds a dependency overrides this provider.
 */
@Injectable()
export class ReadinessCheck {
  indicators(): HealthIndicatorFunction[] {
    return [];
  }
}
