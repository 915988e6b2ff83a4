import type { ConnectionOptions } from 'node:tls';
import type { RedisOptions } from 'ioredis';
import { describe, isPlainObject } from '../../config/config-checks.js';
import { nodeTlsOptions } from '../../config/tls-options.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { ConfigurationError } from '../../errors/index.js';

/** Sentinel mode, from `options` of a redis database configuration. */
export interface RedisSentinelSettings {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  readonly masterName: string;
  readonly sentinelUsername: string | undefined;
  readonly sentinelPassword: string | undefined;
}

/**
 * Validates the Redis-specific parts of a resolved configuration: the db index is a number the client can send, the
 * client name has no spaces (CLIENT SETNAME refuses them), isolationLevel does not apply, and Sentinel options are
 * complete. Returns the Sentinel settings, or undefined for a direct connection.
 */
export function checkRedisConfig(config: ResolvedDatabaseConfig): RedisSentinelSettings | undefined {
  const field = (key: string) => `databases (${config.id}).${key}`;
  const db = Number(config.database);
  if (!Number.isSafeInteger(db) || db < 0) {
    throw new ConfigurationError(field('database'), `"${config.database}" is not a Redis database index`, 'Use a number such as "0"');
  }
  if (/\s/.test(config.applicationName)) {
    throw new ConfigurationError(field('applicationName'), `"${config.applicationName}" contains whitespace, which Redis CLIENT SETNAME refuses`, 'Use a name without spaces, e.g. "my-app"');
  }
  if (config.isolationLevel !== undefined) {
    throw new ConfigurationError(field('isolationLevel'), 'does not apply to redis (MULTI/EXEC has no isolation levels)', 'Remove isolationLevel from this database');
  }
  const o = config.options;
  if (o.sentinels === undefined && o.masterName === undefined) {
    for (const key of ['sentinelUsername', 'sentinelPassword'] as const) {
      if (o[key] !== undefined) throw new ConfigurationError(field(`options.${key}`), 'is given without options.sentinels', 'Add options.sentinels and options.masterName, or remove it');
    }
    return undefined;
  }
  if (!Array.isArray(o.sentinels) || o.sentinels.length === 0) {
    throw new ConfigurationError(field('options.sentinels'), `expected a non-empty array of {host, port}, got ${describe(o.sentinels)}`, 'Give e.g. sentinels: [{host: "10.0.0.1", port: 26379}, ...] (use at least three sentinels in production)');
  }
  const sentinels = o.sentinels.map((entry: unknown, i: number) => {
    const at = field(`options.sentinels[${i}]`);
    if (!isPlainObject(entry)) throw new ConfigurationError(at, `expected {host, port}, got ${describe(entry)}`, 'Give {host: "10.0.0.1", port: 26379}');
    const { host, port } = entry;
    if (typeof host !== 'string' || host.trim() === '') throw new ConfigurationError(`${at}.host`, `expected a host name, got ${describe(host)}`, 'Give the sentinel host as a string');
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigurationError(`${at}.port`, `expected an integer port, got ${describe(port)}`, 'Use a port between 1 and 65535 (Sentinel listens on 26379 by default)');
    }
    for (const key of Object.keys(entry)) {
      if (key !== 'host' && key !== 'port') throw new ConfigurationError(`${at}.${key}`, 'is not a known field', 'Known fields: host, port');
    }
    return Object.freeze({ host, port });
  });
  if (typeof o.masterName !== 'string' || o.masterName.trim() === '') {
    throw new ConfigurationError(field('options.masterName'), `expected the name Sentinel monitors the master under, got ${describe(o.masterName)}`, 'Give e.g. masterName: "mymaster" (the name in "sentinel monitor <name> ...")');
  }
  for (const key of ['sentinelUsername', 'sentinelPassword'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') throw new ConfigurationError(field(`options.${key}`), `expected a string, got ${typeof o[key]}`, `Write ${key} as a string`);
  }
  const sentinelPassword = o.sentinelPassword as string | undefined;
  return Object.freeze({ sentinels: Object.freeze(sentinels), masterName: o.masterName, sentinelUsername: o.sentinelUsername as string | undefined, sentinelPassword });
}

/** datakeep's ssl setting as the options ioredis hands to `tls.connect`. */
export function redisTlsOptions(config: ResolvedDatabaseConfig): ConnectionOptions | undefined {
  return nodeTlsOptions(config);
}

/**
 * The ioredis options shared by every connection of one adapter. The caller adds the lifecycle hooks
 * (retryStrategy, reconnectOnError). Choices, and why:
 * - `lazyConnect`: connect() is the adapter's, so that it can retry, count failures and report typed errors;
 * - `protocol: 2`: RESP2 replies are plain strings, numbers, arrays and null on every server and proxy;
 * - `maxRetriesPerRequest: 2`: a command issued while the connection is down waits through at most three reconnect
 *   attempts, then fails with a ConnectionError instead of waiting forever in the offline queue;
 * - `failoverDetector`: in Sentinel mode ioredis subscribes to `+switch-master` and moves to the new master at once.
 */
export function redisClientOptions(config: ResolvedDatabaseConfig, sentinel: RedisSentinelSettings | undefined): RedisOptions {
  const tls = redisTlsOptions(config);
  const common: RedisOptions = {
    lazyConnect: true,
    db: Number(config.database),
    username: config.username,
    password: config.password,
    connectTimeout: config.timeout,
    commandTimeout: config.statementTimeout,
    connectionName: config.applicationName,
    protocol: 2,
    enableReadyCheck: true,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 2,
  };
  if (!sentinel) return { ...common, host: config.host, port: config.port, tls };
  return {
    ...common,
    sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: sentinel.masterName,
    role: 'master',
    sentinelUsername: sentinel.sentinelUsername,
    sentinelPassword: sentinel.sentinelPassword,
    failoverDetector: true,
    // Bounded: when no sentinel answers, connect() must fail rather than loop forever (ioredis' default retries for
    // ever, which would leave commands waiting in the offline queue).
    sentinelRetryStrategy: (times: number) => (times <= 2 ? 100 * times : null),
    tls,
    enableTLSForSentinelMode: tls !== undefined,
    sentinelTLS: tls,
  };
}
