import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { resolve as resolvePath } from 'node:path';
import type { IsolationLevel } from '../adapters/capabilities.js';
import { ConfigurationError } from '../errors/index.js';
import { ENGINES, findEngineByType, getEngine } from '../engines/engine-registry.js';
import { REDACTED } from '../util/secrets.js';
import {
  describe,
  isPlainObject,
  optionalBoolean,
  optionalInteger,
  optionalString,
  rejectUnknownKeys,
} from './config-checks.js';
import type { DatabaseConfig, ResolvedDatabaseConfig, TlsConfig } from './database-config.js';
import { parseDatabaseUrl } from './parse-database-url.js';

const KNOWN_KEYS = [
  'type', 'host', 'port', 'database', 'username', 'password', 'ssl', 'poolSize', 'timeout', 'retryAttempts', 'id',
  'url', 'passwordFile', 'default', 'statementTimeout', 'applicationName', 'circuitBreaker', 'isolationLevel',
  'dataDir', 'options',
] as const;
const ISOLATION_LEVELS: readonly IsolationLevel[] = ['read uncommitted', 'read committed', 'repeatable read', 'serializable'];
const TYPE_LIST = ENGINES.map((e) => e.type).join(', ');

/**
 * Validates one database configuration (an object or a URL string) and returns it frozen with defaults applied.
 * All checks live here so that the API, the config file and the CLI give the same messages.
 * `path` names the entry in messages, e.g. `databases[1]`.
 */
