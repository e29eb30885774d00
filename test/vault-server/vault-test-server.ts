import { randomUUID, randomBytes } from 'node:crypto';
import { posix } from 'node:path';

import { Clock } from './clock';
import {
  encodeGoJson,
  epochSeconds,
  isJsonObject,
  multiErrorMessage,
  parseGoBool,
  sortKeysDeep,
  type JsonObject,
} from './go-compat';
import { Http1Server, type HttpRequest, type HttpResponse } from './http1';
import { KvBackend, type KvKeySnapshot } from './kv-backend';
import type { Backend, LogicalResult, Operation } from './logical';
import { PolicyStore } from './policy';
import { SysBackend } from './sys-backend';
import { TokenBackend } from './token-backend';
import {
  DEFAULT_MAX_LEASE_TTL_SECONDS,
  newServiceTokenId,
  normalizeNamespace,
  TokenStore,
  type TokenSpec,
} from './token-store';

export type { KvKeySnapshot, KvVersionSnapshot } from './kv-backend';

/** The version this server reports; the behaviour reproduced is that of Vault 1.15 and later. */
export const VAULT_VERSION = '1.15.6';

export interface VaultTestServerOptions {
  /** Default 0: any free port. `restart()` reuses the port bound first. */
  port?: number;
  host?: string;
  /** Default: a random `hvs.` token, like `vault server -dev` without `-dev-root-token-id`. */
  rootToken?: string;
  /** KV version 2 mounts. Default `['secret']`, as in dev mode. */
  kvMounts?: string[];
  /** The mounts' `max_versions` configuration. Default 10, Vault's default. */
  maxVersions?: number;
  /** Vault's `max_lease_ttl` (and default TTL) for tokens. Default 768h. */
  maxLeaseTtlSeconds?: number;
}

export type CreateTokenOptions = Omit<TokenSpec, 'id'>;

export interface RecordedRequest {
  method: string;
  /** Vault path: no `/v1/` prefix, no query string (e.g. `secret/data/app/db`). */
  path: string;
  status: number;
  token?: string;
  /** Namespace from `X-Vault-Namespace`, normalised to end in `/`. */
  namespace?: string;
  /** The operation the request was authorised as, once known. */
  operation?: Operation;
}

interface Mount {
  backend: Backend;
  /** Path relative to the mount. */
  path: string;
}

interface Exchange {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Map<string, string>;
  body: Buffer;
  token?: string;
  namespace: string;
  record: RecordedRequest;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };

function json(status: number, body: unknown, trailingNewline = true): HttpResponse {
  return { status, headers: { ...JSON_HEADERS }, body: encodeGoJson(body, trailingNewline) };
}

/** Vault's `respondError`: `{"errors":[...]}`, empty when there is no message. */
function errors(status: number, ...messages: string[]): HttpResponse {
  return json(status, { errors: messages });
}

const PERMISSION_DENIED = 'permission denied';

/** `url.Values` to request data, as Vault's `parseQuery` does (`help` is reserved). */
function queryData(query: URLSearchParams): JsonObject {
  const data: JsonObject = {};
  for (const key of new Set(query.keys())) {
    if (key === 'help') continue;
    const values = query.getAll(key);
    data[key] = values.length === 1 ? values[0] : values;
  }
  return data;
}

/**
 * An in-memory stand-in for a HashiCorp Vault server, for tests and benchmarks. It speaks Vault's
 * HTTP API for KV version 2, token self-management, ACL policies, health and sealing, with Vault's
 * status codes, bodies and authorisation rules (see README.md for what is and is not covered).
 */
export class VaultTestServer {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  readonly rootToken: string;
  readonly host: string;

