import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestoreTarget } from '../../../backup/backup-types.js';
import type { DrillChecks, DrillRunResult } from '../../../backup/drill-types.js';
import { restoreTargetSpec } from '../../../backup/describe-restore-target.js';
import { resolveDatabaseConfig } from '../../../config/resolve-database-config.js';
import type { LogicalSession } from './logical-session.js';
import { openLogicalTarget } from './open-logical-target.js';

/**
 * A logical backup's drill: restore it into a scratch database (on `server`, else an embedded one in a temporary
 * directory), count the rows of its largest tables, run the user's check, then drop the scratch database whatever
 * happened. A logical backup has one instant, so there is no point-in-time run. Never throws.
 */
export async function drillLogical(input: {
  kind: DrillRunResult['kind'];
  checks?: DrillChecks;
  server?: RestoreTarget;
  restore: (to: string, port: number, into: RestoreTarget) => Promise<{ backupId: string }>;
}): Promise<DrillRunResult> {
  const started = performance.now();
  let scratch: { into: RestoreTarget; cleanup: () => Promise<void> } | undefined;
  let backupId: string | undefined;
  const tables: { name: string; rows: number }[] = [];
  let check: DrillRunResult['check'];
  let error: string | undefined;
  try {
    scratch = await scratchTarget(input.server);
    backupId = (await input.restore('', 0, scratch.into)).backupId;
    const opened = await openLogicalTarget({ target: scratch.into, to: undefined, destination: tmpdir(), database: 'drill', workers: 1 });
    try {
      await opened.session(async (s) => {
        tables.push(...await countLargest(s, input.checks?.tables ?? 5));
        if (input.checks?.sql !== undefined) {
          const rows = await s.query<Record<string, unknown>>(input.checks.sql);
          const value = rows[0] === undefined ? undefined : Object.values(rows[0])[0];
          check = { sql: input.checks.sql, ok: value === true || value === 't' || value === 'true', value };
        }
      });
    } finally {
      await opened.close(false);
    }
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    await scratch?.cleanup().catch(() => undefined);
  }
  return {
    kind: input.kind, target: undefined, backupId, ok: error === undefined && (check?.ok ?? true),
    durationMs: Math.round(performance.now() - started), tables, check, error,
  };
}

async function scratchTarget(server: RestoreTarget | undefined): Promise<{ into: RestoreTarget; cleanup: () => Promise<void> }> {
  const name = `datakeep_drill_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  if (server === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'datakeep-drill-'));
    return { into: `pglite:${join(dir, 'data')}`, cleanup: () => rm(dir, { recursive: true, force: true }) };
  }
  const spec = restoreTargetSpec(server);
  const config = resolveDatabaseConfig(spec.url, 'target');
  // The backup manager records restore options without the target's password (describeRestoreTarget).
  return {
    into: { url: spec.url, database: name },
    cleanup: async () => {
      const { connectClient } = await import('./postgres-logical-session.js');
      const { postgresClientConfig } = await import('./postgres-client-config.js');
      const admin = await connectClient(postgresClientConfig(config, 'postgres'));
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
  };
}

async function countLargest(session: LogicalSession, limit: number): Promise<{ name: string; rows: number }[]> {
  const largest = await session.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY pg_catalog.pg_total_relation_size(c.oid) DESC, c.relname LIMIT $1`, [limit]);
  const out: { name: string; rows: number }[] = [];
  for (const { name } of largest) out.push({ name, rows: Number((await session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`))[0]!.n) });
  return out;
}
