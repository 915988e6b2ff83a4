import type { RestoreProgress } from '../../../backup/backup-types.js';
import { DatakeepError } from '../../../errors/index.js';
import type { ManifestFileEntry, Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from '../backup/postgres-backup-error.js';
import { SCHEMA_FILE } from './backup-logical.js';
import type { LogicalSchema, LogicalTable } from './logical-schema.js';
import type { LogicalSession, LogicalTarget } from './logical-session.js';
import { runParallel } from './run-parallel.js';
import { selectTables } from './select-tables.js';

export interface LogicalRestoreOptions {
  readonly repository: Repository;
  readonly backupId: string;
  /** Opened once the backup and the table filter are checked: a refused restore creates nothing, not even a database. */
  readonly openTarget: () => Promise<LogicalTarget>;
  /** Only these tables (with their partitions, and the sequences and types they use). */
  readonly tables: readonly string[] | undefined;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RestoreProgress) => void;
}

export interface LogicalRestoreResult {
  readonly backupId: string;
  readonly snapshotTime: string | undefined;
  readonly tables: readonly string[];
  /** What was left out, and why (a foreign key to a table that was not restored). */
  readonly notes: readonly string[];
}

/**
 * Restores a logical backup table by table into a live database, as pg_restore -j does: definitions first (tables,
 * sequences, enum types; in one transaction), then every table's rows by COPY on `target.workers` sessions, then keys
 * and indexes (per table, in parallel), checks and foreign keys, then the sequences' values. Refuses, before writing,
 * a target that already has any of the tables or sequences; on failure removes what it created, so a failed restore
 * leaves the target as it was.
 */
export async function restoreLogical(options: LogicalRestoreOptions): Promise<LogicalRestoreResult> {
  const { repository, backupId } = options;
  const manifest = await repository.manifest(backupId);
  if (manifest.metadata.method !== 'logical') throw new PostgresBackupError('backup-not-found', `backupId: ${backupId} is a physical backup; restore it with "to" (a data directory), not "target"`);
  const files = new Map(manifest.files.map((f) => [f.path, f]));
  const schemaEntry = files.get(SCHEMA_FILE);
  if (!schemaEntry) throw new PostgresBackupError('backup-corrupt', `backup ${backupId} has no ${SCHEMA_FILE}; it cannot be restored`);
  const schema = JSON.parse((await readAll(repository, schemaEntry)).toString('utf8')) as LogicalSchema;
  const tables = selectTables(schema.tables, options.tables, 'tables', `backup ${backupId}`);
  const names = new Set(tables.map((t) => t.name));
  const filtered = options.tables !== undefined && options.tables.length > 0;
  const sequences = schema.sequences.filter((s) => !filtered || s.tables.some((t) => names.has(t)));
  const withRows = tables.filter((t) => t.kind === 'r' && t.files !== undefined);
  const pieces = withRows.flatMap((table) => table.files!.map((file) => ({ table, file })));
  const progress: { -readonly [K in keyof RestoreProgress]: RestoreProgress[K] } = {
    phase: 'planning', filesTotal: pieces.length, filesDone: 0, bytesTotal: pieces.reduce((n, p) => n + (files.get(p.file)?.size ?? 0), 0), bytesDone: 0,
  };
  options.onProgress?.({ ...progress });

  const target = await options.openTarget();
  const created: { schemas: string[]; types: string[]; sequences: string[]; tables: string[] } = { schemas: [], types: [], sequences: [], tables: [] };
  let failed = true;
  try {
    const notes = await target.session(async (ddl) => {
      const existing = await existingNames(ddl, [...tables.map((t) => t.name), ...sequences.map((s) => s.name)], schema.types.map((t) => t.name), schema.schemas);
      const clash = [...tables.map((t) => t.name), ...sequences.map((s) => s.name)].filter((n) => existing.relations.has(n));
      if (clash.length > 0) {
        throw new PostgresBackupError('unsafe-destination', `target: ${target.description} already has ${clash.slice(0, 10).join(', ')}${clash.length > 10 ? ` and ${clash.length - 10} more` : ''}; restore into a new or empty database, pick other tables, or drop those first; nothing was written`);
      }
      options.signal?.throwIfAborted();
      await inTransaction(ddl, async () => {
        for (const s of schema.schemas.filter((s) => !existing.schemas.has(s))) {
          await ddl.query(`CREATE SCHEMA ${quoteIdent(s)}`);
          created.schemas.push(s);
        }
        for (const t of schema.types.filter((t) => !existing.types.has(t.name))) {
          await ddl.query(t.create);
          created.types.push(t.name);
        }
        for (const s of sequences) {
          await ddl.query(s.create);
          created.sequences.push(s.name);
        }
        for (const t of tables) {
          await ddl.query(t.create);
          created.tables.push(t.name);
        }
        for (const s of sequences.filter((s) => s.ownedBy !== undefined && names.has(s.ownedBy.slice(0, s.ownedBy.lastIndexOf('.'))))) {
          await ddl.query(`ALTER SEQUENCE ${s.name} OWNED BY ${s.ownedBy}`);
        }
      });
      return [] as string[];
    }).catch((error: unknown) => {
      // Nothing of a rolled-back transaction stays: forget it, so the cleanup below does not try to drop it.
      created.schemas = [];
      created.types = [];
      created.sequences = [];
      created.tables = [];
      throw error;
    });

    progress.phase = 'writing';
    options.onProgress?.({ ...progress });
    // Slices of one table load in parallel too (COPY into one table from several sessions).
    await runParallel([...pieces].sort((a, b) => (files.get(b.file)?.size ?? 0) - (files.get(a.file)?.size ?? 0)), target.workers, async ({ table, file }) => {
      const entry = files.get(file);
      if (!entry) throw new PostgresBackupError('backup-corrupt', `backup ${backupId} lacks ${file} (rows of ${table.name})`);
      await target.session((s) => s.copyIn(table, repository.readFile(entry)));
      progress.filesDone++;
      progress.bytesDone += entry.size;
      options.onProgress?.({ ...progress });
    }, options.signal);

    // Keys and indexes per table in parallel (one table's statements in order: ALTER TABLE takes its table whole),
    // then checks, then foreign keys, which need the referenced keys.
    await runAfter(target, tables, 'key', options.signal);
    await runAfter(target, tables, 'check', options.signal);
    const restored = new Set(names);
    const present = await target.session((s) => existingNames(s, [...new Set(tables.flatMap((t) => t.after.filter((a) => a.kind === 'foreign-key').map((a) => a.references!)))], [], []));
    for (const t of tables) {
      for (const fk of t.after.filter((a) => a.kind === 'foreign-key' && !restored.has(a.references!) && !present.relations.has(a.references!))) {
        notes.push(`${t.name}: left out "${fk.sql}" (${fk.references} is neither restored nor in the target)`);
      }
    }
    await runAfter(target, tables, 'foreign-key', options.signal, (fk) => restored.has(fk.references!) || present.relations.has(fk.references!));
    await target.session((s) => inTransaction(s, async () => {
      for (const seq of sequences) if (seq.lastValue !== null) await s.query(`SELECT setval($1::regclass, $2::bigint, true)`, [seq.name, seq.lastValue]);
      for (const t of tables) {
        for (const id of t.identities) {
          if (id.lastValue !== null) await s.query(`SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, true)`, [t.name, unquoteIdent(id.column), id.lastValue]);
        }
      }
    }));
    failed = false;
    progress.phase = 'done';
    options.onProgress?.({ ...progress });
    return { backupId, snapshotTime: typeof manifest.metadata.snapshotTime === 'string' ? manifest.metadata.snapshotTime : undefined, tables: tables.map((t) => t.name), notes };
  } catch (error) {
    await removeCreated(target, created).catch(() => undefined);
    if (error instanceof DatakeepError) throw error;
    throw new PostgresBackupError('recovery-failed', `restore of ${backupId} into ${target.description} failed: ${(error as Error).message}; what it had created was removed`, { cause: error });
  } finally {
    await target.close(failed);
  }
}

