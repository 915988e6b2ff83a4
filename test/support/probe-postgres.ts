import pg from 'pg';

/**
 * The probe a manager would give the failover watcher: a fresh connection and `SELECT 1` within `timeoutMs`. False
 * on any failure (refused, timed out, paused server); the connection is dropped in the background either way.
 */
export async function probePostgres(port: number, timeoutMs = 300): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    void client.end().catch(() => undefined);
  }
}
