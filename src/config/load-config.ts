import { existsSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ConfigurationError } from '../errors/index.js';
import type { BackupsSection } from './backups-schema.js';
import type { ResolvedDatakeepConfig } from './datakeep-config.js';
import { datakeepConfigSchema } from './datakeep-config-schema.js';
import { describeValue } from './describe-value.js';
import { expandEnvReferences } from './expand-env.js';
import type { MigrationsSection } from './migrations-schema.js';
import { parseConfig } from './parse-config.js';
import { resolveDatabaseConfigs } from './resolve-database-config.js';
import { resolveLifecycleConfig, type DataLifecycleConfig } from './lifecycle-config.js';
import { parseReplicationConfig } from './replication-config.js';
import type { ReplicationConfig } from '../replication/replication-types.js';
import { stateUrl as stateUrlSchema } from './state-schema.js';
import { transactionsSchema, type TransactionManagerOptions } from './transactions-schema.js';

export const DEFAULT_CONFIG_FILE = 'datakeep.config.json';

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
 * default. `${NAME}` in any string of the file is replaced by the environment variable NAME (percent-encoded inside
 * a URL's user:password part; see expandEnvReferences), so secrets can stay out of the file. `$DATAKEEP_STATE_URL` overrides `state.url`.
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
    throw new ConfigurationError(source, `expected an object, got ${describeValue(input)}`, 'Write {"databases": [...], "state": {...}}');
  }
  const config = parseConfig(datakeepConfigSchema(cwd), input, '');
  const databases = resolveDatabaseConfigs(config.databases ?? [], 'databases');
  const embeddedDefault = databases.length === 0;
  const finalDatabases = embeddedDefault ? resolveDatabaseConfigs([{ type: 'pglite' }], 'databases') : databases;

  const stateUrl = env.DATAKEEP_STATE_URL === undefined ? config.state.url : parseConfig(stateUrlSchema, env.DATAKEEP_STATE_URL, 'DATAKEEP_STATE_URL');
  // The sections for subsystems stay as written (checked): they are merged with CLI flags or configure() before
  // their defaults apply.
  const section = <T>(value: unknown) => (value === undefined ? undefined : (Object.freeze({ ...(value as object) }) as Readonly<T>));
  return Object.freeze({
    databases: finalDatabases,
    state: Object.freeze({ url: stateUrl, dir: config.state.dir }),
    logLevel: config.logLevel,
    migrations: section<MigrationsSection>(input.migrations),
    backups: section<BackupsSection>(input.backups),
    transactions: section<TransactionManagerOptions>(input.transactions),
    lifecycle: input.lifecycle === undefined ? undefined : (resolveLifecycleConfig(input.lifecycle, 'lifecycle'), section<DataLifecycleConfig>(input.lifecycle)),
    replication: input.replication === undefined ? undefined : (parseReplicationConfig(input.replication, 'replication'), section<ReplicationConfig>(input.replication)),
    server: Object.freeze(config.server),
    cache: config.cache === undefined ? undefined : Object.freeze({ ...config.cache }),
    source,
    embeddedDefault,
  });
}

/**
 * `datakeep config check`: everything initialize() checks, without connecting, and the `transactions` section, which
 * initialize() leaves to the transaction manager's first use.
 */
export function checkConfig(options: LoadConfigOptions = {}): ResolvedDatakeepConfig {
  const config = loadConfig(options);
  if (config.transactions !== undefined) parseConfig(transactionsSchema, config.transactions, 'transactions');
  return config;
}

function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') return expandEnvReferences(value, env, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, path ? `${path}.${k}` : k)]));
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
