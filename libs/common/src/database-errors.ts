const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection is not established',
  'terminating connection',
];

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
}

/** True when `error` means PostgreSQL is unreachable (not a bad query): the caller answers 503. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const candidate = error as ErrorLike;
  if (typeof candidate.code === 'string' && CONNECTION_ERROR_CODES.has(candidate.code)) return true;
  if (
    typeof candidate.message === 'string' &&
    CONNECTION_MESSAGES.some((text) => (candidate.message as string).includes(text))
  ) {
    return true;
  }
  return (
    isDatabaseUnavailable(candidate.driverError, depth + 1) ||
    isDatabaseUnavailable(candidate.cause, depth + 1)
  );
}

/** True for a PostgreSQL unique violation (23505). */
export function isUniqueViolation(error: unknown): boolean {
  const candidate = error as ErrorLike | undefined;
  const driver = candidate?.driverError as ErrorLike | undefined;
  return candidate?.code === '23505' || driver?.code === '23505';
}

/**
 * True when PostgreSQL refused the data itself (SQLSTATE class 22, data exception, or 23,
 * integrity constraint): sending the same rows again fails again. Anything else (timeouts,
 * deadlocks, serialization failures, a read-only standby during failover, lost connections) may
 * pass on a retry.
 */
export function isDataRefusal(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const candidate = error as ErrorLike;
  if (typeof candidate.code === 'string' && /^2[23][0-9A-Z]{3}$/.test(candidate.code)) return true;
  return (
    isDataRefusal(candidate.driverError, depth + 1) || isDataRefusal(candidate.cause, depth + 1)
  );
}
