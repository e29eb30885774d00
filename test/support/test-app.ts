import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig } from '@agentidp/config';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../apps/agentidp/src/app.factory';
import { createTestDatabase, type TestDatabase } from './test-database';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  http: ReturnType<typeof request>;
  baseUrl: string;
  database: TestDatabase;
  dataSource: DataSource;
  admin: { clientId: string; clientSecret: string };
  /** A fresh admin access token. */
  adminToken(): Promise<string>;
  restart(extraEnv?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/** Fast bcrypt and quiet logs for tests; everything else as in production. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'error',
  BCRYPT_COST: '4',
  HOST: '127.0.0.1',
  PORT: '0',
  RATE_LIMIT_TOKEN_PER_MINUTE: '0',
  RATE_LIMIT_API_PER_MINUTE: '0',
  SIGNING_KEYS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
};

/**
 * Boots the real application (same factory as `main.ts`) on a loopback port with its own database.
 * The admin credential is pinned through BOOTSTRAP_ADMIN_* so tests can authenticate.
 */
export async function startTestApp(
  extraEnv: Record<string, string> = {},
  existing?: TestDatabase,
): Promise<TestApp> {
  const database = existing ?? (await createTestDatabase());
  // Replicas of one deployment share their environment: an admin pinned in `extraEnv` is kept.
  const admin = {
    clientId: extraEnv.BOOTSTRAP_ADMIN_CLIENT_ID ?? randomUUID(),
    clientSecret:
      extraEnv.BOOTSTRAP_ADMIN_CLIENT_SECRET ?? `admin-secret-${randomBytes(24).toString('hex')}`,
  };
  let env: Record<string, string> = {
    ...TEST_ENV,
    ...database.env,
    BOOTSTRAP_ADMIN_CLIENT_ID: admin.clientId,
    BOOTSTRAP_ADMIN_CLIENT_SECRET: admin.clientSecret,
    ...extraEnv,
  };

  const boot = async () => {
    const config = AppConfig.fromEnv(env);
    const app = await createApp(config);
    await app.listen({ port: config.http.port, host: '127.0.0.1' });
    const address = app.getHttpServer().address() as { port: number };
    return { app, config, baseUrl: `http://127.0.0.1:${address.port}` };
  };

  let booted = await boot();
  const testApp: TestApp = {
    ...booted,
    http: request(booted.baseUrl),
    database,
    dataSource: booted.app.get(DataSource),
    admin,
    async adminToken() {
      const response = await request(testApp.baseUrl)
        .post('/api/v1/token')
        .auth(admin.clientId, admin.clientSecret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      if (response.status !== 200)
        throw new Error(`admin token: ${response.status} ${response.text}`);
      return (response.body as { access_token: string }).access_token;
    },
    async restart(nextEnv = {}) {
      await testApp.app.close();
      env = { ...env, ...nextEnv };
      booted = await boot();
      Object.assign(testApp, booted, {
        http: request(booted.baseUrl),
        dataSource: booted.app.get(DataSource),
      });
    },
    async close() {
      await testApp.app.close();
      if (!existing) await database.drop();
    },
  };
  return testApp;
}
