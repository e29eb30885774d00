import { AuditOutcome } from './audit-event.entity';
import { AuditEventType } from './audit-event-type.enum';
import { AuditWriterThread, writerConnection } from './audit-writer-thread';

describe('writerConnection', () => {
  it("takes the pool's connection settings, not its pool settings, under its own name", () => {
    const settings = {
      connectionString: 'postgres://agentidp@db.example:5432/agentidp',
      ssl: { rejectUnauthorized: true },
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      statement_timeout: 30_000,
    };
    const connection = writerConnection({
      ...settings,
      application_name: 'agentidp',
      max: 10,
      idleTimeoutMillis: 30_000,
      password: undefined,
    });
    expect(connection).toEqual({ ...settings, application_name: 'agentidp-audit' });
  });
});

describe('AuditWriterThread', () => {
  const event = () => ({
    id: '',
    occurredAt: new Date(),
    type: AuditEventType.AgentUpdated,
    outcome: AuditOutcome.Success,
    actorAgentId: null,
    targetType: 'agent',
    targetId: 'a',
    requestId: null,
    clientIp: null,
    details: {},
  });

  it('fails a write it cannot make with the error, and writes again after being stopped', async () => {
    // Nothing listens on port 9: each write fails to connect, in a thread started anew.
    const thread = new AuditWriterThread({
      host: '127.0.0.1',
      port: 9,
      connectionTimeoutMillis: 2000,
    });
    try {
      await expect(thread.write([event()])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await expect(thread.write([event()])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await thread.stop();
      await expect(thread.write([event()])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await thread.stop();
    }
  });
});
