import {
  formatGoValue,
  isJsonObject,
  multiErrorMessage,
  parseDurationSeconds,
  parseGoBool,
  type JsonObject,
} from './go-compat';
import type { Acl } from './policy';
import type { TokenRecord } from './token-store';

/**
 * Vault's logical operations. POST and PUT both arrive as `update`; the core turns an update into a
 * `create` when the backend's existence check says the target does not exist yet.
 */
export type Operation = 'create' | 'read' | 'update' | 'delete' | 'list' | 'patch';

/** A request after authentication, as a backend sees it: the path is relative to the mount. */
export interface LogicalRequest {
  operation: Operation;
  path: string;
  data: JsonObject;
  token: TokenRecord;
  acl: Acl;
  /** Namespace the request was made in, `''` for the root namespace, else ending in `/`. */
  namespace: string;
  /** Prefix that turns a path of this namespace into one of the token's policies. */
  aclPrefix: string;
}

export interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: string;
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

/**
 * What a backend hands back to the core, mirroring the shapes Vault's HTTP layer distinguishes:
 * - `response`: a normal response, sent as 200 with the standard envelope;
 * - `empty`: a nil response, sent as 204, or as 404 for reads, lists and patches;
 * - `noContent`: a success without a body that is a 204 whatever the operation;
 * - `error`: `{"errors":[...]}` with the given status;
 * - `coded`: `logical.RespondWithStatusCode`, a raw envelope with its own status code.
 */
export type LogicalResult =
  | { kind: 'response'; data: JsonObject | null; auth?: AuthBlock; warnings?: string[] }
  | { kind: 'empty' }
  | { kind: 'noContent' }
  | { kind: 'error'; status: number; errors: string[] }
  | {
      kind: 'coded';
      status: number;
      body: { data: JsonObject | null; warnings?: string[] } | null;
    };

export interface Backend {
  /** Reported as `mount_type` in response envelopes. */
  readonly mountType: string;
  /**
   * Whether the target of a write exists, for paths that have an existence check in Vault;
   * `undefined` for paths without one (such writes always need `update`).
   */
  existenceCheck(path: string): boolean | undefined;
  handle(request: LogicalRequest): LogicalResult;
}

export function respond(data: JsonObject | null, warnings?: string[]): LogicalResult {
  return warnings && warnings.length > 0
    ? { kind: 'response', data, warnings }
    : { kind: 'response', data };
}

export const EMPTY: LogicalResult = { kind: 'empty' };

export function errorResult(status: number, message?: string): LogicalResult {
  return { kind: 'error', status, errors: message === undefined ? [] : [message] };
}

/** A backend error returned alongside an error response: Vault reports it as a 400. */
export function badRequest(message: string): LogicalResult {
  return errorResult(400, message);
}

/** The framework's answer for a path no backend route matches. */
export function unsupportedPath(): LogicalResult {
  return errorResult(404, multiErrorMessage('unsupported path'));
}

/** The framework's answer for a route that exists but not for this operation. */
export function unsupportedOperation(): LogicalResult {
  return errorResult(405, multiErrorMessage('unsupported operation'));
}

export function withWarnings(result: LogicalResult, warnings: string[]): LogicalResult {
  if (result.kind !== 'response' || warnings.length === 0) return result;
  return { ...result, warnings: [...(result.warnings ?? []), ...warnings] };
}

/** Field types of Vault's backend framework that the routes here use. */
export type FieldType =
  | 'string'
  | 'int'
  | 'bool'
  | 'map'
  | 'durationSecond'
  | 'signedDurationSecond'
  | 'commaIntSlice'
  | 'commaStringSlice'
  | 'kvPairs';

export type FieldSchema = Record<string, FieldType>;

export type FieldValue =
  string | number | boolean | JsonObject | number[] | string[] | Record<string, string>;

class FieldError extends Error {}

