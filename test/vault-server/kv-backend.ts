import type { Clock } from './clock';
import {
  formatGoDuration,
  formatRfc3339Nano,
  isJsonObject,
  multiErrorMessage,
  NS_PER_SECOND,
  type JsonObject,
  type JsonValue,
} from './go-compat';
import {
  badRequest,
  EMPTY,
  errorResult,
  ignoredParametersWarning,
  parseFields,
  respond,
  unsupportedOperation,
  withWarnings,
  type Backend,
  type FieldSchema,
  type FieldValue,
  type LogicalRequest,
  type LogicalResult,
  type Operation,
} from './logical';

/** Used when neither the key nor the mount configures `max_versions`. */
const DEFAULT_MAX_VERSIONS = 10;

/** A mount-level `delete_version_after` of this value turns the feature off for every key. */
const DELETE_VERSION_AFTER_DISABLED = -1;

interface VersionRecord {
  createdNs: bigint;
  /** A deletion time in the future is scheduled (`delete_version_after`), not yet effective. */
  deletionNs: bigint | null;
  destroyed: boolean;
  data: JsonObject | null;
}

interface KeyRecord {
  currentVersion: number;
  /** 0 until the first version has been pruned, as in Vault. */
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfter: number;
  customMetadata: Record<string, string> | null;
  createdNs: bigint | null;
  updatedNs: bigint | null;
  versions: Map<number, VersionRecord>;
}

interface KvConfig {
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfter: number;
}

export interface KvVersionSnapshot {
  data: Record<string, unknown> | null;
  createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

export interface KvKeySnapshot {
  currentVersion: number;
  oldestVersion: number;
  versions: Record<number, KvVersionSnapshot>;
}

type RouteKind = 'config' | 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy' | 'invalid';

/** The operations each route registers; anything else is an "unsupported operation" (405). */
const OPERATIONS: Record<RouteKind, Operation[]> = {
  config: ['read', 'update'],
  data: ['read', 'create', 'update', 'delete', 'patch'],
  metadata: ['read', 'create', 'update', 'delete', 'list', 'patch'],
  delete: ['update'],
  undelete: ['update'],
  destroy: ['update'],
  invalid: ['read', 'update', 'delete', 'list', 'patch'],
};

const VERSIONS_FIELDS: FieldSchema = { path: 'string', versions: 'commaIntSlice' };

const FIELDS: Record<RouteKind, FieldSchema> = {
  config: {
    max_versions: 'int',
    cas_required: 'bool',
    delete_version_after: 'signedDurationSecond',
  },
  data: { path: 'string', version: 'int', options: 'map', data: 'map' },
  metadata: {
    path: 'string',
    cas_required: 'bool',
    max_versions: 'int',
    delete_version_after: 'durationSecond',
    custom_metadata: 'map',
  },
  delete: VERSIONS_FIELDS,
  undelete: VERSIONS_FIELDS,
  destroy: VERSIONS_FIELDS,
  invalid: {},
};

const METADATA_SETTINGS = [
  'max_versions',
  'cas_required',
  'delete_version_after',
  'custom_metadata',
];

function matchRoute(path: string): { kind: RouteKind | 'subkeys'; key: string } {
  if (path === 'config') return { kind: 'config', key: '' };
  // A data key never ends in a slash: such paths fall through to the catch-all below.
  const data = /^data\/(.*[^/])$/s.exec(path);
  if (data) return { kind: 'data', key: data[1] };
  const metadata = /^metadata\/(.*)$/s.exec(path);
  if (metadata) return { kind: 'metadata', key: metadata[1] };
  const versions = /^(delete|undelete|destroy)\/(.*)$/s.exec(path);
  if (versions) return { kind: versions[1] as RouteKind, key: versions[2] };
  if (path.startsWith('subkeys/')) return { kind: 'subkeys', key: '' };
  return { kind: 'invalid', key: '' };
}

/** `deletionTime`: the smaller non-zero of the mount's and the key's `delete_version_after`. */
function deleteAfterSeconds(mount: number, key: number): number {
  let chosen = key;
  if ((mount !== 0 && mount < chosen) || chosen === 0) chosen = mount;
  return chosen;
}

/** RFC 7396 JSON merge patch, which Vault applies for `PATCH data/...`. */
function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/** `mapstructure.WeakDecode` into an int, as Vault decodes `options.cas`. */
function decodeCas(raw: JsonValue): number | undefined {
  if (raw === null) return 0;
  if (typeof raw === 'number') return Number.isInteger(raw) ? raw : undefined;
  if (typeof raw === 'boolean') return raw ? 1 : 0;
  if (typeof raw === 'string') {
    if (raw === '') return 0;
    return /^[+-]?\d+$/.test(raw) ? parseInt(raw, 10) : undefined;
  }
  return undefined;
}

function customMetadataErrors(metadata: Record<string, string>): string[] {
  const prefix = 'custom_metadata validation failed';
  const keys = Object.keys(metadata);
  if (keys.length > 64) {
    return [`${prefix}: payload must contain at most 64 keys, provided ${keys.length}`];
  }
  const errors: string[] = [];
  for (const key of keys) {
    const value = metadata[key];
    if (key.length === 0 || key.length > 128) {
      errors.push(
        `${prefix}: length of key "${key}" is ${key.length} but must be 0 < len(key) <= 128`,
      );
    }
    if (value.length === 0 || value.length > 512) {
      errors.push(
        `${prefix}: length of value for key "${key}" is ${value.length} but must be 0 < len(value) <= 512`,
      );
    }
  }
  return errors;
}

function toStringMap(raw: JsonObject, dropNulls: boolean): Record<string, string> | string {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === null) {
      if (!dropNulls) result[key] = '';
    } else if (typeof value === 'object') {
      return `custom_metadata validation failed: '' expected type 'string', got unconvertible type '${Array.isArray(value) ? 'slice' : 'map'}'`;
    } else {
      result[key] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    }
  }
  return result;
}

