import { hrtime } from 'node:process';

/**
 * The server's notion of "now". Tests can move it forward to expire tokens without sleeping, and
 * every timestamp is strictly increasing so that "deleted before now" checks made right after a
 * delete behave as they do in Vault.
 */
export class Clock {
  private offsetMs = 0;
  private lastNs = 0n;

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('the clock can only move forward');
    this.offsetMs += ms;
  }

  nowNs(): bigint {
    // Date.now() has millisecond precision but Vault prints nanoseconds; the sub-millisecond digits
    // come from the monotonic clock.
    const subMillisecond = hrtime.bigint() % 1_000_000n;
    let now = BigInt(Date.now() + this.offsetMs) * 1_000_000n + subMillisecond;
    if (now <= this.lastNs) now = this.lastNs + 1n;
    this.lastNs = now;
    return now;
  }
}
