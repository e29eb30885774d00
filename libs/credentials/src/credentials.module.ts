import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BcryptHasher } from './bcrypt-hasher';
import { BcryptSecretStrategy } from './bcrypt-secret.strategy';
import { ClientAuthenticator } from './client-authenticator';
import { Credential } from './credential.entity';
import { CredentialsController } from './credentials.controller';
import { CredentialsService } from './credentials.service';
import { SecretStrategy } from './secret-strategy';
import { secretStrategyProvider } from './secret-strategy.provider';
import { VerifiedSecretCache } from './verified-secret-cache';

export interface CredentialsModuleOptions {
  /** The Vault strategy, in Vault mode; its dependencies come from the (global) VaultModule. */
  vaultStrategy?: Type<SecretStrategy>;
}

@Module({})
export class CredentialsModule {
  static forRoot(options: CredentialsModuleOptions = {}): DynamicModule {
    return {
      module: CredentialsModule,
      global: true,
      imports: [TypeOrmModule.forFeature([Credential])],
      controllers: [CredentialsController],
      providers: [
        BcryptHasher,
        VerifiedSecretCache,
        BcryptSecretStrategy,
        secretStrategyProvider(options.vaultStrategy),
        CredentialsService,
        ClientAuthenticator,
      ],
      exports: [
        CredentialsService,
        ClientAuthenticator,
        VerifiedSecretCache,
        BcryptHasher,
        BcryptSecretStrategy,
        SecretStrategy,
      ],
    };
  }
}