function toInt(raw: unknown): number {
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) throw new FieldError(`error decoding json.Number: ${raw}`);
    return raw;
  }
  if (typeof raw === 'boolean') return raw ? 1 : 0;
  if (typeof raw === 'string') {
    if (raw === '') return 0;
    if (!/^[+-]?\d+$/.test(raw.trim())) {
      throw new FieldError(
        `cannot parse '' as int: strconv.ParseInt: parsing "${raw}": invalid syntax`,
      );
    }
    return parseInt(raw, 10);
  }
  throw new FieldError(`'' expected type 'int', got unconvertible type '${typeof raw}'`);
}

function toStringValue(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') return String(raw);
  if (typeof raw === 'boolean') return raw ? '1' : '0';
  if (raw === null) return '';
  throw new FieldError(`'' expected type 'string', got unconvertible type '${typeof raw}'`);
}

function convert(type: FieldType, raw: unknown): FieldValue {
  switch (type) {
    case 'string':
      return toStringValue(raw);
    case 'int':
      return toInt(raw);
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'number') return raw !== 0;
      if (typeof raw === 'string') {
        if (raw === '') return false;
        const parsed = parseGoBool(raw);
        if (parsed === undefined) {
          throw new FieldError(
            `cannot parse '' as bool: strconv.ParseBool: parsing "${raw}": invalid syntax`,
          );
        }
        return parsed;
      }
      throw new FieldError(`'' expected type 'bool', got unconvertible type '${typeof raw}'`);
    }
    case 'map':
      if (isJsonObject(raw)) return raw;
      throw new FieldError(`'' expected a map, got '${Array.isArray(raw) ? 'slice' : typeof raw}'`);
    case 'durationSecond':
    case 'signedDurationSecond': {
      let seconds: number;
      try {
        seconds = parseDurationSeconds(raw);
      } catch (error) {
        throw new FieldError((error as Error).message);
      }
      if (type === 'durationSecond' && seconds < 0) {
        throw new FieldError(`cannot provide negative value '${seconds}'`);
      }
      return seconds;
    }
    case 'commaIntSlice': {
      if (Array.isArray(raw)) return raw.map(toInt);
      if (typeof raw === 'string') {
        return raw === '' ? [] : raw.split(',').map((part) => toInt(part.trim()));
      }
      return [toInt(raw)];
    }
    case 'commaStringSlice': {
      if (Array.isArray(raw)) return raw.map(toStringValue);
      const text = toStringValue(raw);
      return text === '' ? [] : text.split(',').map((part) => part.trim());
    }
    case 'kvPairs': {
      if (!isJsonObject(raw)) throw new FieldError(`'' expected a map, got '${typeof raw}'`);
      const pairs: Record<string, string> = {};
      for (const [key, value] of Object.entries(raw)) pairs[key] = toStringValue(value);
      return pairs;
    }
  }
}

export type ParsedFields =
  | { ok: true; values: Map<string, FieldValue>; ignored: string[] }
  | { ok: false; result: LogicalResult };

/**
 * Validates request data against a route's schema like `framework.FieldData.Validate`: a value of
 * the wrong type is a 400. A JSON `null` counts as absent. Parameters the route does not declare
 * are reported back so that the caller can warn about them as Vault does.
 */
export function parseFields(schema: FieldSchema, data: JsonObject): ParsedFields {
  const values = new Map<string, FieldValue>();
  const ignored: string[] = [];
  for (const [name, raw] of Object.entries(data)) {
    const type = schema[name];
    if (type === undefined) {
      ignored.push(name);
      continue;
    }
    if (raw === null) continue;
    try {
      values.set(name, convert(type, raw));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      const message = `error converting input ${formatGoValue(raw)} for field "${name}": ${error.message}`;
      return { ok: false, result: badRequest(message) };
    }
  }
  return { ok: true, values, ignored: ignored.sort() };
}

export function ignoredParametersWarning(ignored: string[]): string[] {
  return ignored.length === 0
    ? []
    : [`Endpoint ignored these unrecognized parameters: [${ignored.join(' ')}]`];
}
