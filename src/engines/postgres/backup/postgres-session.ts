import pg from 'pg';
import type { DedicatedSession, Row, SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';

/** How a backup reaches the server: a datakeep SQL adapter, pg client settings, or a connection URL. */
export type PostgresConnection = SqlDatabaseAdapter | pg.ClientConfig | string;

/** The slice of a SQL session the backup uses. */
export interface BackupSession {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * Runs `fn` on one server session held from start to end: `pg_backup_start` and `pg_backup_stop` must run on the same
 * session, and a session that dies ends its backup mode with it (so a killed backup never leaves the server stuck).
 */
export async function withBackupSession<T>(connection: PostgresConnection, fn: (session: BackupSession) => Promise<T>): Promise<T> {
  if (isAdapter(connection)) {
    return connection.withSession((session: DedicatedSession) => fn(session));
  }
  const client = new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
  // A server that goes away mid-backup surfaces as the failing query's error; the event must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn({
      query: async <R extends Row = Row>(sql: string, params?: readonly unknown[]) =>
        (await client.query<R>(sql, params as unknown[] | undefined)).rows,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

function isAdapter(connection: PostgresConnection): connection is SqlDatabaseAdapter {
  return typeof connection === 'object' && typeof (connection as Partial<SqlDatabaseAdapter>).withSession === 'function';
}
