import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { VaultConfig } from '@agentidp/config';

/** The module takes Vault's validated configuration as is. */
export type VaultModuleOptions = VaultConfig;

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN: VAULT_MODULE_OPTIONS } =
  new ConfigurableModuleBuilder<VaultModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
