import { Readable } from 'node:stream';
import { DatakeepError } from '../../../errors/index.js';
import type { BackupProgress } from '../../../backup/backup-types.js';
import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from '../backup/postgres-backup-error.js';
import type { LogicalSchema, LogicalTable } from './logical-schema.js';
import type { LogicalSnapshot } from './logical-session.js';
import { readLogicalSchema } from './read-logical-schema.js';
import { runParallel } from './run-parallel.js';

/** The path of the catalog description in a logical backup. */
export const SCHEMA_FILE = 'schema.json';

export interface LogicalBackupOptions {
  /** Opens the exported snapshot (engine-specific: a server's sessions, or PGlite's one). */
  readonly snapshot: () => Promise<LogicalSnapshot & { readonly time: string; readonly lsn: string | undefined }>;
  readonly repository: Repository;
  readonly database: string;
  /** Recorded as metadata.engine: the driver that restores it. */
  readonly engine: string;
  readonly tables: readonly string[] | undefined;
  readonly onProgress?: (progress: BackupProgress) => void;
  readonly signal?: AbortSignal;
}

export interface LogicalBackupResult {
  readonly backupId: string;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly snapshotTime: string;
  readonly tables: number;
}

/**
 * A logical backup: the chosen tables' definitions and rows as of one exported snapshot, each table's rows streamed
 * by COPY into the repository on its own worker session (largest tables first), so that every table shows the same
 * instant however long the copy takes. Visible only once complete; a failure leaves no trace.
 */
export async function backupLogical(options: LogicalBackupOptions): Promise<LogicalBackupResult> {
  const startedAt = new Date();
  const writer = await options.repository.beginBackup({ type: 'full', database: options.database });
  let snapshot: Awaited<ReturnType<LogicalBackupOptions['snapshot']>> | undefined;
  const progress = { backupId: writer.backupId, phase: 'starting' as BackupProgress['phase'], filesTotal: 0, filesDone: 0, filesReused: 0, bytesTotal: 0, bytesDone: 0, bytesStored: 0 };
  const report = () => options.onProgress?.({ ...progress });
  try {
    report();
    snapshot = await options.snapshot();
    const schema = await readLogicalSchema(snapshot.session, options.tables);
    const withRows = schema.tables.filter((t) => t.kind === 'r');
    progress.phase = 'copying';
    progress.filesTotal = withRows.length + 1;
    progress.bytesTotal = withRows.reduce((n, t) => n + t.pages * 8192, 0);
    report();
    const open = snapshot;
    const pieces = withRows.flatMap((table, i) => {
      const slices = sliceTable(table.pages, open.workers);
      table.files = slices.map((_, n) => `data/${String(i).padStart(5, '0')}${slices.length > 1 ? `.${n}` : ''}.copy`);
      table.rows = 0;
      return slices.map((slice, n) => ({ table, slice, file: table.files![n]! }));
    });
    progress.filesTotal = pieces.length + 1;
    await runParallel([...pieces].sort((a, b) => sliceSize(b) - sliceSize(a)), open.workers, async ({ table, slice, file }) => {
      await open.worker(async (session) => {
        const rows = session.copyOut(slice ? { ...table, slice } : table, (bytes) => {
          progress.bytesDone += bytes;
          report();
        });
        await writer.addFile(file, rows, { size: sliceSize({ table, slice }) * 8192, mtimeMs: Date.parse(open.time), mode: 0o600 });
        if (rows.rowCount === undefined) throw new PostgresBackupError('backup-failed', `COPY of ${table.name} ended without reporting its row count`);
        table.rows = (table.rows ?? 0) + rows.rowCount;
      });
      progress.filesDone++;
      report();
    }, options.signal);
    await writeSchema(writer, schema, open.time);
    progress.filesDone++;
    writer.setMetadata({
      engine: options.engine,
      method: 'logical',
      format: 'copy-text',
      snapshotTime: open.time,
      snapshotLsn: open.lsn,
      serverVersion: schema.serverVersion,
      tables: schema.tables.map((t) => t.name),
      filter: options.tables && options.tables.length > 0 ? [...options.tables] : undefined,
    });
    await open.close();
    snapshot = undefined;
    progress.phase = 'completing';
    report();
    const manifest = await writer.complete();
    return {
      backupId: manifest.backupId, sizeBytes: manifest.sizeBytes, storedBytes: manifest.storedBytes, startedAt, finishedAt: new Date(manifest.finishedAt),
      snapshotTime: open.time, tables: withRows.length,
    };
  } catch (error) {
    await writer.abort().catch(() => undefined);
    if (error instanceof DatakeepError) throw error;
    throw new PostgresBackupError('backup-failed', `logical backup of ${options.database} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    await snapshot?.close().catch(() => undefined);
  }
}

/** Pages per slice at least (2 MiB): smaller tables go whole (one COPY, no TID filter). */
const SLICE_PAGES = 256;

/**
 * A large table in page ranges, about one per worker (each at least SLICE_PAGES), so that its rows are copied and
 * restored by several sessions, and chunked and compressed by several repository workers, at once. The last range
 * is open-ended. undefined: the whole table.
 */
function sliceTable(pages: number, workers: number): ({ from: number; to: number | undefined } | undefined)[] {
  const count = Math.min(workers * 2, Math.floor(pages / SLICE_PAGES));
  if (count <= 1) return [undefined];
  const step = Math.ceil(pages / count);
  return Array.from({ length: count }, (_, n) => ({ from: n * step, to: n === count - 1 ? undefined : (n + 1) * step }));
}

function sliceSize({ table, slice }: { table: LogicalTable; slice: { from: number; to: number | undefined } | undefined }): number {
  return slice ? (slice.to ?? table.pages) - slice.from : table.pages;
}

async function writeSchema(writer: { addFile: (path: string, content: Readable, meta: { size: number; mtimeMs: number; mode: number }) => Promise<unknown> }, schema: LogicalSchema, time: string): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(schema));
  await writer.addFile(SCHEMA_FILE, Readable.from([bytes]), { size: bytes.length, mtimeMs: Date.parse(time), mode: 0o600 });
}
