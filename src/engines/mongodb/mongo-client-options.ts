import type { MongoClientOptions } from 'mongodb';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { ConfigurationError } from '../../errors/index.js';
import { DEFAULT_TRANSACTION_TIME_LIMIT_MS } from './decide-transaction-retry.js';

/** How to build the MongoClient for one configuration, and the adapter settings that are not driver options. */
export interface MongoConnectionPlan {
  /** The connection string: the configured URL as given (all hosts, its options), or one built from host and port. */
  readonly url: string;
  readonly options: MongoClientOptions;
  /** The database that commands address unless they name another. */
  readonly database: string;
  readonly transactionTimeLimitMs: number;
  /** The pool size per server that the client will use (the URL's maxPoolSize, else poolSize). */
  readonly maxPoolSize: number;
  /** How long the driver waits for a usable server (the URL's serverSelectionTimeoutMS, else timeout), for messages. */
  readonly serverSelectionTimeoutMs: number;
}

/**
 * Maps datakeep's configuration to the driver's. With a URL, the URL's own query options win over datakeep's defaults
 * (a URL that says maxPoolSize=50 keeps 50, though poolSize defaults to 10), while `options.*` given explicitly in the
 * configuration win over the URL. Without a URL, the seed's fields describe one host; the credentials go in `auth`
 * (never into a URL string that could be printed) and `authSource` defaults to `database`, exactly as the equivalent
 * URL `mongodb://user:pass@host:port/database` would mean.
 * Errors name `databases (id).field` and never contain the password.
 */
export function mongoClientOptions(config: ResolvedDatabaseConfig): MongoConnectionPlan {
  const field = (name: string) => `databases (${config.id}).${name}`;
  const url = config.url ?? `mongodb://${hostPort(config.host, config.port)}/`;
  const inUrl = urlOptionNames(config.url);
  const options: MongoClientOptions = { monitorCommands: true };

  if (!inUrl.has('appname')) options.appName = config.applicationName;
  if (!inUrl.has('maxpoolsize')) options.maxPoolSize = config.poolSize;
  if (!inUrl.has('serverselectiontimeoutms')) options.serverSelectionTimeoutMS = config.timeout;
  if (!inUrl.has('connecttimeoutms')) options.connectTimeoutMS = config.timeout;

  if (config.password !== undefined && config.username === undefined) {
    throw new ConfigurationError(field('username'), 'is missing while a password is given', 'Give the username the password belongs to');
  }
  if (config.username !== undefined) {
    // The driver wants both keys present; an undefined password suits mechanisms without one (MONGODB-X509).
    options.auth = { username: config.username, password: config.password };
  }

  const opts = config.options;
  const replicaSet = opts.replicaSet;
  if (replicaSet !== undefined) {
    if (typeof replicaSet !== 'string' || replicaSet === '') {
      throw new ConfigurationError(field('options.replicaSet'), 'must be a non-empty string', 'Give the replica set name as rs.status().set reports it, e.g. "rs0"');
    }
    options.replicaSet = replicaSet;
  }
  const authSource = opts.authSource;
  if (authSource !== undefined) {
    if (typeof authSource !== 'string' || authSource === '') {
      throw new ConfigurationError(field('options.authSource'), 'must be a non-empty string', 'Give the database the user was created in, e.g. "admin"');
    }
    options.authSource = authSource;
  } else if (config.url === undefined && config.username !== undefined) {
    options.authSource = config.database;
  }
  const directConnection = opts.directConnection;
  if (directConnection !== undefined) {
    if (typeof directConnection !== 'boolean') {
      throw new ConfigurationError(field('options.directConnection'), 'must be true or false', 'Write directConnection: true to talk to exactly this host, false to discover the replica set');
    }
    options.directConnection = directConnection;
  }
  if (replicaSet !== undefined && directConnection === true) {
    throw new ConfigurationError(field('options.directConnection'), 'is true together with replicaSet', 'Remove one: replicaSet discovers the set from the host, directConnection talks to that host only');
  }
  let transactionTimeLimitMs = DEFAULT_TRANSACTION_TIME_LIMIT_MS;
  const limit = opts.transactionTimeLimitMs;
  if (limit !== undefined) {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      throw new ConfigurationError(field('options.transactionTimeLimitMs'), 'must be an integer >= 1 (milliseconds)', `Give e.g. ${DEFAULT_TRANSACTION_TIME_LIMIT_MS} (the default)`);
    }
    transactionTimeLimitMs = limit;
  }

  if (config.ssl) {
    options.tls = true;
    const { ca, cert, key, rejectUnauthorized, servername } = config.ssl;
    if (ca !== undefined) options.ca = ca;
    if (cert !== undefined) options.cert = cert;
    if (key !== undefined) options.key = key;
    if (servername !== undefined) options.servername = servername;
    if (rejectUnauthorized === false) options.tlsAllowInvalidCertificates = true;
  }
  const maxPoolSize = positiveInteger(urlOptionValue(config.url, 'maxpoolsize')) ?? config.poolSize;
  const serverSelectionTimeoutMs = positiveInteger(urlOptionValue(config.url, 'serverselectiontimeoutms')) ?? config.timeout;
  return { url, options, database: config.database, transactionTimeLimitMs, maxPoolSize, serverSelectionTimeoutMs };
}

function positiveInteger(text: string | undefined): number | undefined {
  const value = Number(text);
  return text !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
}

function hostPort(host: string, port: number): string {
  // A Unix domain socket path is percent-encoded and carries no port, as the connection string specification says.
  if (host.startsWith('/')) return encodeURIComponent(host);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The (lower-cased) names of the options a mongodb:// URL sets in its query string. */
function urlOptionNames(url: string | undefined): Set<string> {
  return new Set([...urlQuery(url).keys()].map((k) => k.toLowerCase()));
}

/** A URL option's value; option names are case-insensitive in MongoDB connection strings. */
function urlOptionValue(url: string | undefined, lowerName: string): string | undefined {
  for (const [key, value] of urlQuery(url)) if (key.toLowerCase() === lowerName) return value;
  return undefined;
}

function urlQuery(url: string | undefined): URLSearchParams {
  const query = url?.indexOf('?') ?? -1;
  return query < 0 ? new URLSearchParams() : new URLSearchParams(url!.slice(query + 1));
}
