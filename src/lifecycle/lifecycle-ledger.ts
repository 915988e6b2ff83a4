import type { StateStore } from '../state/state-store.js';

/** Work a run started and must be finished before the policy goes on: rows archived but not yet deleted, or a
 * partition detached but not yet dropped. */
export interface PendingWork {
  readonly id: string;
  readonly kind: 'archive' | 'detached-partition';
  readonly repository: string;
  readonly rows: number;
}

/**
 * The lifecycle's ledger in the state store (`datakeep.lifecycle_archives`): written after an archive is verified and
 * before its rows are deleted, closed after the delete commits. Whatever a killed run left open is what the next run
 * of the same policy finishes first, so a row is never lost between its archive and its delete.
 */
export class LifecycleLedger {
  constructor(private readonly state: StateStore) {}

  async open(entry: { id: string; kind: PendingWork['kind']; policy: string; database: string; repository: string; rows: number }): Promise<void> {
    await this.state.adapter.execute(
      `INSERT INTO datakeep.lifecycle_archives (archive_id, kind, policy, database, repository, rows) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (archive_id) DO NOTHING`,
      [entry.id, entry.kind, entry.policy, entry.database, entry.repository, entry.rows],
    );
  }

  async close(id: string, removedRows: number): Promise<void> {
    await this.state.adapter.execute('UPDATE datakeep.lifecycle_archives SET removed_at = now(), removed_rows = ? WHERE archive_id = ?', [removedRows, id]);
  }

  async pending(policy: string): Promise<PendingWork[]> {
    const rows = await this.state.adapter.query<{ archive_id: string; kind: PendingWork['kind']; repository: string; rows: string | number }>(
      'SELECT archive_id, kind, repository, rows FROM datakeep.lifecycle_archives WHERE policy = ? AND removed_at IS NULL ORDER BY created_at, archive_id',
      [policy],
    );
    return rows.map((r) => ({ id: r.archive_id, kind: r.kind, repository: r.repository, rows: Number(r.rows) }));
  }

  /** Ids of every archive of the policy the ledger knows (to find archives a run wrote but could not record). */
  async knownArchives(policy: string): Promise<Set<string>> {
    const rows = await this.state.adapter.query<{ archive_id: string }>("SELECT archive_id FROM datakeep.lifecycle_archives WHERE policy = ? AND kind = 'archive'", [policy]);
    return new Set(rows.map((r) => r.archive_id));
  }
}