export function resolveDatabaseConfig(input: unknown, path: string): ResolvedDatabaseConfig {
  if (typeof input === 'string') input = { url: input };
  if (!isPlainObject(input)) {
    throw new ConfigurationError(path, `expected an object or a URL string, got ${describe(input)}`, 'Give {type, host, port, database, ...} or a URL such as postgres://user@localhost:5432/app');
  }
  rejectUnknownKeys(input, KNOWN_KEYS, path);
  const raw = input as Record<string, unknown>;

  const url = optionalString(raw, 'url', path);
  const fromUrl: DatabaseConfig = url === undefined ? {} : parseDatabaseUrl(url, `${path}.url`);

  const typeName = optionalString(raw, 'type', path) ?? fromUrl.type;
  if (typeName === undefined) {
    throw new ConfigurationError(`${path}.type`, 'is missing', `Set type to one of: ${TYPE_LIST} (or give a url)`);
  }
  const engineDef = findEngineByType(typeName);
  if (!engineDef) {
    throw new ConfigurationError(`${path}.type`, `"${typeName}" is not a supported database type`, `Use one of: ${TYPE_LIST}`);
  }
  if (fromUrl.type && fromUrl.type !== engineDef.type) {
    throw new ConfigurationError(`${path}.type`, `"${typeName}" contradicts the url's scheme (${fromUrl.type})`, 'Remove type or make it match the url');
  }
  const engine = getEngine(engineDef.type);

  let password = optionalString(raw, 'password', path) ?? fromUrl.password;
  const passwordFile = optionalString(raw, 'passwordFile', path);
  if (passwordFile !== undefined) {
    if (password !== undefined) {
      throw new ConfigurationError(`${path}.passwordFile`, 'is given together with password', 'Keep only one of password and passwordFile');
    }
    try {
      password = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (cause) {
      throw new ConfigurationError(`${path}.passwordFile`, `cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Check the path and its permissions', { cause });
    }
  }

  let host = optionalString(raw, 'host', path) ?? fromUrl.host;
  if (engine.networked) {
    if (host === undefined || host.trim() === '') {
      throw new ConfigurationError(`${path}.host`, host === undefined ? 'is missing' : 'is empty', 'Give the server\'s host name or IP address, e.g. "localhost" (or a url)');
    }
  } else {
    host = 'embedded';
  }
  const port = optionalInteger(raw, 'port', path, 1, 65535) ?? fromUrl.port ?? engine.defaultPort;
  if (fromUrl.port !== undefined && (fromUrl.port < 1 || fromUrl.port > 65535)) {
    throw new ConfigurationError(`${path}.url`, `port ${fromUrl.port} is out of range`, 'Use a port between 1 and 65535');
  }
  let database = raw.database ?? fromUrl.database ?? engine.defaultDatabase;
  if (typeof database === 'number' && engine.type === 'redis') database = String(database);
  if (typeof database !== 'string' || database === '') {
    throw new ConfigurationError(`${path}.database`, `expected a non-empty string, got ${describe(database)}`, 'Give the database name (the db index for Redis, e.g. "0")');
  }
  if (engine.type === 'redis' && !/^\d+$/.test(database)) {
    throw new ConfigurationError(`${path}.database`, `"${database}" is not a Redis database index`, 'Use a number such as "0"');
  }
  const username = optionalString(raw, 'username', path) ?? fromUrl.username;
  const poolSize = optionalInteger(raw, 'poolSize', path, 1, 10_000) ?? 10;
  const timeout = optionalInteger(raw, 'timeout', path, 1, 3_600_000, ' (milliseconds)') ?? fromUrl.timeout ?? 10_000;
  const retryAttempts = optionalInteger(raw, 'retryAttempts', path, 0, 100) ?? 3;
  const statementTimeout = optionalInteger(raw, 'statementTimeout', path, 1, 2_147_483_647, ' (milliseconds)');
  const isDefault = optionalBoolean(raw, 'default', path) ?? false;
  const applicationName = optionalString(raw, 'applicationName', path) ?? fromUrl.applicationName ?? 'datakeep';
  const ssl = resolveTls(raw.ssl ?? fromUrl.ssl, `${path}.ssl`);

  let circuitBreaker = { failureThreshold: 5, resetTimeout: 10_000 };
  if (raw.circuitBreaker !== undefined) {
    if (!isPlainObject(raw.circuitBreaker)) {
      throw new ConfigurationError(`${path}.circuitBreaker`, `expected an object, got ${describe(raw.circuitBreaker)}`, 'Give {failureThreshold, resetTimeout}');
    }
    rejectUnknownKeys(raw.circuitBreaker, ['failureThreshold', 'resetTimeout'], `${path}.circuitBreaker`);
    circuitBreaker = {
      failureThreshold: optionalInteger(raw.circuitBreaker, 'failureThreshold', `${path}.circuitBreaker`, 1, 1000) ?? 5,
      resetTimeout: optionalInteger(raw.circuitBreaker, 'resetTimeout', `${path}.circuitBreaker`, 1, 3_600_000, ' (milliseconds)') ?? 10_000,
    };
  }

  const isolationLevel = optionalString(raw, 'isolationLevel', path) as IsolationLevel | undefined;
  if (isolationLevel !== undefined && !ISOLATION_LEVELS.includes(isolationLevel)) {
    throw new ConfigurationError(`${path}.isolationLevel`, `"${isolationLevel}" is not an isolation level`, `Use one of: ${ISOLATION_LEVELS.join(', ')}`);
  }

  let dataDir = optionalString(raw, 'dataDir', path) ?? fromUrl.dataDir;
  if (dataDir !== undefined && engine.type !== 'pglite') {
    throw new ConfigurationError(`${path}.dataDir`, `applies only to type pglite, not ${engine.type}`, 'Remove dataDir');
  }
  if (engine.type === 'pglite') {
    dataDir = dataDir === undefined ? resolvePath('.datakeep', 'data') : dataDir === 'memory' ? 'memory' : resolvePath(dataDir);
  }

  let options: Record<string, unknown> = {};
  if (raw.options !== undefined) {
    if (!isPlainObject(raw.options)) {
      throw new ConfigurationError(`${path}.options`, `expected an object, got ${describe(raw.options)}`, 'Give engine-specific options as an object');
    }
    rejectUnknownKeys(raw.options, engine.optionKeys, `${path}.options`);
    options = {};
    for (const [key, value] of Object.entries(raw.options)) {
      // Secret options (a Sentinel password) get the same treatment as `password`: readable, never enumerated.
      if (/password|secret/i.test(key)) {
        Object.defineProperty(options, key, { value, enumerable: false });
      } else {
        options[key] = value;
      }
    }
    Object.freeze(options);
  }

  const id = optionalString(raw, 'id', path) ?? `${engine.type}-${host}-${database}`;
  if (id.trim() === '') throw new ConfigurationError(`${path}.id`, 'is empty', 'Give a non-empty id or leave it out');

  const resolved = {
    id, type: engine.type, host, port, database, username, ssl, poolSize, timeout, retryAttempts,
    default: isDefault, statementTimeout, applicationName, circuitBreaker, isolationLevel, dataDir, options,
  } as Record<string, unknown>;
  // Secrets are non-enumerable so that JSON.stringify, spreading and util.inspect never show them (pg-pool does
  // the same with its password).
  Object.defineProperty(resolved, 'password', { value: password, enumerable: false });
  Object.defineProperty(resolved, 'url', { value: url, enumerable: false });
  Object.defineProperty(resolved, inspect.custom, {
    enumerable: false,
    value: () => ({ ...resolved, password: password === undefined ? undefined : REDACTED }),
  });
  return Object.freeze(resolved) as unknown as ResolvedDatabaseConfig;
}

function resolveTls(value: unknown, field: string): false | Readonly<TlsConfig> {
  if (value === undefined || value === false) return false;
  if (value === true) return Object.freeze({ rejectUnauthorized: true });
  if (!isPlainObject(value)) {
    throw new ConfigurationError(field, `expected true, false or {ca, cert, key, rejectUnauthorized}, got ${describe(value)}`, 'Write ssl: true, or an object with PEM text or file paths');
  }
  rejectUnknownKeys(value, ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'], field);
  const out: TlsConfig = { rejectUnauthorized: optionalBoolean(value, 'rejectUnauthorized', field) ?? true };
  for (const key of ['ca', 'cert', 'key'] as const) {
    const pem = optionalString(value, key, field);
    if (pem !== undefined) out[key] = readPem(pem, `${field}.${key}`);
  }
  const servername = optionalString(value, 'servername', field);
  if (servername !== undefined) out.servername = servername;
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ConfigurationError(field, 'has cert without key (or key without cert)', 'Give both cert and key for client certificate authentication');
  }
  // The key's text is a secret too: readable by the drivers, never enumerated (JSON, spreading, config check).
  if (out.key !== undefined) Object.defineProperty(out, 'key', { value: out.key, enumerable: false });
  return Object.freeze(out);
}

/** PEM text is used as given; anything else is a file path, read now so that a bad path fails at configuration time. */
function readPem(value: string, field: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (cause) {
    throw new ConfigurationError(field, `file "${value}" cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Give PEM text or a readable file path', { cause });
  }
}

/** Validates a list of configurations: each entry, unique ids, at most one default. */
export function resolveDatabaseConfigs(inputs: unknown, path: string): ResolvedDatabaseConfig[] {
  if (!Array.isArray(inputs)) {
    throw new ConfigurationError(path, `expected an array of database configurations, got ${describe(inputs)}`, 'Give [{type, host, port, database, ...}, ...]');
  }
  const out = inputs.map((entry, i) => resolveDatabaseConfig(entry, `${path}[${i}]`));
  const seen = new Map<string, number>();
  out.forEach((config, i) => {
    const first = seen.get(config.id);
    if (first !== undefined) {
      throw new ConfigurationError(`${path}[${i}].id`, `"${config.id}" is already used by ${path}[${first}]`, 'Give one of them a distinct id');
    }
    seen.set(config.id, i);
  });
  const defaults = out.filter((c) => c.default);
  if (defaults.length > 1) {
    throw new ConfigurationError(`${path}`, `${defaults.length} databases say default: true (${defaults.map((d) => d.id).join(', ')})`, 'Mark only one database as default');
  }
  return out;
}