function cloneData(data: JsonObject | null): JsonObject | null {
  return data === null ? null : structuredClone(data);
}

/**
 * One KV version 2 mount (in one namespace): the `data/`, `metadata/`, `delete/`, `undelete/`,
 * `destroy/` and `config` routes of Vault's versioned K/V plugin, with its status codes and
 * response bodies.
 */
export class KvBackend implements Backend {
  readonly mountType = 'kv';
  private readonly keys = new Map<string, KeyRecord>();
  private readonly config: KvConfig;

  constructor(
    private readonly clock: Clock,
    maxVersions: number,
  ) {
    this.config = { maxVersions, casRequired: false, deleteVersionAfter: 0 };
  }

  /** Both `data/` and `metadata/` writes are creates when the key has no metadata yet. */
  existenceCheck(path: string): boolean | undefined {
    const route = matchRoute(path);
    if (route.kind === 'data' || route.kind === 'metadata') return this.keys.has(route.key);
    return undefined;
  }

  handle(request: LogicalRequest): LogicalResult {
    const route = matchRoute(request.path);
    if (route.kind === 'subkeys') {
      return errorResult(501, 'the subkeys endpoint is not implemented by the Vault test server');
    }
    if (!OPERATIONS[route.kind].includes(request.operation)) return unsupportedOperation();
    const fields = parseFields(FIELDS[route.kind], request.data);
    if (!fields.ok) return fields.result;
    const result = this.dispatch(route.kind, route.key, request, fields.values);
    return withWarnings(result, ignoredParametersWarning(fields.ignored));
  }

  snapshot(key: string): KvKeySnapshot | undefined {
    const meta = this.keys.get(key);
    if (meta === undefined) return undefined;
    const versions: Record<number, KvVersionSnapshot> = {};
    for (const [number, version] of meta.versions) {
      versions[number] = {
        data: cloneData(version.data),
        createdTime: formatRfc3339Nano(version.createdNs),
        deletionTime: version.deletionNs === null ? '' : formatRfc3339Nano(version.deletionNs),
        destroyed: version.destroyed,
      };
    }
    return { currentVersion: meta.currentVersion, oldestVersion: meta.oldestVersion, versions };
  }

  private dispatch(
    kind: RouteKind,
    key: string,
    request: LogicalRequest,
    values: Map<string, FieldValue>,
  ): LogicalResult {
    const operation = request.operation;
    switch (kind) {
      case 'config':
        return operation === 'read' ? this.readConfig() : this.writeConfig(values);
      case 'data':
        if (operation === 'read')
          return this.readData(key, values.get('version') as number | undefined);
        if (operation === 'delete') return this.deleteLatest(key);
        if (operation === 'patch') return this.patchData(key, values);
        return this.writeData(key, values);
      case 'metadata':
        if (operation === 'read') return this.readMetadata(key);
        if (operation === 'delete') return this.deleteMetadata(key);
        if (operation === 'list') return this.list(key);
        if (operation === 'patch') return this.patchMetadata(key, values);
        return this.writeMetadata(key, values);
      case 'delete':
      case 'undelete':
      case 'destroy':
        return this.changeVersions(kind, key, values.get('versions') as number[] | undefined);
      case 'invalid':
        return this.invalidPath(request.path, operation);
    }
  }

