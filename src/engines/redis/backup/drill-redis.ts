import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DrillChecks, DrillRunResult } from '../../../backup/drill-types.js';
import { freePort } from '../../../util/free-port.js';

/**
 * One Redis restore drill: restore (through the manager, so the drill takes a real restore's path) into a scratch
 * directory, started on a free port; count the keys of each database; stop it and remove the directory, whatever
 * happened. `checks.sql` does not apply to Redis and fails the drill rather than pass unchecked. Never throws.
 */
export async function drillRedis(input: { kind: DrillRunResult['kind']; target?: Date; checks: DrillChecks | undefined; restore: (to: string, port: number) => Promise<{ backupId: string }> }): Promise<DrillRunResult> {
  const started = performance.now();
  const scratch = await mkdtemp(join(tmpdir(), 'datakeep-drill-'));
  const tables: { name: string; rows: number }[] = [];
  let backupId: string | undefined;
  let error: string | undefined;
  let client: Redis | undefined;
  try {
    if (input.checks?.sql !== undefined) throw new Error('checks.sql does not apply to Redis backups; leave it out for Redis databases');
    const port = await freePort('127.0.0.1');
    backupId = (await input.restore(join(scratch, 'data'), port)).backupId;
    client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 10_000 });
    await client.connect();
    const keyspace = await client.info('keyspace');
    for (const m of keyspace.matchAll(/^db(\d+):keys=(\d+)/gm)) tables.push({ name: `db${m[1]}`, rows: Number(m[2]) });
    tables.sort((a, b) => b.rows - a.rows);
    tables.splice(input.checks?.tables ?? 5);
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    if (client) {
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      client.disconnect();
    }
    await rm(scratch, { recursive: true, force: true });
  }
  return { kind: input.kind, target: input.target?.toISOString(), backupId, ok: error === undefined, durationMs: Math.round(performance.now() - started), tables, check: undefined, error };
}
