import type pg from 'pg';
import type { LogicalSession, LogicalSnapshot } from './logical-session.js';
import { connectClient, postgresLogicalSession } from './postgres-logical-session.js';
import { sessionPool } from './session-pool.js';

/**
 * An exported snapshot on a PostgreSQL server, as pg_dump -j takes it: the coordinator runs
 * `BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT pg_export_snapshot()` and stays open; each worker session begins its
 * own repeatable-read transaction with `SET TRANSACTION SNAPSHOT`, so all of them read the same instant.
 */
export async function openPostgresSnapshot(client: pg.ClientConfig, workers: number): Promise<LogicalSnapshot & { time: string; lsn: string | undefined }> {
  const opened: pg.Client[] = [];
  const close = async () => {
    await Promise.all(opened.map(async (c) => {
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end().catch(() => undefined);
    }));
  };
  try {
    const coordinator = await connectClient(client);
    opened.push(coordinator);
    await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const exported = (await coordinator.query<{ id: string; time: Date; lsn: string | null }>(
      `SELECT pg_export_snapshot() AS id, clock_timestamp() AS time, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn`)).rows[0]!;
    const free: LogicalSession[] = [];
    const count = Math.max(1, workers);
    await Promise.all(Array.from({ length: count }, async () => {
      const worker = await connectClient(client);
      opened.push(worker);
      await worker.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await worker.query(`SET TRANSACTION SNAPSHOT '${exported.id.replace(/'/g, "''")}'`);
      free.push(postgresLogicalSession(worker));
    }));
    return {
      session: postgresLogicalSession(coordinator),
      workers: count,
      time: exported.time.toISOString(),
      lsn: exported.lsn ?? undefined,
      worker: sessionPool(free),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
