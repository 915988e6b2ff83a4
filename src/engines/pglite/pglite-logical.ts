import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { PGlite } from '@electric-sql/pglite';
import type { Row } from '../../adapters/database-adapter.js';
import { sliceQuery, type CopyOutStream, type LogicalSession, type LogicalSnapshot, type LogicalTarget, type TableCopy } from '../postgres/logical/logical-session.js';
import { ProcessDirLock } from '../../util/process-dir-lock.js';

/** Pages per COPY slice: PGlite hands COPY data over as a whole Blob, so a table goes out in slices of ~8 MiB. */
const PAGES_PER_SLICE = 1024;
/** Bytes of COPY text per load into PGlite (whole rows only). */
const LOAD_BYTES = 8 << 20;

/**
 * A LogicalSession on the embedded database. PGlite's COPY goes through a Blob ('/dev/blob') rather than a stream, so
 * rows leave in slices of the table's pages (a TID range scan each) and arrive in batches of whole rows: memory stays
 * bounded by the slice, never the table.
 */
export function pgliteLogicalSession(db: PGlite): LogicalSession {
  return {
    query: async <T extends Row = Row>(sql: string, params?: readonly unknown[]) => (await db.query<T>(sql, params as unknown[] | undefined)).rows,
    script: async (sql) => {
      await db.exec(sql);
    },
    copyOut: (table: TableCopy, onBytes?: (bytes: number) => void) => pgliteCopyOut(db, table, onBytes),
    copyIn: async (table: TableCopy, rows: Readable) => {
      const load = async (text: Buffer) => {
        await db.query(`COPY ${table.name} (${table.columns.join(', ')}) FROM '/dev/blob'`, [], { blob: new Blob([new Uint8Array(text)]) });
      };
      let pending: Buffer[] = [];
      let size = 0;
      for await (const piece of rows as AsyncIterable<Buffer>) {
        pending.push(piece);
        size += piece.length;
        if (size < LOAD_BYTES) continue;
        const all = Buffer.concat(pending);
        const end = all.lastIndexOf(10) + 1;
        if (end === 0) continue;
        await load(all.subarray(0, end));
        pending = [all.subarray(end)];
        size = pending[0]!.length;
      }
      if (size > 0) await load(Buffer.concat(pending));
    },
  };
}

/** The slices as one stream; its row count is the sum of what each slice's COPY reported, known at the end. */
function pgliteCopyOut(db: PGlite, table: TableCopy, onBytes: ((bytes: number) => void) | undefined): CopyOutStream {
  const count = { rows: 0, done: false };
  const stream = Readable.from(slices(db, table, count, onBytes));
  return Object.defineProperty(stream, 'rowCount', { get: () => (count.done ? count.rows : undefined) }) as CopyOutStream;
}

async function* slices(db: PGlite, table: TableCopy, count: { rows: number; done: boolean }, onBytes: ((bytes: number) => void) | undefined): AsyncGenerator<Buffer> {
  const start = table.slice?.from ?? 0;
  const end = table.slice ? table.slice.to : undefined;
  // The last slice is open-ended unless the table's slice ends: rows past the page count read at the snapshot are not lost.
  for (let first = start; ; first += PAGES_PER_SLICE) {
    const stop = first + PAGES_PER_SLICE;
    const last = end === undefined ? stop >= table.pages : stop >= end;
    const to = last ? end : stop;
    const result = await db.query(`COPY (${sliceQuery(table, { from: first, to })}) TO '/dev/blob'`);
    count.rows += result.affectedRows ?? 0;
    if (result.blob && result.blob.size > 0) {
      onBytes?.(result.blob.size);
      yield Buffer.from(await result.blob.arrayBuffer());
    }
    if (last) {
      count.done = true;
      return;
    }
  }
}

/**
 * The embedded database's snapshot: its one session in a read-only repeatable-read transaction. The caller holds the
 * session (PgliteAdapter.withDatabase) for the whole backup, so no other statement runs meanwhile; workers are that
 * same session, one at a time.
 */
export async function openPgliteSnapshot(db: PGlite): Promise<LogicalSnapshot & { time: string; lsn: string | undefined }> {
  await db.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const session = pgliteLogicalSession(db);
  const now = (await session.query<{ time: Date }>('SELECT clock_timestamp() AS time'))[0]!.time;
  return {
    session,
    workers: 1,
    time: new Date(now).toISOString(),
    lsn: undefined,
    worker: (fn) => fn(session),
    close: async () => {
      await db.exec('ROLLBACK');
    },
  };
}

/**
 * A new or existing embedded database directory to restore into (`pglite:DIR`). A directory this restore created is
 * removed again when the restore fails. One session: a single worker.
 */
export async function openPgliteTarget(dataDir: string): Promise<LogicalTarget> {
  const createdDir = !existsSync(dataDir) || readdirSync(dataDir).length === 0;
  mkdirSync(dataDir, { recursive: true });
  const lock = new ProcessDirLock(dataDir);
  lock.acquire();
  let db: PGlite;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(dataDir);
  } catch (error) {
    lock.release();
    if (createdDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const session = pgliteLogicalSession(db);
  return {
    description: `pglite:${dataDir}`,
    workers: 1,
    session: (fn) => fn(session),
    close: async (failed) => {
      await db.close();
      lock.release();
      if (failed && createdDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
