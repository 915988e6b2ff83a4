import type pg from 'pg';
import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import type { LogicalSession, LogicalTarget } from './logical-session.js';
import { postgresClientConfig } from './postgres-client-config.js';
import { connectClient, postgresLogicalSession } from './postgres-logical-session.js';
import { sessionPool } from './session-pool.js';

/**
 * A PostgreSQL database to restore into, with `workers` sessions. The database is created (from template0) when it
 * does not exist, and dropped again when the restore fails, so a failed restore leaves no half-filled database.
 */
export async function openPostgresTarget(config: ResolvedDatabaseConfig, workers: number): Promise<LogicalTarget> {
  const description = `postgresql://${config.host}:${config.port}/${config.database}`;
  const createdDatabase = await ensureDatabase(config);
  const clients: pg.Client[] = [];
  const free: LogicalSession[] = [];
  const count = Math.max(1, workers);
  try {
    await Promise.all(Array.from({ length: count }, async () => {
      const client = await connectClient(postgresClientConfig(config));
      clients.push(client);
      free.push(postgresLogicalSession(client));
    }));
  } catch (error) {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    if (createdDatabase) await dropDatabase(config).catch(() => undefined);
    throw error;
  }
  return {
    description,
    workers: count,
    session: sessionPool(free),
    close: async (failed) => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      if (failed && createdDatabase) await dropDatabase(config);
    },
  };
}

/** Creates the target database when it does not exist; true when it did so. */
async function ensureDatabase(config: ResolvedDatabaseConfig): Promise<boolean> {
  const admin = await connectClient(postgresClientConfig(config, 'postgres'));
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.database])).rowCount! > 0;
    if (exists) return false;
    await admin.query(`CREATE DATABASE ${quoteIdent(config.database)} TEMPLATE template0`);
    return true;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function dropDatabase(config: ResolvedDatabaseConfig): Promise<void> {
  const admin = await connectClient(postgresClientConfig(config, 'postgres'));
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(config.database)} WITH (FORCE)`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
