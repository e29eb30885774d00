import type { Principal } from './principal';

/**
 * Turns a bearer access token into a {@link Principal}, or null when the token is not (or no
 * longer) active. Implemented by the token module; the guard only knows this contract.
 */
export abstract class BearerTokenVerifier {
  abstract verifyBearer(token: string): Promise<Principal | null>;
}