  private isDeleted(version: VersionRecord): boolean {
    return version.deletionNs !== null && version.deletionNs < this.clock.nowNs();
  }

  private versionMetadata(meta: KeyRecord, number: number, version: VersionRecord): JsonObject {
    return {
      created_time: formatRfc3339Nano(version.createdNs),
      custom_metadata: meta.customMetadata === null ? null : { ...meta.customMetadata },
      deletion_time: version.deletionNs === null ? '' : formatRfc3339Nano(version.deletionNs),
      destroyed: version.destroyed,
      version: number,
    };
  }

  private maxVersionsFor(meta: KeyRecord): number {
    if (meta.maxVersions !== 0) return meta.maxVersions;
    return this.config.maxVersions > 0 ? this.config.maxVersions : DEFAULT_MAX_VERSIONS;
  }

  private casError(options: FieldValue | undefined, meta: KeyRecord): string | undefined {
    if (isJsonObject(options) && 'cas' in options) {
      const cas = decodeCas(options.cas);
      if (cas === undefined) return 'error parsing check-and-set parameter';
      if (cas !== meta.currentVersion) {
        return 'check-and-set parameter did not match the current version';
      }
      return undefined;
    }
    if (this.config.casRequired || meta.casRequired) {
      return 'check-and-set parameter required for this call';
    }
    return undefined;
  }

  /** `KeyMetadata.AddVersion`: appends a version and prunes beyond `max_versions`. */
  private addVersion(key: string, meta: KeyRecord, data: JsonObject): LogicalResult {
    const createdNs = this.clock.nowNs();
    let deletionNs: bigint | null = null;
    if (this.config.deleteVersionAfter !== DELETE_VERSION_AFTER_DISABLED) {
      const after = deleteAfterSeconds(this.config.deleteVersionAfter, meta.deleteVersionAfter);
      if (after > 0) deletionNs = createdNs + BigInt(after) * NS_PER_SECOND;
    }
    const version: VersionRecord = {
      createdNs,
      deletionNs,
      destroyed: false,
      data: structuredClone(data),
    };
    meta.currentVersion++;
    meta.versions.set(meta.currentVersion, version);
    meta.updatedNs = createdNs;
    meta.createdNs ??= createdNs;
    const maxVersions = this.maxVersionsFor(meta);
    if (meta.currentVersion - meta.oldestVersion >= maxVersions) {
      const lastToDelete = meta.currentVersion - maxVersions;
      for (let number = meta.oldestVersion; number <= lastToDelete; number++) {
        meta.versions.delete(number);
      }
      meta.oldestVersion = lastToDelete + 1;
    }
    this.keys.set(key, meta);
    return respond(this.versionMetadata(meta, meta.currentVersion, version));
  }

  private newKey(): KeyRecord {
    return {
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      deleteVersionAfter: 0,
      customMetadata: null,
      createdNs: null,
      updatedNs: null,
      versions: new Map(),
    };
  }

  private writeData(key: string, values: Map<string, FieldValue>): LogicalResult {
    const data = values.get('data');
    if (!isJsonObject(data)) return badRequest('no data provided');
    const meta = this.keys.get(key) ?? this.newKey();
    const casError = this.casError(values.get('options'), meta);
    if (casError !== undefined) return badRequest(casError);
    return this.addVersion(key, meta, data);
  }

  private readData(key: string, requestedVersion: number | undefined): LogicalResult {
    const meta = this.keys.get(key);
    if (meta === undefined) return EMPTY;
    const number =
      requestedVersion !== undefined && requestedVersion > 0
        ? requestedVersion
        : meta.currentVersion;
    const version = meta.versions.get(number);
    if (version === undefined) return EMPTY;
    const metadata = this.versionMetadata(meta, number, version);
    if (this.isDeleted(version) || version.destroyed) {
      return { kind: 'coded', status: 404, body: { data: { data: null, metadata } } };
    }
    return respond({ data: cloneData(version.data), metadata });
  }