  private boundPort: number;
  private readonly clock = new Clock();
  private readonly policyStore = new PolicyStore();
  private readonly tokens: TokenStore;
  private readonly sys: SysBackend;
  private readonly tokenBackend: TokenBackend;
  private readonly kvMounts: string[];
  private readonly maxVersions: number;
  /** KV state per namespace and mount, keyed `namespace + mount + '/'`. */
  private readonly kvBackends = new Map<string, KvBackend>();
  private readonly clusterName = `vault-cluster-${randomBytes(4).toString('hex')}`;
  private readonly clusterId = randomUUID();
  private readonly pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private server: Http1Server | undefined;
  private sealedState = false;
  private standby = false;
  private latencyMs = 0;

  private constructor(options: VaultTestServerOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.boundPort = options.port ?? 0;
    this.maxVersions = options.maxVersions ?? 10;
    // Longest first, so that a nested mount wins over its parent as with Vault's router.
    this.kvMounts = (options.kvMounts ?? ['secret'])
      .map((mount) => mount.replace(/^\/+|\/+$/g, ''))
      .sort((a, b) => b.length - a.length);
    if (
      this.kvMounts.some((mount) => mount === '' || mount === 'sys' || mount.startsWith('auth'))
    ) {
      throw new Error('KV mounts cannot be empty or overlap sys/ and auth/');
    }
    this.tokens = new TokenStore(
      this.clock,
      options.maxLeaseTtlSeconds ?? DEFAULT_MAX_LEASE_TTL_SECONDS,
    );
    this.rootToken = options.rootToken ?? newServiceTokenId();
    this.tokens.createRoot(this.rootToken);
    this.sys = new SysBackend(this.policyStore);
    this.tokenBackend = new TokenBackend(this.tokens);
  }

