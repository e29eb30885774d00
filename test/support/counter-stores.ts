import { randomBytes } from 'node:crypto';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAvailable(): Promise<boolean> {
  const { default: Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
  });
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * The two places abuse counters can live, for `describe.each`: each entry gives the environment
 * that selects it, or null to skip (Redis unreachable outside CI; under CI that is a failure).
 */
export const COUNTER_STORES: [string, () => Promise<Record<string, string> | null>][] = [
  ['PostgreSQL', async () => ({})],
  [
    'Redis',
    async () => {
      if (await redisAvailable()) {
        return { REDIS_URL, REDIS_KEY_PREFIX: `agentidp-test-${randomBytes(4).toString('hex')}:` };
      }
      // CI starts Redis: there, a missing Redis is a failure, not a skip.
      if (process.env.CI) throw new Error(`Redis is not reachable at ${REDIS_URL}`);
      return null;
    },
  ],
];
