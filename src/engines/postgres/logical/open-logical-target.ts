import { join, resolve as resolvePath } from 'node:path';
import type { RestoreTarget } from '../../../backup/backup-types.js';
import { restoreTargetSpec } from '../../../backup/describe-restore-target.js';
import { resolveDatabaseConfig } from '../../../config/resolve-database-config.js';
import { ConnectionError, UsageError } from '../../../errors/index.js';
import { openPgliteTarget } from '../../pglite/pglite-logical.js';
import type { LogicalTarget } from './logical-session.js';
import { openPostgresTarget } from './postgres-logical-target.js';

/**
 * Where a logical restore of a PostgreSQL or PGlite backup goes: `target` (a PostgreSQL database, created when
 * missing, or `pglite:DIR`), else a new embedded database in `to` (default DESTINATION/restores/<database>-<time>).
 * Both engines speak the same SQL, so either backup restores into either.
 */
export async function openLogicalTarget(input: { target: RestoreTarget | undefined; to: string | undefined; destination: string; database: string; workers: number | undefined }): Promise<LogicalTarget> {
  const workers = input.workers ?? 2;
  if (input.target === undefined) {
    const dir = resolvePath(input.to ?? join(input.destination, 'restores', `${input.database}-${new Date().toISOString().replace(/[:.]/g, '')}`));
    return openPgliteTarget(dir);
  }
  const spec = restoreTargetSpec(input.target);
  const config = resolveDatabaseConfig(spec.database === undefined ? spec.url : { url: spec.url, database: spec.database }, 'target');
  if (config.type === 'postgresql') {
    try {
      return await openPostgresTarget(config, workers);
    } catch (cause) {
      // A bare "connect ECONNREFUSED" says neither which option nor what to do; the password never appears here.
      const code = (cause as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') {
        throw new ConnectionError('target', `cannot reach the restore target ${config.host}:${config.port} (${code}); nothing was restored; start that server or fix the target URL`, { cause });
      }
      throw cause;
    }
  }
  if (config.type === 'pglite') {
    if (!config.dataDir || config.dataDir === 'memory') throw new UsageError('target', 'an embedded target needs a directory: pglite:DIR');
    return openPgliteTarget(config.dataDir);
  }
  throw new UsageError('target', `a PostgreSQL logical backup restores into PostgreSQL (postgres://…/db) or an embedded database (pglite:DIR), not ${config.type}`);
}
