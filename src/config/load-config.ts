import { existsSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ConfigurationError } from '../errors/index.js';
import type { LogLevel } from '../util/logger.js';
import { describe, isPlainObject, optionalString, rejectUnknownKeys } from './config-checks.js';
import type { ResolvedDatakeepConfig } from './datakeep-config.js';
import { resolveDatabaseConfigs } from './resolve-database-config.js';
import { resolveLifecycleConfig } from './lifecycle-config.js';

export const DEFAULT_CONFIG_FILE = 'datakeep.config.json';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LoadConfigOptions {
  /** Explicit file (`--config`); it must exist. */
  file?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Finds and validates the configuration. Precedence: `--config FILE`, then `$DATAKEEP_CONFIG`, then
 * `./datakeep.config.json`, then `$DATAKEEP_DATABASE_URL` (space- or comma-separated URLs), then the embedded
 * default. `${NAME}` in any string of the file is replaced by the environment variable NAME, so secrets can stay
 * out of the file. `$DATAKEEP_STATE_URL` overrides `state.url`.
 */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedDatakeepConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.DATAKEEP_CONFIG;
  const file = explicit ? resolvePath(cwd, explicit) : resolvePath(cwd, DEFAULT_CONFIG_FILE);
  if (explicit || existsSync(file)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new ConfigurationError('--config', `file "${file}" cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Check the path, or remove --config / DATAKEEP_CONFIG to use the defaults', { cause });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new ConfigurationError(file, `is not valid JSON (${(cause as Error).message})`, 'Fix the JSON syntax', { cause });
    }
    return resolveConfigObject(interpolateEnv(parsed, env, ''), file, env, cwd);
  }
  const urls = env.DATAKEEP_DATABASE_URL?.split(/[\s,]+/).filter(Boolean) ?? [];
  return resolveConfigObject({ databases: urls }, urls.length ? 'DATAKEEP_DATABASE_URL' : 'embedded default', env, cwd);
}

/** Validates a configuration object given in code (DataManager options) or read from a file. */
export function resolveConfigObject(
  input: unknown,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ResolvedDatakeepConfig {
  if (!isPlainObject(input)) {
    throw new ConfigurationError(source, `expected an object, got ${describe(input)}`, 'Write {"databases": [...], "state": {...}}');
  }
  rejectUnknownKeys(input, ['databases', 'state', 'logLevel', 'migrations', 'backups', 'transactions', 'lifecycle', '$schema'], 'config');
  const databases = resolveDatabaseConfigs(input.databases ?? [], 'databases');
  const embeddedDefault = databases.length === 0;
  const finalDatabases = embeddedDefault ? resolveDatabaseConfigs([{ type: 'pglite' }], 'databases') : databases;

  let stateUrl: string | undefined;
  let stateDir = resolvePath(cwd, '.datakeep', 'state');
  if (input.state !== undefined) {
    if (!isPlainObject(input.state)) {
      throw new ConfigurationError('state', `expected an object, got ${describe(input.state)}`, 'Write "state": {"url": "postgres://..."} or {"dir": "./.datakeep/state"}');
    }
    rejectUnknownKeys(input.state, ['url', 'dir'], 'state');
    stateUrl = optionalString(input.state, 'url', 'state');
    const dir = optionalString(input.state, 'dir', 'state');
    if (dir !== undefined) stateDir = resolvePath(cwd, dir);
  }
  stateUrl = env.DATAKEEP_STATE_URL ?? stateUrl;
  if (stateUrl !== undefined && !/^postgres(ql)?:\/\//i.test(stateUrl)) {
    throw new ConfigurationError('state.url', 'must be a PostgreSQL URL', 'Use postgres://user@host:5432/db, or remove it for the embedded state store');
  }

  const logLevel = (optionalString(input, 'logLevel', 'config') ?? 'warn') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigurationError('logLevel', `"${logLevel}" is not a log level`, `Use one of: ${LOG_LEVELS.join(', ')}`);
  }
  if (input.migrations !== undefined && !isPlainObject(input.migrations)) {
    throw new ConfigurationError('migrations', `expected an object, got ${describe(input.migrations)}`, 'Write "migrations": {"directory": "./migrations", "tableName": "..."}');
  }
  const migrations = input.migrations === undefined ? undefined : Object.freeze({ ...input.migrations });
  if (input.backups !== undefined && !isPlainObject(input.backups)) {
    throw new ConfigurationError('backups', `expected an object, got ${describe(input.backups)}`, 'Write "backups": {"destination": "./backups", "retention": {...}}');
  }
  const backups = input.backups === undefined ? undefined : Object.freeze({ ...input.backups });
  if (input.transactions !== undefined && !isPlainObject(input.transactions)) {
    throw new ConfigurationError('transactions', `expected an object, got ${describe(input.transactions)}`, 'Write "transactions": {"nodeId": "...", "recoveryInterval": 30000}');
  }
  const transactions = input.transactions === undefined ? undefined : Object.freeze({ ...input.transactions });
  // Checked here, so that `config check` refuses what setupLifecycleManagement would; kept as written for the manager.
  if (input.lifecycle !== undefined) resolveLifecycleConfig(input.lifecycle, 'lifecycle');
  const lifecycle = input.lifecycle;
  return Object.freeze({ databases: finalDatabases, state: Object.freeze({ url: stateUrl, dir: stateDir }), logLevel, migrations, backups, transactions, lifecycle, source, embeddedDefault });
}

function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        throw new ConfigurationError(path || 'config', `refers to environment variable ${name}, which is not set`, `Set ${name} or remove the reference`);
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, path ? `${path}.${k}` : k)]));
  }
  return value;
}
