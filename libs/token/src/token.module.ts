import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BearerTokenVerifier } from '@agentidp/auth';
import { AccessTokenService } from './access-token.service';
import { KeyEncryption } from './key-encryption';
import { RevokedToken } from './revoked-token.entity';
import { SigningKey } from './signing-key.entity';
import { SigningKeysService } from './signing-keys.service';
import { TokenController } from './token.controller';
import { TokenEndpoint } from './token.endpoint';
import { TokenService } from './token.service';
import { WellKnownController } from './well-known.controller';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKey, RevokedToken])],
  controllers: [TokenController, WellKnownController],
  providers: [
    KeyEncryption,
    SigningKeysService,
    AccessTokenService,
    TokenService,
    TokenEndpoint,
    { provide: BearerTokenVerifier, useExisting: AccessTokenService },
  ],
  exports: [AccessTokenService, SigningKeysService, BearerTokenVerifier, TokenEndpoint],
})
export class TokenModule {}
