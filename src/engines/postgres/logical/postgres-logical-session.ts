import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import pg from 'pg';
import type { Row } from '../../../adapters/database-adapter.js';
import { sliceQuery, type LogicalSession, type TableCopy } from './logical-session.js';
import { PgCopyIn } from './pg-copy-in.js';
import { PgCopyOut } from './pg-copy-out.js';

/** A LogicalSession on one node-postgres client (the caller owns the client and ends it). */
export function postgresLogicalSession(client: pg.Client): LogicalSession {
  // pg runs any object with a `submit` method as a query (its extension point for COPY); its types only know configs.
  const submit = <Q>(query: Q): Q => (client as unknown as { query(q: Q): Q }).query(query);
  return {
    query: async <T extends Row = Row>(sql: string, params?: readonly unknown[]) => (await client.query<T>(sql, params as unknown[] | undefined)).rows,
    script: async (sql) => {
      await client.query(sql);
    },
    copyOut: (table: TableCopy, onBytes?: (bytes: number) => void): PgCopyOut => submit(new PgCopyOut(table.slice
      ? `COPY (${sliceQuery(table, table.slice)}) TO STDOUT`
      : `COPY ${table.name} (${table.columns.join(', ')}) TO STDOUT`, onBytes)),
    copyIn: async (table: TableCopy, rows: Readable) => {
      await pipeline(rows, submit(new PgCopyIn(`COPY ${table.name} (${table.columns.join(', ')}) FROM STDIN`)));
    },
  };
}

/** Opens a client; a server that goes away surfaces as the failing query's error, never as a process crash. */
export async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
