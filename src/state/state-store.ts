import type { DatabaseAdapter, Row } from '../adapters/database-adapter.js';
import { resolveDatabaseConfig } from '../config/resolve-database-config.js';
import { StateError } from '../errors/index.js';
import { getEngine } from '../engines/engine-registry.js';
import { asSqlAdapter } from '../engines/sql/as-sql-adapter.js';
import { PostgresLeaseStore } from '../engines/postgres/postgres-lease-store.js';
import type { LeaseStore } from '../locks/lease-lock.js';
import type { Logger } from '../util/logger.js';
import { redactValue } from '../util/secrets.js';
import { currentActor } from './audit-actor.js';
import { STATE_MIGRATIONS } from './state-migrations.js';

/** A fixed advisory lock key for state schema upgrades ("dk" "state" in ASCII, arbitrary but stable). */
const SCHEMA_LOCK_KEY = 0x646b_7374;

export interface AuditEntry {
  actor?: string;
  action: string;
  target?: string;
  dryRun?: boolean;
  details?: Record<string, unknown>;
  /** What came of it (default 'succeeded'); 'failed' entries carry the error in details.error. */
  outcome?: AuditOutcome;
}

export type AuditOutcome = 'succeeded' | 'failed' | 'refused';

export interface AuditRecord extends Required<Omit<AuditEntry, 'target'>> {
  id: number;
  at: Date;
  target: string | null;
}

/**
 * The one place datakeep keeps its own state: schedules, job history, the audit log, leases (and, in later versions,
 * the transaction coordinator log). Embedded PGlite by default; a PostgreSQL URL when several instances share it.
 * It is an ordinary adapter underneath, so everything the adapters guarantee holds here too.
 */
export class StateStore {
  private constructor(
    readonly adapter: DatabaseAdapter,
    readonly location: string,
  ) {}

  static async open(options: { url?: string; dir: string }, logger: Logger): Promise<StateStore> {
    const config = resolveDatabaseConfig(
      options.url ? { url: options.url, id: 'datakeep-state', applicationName: 'datakeep-state', poolSize: 4 } : { type: 'pglite', id: 'datakeep-state', dataDir: options.dir },
      'state',
    );
    const adapter = await getEngine(config.type).create(config, { logger });
    try {
      await adapter.connect();
    } catch (cause) {
      throw new StateError(`cannot open the state store (${options.url ? 'state.url' : options.dir}): ${(cause as Error).message}`, { cause });
    }
    const store = new StateStore(adapter, options.url ? `${config.host}:${config.port}/${config.database}` : options.dir);
    try {
      await store.upgrade();
    } catch (error) {
      await adapter.close();
      throw error;
    }
    return store;
  }

  /** A lease named `name` in the store's lease table, for locks between datakeep instances (scheduled jobs). */
  leaseStore(name: string): LeaseStore {
    return new PostgresLeaseStore(asSqlAdapter(this.adapter), 'datakeep.leases', name);
  }

  /** Applies missing state migrations; refuses a store written by a newer datakeep. */
  private async upgrade(): Promise<void> {
    const ordered = [...STATE_MIGRATIONS].sort((a, b) => a.version - b.version);
    const latest = ordered[ordered.length - 1]!.version;
    await this.adapter.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(?)', [SCHEMA_LOCK_KEY]);
      await tx.execute('CREATE SCHEMA IF NOT EXISTS datakeep');
      await tx.execute(
        'CREATE TABLE IF NOT EXISTS datakeep.state_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const rows = await tx.query<{ v: number | null }>('SELECT max(version) AS v FROM datakeep.state_schema');
      const current = rows[0]?.v ?? 0;
      if (current > latest) {
        throw new StateError(`the state store is at schema version ${current}, but this datakeep knows only up to ${latest}; upgrade datakeep`);
      }
      const applied = new Set((await tx.query<{ version: number }>('SELECT version FROM datakeep.state_schema')).map((r) => Number(r.version)));
      for (const migration of ordered) {
        // Applied by set difference, so a version added out of order (parallel branches) is still applied.
        if (applied.has(migration.version)) continue;
        for (const statement of migration.statements) await tx.execute(statement);
        await tx.execute('INSERT INTO datakeep.state_schema (version, name) VALUES (?, ?)', [migration.version, migration.name]);
      }
    });
  }

  /** Every schema version applied to this store, ascending. */
  async schemaVersions(): Promise<number[]> {
    const rows = await this.adapter.query<{ version: number }>('SELECT version FROM datakeep.state_schema ORDER BY version');
    return rows.map((r) => Number(r.version));
  }

  /** The newest audit entry of `action` on `target`, or undefined. */
  async lastAudit(action: string, target: string): Promise<AuditRecord | undefined> {
    const rows = await this.adapter.query<Row>(
      'SELECT id, at, actor, action, target, dry_run, details, outcome FROM datakeep.audit_log WHERE action = ? AND target = ? ORDER BY id DESC LIMIT 1',
      [action, target],
    );
    return rows.map(auditRecord)[0];
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.adapter.query<{ v: number | null }>('SELECT max(version) AS v FROM datakeep.state_schema');
    return rows[0]?.v ?? 0;
  }

  /**
   * Appends to the audit log (there is no way to remove an entry). Destructive operations call this for their dry runs
   * too. The details are redacted here, whoever wrote them: a secret field or a URL password never reaches the log.
   */
  async audit(entry: AuditEntry): Promise<void> {
    await this.adapter.execute(
      'INSERT INTO datakeep.audit_log (actor, action, target, dry_run, details, outcome) VALUES (?, ?, ?, ?, ?, ?)',
      [entry.actor ?? defaultActor(), entry.action, entry.target ?? null, entry.dryRun ?? false, JSON.stringify(redactValue(entry.details ?? {})), entry.outcome ?? 'succeeded'],
    );
  }

  /** The newest entries first; `action` keeps those of one action ("backup.create") or of a prefix ending in "." ("backup."). */
  async auditLog(limit = 100, filter: { action?: string } = {}): Promise<AuditRecord[]> {
    const action = filter.action ?? null;
    const rows = await this.adapter.query<Row>(
      `SELECT id, at, actor, action, target, dry_run, details, outcome FROM datakeep.audit_log
        WHERE (?::text IS NULL OR action = ? OR (right(?, 1) = '.' AND starts_with(action, ?))) ORDER BY id DESC LIMIT ?`,
      [action, action, action, action, limit],
    );
    return rows.map(auditRecord);
  }

  close(): Promise<void> {
    return this.adapter.close();
  }
}

function auditRecord(r: Row): AuditRecord {
  return {
    id: Number(r.id), at: r.at as Date, actor: r.actor as string, action: r.action as string,
    target: (r.target as string | null) ?? null, dryRun: r.dry_run as boolean, details: r.details as Record<string, unknown>,
    outcome: r.outcome as AuditOutcome,
  };
}

/** The actor of the current request (asActor), else the OS user, host and process. */
export function defaultActor(): string {
  return currentActor();
}
