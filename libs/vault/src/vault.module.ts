import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { VaultClient } from './vault.client';
import { VaultHealthIndicator } from './vault.health';
import { ConfigurableModuleClass, VAULT_MODULE_OPTIONS } from './vault.options';
import { VaultTokenManager } from './vault-token.manager';

/**
 * Vault: the client, the self-renewing token and the health indicator (the secret strategy is
 * constructed by the credentials module's factory, only in Vault mode).
 * Imported only when VAULT_ADDR is set: in bcrypt mode no Vault client exists.
 */
@Module({
  imports: [TerminusModule],
  providers: [VaultClient, VaultTokenManager, VaultHealthIndicator],
  exports: [VaultClient, VaultTokenManager, VaultHealthIndicator, VAULT_MODULE_OPTIONS],
})
export class VaultModule extends ConfigurableModuleClass {}
