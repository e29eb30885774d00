import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { DomainException, ErrorCode } from '@agentidp/common';
import { MANAGEMENT_SCOPES, Scope } from './scope.enum';

/** Who is calling: the agent a verified access token was issued to, and the token's scopes. */
export class Principal {
  constructor(
    readonly agentId: string,
    readonly scopes: ReadonlySet<string>,
    readonly tokenId: string,
  ) {}

  has(scope: Scope): boolean {
    return this.scopes.has(Scope.Admin) || this.scopes.has(scope);
  }

  /** Fails with 403 unless the token carries `scope` (or `admin`). */
  require(scope: Scope): void {
    if (!this.has(scope)) throw insufficientScope(scope);
  }

  /**
   * Management scopes can only be handed out by a caller that holds them: `agents:write` alone must
   * not be a path to `admin`. Other scopes (those of resource servers) are the operator's to grant.
   */
  requireGrantable(scopes: string[]): void {
    for (const scope of scopes) {
      if (MANAGEMENT_SCOPES.includes(scope) && !this.has(scope as Scope))
        throw insufficientScope(scope as Scope);
    }
  }

  /**
   * Access to one agent's resources. With `scope` anything goes; without it, the caller reaches only
   * its own agent and only where `selfAllowed`; another agent's resources answer 404, so ids cannot
   * be probed.
   */
  requireAgentAccess(agentId: string, scope: Scope, options: { selfAllowed: boolean }): void {
    if (this.has(scope)) return;
    if (agentId !== this.agentId) {
      throw new DomainException(ErrorCode.AGENT_NOT_FOUND, 'Agent not found');
    }
    if (!options.selfAllowed) throw insufficientScope(scope);
  }
}

function insufficientScope(scope: Scope): DomainException {
  return new DomainException(
    ErrorCode.INSUFFICIENT_SCOPE,
    `This call needs the ${scope} scope`,
    undefined,
    { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
  );
}

/** The caller, as the bearer guard established it. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => {
    const request = context.switchToHttp().getRequest<{ principal?: Principal }>();
    if (!request.principal) {
      throw new DomainException(ErrorCode.UNAUTHORIZED, 'A bearer access token is required');
    }
    return request.principal;
  },
);
