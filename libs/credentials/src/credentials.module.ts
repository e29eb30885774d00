import { Module, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BcryptHasher } from './bcrypt-hasher';
import { ClientAuthenticator } from './client-authenticator';
import { Credential } from './credential.entity';
import { CredentialsController } from './credentials.controller';
import { CredentialsService } from './credentials.service';
import type { SecretStrategy } from './secret-strategy';
import { secretStrategyProvider } from './secret-strategy.provider';
import { VerifiedSecretCache } from './verified-secret-cache';

export interface CredentialsModuleOptions {
  /** The Vault strategy class and the module providing what it injects (VaultModule). */
  vault?: { strategy: Type<SecretStrategy>; imports: ModuleMetadata['imports'] };
}

@Module({})
export class CredentialsModule {
  static forRoot(options: CredentialsModuleOptions = {}): DynamicModule {
    return {
      module: CredentialsModule,
      global: true,
      imports: [TypeOrmModule.forFeature([Credential]), ...(options.vault?.imports ?? [])],
      controllers: [CredentialsController],
      providers: [
        BcryptHasher,
        VerifiedSecretCache,
        secretStrategyProvider(options.vault?.strategy),
        CredentialsService,
        ClientAuthenticator,
      ],
      exports: [CredentialsService, ClientAuthenticator, VerifiedSecretCache, BcryptHasher],
    };
  }
}
