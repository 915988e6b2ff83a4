import { inspect } from 'node:util';
import { z } from 'zod';
import { ConfigurationError } from '../errors/index.js';
import type { EngineDefinition } from '../engines/engine-definition.js';
import { ENGINES, findEngineByType, getEngine } from '../engines/engine-registry.js';
import { REDACTED } from '../util/secrets.js';
import { list, text } from './config-fields.js';
import type { DatabaseConfig, ResolvedDatabaseConfig } from './database-config.js';
import { databaseSchema } from './database-schema.js';
import { describeValue } from './describe-value.js';
import { FileCredentialSource, staticCredentials, type CredentialSource } from './credential-source.js';
import { engineSettings } from './engine-config.js';
import { hint, parseConfig } from './parse-config.js';
import { parseDatabaseUrl } from './parse-database-url.js';

const TYPE_LIST = ENGINES.map((e) => e.type).join(', ');
const ENTRY_FIX = 'Give {type, host, port, database, ...} or a URL such as postgres://user@localhost:5432/app';

/** What is read before the engine is known: the entry is an object, and its url and type are strings. */
const entryHead = z.looseObject(
  { url: text().optional(), type: text().optional() },
  { error: (iss) => hint(`expected an object or a URL string, got ${describeValue(iss.input)}`, ENTRY_FIX) },
);

const schemas = new Map<EngineDefinition, ReturnType<typeof databaseSchema>>();
function schemaFor(engine: EngineDefinition): ReturnType<typeof databaseSchema> {
  let schema = schemas.get(engine);
  if (!schema) {
    schema = databaseSchema(engine, ENGINES.filter((e) => e.config.dataDir !== undefined).map((e) => e.type));
    schemas.set(engine, schema);
  }
  return schema;
}

/**
 * Validates one database configuration (an object or a URL string) and returns it frozen with defaults applied:
 * the shared fields, the URL's parts under the explicit fields, and what the engine says about `database`, `dataDir`
 * and the keys of `options`. `path` names the entry in messages, e.g. `databases[1]`. The engine's rules over its
 * options' values run in resolveDatabaseConfigs (and again in the adapter's option builder).
 */
export function resolveDatabaseConfig(input: unknown, path: string): ResolvedDatabaseConfig {
  const raw = typeof input === 'string' ? { url: input } : input;
  const head = parseConfig(entryHead, raw, path);
  const fromUrl: DatabaseConfig = head.url === undefined ? {} : parseDatabaseUrl(head.url, `${path}.url`);
  if (fromUrl.port !== undefined && (fromUrl.port < 1 || fromUrl.port > 65535)) {
    throw new ConfigurationError(`${path}.url`, `port ${fromUrl.port} is out of range`, 'Use a port between 1 and 65535');
  }
  const engine = chooseEngine(head.type, fromUrl.type, path);
  // Explicit fields override the URL's parts; an explicit undefined leaves the URL's.
  const explicit = Object.entries(raw as Record<string, unknown>).filter(([, value]) => value !== undefined);
  const entry = parseConfig(schemaFor(engine), { ...fromUrl, ...Object.fromEntries(explicit) }, path);
  const id = entry.id ?? `${engine.type}-${entry.host}-${entry.database}`;

  const resolved = {
    id, type: engine.type, host: entry.host, port: entry.port, database: entry.database, username: entry.username, ssl: entry.ssl,
    poolSize: entry.poolSize, timeout: entry.timeout, retryAttempts: entry.retryAttempts, default: entry.default,
    statementTimeout: entry.statementTimeout, applicationName: entry.applicationName, circuitBreaker: Object.freeze(entry.circuitBreaker),
    isolationLevel: entry.isolationLevel, dataDir: entry.dataDir, options: entry.options,
  } as Record<string, unknown>;
  const credentials = entry.passwordFile === undefined ? staticCredentials(entry.password) : new FileCredentialSource(entry.passwordFile, entry.password ?? '');
  return freezeWithSecrets(resolved, credentials, head.url);
}

/**
 * Secrets are non-enumerable so that JSON.stringify, spreading and util.inspect never show them (pg-pool does the
 * same with its password). `password` is a getter on the credential source, so every reader (a pool opened after a
 * rotation, pg_basebackup's PGPASSWORD) gets the password of now.
 */
function freezeWithSecrets(resolved: Record<string, unknown>, credentials: CredentialSource, url: string | undefined): ResolvedDatabaseConfig {
  Object.defineProperty(resolved, 'password', { get: () => credentials.current(), enumerable: false });
  Object.defineProperty(resolved, 'credentials', { value: credentials, enumerable: false });
  Object.defineProperty(resolved, 'url', { value: url, enumerable: false });
  Object.defineProperty(resolved, inspect.custom, {
    enumerable: false,
    value: () => ({ ...resolved, password: credentials.current() === undefined ? undefined : REDACTED }),
  });
  return Object.freeze(resolved) as unknown as ResolvedDatabaseConfig;
}

function chooseEngine(typeName: string | undefined, urlType: string | undefined, path: string): EngineDefinition {
  const name = typeName ?? urlType;
  if (name === undefined) {
    throw new ConfigurationError(`${path}.type`, 'is missing', `Set type to one of: ${TYPE_LIST} (or give a url)`);
  }
  const engine = findEngineByType(name);
  if (!engine) {
    throw new ConfigurationError(`${path}.type`, `"${name}" is not a supported database type`, `Use one of: ${TYPE_LIST}`);
  }
  if (urlType !== undefined && urlType !== engine.type) {
    throw new ConfigurationError(`${path}.type`, `"${name}" contradicts the url's scheme (${urlType})`, 'Remove type or make it match the url');
  }
  return engine;
}

const databaseList = list(z.unknown(), 'Give [{type, host, port, database, ...}, ...]', 'an array of database configurations');

/**
 * Validates a list of configurations: each entry with its engine's rules (named by position, `databases[1]`), unique
 * ids, at most one default.
 */
export function resolveDatabaseConfigs(inputs: unknown, path: string): ResolvedDatabaseConfig[] {
  const out = parseConfig(databaseList, inputs, path).map((entry, i) => {
    const config = resolveDatabaseConfig(entry, `${path}[${i}]`);
    engineSettings(getEngine(config.type).config, config, `${path}[${i}]`);
    return config;
  });
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

/**
 * The same database at another endpoint (a replica of it): every setting kept, the endpoint and, when given, the
 * credentials replaced; the secrets stay non-enumerable. `url` is dropped, since it names the original endpoint.
 */
export function withEndpoint(
  config: ResolvedDatabaseConfig,
  endpoint: { id: string; host: string; port: number; database?: string; username?: string; password?: string },
): ResolvedDatabaseConfig {
  // Without a password of its own, the endpoint follows the original's source (a rotated passwordFile included).
  const credentials = endpoint.password === undefined ? config.credentials : staticCredentials(endpoint.password);
  const resolved = { ...config, id: endpoint.id, host: endpoint.host, port: endpoint.port, database: endpoint.database ?? config.database, username: endpoint.username ?? config.username, default: false } as Record<string, unknown>;
  return freezeWithSecrets(resolved, credentials, undefined);
}
