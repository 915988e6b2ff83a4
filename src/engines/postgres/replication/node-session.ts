import pg from 'pg';
import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { postgresTlsOptions } from '../postgres-tls.js';

/** One statement runner on a short-lived connection to one node. */
export interface NodeSession {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Quotes a string as a SQL literal (ALTER SYSTEM takes no parameters). */
  literal(value: string): string;
}

/**
 * Runs `fn` on a fresh connection to `node`, bounded by `timeoutMs` for the connect and for each statement (server
 * side and client side, since a frozen server never answers its own statement_timeout). Failures become a
 * ReplicationError naming the node and the step, with the server's message but never the credentials.
 */
export async function withNode<T>(node: ReplicationNode, step: string, timeoutMs: number, fn: (session: NodeSession) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    database: node.config.database,
    user: node.config.username,
    password: node.config.password,
    ssl: postgresTlsOptions(node.config),
    connectionTimeoutMillis: Math.max(1, timeoutMs),
    statement_timeout: Math.max(1, timeoutMs),
    query_timeout: Math.max(1, timeoutMs) + 1_000,
    application_name: 'datakeep-replication',
  });
  // A node killed mid-statement surfaces as that statement's error; the event must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new ReplicationError('unreachable', `${node.name} (${node.host}:${node.port}): cannot connect during ${step}: ${messageOf(error)}`, { node: node.name, step, cause: error });
  }
  try {
    return await fn({
      query: async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => (await client.query<R>(sql, params)).rows,
      literal: (value: string) => client.escapeLiteral(value),
    });
  } catch (error) {
    if (error instanceof ReplicationError) throw error;
    throw new ReplicationError('failed', `${node.name}: ${step} failed: ${messageOf(error)}`, { node: node.name, step, cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The error's own message, without a stack; pg never puts the password in its messages. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