  private deleteLatest(key: string): LogicalResult {
    const meta = this.keys.get(key);
    const latest = meta?.versions.get(meta.currentVersion);
    if (latest === undefined || latest.destroyed || this.isDeleted(latest)) return EMPTY;
    latest.deletionNs = this.clock.nowNs();
    return EMPTY;
  }

  private patchData(key: string, values: Map<string, FieldValue>): LogicalResult {
    const patch = values.get('data');
    if (!isJsonObject(patch)) return badRequest('no data provided');
    const meta = this.keys.get(key);
    if (meta === undefined) return { kind: 'coded', status: 404, body: null };
    const casError = this.casError(values.get('options'), meta);
    if (casError !== undefined) return badRequest(casError);
    const current = meta.versions.get(meta.currentVersion);
    if (current === undefined) return { kind: 'coded', status: 404, body: null };
    if (this.isDeleted(current) || current.destroyed) {
      const metadata = this.versionMetadata(meta, meta.currentVersion, current);
      return { kind: 'coded', status: 404, body: { data: metadata } };
    }
    const merged = mergePatch(current.data ?? {}, patch);
    return this.addVersion(key, meta, isJsonObject(merged) ? merged : {});
  }

  private changeVersions(
    kind: 'delete' | 'undelete' | 'destroy',
    key: string,
    versions: number[] | undefined,
  ): LogicalResult {
    if (versions === undefined || versions.length === 0) {
      // The plugin really does capitalise the message differently for destroy.
      return badRequest(
        kind === 'destroy' ? 'no version number provided' : 'No version number provided',
      );
    }
    const meta = this.keys.get(key);
    if (meta === undefined) return EMPTY;
    for (const number of versions) {
      const version = meta.versions.get(number);
      if (version === undefined || version.destroyed) continue;
      if (kind === 'destroy') {
        version.destroyed = true;
        version.data = null;
      } else if (kind === 'delete') {
        if (!this.isDeleted(version)) version.deletionNs = this.clock.nowNs();
      } else {
        version.deletionNs = null;
        if (this.config.deleteVersionAfter !== DELETE_VERSION_AFTER_DISABLED) {
          const after = deleteAfterSeconds(this.config.deleteVersionAfter, meta.deleteVersionAfter);
          if (after > 0) version.deletionNs = this.clock.nowNs() + BigInt(after) * NS_PER_SECOND;
        }
      }
    }
    return EMPTY;
  }

  private readMetadata(key: string): LogicalResult {
    const meta = this.keys.get(key);
    if (meta === undefined) return EMPTY;
    const versions: JsonObject = {};
    for (const [number, version] of meta.versions) {
      versions[String(number)] = {
        created_time: formatRfc3339Nano(version.createdNs),
        deletion_time: version.deletionNs === null ? '' : formatRfc3339Nano(version.deletionNs),
        destroyed: version.destroyed,
      };
    }
    return respond({
      cas_required: meta.casRequired,
      created_time: meta.createdNs === null ? '' : formatRfc3339Nano(meta.createdNs),
      current_version: meta.currentVersion,
      custom_metadata: meta.customMetadata === null ? null : { ...meta.customMetadata },
      delete_version_after: formatGoDuration(meta.deleteVersionAfter),
      max_versions: meta.maxVersions,
      oldest_version: meta.oldestVersion,
      updated_time: meta.updatedNs === null ? '' : formatRfc3339Nano(meta.updatedNs),
      versions,
    });
  }

  private applySettings(
    meta: KeyRecord,
    values: Map<string, FieldValue>,
    customMetadata: Record<string, string> | undefined,
  ): string[] {
    const warnings: string[] = [];
    const maxVersions = values.get('max_versions');
    // Vault stores the setting as a uint32.
    if (typeof maxVersions === 'number') meta.maxVersions = maxVersions >>> 0;
    const casRequired = values.get('cas_required');
    if (typeof casRequired === 'boolean') {
      if (!casRequired && this.config.casRequired) {
        warnings.push(
          '"cas_required" set to false, but is mandated by backend config. This value will be ignored.',
        );
      }
      meta.casRequired = casRequired;
    }
    const deleteAfter = values.get('delete_version_after');
    if (typeof deleteAfter === 'number') meta.deleteVersionAfter = deleteAfter;
    if (customMetadata !== undefined) {
      meta.customMetadata = Object.keys(customMetadata).length > 0 ? customMetadata : null;
    }
    return warnings;
  }

