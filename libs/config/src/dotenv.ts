import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

let loaded = false;

/**
 * Loads `./.env` into `process.env` once, without overriding variables that are already set.
 * Node's own parser is enough here: no dependency needed for KEY=value files.
 */
export function loadDotEnv(path = resolve(process.cwd(), '.env')): void {
  if (loaded) return;
  loaded = true;
  if (existsSync(path)) process.loadEnvFile(path);
}
