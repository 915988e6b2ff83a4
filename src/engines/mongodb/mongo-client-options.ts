import type { MongoClientOptions } from 'mongodb';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { engineSettings } from '../../config/engine-config.js';
import { mongodbConfig } from './mongodb-config.js';

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
 * The options are checked by the engine's schema (mongodb-config.ts), which loading the configuration already ran:
 * on a loaded configuration this never throws; on one made in code it throws the same ConfigurationError, naming
 * `databases (id).field` and never the password.
 */
export function mongoClientOptions(config: ResolvedDatabaseConfig): MongoConnectionPlan {
  const settings = engineSettings(mongodbConfig, config);
  const url = config.url ?? `mongodb://${hostPort(config.host, config.port)}/`;
  const inUrl = urlOptionNames(config.url);
  const options: MongoClientOptions = { monitorCommands: true };

  if (!inUrl.has('appname')) options.appName = config.applicationName;
  if (!inUrl.has('maxpoolsize')) options.maxPoolSize = config.poolSize;
  if (!inUrl.has('serverselectiontimeoutms')) options.serverSelectionTimeoutMS = config.timeout;
  if (!inUrl.has('connecttimeoutms')) options.connectTimeoutMS = config.timeout;

  if (config.username !== undefined) {
    // The driver wants both keys present; an undefined password suits mechanisms without one (MONGODB-X509).
    options.auth = { username: config.username, password: config.password };
  }

  if (settings.replicaSet !== undefined) options.replicaSet = settings.replicaSet;
  if (settings.authSource !== undefined) options.authSource = settings.authSource;
  else if (config.url === undefined && config.username !== undefined) options.authSource = config.database;
  if (settings.directConnection !== undefined) options.directConnection = settings.directConnection;
  const transactionTimeLimitMs = settings.transactionTimeLimitMs;

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