  static async start(options: VaultTestServerOptions = {}): Promise<VaultTestServer> {
    const server = new VaultTestServer(options);
    await server.listen();
    return server;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.boundPort}`;
  }

  get sealed(): boolean {
    return this.sealedState;
  }

  /** Closes the listener and every open connection, keep-alive ones included. State is kept. */
  async stop(): Promise<void> {
    // Responses held back by setLatency() would otherwise keep timers alive after the stop.
    for (const pending of this.pendingDelays) {
      clearTimeout(pending.timer);
      pending.resolve();
    }
    this.pendingDelays.clear();
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /** Listens again on the same port with the same state, as after a Vault restart. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  seal(): void {
    this.sealedState = true;
  }

  unseal(): void {
    this.sealedState = false;
  }

  /**
   * Holds back every response for `ms` milliseconds. The request itself is processed at once, so a
   * client that gives up still leaves its write applied, as with a slow Vault.
   */
  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /**
   * Reports this node as a standby in `sys/health`. Other requests are still served, as a standby
   * forwards them to the active node.
   */
  setStandby(standby: boolean): void {
    this.standby = standby;
  }

  /** Moves the server's clock forward, e.g. to expire a token without waiting. */
  advanceClock(ms: number): void {
    this.clock.advance(ms);
  }

  /** Writes an ACL policy as `vault policy write` does; throws if it does not parse. */
  writePolicy(name: string, hcl: string): void {
    this.policyStore.write(name, hcl);
  }

  deletePolicy(name: string): void {
    this.policyStore.delete(name);
  }

  /**
   * Creates a service token as the root token would with `vault token create`. Without
   * `ttlSeconds` the token gets Vault's default TTL (768h, capped by `maxLeaseTtlSeconds`);
   * `ttlSeconds: 0` makes a token that never expires (Vault only allows that for root tokens).
   */
  createToken(options: CreateTokenOptions): string {
    return this.tokens.create(options).token.id;
  }

  revokeToken(token: string): void {
    this.tokens.revoke(token);
  }

  /** Seconds left before the token expires, 0 if it never does, undefined if it is not valid. */
  tokenTtl(token: string): number | undefined {
    const record = this.tokens.lookup(token);
    return record === undefined ? undefined : this.tokens.remainingTtl(record);
  }

  /** Reads a KV key's versions directly, bypassing the API and its ACLs. */
  readKv(mount: string, path: string, namespace?: string): KvKeySnapshot | undefined {
    const name = mount.replace(/^\/+|\/+$/g, '');
    if (!this.kvMounts.includes(name)) throw new Error(`no KV mount named "${name}"`);
    return this.kvBackends.get(`${normalizeNamespace(namespace)}${name}/`)?.snapshot(path);
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  private async listen(): Promise<void> {
    const server = new Http1Server((request) => this.onRequest(request));
    this.boundPort = await server.listen(this.boundPort, this.host);
    this.server = server;
  }

  private async onRequest(request: HttpRequest): Promise<HttpResponse> {
    const response = this.process(request);
    if (this.latencyMs > 0) await this.delay(this.latencyMs);
    return response;
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const pending = {
        timer: setTimeout(() => {
          this.pendingDelays.delete(pending);
          resolve();
        }, ms),
        resolve,
      };
      this.pendingDelays.add(pending);
    });
  }

  private process(request: HttpRequest): HttpResponse {
    const target = new URL(request.target, 'http://vault.invalid');
    const record: RecordedRequest = { method: request.method, path: '', status: 0 };
    const response = this.route(request, target, record);
    record.status = response.status;
    this.requests.push(record);
    return response;
  }

  private route(request: HttpRequest, target: URL, record: RecordedRequest): HttpResponse {
    let pathname: string;
    try {
      pathname = decodeURIComponent(target.pathname);
    } catch {
      return { status: 400, headers: {}, body: '' };
    }
    record.path = pathname.replace(/^\/v1\//, '');
    // Go's ServeMux redirects to the cleaned path before any handler runs.
    const cleaned = posix.normalize(pathname);
    if (cleaned !== pathname) {
      return { status: 301, headers: { Location: `${cleaned}${target.search}` }, body: '' };
    }
    if (!pathname.startsWith('/v1/') || pathname === '/v1/') {
      return {
        status: 404,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        body: '404 page not found\n',
      };
    }
    const headerToken = request.headers.get('x-vault-token');
    const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '');
    const token = headerToken !== undefined && headerToken !== '' ? headerToken : bearer?.[1];
    if (token !== undefined) record.token = token;
    const namespace = normalizeNamespace(request.headers.get('x-vault-namespace'));
    if (namespace !== '') record.namespace = namespace;
    const exchange: Exchange = {
      method: request.method,
      path: record.path,
      query: target.searchParams,
      headers: request.headers,
      body: request.body,
      token,
      namespace,
      record,
    };
    if (exchange.path === 'sys/health') return this.health(exchange);
    if (exchange.path === 'sys/seal-status') return this.sealStatus(exchange);
    if (this.sealedState) return errors(503, 'Vault is sealed');
    return this.logical(exchange);
  }

  /** `GET /v1/sys/health`: the same body for every status, status chosen by query parameters. */
  private health(exchange: Exchange): HttpResponse {
    if (exchange.method !== 'GET' && exchange.method !== 'HEAD') return errors(405);
    const query = exchange.query;
    const flag = (name: string): boolean | undefined | null => {
      const value = query.get(name);
      if (value === null) return undefined;
      return parseGoBool(value) ?? null;
    };
    const code = (name: string, fallback: number): number | null => {
      const value = query.get(name);
      if (value === null) return fallback;
      const parsed = /^[+-]?\d+$/.test(value) ? parseInt(value, 10) : NaN;
      return parsed >= 100 && parsed <= 999 ? parsed : null;
    };
    // Every parameter is validated, even those for states this server never enters.
    const standbyOk = flag('standbyok');
    const perfStandbyOk = flag('perfstandbyok');
    const codes = {
      uninit: code('uninitcode', 501),
      sealed: code('sealedcode', 503),
      standby: code('standbycode', 429),
      active: code('activecode', 200),
      drSecondary: code('drsecondarycode', 472),
      perfStandby: code('performancestandbycode', 473),
    };
    if (standbyOk === null || perfStandbyOk === null || Object.values(codes).includes(null)) {
      return errors(400);
    }
    let status = codes.active as number;
    if (this.sealedState) status = codes.sealed as number;
    else if (this.standby && standbyOk !== true) status = codes.standby as number;
    // A sealed node reports itself as a standby, without replication state or cluster identity.
    const body: JsonObject = {
      initialized: true,
      sealed: this.sealedState,
      standby: this.sealedState || this.standby,
      performance_standby: false,
      replication_performance_mode: this.sealedState ? 'unknown' : 'disabled',
      replication_dr_mode: this.sealedState ? 'unknown' : 'disabled',
      server_time_utc: epochSeconds(this.clock.nowNs()),
      version: VAULT_VERSION,
    };
    if (!this.sealedState) {
      body.cluster_name = this.clusterName;
      body.cluster_id = this.clusterId;
    }
    if (exchange.method === 'HEAD') {
      return { status, headers: { ...JSON_HEADERS }, body: '' };
    }
    return json(status, body);
  }

  private sealStatus(exchange: Exchange): HttpResponse {
    if (exchange.method !== 'GET') return errors(405);
    const body: JsonObject = {
      type: 'shamir',
      initialized: true,
      sealed: this.sealedState,
      t: 1,
      n: 1,
      progress: 0,
      nonce: '',
      version: VAULT_VERSION,
      build_date: '2024-02-28T17:07:34Z',
      migration: false,
    };
    if (!this.sealedState) {
      body.cluster_name = this.clusterName;
      body.cluster_id = this.clusterId;
    }
    body.recovery_seal = false;
    body.storage_type = 'inmem';
    return json(200, body);
  }

  /** Turns the HTTP request into a logical one, as Vault's `buildLogicalRequest` does. */
  private parseOperation(
    exchange: Exchange,
  ): { operation: Operation; path: string; data: JsonObject } | HttpResponse {
    let path = exchange.path;
    let operation: Operation;
    let fromBody = false;
    switch (exchange.method) {
      case 'GET': {
        const list = exchange.query.get('list');
        const isList = list === null || list === '' ? false : parseGoBool(list);
        if (isList === undefined) return errors(400);
        operation = isList ? 'list' : 'read';
        break;
      }
      case 'POST':
      case 'PUT':
        operation = 'update';
        fromBody = true;
        break;
      case 'DELETE':
        operation = 'delete';
        break;
      case 'LIST':
        operation = 'list';
        break;
      case 'PATCH': {
        const contentType = (exchange.headers.get('content-type') ?? '').split(';')[0].trim();
        if (contentType === '') return errors(400, 'mime: no media type');
        if (contentType.toLowerCase() !== 'application/merge-patch+json') {
          return errors(
            415,
            `PATCH requires Content-Type application/merge-patch+json, provided ${contentType}`,
          );
        }
        operation = 'patch';
        fromBody = true;
        break;
      }
      default:
        return errors(405);
    }
    if (operation === 'list' && !path.endsWith('/')) path += '/';
    let data: JsonObject = {};
    if (!fromBody) {
      // A GET that lists does not take its parameters from the query string.
      if (!(exchange.method === 'GET' && operation === 'list')) data = queryData(exchange.query);
    } else if (exchange.body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(exchange.body.toString('utf8'));
      } catch {
        return errors(400, 'error parsing JSON');
      }
      if (parsed !== null && !isJsonObject(parsed)) return errors(400, 'error parsing JSON');
      data = parsed ?? {};
    }
    return { operation, path, data };
  }

  private mountFor(namespace: string, path: string): Mount | undefined {
    if (path.startsWith('sys/')) return { backend: this.sys, path: path.slice('sys/'.length) };
    if (path.startsWith('auth/token/')) {
      return { backend: this.tokenBackend, path: path.slice('auth/token/'.length) };
    }
    for (const mount of this.kvMounts) {
      // Like Vault's router, "secret" alone also reaches the "secret/" mount.
      if (path === mount || path.startsWith(`${mount}/`)) {
        const key = `${namespace}${mount}/`;
        let backend = this.kvBackends.get(key);
        if (backend === undefined) {
          backend = new KvBackend(this.clock, this.maxVersions);
          this.kvBackends.set(key, backend);
        }
        return { backend, path: path.slice(mount.length + 1) };
      }
    }
    return undefined;
  }

  /** Everything but health and seal status: authentication, ACL, routing, response shaping. */
  private logical(exchange: Exchange): HttpResponse {
    const parsed = this.parseOperation(exchange);
    if ('status' in parsed) return parsed;
    const { path, data } = parsed;
    let operation = parsed.operation;
    if (
      path.endsWith('/') &&
      (operation === 'update' || operation === 'create' || operation === 'patch')
    ) {
      return errors(400, "cannot write to a path ending in '/'");
    }
    const mount = this.mountFor(exchange.namespace, path);
    if (operation === 'update' && mount?.backend.existenceCheck(mount.path) === false) {
      operation = 'create';
    }
    exchange.record.operation = operation;

    if (exchange.token === undefined) return errors(403, PERMISSION_DENIED);
    const token = this.tokens.lookup(exchange.token);
    if (token === undefined)
      return errors(403, multiErrorMessage(PERMISSION_DENIED, 'invalid token'));
    // A token acts in its own namespace and below; its policies see paths relative to its namespace.
    if (!exchange.namespace.startsWith(token.namespace)) {
      return errors(403, multiErrorMessage(PERMISSION_DENIED));
    }
    const aclPrefix = exchange.namespace.slice(token.namespace.length);
    const acl = this.policyStore.aclFor(token.policies);
    if (!acl.allows(operation, `${aclPrefix}${path}`)) {
      return errors(403, multiErrorMessage(PERMISSION_DENIED));
    }
    if (mount === undefined) {
      return errors(404, `no handler for route ${JSON.stringify(path)}. route entry not found.`);
    }
    const result = mount.backend.handle({
      operation,
      path: mount.path,
      data,
      token,
      acl,
      namespace: exchange.namespace,
      aclPrefix,
    });
    return this.toHttp(result, operation, mount.backend.mountType);
  }

  /** Vault's `respondLogical` / `RespondErrorCommon`: status codes and the response envelope. */
  private toHttp(result: LogicalResult, operation: Operation, mountType: string): HttpResponse {
    const envelope = (
      data: JsonObject | null,
      warnings: string[] | undefined,
      auth: unknown,
      type: string,
    ) => ({
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: data === null ? null : sortKeysDeep(data),
      wrap_info: null,
      warnings: warnings && warnings.length > 0 ? warnings : null,
      auth: auth ?? null,
      mount_type: type,
    });
    switch (result.kind) {
      case 'error':
        return errors(result.status, ...result.errors);
      case 'noContent':
        return { status: 204, headers: { ...JSON_HEADERS }, body: '' };
      case 'empty':
        if (operation === 'read' || operation === 'list' || operation === 'patch')
          return errors(404);
        return { status: 204, headers: { ...JSON_HEADERS }, body: '' };
      case 'coded':
        // Raw responses are marshalled before the router sets the mount type, hence "".
        return result.body === null
          ? { status: result.status, headers: { ...JSON_HEADERS }, body: '' }
          : json(result.status, envelope(result.body.data, result.body.warnings, null, ''), false);
      case 'response': {
        if (operation === 'list' && result.auth === undefined) {
          const data = result.data ?? {};
          const keys = data.keys;
          const hasOther = Object.keys(data).some((key) => key !== 'keys');
          const hasWarnings = (result.warnings?.length ?? 0) > 0;
          if (Array.isArray(keys) ? keys.length === 0 : !hasOther && !hasWarnings)
            return errors(404);
        }
        return json(200, envelope(result.data, result.warnings, result.auth, mountType));
      }
    }
  }
}
