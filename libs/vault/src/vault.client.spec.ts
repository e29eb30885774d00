import { Metrics } from '@agentidp/metrics';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VaultClient } from './vault.client';
import { VaultError } from './vault.errors';

const TOKEN = 'hvs.client-spec-token';
const PATH = 'secret/data/agentidp/agents/a/credentials/c';

/** A local HTTP server whose answer each test sets; it records every request it gets. */
function stubServer(): {
  server: Server;
  requests: IncomingMessage[];
  answer: (handler: (response: ServerResponse) => void) => void;
} {
  const requests: IncomingMessage[] = [];
  let handle: (response: ServerResponse) => void = (response) => response.end();
  const server = createServer((request, response) => {
    requests.push(request);
    handle(response);
  });
  return { server, requests, answer: (handler) => (handle = handler) };
}

describe(VaultClient.name, () => {
  const vault = stubServer();
  const elsewhere = stubServer();
  let client: VaultClient;

  beforeAll(async () => {
    await new Promise<void>((resolve) => vault.server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => elsewhere.server.listen(0, '127.0.0.1', resolve));
    const { port } = vault.server.address() as AddressInfo;
    client = new VaultClient(
      {
        addr: `http://127.0.0.1:${port}`,
        token: TOKEN,
        mount: 'secret',
        timeoutMs: 300,
        migrateOnUse: false,
        renewIncrementSeconds: 3600,
      },
      new Metrics(),
    );
  });

  afterAll(async () => {
    await client.onApplicationShutdown();
    vault.server.closeAllConnections();
    elsewhere.server.closeAllConnections();
    await new Promise((resolve) => vault.server.close(resolve));
    await new Promise((resolve) => elsewhere.server.close(resolve));
  });

  beforeEach(() => {
    vault.requests.length = 0;
    elsewhere.requests.length = 0;
  });

  it('reads a version with the token header and returns its data', async () => {
    vault.answer((response) =>
      response.end(
        JSON.stringify({ data: { data: { clientSecret: 's' }, metadata: { version: 2 } } }),
      ),
    );
    await expect(client.kvRead(PATH, 2)).resolves.toEqual({
      data: { clientSecret: 's' },
      version: 2,
    });
    expect(vault.requests[0].url).toBe(`/v1/${PATH}?version=2`);
    expect(vault.requests[0].headers['x-vault-token']).toBe(TOKEN);
  });

  // A standby's 307 to the active node, or any redirect: never followed (the token would go
  // wherever the Location says), and not a 4xx refusal either (which a check-and-set reads as a lost race).
  it.each([301, 307, 308])('treats a %d as unreachable and does not follow it', async (status) => {
    const { port } = elsewhere.server.address() as AddressInfo;
    vault.answer((response) => {
      response.writeHead(status, { location: `http://127.0.0.1:${port}/v1/${PATH}` });
      response.end();
    });
    const attempt = client.kvRead(PATH, 1);
    await expect(attempt).rejects.toBeInstanceOf(VaultError);
    await expect(attempt).rejects.toMatchObject({ kind: 'unreachable', operation: 'read' });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it.each([
    [403, 'denied'],
    [404, 'not_found'],
    [400, 'rejected'],
    [503, 'sealed'],
    [500, 'server'],
  ])('maps HTTP %d to %s', async (status, kind) => {
    vault.answer((response) => {
      response.writeHead(status);
      response.end('{"errors":[]}');
    });
    await expect(client.kvRead(PATH, 1)).rejects.toMatchObject({ kind, status });
  });

  it('gives up after the timeout with a timeout error', async () => {
    vault.answer(() => undefined);
    await expect(client.kvRead(PATH, 1)).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('names neither the token nor the response body in its errors', async () => {
    vault.answer((response) => {
      response.writeHead(500);
      response.end(JSON.stringify({ errors: [`bad token ${TOKEN}`] }));
    });
    const error = (await client.kvRead(PATH, 1).catch((caught: unknown) => caught)) as Error;
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).not.toContain('bad token');
  });
});
