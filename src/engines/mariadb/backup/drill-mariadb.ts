import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DrillChecks, DrillRunResult } from '../../../backup/drill-types.js';
import { freePort } from '../../../util/free-port.js';
import { mariadbOsUser, startRestoredServer, stopRestoredServer, type RestoredServer } from './restored-server.js';

/**
 * One restore drill: restore through the manager (the path a real restore takes) into a scratch directory, then
 * restart the restored server with a temporary administrator, count the rows of the largest tables, run the user's
 * check, stop it and remove everything. Never throws: a failed drill is a result with its error.
 */
export async function drillMariadb(input: { kind: DrillRunResult['kind']; target?: Date; checks?: DrillChecks; restore: (to: string, port: number) => Promise<{ backupId: string }> }): Promise<DrillRunResult> {
  const started = performance.now();
  const scratch = await mkdtemp(join(tmpdir(), 'datakeep-drill-'));
  const to = join(scratch, 'data');
  let backupId: string | undefined;
  const tables: { name: string; rows: number }[] = [];
  let check: DrillRunResult['check'];
  let error: string | undefined;
  let server: RestoredServer | undefined;
  try {
    await chmod(scratch, 0o755);
    const user = mariadbOsUser();
    if (user) await chown(scratch, user.uid, user.gid);
    const port = await freePort('127.0.0.1');
    backupId = (await input.restore(to, port)).backupId;
    // The restore left the server running without any account of datakeep's: restart it with one for the checks.
    await stopRestoredServer(to);
    server = await startRestoredServer({ dataDir: to, port, admin: true });
    const session = await server.connect();
    try {
      const largest = await session.query<{ name: string }[]>(
        `SELECT CONCAT('\`', REPLACE(table_schema, '\`', '\`\`'), '\`.\`', REPLACE(table_name, '\`', '\`\`'), '\`') AS name FROM information_schema.tables
          WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql', 'sys', 'performance_schema', 'information_schema')
          ORDER BY data_length + index_length DESC, table_name LIMIT ?`, [input.checks?.tables ?? 5]);
      for (const { name } of largest) {
        const [row] = await session.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM ${name}`);
        tables.push({ name, rows: Number(row!.n) });
      }
      if (input.checks?.sql !== undefined) {
        const rows = await session.query({ sql: input.checks.sql, rowsAsArray: true }) as unknown[][];
        const value = rows[0]?.[0];
        check = { sql: input.checks.sql, ok: value === 1 || value === true || value === '1', value };
      }
    } finally {
      await session.end().catch(() => undefined);
    }
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    await server?.stop().catch(() => undefined);
    await stopRestoredServer(to).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
  return {
    kind: input.kind, target: input.target?.toISOString(), backupId, ok: error === undefined && (check?.ok ?? true),
    durationMs: Math.round(performance.now() - started), tables, check, error,
  };
}
