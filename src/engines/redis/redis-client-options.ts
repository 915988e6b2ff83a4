import type { ConnectionOptions } from 'node:tls';
import type { RedisOptions } from 'ioredis';
import { engineSettings } from '../../config/engine-config.js';
import { nodeTlsOptions } from '../../config/tls-options.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { redisConfig, type RedisSentinelSettings } from './redis-config.js';

export type { RedisSentinelSettings } from './redis-config.js';

/**
 * The Sentinel settings of a resolved configuration, or undefined for a direct connection. The rules are the engine's
 * schema (redis-config.ts), which loading the configuration already ran: on a loaded configuration this never throws;
 * on one made in code it throws the same ConfigurationError, naming the database by id.
 */
export function checkRedisConfig(config: ResolvedDatabaseConfig): RedisSentinelSettings | undefined {
  return engineSettings(redisConfig, config);
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
