import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../util/free-port.js';
import { serverOsUser } from './server-os-user.js';
import { stopRestoredCluster } from './start-restored-cluster.js';

export type { DrillChecks, DrillRunResult } from '../../../backup/drill-types.js';
import type { DrillChecks, DrillRunResult } from '../../../backup/drill-types.js';

/**
 * One restore drill, what pgBackRest and CloudNativePG users script by hand: restore into a scratch directory the
 * server's OS user can enter, start on a free port, wait for the promotion, check that it opens, count the rows of the
 * largest tables and run the user's check, then stop the server and remove the directory, whatever happened.
 * `restore` is the caller's restore (the backup manager's, so a drill takes exactly the path a real restore takes).
 * Never throws: a failed drill is a result, with the error.
 */
export async function drillPostgres(input: {
  kind: DrillRunResult['kind'];
  target?: Date;
  checks?: DrillChecks;
  restore: (to: string, port: number) => Promise<{ backupId: string }>;
}): Promise<DrillRunResult> {
  const started = performance.now();
  const scratch = await mkdtemp(join(tmpdir(), 'datakeep-drill-'));
  const to = join(scratch, 'data');
  let backupId: string | undefined;
  const tables: { name: string; rows: number }[] = [];
  let check: DrillRunResult['check'];
  let error: string | undefined;
  try {
    if (process.getuid?.() === 0) {
      const user = serverOsUser();
      await chown(scratch, user.uid, user.gid);
    }
    const port = await freePort('127.0.0.1');
    backupId = (await input.restore(to, port)).backupId;
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 10_000, statement_timeout: 600_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const largest = await client.query<{ name: string }>(
        `SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC, relname LIMIT $1`,
        [input.checks?.tables ?? 5]);
      for (const { name } of largest.rows) {
        const counted = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`);
        tables.push({ name, rows: Number(counted.rows[0]!.n) });
      }
      if (input.checks?.sql !== undefined) {
        const answer: unknown = await client.query({ text: input.checks.sql, rowMode: 'array' });
        // Several statements give one result each: the last one answers.
        const result = (Array.isArray(answer) ? answer.at(-1) : answer) as { rows?: unknown[][] } | undefined;
        const value: unknown = result?.rows?.[0]?.[0];
        check = { sql: input.checks.sql, ok: truthy(value), value };
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    await stopRestoredCluster(to).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
  return {
    kind: input.kind, target: input.target?.toISOString(), backupId, ok: error === undefined && (check?.ok ?? true),
    durationMs: Math.round(performance.now() - started), tables, check, error,
  };
}

/** The check passes on a boolean true only (or its text forms): 1, 'a' or a row count mean nothing definite. */
function truthy(value: unknown): boolean {
  return value === true || value === 't' || value === 'true';
}
