/**
 * Vault is a Go program, so what a client sees on the wire follows Go's conventions: timestamps in
 * RFC 3339 with up to nine fraction digits, durations printed by `time.Duration.String()`, map keys
 * sorted, `<`, `>` and `&` escaped in JSON. The helpers here reproduce those conventions.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export const NS_PER_SECOND = 1_000_000_000n;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `time.Time.Format(time.RFC3339Nano)` in UTC: trailing zeros of the fraction are dropped. */
export function formatRfc3339Nano(epochNs: bigint): string {
  const seconds = epochNs / NS_PER_SECOND;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = (epochNs % NS_PER_SECOND).toString().padStart(9, '0').replace(/0+$/, '');
  return fraction === '' ? `${base}Z` : `${base}.${fraction}Z`;
}

export function epochSeconds(epochNs: bigint): number {
  return Number(epochNs / NS_PER_SECOND);
}

/** `time.Duration.String()` for a whole number of seconds, e.g. `720h0m0s`, `1m30s`, `0s`. */
export function formatGoDuration(totalSeconds: number): string {
  if (totalSeconds === 0) return '0s';
  const sign = totalSeconds < 0 ? '-' : '';
  let rest = Math.abs(Math.trunc(totalSeconds));
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/** `time.ParseDuration`, plus the `d` suffix Vault's parseutil accepts. Returns seconds. */
function parseGoDuration(input: string): number {
  let rest = input;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`time: invalid duration "${input}"`);
  let total = 0;
  while (rest.length > 0) {
    const match = /^(\d*(?:\.\d*)?)([^\d.]+)/.exec(rest);
    if (match === null || match[1] === '' || match[1] === '.') {
      throw new Error(`time: invalid duration "${input}"`);
    }
    const unit = DURATION_UNITS[match[2]];
    if (unit === undefined) {
      throw new Error(`time: unknown unit "${match[2]}" in duration "${input}"`);
    }
    total += parseFloat(match[1]) * unit;
    rest = rest.slice(match[0].length);
  }
  return negative ? -total : total;
}

/**
 * `parseutil.ParseDurationSecond`, used for every TTL-like parameter: a number of seconds, a string
 * of digits, or a Go duration string such as `720h` or `1h30m`. Fractions of a second are dropped.
 */
export function parseDurationSeconds(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid duration ${value}`);
    return Math.trunc(value);
  }
  if (typeof value !== 'string') throw new Error(`could not parse ${typeof value} as a duration`);
  const text = value.trim();
  if (text === '') return 0;
  if (/[smhd]$/.test(text)) return Math.trunc(parseGoDuration(text));
  if (!/^[+-]?\d+$/.test(text)) {
    throw new Error(`strconv.ParseInt: parsing "${text}": invalid syntax`);
  }
  return parseInt(text, 10);
}

/** `strconv.ParseBool`. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** Go's `encoding/json` emits map keys in sorted order; Vault's data maps are Go maps. */
export function sortKeysDeep(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isJsonObject(value)) return value;
  const sorted: JsonObject = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeysDeep(value[key]);
  return sorted;
}

/**
 * `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; `json.Encoder.Encode`
 * additionally appends a newline. These characters can only occur inside JSON strings, so a plain
 * replacement on the serialised text is safe.
 */
export function encodeGoJson(value: unknown, trailingNewline: boolean): string {
  const text = JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => {
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return trailingNewline ? `${text}\n` : text;
}

/** Approximates Go's `%v` verb, used by Vault when it echoes a rejected input in an error. */
export function formatGoValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(formatGoValue).join(' ')}]`;
  if (isJsonObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${key}:${formatGoValue(value[key])}`);
    return `map[${entries.join(' ')}]`;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  return JSON.stringify(value) ?? '';
}

/** `multierror.Error.Error()` with the default list format, as used by Vault's core. */
export function multiErrorMessage(...messages: string[]): string {
  if (messages.length === 1) return `1 error occurred:\n\t* ${messages[0]}\n\n`;
  const points = messages.map((message) => `* ${message}`).join('\n\t');
  return `${messages.length} errors occurred:\n\t${points}\n\n`;
}
