import { isSqlAdapter, type DatabaseAdapter, type SqlDatabaseAdapter } from '../../adapters/database-adapter.js';

/** The SQL side of an adapter that an engine part knows to be SQL (its own engine's); a broken promise is a bug. */
export function asSqlAdapter(adapter: DatabaseAdapter): SqlDatabaseAdapter {
  if (!isSqlAdapter(adapter)) throw new Error(`internal: ${adapter.id} (${adapter.type}) is not a SQL adapter`);
  return adapter;
}
