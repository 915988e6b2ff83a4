import type { Redis, RedisOptions } from 'ioredis';
import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { redisTlsOptions } from '../redis-client-options.js';

/** Where and how to reach one Redis process (a data node or a Sentinel) for an administrative step. */
export interface RedisEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly config?: ResolvedDatabaseConfig;
}

/** A replication node as an endpoint: its own host and port, the primary's credentials and TLS. */
export function nodeEndpoint(node: ReplicationNode): RedisEndpoint {
  return { name: node.name, host: node.host, port: node.port, username: node.config.username, password: node.config.password, config: node.config };
}

/**
 * Opens one short-lived connection to `endpoint`, runs `fn` on it and closes it. Administrative steps go straight to
 * the node named (never through Sentinel, never through the adapter's pool), and nothing is retried: a node that does
 * not answer within `timeoutMs` is a ReplicationError('unreachable') naming it and the step, and a command that does
 * not finish in time is ReplicationError('timeout'). ioredis is loaded on first use, as the adapter loads it.
 */
export async function withRedisNode<T>(endpoint: RedisEndpoint, step: string, timeoutMs: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const { Redis } = await import('ioredis');
  const options: RedisOptions = {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    tls: endpoint.config ? redisTlsOptions(endpoint.config) : undefined,
    lazyConnect: true,
    connectTimeout: Math.max(1, timeoutMs),
    commandTimeout: Math.max(1, timeoutMs),
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    protocol: 2,
  };
  const client = new Redis(options);
  // Errors surface through the rejected commands; the listener keeps ioredis from printing them.
  client.on('error', () => undefined);
  try {
    try {
      await client.connect();
    } catch (error) {
      throw new ReplicationError('unreachable', `${endpoint.name} (${endpoint.host}:${endpoint.port}) did not answer during ${step}: ${describe(error)}`, { node: endpoint.name, step, cause: error });
    }
    return await fn(client);
  } catch (error) {
    if (error instanceof ReplicationError) throw error;
    // After the connection was made, a lost connection is 'failed', not 'unreachable': the node answered, and may have
    // done part of the step (another client, e.g. Sentinel reconfiguring it, can close our connection).
    const reason = /timed? ?out/i.test(describe(error)) ? 'timeout' : 'failed';
    throw new ReplicationError(reason, `${endpoint.name}: ${step} failed: ${describe(error)}`, { node: endpoint.name, step, cause: error });
  } finally {
    client.disconnect();
  }
}

/** Runs one command (`['REPLICAOF', 'NO', 'ONE']`) and returns the raw reply. */
export function call(client: Redis, args: readonly (string | number)[]): Promise<unknown> {
  const [command, ...rest] = args;
  return client.call(String(command), ...rest.map(String));
}

/** Polls `check` every `intervalMs` until it returns a value, or throws ReplicationError('timeout') at `deadline`. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, deadline: number, onTimeout: () => ReplicationError, intervalMs = 25): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw onTimeout();
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
