import { DomainException, ERROR_STATUS, ErrorCode } from '@agentidp/common';
import { Principal } from './principal';
import { MANAGEMENT_SCOPES, Scope } from './scope.enum';

const SELF = '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b';
const OTHER = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';

const principal = (...scopes: string[]) => new Principal(SELF, new Set(scopes), 'jti-1');

/** The DomainException `call` throws; fails the test when it throws nothing or something else. */
function domainError(call: () => void): DomainException {
  try {
    call();
  } catch (error) {
    if (error instanceof DomainException) return error;
    throw error;
  }
  throw new Error('expected a DomainException');
}

describe(Principal.name, () => {
  describe('has', () => {
    it('holds the scopes of its token and no others', () => {
      const caller = principal(Scope.AgentsRead);
      expect(caller.has(Scope.AgentsRead)).toBe(true);
      expect(caller.has(Scope.AgentsWrite)).toBe(false);
      expect(caller.has(Scope.Admin)).toBe(false);
    });

    it('holds every scope with admin', () => {
      const admin = principal(Scope.Admin);
      for (const scope of Object.values(Scope)) expect(admin.has(scope)).toBe(true);
    });
  });

  describe('require', () => {
    it('passes with the scope', () => {
      expect(() => principal(Scope.AuditRead).require(Scope.AuditRead)).not.toThrow();
    });

    it('throws INSUFFICIENT_SCOPE (403) with an insufficient_scope challenge', () => {
      const error = domainError(() => principal(Scope.AgentsRead).require(Scope.AgentsWrite));
      expect(error.code).toBe(ErrorCode.INSUFFICIENT_SCOPE);
      expect(ERROR_STATUS[error.code]).toBe(403);
      expect(error.headers).toEqual({
        'www-authenticate': 'Bearer error="insufficient_scope", scope="agents:write"',
      });
    });

    it('does not treat a write scope as implying read', () => {
      expect(() => principal(Scope.CredentialsWrite).require(Scope.CredentialsRead)).toThrow(
        DomainException,
      );
    });
  });

  describe('requireAgentAccess', () => {
    it("reaches any agent's resources with the scope", () => {
      const caller = principal(Scope.AgentsRead);
      expect(() =>
        caller.requireAgentAccess(OTHER, Scope.AgentsRead, { selfAllowed: false }),
      ).not.toThrow();
      expect(() =>
        caller.requireAgentAccess(SELF, Scope.AgentsRead, { selfAllowed: false }),
      ).not.toThrow();
    });

    it("reaches any agent's resources with admin", () => {
      expect(() =>
        principal(Scope.Admin).requireAgentAccess(OTHER, Scope.CredentialsWrite, {
          selfAllowed: false,
        }),
      ).not.toThrow();
    });

    it('reaches its own agent without the scope where self access is allowed', () => {
      expect(() =>
        principal().requireAgentAccess(SELF, Scope.CredentialsRead, { selfAllowed: true }),
      ).not.toThrow();
    });

    it('is refused its own agent without the scope where self access is not allowed', () => {
      const error = domainError(() =>
        principal().requireAgentAccess(SELF, Scope.CredentialsWrite, { selfAllowed: false }),
      );
      expect(error.code).toBe(ErrorCode.INSUFFICIENT_SCOPE);
      expect(ERROR_STATUS[error.code]).toBe(403);
      expect(error.headers?.['www-authenticate']).toContain('scope="credentials:write"');
    });

    it.each([true, false])(
      'answers AGENT_NOT_FOUND (404) for another agent without the scope (selfAllowed %s)',
      (selfAllowed) => {
        const error = domainError(() =>
          principal(Scope.AuditRead).requireAgentAccess(OTHER, Scope.AgentsRead, { selfAllowed }),
        );
        expect(error.code).toBe(ErrorCode.AGENT_NOT_FOUND);
        expect(ERROR_STATUS[error.code]).toBe(404);
        expect(error.headers).toBeUndefined();
      },
    );
  });

  describe('requireGrantable', () => {
    it('lets a holder of management scopes grant those scopes', () => {
      expect(() =>
        principal(Scope.AgentsWrite, Scope.AuditRead).requireGrantable([
          Scope.AgentsWrite,
          Scope.AuditRead,
        ]),
      ).not.toThrow();
    });

    it('refuses to grant a management scope the caller does not hold', () => {
      const caller = principal(Scope.AgentsWrite);
      for (const scope of MANAGEMENT_SCOPES.filter((item) => item !== String(Scope.AgentsWrite))) {
        const error = domainError(() => caller.requireGrantable([Scope.AgentsWrite, scope]));
        expect(error.code).toBe(ErrorCode.INSUFFICIENT_SCOPE);
        expect(error.headers?.['www-authenticate']).toContain(`scope="${scope}"`);
      }
    });

    it('never lets agents:write hand out admin', () => {
      expect(() => principal(Scope.AgentsWrite).requireGrantable([Scope.Admin])).toThrow(
        DomainException,
      );
    });

    it('lets anyone grant resource-server scopes', () => {
      expect(() =>
        principal(Scope.AgentsWrite).requireGrantable(['payments:read', 'orders:write', 'x']),
      ).not.toThrow();
      expect(() => principal().requireGrantable([])).not.toThrow();
    });

    it('lets admin grant every scope', () => {
      expect(() =>
        principal(Scope.Admin).requireGrantable([...MANAGEMENT_SCOPES, 'payments:read']),
      ).not.toThrow();
    });
  });
});
