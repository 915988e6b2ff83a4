import type { DatabaseAdapter } from '../../adapters/database-adapter.js';
import type { HistoryRecord, MigrationKind, MigrationStatus, NewHistoryRecord } from '../../migrations/migration-types.js';
import type { MigrationHistory } from '../../migrations/migration-history.js';

const FIELDS = ['version', 'name', 'kind', 'checksum', 'status', 'started_at', 'finished_at', 'duration_ms', 'applied_by', 'datakeep_version', 'error'] as const;

/**
 * The history as a Redis stream (`PREFIX:history`): XADD is append-only by nature and XRANGE returns the records in
 * order. Times are ISO strings; empty fields are omitted.
 */
export class RedisMigrationHistory implements MigrationHistory {
  readonly location: string;

  constructor(
    private readonly adapter: DatabaseAdapter,
    private readonly key: string,
  ) {
    this.location = `stream ${key}`;
  }

  async ensure(): Promise<void> {
    const type = await this.adapter.command(['TYPE', this.key]);
    if (type !== 'none' && type !== 'stream') {
      throw new Error(`${this.key} exists and is a ${String(type)}, not a datakeep migration stream; choose another tableName`);
    }
  }

  async records(): Promise<HistoryRecord[]> {
    const entries = (await this.adapter.command(['XRANGE', this.key, '-', '+'])) as [string, string[]][] | null;
    return (entries ?? []).map(([, flat], index) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      return {
        id: index + 1,
        version: f.version ?? '',
        name: f.name ?? '',
        kind: (f.kind ?? 'module') as MigrationKind,
        checksum: f.checksum ?? null,
        status: (f.status ?? 'failed') as MigrationStatus,
        startedAt: new Date(f.started_at ?? 0),
        finishedAt: f.finished_at ? new Date(f.finished_at) : null,
        durationMs: f.duration_ms ? Number(f.duration_ms) : null,
        appliedBy: f.applied_by ?? '',
        datakeepVersion: f.datakeep_version ?? '',
        error: f.error ?? null,
      };
    });
  }

  async append(r: NewHistoryRecord): Promise<void> {
    const values: Record<(typeof FIELDS)[number], string | null> = {
      version: r.version, name: r.name, kind: r.kind, checksum: r.checksum, status: r.status,
      started_at: r.startedAt.toISOString(), finished_at: r.finishedAt?.toISOString() ?? null,
      duration_ms: r.durationMs === null ? null : String(r.durationMs), applied_by: r.appliedBy,
      datakeep_version: r.datakeepVersion, error: r.error,
    };
    const args: string[] = ['XADD', this.key, '*'];
    for (const field of FIELDS) if (values[field] !== null) args.push(field, values[field]!);
    await this.adapter.command(args);
  }
}
