import { Logger } from '@nestjs/common';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { postgresPool } from '@agentidp/common';
import { createAgent, createCredential, requestToken, tokenFor } from './support/api';
import { eventually } from './support/eventually';
import { startTestApp, type TestApp } from './support/test-app';
import { VaultTestServer } from './vault-server/vault-test-server';

describe('secret hygiene, request ids and the audit trail', () => {
  let vault: VaultTestServer;
  let t: TestApp;
  let admin: string;
  let vaultToken: string;
  const output: string[] = [];
  const bodies: string[] = [];
  const secrets: string[] = [];

  beforeAll(async () => {
    vault = await VaultTestServer.start();
    vaultToken = vault.createToken({ policies: ['root'], ttlSeconds: 3600, renewable: true });
    const capture =
      () =>
      (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
        output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        const callback = rest.find((item) => typeof item === 'function') as
          (() => void) | undefined;
        callback?.();
        return true;
      };
    jest.spyOn(process.stdout, 'write').mockImplementation(capture());
    jest.spyOn(process.stderr, 'write').mockImplementation(capture());
    t = await startTestApp({
      LOG_LEVEL: 'verbose',
      VAULT_ADDR: vault.url,
      VAULT_TOKEN: vaultToken,
    });
    admin = await t.adminToken();
    secrets.push(
      t.admin.clientSecret,
      vaultToken,
      t.config.token.encryptionKey?.toString('base64') ?? '',
    );
  });

  afterAll(async () => {
    await t.close();
    await vault.stop();
    jest.restoreAllMocks();
  });

  it('never writes a secret, hash, Vault token or private key to a log line or an error body', async () => {
    const agent = await createAgent(t, admin, { allowedScopes: ['x'] });
    const credential = await createCredential(t, admin, agent.id);
    secrets.push(credential.clientSecret);
    await tokenFor(t, credential.clientId, credential.clientSecret);
    const wrong = await requestToken(t, credential.clientId, `${credential.clientSecret}x`);
    bodies.push(wrong.text);
    const rotated = await t.http
      .post(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`)
      .set('authorization', `Bearer ${admin}`);
    secrets.push(rotated.body.clientSecret as string);
    for (const response of [
      await requestToken(t, credential.clientId, credential.clientSecret),
      await t.http
        .post('/api/v1/agents')
        .set('authorization', `Bearer ${admin}`)
        .set('content-type', 'application/json')
        .send(`{"name":"${credential.clientSecret}",`),
      await t.http
        .post('/api/v1/agents')
        .set('authorization', `Bearer ${admin}`)
        .send({ name: 'x', clientSecret: credential.clientSecret }),
      await t.http.get('/api/v1/agents').set('authorization', `Bearer ${credential.clientSecret}`),
      await t.http
        .get(`/api/v1/agents/${agent.id}/credentials`)
        .set('authorization', `Bearer ${admin}`),
    ]) {
      bodies.push(response.text);
    }
    vault.seal();
    const failing = await t.http
      .post(`/api/v1/agents/${agent.id}/credentials`)
      .set('authorization', `Bearer ${admin}`);
    bodies.push(failing.text);
    vault.unseal();
    await t.http
      .delete(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`)
      .set('authorization', `Bearer ${admin}`);
    await t.app.get(AuditService).flush();
    const events = await t.http
      .get('/api/v1/audit-events')
      .query({ limit: 100 })
      .set('authorization', `Bearer ${admin}`);
    bodies.push(events.text);

    const hashes = await t.dataSource.query<{ secret_hash: string }[]>(
      'SELECT secret_hash FROM credentials WHERE secret_hash IS NOT NULL',
    );
    const keys = await t.dataSource.query<{ private_key_encrypted: Buffer }[]>(
      'SELECT private_key_encrypted FROM signing_keys',
    );
    const forbidden = [
      ...secrets.filter(Boolean),
      ...hashes.map((row) => row.secret_hash),
      ...keys.map((row) => row.private_key_encrypted.toString('base64')),
      'PRIVATE KEY',
      '$2b$',
    ];
    const logs = output.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const value of forbidden) {
      expect({ value: value.slice(0, 12), inLogs: logs.includes(value) }).toEqual({
        value: value.slice(0, 12),
        inLogs: false,
      });
      for (const body of bodies) expect(body.includes(value)).toBe(false);
    }
  });

  it('puts the request id in every error body and on request-scoped log lines', async () => {
    output.length = 0;
    const response = await t.http
      .get('/api/v1/agents/00000000-0000-4000-8000-000000000000')
      .set('authorization', `Bearer ${admin}`)
      .set('x-request-id', 'trace-abc-123');
    expect(response.headers['x-request-id']).toBe('trace-abc-123');
    expect(response.body).toMatchObject({ code: 'AGENT_NOT_FOUND', requestId: 'trace-abc-123' });
    const lines = output
      .join('')
      .split('\n')
      .filter((line) => line.includes('"context":"HTTP"'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('requestId');
  });

  it('records the request id, client address and acting agent with each event of a request', async () => {
    const agent = await t.http
      .post('/api/v1/agents')
      .set('authorization', `Bearer ${admin}`)
      .set('x-request-id', 'audit-create-1')
      .send({ name: 'audited' });
    expect(agent.status).toBe(201);
    const agentId = (agent.body as { id: string }).id;
    const credential = await createCredential(t, admin, agentId);
    const issued = await requestToken(t, credential.clientId, credential.clientSecret).set(
      'x-request-id',
      'audit-grant-1',
    );
    expect(issued.status).toBe(200);
    const denied = await requestToken(t, agentId, 'aidp_no').set('x-request-id', 'audit-deny-1');
    expect(denied.status).toBe(401);
    await t.app.get(AuditService).flush();

    const events = await t.dataSource.query<
      {
        type: string;
        request_id: string;
        client_ip: string | null;
        actor_agent_id: string | null;
      }[]
    >(
      `SELECT type, request_id, client_ip, actor_agent_id FROM audit_events
        WHERE request_id IN ('audit-create-1', 'audit-grant-1', 'audit-deny-1') ORDER BY id`,
    );
    expect(events).toEqual([
      {
        type: AuditEventType.AgentCreated,
        request_id: 'audit-create-1',
        client_ip: expect.any(String) as string,
        actor_agent_id: t.admin.clientId,
      },
      {
        type: AuditEventType.TokenIssued,
        request_id: 'audit-grant-1',
        client_ip: expect.any(String) as string,
        actor_agent_id: agentId,
      },
      {
        type: AuditEventType.TokenDenied,
        request_id: 'audit-deny-1',
        client_ip: expect.any(String) as string,
        actor_agent_id: null,
      },
    ]);
  });

  it('sends the security headers on success, on errors and on the token endpoint', async () => {
    const credential = await createCredential(t, admin, (await createAgent(t, admin)).id);
    const responses = [
      await t.http.get('/health'),
      await t.http.get('/api/v1/agents/not-a-uuid').set('authorization', `Bearer ${admin}`),
      await t.http.post('/api/v1/agents').set('content-type', 'text/plain').send('x'),
      await requestToken(t, credential.clientId, credential.clientSecret),
      await requestToken(t, credential.clientId, 'aidp_wrong'),
    ];
    for (const response of responses) {
      expect(response.headers).toMatchObject({
        'content-security-policy': "default-src 'none';frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-resource-policy': 'same-origin',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
      });
      expect(response.headers).not.toHaveProperty('x-powered-by');
    }
  });

  it('keeps its prepared statements working on a connection opened after a broken one', async () => {
    const credential = await createCredential(t, admin, (await createAgent(t, admin)).id);
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
    const audit = t.app.get(AuditService);
    await audit.flush();
    // Break one pooled connection: the pool opens a new one (on PGlite, in the same session, which
    // still holds the statements the old connection named).
    const pool = postgresPool(t.dataSource);
    const client = await pool!.connect();
    client.release(new Error('broken on purpose'));

    const again = await requestToken(t, credential.clientId, credential.clientSecret);
    expect(again.status).toBe(200);
    audit.record({
      type: AuditEventType.AgentUpdated,
      outcome: AuditOutcome.Success,
      targetType: 'agent',
      targetId: `after-reconnect-${Date.now()}`,
    });
    await audit.flush();
    const rows = await t.dataSource.query<unknown[]>(
      `SELECT id FROM audit_events WHERE request_id = $1`,
      [again.headers['x-request-id']],
    );
    expect(rows).toHaveLength(1);
  });

  it("keeps auditing after the audit writer's own connection is cut", async () => {
    const audit = t.app.get(AuditService);
    const marker = `cut-${Date.now()}`;
    const record = (n: number) =>
      audit.record({
        type: AuditEventType.AgentUpdated,
        outcome: AuditOutcome.Success,
        targetType: 'agent',
        targetId: `${marker}-${n}`,
      });
    record(1);
    await audit.flush();
    // On a PostgreSQL server the writer thread holds a connection of its own (the embedded
    // database's one connection is the pool's, which the test above already breaks).
    const cut = await t.dataSource.query<unknown[]>(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'agentidp-audit' AND datname = current_database()`,
    );
    expect(cut).toHaveLength(t.config.embeddedDatabase ? 0 : 1);
    record(2);
    // A write that meets the dead connection keeps its events for the next flush.
    let rows: { target_id: string }[] = [];
    await eventually(async () => {
      await audit.flush();
      rows = await t.dataSource.query(
        `SELECT target_id FROM audit_events WHERE target_id LIKE $1 ORDER BY id`,
        [`${marker}-%`],
      );
      return rows.length >= 2;
    }, 5000);
    expect(rows.map((row) => row.target_id)).toEqual([`${marker}-1`, `${marker}-2`]);
  });

  it('writes a batch larger than one statement takes as one intact stretch of the chain', async () => {
    const audit = t.app.get(AuditService);
    await audit.flush();
    const marker = `bulk-${Date.now()}`;
    // ~400 events of ~500 bytes: several statements' worth in one batch (one transaction).
    for (let index = 0; index < 400; index += 1) {
      audit.record({
        type: AuditEventType.TokenIssued,
        outcome: AuditOutcome.Success,
        targetType: 'token',
        targetId: `${marker}-${index}`,
        details: { filler: 'x'.repeat(300), index },
      });
    }
    await audit.flush();
    const rows = await t.dataSource.query<{ count: string; ids: string }[]>(
      `SELECT count(*) AS count, max(id) - min(id) + 1 AS ids FROM audit_events
        WHERE target_id LIKE $1`,
      [`${marker}-%`],
    );
    expect(rows[0]).toEqual({ count: '400', ids: '400' });
    const verified = await t.http
      .get('/api/v1/audit-events/verify')
      .set('authorization', `Bearer ${admin}`);
    expect(verified.body).toMatchObject({ valid: true, firstBrokenId: null });
  });

  it('refuses to change an audit row, and the chain check names a row altered behind its back', async () => {
    await t.app.get(AuditService).flush();
    const verify = () =>
      t.http.get('/api/v1/audit-events/verify').set('authorization', `Bearer ${admin}`);
    const before = await verify();
    expect(before.body).toMatchObject({ valid: true, firstBrokenId: null });
    expect(before.body.checked).toBeGreaterThan(3);

    await expect(
      t.dataSource.query(`UPDATE audit_events SET outcome = 'success' WHERE id = 3`),
    ).rejects.toThrow(/append-only/);
    await t.dataSource.query(
      'ALTER TABLE audit_events DISABLE TRIGGER trg_audit_events_append_only',
    );
    await t.dataSource.query(`UPDATE audit_events SET details = '{"forged":true}' WHERE id = 3`);
    await t.dataSource.query(
      'ALTER TABLE audit_events ENABLE TRIGGER trg_audit_events_append_only',
    );
    const after = await verify();
    expect(after.body).toMatchObject({ valid: false, firstBrokenId: '3' });
  });

  it('keeps auditing after an event carrying text PostgreSQL cannot store', async () => {
    const hostile = await t.http.post('/api/v1/token').type('form').send({
      grant_type: 'client_credentials',
      client_id: 'x\u0000\ud800y',
      client_secret: 'aidp_x',
    });
    expect(hostile.status).toBe(401);
    const agent = await createAgent(t, admin, { name: 'after-the-hostile-event' });
    const audit = t.app.get(AuditService);
    await audit.flush();
    const events = await t.dataSource.query<{ type: string }[]>(
      `SELECT type FROM audit_events WHERE target_id = $1`,
      [agent.id],
    );
    expect(events.map((event) => event.type)).toContain('agent.created');
    // The hostile event itself is stored, made storable, not dropped.
    const denied = await t.dataSource.query<{ target_id: string }[]>(
      `SELECT target_id FROM audit_events WHERE type = 'token.denied' AND request_id = $1`,
      [hostile.headers['x-request-id']],
    );
    expect(denied).toHaveLength(1);
    expect(denied[0].target_id).toMatch(/^x\uFFFD/);
  });

  it('drops only an event the database refuses and writes the rest of its batch', async () => {
    const audit = t.app.get(AuditService);
    await audit.flush();
    const marker = `batch-${Date.now()}`;
    const event = (actorAgentId: string | null, n: number) => ({
      type: AuditEventType.AgentUpdated,
      outcome: AuditOutcome.Success,
      actorAgentId,
      targetType: 'agent' as const,
      targetId: `${marker}-${n}`,
      details: {},
    });
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    audit.record(event(null, 1));
    audit.record(event('not-a-uuid', 2));
    audit.record(event(null, 3));
    await audit.flush();
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    const rows = await t.dataSource.query<{ target_id: string }[]>(
      `SELECT target_id FROM audit_events WHERE target_id LIKE $1 ORDER BY id`,
      [`${marker}-%`],
    );
    expect(rows.map((row) => row.target_id)).toEqual([`${marker}-1`, `${marker}-3`]);
  });

  it('answers a token request that meets a deletion in flight as for a deleted credential', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    // A deletion in flight: the row locked, the secret already gone from Vault, no commit yet.
    // (Only PostgreSQL can interleave the two: the embedded pool's one connection serialises them.)
    const deletion = t.dataSource.createQueryRunner();
    await deletion.connect();
    await deletion.startTransaction();
    await deletion.query('SELECT id FROM credentials WHERE id = $1 FOR UPDATE', [
      credential.credentialId,
    ]);
    const removed = await fetch(
      `${vault.url}/v1/secret/metadata/agentidp/agents/${agent.id}/credentials/${credential.credentialId}`,
      { method: 'DELETE', headers: { 'x-vault-token': vaultToken } },
    );
    expect(removed.status).toBe(204);

    const pending = requestToken(t, credential.clientId, credential.clientSecret).then(
      (response) => response,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await deletion.query('DELETE FROM credentials WHERE id = $1', [credential.credentialId]);
    await deletion.commitTransaction();
    await deletion.release();

    const response = await pending;
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: 'invalid_client' });
  });

  it('keeps one credential consistent under concurrent rotate, delete and token requests', async () => {
    // Several rounds: which request wins each race varies, and every interleaving must hold.
    for (let round = 0; round < 8; round += 1) {
      const agent = await createAgent(t, admin);
      const credential = await createCredential(t, admin, agent.id);
      const base = `/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`;
      const rotate = () => t.http.post(`${base}/rotate`).set('authorization', `Bearer ${admin}`);
      const responses = await Promise.all([
        ...Array.from({ length: 4 }, rotate),
        ...Array.from({ length: 6 }, () =>
          requestToken(t, credential.clientId, credential.clientSecret),
        ),
        t.http.delete(base).set('authorization', `Bearer ${admin}`),
        ...Array.from({ length: 2 }, rotate),
      ]);
      const failures = responses
        .filter((response) => response.status >= 500)
        .map((response) => ({ status: response.status, body: response.body as unknown }));
      expect(failures).toEqual([]);
      expect((await t.http.get(base).set('authorization', `Bearer ${admin}`)).status).toBe(404);
      expect(
        vault.readKv(
          'secret',
          `agentidp/agents/${agent.id}/credentials/${credential.credentialId}`,
        ),
      ).toBeUndefined();
    }
  });
});
