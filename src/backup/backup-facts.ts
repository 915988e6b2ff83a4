import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { StateStore } from '../state/state-store.js';
import type { BackupDriver, LogArchiveStatus } from './backup-driver.js';
import type { RecoverabilityWindow } from './backup-types.js';
import type { DrillRunResult } from './drill-types.js';
import { existsSync } from 'node:fs';
import { optionalEnginePart } from '../engines/engine-registry.js';
import { closeAll, type OpenedRepository, type RepositorySet } from './repository-set.js';

/** What validateSystem() and the `datakeep_backup_*` metrics know of one database's backups, read from its repository. */
export interface DatabaseBackupFacts {
  readonly database: string;
  readonly engine: string;
  /** Why the repository or the server could not be read; the other facts are then what was read before. */
  readonly error: string | undefined;
  readonly backups: number;
  readonly newest: { readonly backupId: string; readonly startedAt: Date; readonly finishedAt: Date } | undefined;
  /** undefined when the engine keeps no log archive, or when `archive` was not asked for. */
  readonly archive: LogArchiveStatus | undefined;
  /** undefined unless asked for (it reads the log, which costs more than the rest). */
  readonly window: RecoverabilityWindow | undefined;
  readonly lastDrill: { readonly at: Date; readonly ok: boolean; readonly problems: readonly string[] } | undefined;
  /** False when the state store (where drills are recorded) could not be read. */
  readonly drillsKnown: boolean;
}

export interface FactsTarget {
  readonly adapter: DatabaseAdapter;
  readonly load: () => Promise<BackupDriver>;
}

/** The databases (all, or the ids in `only`) whose engine backs them up, each with its driver's loader. */
export function backupFactTargets(adapters: readonly DatabaseAdapter[], only: readonly string[] | undefined): FactsTarget[] {
  return adapters.filter((a) => only === undefined || only.includes(a.id)).flatMap((adapter) => {
    const load = optionalEnginePart(adapter, 'backup');
    return load ? [{ adapter, load }] : [];
  });
}

/** readBackupFactsFrom on the repositories under the destination (none yet when it does not exist), closed after. */
export async function readBackupFacts(targets: readonly FactsTarget[], repositories: RepositorySet, state: StateStore | undefined, options: { window: boolean }): Promise<DatabaseBackupFacts[]> {
  const destination = repositories.destination(undefined);
  const repos = existsSync(destination) ? await repositories.openAll(destination, await repositories.passphrase({})) : [];
  try {
    return await readBackupFactsFrom(targets, repos, state, options);
  } finally {
    await closeAll(repos);
  }
}

/**
 * Reads the facts of each target from the repositories found under the destination (`repos`, already open), its
 * server (the archiver) and the audit log (drills). A database without a repository yet has no backups; a failure
 * reading one database is recorded in its facts and does not stop the others.
 */
export async function readBackupFactsFrom(targets: readonly FactsTarget[], repos: readonly OpenedRepository[], state: StateStore | undefined, options: { window: boolean }): Promise<DatabaseBackupFacts[]> {
  return Promise.all(targets.map(async ({ adapter, load }) => {
    let facts: DatabaseBackupFacts = { database: adapter.id, engine: adapter.type, error: undefined, backups: 0, newest: undefined, archive: undefined, window: undefined, lastDrill: undefined, drillsKnown: state !== undefined };
    try {
      const drill = await state?.lastAudit('backup.drill', adapter.id);
      if (drill) {
        const runs = Array.isArray(drill.details.runs) ? (drill.details.runs as Partial<DrillRunResult>[]) : [];
        const problems = runs.flatMap((r) => (r.error ? [`${r.kind ?? 'run'}: ${r.error}`] : r.check && !r.check.ok ? [`${r.kind ?? 'run'}: the check ${r.check.sql} returned ${JSON.stringify(r.check.value)}`] : []));
        facts = { ...facts, lastDrill: { at: drill.at, ok: drill.details.ok === true, problems } };
      }
      const repo = repos.find((r) => r.database === adapter.id);
      if (!repo) return facts;
      const driver = await load();
      const summaries = (await repo.repository.list()).filter((s) => s.database === adapter.id).sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
      const newest = summaries.at(-1);
      facts = { ...facts, backups: summaries.length, newest: newest && { backupId: newest.backupId, startedAt: new Date(newest.startedAt), finishedAt: new Date(newest.finishedAt) } };
      if (driver.archiveStatus) facts = { ...facts, archive: await driver.archiveStatus({ adapter, repository: repo.repository, database: adapter.id }) };
      if (options.window && summaries.length > 0) facts = { ...facts, window: await driver.window(repo.repository, adapter.id, {}) };
      return facts;
    } catch (error) {
      return { ...facts, error: (error as Error).message };
    }
  }));
}
