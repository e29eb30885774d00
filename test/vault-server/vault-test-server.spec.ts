import { VaultTestServer } from './vault-test-server';

const RUNBOOK_POLICY = `
# agentidp-policy.hcl
path "secret/data/agentidp/*" {
  capabilities = ["create", "read", "update", "delete"]
}

path "secret/metadata/agentidp/*" {
  capabilities = ["delete"]
}
`;

const DENIED = '1 error occurred:\n\t* permission denied\n\n';
const INVALID_TOKEN = '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n';
const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

interface Reply {
  status: number;
  text: string;
  /** Parsed JSON, left unchecked so that tests can assert on any shape. */
  body: ReturnType<typeof JSON.parse>;
  headers: Headers;
}

interface CallOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

describe(VaultTestServer.name, () => {
  let vault: VaultTestServer;

  async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? vault.rootToken : options.token;
    if (token !== null) headers['X-Vault-Token'] = token;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const response = await fetch(`${vault.url}/v1/${path}`, {
      method,
      headers,
      body,
      signal: options.signal,
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, text, body: parsed, headers: response.headers };
  }

  const write = (path: string, data: Record<string, unknown>, options: CallOptions = {}) =>
    call('POST', `secret/data/${path}`, {
      ...options,
      body: { data, ...(options.body as object) },
    });

  beforeEach(async () => {
    vault = await VaultTestServer.start();
  });

  afterEach(async () => {
    await vault.stop();
  });

  describe('KV version 2', () => {
    it('numbers versions from 1 and reads the latest or a given one', async () => {
      const first = await write('app/db', { password: 'one' });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        wrap_info: null,
        warnings: null,
        auth: null,
        mount_type: 'kv',
        data: { version: 1, deletion_time: '', destroyed: false, custom_metadata: null },
      });
      expect(first.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(first.body.data.created_time).toMatch(RFC3339_NANO);
      expect((await write('app/db', { password: 'two' })).body.data.version).toBe(2);

      const latest = await call('GET', 'secret/data/app/db');
      expect(latest.status).toBe(200);
      expect(latest.body.data.data).toEqual({ password: 'two' });
      expect(latest.body.data.metadata).toMatchObject({ version: 2, deletion_time: '' });
      const older = await call('GET', 'secret/data/app/db?version=1');
      expect(older.body.data.data).toEqual({ password: 'one' });

      expect(vault.readKv('secret', 'app/db')).toMatchObject({
        currentVersion: 2,
        versions: { 1: { data: { password: 'one' } }, 2: { data: { password: 'two' } } },
      });
    });

    it('answers 404 with an empty error list for a key or version that never existed', async () => {
      for (const path of ['secret/data/missing', 'secret/data/app/db?version=7']) {
        if (path.includes('app/db')) await write('app/db', { a: 1 });
        const reply = await call('GET', path);
        expect(reply.status).toBe(404);
        expect(reply.text).toBe('{"errors":[]}\n');
      }
    });

    it('answers 404 with the full envelope for a soft-deleted or destroyed version', async () => {
      await write('app/db', { a: 1 });
      await write('app/db', { a: 2 });
      expect((await call('DELETE', 'secret/data/app/db')).status).toBe(204);
      const deleted = await call('GET', 'secret/data/app/db');
      expect(deleted.status).toBe(404);
      expect(deleted.body).not.toHaveProperty('errors');
      expect(deleted.body.data.data).toBeNull();
      expect(deleted.body.data.metadata).toMatchObject({ version: 2, destroyed: false });
      expect(deleted.body.data.metadata.deletion_time).toMatch(RFC3339_NANO);

      const destroy = await call('POST', 'secret/destroy/app/db', { body: { versions: [1] } });
      expect(destroy.status).toBe(204);
      const destroyed = await call('GET', 'secret/data/app/db?version=1');
      expect(destroyed.status).toBe(404);
      expect(destroyed.body.data).toMatchObject({ data: null, metadata: { destroyed: true } });
      expect(vault.readKv('secret', 'app/db')?.versions[1]).toMatchObject({
        data: null,
        destroyed: true,
      });
    });

    it('answers 204 with an empty body where Vault has nothing to say', async () => {
      await write('app/db', { a: 1 });
      for (const [method, path, body] of [
        ['DELETE', 'secret/data/missing', undefined],
        ['POST', 'secret/delete/app/db', { versions: [1] }],
        ['POST', 'secret/undelete/app/db', { versions: [1] }],
        ['DELETE', 'secret/metadata/app/db', undefined],
        ['DELETE', 'secret/metadata/app/db', undefined],
      ] as const) {
        const reply = await call(method, path, { body });
        expect([reply.status, reply.text]).toEqual([204, '']);
      }
      const empty = await call('POST', 'secret/destroy/app/db', { body: { versions: [] } });
      expect(empty.status).toBe(400);
    });

    it('restores a soft-deleted version with undelete', async () => {
      await write('app/db', { a: 1 });
      await call('DELETE', 'secret/data/app/db');
      await call('POST', 'secret/undelete/app/db', { body: { versions: '1' } });
      expect((await call('GET', 'secret/data/app/db')).body.data.data).toEqual({ a: 1 });
    });

    it('enforces check-and-set, cas 0 meaning "only if absent"', async () => {
      const created = await write('app/db', { a: 1 }, { body: { options: { cas: 0 } } });
      expect(created.status).toBe(200);
      const again = await write('app/db', { a: 2 }, { body: { options: { cas: 0 } } });
      expect(again.status).toBe(400);
      expect(again.body).toEqual({
        errors: ['check-and-set parameter did not match the current version'],
      });
      expect((await write('app/db', { a: 2 }, { body: { options: { cas: 1 } } })).status).toBe(200);
      // A soft-deleted latest version still counts as the current version.
      await call('DELETE', 'secret/data/app/db');
      expect((await write('app/db', { a: 3 }, { body: { options: { cas: 0 } } })).status).toBe(400);
      expect((await write('app/db', { a: 3 }, { body: { options: { cas: 2 } } })).status).toBe(200);
    });

    it('requires cas when the key is configured with cas_required', async () => {
      await call('POST', 'secret/metadata/app/db', { body: { cas_required: true } });
      const reply = await write('app/db', { a: 1 });
      expect(reply.body).toEqual({ errors: ['check-and-set parameter required for this call'] });
      expect((await write('app/db', { a: 1 }, { body: { options: { cas: 0 } } })).status).toBe(200);
    });

    it('rejects a write without data and a body that is not JSON', async () => {
      const noData = await call('POST', 'secret/data/app/db', { body: { options: {} } });
      expect([noData.status, noData.body]).toEqual([400, { errors: ['no data provided'] }]);
      const badJson = await call('POST', 'secret/data/app/db', { body: '{"data":' });
      expect([badJson.status, badJson.text]).toEqual([400, '{"errors":["error parsing JSON"]}\n']);
    });

    it('starts again at version 1 once the metadata is deleted', async () => {
      for (const value of [1, 2, 3]) await write('app/db', { value });
      expect((await call('DELETE', 'secret/metadata/app/db')).status).toBe(204);
      expect(vault.readKv('secret', 'app/db')).toBeUndefined();
      expect((await call('GET', 'secret/data/app/db?version=3')).status).toBe(404);
      expect((await write('app/db', { value: 4 })).body.data.version).toBe(1);
    });

    it('prunes the oldest versions beyond max_versions', async () => {
      await vault.stop();
      vault = await VaultTestServer.start({ maxVersions: 3 });
      for (const value of [1, 2, 3]) await write('app/db', { value });
      expect((await call('GET', 'secret/metadata/app/db')).body.data.oldest_version).toBe(1);
      await write('app/db', { value: 4 });

      const metadata = await call('GET', 'secret/metadata/app/db');
      expect(metadata.status).toBe(200);
      expect(metadata.body.data).toMatchObject({
        current_version: 4,
        oldest_version: 2,
        max_versions: 0,
        cas_required: false,
        delete_version_after: '0s',
        custom_metadata: null,
      });
      expect(Object.keys(metadata.body.data.versions)).toEqual(['2', '3', '4']);
      expect((await call('GET', 'secret/data/app/db?version=1')).status).toBe(404);
      expect((await call('GET', 'secret/config')).body.data.max_versions).toBe(3);
    });

    it('lists keys and folders under a prefix with LIST or ?list=true', async () => {
      for (const key of ['app/a', 'app/b/c', 'app/b/d', 'other']) await write(key, { x: 1 });
      const listed = await call('LIST', 'secret/metadata/app');
      expect(listed.status).toBe(200);
      expect(listed.body.data).toEqual({ keys: ['a', 'b/'] });
      const viaGet = await call('GET', 'secret/metadata/app/b/?list=true');
      expect(viaGet.body.data.keys).toEqual(['c', 'd']);
      const none = await call('LIST', 'secret/metadata/nothing/');
      expect([none.status, none.text]).toEqual([404, '{"errors":[]}\n']);
    });

    it('applies a JSON merge patch as a new version', async () => {
      await write('app/db', { user: 'u', password: 'p' });
      const patched = await call('PATCH', 'secret/data/app/db', {
        body: { data: { password: 'q', user: null } },
        headers: { 'Content-Type': 'application/merge-patch+json' },
      });
      expect([patched.status, patched.body.data.version]).toEqual([200, 2]);
      expect((await call('GET', 'secret/data/app/db')).body.data.data).toEqual({ password: 'q' });
      const wrongType = await call('PATCH', 'secret/data/app/db', { body: { data: {} } });
      expect(wrongType.status).toBe(415);
    });

    it('warns about a path outside the data/ and metadata/ API', async () => {
      const reply = await call('GET', 'secret/app/db');
      expect(reply.status).toBe(404);
      expect(reply.body.warnings[0]).toContain('Invalid path for a versioned K/V secrets engine');
    });

    it('keeps namespaces apart', async () => {
      await write('app/db', { a: 1 }, { headers: { 'X-Vault-Namespace': 'team-a' } });
      expect((await call('GET', 'secret/data/app/db')).status).toBe(404);
      const inNamespace = await call('GET', 'secret/data/app/db', {
        headers: { 'X-Vault-Namespace': 'team-a/' },
      });
      expect(inNamespace.body.data.data).toEqual({ a: 1 });
      expect(vault.readKv('secret', 'app/db', 'team-a')?.currentVersion).toBe(1);
    });
  });

  describe('HTTP conventions', () => {
    it('answers an unsupported method with 405 and an empty error list', async () => {
      const reply = await call('OPTIONS', 'secret/data/app/db');
      expect([reply.status, reply.text]).toEqual([405, '{"errors":[]}\n']);
    });

    it('accepts the token as a bearer token and PUT like POST', async () => {
      const reply = await call('PUT', 'secret/data/app/db', {
        token: null,
        headers: { Authorization: `Bearer ${vault.rootToken}` },
        body: { data: { a: 1 } },
      });
      expect(reply.status).toBe(200);
    });

    it('distinguishes an unknown mount from a forbidden one', async () => {
      const missing = await call('GET', 'nowhere/data/x');
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({
        errors: ['no handler for route "nowhere/data/x". route entry not found.'],
      });
      vault.writePolicy('agentidp', RUNBOOK_POLICY);
      const token = vault.createToken({ policies: ['agentidp'] });
      expect((await call('GET', 'nowhere/data/x', { token })).status).toBe(403);
    });

    it('records every request for least-privilege assertions', async () => {
      vault.writePolicy('agentidp', RUNBOOK_POLICY);
      const token = vault.createToken({ policies: ['agentidp'] });
      vault.clearRequests();
      await write('agentidp/a', { x: 1 }, { token });
      await call('GET', 'secret/metadata/agentidp/a', { token });
      expect(vault.requests).toEqual([
        {
          method: 'POST',
          path: 'secret/data/agentidp/a',
          status: 200,
          token,
          operation: 'create',
        },
        {
          method: 'GET',
          path: 'secret/metadata/agentidp/a',
          status: 403,
          token,
          operation: 'read',
        },
      ]);
      vault.clearRequests();
      expect(vault.requests).toEqual([]);
    });
  });

  describe('ACL policies', () => {
    let token: string;

    beforeEach(() => {
      vault.writePolicy('agentidp', RUNBOOK_POLICY);
      token = vault.createToken({ policies: ['agentidp'], ttlSeconds: 8760 * 3600 });
    });

    it('allows what the runbook policy grants', async () => {
      const path = 'agentidp/agents/a1/credentials/c1';
      expect((await write(path, { clientSecret: 's1' }, { token })).status).toBe(200);
      expect((await write(path, { clientSecret: 's2' }, { token })).status).toBe(200);
      const read = await call('GET', `secret/data/${path}`, { token });
      expect(read.body.data.data).toEqual({ clientSecret: 's2' });
      expect((await call('DELETE', `secret/data/${path}`, { token })).status).toBe(204);
      expect((await call('DELETE', `secret/metadata/${path}`, { token })).status).toBe(204);
      expect(vault.readKv('secret', path)).toBeUndefined();
      expect((await call('GET', 'auth/token/lookup-self', { token })).status).toBe(200);
      expect((await call('POST', 'auth/token/renew-self', { token, body: {} })).status).toBe(200);
    });

    it('denies everything else with 403', async () => {
      const path = 'agentidp/agents/a1/credentials/c1';
      await write(path, { clientSecret: 's1' });
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', `secret/metadata/${path}`],
        ['LIST', 'secret/metadata/agentidp/'],
        ['GET', 'secret/metadata/agentidp/?list=true'],
        ['POST', `secret/destroy/${path}`, { versions: [1] }],
        ['POST', `secret/delete/${path}`, { versions: [1] }],
        ['POST', `secret/undelete/${path}`, { versions: [1] }],
        ['GET', 'secret/config'],
        ['POST', 'secret/data/other/key', { data: { a: 1 } }],
        ['GET', 'secret/data/other/key'],
        ['GET', 'secret/data/agentidp'],
        ['POST', 'sys/policies/acl/agentidp', { policy: 'path "*" { capabilities = ["sudo"] }' }],
      ];
      for (const [method, target, body] of attempts) {
        const reply = await call(method, target, { token, body });
        expect([method, target, reply.status, reply.body]).toEqual([
          method,
          target,
          403,
          { errors: [DENIED] },
        ]);
      }
      const patch = await call('PATCH', `secret/data/${path}`, {
        token,
        body: { data: { clientSecret: 'x' } },
        headers: { 'Content-Type': 'application/merge-patch+json' },
      });
      expect(patch.status).toBe(403);
    });

    it('needs create for a new key and update for an existing one', async () => {
      vault.writePolicy(
        'create-only',
        'path "secret/data/app/*" { capabilities = ["create"] } // no update',
      );
      vault.writePolicy('update-only', 'path "secret/data/app/*" { capabilities = ["update"] }');
      const creator = vault.createToken({ policies: ['create-only'] });
      const updater = vault.createToken({ policies: ['update-only'] });

      expect((await write('app/new', { a: 1 }, { token: updater })).status).toBe(403);
      expect((await write('app/new', { a: 1 }, { token: creator })).status).toBe(200);
      expect((await write('app/new', { a: 2 }, { token: creator })).status).toBe(403);
      expect((await write('app/new', { a: 2 }, { token: updater })).status).toBe(200);
      // Soft-deleted keys still have metadata, so writing them is an update.
      await call('DELETE', 'secret/data/app/new');
      expect((await write('app/new', { a: 3 }, { token: creator })).status).toBe(403);
      await call('DELETE', 'secret/metadata/app/new');
      expect((await write('app/new', { a: 4 }, { token: creator })).status).toBe(200);
    });

    it('reports capabilities per path', async () => {
      const reply = await call('POST', 'sys/capabilities-self', {
        token,
        body: { paths: ['secret/data/agentidp/x', 'secret/metadata/agentidp/x', 'secret/x'] },
      });
      expect(reply.body.data).toEqual({
        'secret/data/agentidp/x': ['create', 'delete', 'read', 'update'],
        'secret/metadata/agentidp/x': ['delete'],
        'secret/x': ['deny'],
      });
      expect(reply.body.mount_type).toBe('system');
    });

    it('manages policies through sys/policies/acl with the root token', async () => {
      const policy = 'path "secret/data/shared/*" { capabilities = ["read"] }';
      expect((await call('PUT', 'sys/policies/acl/Reader', { body: { policy } })).status).toBe(204);
      expect((await call('GET', 'sys/policies/acl/reader')).body.data).toEqual({
        name: 'reader',
        policy,
      });
      const broken = await call('PUT', 'sys/policies/acl/broken', {
        body: { policy: 'path "x" { capabilities = ["fly"] }' },
      });
      expect(broken.status).toBe(400);
      expect(broken.body.errors[0]).toMatch(/^failed to parse policy: /);
      const reader = vault.createToken({ policies: ['reader'] });
      await write('shared/a', { v: 1 });
      expect((await call('GET', 'secret/data/shared/a', { token: reader })).status).toBe(200);
    });
  });

  describe('tokens', () => {
    it('rejects a missing, unknown, revoked or expired token with 403', async () => {
      const missing = await call('GET', 'secret/data/x', { token: null });
      expect([missing.status, missing.body]).toEqual([403, { errors: ['permission denied'] }]);
      const unknown = await call('GET', 'secret/data/x', { token: 'hvs.nope' });
      expect([unknown.status, unknown.body]).toEqual([403, { errors: [INVALID_TOKEN] }]);

      const revoked = vault.createToken({ policies: ['default'] });
      vault.revokeToken(revoked);
      expect((await call('GET', 'auth/token/lookup-self', { token: revoked })).status).toBe(403);

      const expiring = vault.createToken({ policies: ['default'], ttlSeconds: 60 });
      expect((await call('GET', 'auth/token/lookup-self', { token: expiring })).status).toBe(200);
      vault.advanceClock(61_000);
      expect(vault.tokenTtl(expiring)).toBeUndefined();
      const expired = await call('GET', 'auth/token/lookup-self', { token: expiring });
      expect([expired.status, expired.body]).toEqual([403, { errors: [INVALID_TOKEN] }]);
    });

    it('describes a service token and the root token in lookup-self', async () => {
      const token = vault.createToken({
        policies: ['agentidp'],
        ttlSeconds: 3600,
        displayName: 'agentidp-service',
      });
      const service = await call('GET', 'auth/token/lookup-self', { token });
      expect(service.body.mount_type).toBe('token');
      expect(service.body.data).toMatchObject({
        id: token,
        policies: ['agentidp', 'default'],
        ttl: 3600,
        creation_ttl: 3600,
        renewable: true,
        display_name: 'token-agentidp-service',
        explicit_max_ttl: 0,
        orphan: false,
        path: 'auth/token/create',
        type: 'service',
        meta: null,
        num_uses: 0,
        entity_id: '',
      });
      expect(service.body.data.expire_time).toMatch(RFC3339_NANO);
      expect(service.body.data.issue_time).toMatch(RFC3339_NANO);

      const root = await call('GET', 'auth/token/lookup-self');
      expect(root.body.data).toMatchObject({
        policies: ['root'],
        ttl: 0,
        expire_time: null,
        path: 'auth/token/root',
      });
      expect(root.body.data).not.toHaveProperty('renewable');
    });

    it('renews a token under auth, capped by its explicit max TTL', async () => {
      const token = vault.createToken({ policies: ['default'], ttlSeconds: 3600 });
      const renewed = await call('POST', 'auth/token/renew-self', {
        token,
        body: { increment: '720h' },
      });
      expect(renewed.status).toBe(200);
      expect(renewed.body.data).toBeNull();
      expect(renewed.body.auth).toEqual({
        client_token: token,
        accessor: expect.any(String),
        policies: ['default'],
        token_policies: ['default'],
        metadata: null,
        lease_duration: 720 * 3600,
        renewable: true,
        entity_id: '',
        token_type: 'service',
        orphan: false,
        mfa_requirement: null,
        num_uses: 0,
      });
      expect(vault.tokenTtl(token)).toBe(720 * 3600);

      const capped = vault.createToken({
        policies: ['default'],
        ttlSeconds: 60,
        explicitMaxTtlSeconds: 600,
      });
      const reply = await call('POST', 'auth/token/renew-self', {
        token: capped,
        body: { increment: 3600 },
      });
      expect(reply.body.auth.lease_duration).toBeLessThanOrEqual(600);
      expect(reply.body.auth.lease_duration).toBeGreaterThan(590);
      expect(reply.body.warnings[0]).toContain('exceeded the effective max_ttl');
    });

    it('refuses to renew a non-renewable or root token', async () => {
      const fixed = vault.createToken({ policies: ['default'], renewable: false });
      for (const token of [fixed, vault.rootToken]) {
        const reply = await call('POST', 'auth/token/renew-self', { token, body: {} });
        expect([reply.status, reply.body]).toEqual([400, { errors: ['lease is not renewable'] }]);
      }
    });

    it('creates child tokens through auth/token/create', async () => {
      vault.writePolicy('agentidp', RUNBOOK_POLICY);
      const reply = await call('POST', 'auth/token/create', {
        body: { policies: ['agentidp'], ttl: '8760h', renewable: true },
      });
      expect(reply.status).toBe(200);
      // The system max TTL (768h) caps the runbook's 8760h.
      expect(reply.body.auth.lease_duration).toBe(768 * 3600);
      expect(reply.body.warnings).toHaveLength(1);
      const child = reply.body.auth.client_token as string;
      expect(child).toMatch(/^hvs\./);
      expect((await write('agentidp/x', { a: 1 }, { token: child })).status).toBe(200);
    });
  });

  describe('availability', () => {
    it('reports health with Vault status codes', async () => {
      const healthy = await call('GET', 'sys/health', { token: null });
      expect(healthy.status).toBe(200);
      expect(healthy.body).toMatchObject({
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        version: '1.15.6',
      });
      expect(typeof healthy.body.server_time_utc).toBe('number');

      vault.setStandby(true);
      expect((await call('GET', 'sys/health')).status).toBe(429);
      expect((await call('GET', 'sys/health?standbyok=true')).status).toBe(200);
      expect((await call('GET', 'sys/health?standbycode=200')).status).toBe(200);
      vault.setStandby(false);

      vault.seal();
      const sealed = await call('GET', 'sys/health');
      expect(sealed.status).toBe(503);
      expect(sealed.body).toMatchObject({ initialized: true, sealed: true });
      expect((await call('GET', 'sys/health?sealedcode=200')).status).toBe(200);
    });

    it('answers 503 to everything else while sealed', async () => {
      await write('app/db', { a: 1 });
      vault.seal();
      const reply = await call('GET', 'secret/data/app/db');
      expect([reply.status, reply.text]).toEqual([503, '{"errors":["Vault is sealed"]}\n']);
      vault.unseal();
      expect((await call('GET', 'secret/data/app/db')).status).toBe(200);
    });

    it('delays responses so that client timeouts can be exercised', async () => {
      vault.setLatency(300);
      await expect(
        call('GET', 'sys/health', { signal: AbortSignal.timeout(50) }),
      ).rejects.toMatchObject({ name: 'TimeoutError' });
      vault.setLatency(0);
      expect((await call('GET', 'sys/health')).status).toBe(200);
    });

    it('goes down and comes back on the same port with its state', async () => {
      await write('app/db', { a: 1 });
      // Leave a keep-alive connection open: stop() must not wait for it.
      await call('GET', 'sys/health');
      const port = vault.port;
      const stopping = Date.now();
      await vault.stop();
      expect(Date.now() - stopping).toBeLessThan(1000);
      await expect(call('GET', 'sys/health')).rejects.toThrow();

      await vault.restart();
      expect(vault.port).toBe(port);
      expect((await call('GET', 'secret/data/app/db')).body.data.data).toEqual({ a: 1 });
    });
  });
});
