import { AuditEventType, AuditOutcome, type AuditRecord, type AuditService } from '@agentidp/audit';
import { AppConfig } from '@agentidp/config';
import { AbuseStore, type WindowCount } from './abuse-store';
import { ClientLockoutService } from './client-lockout.service';

const CLIENT_ID = '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b';
const OTHER_CLIENT_ID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';

/** The PostgreSQL store's semantics, in memory, on a clock the test moves. */
class InMemoryAbuseStore extends AbuseStore {
  nowMs = 1_700_000_000_000;
  readonly windows = new Map<string, { count: number; endsAt: number }>();
  readonly calls: string[] = [];

  async increment(key: string, windowSeconds: number): Promise<WindowCount> {
    this.calls.push(`increment ${key}`);
    const open = this.open(key);
    const window = open
      ? { count: open.count + 1, endsAt: open.endsAt }
      : { count: 1, endsAt: this.nowMs + windowSeconds * 1000 };
    this.windows.set(key, window);
    return { count: window.count, retryAfterSeconds: this.secondsLeft(window.endsAt) };
  }

  async peek(key: string): Promise<WindowCount | null> {
    this.calls.push(`peek ${key}`);
    const open = this.open(key);
    return open ? { count: open.count, retryAfterSeconds: this.secondsLeft(open.endsAt) } : null;
  }

  async extend(key: string, seconds: number): Promise<void> {
    this.calls.push(`extend ${key}`);
    const current = this.windows.get(key);
    if (current) current.endsAt = this.nowMs + seconds * 1000;
  }

  async clear(key: string): Promise<void> {
    this.calls.push(`clear ${key}`);
    this.windows.delete(key);
  }

  advance(seconds: number): void {
    this.nowMs += seconds * 1000;
  }

  private open(key: string): { count: number; endsAt: number } | undefined {
    const window = this.windows.get(key);
    return window && window.endsAt > this.nowMs ? window : undefined;
  }

  private secondsLeft(endsAt: number): number {
    return Math.max(1, Math.ceil((endsAt - this.nowMs) / 1000));
  }
}

class FakeAudit implements Pick<AuditService, 'record'> {
  readonly records: AuditRecord[] = [];

  record(event: AuditRecord): void {
    this.records.push(event);
  }
}

describe(ClientLockoutService.name, () => {
  let store: InMemoryAbuseStore;
  let audit: FakeAudit;

  function lockout(maxFailures: number, windowSeconds = 900): ClientLockoutService {
    const config = AppConfig.fromEnv({
      LOCKOUT_MAX_FAILURES: String(maxFailures),
      LOCKOUT_WINDOW_SECONDS: String(windowSeconds),
    });
    return new ClientLockoutService(store, config, audit as unknown as AuditService);
  }

  /** The lockout each failure answered (see `RecordedFailure.lockedForSeconds`). */
  async function fail(service: ClientLockoutService, times: number): Promise<number[]> {
    const results: number[] = [];
    for (let index = 0; index < times; index += 1) {
      results.push((await service.recordFailure(CLIENT_ID)).lockedForSeconds);
    }
    return results;
  }

  beforeEach(() => {
    store = new InMemoryAbuseStore();
    audit = new FakeAudit();
  });

  it('does not lock out below the limit and reports the failures counted', async () => {
    const service = lockout(3);
    expect(await fail(service, 2)).toEqual([0, 0]);
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 0, failures: 2 });
  });

  it('locks out at exactly the limit, for a full window', async () => {
    const service = lockout(3, 900);
    await fail(service, 2);
    store.advance(100);

    await expect(service.recordFailure(CLIENT_ID)).resolves.toEqual({
      lockedForSeconds: 900,
      wasLockedOut: false,
    });
    await expect(service.status(CLIENT_ID)).resolves.toEqual({
      lockedForSeconds: 900,
      failures: 3,
    });
  });

  it('stays locked out until the window from the locking failure ends', async () => {
    const service = lockout(3, 900);
    await fail(service, 2);
    store.advance(600);
    await fail(service, 1);

    store.advance(899);
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 1, failures: 3 });

    store.advance(1);
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 0, failures: 0 });
  });

  it('answers the time left to a failure during the lockout, and that it was locked out already', async () => {
    const service = lockout(2, 60);
    await fail(service, 2);
    store.advance(20);
    await expect(service.recordFailure(CLIENT_ID)).resolves.toEqual({
      lockedForSeconds: 40,
      wasLockedOut: true,
    });
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 40, failures: 3 });
  });

  it('counts afresh once a window without lockout has passed', async () => {
    const service = lockout(3, 60);
    await fail(service, 2);
    store.advance(60);
    expect(await fail(service, 2)).toEqual([0, 0]);
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 0, failures: 2 });
  });

  it('audits the lockout once, when it starts', async () => {
    const service = lockout(3, 900);
    await fail(service, 6);
    expect(audit.records).toEqual([
      {
        type: AuditEventType.ClientLockedOut,
        outcome: AuditOutcome.Denied,
        targetType: 'client',
        targetId: CLIENT_ID,
        details: { failures: 3, lockoutSeconds: 900 },
      },
    ]);
  });

  it('audits nothing below the limit', async () => {
    await fail(lockout(3), 2);
    expect(audit.records).toEqual([]);
  });

  it('forgets the failures after a success', async () => {
    const service = lockout(3);
    await fail(service, 2);
    await service.recordSuccess(CLIENT_ID);
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 0, failures: 0 });
    expect(await fail(service, 2)).toEqual([0, 0]);
  });

  it('counts each client on its own, whatever the case of its id', async () => {
    const service = lockout(2);
    await service.recordFailure(CLIENT_ID);
    await service.recordFailure(CLIENT_ID.toUpperCase());
    await expect(service.status(CLIENT_ID)).resolves.toMatchObject({ failures: 2 });
    await expect(service.status(OTHER_CLIENT_ID)).resolves.toEqual({
      lockedForSeconds: 0,
      failures: 0,
    });
  });

  it('bounds the key of an attacker-chosen client id', async () => {
    const service = lockout(5);
    await service.recordFailure('x'.repeat(10_000));
    expect(store.calls).toEqual([`increment lockout:${'x'.repeat(64)}`]);
  });

  describe('with LOCKOUT_MAX_FAILURES=0', () => {
    it('is disabled and never touches the store', async () => {
      const service = lockout(0);
      expect(service.enabled).toBe(false);
      expect(await fail(service, 20)).toEqual(new Array<number>(20).fill(0));
      await expect(service.status(CLIENT_ID)).resolves.toEqual({
        lockedForSeconds: 0,
        failures: 0,
      });
      await service.recordSuccess(CLIENT_ID);
      expect(store.calls).toEqual([]);
      expect(audit.records).toEqual([]);
    });
  });

  it('is enabled with a limit, and tells how long a failure stays counted', () => {
    expect(lockout(1).enabled).toBe(true);
    expect(lockout(1, 120).windowSeconds).toBe(120);
  });

  it('locks out on the first failure with a limit of 1', async () => {
    const service = lockout(1, 30);
    await expect(service.recordFailure(CLIENT_ID)).resolves.toEqual({
      lockedForSeconds: 30,
      wasLockedOut: false,
    });
    await expect(service.status(CLIENT_ID)).resolves.toEqual({ lockedForSeconds: 30, failures: 1 });
  });
});
