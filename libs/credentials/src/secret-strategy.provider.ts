import type { FactoryProvider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppConfig } from '@agentidp/config';
import { BcryptSecretStrategy } from './bcrypt-secret.strategy';
import { SecretStrategy } from './secret-strategy';

/**
 * Picks the secret store from configuration: Vault when VAULT_ADDR is set, bcrypt otherwise. Only
 * the chosen strategy is constructed; in bcrypt mode no Vault client exists at all.
 * `vaultStrategy` is given by the module that owns Vault, so this library does not depend on it.
 */
export function secretStrategyProvider(
  vaultStrategy?: Type<SecretStrategy>,
): FactoryProvider<SecretStrategy> {
  return {
    provide: SecretStrategy,
    inject: [AppConfig, ModuleRef, BcryptSecretStrategy],
    useFactory: async (
      config: AppConfig,
      moduleRef: ModuleRef,
      bcrypt: BcryptSecretStrategy,
    ): Promise<SecretStrategy> => {
      const kind = config.secretStore;
      switch (kind) {
        case 'bcrypt':
          return bcrypt;
        case 'vault':
          if (!vaultStrategy)
            throw new Error('VAULT_ADDR is set but this build has no Vault secret strategy');
          return moduleRef.create(vaultStrategy);
        default: {
          const unknown: never = kind;
          throw new Error(`Unknown secret store "${String(unknown)}": check VAULT_ADDR`);
        }
      }
    },
  };
}
