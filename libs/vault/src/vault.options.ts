import { ConfigurableModuleBuilder } from '@nestjs/common';

export interface VaultModuleOptions {
  /** e.g. `http://127.0.0.1:8200`, no trailing slash. */
  addr: string;
  token: string;
  /** The KV v2 mount, e.g. `secret`. */
  mount: string;
  namespace?: string;
  /** Bound on every call to Vault. */
  timeoutMs: number;
  /** Move bcrypt-backed credentials into Vault when they next authenticate. */
  migrateOnUse: boolean;
  /** What `renew-self` asks for, in seconds. */
  renewIncrementSeconds: number;
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN: VAULT_MODULE_OPTIONS } =
  new ConfigurableModuleBuilder<VaultModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