  private parseCustomMetadata(
    values: Map<string, FieldValue>,
    dropNulls: boolean,
  ):
    { ok: true; value: Record<string, string> | undefined } | { ok: false; result: LogicalResult } {
    const raw = values.get('custom_metadata');
    if (!isJsonObject(raw)) return { ok: true, value: undefined };
    const converted = toStringMap(raw, dropNulls);
    if (typeof converted === 'string') return { ok: false, result: badRequest(converted) };
    const errors = customMetadataErrors(converted);
    if (errors.length > 0) return { ok: false, result: badRequest(multiErrorMessage(...errors)) };
    return { ok: true, value: converted };
  }

  private writeMetadata(key: string, values: Map<string, FieldValue>): LogicalResult {
    if (!METADATA_SETTINGS.some((name) => values.has(name))) return EMPTY;
    const customMetadata = this.parseCustomMetadata(values, false);
    if (!customMetadata.ok) return customMetadata.result;
    let meta = this.keys.get(key);
    if (meta === undefined) {
      const now = this.clock.nowNs();
      meta = { ...this.newKey(), createdNs: now, updatedNs: now };
    }
    const warnings = this.applySettings(meta, values, customMetadata.value);
    this.keys.set(key, meta);
    return warnings.length > 0 ? respond(null, warnings) : EMPTY;
  }

  private patchMetadata(key: string, values: Map<string, FieldValue>): LogicalResult {
    const meta = this.keys.get(key);
    if (meta === undefined) return { kind: 'coded', status: 404, body: null };
    const customMetadata = this.parseCustomMetadata(values, true);
    if (!customMetadata.ok) return customMetadata.result;
    let merged: Record<string, string> | undefined;
    const raw = values.get('custom_metadata');
    if (isJsonObject(raw) && customMetadata.value !== undefined) {
      merged = { ...(meta.customMetadata ?? {}) };
      for (const [name, value] of Object.entries(raw)) {
        if (value === null) delete merged[name];
        else merged[name] = customMetadata.value[name];
      }
    }
    const warnings = this.applySettings(meta, values, merged);
    return warnings.length > 0 ? respond(null, warnings) : { kind: 'noContent' };
  }

  private deleteMetadata(key: string): LogicalResult {
    this.keys.delete(key);
    return EMPTY;
  }

  /** Lists the immediate children of a prefix: keys, and sub-folders with a trailing `/`. */
  private list(prefix: string): LogicalResult {
    const children = new Set<string>();
    for (const key of this.keys.keys()) {
      if (!key.startsWith(prefix) || key.length === prefix.length) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      children.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    const keys = [...children].sort();
    return respond(keys.length > 0 ? { keys } : {});
  }

  private readConfig(): LogicalResult {
    return respond({
      cas_required: this.config.casRequired,
      delete_version_after: formatGoDuration(this.config.deleteVersionAfter),
      max_versions: this.config.maxVersions,
    });
  }

  private writeConfig(values: Map<string, FieldValue>): LogicalResult {
    const maxVersions = values.get('max_versions');
    if (typeof maxVersions === 'number') this.config.maxVersions = maxVersions >>> 0;
    const casRequired = values.get('cas_required');
    if (typeof casRequired === 'boolean') this.config.casRequired = casRequired;
    const deleteAfter = values.get('delete_version_after');
    if (typeof deleteAfter === 'number') {
      this.config.deleteVersionAfter =
        deleteAfter < 0 ? DELETE_VERSION_AFTER_DISABLED : deleteAfter;
    }
    return EMPTY;
  }

  /** The plugin's catch-all route: a 404 whose only content is a warning. */
  private invalidPath(path: string, operation: Operation): LogicalResult {
    if (['metadata', 'data', 'delete', 'undelete', 'destroy'].includes(path)) {
      const warning = 'Non-listing operations on the root of a K/V v2 mount are not supported.';
      return { kind: 'coded', status: 404, body: { data: null, warnings: [warning] } };
    }
    const subCommand: Record<Operation, string> = {
      create: 'put',
      update: 'put',
      patch: 'patch',
      read: 'get',
      list: 'list',
      delete: 'delete',
    };
    const warning = `Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv ${subCommand[operation]}' for this operation.`;
    return { kind: 'coded', status: 404, body: { data: null, warnings: [warning] } };
  }
}
