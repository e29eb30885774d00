import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Metrics } from '@agentidp/metrics';
import { Agent, request } from 'undici';
import { VaultError } from './vault.errors';
import { VAULT_MODULE_OPTIONS, type VaultModuleOptions } from './vault.options';

interface VaultResponse<T> {
  status: number;
  body: T | undefined;
}

export interface KvSecret {
  data: Record<string, unknown> | null;
  version: number;
}

export interface TokenLookup {
  ttl: number;
  renewable: boolean;
  expireTime: string | null;
  creationTtl: number;
  policies: string[];
}

export interface VaultHealth {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version?: string;
}

/**
 * The one class that speaks Vault's HTTP API, on undici's `request` (the HTTP client behind Node's
 * `fetch`, without the WHATWG objects: about a third of fetch's CPU per call) over a keep-alive
 * pool, with a timeout on every call. Chosen over node-vault because that has no KV v2 helpers and
 * no default timeout, and swaps its own token on `renew-self`; this stays small enough to read in
 * one go. Redirects are never followed: a 3xx is an error like any unexpected status.
 */
@Injectable()
export class VaultClient implements OnApplicationShutdown {
  private readonly dispatcher = new Agent();

  constructor(
    @Inject(VAULT_MODULE_OPTIONS) private readonly options: VaultModuleOptions,
    private readonly metrics: Metrics,
  ) {}

  get mount(): string {
    return this.options.mount;
  }

  /** After the HTTP server has drained: requests still in flight may need Vault until then. */
  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.close();
  }

  /** `POST {mount}/data/{key}`; returns the new version. `cas` 0 writes only a new key. */
  async kvWrite(dataPath: string, data: Record<string, string>, cas?: number): Promise<number> {
    const response = await this.call<{ data?: { version?: number } }>('POST', dataPath, 'write', {
      data,
      ...(cas === undefined ? {} : { options: { cas } }),
    });
    const version = response.body?.data?.version;
    if (typeof version !== 'number') throw new VaultError('server', 'write', response.status);
    return version;
  }

  /** `GET {mount}/data/{key}?version=N`; a missing, deleted or destroyed version is `not_found`. */
  async kvRead(dataPath: string, version?: number): Promise<KvSecret> {
    const query = version === undefined ? '' : `?version=${version}`;
    const response = await this.call<{
      data?: { data?: Record<string, unknown> | null; metadata?: { version?: number } };
    }>('GET', `${dataPath}${query}`, 'read');
    const payload = response.body?.data;
    if (!payload?.data) throw new VaultError('not_found', 'read', 404);
    return { data: payload.data, version: payload.metadata?.version ?? version ?? 0 };
  }

  /** `DELETE {mount}/metadata/{key}`: every version and the metadata, for good. Missing is fine. */
  async kvDestroyAll(metadataPath: string): Promise<void> {
    await this.call('DELETE', metadataPath, 'delete');
  }

  async lookupSelf(): Promise<TokenLookup> {
    const response = await this.call<{
      data?: {
        ttl?: number;
        renewable?: boolean;
        expire_time?: string | null;
        creation_ttl?: number;
        policies?: string[];
      };
    }>('GET', 'auth/token/lookup-self', 'token lookup');
    const data = response.body?.data ?? {};
    return {
      ttl: data.ttl ?? 0,
      renewable: data.renewable === true,
      expireTime: data.expire_time ?? null,
      creationTtl: data.creation_ttl ?? 0,
      policies: data.policies ?? [],
    };
  }

  /** Renews this client's own token; returns the new lease in seconds. The token itself is unchanged. */
  async renewSelf(incrementSeconds: number): Promise<number> {
    const response = await this.call<{ auth?: { lease_duration?: number } }>(
      'POST',
      'auth/token/renew-self',
      'token renewal',
      {
        increment: `${incrementSeconds}s`,
      },
    );
    return response.body?.auth?.lease_duration ?? 0;
  }

  /** `GET sys/health`: answers with a body for every status; sealed and standby are read from it. */
  async health(): Promise<VaultHealth> {
    const response = await this.call<VaultHealth>(
      'GET',
      'sys/health?standbyok=true&perfstandbyok=true',
      'health',
      undefined,
      {
        acceptAnyStatus: true,
      },
    );
    if (!response.body || typeof response.body.sealed !== 'boolean') {
      throw new VaultError('server', 'health', response.status);
    }
    return response.body;
  }

  private async call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    operation: string,
    body?: unknown,
    options: { acceptAnyStatus?: boolean } = {},
  ): Promise<VaultResponse<T>> {
    const timer = this.metrics.vaultCalls.startTimer({ operation });
    try {
      const response = await this.send<T>(method, path, operation, body, options);
      timer({ outcome: 'ok' });
      return response;
    } catch (error) {
      timer({ outcome: error instanceof VaultError ? error.kind : 'error' });
      throw error;
    }
  }

  private async send<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    operation: string,
    body: unknown,
    options: { acceptAnyStatus?: boolean },
  ): Promise<VaultResponse<T>> {
    const headers: Record<string, string> = {
      'x-vault-token': this.options.token,
      'x-vault-request': 'true',
    };
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${this.options.addr}/v1/${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
        dispatcher: this.dispatcher,
      });
    } catch (error) {
      const name = (error as Error).name;
      throw new VaultError(
        name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable',
        operation,
      );
    }
    let parsed: T | undefined;
    try {
      const text = await response.body.text();
      parsed = text ? (JSON.parse(text) as T) : undefined;
    } catch (error) {
      if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') {
        throw new VaultError('timeout', operation);
      }
      parsed = undefined;
    }
    // 200 and 204 are both success; DELETE of a missing key is a 204 too.
    if (options.acceptAnyStatus || response.statusCode === 200 || response.statusCode === 204) {
      return { status: response.statusCode, body: parsed };
    }
    throw new VaultError(kindOf(response.statusCode), operation, response.statusCode);
  }
}

function kindOf(status: number): VaultError['kind'] {
  // Not followed (the token would go wherever Location says): not Vault's answer, as fetch's
  // `redirect: 'error'` had it. Never `rejected`, which a check-and-set reads as a lost race.
  if (status >= 300 && status < 400) return 'unreachable';
  switch (status) {
    case 403:
      return 'denied';
    case 404:
      return 'not_found';
    case 503:
      return 'sealed';
    default:
      return status >= 500 ? 'server' : 'rejected';
  }
}
