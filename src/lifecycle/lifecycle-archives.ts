import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { RepositorySet } from '../backup/repository-set.js';
import { enginePart } from '../engines/engine-registry.js';
import { DataLifecycleError, QueryError } from '../errors/index.js';
import type { StateStore } from '../state/state-store.js';
import { listArchives, readArchiveLines, type ArchiveSummary } from './archive-store.js';

/** SQLSTATE unique_violation (PostgreSQL); other engines' drivers map their duplicate-key errors to the same. */
const DUPLICATE_KEYS = new Set(['23505', 'ER_DUP_ENTRY', '1062', 'BUSYKEY', '11000']);

/** The archives lifecycle runs wrote: list, show, and put back into a table (`datakeep archive list|show|restore`). */
export class LifecycleArchives {
  constructor(
    private readonly repositories: () => RepositorySet,
    private readonly adapter: (id: string) => DatabaseAdapter,
    private readonly state: () => Promise<StateStore>,
  ) {}

  /** Every archive under the archive destination (or only one database's), oldest first. */
  async list(options: { database?: string; destination?: string; passphraseFile?: string } = {}): Promise<(ArchiveSummary & { repository: string })[]> {
    return this.repositories().withAll(options, async (repos) => {
      const out: (ArchiveSummary & { repository: string })[] = [];
      for (const r of repos) {
        if (options.database !== undefined && r.database !== options.database) continue;
        for (const archive of await listArchives(r.repository)) out.push({ ...archive, repository: r.path });
      }
      return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    });
  }

  /** One archive's summary and its first rows (`limit`, default 5), read through the repository (authenticated). */
  async show(archiveId: string, options: { limit?: number; destination?: string; passphraseFile?: string } = {}): Promise<ArchiveSummary & { repository: string; sample: string[] }> {
    return this.repositories().withAll(options, async (repos, destination) => {
      for (const r of repos) {
        const archive = (await listArchives(r.repository)).find((a) => a.archiveId === archiveId);
        if (!archive) continue;
        const sample: string[] = [];
        for await (const line of readArchiveLines(r.repository, archiveId)) {
          if (sample.length >= (options.limit ?? 5)) break;
          sample.push(line.r);
        }
        return { ...archive, repository: r.path, sample };
      }
      throw new DataLifecycleError('archive-not-found', undefined, `no archive "${archiveId}" in ${destination}; see datakeep archive list`);
    });
  }

  /**
   * Puts an archive's rows back: into its own table by default, or `into` another (same columns), on its own database
   * or `database`. One transaction where the engine has them; a row whose key exists already fails the whole restore
   * (a 'restore-conflict'), and nothing is written. Audited.
   */
  async restore(archiveId: string, options: { into?: string; database?: string; destination?: string; passphraseFile?: string } = {}): Promise<{ archiveId: string; database: string; into: string; rows: number }> {
    return this.repositories().withAll(options, async (repos, destination) => {
      for (const r of repos) {
        const archive = (await listArchives(r.repository)).find((a) => a.archiveId === archiveId);
        if (!archive) continue;
        const adapter = this.adapter(options.database ?? archive.database);
        const driver = enginePart(adapter, 'lifecycle', 'data lifecycle');
        const into = options.into ?? archive.target;
        // An archive holds one batch (at most the policy's batchSize rows), so its records fit in memory.
        const records: string[] = [];
        for await (const line of readArchiveLines(r.repository, archiveId)) records.push(line.r);
        if (records.length !== archive.rows) throw new DataLifecycleError('archive-mismatch', archive.policy, `archive ${archiveId} holds ${records.length} rows, its manifest says ${archive.rows}; not restored`);
        let rows: number;
        try {
          rows = await driver.insert(adapter, into, records);
        } catch (error) {
          const code = error instanceof QueryError ? error.sqlState : (error as { code?: string }).code;
          if (code !== undefined && DUPLICATE_KEYS.has(String(code))) {
            throw new DataLifecycleError('restore-conflict', archive.policy, `${into} already holds a row with a key of archive ${archiveId} (${(error as Error).message}); nothing was restored. Restore into another table with --into, or remove those rows first`, { cause: error });
          }
          throw error;
        }
        await (await this.state()).audit({ action: 'lifecycle.restore-archive', target: `${adapter.id}:${into}`, details: { archiveId, rows, policy: archive.policy } });
        return { archiveId, database: adapter.id, into, rows };
      }
      throw new DataLifecycleError('archive-not-found', undefined, `no archive "${archiveId}" in ${destination}; see datakeep archive list`);
    });
  }
}
