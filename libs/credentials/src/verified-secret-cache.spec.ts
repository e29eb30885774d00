import { AppConfig } from '@agentidp/config';
import { Metrics } from '@agentidp/metrics';
import { VerifiedSecretCache } from './verified-secret-cache';

const CREDENTIAL_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const SECRET = 'aidp_the-secret-that-was-verified-the-slow-way';
const OTHER_SECRET = 'aidp_a-different-secret-for-the-same-binding';
/** The cache's fixed size cap (MAX_ENTRIES in verified-secret-cache.ts). */
const MAX_ENTRIES = 200_000;

/**
 * The cap is a constant and 200,000 real HMACs take seconds, so tests that reach it fill the map
 * with placeholders directly; a placeholder never matches, which is all those tests need.
 */
function fillWithPlaceholders(
  cache: VerifiedSecretCache,
  from: number,
  bindingOf: (index: number) => string,
): void {
  const entries = Reflect.get(cache, 'entries') as Map<string, unknown>;
  const placeholder = { digest: Buffer.alloc(32), expiresAt: Number.MAX_SAFE_INTEGER };
  for (let index = from; index < MAX_ENTRIES; index += 1)
    entries.set(bindingOf(index), placeholder);
}

// One registry for the file: each Metrics instance starts prom-client's default collectors.
const sharedMetrics = new Metrics();

function cacheWithTtl(seconds: number): VerifiedSecretCache {
  return new VerifiedSecretCache(
    AppConfig.fromEnv({ SECRET_CACHE_TTL_SECONDS: String(seconds) }),
    sharedMetrics,
  );
}

