import type { HistoryRecord, NewHistoryRecord } from './migration-types.js';

/**
 * The append-only migration history of one database. The newest record of a version is its state; nothing is ever
 * updated in place, so a failure stays visible as a `failed` record with its error next to what came before.
 */
export interface MigrationHistory {
  /** Where the history lives, for messages (a table, a collection, a Redis key). */
  readonly location: string;
  /** Creates the table/collection if missing. Called while holding the migration lock. */
  ensure(): Promise<void>;
  /** Every record, oldest first. */
  records(): Promise<HistoryRecord[]>;
  /** Appends one record; on SQL engines it joins the caller's transaction when there is one. */
  append(record: NewHistoryRecord): Promise<void>;
}

/** The newest record of each version, in order of first appearance. */
export function latestByVersion(records: readonly HistoryRecord[]): Map<string, HistoryRecord> {
  const latest = new Map<string, HistoryRecord>();
  for (const record of records) latest.set(record.version, record);
  return latest;
}