async function runAfter(target: LogicalTarget, tables: readonly LogicalTable[], kind: 'key' | 'check' | 'foreign-key', signal: AbortSignal | undefined, keep: (s: { references?: string }) => boolean = () => true): Promise<void> {
  const work = tables.map((t) => t.after.filter((a) => a.kind === kind && keep(a))).filter((list) => list.length > 0);
  await runParallel(work, target.workers, async (statements) => {
    await target.session((s) => inTransaction(s, async () => {
      for (const statement of statements) await s.query(statement.sql);
    }));
  }, signal);
}

/** `fn` in one transaction whose names resolve in pg_catalog only (the statements are schema-qualified). */
async function inTransaction(session: LogicalSession, fn: () => Promise<void>): Promise<void> {
  await session.script('BEGIN');
  try {
    await session.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
    await fn();
    await session.script('COMMIT');
  } catch (error) {
    await session.script('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Which of the qualified names exist in the target (relations, enum types, schemas). */
async function existingNames(session: LogicalSession, relations: readonly string[], types: readonly string[], schemas: readonly string[]) {
  const rels = relations.length === 0 ? [] : await session.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE format('%I.%I', n.nspname, c.relname) = ANY($1::text[])`, [relations]);
  const typ = types.length === 0 ? [] : await session.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, t.typname) AS name FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE format('%I.%I', n.nspname, t.typname) = ANY($1::text[])`, [types]);
  const sch = schemas.length === 0 ? [] : await session.query<{ name: string }>(`SELECT nspname AS name FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])`, [schemas]);
  return { relations: new Set(rels.map((r) => r.name)), types: new Set(typ.map((r) => r.name)), schemas: new Set(sch.map((r) => r.name)) };
}

async function removeCreated(target: LogicalTarget, created: { schemas: string[]; types: string[]; sequences: string[]; tables: string[] }): Promise<void> {
  if (created.tables.length + created.sequences.length + created.types.length + created.schemas.length === 0) return;
  await target.session(async (s) => {
    // Partitions go with their parents; CASCADE takes the foreign keys that point at them.
    for (const t of [...created.tables].reverse()) await s.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
    for (const q of created.sequences) await s.query(`DROP SEQUENCE IF EXISTS ${q} CASCADE`);
    for (const t of created.types) await s.query(`DROP TYPE IF EXISTS ${t} CASCADE`);
    for (const n of created.schemas) await s.query(`DROP SCHEMA IF EXISTS ${quoteIdent(n)}`);
  });
}

async function readAll(repository: Repository, entry: ManifestFileEntry): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of repository.readFile(entry)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function unquoteIdent(quoted: string): string {
  return quoted.startsWith('"') ? quoted.slice(1, -1).replace(/""/g, '"') : quoted;
}
