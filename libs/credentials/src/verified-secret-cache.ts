import { Injectable } from '@nestjs/common';
import { AppConfig } from '@agentidp/config';
import { Metrics } from '@agentidp/metrics';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

interface Entry {
  digest: Buffer;
  expiresAt: number;
}

const MAX_ENTRIES = 200_000;

/**
 * Remembers, for a short TTL, a keyed digest (HMAC-SHA256 under a per-process random key) of a
 * secret that was verified the slow way, bound to the credential and its secret version. A warm
 * token request then costs one HMAC instead of bcrypt or a Vault read. Nothing here can outlive a
 * change: the caller reads the credential's current version from the database on every request,
 * so a rotation, deletion or suspension on any replica misses the cache on the very next request.
 */
@Injectable()
export class VerifiedSecretCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, Entry>();
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    metrics.gauge(
      'agentidp_secret_cache_entries',
      'Entries in the verified-secret cache',
      () => this.entries.size,
    );
  }

  /** True when `secret` is the one verified for exactly this credential version. */
  matches(binding: string, secret: string): boolean {
    const entry = this.entries.get(binding);
    if (!entry || entry.expiresAt <= Date.now()) {
      if (entry) this.entries.delete(binding);
      this.misses += 1;
      return false;
    }
    const ok = timingSafeEqual(entry.digest, this.digest(binding, secret));
    if (ok) this.hits += 1;
    else this.misses += 1;
    return ok;
  }

  remember(binding: string, secret: string): void {
    const ttlMs = this.config.secrets.cacheTtlSeconds * 1000;
    if (ttlMs <= 0) return;
    this.entries.delete(binding);
    if (this.entries.size >= MAX_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(binding, {
      digest: this.digest(binding, secret),
      expiresAt: Date.now() + ttlMs,
    });
  }

  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  /** The binding of a credential's current secret: any rotation changes it. */
  static binding(credentialId: string, secretVersion: number, vaultVersion: number | null): string {
    return `${credentialId}:${secretVersion}:${vaultVersion ?? 0}`;
  }

  private digest(binding: string, secret: string): Buffer {
    return createHmac('sha256', this.key).update(binding).update('\0').update(secret).digest();
  }
}
