import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import { AuthenticationError, LifecycleError, ReplicationError, TimeoutError, UsageError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { PostgresAdapter } from '../postgres-adapter.js';

/**
 * The PostgreSQL driver's `route`: points a PostgresAdapter at `node` without a restart. A pool to the node is opened
 * and its first connection proven within `timeoutMs`; if that fails (ReplicationError 'timeout' or 'unreachable';
 * 'refused' for credentials the node rejects or an adapter that is not open) the adapter keeps its old target. Then
 * new statements and transactions use the new pool, and the old one is ended: idle sessions are closed, sessions in use
 * finish (or fail) and are closed when released. Metrics carry on; health() and metrics() name the new endpoint.
 *
 * From the first call on (even one naming the node the adapter already uses), the adapter counts as routed: failures
 * caused by the primary changing or going away are FailoverErrors saying whether the statement may have committed.
 */
export async function routePostgresAdapter(adapter: DatabaseAdapter, node: ReplicationNode, options: { timeoutMs: number }): Promise<void> {
  if (!(adapter instanceof PostgresAdapter)) {
    throw new UsageError('adapter', `routing needs a PostgreSQL adapter (${adapter.id} is ${adapter.type}); route each database with its own engine's driver`);
  }
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new UsageError('timeoutMs', `expected a positive number of milliseconds, got ${String(options.timeoutMs)}`);
  }
  try {
    await adapter.routeTo({ host: node.host, port: node.port, name: node.name }, options.timeoutMs);
  } catch (error) {
    const context = { node: node.name, step: 'route', cause: error };
    const why = error instanceof Error ? error.message : String(error);
    if (error instanceof TimeoutError) {
      throw new ReplicationError('timeout', `${adapter.id}: could not route to ${node.name}: no connection within ${options.timeoutMs} ms; the adapter still uses its previous server`, context);
    }
    if (error instanceof AuthenticationError || error instanceof LifecycleError) {
      throw new ReplicationError('refused', `${adapter.id}: could not route to ${node.name}: ${why}; the adapter still uses its previous server`, context);
    }
    throw new ReplicationError('unreachable', `${adapter.id}: could not route to ${node.name}: ${why}; the adapter still uses its previous server`, context);
  }
}
