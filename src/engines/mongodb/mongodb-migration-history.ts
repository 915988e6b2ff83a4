import type { DatabaseAdapter } from '../../adapters/database-adapter.js';
import type { HistoryRecord, MigrationKind, MigrationStatus, NewHistoryRecord } from '../../migrations/migration-types.js';
import type { MigrationHistory } from '../../migrations/migration-history.js';

interface HistoryDocument {
  version: string;
  name: string;
  kind: MigrationKind;
  checksum: string | null;
  status: MigrationStatus;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  appliedBy: string;
  datakeepVersion: string;
  error: string | null;
  at: Date;
}

/**
 * The history as a MongoDB collection of appended documents, read in append order (`at`, then `_id`, whose counter
 * orders the documents one runner writes within the same millisecond; runners never write at once: they hold the lock).
 */
export class MongodbMigrationHistory implements MigrationHistory {
  readonly location: string;

  constructor(
    private readonly adapter: DatabaseAdapter,
    private readonly collection: string,
  ) {
    this.location = `collection ${collection}`;
  }

  async ensure(): Promise<void> {
    // Collections are created by the first insert; an index keeps reads ordered cheaply.
    await this.adapter.command({ runCommand: { createIndexes: this.collection, indexes: [{ key: { at: 1, _id: 1 }, name: 'datakeep_order' }] } });
  }

  async records(): Promise<HistoryRecord[]> {
    const docs = (await this.adapter.command({ find: this.collection, filter: {}, sort: { at: 1, _id: 1 } })) as HistoryDocument[];
    return docs.map((d, index) => ({
      id: index + 1, version: d.version, name: d.name, kind: d.kind, checksum: d.checksum ?? null, status: d.status,
      startedAt: new Date(d.startedAt), finishedAt: d.finishedAt ? new Date(d.finishedAt) : null, durationMs: d.durationMs ?? null,
      appliedBy: d.appliedBy, datakeepVersion: d.datakeepVersion, error: d.error ?? null,
    }));
  }

  async append(r: NewHistoryRecord): Promise<void> {
    const doc: HistoryDocument = { ...r, at: new Date() };
    await this.adapter.command({ insert: this.collection, documents: [doc] });
  }
}
