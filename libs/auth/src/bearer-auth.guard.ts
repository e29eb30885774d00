import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainException, ErrorCode } from '@agentidp/common';
import type { FastifyRequest } from 'fastify';
import { BearerTokenVerifier } from './bearer-token-verifier';
import type { Principal } from './principal';
import { IS_PUBLIC } from './public.decorator';

const CHALLENGE = 'Bearer realm="agentidp"';

/** Every management route needs an active access token issued by this server (RFC 6750). */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: BearerTokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;

    const request = context.switchToHttp().getRequest<FastifyRequest & { principal?: Principal }>();
    const header = request.headers.authorization;
    const match =
      typeof header === 'string' ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header) : null;
    if (!match) {
      throw new DomainException(
        ErrorCode.UNAUTHORIZED,
        'A bearer access token is required',
        undefined,
        {
          'www-authenticate': CHALLENGE,
        },
      );
    }
    const principal = await this.verifier.verifyBearer(match[1]);
    if (!principal) {
      throw new DomainException(
        ErrorCode.UNAUTHORIZED,
        'The access token is invalid, expired or revoked',
        undefined,
        { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` },
      );
    }
    request.principal = principal;
    return true;
  }
}