describe(VerifiedSecretCache.name, () => {
  const binding = VerifiedSecretCache.binding(CREDENTIAL_ID, 1, null);
  let now: number;

  beforeEach(() => {
    now = 1_700_000_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  describe('binding', () => {
    it('includes the credential id, the secret version and the Vault version', () => {
      const base = VerifiedSecretCache.binding(CREDENTIAL_ID, 3, 7);
      expect(base).toContain(CREDENTIAL_ID);
      expect(VerifiedSecretCache.binding(CREDENTIAL_ID, 4, 7)).not.toBe(base);
      expect(VerifiedSecretCache.binding(CREDENTIAL_ID, 3, 8)).not.toBe(base);
      expect(VerifiedSecretCache.binding('1b4e28ba-2fa1-11d2-883f-0016d3cca427', 3, 7)).not.toBe(
        base,
      );
      expect(VerifiedSecretCache.binding(CREDENTIAL_ID, 3, 7)).toBe(base);
    });

    it('tells a bcrypt-backed version apart from a Vault-backed one', () => {
      expect(VerifiedSecretCache.binding(CREDENTIAL_ID, 1, null)).not.toBe(
        VerifiedSecretCache.binding(CREDENTIAL_ID, 1, 1),
      );
    });
  });

  it('matches a remembered secret for the same binding', () => {
    const cache = cacheWithTtl(300);
    cache.remember(binding, SECRET);
    expect(cache.matches(binding, SECRET)).toBe(true);
    expect(cache.matches(binding, SECRET)).toBe(true);
    expect(cache.stats()).toEqual({ hits: 2, misses: 0, size: 1 });
  });

  it('misses a secret that was never remembered', () => {
    const cache = cacheWithTtl(300);
    expect(cache.matches(binding, SECRET)).toBe(false);
    expect(cache.stats()).toEqual({ hits: 0, misses: 1, size: 0 });
  });

  it('misses after a rotation bumps the secret version', () => {
    const cache = cacheWithTtl(300);
    cache.remember(VerifiedSecretCache.binding(CREDENTIAL_ID, 1, 5), SECRET);
    expect(cache.matches(VerifiedSecretCache.binding(CREDENTIAL_ID, 2, 5), SECRET)).toBe(false);
  });

  it('misses when the Vault version changes', () => {
    const cache = cacheWithTtl(300);
    cache.remember(VerifiedSecretCache.binding(CREDENTIAL_ID, 1, 5), SECRET);
    expect(cache.matches(VerifiedSecretCache.binding(CREDENTIAL_ID, 1, 6), SECRET)).toBe(false);
  });

  it('misses when a bcrypt credential moves to Vault', () => {
    const cache = cacheWithTtl(300);
    cache.remember(VerifiedSecretCache.binding(CREDENTIAL_ID, 1, null), SECRET);
    expect(cache.matches(VerifiedSecretCache.binding(CREDENTIAL_ID, 1, 1), SECRET)).toBe(false);
  });

  it('misses a remembered secret presented for another credential', () => {
    const cache = cacheWithTtl(300);
    cache.remember(binding, SECRET);
    expect(
      cache.matches(
        VerifiedSecretCache.binding('1b4e28ba-2fa1-11d2-883f-0016d3cca427', 1, null),
        SECRET,
      ),
    ).toBe(false);
  });

  it('misses a different secret for the same binding', () => {
    const cache = cacheWithTtl(300);
    cache.remember(binding, SECRET);
    expect(cache.matches(binding, OTHER_SECRET)).toBe(false);
    expect(cache.matches(binding, `${SECRET} `)).toBe(false);
    expect(cache.matches(binding, SECRET.slice(0, -1))).toBe(false);
    expect(cache.matches(binding, '')).toBe(false);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 4 });
  });

  it('keeps only the latest secret remembered for a binding', () => {
    const cache = cacheWithTtl(300);
    cache.remember(binding, SECRET);
    cache.remember(binding, OTHER_SECRET);
    expect(cache.matches(binding, OTHER_SECRET)).toBe(true);
    expect(cache.matches(binding, SECRET)).toBe(false);
    expect(cache.stats().size).toBe(1);
  });

  it('matches until the TTL ends and misses from then on', () => {
    const cache = cacheWithTtl(60);
    cache.remember(binding, SECRET);
    now += 60_000 - 1;
    expect(cache.matches(binding, SECRET)).toBe(true);
    now += 1;
    expect(cache.matches(binding, SECRET)).toBe(false);
    expect(cache.stats().size).toBe(0);
  });

  it('restarts the TTL when a secret is remembered again', () => {
    const cache = cacheWithTtl(60);
    cache.remember(binding, SECRET);
    now += 50_000;
    cache.remember(binding, SECRET);
    now += 50_000;
    expect(cache.matches(binding, SECRET)).toBe(true);
  });

  it('remembers nothing when the TTL is 0', () => {
    const cache = cacheWithTtl(0);
    cache.remember(binding, SECRET);
    expect(cache.matches(binding, SECRET)).toBe(false);
    expect(cache.stats().size).toBe(0);
  });

  it('evicts the oldest entry when full', () => {
    const cache = cacheWithTtl(300);
    const bindingOf = (index: number) => VerifiedSecretCache.binding(CREDENTIAL_ID, index, null);
    cache.remember(bindingOf(0), SECRET);
    cache.remember(bindingOf(1), SECRET);
    fillWithPlaceholders(cache, 2, bindingOf);
    expect(cache.stats().size).toBe(MAX_ENTRIES);

    cache.remember(bindingOf(MAX_ENTRIES), SECRET);

    expect(cache.stats().size).toBe(MAX_ENTRIES);
    expect(cache.matches(bindingOf(0), SECRET)).toBe(false);
    expect(cache.matches(bindingOf(1), SECRET)).toBe(true);
    expect(cache.matches(bindingOf(MAX_ENTRIES), SECRET)).toBe(true);
  });

  it('does not evict another entry when a full cache re-remembers a binding it holds', () => {
    const cache = cacheWithTtl(300);
    const bindingOf = (index: number) => VerifiedSecretCache.binding(CREDENTIAL_ID, index, null);
    cache.remember(bindingOf(0), SECRET);
    cache.remember(bindingOf(1), SECRET);
    fillWithPlaceholders(cache, 2, bindingOf);

    cache.remember(bindingOf(1), OTHER_SECRET);

    expect(cache.matches(bindingOf(0), SECRET)).toBe(true);
    expect(cache.matches(bindingOf(1), OTHER_SECRET)).toBe(true);
  });

  it('reports its size as the agentidp_secret_cache_entries gauge', async () => {
    const metrics = new Metrics();
    const cache = new VerifiedSecretCache(AppConfig.fromEnv({}), metrics);
    cache.remember(binding, SECRET);
    cache.remember(VerifiedSecretCache.binding(CREDENTIAL_ID, 2, null), SECRET);
    const gauge = await metrics.registry.getSingleMetric('agentidp_secret_cache_entries')?.get();
    expect(gauge?.values.map((value) => value.value)).toEqual([2]);
  });
});
