import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { enginesWith, getEngine, optionalEnginePart } from '../engines/engine-registry.js';
import { ConfigurationError } from '../errors/index.js';
import type { Repository } from '../repository/repository-types.js';
import type { BackupDriver } from './backup-driver.js';

/** Repositories written before backups recorded their engine hold PostgreSQL backups (the only engine then). */
const ENGINE_OF_OLDER_BACKUPS = 'postgresql';

/** What backupTargets reads of the DataManager's adapters. */
interface AdapterRegistry {
  get(id: string): DatabaseAdapter;
  all(): DatabaseAdapter[];
}

/** The databases to back up, each with its engine's driver; the others with the reason they are skipped. */
export function backupTargets(registry: AdapterRegistry, databases: readonly string[] | undefined): { targets: { adapter: DatabaseAdapter; load: () => Promise<BackupDriver> }[]; skipped: { database: string; reason: string }[] } {
  const adapters = databases ? databases.map((id) => registry.get(id)) : registry.all();
  const targets: { adapter: DatabaseAdapter; load: () => Promise<BackupDriver> }[] = [];
  const skipped: { database: string; reason: string }[] = [];
  for (const adapter of adapters) {
    const load = optionalEnginePart(adapter, 'backup');
    // The engine's backup part is its declaration (logical backups, as MongoDB's, are not physical ones).
    if (load) targets.push({ adapter, load });
    else skipped.push({ database: adapter.id, reason: `no backup driver for ${adapter.type} yet (datakeep backs up ${enginesWith('backup').join(', ')})` });
  }
  if (databases && skipped.length) {
    throw new ConfigurationError('databases', `${skipped.map((s) => `${s.database}: ${s.reason}`).join('; ')}`, 'Remove those ids from databases');
  }
  return { targets, skipped };
}

/** The driver of the engine whose backups `repository` holds (recorded in each backup's metadata). */
export async function driverOfRepository(repository: Repository): Promise<BackupDriver> {
  const newest = (await repository.list()).at(-1);
  const engine = typeof newest?.metadata.engine === 'string' ? newest.metadata.engine : ENGINE_OF_OLDER_BACKUPS;
  const load = getEngine(engine).parts.backup;
  if (!load) throw new ConfigurationError('backups', `the repository holds ${engine} backups, and this datakeep has no ${engine} backup driver`, 'Use the datakeep version that wrote them');
  return load();
}
